"""The command centre's routes (under ``/plugins/command_center/``): the duty console for managers,
and a JSON API for the same steps. Every state change needs the manager role (checked by the host)
and the CSRF token; forms get a redirect back to the console with the result, JSON gets JSON.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import flask

from core.api import RouteSpec, WallModeError, current_identity, set_wall_mode, wall_state

from . import incidents, press_routes, publish
from .dispatching import candidates, plan
from .drills import DrillRun, load_drills
from .panels import STATUS
from .places import LAYERS, entities_of, road_network
from .report import ReportError, write_report

TEMPLATE = Path(__file__).with_name("console.html")
CONSOLE = "/plugins/command_center/console"
DRILLS_FILE = Path(__file__).resolve().parents[2] / "twin_models" / "command_center" / "drills.yaml"
_runs: dict[str, DrillRun] = {}
_runs_lock = threading.Lock()


def _host() -> Any:
    return flask.current_app.config["TWINBOARD_HOST"]


def _settings() -> Any:
    return _host().plugins.records["command_center"].settings


def _actor() -> str:
    return current_identity().get("user") or "manager"


def _is_form() -> bool:
    """A console form post (answered with a redirect); anything else is the JSON API."""
    return flask.request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data")


def _body() -> dict[str, Any]:
    if not _is_form():
        if not flask.request.get_data():
            return {}
        body = flask.request.get_json(silent=True)
        if not isinstance(body, dict):
            flask.abort(flask.make_response(flask.jsonify({"error": "expected a JSON object"}), 400))
        return body
    form = flask.request.form
    out: dict[str, Any] = {k: form.get(k) for k in form}
    for multi in ("teams", "groups"):
        if multi in form:
            out[multi] = form.getlist(multi)
    return out


def _done(result: dict[str, Any], message: str) -> Any:
    if _is_form():
        flask.flash(message, "ok")
        return flask.redirect(CONSOLE + ("?lang=en" if flask.request.args.get("lang") == "en" else ""))
    return flask.jsonify(result)


def _fail(error: str, status: int = 400) -> Any:
    if _is_form():
        flask.flash(error, "error")
        return flask.redirect(CONSOLE + ("?lang=en" if flask.request.args.get("lang") == "en" else ""))
    return flask.jsonify({"error": error}), status


def _int(body: dict[str, Any], key: str, default: int | None = None) -> int | None:
    v = body.get(key, default)
    if v in (None, ""):
        return default
    try:
        return int(v)
    except (TypeError, ValueError):
        raise incidents.IncidentError(f"{key} must be an integer, got {v!r}") from None


def _incident_json(inc: Any) -> dict[str, Any]:
    return {"id": inc.id, "title": inc.title, "kind": inc.kind, "severity": inc.severity, "state": inc.state,
            "is_drill": inc.is_drill, "geometry": inc.geometry, "opened_at": inc.opened_at,
            "closed_at": inc.closed_at, "properties": {k: v for k, v in inc.properties.items() if k != "dispatches"},
            "dispatches": [{k: v for k, v in d.items() if k != "route"} for d in inc.properties.get("dispatches", [])]}


# -- console -----------------------------------------------------------------------------------------
def console() -> Any:
    host = _host()
    store = host.store
    lang = "en" if flask.request.args.get("lang") == "en" else "zh"
    incs = incidents.incidents(store, limit=30)
    detail: dict[int, Any] = {}
    skipped: dict[int, list[str]] = {}  # steps skipped so far: closing then asks for a reason
    for inc in incs:
        if inc.state != "closed":
            if inc.severity in incidents.REASON_LEVELS:
                skipped[inc.id] = [incidents.STATE_TEXT[s][0 if lang == "zh" else 1]
                                   for s in incidents.skipped_steps(inc, incidents.timeline(store, inc.id))]
            try:
                detail[inc.id] = candidates(store, road_network(_settings().road_spacing_m), inc)[:8]
            except incidents.IncidentError as exc:
                detail[inc.id] = [{"error": str(exc)}]
    depots = [(d, it) for d in entities_of(store, ("material_depot",)) for it in d.properties.get("items", [])]
    with _runs_lock:
        runs = {k: {"done": r.done.is_set(), "error": r.error, "incident": r.incident_id, "log": r.log[-3:]}
                for k, r in _runs.items()}
    try:
        drills = load_drills(DRILLS_FILE)
    except Exception as exc:  # noqa: BLE001 - a broken drills file is shown, the console still works
        drills, runs["_error"] = {}, {"error": str(exc)}
    alerts = store.alerts(limit=30)
    areas = entities_of(store, ("town", "village", "sme_park"))
    return flask.render_template_string(
        TEMPLATE.read_text(encoding="utf-8"), t=lambda m: host.translator.gettext(m, lang), lang=lang,
        identity=current_identity(), incidents=incs, candidates=detail, skipped=skipped, kinds=incidents.KINDS,
        states=incidents.STATE_TEXT, labels={**incidents.STATE_TEXT, **incidents.EVENT_TEXT},
        status={k: v[:2] for k, v in STATUS.items()}, depots=depots, drills=drills, runs=runs, alerts=alerts,
        pubs=publish.publications(store, 15), levels=publish.LEVELS, groups=publish.GROUPS, areas=areas,
        wall=wall_state(store, _settings().wall), fmt=lambda ts: time.strftime("%m-%d %H:%M:%S", time.localtime(ts))
        if ts else "–", timeline=lambda i: incidents.timeline(store, i))


# -- incidents ---------------------------------------------------------------------------------------
def intake() -> Any:
    b = _body()
    try:
        inc = incidents.open_incident(
            _host().store, _actor(), kind=str(b.get("kind") or ""), title=str(b.get("title") or ""),
            lon=b.get("lon"), lat=b.get("lat"), entity_id=b.get("entity_id") or None,
            reporter=str(b.get("reporter") or ""), phone=str(b.get("phone") or ""),
            description=str(b.get("description") or ""), place=str(b.get("place") or ""),
            severity=_int(b, "severity", 4), is_drill=str(b.get("is_drill", "")).lower() in ("1", "true", "on"))
    except incidents.IncidentError as exc:
        return _fail(str(exc))
    if str(b.get("switch_wall", "")).lower() in ("1", "true", "on"):
        set_wall_mode(_host().store, _host().bus, "incident", _actor(), inc.id, _settings().wall)
    return _done(_incident_json(inc), f"#{inc.id} {inc.title}")


def from_alert(alert_id: int) -> Any:
    try:
        inc = incidents.open_from_alert(_host().store, alert_id, _actor())
    except incidents.IncidentError as exc:
        return _fail(str(exc))
    return _done(_incident_json(inc), f"#{inc.id} {inc.title}")


def show(incident_id: int) -> Any:
    try:
        inc = incidents.get(_host().store, incident_id)
    except incidents.IncidentError as exc:
        return flask.jsonify({"error": str(exc)}), 404
    events = incidents.timeline(_host().store, incident_id)
    return flask.jsonify({**_incident_json(inc), "response_times": incidents.response_times(inc, events),
                          "timeline": [{"ts": e.ts, "actor": e.actor, "kind": e.kind, "message": e.message,
                                        "data": e.data} for e in events]})


def team_candidates(incident_id: int) -> Any:
    try:
        inc = incidents.get(_host().store, incident_id)
        return flask.jsonify(candidates(_host().store, road_network(_settings().road_spacing_m), inc))
    except incidents.IncidentError as exc:
        return flask.jsonify({"error": str(exc)}), 400


def step(incident_id: int, action: str) -> Any:
    store, actor, b = _host().store, _actor(), _body()
    try:
        if action == "assess":
            inc = incidents.assess(store, incident_id, actor, _int(b, "severity", 0), str(b.get("text") or ""))
        elif action == "message":
            incidents.message(store, incident_id, actor, str(b.get("text") or ""))
            inc = incidents.get(store, incident_id)
        elif action == "handle":
            inc = incidents.handle(store, incident_id, actor, str(b.get("text") or ""))
        elif action == "close":
            inc = incidents.close(store, incident_id, actor, str(b.get("text") or ""), str(b.get("reason") or ""))
        elif action == "arrive":
            inc = incidents.arrive(store, incident_id, str(b.get("team") or ""), actor)
        elif action == "dispatch":
            teams = b.get("teams") or []
            if isinstance(teams, str):
                teams = [teams]
            mats = b.get("materials") or []
            if b.get("material"):
                depot, _, sku = str(b["material"]).partition("/")
                mats = [{"depot": depot, "sku": sku, "count": _int(b, "count", 0)}]
            base = incidents.get(store, incident_id)
            routed = plan(store, road_network(_settings().road_spacing_m), base, [str(t) for t in teams])
            inc = incidents.dispatch(store, incident_id, actor, routed, mats, bus=_host().bus)
        else:
            return _fail(f"unknown step {action!r} (assess, dispatch, arrive, message, handle, close)", 404)
    except incidents.IncidentError as exc:
        return _fail(str(exc))
    return _done(_incident_json(inc), f"#{incident_id}: {action} ✓")


def make_report(incident_id: int) -> Any:
    try:
        paths = write_report(_host().store, incident_id, road_network(_settings().road_spacing_m),
                             Path(_settings().reports_dir), _actor(), speedup=_settings().speedup)
    except (ReportError, incidents.IncidentError) as exc:
        return _fail(str(exc), 409)
    return _done({k: f"/plugins/command_center/incidents/{incident_id}/report.{k}" for k in paths},
                 f"#{incident_id}: report ✓")


def get_report(incident_id: int, fmt: str) -> Any:
    if fmt not in ("html", "pdf"):
        return flask.jsonify({"error": "format must be html or pdf"}), 404
    inc = incidents.get(_host().store, incident_id) if _exists(incident_id) else None
    rep = (inc.properties.get("report") or {}) if inc else {}
    path = Path(rep.get(fmt, "")) if rep.get(fmt) else None
    if path is None or not path.exists():
        state = inc.state if inc else "unknown"
        return flask.jsonify({"error": f"incident #{incident_id} has no {fmt} report yet (state: {state})"}), 404
    return flask.send_file(path.resolve(), mimetype="application/pdf" if fmt == "pdf" else "text/html",
                           download_name=f"incident-{incident_id}.{fmt}")


def _exists(incident_id: int) -> bool:
    try:
        incidents.get(_host().store, incident_id)
        return True
    except incidents.IncidentError:
        return False


# -- warnings ----------------------------------------------------------------------------------------
def warning_draft() -> Any:
    b = _body()
    groups = b.get("groups") or []
    if isinstance(groups, str):
        groups = [groups]
    area = b.get("area") if isinstance(b.get("area"), dict) else None
    try:
        if b.get("center_lon") not in (None, "") and b.get("radius_km") not in (None, ""):
            try:
                lon, lat, radius = float(b["center_lon"]), float(b.get("center_lat")), float(b["radius_km"])
            except (TypeError, ValueError):
                raise publish.PublicationError("area: centre lon/lat and radius (km) must be numbers") from None
            if not (0 < radius <= 50 and -180 <= lon <= 180 and -90 <= lat <= 90):
                raise publish.PublicationError("area: radius must be 0..50 km around a valid lon/lat")
            area, b["area_entity"] = publish.circle_area((lon, lat), radius * 1000), None
        pub = publish.draft(_host().store, _actor(), level=str(b.get("level") or ""), title=str(b.get("title") or ""),
                            message=str(b.get("message") or ""), groups=list(groups), area=area,
                            area_entity=b.get("area_entity") or None, incident_id=_int(b, "incident_id"),
                            is_drill=str(b.get("is_drill", "")).lower() in ("1", "true", "on"))
    except (publish.PublicationError, incidents.IncidentError) as exc:
        return _fail(str(exc))
    return _done(pub.model_dump(), f"#{pub.id}: {len(pub.recipients)} recipients")


def warning_step(pub_id: int, action: str) -> Any:
    store = _host().store
    try:
        if action == "review":
            pub = publish.review(store, pub_id, _actor(), approve=str(_body().get("approve", "1")) not in ("0", "false"))
        elif action == "publish":
            pub = publish.publish(store, pub_id, _actor(), publish.installed_channels(Path(_settings().outbox)))
            if pub.incident_id:
                try:
                    incidents.note_warning(store, pub.incident_id, _actor(), pub.id,
                                           f"{publish.LEVELS[pub.level][0]} #{pub.id} 已发布至 {len(pub.recipients)} 个对象",
                                           f"{publish.LEVELS[pub.level][1]} warning #{pub.id} published to "
                                           f"{len(pub.recipients)} recipients")
                except incidents.IncidentError:
                    pass
        else:
            return _fail(f"unknown step {action!r} (review, publish)", 404)
    except publish.PublicationError as exc:
        return _fail(str(exc))
    return _done(pub.model_dump(), f"warning #{pub_id}: {action} ✓")


# -- drills, wall --------------------------------------------------------------------------------------
def start_drill(drill_id: str) -> Any:
    b = _body()
    try:
        drills = load_drills(DRILLS_FILE)
    except Exception as exc:  # noqa: BLE001
        return _fail(f"drills file: {exc}", 500)
    if drill_id not in drills:
        return _fail(f"no drill {drill_id!r} (known: {', '.join(drills)})", 404)
    try:
        speed = float(b.get("speed") or 1.0)
    except ValueError:
        return _fail("speed must be a number")
    with _runs_lock:
        running = _runs.get(drill_id)
        if running is not None and not running.done.is_set():
            return _fail(f"drill {drill_id} is already running (incident #{running.incident_id})", 409)
        run = DrillRun(drills[drill_id], _host(), road_network(_settings().road_spacing_m), _settings(),
                       speed=min(max(speed, 0.1), 100.0))
        _runs[drill_id] = run.start()
    return _done({"drill": drill_id, "started": True}, f"drill {drill_id} started")


def drill_status(drill_id: str) -> Any:
    with _runs_lock:
        run = _runs.get(drill_id)
    if run is None:
        return flask.jsonify({"error": f"drill {drill_id} has not run"}), 404
    return flask.jsonify({"drill": drill_id, "done": run.done.is_set(), "error": run.error,
                          "incident_id": run.incident_id, "log": run.log, "report": run.report})


def wall_mode() -> Any:
    b = _body()
    try:
        state = set_wall_mode(_host().store, _host().bus, str(b.get("mode") or ""), _actor(),
                              _int(b, "incident_id"), _settings().wall)
    except (WallModeError, incidents.IncidentError) as exc:
        return _fail(str(exc))
    return _done(state, f"wall: {state['mode']}")


def layers() -> Any:
    return flask.jsonify({k: {"zh": v[1], "en": v[2], "kinds": list(v[0])} for k, v in LAYERS.items()})


def routes() -> list[RouteSpec]:
    m = "manager"
    return [
        RouteSpec("console", console, role=m),
        RouteSpec("incidents", intake, methods=("POST",), role=m),
        RouteSpec("alerts/<int:alert_id>/incident", from_alert, methods=("POST",), role=m),
        RouteSpec("incidents/<int:incident_id>", show, role="viewer"),
        RouteSpec("incidents/<int:incident_id>/candidates", team_candidates, role="viewer"),
        RouteSpec("incidents/<int:incident_id>/report", make_report, methods=("POST",), role=m),
        RouteSpec("incidents/<int:incident_id>/report.<fmt>", get_report, role="viewer"),
        RouteSpec("incidents/<int:incident_id>/<action>", step, methods=("POST",), role=m),
        RouteSpec("warnings", warning_draft, methods=("POST",), role=m),
        RouteSpec("warnings/<int:pub_id>/<action>", warning_step, methods=("POST",), role=m),
        RouteSpec("drills/<drill_id>/start", start_drill, methods=("POST",), role=m),
        RouteSpec("drills/<drill_id>", drill_status, role="viewer"),
        RouteSpec("wall", wall_mode, methods=("POST",), role=m),
        RouteSpec("layers", layers),
    ] + press_routes.routes()  # press releases: the managers' page and the public /press (press_routes.py)
