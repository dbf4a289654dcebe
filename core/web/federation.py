"""The federation's web side: the signed inbox ``POST /api/federation/inbox`` (any platform that speaks
docs/federation.md), and ``/admin/federation`` (peers, outbox state, last errors, inbox; send an
instruction down; re-publish a received warning downward)."""

from __future__ import annotations

import time
from typing import Any

import flask
from sqlalchemy import select
from werkzeug.exceptions import RequestEntityTooLarge

from core.data import twin
from core.runtime import federation_wire as wire
from core.runtime.federation import received
from core.runtime.host import Host
from core.i18n import normalize_locale
from core.web.auth import current_identity


def register_federation(server: flask.Flask, host: Host) -> None:
    """Add the inbox route (exempt from CSRF: it is authenticated by its signature) and the admin page."""

    @server.post(wire.INBOX_PATH)
    def _federation_inbox() -> Any:
        """Receive signed messages from a peer instance (docs/federation.md)."""
        fed = host.federation
        if fed is None:
            return flask.jsonify({"error": "federation is not configured on this instance"}), 404
        req = flask.request
        limit = fed.settings.max_bytes
        try:
            if req.content_length is not None and req.content_length > limit:
                raise RequestEntityTooLarge()
            req.max_content_length = limit  # this request only (the host's default is 256 kB)
            body = req.get_data(cache=False)
        except RequestEntityTooLarge:
            exc = wire.WireError(413, f"body of {req.content_length} bytes; at most {limit}")
            fed.refused(exc, (req.headers.get(wire.PEER_HEADER) or "")[:64], req.remote_addr or "")
            return flask.jsonify(exc.as_dict()), 413
        status, doc = fed.receive(req.headers, body, req.remote_addr or "")
        return flask.jsonify(doc), status

    server.extensions["csrf"].exempt(_federation_inbox)
    server.register_blueprint(_admin(host))


def _admin(host: Host) -> flask.Blueprint:
    bp = flask.Blueprint("federation_admin", __name__)

    def lang() -> str:
        return normalize_locale(flask.request.args.get("lang"), host.settings.locale)

    def back() -> Any:
        return flask.redirect(flask.url_for("federation_admin.page", lang=lang()))

    @bp.get("/admin/federation")
    def page() -> Any:
        from core.web.admin import _render
        fed = host.federation
        t = twin.FederationOutbox
        problems: list[Any] = []
        if fed is not None:
            with host.store.session() as db:
                problems = list(db.scalars(select(t).where(t.last_error.is_not(None), t.state != "sent")  # type: ignore[union-attr]
                                           .order_by(t.id.desc()).limit(20)).all())
        return _render(host, "admin_federation.html", fed=fed, status=fed.status() if fed else None,
                       inbox=received(host.store, 50) if fed else [], problems=problems,
                       levels=wire.LEVEL_TEXT, types=wire.TYPE_TEXT, down_types=wire.TYPES_DOWN, now=time.time())

    @bp.post("/admin/federation/instruct")
    def instruct() -> Any:
        fed = host.federation
        if fed is None:
            flask.abort(404)
        form = flask.request.form
        try:
            env = fed.instruct(form.get("title", ""), form.get("message", ""), form.getlist("to"),
                               current_identity()["user"] or "?")
            flask.flash(host.translator.gettext("Instruction queued", lang()) + f": {env['id']}", "ok")
        except ValueError as exc:
            flask.flash(str(exc), "error")
        return back()

    @bp.post("/admin/federation/republish/<int:inbox_id>")
    def republish(inbox_id: int) -> Any:
        fed = host.federation
        if fed is None:
            flask.abort(404)
        try:
            env = fed.republish(inbox_id, current_identity()["user"] or "?")
            flask.flash(host.translator.gettext("Re-published downward", lang()) + f": {env['id']}", "ok")
        except ValueError as exc:
            flask.flash(str(exc), "error")
        return back()

    @bp.post("/admin/federation/retry/<int:row_id>")
    def retry(row_id: int) -> Any:
        """Send a refused or waiting outbox row again now (audited)."""
        t = twin.FederationOutbox
        with host.store.engine.begin() as conn:
            n = conn.execute(t.__table__.update().where(t.__table__.c.id == row_id, t.__table__.c.state != "sent")
                             .values(state="pending", next_at=time.time())).rowcount
        if n:
            host.store.audit(current_identity()["user"] or "?", "federation.retry", f"federation_outbox:{row_id}")
        return back()

    return bp
