"""Which teams can arrive soonest, and their routes: the bridge between the road graph and the workflow."""

from __future__ import annotations

from typing import Any

from core.api import Entity, Incident, Store

from . import incidents
from .circle import soonest
from .incidents import IncidentError, point_of
from .places import TEAM_KINDS, entities_of, place
from .roads import RoadError, RoadNetwork


def candidates(store: Store, net: RoadNetwork, inc: Incident) -> list[dict[str, Any]]:
    """Every team with its ETA to the incident and whether it is free, soonest first.

    For a drill, a team the drill sent shows its drill status (出动/到场) and is not free for the drill again;
    its live status is untouched (incidents.dispatch).
    """
    pt = point_of(inc.geometry)
    if pt is None:
        raise IncidentError(f"incident #{inc.id} has no location")
    teams = entities_of(store, TEAM_KINDS)
    by_id = {e.id: e for e in teams}
    try:
        ranked = soonest(net, pt[0], pt[1], [place(e) for e in teams], what=f"incident #{inc.id}")
    except RoadError as exc:
        raise IncidentError(str(exc)) from None
    in_drill = {d["id"]: "dispatched" for d in inc.properties.get("dispatches", [])} if inc.is_drill else {}
    in_drill.update({a["id"]: "on_scene" for a in inc.properties.get("arrivals", [])} if inc.is_drill else {})
    out = []
    for r in ranked:
        e = by_id[r["team"].id]
        status = in_drill.get(e.id) or e.properties.get("status", "standby")
        out.append({"id": e.id, "name": e.name, "name_en": e.name_en, "kind": e.kind,
                    "size": e.properties.get("size"), "speciality": e.properties.get("speciality_zh", ""),
                    "status": status, "eta_s": r["eta_s"], "error": r["error"],
                    "available": status in ("standby",) and r["eta_s"] is not None})
    return out


def plan(store: Store, net: RoadNetwork, inc: Incident, team_ids: list[str]) -> list[dict[str, Any]]:
    """Route and ETA for each chosen team (RoadError → IncidentError with the reason)."""
    pt = point_of(inc.geometry)
    if pt is None:
        raise IncidentError(f"incident #{inc.id} has no location")
    try:
        dest = net.snap(pt[0], pt[1], what=f"incident #{inc.id}")
    except RoadError as exc:
        raise IncidentError(str(exc)) from None
    out = []
    for tid in team_ids:
        with store.session() as db:
            e = db.get(Entity, tid)
        if e is None or e.kind not in TEAM_KINDS:
            raise IncidentError(f"no team {tid!r}")
        p = point_of(e.geometry)
        try:
            src = net.snap(p[0] if p else None, p[1] if p else None, what=f"team {tid}")
            route, cum = net.route(src.index, dest.index)
        except RoadError as exc:
            raise IncidentError(f"{e.name}: {exc}") from None
        route = [list(p)] + route + [[pt[0], pt[1]]]
        cum = [0.0] + [c + src.access_s for c in cum] + [cum[-1] + src.access_s + dest.access_s]
        out.append({"id": tid, "name": e.name, "eta_s": cum[-1], "route": route, "cum": cum})
    return out


def dispatch_soonest(store: Store, net: RoadNetwork, incident_id: int, actor: str, count: int = 2,
                     materials: list[dict[str, Any]] | None = None, bus: Any = None) -> Incident:
    """Dispatch the ``count`` free teams that can arrive soonest (used by drills and quick dispatch)."""
    inc = incidents.get(store, incident_id)
    free = [c["id"] for c in candidates(store, net, inc) if c["available"]][:count]
    if not free:
        raise IncidentError("no free team can reach the incident")
    return incidents.dispatch(store, incident_id, actor, plan(store, net, inc, free), materials or [], bus=bus)
