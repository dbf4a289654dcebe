"""/admin for park managers: plugins (state, heartbeats, enable/disable, settings), dashboards, kiosk
tokens, users and the audit log; plus the JSON admin API. Roles are enforced in core.web.auth."""

from __future__ import annotations

import json
import time
from typing import Any

import flask

from core.web.auth import current_identity
from core.web.dashboards import Dashboard, Playlist
from core.runtime.host import Host
from core.i18n import normalize_locale
from core.plugins.manager import PluginStatus
from core.data.users import ROLES, UserError, Users


def _lang() -> str:
    return normalize_locale(flask.request.args.get("lang"), flask.current_app.config["TWINBOARD_HOST"].settings.locale)


def _render(host: Host, template: str, **ctx: Any) -> str:
    lang = _lang()
    return flask.render_template(template, t=lambda m: host.translator.gettext(m, lang), lang=lang,
                                 identity=current_identity(), fmt_time=_fmt_time, **ctx)


def _fmt_time(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts else "–"


def _actor() -> str:
    return current_identity()["user"] or "?"


def form_fields(schema: dict[str, Any], values: dict[str, Any],
                raw: Any = None) -> list[dict[str, Any]]:
    """One form field per top-level property of a pydantic JSON schema.

    ``raw`` (the submitted form) is shown back verbatim, so a rejected entry can be corrected.
    """
    fields = []
    for name, prop in schema.get("properties", {}).items():
        kind = prop.get("type")
        if "enum" in prop:
            widget = "select"
        elif kind == "boolean":
            widget = "checkbox"
        elif kind in ("integer", "number"):
            widget = "number"
        elif kind == "string":
            widget = "text"
        else:
            widget = "json"
        value = values.get(name, prop.get("default"))
        shown = json.dumps(value, ensure_ascii=False) if widget == "json" else value
        if raw is not None:
            shown = (raw.get(name) is not None) if widget == "checkbox" else raw.get(name, shown)
        fields.append({"name": name, "title": prop.get("title", name), "help": prop.get("description", ""),
                       "widget": widget, "options": prop.get("enum", []),
                       "value": shown,
                       "min": prop.get("minimum", prop.get("exclusiveMinimum")),
                       "max": prop.get("maximum", prop.get("exclusiveMaximum"))})
    return fields


def parse_form(fields: list[dict[str, Any]], form: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """Form strings → Python values for validation; JSON that does not parse is a field error."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for f in fields:
        raw = form.get(f["name"])
        if f["widget"] == "checkbox":
            values[f["name"]] = raw is not None
        elif f["widget"] == "json":
            try:
                values[f["name"]] = json.loads(raw or "null")
            except json.JSONDecodeError as exc:
                errors[f["name"]] = f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        else:
            values[f["name"]] = raw
    return values, errors


def build_admin(host: Host, users: Users, dashboards: dict[str, Dashboard],
                playlists: dict[str, Playlist]) -> flask.Blueprint:
    bp = flask.Blueprint("admin", __name__)

    @bp.get("/admin")
    def plugins() -> Any:
        rows = []
        for name, rec in sorted(host.plugins.records.items()):
            beats = {k.split(".", 1)[1]: hb for k, hb in host.runtime.heartbeats(name).items()}
            rows.append({"rec": rec, "beats": beats,
                         "has_settings": rec.loaded and host.plugins.call(name, "register_settings_model") is not None})
        return _render(host, "admin_plugins.html", rows=rows, PluginStatus=PluginStatus)

    @bp.post("/admin/plugins/<name>/enabled")
    def set_enabled(name: str) -> Any:
        enabled = flask.request.form.get("enabled") == "1"
        try:
            host.set_enabled(name, enabled, actor=_actor())
        except (KeyError, ValueError) as exc:
            flask.flash(str(exc), "error")
        return flask.redirect(flask.url_for("admin.plugins", lang=_lang()))

    @bp.route("/admin/plugins/<name>/settings", methods=["GET", "POST"])
    def settings(name: str) -> Any:
        rec = host.plugins.records.get(name)
        model = host.plugins.call(name, "register_settings_model") if rec and rec.loaded else None
        if model is None:
            flask.abort(404)
        current = rec.settings.model_dump(mode="json") if hasattr(rec.settings, "model_dump") else {}
        fields = form_fields(model.model_json_schema(), current)
        errors: dict[str, str] = {}
        if flask.request.method == "POST":
            values, errors = parse_form(fields, flask.request.form)
            if not errors:
                errors = host.update_settings(name, values, actor=_actor())
            if not errors:
                flask.flash(host.translator.gettext("Settings saved", _lang()), "ok")
                return flask.redirect(flask.url_for("admin.settings", name=name, lang=_lang()))
            fields = form_fields(model.model_json_schema(), current, raw=flask.request.form)
        return _render(host, "admin_settings.html", rec=rec, fields=fields, errors=errors), (400 if errors else 200)

    @bp.get("/admin/dashboards")
    def boards() -> Any:
        return _render(host, "admin_dashboards.html", dashboards=dashboards, playlists=playlists)

    @bp.get("/admin/audit")
    def audit() -> Any:
        return _render(host, "admin_audit.html", entries=host.store.audit_log(500), dumps=_dumps)

    @bp.route("/admin/kiosk", methods=["GET", "POST"])
    def kiosk() -> Any:
        new_token = None
        if flask.request.method == "POST":
            try:
                if flask.request.form.get("revoke"):
                    users.revoke_kiosk_token(int(flask.request.form["revoke"]), _actor())
                else:
                    new_token = users.issue_kiosk_token(flask.request.form.get("label", ""), _actor())
            except (UserError, ValueError) as exc:
                flask.flash(str(exc), "error")
        return _render(host, "admin_kiosk.html", tokens=users.kiosk_tokens(), new_token=new_token,
                       dashboards=dashboards)

    @bp.route("/admin/users", methods=["GET", "POST"])
    def user_admin() -> Any:
        if flask.request.method == "POST":
            form = flask.request.form
            try:
                if form.get("action") == "add":
                    users.add(form.get("username", ""), form.get("password", ""), form.get("role", "viewer"), _actor())
                elif form.get("action") == "role":
                    users.set_role(form.get("username", ""), form.get("role", ""), _actor())
            except UserError as exc:
                flask.flash(str(exc), "error")
            return flask.redirect(flask.url_for("admin.user_admin", lang=_lang()))
        return _render(host, "admin_users.html", users=users.all(), roles=ROLES)

    # -- JSON admin API ------------------------------------------------------------------------
    @bp.post("/api/admin/plugins/<name>")
    def api_plugin(name: str) -> Any:
        body = _json_body()
        if "enabled" in body:
            if not isinstance(body["enabled"], bool):
                return flask.jsonify({"error": "field 'enabled' must be true or false"}), 422
            try:
                state = host.set_enabled(name, body["enabled"], actor=_actor())
            except KeyError as exc:
                return flask.jsonify({"error": str(exc).strip("'\"")}), 404
            except ValueError as exc:
                return flask.jsonify({"error": str(exc)}), 409
            return flask.jsonify({"name": name, "state": state.value})
        if "settings" in body:
            if not isinstance(body["settings"], dict):
                return flask.jsonify({"error": "field 'settings' must be an object"}), 422
            errors = host.update_settings(name, body["settings"], actor=_actor())
            if errors:
                return flask.jsonify({"error": "invalid settings", "fields": errors}), 422
            return flask.jsonify({"name": name, "saved": True})
        return flask.jsonify({"error": "give 'enabled' or 'settings'"}), 422

    @bp.post("/api/admin/alerts/<int:alert_id>")
    def api_alert(alert_id: int) -> Any:
        from core.runtime.bus import AlertAcknowledged, AlertClosed
        from core.errors import StoreError
        body = _json_body()
        state = body.get("state")
        if state not in ("acknowledged", "closed"):
            return flask.jsonify({"error": "field 'state' must be 'acknowledged' or 'closed'"}), 422
        try:
            host.store.set_alert_state(alert_id, state, _actor())
        except StoreError as exc:
            return flask.jsonify({"error": str(exc)}), 404
        event = AlertAcknowledged if state == "acknowledged" else AlertClosed
        host.bus.publish(event(alert_id=alert_id, actor=_actor()))
        return flask.jsonify({"id": alert_id, "state": state})

    return bp


def _json_body() -> dict[str, Any]:
    body = flask.request.get_json(silent=True)
    if not isinstance(body, dict):
        flask.abort(flask.make_response(flask.jsonify({"error": "body must be a JSON object"}), 400))
    return body


def _dumps(value: Any) -> str:
    return "" if value is None else json.dumps(value, ensure_ascii=False)[:400]
