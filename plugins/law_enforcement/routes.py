"""Routes under ``/plugins/law_enforcement/``: the manager page, a JSON API for the same steps, the
enterprise file (一企一档) with its checks and records, and the 互联网+监管 export.

Every change needs the manager role (the host checks it) and the CSRF token; a form post gets a redirect
back to the manager page with the result or the error (naming the field), JSON gets JSON (400 with
``error`` and ``field``). Reads need a signed-in viewer; downloads of the export need a manager.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import flask

from core.api import RouteSpec, current_identity

from . import export, grading, plans, records as rec_mod
from .model import PLUGIN, LawError, inspectors, records, tasks, units
from .panels import required

TEMPLATE = Path(__file__).with_name("manage.html")
BASE = f"/plugins/{PLUGIN}"


def _host() -> Any:
    return flask.current_app.config["TWINBOARD_HOST"]


def _settings() -> Any:
    return _host().plugins.records[PLUGIN].settings


def _store() -> Any:
    return _host().store


def _actor() -> str:
    return current_identity().get("user") or "manager"


def _lang() -> str:
    return "en" if flask.request.args.get("lang") == "en" else "zh"


def _is_form() -> bool:
    return flask.request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data")


def _body() -> dict[str, Any]:
    if _is_form():
        form = flask.request.form
        out: dict[str, Any] = {k: form.get(k) for k in form if k != "csrf_token"}
        for multi in ("inspectors", "measure_kind"):
            if multi in form:
                out[multi] = [v for v in form.getlist(multi) if v]
        return out
    if not flask.request.get_data():
        return {}
    body = flask.request.get_json(silent=True)
    if not isinstance(body, dict):
        flask.abort(flask.make_response(flask.jsonify({"error": "expected a JSON object", "field": None}), 400))
    return body


def _back(anchor: str = "") -> Any:
    args = {k: v for k, v in (("lang", flask.request.args.get("lang")),
                              ("year", flask.request.args.get("year"))) if v}
    q = "&".join(f"{k}={v}" for k, v in args.items())
    return flask.redirect(f"{BASE}/manage" + (f"?{q}" if q else "") + anchor)


def _ok(result: dict[str, Any], message: str) -> Any:
    if _is_form():
        flask.flash(message, "ok")
        return _back()
    return flask.jsonify(result)


def _fail(exc: LawError) -> Any:
    if _is_form():
        flask.flash(str(exc), "error")
        return _back()
    return flask.jsonify({"error": str(exc), "field": exc.field}), 400


def _team(value: Any) -> list[str]:
    """Inspector ids from a list, a comma-separated text, or a list of such texts (form fields)."""
    items = [value] if isinstance(value, str) else list(value or [])
    return [v.strip() for item in items for v in str(item).replace("，", ",").split(",") if v.strip()]


def _record_body(b: dict[str, Any]) -> dict[str, Any]:
    """A manager-page form (one finding, checked measures) → the JSON API's body."""
    if not _is_form():
        return b
    findings, measures = [], []
    if (b.get("finding_type") or "").strip():
        findings.append({"type": b.get("finding_type"), "description": b.get("finding_description"),
                         "level": b.get("finding_level") or "general", "legal_basis": b.get("finding_basis") or None})
    for kind in b.get("measure_kind") or []:
        m: dict[str, Any] = {"kind": kind}
        if kind == "rectify_order":
            m["deadline"] = b.get("deadline")
        if kind == "fine":
            m.update(amount=b.get("fine_amount"), finding=0)
        measures.append(m)
    return {"date": b.get("date"), "inspectors": _team(b.get("inspectors")), "findings": findings,
            "measures": measures, "note": b.get("note")}


# -- pages and reads -----------------------------------------------------------------------------------
def manage() -> Any:
    store, settings, lang = _store(), _settings(), _lang()
    today = dt.date.today()
    try:
        year = int(flask.request.args.get("year") or plans.plan_year(settings, today))
    except ValueError:
        year = plans.plan_year(settings, today)
    ents = grading.enterprises(store, settings.enterprise_kinds, today)
    people = inspectors(store)
    us = units(store)
    staff = {u.id: sum(1 for i in people if i.active and i.unit == u.id) for u in us}
    file_of = flask.request.args.get("enterprise")
    file_ent = store.entity(file_of) if file_of else None
    return flask.render_template_string(
        TEMPLATE.read_text(encoding="utf-8"), t=lambda m: _host().translator.gettext(m, lang), lang=lang,
        identity=current_identity(), year=year, today=today.isoformat(), settings=settings,
        tasks=sorted(tasks(store, year), key=lambda t: (t.month, t.enterprise, t.id)),
        records={r.id: r for r in records(store, year)}, enterprises=ents, inspectors=people, units=us,
        names={i.id: i.name for i in people}, grade_text=grading.GRADE_TEXT, town=grading.town_text,
        catalog=rec_mod.catalog(), measures=rec_mod.MEASURES, levels=rec_mod.LEVELS,
        need={u.id: required(u, staff[u.id], settings.required_equipment) for u in us},
        file_ent=file_ent, file_tasks=[t for t in tasks(store) if file_ent and t.enterprise == file_ent.id],
        file_records=[r for r in records(store) if file_ent and r.enterprise == file_ent.id])


def plan_json(year: int) -> Any:
    return flask.jsonify([t.__dict__ for t in sorted(tasks(_store(), year), key=lambda t: t.id)])


def enterprise_file(enterprise_id: str) -> Any:
    """一企一档: the enterprise's file as its plugin keeps it in the store, with this plugin's checks and records."""
    store = _store()
    e = store.entity(enterprise_id)
    if e is None or e.kind not in _settings().enterprise_kinds:
        return flask.jsonify({"error": f"no enterprise {enterprise_id!r}", "field": "enterprise"}), 404
    graded = next((g for g in grading.enterprises(store, _settings().enterprise_kinds) if g.id == e.id), None)
    return flask.jsonify({
        "id": e.id, "name": e.name, "name_en": e.name_en, "kind": e.kind, "plugin": e.plugin,
        "file": e.properties, "grade": graded.grade if graded else None,
        "grade_source": graded.grade_source if graded else None, "town": graded.town if graded else None,
        "tasks": [t.__dict__ for t in sorted(tasks(store), key=lambda t: t.id) if t.enterprise == e.id],
        "records": [r.__dict__ for r in sorted(records(store), key=lambda r: r.id) if r.enterprise == e.id]})


def record_json(record_id: str) -> Any:
    r = next((r for r in records(_store()) if r.id == record_id), None)
    if r is None:
        return flask.jsonify({"error": f"no record {record_id!r}", "field": "record"}), 404
    return flask.jsonify(r.__dict__)


# -- plan changes --------------------------------------------------------------------------------------
def generate() -> Any:
    b = _body()
    try:
        year = int(str(b.get("year") or plans.plan_year(_settings())))
    except ValueError:
        return _fail(LawError(f"{b.get('year')!r} is not a year", "year"))
    try:
        plan = plans.generate_plan(_store(), _settings(), year, _actor(),
                                   replace=str(b.get("replace", "")).lower() in ("1", "true", "on"))
    except LawError as exc:
        return _fail(exc)
    short = [f"{s.enterprise.id}#{s.seq}: {s.reason}" for s in plan.shortfalls]
    return _ok({"year": year, "tasks": len(plan.checks), "shortfalls": short},
               f"{year}: {len(plan.checks)} tasks" + (f", {len(short)} not schedulable" if short else ""))


def task_action(task_id: str, action: str) -> Any:
    store, settings, actor, b = _store(), _settings(), _actor(), _body()
    try:
        if action == "move":
            t = plans.move_task(store, settings, task_id, b.get("month"), actor)
        elif action == "reassign":
            t = plans.reassign_task(store, settings, task_id, _team(b.get("inspectors")), actor)
        elif action == "cancel":
            t = plans.cancel_task(store, task_id, str(b.get("reason") or ""), actor)
        elif action == "record":
            r = rec_mod.file_record(store, settings, task_id, _record_body(b), actor)
            return _ok(r.__dict__, f"{r.id}: {r.state}")
        elif action == "follow_up":
            body = dict(b)
            if _is_form() and body.get("inspectors"):
                body["inspectors"] = _team(body["inspectors"])
            r = rec_mod.follow_up(store, settings, task_id, body, actor)
            return _ok(r.__dict__, f"{r.id}: {r.state}")
        else:
            return flask.jsonify({"error": f"unknown action {action!r}", "field": None}), 404
    except LawError as exc:
        return _fail(exc)
    return _ok(t.__dict__, f"{t.id}: {action}")


def add() -> Any:
    b = _body()
    try:
        t = plans.add_task(_store(), _settings(), b.get("year"), str(b.get("enterprise") or ""), b.get("month"),
                           _team(b.get("inspectors")) or None, _actor())
    except LawError as exc:
        return _fail(exc)
    return _ok(t.__dict__, f"{t.id}: added")


def inspector(inspector_id: str) -> Any:
    try:
        i = plans.update_inspector(_store(), inspector_id, _body(), _actor())
    except LawError as exc:
        return _fail(exc)
    return _ok(i.__dict__, f"{i.name}: saved")


def unit_equipment(unit_id: str) -> Any:
    b = _body()
    counts = b.get("equipment") if isinstance(b.get("equipment"), dict) else {
        k.removeprefix("eq_"): v for k, v in b.items() if k.startswith("eq_")}
    try:
        u = plans.set_equipment(_store(), _settings(), unit_id, counts, _actor())
    except LawError as exc:
        return _fail(exc)
    return _ok(u.__dict__, f"{u.name}: saved")


# -- export --------------------------------------------------------------------------------------------
def _export_files(year: int) -> dict[str, bytes] | Any:
    try:
        return export.files(_store(), _settings(), year)
    except export.ExportError as exc:
        return flask.jsonify({"error": str(exc)}), 422


def export_json(year: int) -> Any:
    out = _export_files(year)
    if not isinstance(out, dict):
        return out
    return flask.Response(out[f"hlwjg-{year}.json"], mimetype="application/json",
                          headers={"Content-Disposition": f"attachment; filename=hlwjg-{year}.json"})


def export_csv(year: int, name: str) -> Any:
    if f"{name}.csv" not in ("plan.csv", "records.csv", "findings.csv", "measures.csv"):
        return flask.jsonify({"error": f"no export file {name}.csv (plan, records, findings, measures)"}), 404
    out = _export_files(year)
    if not isinstance(out, dict):
        return out
    return flask.Response(out[f"{name}.csv"], mimetype="text/csv; charset=utf-8",
                          headers={"Content-Disposition": f"attachment; filename={year}-{name}.csv"})


def export_write(year: int) -> Any:
    folder = Path(_settings().export_dir)
    if not folder.is_absolute():
        folder = Path(_host().settings.path(folder))
    try:
        paths = export.write(_store(), _settings(), year, folder)
    except export.ExportError as exc:
        if _is_form():
            flask.flash(str(exc), "error")
            return _back()
        return flask.jsonify({"error": str(exc)}), 422
    _store().audit(_actor(), f"{PLUGIN}.export", f"export:{year}", None, {"files": sorted(paths)})
    return _ok({"year": year, "files": {k: str(v) for k, v in paths.items()}},
               f"{year}: {', '.join(sorted(paths))} → {folder / str(year)}")


def routes() -> list[RouteSpec]:
    M = "manager"
    post = ("POST",)
    return [
        RouteSpec("manage", manage, endpoint="le_manage", role=M),
        RouteSpec("plan/<int:year>", plan_json, endpoint="le_plan", role="viewer"),
        RouteSpec("enterprises/<enterprise_id>", enterprise_file, endpoint="le_enterprise", role="viewer"),
        RouteSpec("records/<record_id>", record_json, endpoint="le_record", role="viewer"),
        RouteSpec("plan/generate", generate, methods=post, endpoint="le_generate", role=M),
        RouteSpec("tasks", add, methods=post, endpoint="le_add", role=M),
        RouteSpec("tasks/<task_id>/<action>", task_action, methods=post, endpoint="le_task", role=M),
        RouteSpec("inspectors/<inspector_id>", inspector, methods=post, endpoint="le_inspector", role=M),
        RouteSpec("units/<unit_id>/equipment", unit_equipment, methods=post, endpoint="le_equipment", role=M),
        RouteSpec("export/<int:year>.json", export_json, endpoint="le_export_json", role=M),
        RouteSpec("export/<int:year>/<name>.csv", export_csv, endpoint="le_export_csv", role=M),
        RouteSpec("export/<int:year>", export_write, methods=post, endpoint="le_export_write", role=M),
    ]
