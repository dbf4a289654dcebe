"""Routes under ``/plugins/safety_services/``: the agency page (``agency``), the JSON API, photos.

Who may do what (checked on the server):

- an ``agency`` account (scope ``agency:<agency id>``) reads and acts on **its own** contracts and
  records only: another agency's contract, record or photo answers 403 and is written to the audit log
  (``access.refused``), as is every route that does not name the role (the host refuses those);
- managers see every agency, add agencies, staff and contracts, issue sign-off codes, and may file or
  sign off records too; viewers (the regulator's staff) read everything and change nothing.

Bad input answers 400 with ``{"error", "field"}`` (a form gets the page back with the error) and stores
nothing.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import flask

from core.api import PHOTO_HEADERS, PHOTO_MIME_BY_EXT, RouteSpec, current_identity

from . import analysis, photos, services as sv
from .model import (PLUGIN, QUALIFICATIONS, TITLES, Agency, Contract, Record, Refused, ServiceError, agencies,
                    contracts, get, item_text, public, records, services, staff)

PAGE = Path(__file__).with_name("agency.html")
BASE = f"/plugins/{PLUGIN}"
_shared: dict[str, Any] = {}


def bind(state: dict[str, Any]) -> None:
    """Share the plugin's state (the bus from on_startup) with the routes."""
    global _shared
    _shared = state


def _host() -> Any:
    return flask.current_app.config["TWINBOARD_HOST"]


def _settings() -> Any:
    return _host().plugins.records[PLUGIN].settings


def _store() -> Any:
    return _host().store


def _photo_root() -> Path:
    host = _host()
    return Path(host.settings.path(host.settings.var_dir)) / _settings().photos_subdir


def _actor() -> str:
    return current_identity().get("user") or "manager"


def _lang() -> str:
    return "en" if flask.request.args.get("lang") == "en" else "zh"


def _is_form() -> bool:
    return flask.request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data")


def _refuse(reason: str) -> Any:
    ident = current_identity()
    _store().audit(ident.get("user") or "?", "access.refused", f"path:{flask.request.path}"[:256], None,
                   {"role": ident.get("role"), "scope": ident.get("scope"), "method": flask.request.method,
                    "reason": reason})
    return flask.jsonify({"error": reason}), 403


class _NoAgency(Exception):
    pass


def _scope() -> str | None:
    """The signed-in agency's id (an ``agency`` account), None for the bureau's staff."""
    ident = current_identity()
    if ident.get("role") != "agency":
        return None
    kind, _, aid = str(ident.get("scope") or "").partition(":")
    e = _store().entity(aid) if kind == "agency" else None
    if e is None or e.kind != "ss_agency":
        raise _NoAgency(aid)
    return aid


def _guard(fn: Any) -> Any:
    """Run a view with the scope resolved: Refused → 403 (audited), ServiceError → 400 naming the field."""
    def view(**kw: Any) -> Any:
        try:
            scope = _scope()
        except _NoAgency:
            return _refuse("your account's agency is not known here; ask the bureau")
        try:
            return fn(scope, **kw)
        except Refused as exc:
            return _refuse(str(exc))
        except ServiceError as exc:
            if _is_form():
                flask.flash(str(exc), "error")
                return _back()
            return flask.jsonify({"error": str(exc), "field": exc.field}), 400
    view.__name__ = fn.__name__
    return view


def _back() -> Any:
    args = "&".join(f"{k}={v}" for k in ("lang", "agency") if (v := flask.request.args.get(k)))
    return flask.redirect(f"{BASE}/agency" + (f"?{args}" if args else ""))


def _ok(result: dict[str, Any], message: str) -> Any:
    if _is_form():
        flask.flash(message, "ok")
        return _back()
    return flask.jsonify(result)


def _body() -> dict[str, Any]:
    if _is_form():
        form = flask.request.form
        return {k: (form.getlist(k) if k in ("staff", "services") else form.get(k)) for k in form if k != "csrf_token"}
    if not flask.request.get_data():
        return {}
    body = flask.request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ServiceError("expected a JSON object", "body")
    return body


def _record_body(b: dict[str, Any]) -> dict[str, Any]:
    """A page form (``item.<key>``, ``note.<key>``, ``level.<key>``) → the JSON API's body."""
    if not _is_form():
        return b
    service = str(b.get("service") or "")
    keys = [it["key"] for it in services().get(service, {}).get("items", [])]
    items = {k: {"result": b.get(f"item.{k}"), "note": b.get(f"note.{k}"), "level": b.get(f"level.{k}")}
             for k in keys if b.get(f"item.{k}")}
    return {"contract": b.get("contract"), "service": service, "date": b.get("date"), "staff": b.get("staff"),
            "summary": b.get("summary"), "items": items}


def _uploads() -> dict[str, list[bytes]]:
    limit = _settings().photo_max_bytes
    out: dict[str, list[bytes]] = {}
    for name in flask.request.files:
        if not name.startswith("photo."):
            raise ServiceError("photo fields are named photo.<item key>", name)
        files = [f.read(limit + 1) for f in flask.request.files.getlist(name)]
        files = [d for d in files if d]
        if files:
            out[name.removeprefix("photo.")] = files
    return out


# -- pages and reads -----------------------------------------------------------------------------------------
@_guard
def page(scope: str | None) -> Any:
    """The agency page: an agency's own contracts and records (or, for the bureau, any agency's)."""
    store, lang = _store(), _lang()
    all_agencies = agencies(store)
    chosen = scope or flask.request.args.get("agency") or (all_agencies[0].id if all_agencies else "")
    agency = next((a for a in all_agencies if a.id == chosen), None)
    if scope is None and chosen and agency is None:
        raise ServiceError(f"no agency {chosen!r}", "agency")
    role = current_identity().get("role")
    mine = contracts(store, agency.id) if agency else []
    ents = [e for k in _settings().enterprise_kinds for e in store.entities(kind=k)]
    return flask.render_template_string(
        PAGE.read_text(encoding="utf-8"), lang=lang, zh=lang != "en", B=BASE, agency=agency, scope=scope,
        agencies=all_agencies, contracts=mine, records=list(reversed(records(store, agency.id) if agency else [])),
        staff=staff(store, agency.id) if agency else [], services=services(), item_text=item_text,
        can_write=scope is not None or role in ("manager", "admin"), is_manager=role in ("manager", "admin"),
        enterprises=sorted(ents, key=lambda e: e.id), titles=TITLES, quals=QUALIFICATIONS, levels=sv.LEVELS,
        today=dt.date.today().isoformat())


@_guard
def contracts_json(scope: str | None) -> Any:
    return flask.jsonify([public(c) for c in contracts(_store(), scope)])


@_guard
def record_json(scope: str | None, record_id: str) -> Any:
    r: Record = get(_store(), Record, record_id, "record")
    if scope is not None and r.agency != scope:
        raise Refused(f"record {record_id} is not one of your agency's records")
    return flask.jsonify(public(r))


@_guard
def photo(scope: str | None, record_id: str, name: str) -> Any:
    if record_id != "demo":
        e = _store().entity(record_id)
        if e is None or e.kind != "ss_record":
            return flask.jsonify({"error": "no such photo"}), 404
        if scope is not None and (e.properties or {}).get("agency") != scope:
            raise Refused(f"record {record_id} is not one of your agency's records")
    path = photos.path_of(_photo_root(), record_id, name)
    if path is None:
        return flask.jsonify({"error": "no such photo"}), 404
    resp = flask.send_file(path, mimetype=PHOTO_MIME_BY_EXT[path.suffix.lstrip(".")], max_age=3600)
    resp.headers.update(PHOTO_HEADERS)
    resp.headers["Content-Disposition"] = "inline"
    return resp


@_guard
def analysis_json(scope: str | None) -> Any:
    store, s, today = _store(), _settings(), dt.date.today()
    ags, cons, recs = agencies(store), contracts(store), records(store)
    ents = [e.id for k in s.enterprise_kinds for e in store.entities(kind=k)]
    cov = analysis.covered(ents, cons, ags, today)
    pairs = analysis.copied(recs, s.copy_threshold, s.copy_min_chars)
    return flask.jsonify({
        "coverage": {"enterprises": len(cov), "covered": sum(bool(v) for v in cov.values()), "by_enterprise": cov},
        "findings_per_service": analysis.findings_per_service(recs),
        "repeats": [r.__dict__ | {"fixed": r.fixed} for r in analysis.repeats(recs, analysis.loop_states(store))],
        "copied": [p.__dict__ for p in pairs],
        "quality": [q.__dict__ for q in analysis.quality(ags, cons, recs, pairs, s.weights, today)]})


# -- changes ---------------------------------------------------------------------------------------------------
@_guard
def file_record(scope: str | None) -> Any:
    r = sv.file_record(_store(), _settings(), _record_body(_body()), _actor(), scope, _photo_root(), _uploads())
    if not _is_form():
        return flask.jsonify(public(r)), 201
    flask.flash(f"{r.id}: {'已提交,待企业签字确认' if _lang() == 'zh' else 'filed; waiting for the sign-off'}", "ok")
    return _back()


@_guard
def sign_off(scope: str | None, record_id: str) -> Any:
    r = sv.sign_off(_store(), _settings(), _shared.get("bus"), record_id, _body(), _actor(), scope)
    return _ok(public(r), f"{r.id}: {r.state}")


@_guard
def add_agency(scope: str | None) -> Any:
    b = _body()
    if _is_form():
        b["qualifications"] = [{"kind": b.get(f"qual_kind_{i}"), "no": b.get(f"qual_no_{i}"),
                                "expiry": b.get(f"qual_expiry_{i}")} for i in (1, 2) if b.get(f"qual_kind_{i}")]
    a = sv.add_agency(_store(), b, _actor())
    return _ok(public(a), f"{a.id}: {a.name}")


@_guard
def add_staff(scope: str | None, agency_id: str) -> Any:
    s = sv.add_staff(_store(), agency_id, _body(), _actor())
    return _ok(public(s), f"{s.id}: {s.name}")


@_guard
def add_contract(scope: str | None) -> Any:
    c, code = sv.add_contract(_store(), _settings(), _body(), _actor())
    return _ok(public(c) | {"signoff_code": code},
               f"{c.id} · {c.enterprise_name}: 企业签字确认码 / sign-off code {code} "
               f"({'仅显示一次,请交给企业,勿交给中介机构' if _lang() == 'zh' else 'shown once: give it to the enterprise'})")


@_guard
def reissue(scope: str | None, contract_id: str) -> Any:
    code = sv.reissue_code(_store(), contract_id, _actor())
    return _ok({"contract": contract_id, "signoff_code": code}, f"{contract_id}: 新确认码 / new code {code}")


def routes() -> list[RouteSpec]:
    A, M, V = ("agency",), "manager", "viewer"
    post = ("POST",)
    return [
        RouteSpec("agency", page, endpoint="ss_page", role=V, scoped_roles=A),
        RouteSpec("api/contracts", contracts_json, endpoint="ss_contracts", role=V, scoped_roles=A),
        RouteSpec("api/records/<record_id>", record_json, endpoint="ss_record", role=V, scoped_roles=A),
        RouteSpec("photos/<record_id>/<name>", photo, endpoint="ss_photo", role=V, scoped_roles=A),
        RouteSpec("api/analysis", analysis_json, endpoint="ss_analysis", role=V),
        RouteSpec("api/records", file_record, methods=post, endpoint="ss_file", role=M, scoped_roles=A,
                  max_bytes=24 * 1024 * 1024),
        RouteSpec("api/records/<record_id>/signoff", sign_off, methods=post, endpoint="ss_signoff", role=M,
                  scoped_roles=A),
        RouteSpec("api/agencies", add_agency, methods=post, endpoint="ss_agency_add", role=M),
        RouteSpec("api/agencies/<agency_id>/staff", add_staff, methods=post, endpoint="ss_staff_add", role=M),
        RouteSpec("api/contracts", add_contract, methods=post, endpoint="ss_contract_add", role=M),
        RouteSpec("api/contracts/<contract_id>/code", reissue, methods=post, endpoint="ss_code", role=M),
    ]


__all__ = ["Agency", "Contract", "routes"]
