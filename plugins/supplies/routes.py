"""Routes under ``/plugins/supplies/``: the RFID gateway's HTTP input, the manager page, and a JSON API.

* ``POST gateway/reads``: a gateway message (``rfid``); ``POST gateway/env``: ``{"store", "temperature",
  "humidity", "leak", "door", "ts"}``. The gateway signs in with a service account of the manager role and
  sends the CSRF header like every client. Bad input: 400 with ``error`` and ``field``; nothing stored.
* ``GET stock.json``, ``review.json``, ``hosted.json`` (viewers).
* ``POST review/<epc>/assign`` ``{"batch"}``, ``review/<epc>/discard`` ``{"reason"}``, ``hosted/<id>/callup``
  ``{"quantity", "incident", "note"}``, ``hosted/<id>/callups/<callup_id>/confirm``, ``hosted/<id>/check``
  ``{"date", "quantity"}`` (managers, audited). A form post gets a redirect back to the manager page.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import flask

from core.api import RouteSpec, current_identity

from . import env, hosted as hosted_mod, ledger, rfid
from .model import PLUGIN, STORE, SupplyError, hosted, items, stores

TEMPLATE = Path(__file__).with_name("manage.html")
BASE = f"/plugins/{PLUGIN}"


def _host() -> Any:
    return flask.current_app.config["TWINBOARD_HOST"]


def _actor() -> str:
    return current_identity().get("user") or "manager"


def _is_form() -> bool:
    return flask.request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data")


def _body() -> dict[str, Any]:
    if _is_form():
        return {k: flask.request.form.get(k) for k in flask.request.form if k != "csrf_token"}
    if not flask.request.get_data():
        return {}
    body = flask.request.get_json(silent=True)
    if not isinstance(body, dict):
        flask.abort(flask.make_response(flask.jsonify({"error": "expected a JSON object", "field": None}), 400))
    return body


def _ok(result: Any, message: str) -> Any:
    if _is_form():
        flask.flash(message, "ok")
        return flask.redirect(f"{BASE}/manage?lang={flask.request.args.get('lang', 'zh')}")
    return flask.jsonify(result)


def _fail(exc: SupplyError) -> Any:
    if _is_form():
        flask.flash(str(exc), "error")
        return flask.redirect(f"{BASE}/manage?lang={flask.request.args.get('lang', 'zh')}")
    return flask.jsonify({"error": str(exc), "field": exc.field}), 400


# -- gateway ---------------------------------------------------------------------------------------------------
def gateway_reads() -> Any:
    try:
        return flask.jsonify(rfid.receive(_host().store, _body(), _host().bus, source="http"))
    except SupplyError as exc:
        return _fail(exc)


def gateway_env() -> Any:
    host, b = _host(), _body()
    try:
        sid = str(b.get("store") or "")
        st = host.store.entity(sid) if sid else None
        if st is None or st.kind != STORE:
            raise SupplyError(f"no store {sid!r}" if sid else "is required", "store")
        settings = host.plugins.records[PLUGIN].settings
        try:
            ts = float(b.get("ts") or time.time())
        except (TypeError, ValueError):
            raise SupplyError(f"{b.get('ts')!r} is not a time (epoch seconds)", "ts") from None
        readings = env.readings(sid, b, ts, settings, env.sensitive_stores(host.store, settings))
    except SupplyError as exc:
        return _fail(exc)
    host.ingest(PLUGIN, "gateway", readings)
    return flask.jsonify({"store": sid, "readings": len(readings)})


# -- reads -----------------------------------------------------------------------------------------------------
def stock_json() -> Any:
    return flask.jsonify([{"id": e.id, "name": e.name, **e.properties} for e in ledger.stock_rows(_host().store)])


def review_json() -> Any:
    return flask.jsonify(rfid.review(_host().store))


def hosted_json() -> Any:
    from dataclasses import asdict
    return flask.jsonify([asdict(h) for h in hosted(_host().store)])


# -- manager steps ---------------------------------------------------------------------------------------------
def review_action(epc: str, action: str) -> Any:
    store, b = _host().store, _body()
    try:
        if action == "assign":
            out = rfid.assign(store, epc, str(b.get("batch") or ""), _actor(), _host().bus)
        elif action == "discard":
            out = rfid.discard(store, epc, _actor(), str(b.get("reason") or ""))
        else:
            return flask.jsonify({"error": f"unknown action {action!r} (assign, discard)", "field": None}), 404
    except SupplyError as exc:
        return _fail(exc)
    return _ok(out, f"{epc}: {action}")


def callup(hosted_id: str) -> Any:
    try:
        out = hosted_mod.request_callup(_host().store, hosted_id, _body(), _actor())
    except SupplyError as exc:
        return _fail(exc)
    return _ok(out, f"{out['id']}: requested")


def confirm(hosted_id: str, callup_id: str) -> Any:
    try:
        out = hosted_mod.confirm_callup(_host().store, hosted_id, callup_id, _actor())
    except SupplyError as exc:
        return _fail(exc)
    return _ok(out, f"{callup_id}: confirmed")


def check(hosted_id: str) -> Any:
    from dataclasses import asdict
    try:
        out = hosted_mod.record_check(_host().store, hosted_id, _body(), _actor())
    except SupplyError as exc:
        return _fail(exc)
    return _ok(asdict(out), f"{hosted_id}: checked")


def manage() -> Any:
    store = _host().store
    lang = "en" if flask.request.args.get("lang") == "en" else "zh"
    d, all_stores, all_items, all_batches = ledger.current(store)
    return flask.render_template_string(
        TEMPLATE.read_text(encoding="utf-8"), t=lambda m: _host().translator.gettext(m, lang), lang=lang,
        identity=current_identity(), stores=all_stores, items=all_items, batches=all_batches,
        stock=d.stock, drill=d.drill, review=rfid.review(store), hosted=hosted(store),
        item_of={i.id: i for i in items(store)}, store_of={s.id: s for s in stores(store)},
        fmt=lambda ts: time.strftime("%m-%d %H:%M", time.localtime(float(ts))) if ts else "–")


def routes() -> list[RouteSpec]:
    M, post = "manager", ("POST",)
    return [
        RouteSpec("manage", manage, endpoint="sp_manage", role=M),
        RouteSpec("gateway/reads", gateway_reads, methods=post, endpoint="sp_reads", role=M),
        RouteSpec("gateway/env", gateway_env, methods=post, endpoint="sp_env", role=M),
        RouteSpec("stock.json", stock_json, endpoint="sp_stock", role="viewer"),
        RouteSpec("review.json", review_json, endpoint="sp_review", role="viewer"),
        RouteSpec("hosted.json", hosted_json, endpoint="sp_hosted", role="viewer"),
        RouteSpec("review/<epc>/<action>", review_action, methods=post, endpoint="sp_review_action", role=M),
        RouteSpec("hosted/<hosted_id>/callup", callup, methods=post, endpoint="sp_callup", role=M),
        RouteSpec("hosted/<hosted_id>/callups/<callup_id>/confirm", confirm, methods=post, endpoint="sp_confirm",
                  role=M),
        RouteSpec("hosted/<hosted_id>/check", check, methods=post, endpoint="sp_check", role=M),
    ]
