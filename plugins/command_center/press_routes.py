"""Press release routes: the managers' page and API under ``/plugins/command_center/press``, and the public,
read-only ``/press`` (list, one page per release, Atom feed) mounted at the top level (``RouteSpec(public=True)``).

The public routes read only published, non-drill releases (:func:`press.is_public`); anything else answers
404 there, so a draft's number tells a stranger nothing. They need no sign-in and set no cookie.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from pathlib import Path
from typing import Any

import flask

from core.api import RouteSpec, current_identity

from . import incidents, press

PAGE = "/plugins/command_center/press"
MANAGE_TEMPLATE = Path(__file__).with_name("press.html")
PUBLIC_TEMPLATE = Path(__file__).with_name("press_public.html")
FEED_NS = uuid.UUID("6f1c3b0e-5a7d-4c1e-9a55-1d3f0c2b7e91")  # this plugin's press feed: stable Atom ids


def _host() -> Any:
    return flask.current_app.config["TWINBOARD_HOST"]


def _settings() -> Any:
    return _host().plugins.records["command_center"].settings


def _actor() -> str:
    return current_identity().get("user") or "?"


def _lang() -> str:
    return "en" if flask.request.args.get("lang") == "en" else "zh"


def _is_form() -> bool:
    return flask.request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data")


def _body() -> dict[str, Any]:
    if _is_form():
        return {k: flask.request.form.get(k) for k in flask.request.form}
    if not flask.request.get_data():
        return {}
    body = flask.request.get_json(silent=True)
    if not isinstance(body, dict):
        flask.abort(flask.make_response(flask.jsonify({"error": "body: expected a JSON object", "field": "body"}), 400))
    return body


def _back(**query: Any) -> str:
    q = "&".join(f"{k}={v}" for k, v in {"lang": _lang(), **query}.items() if v not in (None, ""))
    return f"{PAGE}?{q}"


def _answer(release: Any, message: str) -> Any:
    if _is_form():
        flask.flash(message, "ok")
        return flask.redirect(_back())
    return flask.jsonify(release_json(release))


def _error(exc: press.PressError, retry: dict[str, Any] | None = None) -> Any:
    if _is_form():
        flask.flash(str(exc), "error")
        return flask.redirect(_back(**(retry or {})))
    return flask.jsonify({"error": str(exc), "field": exc.field}), exc.status


def release_json(ent: Any) -> dict[str, Any]:
    """A release as the API answers it."""
    return {"id": ent.id, **ent.properties}


def _fmt(ts: float | None, with_time: bool = True) -> str:
    if not ts:
        return "—"
    return time.strftime("%Y-%m-%d %H:%M" if with_time else "%Y-%m-%d", time.localtime(ts))


# -- managers ------------------------------------------------------------------------------------------
def manage() -> Any:
    """The managers' page: drafting (pre-filled from an incident), editing, review, publication."""
    host, lang = _host(), _lang()
    store, args = host.store, flask.request.args
    form, form_error, mode = None, None, None
    try:
        if args.get("edit"):
            ent = press.get(store, int(args["edit"]))
            form, mode = {**ent.properties}, "edit"
        elif args.get("incident"):
            form, mode = press.prefill(store, int(args["incident"]), _settings().press_hotline), "draft"
            if args.get("corrects"):
                original = press.get(store, int(args["corrects"]))
                keep = ("title", "title_en", "facts", "facts_en", "occurred_at", "place", "deaths", "injuries",
                        "missing", "measures", "measures_en", "hotline")
                form.update({k: original.properties.get(k) for k in keep}, corrects=original.properties["number"])
                form["title"] = form["title"].removeprefix(incidents.DRILL_PREFIX)
                form["title"] = form["title"] if form["title"].startswith("更正") else "更正：" + form["title"]
    except (ValueError, press.PressError, incidents.IncidentError) as exc:
        form_error = str(exc)
    if form is not None:
        form["occurred_local"] = time.strftime("%Y-%m-%dT%H:%M", time.localtime(form["occurred_at"]))
    return flask.render_template_string(
        MANAGE_TEMPLATE.read_text(encoding="utf-8"), t=lambda m: host.translator.gettext(m, lang), lang=lang,
        identity=current_identity(), releases=press.releases(store), states=press.STATES,
        incidents=incidents.incidents(store, limit=50), form=form, mode=mode, form_error=form_error,
        fmt=_fmt, me=_actor())


def create() -> Any:
    b = _body()
    try:
        ent = press.draft(_host().store, _actor(), b.get("incident_id"), b, corrects=b.get("corrects"))
    except press.PressError as exc:
        return _error(exc, {"incident": b.get("incident_id"), "corrects": b.get("corrects")})
    return _answer(ent, f"第 {ent.properties['number']} 号 · 草稿已保存 / draft saved")


def change(number: int, action: str) -> Any:
    store, actor, b = _host().store, _actor(), _body()
    try:
        if action == "edit":
            ent = press.edit(store, number, actor, b)
        elif action == "review":
            approve = str(b.get("approve", "1")).lower() not in ("0", "false", "no", "")
            ent = press.review(store, number, actor, approve, str(b.get("reason") or ""))
        elif action == "publish":
            ent = press.publish(store, number, actor)
        else:
            return _error(press.PressError("action", f"unknown step {action!r} (edit, review, publish)", 404))
    except press.PressError as exc:
        return _error(exc, {"edit": number} if action == "edit" else None)
    return _answer(ent, f"第 {number} 号 · {press.STATES[ent.properties['state']][0]} / "
                        f"{press.STATES[ent.properties['state']][1]}")


def show(number: int) -> Any:
    try:
        return flask.jsonify(release_json(press.get(_host().store, number)))
    except press.PressError as exc:
        return flask.jsonify({"error": str(exc), "field": exc.field}), exc.status


def prefilled(incident_id: int) -> Any:
    try:
        return flask.jsonify(press.prefill(_host().store, incident_id, _settings().press_hotline))
    except incidents.IncidentError as exc:
        return flask.jsonify({"error": f"incident_id: {exc}", "field": "incident_id"}), 404


# -- public --------------------------------------------------------------------------------------------
def _public(resp: Any) -> Any:
    resp = flask.make_response(resp)
    resp.headers["Cache-Control"] = "public, max-age=60"
    return resp


def _public_context(store: Any, ent: Any) -> dict[str, Any]:
    """A published release with its correction links (public ones only)."""
    p = ent.properties
    corrected_by = [c.properties["number"] for c in press.corrections_of(store, p["number"], public=True)]
    return {**p, "corrected_by": sorted(corrected_by)}


def _render_public(**ctx: Any) -> Any:
    s, lang = _settings(), _lang()
    return flask.render_template_string(PUBLIC_TEMPLATE.read_text(encoding="utf-8"), lang=lang, zh=lang != "en",
                                        issuer=s.press_issuer if lang != "en" else s.press_issuer_en,
                                        fmt=_fmt, **ctx)


def public_list() -> Any:
    store = _host().store
    rows = [_public_context(store, e) for e in press.releases(store, public=True)]
    return _public(_render_public(releases=rows, release=None))


def public_page(number: int) -> Any:
    store = _host().store
    try:
        ent = press.get(store, number)
    except press.PressError:
        ent = None
    if ent is None or not press.is_public(ent):
        return _public((_render_public(releases=None, release=None, missing=number), 404))
    return _public(_render_public(releases=None, release=_public_context(store, ent)))


def entry_text(p: dict[str, Any], corrected_by: list[int]) -> str:
    """The plain-text body of a release (the feed's content)."""
    lines = []
    if p.get("corrects"):
        lines.append(f"【更正】本稿更正第 {p['corrects']} 号通报。")
    if corrected_by:
        lines.append("【已更正】本稿已被第 " + "、".join(str(n) for n in corrected_by) + " 号通报更正。")
    lines += [f"时间：{_fmt(p['occurred_at'])}" + (f"　地点：{p['place']}" if p.get("place") else ""),
              p["facts"], f"伤亡情况：死亡 {p['deaths']} 人，受伤 {p['injuries']} 人，失联 {p['missing']} 人。",
              "处置措施：", p["measures"], f"咨询热线：{p['hotline']}"]
    if p.get("title_en") or p.get("facts_en") or p.get("measures_en"):
        lines += ["", "— English —", p.get("title_en") or "", p.get("facts_en") or "", p.get("measures_en") or ""]
    return "\n".join(x for x in lines if x is not None)


def _atom_time(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def feed() -> Any:
    """The Atom feed (RFC 4287) of public releases, newest first, written with xml.etree (which escapes).

    Not feedgen: its 1.0.0 drops every attribute but ``href`` from an entry's links, so the links between a
    correction and the release it corrects would all read as ``alternate`` (invalid Atom).
    """
    from xml.etree import ElementTree as ET

    store, s = _host().store, _settings()
    root = flask.request.url_root.rstrip("/")
    rows = [_public_context(store, e) for e in press.releases(store, public=True)][:50]
    ET.register_namespace("", "http://www.w3.org/2005/Atom")
    ns = "{http://www.w3.org/2005/Atom}"

    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        el = ET.SubElement(parent, ns + tag, attrs)
        if text is not None:
            el.text = text
        return el

    def author(parent: ET.Element) -> None:
        sub(sub(parent, "author"), "name", s.press_issuer)

    published = {int(p["number"]): float(p["published_at"]) for p in rows}
    feed_el = ET.Element(ns + "feed", {"{http://www.w3.org/XML/1998/namespace}lang": "zh-CN"})
    sub(feed_el, "id", f"urn:uuid:{uuid.uuid5(FEED_NS, 'feed')}")
    sub(feed_el, "title", f"{s.press_issuer} 新闻发布")
    sub(feed_el, "subtitle", "突发事件信息发布 / Emergency press releases")
    updated_el = sub(feed_el, "updated")
    author(feed_el)
    sub(feed_el, "link", href=f"{root}/press", rel="alternate", type="text/html")
    sub(feed_el, "link", href=f"{root}/press/feed.atom", rel="self", type="application/atom+xml")
    newest = 0.0
    for p in rows:
        number = int(p["number"])
        updated = max([p["published_at"]] + [published.get(n, 0.0) for n in p["corrected_by"]])
        newest = max(newest, updated)
        entry = sub(feed_el, "entry")
        sub(entry, "id", f"urn:uuid:{uuid.uuid5(FEED_NS, 'release/%d/%r' % (number, p['published_at']))}")
        sub(entry, "title", f"第 {number} 号 {p['title']}")
        sub(entry, "link", href=f"{root}/press/{number}", rel="alternate", type="text/html")
        for n in ([p["corrects"]] if p.get("corrects") else []) + p["corrected_by"]:
            sub(entry, "link", href=f"{root}/press/{n}", rel="related", type="text/html", title=f"第 {n} 号")
        author(entry)
        sub(entry, "published", _atom_time(p["published_at"]))
        sub(entry, "updated", _atom_time(updated))
        sub(entry, "content", entry_text(p, p["corrected_by"]), type="text")
    updated_el.text = _atom_time(newest or time.time())
    ET.indent(feed_el)
    body = ET.tostring(feed_el, encoding="utf-8", xml_declaration=True)
    return _public(flask.Response(body, mimetype="application/atom+xml"))


def routes() -> list[RouteSpec]:
    m = "manager"
    return [
        RouteSpec("press", manage, role=m),
        RouteSpec("press", create, methods=("POST",), role=m),
        RouteSpec("press/<int:number>", show, role=m),
        RouteSpec("press/prefill/<int:incident_id>", prefilled, role=m),
        RouteSpec("press/<int:number>/<action>", change, methods=("POST",), role=m),
        RouteSpec("press", public_list, public=True),
        RouteSpec("press/feed.atom", feed, public=True),
        RouteSpec("press/<int:number>", public_page, public=True),
    ]
