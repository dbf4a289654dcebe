"""/admin for park managers: plugins (state, heartbeats, enable/disable, settings), dashboards, kiosk
tokens, users, the audit log and the GIS import (/admin/gis); plus the JSON admin API. Roles are
enforced in core.web.auth."""

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
from core.data.users import ALL_ROLES, SCOPED_ROLES, UserError, Users
from core.errors import TwinboardError


def _lang() -> str:
    return normalize_locale(flask.request.args.get("lang"), flask.current_app.config["TWINBOARD_HOST"].settings.locale)


def _render(host: Host, template: str, **ctx: Any) -> str:
    lang = _lang()
    return flask.render_template(template, t=lambda m: host.translator.gettext(m, lang), lang=lang,
                                 identity=current_identity(), fmt_time=_fmt_time, **ctx)


def _fmt_time(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts else "–"


def _throttle() -> Any:
    """The app's sign-in throttle (core.web.throttle.SigninThrottle, made by core.web.auth)."""
    return flask.current_app.config["TWINBOARD_SIGNIN_THROTTLE"]


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
        return _render(host, "admin_plugins.html", rows=rows, PluginStatus=PluginStatus,
                       failing=host.panel_faults.failing())

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
                    users.add(form.get("username", ""), form.get("password", ""), form.get("role", "viewer"), _actor(),
                              scope=form.get("scope") or None)
                elif form.get("action") == "role":
                    users.set_role(form.get("username", ""), form.get("role", ""), _actor(),
                                   scope=form.get("scope") or None)
            except UserError as exc:
                flask.flash(str(exc), "error")
            return flask.redirect(flask.url_for("admin.user_admin", lang=_lang()))
        return _render(host, "admin_users.html", users=users.all(), roles=ALL_ROLES, scoped=SCOPED_ROLES,
                       locks=_throttle().active())

    @bp.route("/admin/signin-locks", methods=["GET", "POST"])
    def signin_locks() -> Any:
        """Active sign-in locks (core.web.throttle); a manager unlocks one (audited ``signin.unlock``)."""
        if flask.request.method == "POST":
            try:
                _throttle().unlock(int(flask.request.form.get("unlock", "")), _actor())
                flask.flash(host.translator.gettext("Unlocked", _lang()), "ok")
            except (KeyError, ValueError) as exc:
                flask.flash(str(exc).strip("'\""), "error")
            if flask.request.form.get("back") == "users" and current_identity().get("role") == "admin":
                return flask.redirect(flask.url_for("admin.user_admin", lang=_lang()) + "#signin-locks")
            return flask.redirect(flask.url_for("admin.signin_locks", lang=_lang()))
        return _render(host, "admin_signin_locks.html", locks=_throttle().active(), back="")

    # -- the bureau's own GIS data --------------------------------------------------------------
    @bp.route("/admin/gis", methods=["GET", "POST"])
    def gis_upload() -> Any:
        return _gis_page(host)

    # CSRF is checked by the view itself, after the request's size limit is raised for the upload
    # (flask-wtf's check would read the body first, under the app's 256 kB limit for Dash callbacks)
    bp.record_once(lambda state: state.app.extensions["csrf"].exempt(gis_upload))

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


#: Uploads to /admin/gis may be this large (app config TWINBOARD_GIS_UPLOAD_MAX_BYTES overrides it);
#: bigger files are imported on the server with ``twinboard gis import``.
GIS_UPLOAD_MAX_BYTES = 100_000_000
#: The page's words in Chinese (the English is the key).
_GIS_ZH = {
    "GIS data": "GIS 数据导入", "File": "文件", "Import as": "导入为", "Coordinate system": "坐标系",
    "from the file": "按文件自带", "Coordinates are GCJ-02 (Chinese web maps): convert to WGS-84":
    "坐标为 GCJ-02(国内网络地图),转换为 WGS-84", "Import": "导入", "Imported layers": "已导入图层",
    "Layer": "图层", "Features": "要素数", "Imported": "导入时间", "By": "操作人", "Warnings": "警告",
    "Drop": "删除", "Nothing imported yet: the demo road network and entities are used.":
    "尚未导入:使用演示路网和演示数据。", "Upload limit": "上传上限",
    "Formats: GeoJSON, zipped Shapefile (.zip), GeoPackage, OpenStreetMap (.osm, .pbf); GeoTIFF for dem. "
    "Importing a layer again replaces it.": "格式:GeoJSON、Shapefile 压缩包(.zip)、GeoPackage、"
    "OpenStreetMap(.osm、.pbf);高程(dem)用 GeoTIFF。再次导入同一图层会替换原数据。",
    "roads": "道路", "boundary": "边界", "places": "地名", "shelters": "避难场所", "resources": "应急资源",
    "dem": "高程", "Import refused": "导入被拒绝", "Choose a file": "请选择文件",
    "Layer in the file": "文件中的图层", "only for a GeoPackage with several layers": "仅用于含多个图层的 GeoPackage",
}


def _gis_page(host: Host) -> Any:
    from werkzeug.exceptions import RequestEntityTooLarge
    from flask_wtf.csrf import CSRFError, validate_csrf
    from wtforms import ValidationError
    from core.geo import gis_import

    lang = _lang()
    tt = (lambda m: _GIS_ZH.get(m, m)) if lang != "en" else (lambda m: m)
    limit = int(flask.current_app.config.get("TWINBOARD_GIS_UPLOAD_MAX_BYTES", GIS_UPLOAD_MAX_BYTES))
    result = error = None
    status = 200
    req = flask.request
    if req.method == "POST":
        too_large = (f"the upload is larger than the limit of {_size(limit)} for this page; import "
                     "bigger files on the server: twinboard gis import FILE --as LAYER")
        form = None
        if req.content_length is not None and req.content_length > limit:
            error, status = too_large, 413
        else:
            req.max_content_length = limit  # this request only (the app keeps 256 kB for Dash callbacks)
            try:
                form, files = req.form, req.files
            except RequestEntityTooLarge:
                error, status = too_large, 413
        if form is not None:
            try:
                validate_csrf(form.get("csrf_token"))
            except ValidationError as exc:
                raise CSRFError(exc.args[0]) from None
            if form.get("drop"):
                layer = form.get("drop", "")
                try:
                    gis_import.drop_layer(host.store, layer, actor=_actor())
                except TwinboardError as exc:
                    error, status = str(exc), 400
            else:
                error, status, result = _gis_import(host, form, files, limit)
    return _render(host, "admin_gis.html", tt=tt, layers=gis_import.LAYERS, imports=gis_import.imports(host.store),
                   result=result, error=error, limit=_size(limit)), status


def _size(n: int) -> str:
    return f"{n / 1_000_000:.0f} MB" if n >= 10_000_000 else f"{n / 1_000_000:.1f} MB" if n >= 100_000 \
        else f"{n / 1000:.0f} kB"


def _gis_import(host: Host, form: Any, files: Any, limit: int) -> tuple[str | None, int, Any]:
    """Save the uploaded file to a private temporary folder and import it; (error, status, result)."""
    import re
    import shutil
    import tempfile
    from pathlib import Path
    from core.geo import gis_import
    from core.geo.readers import RASTER_SUFFIXES, VECTOR_SUFFIXES

    upload = files.get("file")
    layer = form.get("layer", "")
    if upload is None or not upload.filename:
        return "choose a file to import", 400, None
    # the name as the user knows it (for messages and the record), without folders or control characters
    shown = re.sub(r"[\x00-\x1f\x7f]", "", upload.filename.replace("\\", "/").rsplit("/", 1)[-1])[:200] or "upload"
    lower = shown.lower()
    suffix = ".osm.pbf" if lower.endswith(".osm.pbf") else Path(lower).suffix
    allowed = RASTER_SUFFIXES if layer == "dem" else tuple(s for s in VECTOR_SUFFIXES if s not in (".shp",))
    if layer not in gis_import.LAYERS:
        return f"choose what to import the file as ({', '.join(gis_import.LAYERS)})", 400, None
    if suffix not in allowed and not (suffix.endswith(".pbf") and layer != "dem"):
        return (f"{shown}: a {layer} upload takes {', '.join(allowed)} files (a shapefile: zip its .shp, .shx, .dbf, "
                ".prj and .cpg together)"), 400, None
    tmp = Path(tempfile.mkdtemp(prefix="twinboard-gis-"))
    try:
        path = tmp / f"upload{suffix}"
        upload.save(path)
        try:
            result = gis_import.import_file(host.store, path, layer, crs=(form.get("crs") or "").strip() or None,
                                            gcj02=form.get("gcj02") is not None, actor=_actor(), display=shown,
                                            source_layer=(form.get("source_layer") or "").strip() or None,
                                            max_bytes=limit)
        except TwinboardError as exc:
            return str(exc), 400, None
        return None, 200, result
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _json_body() -> dict[str, Any]:
    body = flask.request.get_json(silent=True)
    if not isinstance(body, dict):
        flask.abort(flask.make_response(flask.jsonify({"error": "body must be a JSON object"}), 400))
    return body


def _dumps(value: Any) -> str:
    return "" if value is None else json.dumps(value, ensure_ascii=False)[:400]
