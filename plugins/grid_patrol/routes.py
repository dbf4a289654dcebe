"""HTTP routes: the phone page ``/m/patrol``, its JSON API under ``/plugins/grid_patrol/api/``, photos.

Roles are checked on the server: the host lets a ``field`` user reach only the routes that name the
role (``scoped_roles``), and here a field user acts on the grid of its scope only (``grid:<id>``);
anything else answers 403 and is written to the audit log (``access.refused``). Managers act on every
grid; viewers may read. Bad input answers 400 with ``{"error", "field"}`` and stores nothing.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import flask

from core.api import PHOTO_HEADERS, PHOTO_MIME_BY_EXT, RouteSpec, current_identity

from . import evacuation
from .model import CATEGORIES, GRID_TYPES, LEVELS, PLUGIN, checklists, day_start, load_twin
from .photos import PHOTOS
from .reports import FieldError, Forbidden, Limits, Who, reports, submit_checkin, submit_report

log = logging.getLogger(__name__)
PAGE = Path(__file__).with_name("patrol.html")
#: the plugin's shared state (the bus it got in on_startup), set by bind()
_shared: dict[str, Any] = {}


def bind(state: dict[str, Any]) -> None:
    """Share the plugin's state (the bus from on_startup) with the routes."""
    global _shared
    _shared = state


def _host() -> Any:
    return flask.current_app.config["TWINBOARD_HOST"]


def _settings() -> Any:
    return _host().plugins.records[PLUGIN].settings


def _photos_root() -> Path:
    host = _host()
    return Path(host.settings.path(host.settings.var_dir)) / _settings().photos_subdir


def _limits() -> Limits:
    s = _settings()
    return Limits(s.photo_max_bytes, s.photo_max_pixels, s.checkin_max_m)


def _refuse(reason: str) -> Any:
    ident = current_identity()
    _host().store.audit(ident.get("user") or "?", "access.refused", f"path:{flask.request.path}"[:256], None,
                        {"role": ident.get("role"), "scope": ident.get("scope"), "reason": reason})
    return flask.jsonify({"error": reason}), 403


def _who() -> Who | None:
    """The signed-in person as a Who; None for a field user whose scope is not a known grid."""
    ident = current_identity()
    role = ident.get("role")
    user = ident.get("user") or ("kiosk" if ident.get("kiosk") else "anonymous")
    if role == "field":
        scope = str(ident.get("scope") or "")
        kind, _, gid = scope.partition(":")
        if kind != "grid" or gid not in load_twin(_host().store).grids:
            return None
        return Who(user, role, gid)
    return Who(user, role, None)


def _bus() -> Any:
    return _shared.get("bus")


def _form() -> dict[str, Any]:
    if flask.request.is_json:
        body = flask.request.get_json(silent=True)
        if not isinstance(body, dict):
            raise FieldError("body", "expected a JSON object")
        return body
    return {k: v for k, v in flask.request.form.items()}


def _photo_bytes(limit: int) -> bytes | None:
    """The uploaded photo's bytes (at most ``limit + 1``: enough to say it is too big), None without one."""
    f = flask.request.files.get("photo")
    return (f.read(limit + 1) or None) if f is not None else None


def _call(fn: Any, *args: Any, created: int = 201) -> Any:
    who = _who()
    if who is None:
        return _refuse("your account's grid is not in the twin; ask a manager")
    try:
        out = fn(who, *args)
    except Forbidden as exc:
        return _refuse(str(exc))
    except FieldError as exc:
        return flask.jsonify({"error": str(exc), "field": exc.field}), 400
    return flask.jsonify(out), (200 if out.get("duplicate") else created)


# -- views -------------------------------------------------------------------------------------------
def page() -> Any:
    """The phone page (HTML, CSS and JS in one file: one request on a weak network)."""
    lang = "en" if flask.request.args.get("lang") == "en" else "zh"
    html = PAGE.read_text(encoding="utf-8").replace("__LANG__", lang)
    resp = flask.Response(html, mimetype="text/html; charset=utf-8")
    resp.headers["Cache-Control"] = "no-cache"
    resp.headers["Content-Security-Policy"] = ("default-src 'self'; img-src 'self' blob: data:; "
                                               "style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'; "
                                               "connect-src 'self'; frame-ancestors 'none'")
    return resp


def me() -> Any:
    """What the phone needs: the person, the grid (a manager may pick one), its points, check-list, tasks."""
    who = _who()
    if who is None:
        return _refuse("your account's grid is not in the twin; ask a manager")
    store = _host().store
    twin = load_twin(store)
    want = flask.request.args.get("grid") or who.grid
    if want and not who.may(want):
        return _refuse(f"{who.user} may see grid {who.grid} only")
    grid = twin.grids.get(want or "") or (next(iter(twin.grids.values())) if who.grid is None and twin.grids else None)
    if grid is None:
        return flask.jsonify({"error": f"no grid {want!r}", "field": "grid"}), 404
    seen = {lv.entity_id: lv.ts for lv in store.latest(entity_ids=list(grid.points), metric="visited")}
    d0 = day_start(_now())
    items = checklists()[grid.type]
    tasks = [evacuation.as_dict(t) for t in evacuation.tasks(store, grid=grid.id, open_only=True)]
    mine = [{"id": r.id, "title": r.name, "ts": r.properties.get("ts"), "level": r.properties.get("level"),
             "photos": r.properties.get("photos", [])} for r in reports(store, grid=grid.id)[:5]]
    out = {"user": who.user, "role": who.role, "fixed_grid": who.grid is not None,
           "grid": {"id": grid.id, "name": grid.name, "name_en": grid.name_en, "town": grid.town_zh,
                    "type": grid.type, "type_zh": GRID_TYPES[grid.type][0], "type_en": GRID_TYPES[grid.type][1],
                    "office": list(grid.office),
                    "worker": twin.workers[grid.workers[0]].name if grid.workers and grid.workers[0] in twin.workers else ""},
           "points": [{"id": p.id, "no": p.no, "name": p.name, "name_en": p.name_en, "category": p.category,
                       "enterprise": p.enterprise, "lon": p.lon, "lat": p.lat,
                       "visited_today": seen.get(p.id, 0) >= d0, "last_visit": seen.get(p.id)}
                      for p in twin.grid_points(grid.id)],
           "checklist": [i.model_dump() for i in items],
           "categories": [{"key": k, "zh": v[0], "en": v[1]} for k, v in CATEGORIES.items()],
           "levels": [{"key": k, "zh": v[0], "en": v[1]} for k, v in LEVELS.items()],
           "tasks": tasks, "reports": mine,
           "limits": {"photo_max_bytes": _settings().photo_max_bytes}}
    if who.grid is None:
        out["grids"] = [{"id": g.id, "name": g.name, "name_en": g.name_en} for g in twin.grids.values()]
    return flask.jsonify(out)


def _now() -> float:
    return time.time()


def post_checkin() -> Any:
    limits = _limits()
    try:
        form, photo = _form(), _photo_bytes(limits.photo_max_bytes)
    except FieldError as exc:
        return flask.jsonify({"error": str(exc), "field": exc.field}), 400
    return _call(lambda who: submit_checkin(_host().store, _bus(), load_twin(_host().store), who, form, photo,
                                            _photos_root(), limits))


def post_report() -> Any:
    limits = _limits()
    try:
        form, photo = _form(), _photo_bytes(limits.photo_max_bytes)
    except FieldError as exc:
        return flask.jsonify({"error": str(exc), "field": exc.field}), 400
    return _call(lambda who: submit_report(_host().store, _bus(), load_twin(_host().store), who, form, photo,
                                           _photos_root(), limits))


def get_report(report_id: str) -> Any:
    """One report: stored, and which enterprise-park hazard (``inspection``) took it in, if any."""
    who = _who()
    if who is None:
        return _refuse("your account's grid is not in the twin; ask a manager")
    store = _host().store
    e = store.entity(report_id)
    if e is None or e.kind != "patrol_report":
        return flask.jsonify({"error": f"no report {report_id!r}"}), 404
    if not who.may(e.properties.get("grid", "")):
        return _refuse(f"{who.user} may see grid {who.grid} only")
    loop = [i.id for i in store.entities(kind="inspection", where={"ref": report_id})]
    return flask.jsonify({"id": e.id, "title": e.name, **{k: e.properties.get(k) for k in
                          ("grid", "category", "level", "ts", "photos", "enterprise", "alerted")}, "loop": loop})


def post_confirm(task_id: str) -> Any:
    try:
        form = _form()
    except FieldError as exc:
        return flask.jsonify({"error": str(exc), "field": exc.field}), 400
    return _call(lambda who: evacuation.confirm(_host().store, _bus(), load_twin(_host().store), who, task_id, form),
                 created=200)


def post_push() -> Any:
    try:
        form = _form()
    except FieldError as exc:
        return flask.jsonify({"error": str(exc), "field": exc.field}), 400
    return _call(lambda who: evacuation.push_by_manager(_host().store, load_twin(_host().store), who, form))


def photo(grid_id: str, name: str) -> Any:
    """A stored photo, with headers that keep a browser from running or sniffing it."""
    who = _who()
    if who is None or not who.may(grid_id):
        return _refuse("this photo belongs to another grid")
    path = PHOTOS.path(_photos_root(), grid_id, name)
    if path is None:
        flask.abort(404)
    resp = flask.send_file(path, mimetype=PHOTO_MIME_BY_EXT[name.rsplit(".", 1)[1]], max_age=86400,
                           conditional=True, download_name=name)
    resp.headers["Content-Disposition"] = f"inline; filename={name}"
    resp.headers.update(PHOTO_HEADERS)
    return resp


def specs(settings: Any) -> list[RouteSpec]:
    upload = int(settings.photo_max_bytes) + 512 * 1024
    field = ("field",)
    return [
        RouteSpec("patrol", page, endpoint="gp_page", role="viewer", scoped_roles=field, mobile=True),
        RouteSpec("api/me", me, endpoint="gp_me", role="viewer", scoped_roles=field),
        RouteSpec("api/checkins", post_checkin, methods=("POST",), endpoint="gp_checkin", role="manager",
                  scoped_roles=field, max_bytes=upload),
        RouteSpec("api/reports", post_report, methods=("POST",), endpoint="gp_report", role="manager",
                  scoped_roles=field, max_bytes=upload),
        RouteSpec("api/reports/<report_id>", get_report, endpoint="gp_report_get", role="viewer", scoped_roles=field),
        RouteSpec("api/evacuations/<task_id>/confirm", post_confirm, methods=("POST",), endpoint="gp_confirm",
                  role="manager", scoped_roles=field),
        RouteSpec("api/evacuations", post_push, methods=("POST",), endpoint="gp_push", role="manager"),
        RouteSpec("photos/<grid_id>/<name>", photo, endpoint="gp_photo", role="viewer", scoped_roles=field),
    ]

