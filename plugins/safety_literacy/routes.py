"""Routes under ``/plugins/safety_literacy/``: the managers' upload page, a JSON import API, editing a
record, the KPIs as JSON and blank template files. The host checks the role (``RouteSpec.role``) and
the CSRF token before any of these runs; uploads are size-limited here and by the host, their type is
checked from their bytes (``tables``), and they are parsed as data only, never saved or run.
"""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path
from typing import Any

import flask

from core.api import RouteSpec, current_identity

from . import edits, importer, kpis
from . import records as R

PLUGIN = R.PLUGIN
TEMPLATE = Path(__file__).with_name("upload.html")
PAGE = f"/plugins/{PLUGIN}/upload"


def _host() -> Any:
    return flask.current_app.config["TWINBOARD_HOST"]


def _settings() -> Any:
    return _host().plugins.records[PLUGIN].settings


def _actor() -> str:
    return current_identity().get("user") or "manager"


def _lang() -> str:
    return "en" if flask.request.args.get("lang") == "en" else "zh"


def _read_upload() -> tuple[bytes, str]:
    """The uploaded file's bytes and name; ImportRefused when missing or over the plugin's limit."""
    upload = flask.request.files.get("file")
    if upload is None or not upload.filename:
        raise importer.ImportRefused(["choose a file to import (.csv or .xlsx)"])
    limit = int(_settings().max_upload_bytes)
    data = upload.stream.read(limit + 1)
    if len(data) > limit:
        raise importer.ImportRefused([f"{upload.filename}: over the upload limit of {limit:,} bytes "
                                      f"(import bigger files on the server: twinboard literacy import FILE --as DATASET)"])
    return data, upload.filename


def _import(dry_run: bool) -> importer.ImportResult:
    data, name = _read_upload()
    dataset = str(flask.request.form.get("dataset") or "")
    s = _settings()
    result = importer.import_file(_host().store, data, name, dataset, _actor(), max_bytes=int(s.max_upload_bytes),
                                  max_rows=int(s.max_rows), dry_run=dry_run, enterprise_kinds=tuple(s.enterprise_kinds))
    kpis.forget()
    return result


def upload_page() -> Any:
    """GET: the form and the recent imports; POST: import (or check) the file and show what happened."""
    result = errors = None
    status = 200
    if flask.request.method == "POST":
        try:
            result = _import(dry_run=bool(flask.request.form.get("dry_run")))
        except importer.ImportRefused as exc:
            errors, status = exc.errors, 400
    host = _host()
    recent = [a for a in host.store.audit_log(limit=500) if a.action.startswith(f"{PLUGIN}.")][:15]
    lang = _lang()
    snap = kpis.compute(host.store, period_days=_settings().period_days,
                        enterprise_kinds=tuple(_settings().enterprise_kinds),
                        hazardous_kinds=tuple(_settings().hazardous_kinds))
    return flask.render_template_string(
        TEMPLATE.read_text(encoding="utf-8"), t=lambda m: host.translator.gettext(m, lang), lang=lang,
        identity=current_identity(), datasets=importer.DATASET_TEXT, layouts=importer.LAYOUTS, result=result,
        errors=errors, recent=recent, limit=int(_settings().max_upload_bytes), snap=snap,
        chosen=flask.request.form.get("dataset", "training"),
        fmt=lambda ts: time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))), status


def import_api() -> Any:
    """POST multipart (file, dataset[, dry_run]) → JSON: what was added/updated, or every error (400)."""
    try:
        result = _import(dry_run=str(flask.request.form.get("dry_run", "")).lower() in ("1", "true", "on"))
    except importer.ImportRefused as exc:
        return flask.jsonify({"error": str(exc), "errors": exc.errors}), 400
    return flask.jsonify(result.as_dict())


def edit(record_id: str) -> Any:
    """POST JSON with fields to change (``importer.EDITABLE``) → the record, or the errors (400)."""
    body = flask.request.get_json(silent=True)
    if not isinstance(body, dict) or not body:
        return flask.jsonify({"error": "expected a JSON object of fields to change"}), 400
    try:
        rec = edits.edit_record(_host().store, record_id, body, _actor(),
                                   enterprise_kinds=tuple(_settings().enterprise_kinds))
    except importer.ImportRefused as exc:
        status = 404 if "no such training record" in str(exc) else 400
        return flask.jsonify({"error": str(exc), "errors": exc.errors}), status
    kpis.forget()
    return flask.jsonify({"id": rec.id, **rec.props})


def kpis_json() -> Any:
    s = _settings()
    snap = kpis.cached(_host().store, period_days=s.period_days, expiring_days=s.expiring_days,
                       enterprise_kinds=tuple(s.enterprise_kinds), hazardous_kinds=tuple(s.hazardous_kinds))
    return flask.jsonify(snap.as_dict())


def template_csv(dataset: str) -> Any:
    if dataset not in importer.DATASETS:
        return flask.jsonify({"error": f"no template {dataset!r} (one of {', '.join(importer.DATASETS)})"}), 404
    buf = io.StringIO()
    csv.writer(buf).writerow(importer.layout_headers(dataset, _lang()))
    return flask.Response("\ufeff" + buf.getvalue(), mimetype="text/csv",
                          headers={"Content-Disposition": f"attachment; filename={dataset}_template.csv"})


def routes() -> list[RouteSpec]:
    m = "manager"
    return [RouteSpec("upload", upload_page, methods=("GET", "POST"), endpoint="sl_upload", role=m),
            RouteSpec("import", import_api, methods=("POST",), endpoint="sl_import", role=m),
            RouteSpec("records/<record_id>", edit, methods=("POST",), endpoint="sl_edit", role=m),
            RouteSpec("kpis", kpis_json, endpoint="sl_kpis"),
            RouteSpec("template/<dataset>.csv", template_csv, endpoint="sl_template")]
