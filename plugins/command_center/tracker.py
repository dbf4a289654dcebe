"""The team tracker: dispatched teams move along their road route, arrivals are recorded on the
incident's timeline; teams released at closure drive home; RFID scans report each store's stock.

In production the positions come from the teams' GPS terminals; in the demo they follow the route
computed at dispatch, ``speedup`` times faster than the road speeds.

A drill's teams never move in the live twin: they travel on the drill's incident (its ``dispatches``),
where :func:`drill_teams` places them and the tracker records their arrivals; shelters fill for real
incidents only. So a drill changes no live figure.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Iterable

from core.api import Entity, Incident, Reading, SourceContext
from sqlmodel import select


from . import incidents
from .places import TEAM_KINDS, entities_of
from .settings import CommandSettings

EVACUATING = ("typhoon", "flood", "chemical_leak")


def position_on(route: list[list[float]], cum: list[float], t: float) -> list[float]:
    """Where a team is ``t`` seconds after leaving along ``route`` (cumulative seconds ``cum``)."""
    if not route:
        raise ValueError("empty route")
    if t <= 0 or len(route) == 1:
        return list(route[0])
    if t >= cum[-1]:
        return list(route[-1])
    i = bisect.bisect_right(cum, t) - 1
    span = cum[i + 1] - cum[i]
    f = 0.0 if span <= 0 else (t - cum[i]) / span
    a, b = route[i], route[i + 1]
    return [a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f]


def drill_teams(inc: Incident, speedup: float, now: float | None = None) -> list[dict]:
    """A drill's dispatched teams: {"id", "name", "position", "status", "due"} where the drill has them now.

    ``due``: the team has reached the scene by the demo clock (``speedup`` times the road speeds) and
    its arrival is not recorded yet.
    """
    now = time.time() if now is None else now
    arrived = {a["id"] for a in inc.properties.get("arrivals", [])}
    out = []
    for d in inc.properties.get("dispatches", []):
        route, cum = d.get("route") or [], d.get("cum") or []
        if not route:
            continue
        if len(cum) != len(route):
            cum = [0.0] * (len(route) - 1) + [float(d.get("eta_s") or 0.0)]
        elapsed = (now - float(d.get("at") or now)) * speedup
        there = d["id"] in arrived or inc.state == "closed" or elapsed >= cum[-1]
        out.append({"id": d["id"], "name": d.get("name", d["id"]), "route": route,
                    "position": list(route[-1]) if there else position_on(route, cum, elapsed),
                    "status": "on_scene" if there else "dispatched",
                    "due": there and d["id"] not in arrived and inc.state != "closed"})
    return out


class TeamTracker:
    def __init__(self, settings: CommandSettings) -> None:
        self.s = settings
        self.last_scan = 0.0
        self.occupancy: dict[str, float] = {}

    def poll(self, ctx: SourceContext) -> Iterable[Reading]:
        now = time.time()
        out: list[Reading] = []
        arrivals: list[tuple[int, str]] = []
        counts = {"standby": 0, "dispatched": 0, "on_scene": 0, "returning": 0}
        with ctx.store.session() as db:
            for kind in TEAM_KINDS:
                for ent in db.scalars(select(Entity).where(Entity.kind == kind)).all():
                    p = dict(ent.properties)
                    status = p.get("status", "standby")
                    elapsed = (now - float(p.get("departed_at") or now)) * self.s.speedup
                    if status == "dispatched" and p.get("route"):
                        pos = position_on(p["route"], p.get("cum") or [0.0] * len(p["route"]), elapsed)
                        ent.geometry = {"type": "Point", "coordinates": pos}
                        if elapsed >= (p.get("cum") or [0.0])[-1] and p.get("incident_id") is not None:
                            arrivals.append((int(p["incident_id"]), ent.id))
                        db.add(ent)
                    elif status == "returning":
                        home = p.get("home") or ent.geometry
                        back = float(p.get("returning_since") or now)
                        if "returning_since" not in p:
                            p["returning_since"] = now
                        if (now - back) * self.s.speedup >= float(p.get("eta_s") or 0):
                            ent.geometry = home
                            for k in ("incident_id", "route", "cum", "departed_at", "eta_s", "arrived_at",
                                      "returning_since", "returned_from"):
                                p.pop(k, None)
                            p["status"] = "standby"
                        ent.properties = p
                        db.add(ent)
            db.commit()
        open_incidents = incidents.incidents(ctx.store, open_only=True, limit=50)
        for inc in open_incidents:
            if inc.is_drill:
                arrivals += [(inc.id, t["id"]) for t in drill_teams(inc, self.s.speedup, now) if t["due"]]
        for incident_id, team in arrivals:
            try:
                incidents.arrive(ctx.store, incident_id, team)
            except incidents.IncidentError:
                pass  # already recorded by a person, or the incident was closed meanwhile
        for ent in entities_of(ctx.store, TEAM_KINDS):
            st = ent.properties.get("status", "standby")
            counts[st if st in counts else "standby"] += 1
        out += [Reading("cc.district", f"teams_{k}", now, float(v)) for k, v in counts.items()]
        # Shelters fill while a (real) evacuation-type incident is open (demo; in production: gate counters).
        evacuating = any(i.kind in EVACUATING and not i.is_drill for i in open_incidents)
        for sh in entities_of(ctx.store, ("emergency_shelter",)):
            cap = float(sh.properties.get("capacity", 0) or 0)
            cur = self.occupancy.get(sh.id, 0.0)
            cur += ((0.3 * cap if evacuating else 0.0) - cur) * min(1.0, 0.02 * self.s.speedup * self.s.interval_s / 2)
            self.occupancy[sh.id] = cur
            out.append(Reading(sh.id, "occupancy", now, float(round(cur)), "人"))
        if now - self.last_scan >= self.s.rfid_scan_s:
            self.last_scan = now
            for depot in entities_of(ctx.store, ("material_depot",)):
                for item in depot.properties.get("items", []):
                    out.append(Reading(depot.id, f"stock.{item['sku']}", now, float(item.get("count", 0)),
                                       str(item.get("unit", ""))))
        return out
