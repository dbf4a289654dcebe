"""The 15-minute rapid response circle (15分钟快速响应救援圈): who can be reached from a station in time.

For every station (micro rescue stations, fire stations, professional teams at home) the travel
time over the road graph to every node is bounded at the circle's minutes; a node is covered when
some station reaches it in time (off-road approach from the station to its nearest road node
included). Targets — risk points, enterprises, hazard sources, villages with their people — are
snapped to their nearest node and covered when ``station time + their own off-road approach`` is
within the limit. A station that cannot use the graph (too far from a road, on a cut-off piece) is
reported with the reason and left out, never counted silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from scipy.sparse.csgraph import dijkstra

from .roads import RoadError, RoadNetwork


@dataclass(frozen=True)
class Place:
    """A station or a target on the map."""

    id: str
    name: str
    kind: str
    lon: float | None
    lat: float | None
    people: int = 0


@dataclass
class StationArea:
    """One station's travel-time area."""

    station: Place
    reached: int = 0
    polygon: list[list[float]] | None = None
    error: str | None = None


@dataclass
class TargetCover:
    """One target: the best station, its time, whether it is inside the circle."""

    target: Place
    best_s: float | None
    station_id: str | None
    covered: bool
    error: str | None = None


@dataclass
class CircleResult:
    minutes: float
    areas: list[StationArea]
    targets: list[TargetCover]
    node_best_s: np.ndarray
    shares: dict[str, float | None] = field(default_factory=dict)

    @property
    def gaps(self) -> list[TargetCover]:
        return [t for t in self.targets if not t.covered]

    @property
    def problems(self) -> list[str]:
        return ([f"{a.station.name}: {a.error}" for a in self.areas if a.error]
                + [f"{t.target.name}: {t.error}" for t in self.targets if t.error])


TARGET_GROUPS = {"risk_points": ("risk_point", "hazard_source"),
                 "enterprises": ("enterprise", "sme_enterprise")}


def station_areas(net: RoadNetwork, stations: list[Place], minutes: float = 15.0,
                  polygons: bool = True) -> tuple[list[StationArea], np.ndarray, np.ndarray]:
    """Each station's area; returns (areas, best seconds per node, index of the best station per node).

    One multi-source search (scipy's compiled Dijkstra, ``min_only``) over the graph extended by
    one virtual node per station, linked to its nearest road node by the station's off-road time.
    A station's area is the set of nodes it reaches first within the limit: its response district
    (areas do not overlap; their union is the circle). :func:`station_isochrone` gives one
    station's full, overlapping isochrone when a person asks for it.
    """
    limit = minutes * 60.0
    areas, snaps = [], []
    for st in stations:
        area = StationArea(st)
        try:
            snap = net.snap(st.lon, st.lat, what=f"station {st.id}")
            net.check_connected(snap, f"station {st.id}")
            if snap.access_s >= limit:
                raise RoadError(f"station {st.id} needs {snap.access_s / 60:.0f} min just to reach a road")
        except RoadError as exc:
            area.error = str(exc)
            areas.append(area)
            continue
        areas.append(area)
        snaps.append((len(areas) - 1, snap))
    n = len(net.nodes)
    best = np.full(n, np.inf)
    who = np.full(n, -1)
    if not snaps:
        return areas, best, who
    graph = net.with_virtual_sources([(s.index, s.access_s) for _, s in snaps])
    dist, _, src = dijkstra(graph, directed=False, indices=np.arange(n, n + len(snaps)), limit=limit,
                            min_only=True, return_predecessors=True)
    best = dist[:n]
    station_of_virtual = np.array([i for i, _ in snaps])
    who = np.where(np.isfinite(best), station_of_virtual[np.clip(src[:n] - n, 0, len(snaps) - 1)], -1)
    order = np.argsort(who, kind="stable")
    bounds = np.searchsorted(who[order], np.arange(-1, len(areas) + 1))
    for i, _ in snaps:
        members = order[bounds[i + 1]:bounds[i + 2]]
        areas[i].reached = int(members.size)
        if polygons and members.size >= 3:
            hull = shapely.concave_hull(shapely.multipoints(np.column_stack([net.lon[members], net.lat[members]])),
                                        ratio=0.3)
            if hull.geom_type == "Polygon":
                areas[i].polygon = [list(map(float, p)) for p in hull.exterior.coords]
    return areas, best, who


def station_isochrone(net: RoadNetwork, station: Place, minutes: float = 15.0) -> list[list[float]] | None:
    """One station's own travel-time area (overlapping its neighbours'), as a polygon ring, or None."""
    snap = net.snap(station.lon, station.lat, what=f"station {station.id}")
    times = net.travel_times([snap.index], minutes * 60.0 - snap.access_s)[0]
    mask = np.isfinite(times)
    if mask.sum() < 3:
        return None
    hull = shapely.concave_hull(shapely.multipoints(np.column_stack([net.lon[mask], net.lat[mask]])), ratio=0.3)
    return [list(map(float, p)) for p in hull.exterior.coords] if hull.geom_type == "Polygon" else None


def rapid_response_circle(net: RoadNetwork, stations: list[Place], targets: list[Place],
                          minutes: float = 15.0) -> CircleResult:
    """Areas, per-target coverage and the shares of risk points, enterprises and people covered."""
    areas, best, who = station_areas(net, stations, minutes)
    limit = minutes * 60.0
    covers = []
    for t in targets:
        try:
            snap = net.snap(t.lon, t.lat, what=f"{t.kind} {t.id}")
        except RoadError as exc:
            covers.append(TargetCover(t, None, None, False, str(exc)))
            continue
        s = float(best[snap.index]) + snap.access_s
        ok = bool(np.isfinite(s) and s <= limit)
        st = areas[int(who[snap.index])].station.id if who[snap.index] >= 0 else None
        covers.append(TargetCover(t, s if np.isfinite(s) else None, st, ok))
    shares: dict[str, float | None] = {}
    for name, kinds in TARGET_GROUPS.items():
        group = [c for c in covers if c.target.kind in kinds]
        shares[name] = (sum(c.covered for c in group) / len(group)) if group else None
    people = [c for c in covers if c.target.people > 0]
    total = sum(c.target.people for c in people)
    shares["people"] = (sum(c.target.people for c in people if c.covered) / total) if total else None
    return CircleResult(minutes, areas, covers, best, shares)


def soonest(net: RoadNetwork, lon: float | None, lat: float | None, teams: list[Place],
            what: str = "incident") -> list[dict[str, Any]]:
    """Teams ordered by estimated arrival at (lon, lat): [{"team", "eta_s", "error"}], unreachable last."""
    dest = net.snap(lon, lat, what=what)  # RoadError: the caller shows it
    net.check_connected(dest, what)
    dist = net.travel_times([dest.index])[0]
    out = []
    for t in teams:
        try:
            s = net.snap(t.lon, t.lat, what=f"team {t.id}")
            eta = float(dist[s.index]) + s.access_s + dest.access_s
            out.append({"team": t, "eta_s": eta if np.isfinite(eta) else None,
                        "error": None if np.isfinite(eta) else f"team {t.id}: no road to the {what}"})
        except RoadError as exc:
            out.append({"team": t, "eta_s": None, "error": str(exc)})
    return sorted(out, key=lambda r: (r["eta_s"] is None, r["eta_s"] or 0.0))
