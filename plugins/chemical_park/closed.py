"""Closed-park control (封闭化管理): hazmat vehicles against their planned routes, closed zones, gates.

Vehicles report ``lon``, ``lat`` and ``speed_kmh``. ``VehicleRule`` raises:

* ``chemical_park.route`` (Ⅲ) when a vehicle is farther than its route's ``corridor_m`` from the route;
* ``chemical_park.stop`` (Ⅲ) when it has stood still (< 2 km/h) for ``stop_s`` seconds outside a
  parking area or loading bay;
* ``chemical_park.closed`` (Ⅱ) when it is inside a closed zone.

Geometry is done in local metres around the park centre (equirectangular: exact enough over a few km).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence

from core.api import AlertDraft, Reading, Severity

from .twin import Item, ParkModel

VEHICLE_METRICS = ("lon", "lat", "speed_kmh")
STOP_KMH = 2.0


class Local:
    """lon/lat ↔ metres east/north of an origin."""

    def __init__(self, lon0: float, lat0: float) -> None:
        self.lon0, self.lat0 = lon0, lat0
        self.kx = 111_320.0 * math.cos(math.radians(lat0))
        self.ky = 110_574.0

    def xy(self, lon: float, lat: float) -> tuple[float, float]:
        return (lon - self.lon0) * self.kx, (lat - self.lat0) * self.ky

    def lonlat(self, x: float, y: float) -> tuple[float, float]:
        return self.lon0 + x / self.kx, self.lat0 + y / self.ky


def dist_to_polyline(p: tuple[float, float], pts: Sequence[tuple[float, float]]) -> float:
    best = math.inf
    px, py = p
    for (ax, ay), (bx, by) in zip(pts, pts[1:]):
        dx, dy = bx - ax, by - ay
        seg2 = dx * dx + dy * dy
        t = 0.0 if seg2 == 0 else max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / seg2))
        best = min(best, math.hypot(px - (ax + t * dx), py - (ay + t * dy)))
    return best


def inside(p: tuple[float, float], ring: Sequence[tuple[float, float]]) -> bool:
    """Even-odd point in polygon."""
    x, y = p
    hit = False
    for (ax, ay), (bx, by) in zip(ring, ring[1:]):
        if (ay > y) != (by > y) and x < ax + (y - ay) * (bx - ax) / (by - ay):
            hit = not hit
    return hit


def along(pts: Sequence[tuple[float, float]], s: float) -> tuple[tuple[float, float], tuple[float, float]]:
    """Point at arc length ``s`` (metres) and the unit direction there; clamps to the ends."""
    for (ax, ay), (bx, by) in zip(pts, pts[1:]):
        seg = math.hypot(bx - ax, by - ay)
        if seg > 0 and s <= seg:
            return (ax + (bx - ax) * s / seg, ay + (by - ay) * s / seg), ((bx - ax) / seg, (by - ay) / seg)
        s -= seg
    (ax, ay), (bx, by) = pts[-2], pts[-1]
    seg = math.hypot(bx - ax, by - ay) or 1.0
    return (bx, by), ((bx - ax) / seg, (by - ay) / seg)


def length(pts: Sequence[tuple[float, float]]) -> float:
    return sum(math.hypot(bx - ax, by - ay) for (ax, ay), (bx, by) in zip(pts, pts[1:]))


class ParkGeometry:
    """Routes, closed zones and parking areas of the twin in local metres."""

    def __init__(self, model: ParkModel) -> None:
        self.local = Local(*model.center)
        self.routes = {r.id: [self.local.xy(*c) for c in r.geometry["coordinates"]]
                       for r in model.of("hazmat_route") if r.geometry}
        self.corridor = {r.id: float(r.props.get("corridor_m", 40)) for r in model.of("hazmat_route")}
        self.closed = {z.id: self._ring(z) for z in model.of("closed_zone") if z.geometry}
        self.parking = {z.id: self._ring(z) for z in model.of("hazmat_parking", "loading_bay") if z.geometry}

    def _ring(self, item: Item) -> list[tuple[float, float]]:
        return [self.local.xy(*c) for c in item.geometry["coordinates"][0]]

    def check(self, vehicle: Item, lon: float, lat: float) -> dict[str, object]:
        p = self.local.xy(lon, lat)
        route = vehicle.props.get("route")
        off = dist_to_polyline(p, self.routes[route]) if route in self.routes else math.inf
        return {"off_route_m": off, "corridor_m": self.corridor.get(route, 40.0),
                "closed_zone": next((zid for zid, ring in self.closed.items() if inside(p, ring)), None),
                "parked": next((zid for zid, ring in self.parking.items() if inside(p, ring)), None)}


class VehicleRule:
    """One rule object per alert kind (the host keys open alerts by the rule's id)."""

    def __init__(self, model: ParkModel, kind: str, stop_s: float = 120.0) -> None:
        self.kind = kind
        self.id = f"chemical_park.{kind}"
        self.model = model
        self.geo = ParkGeometry(model)
        self.vehicles = {v.id: v for v in model.of("hazmat_vehicle")}
        self.stop_s = stop_s
        self.pos: dict[str, dict[str, float]] = {}
        self.still_since: dict[str, float] = {}
        self.state: dict[str, bool] = {}
        self._lock = threading.Lock()

    def _update(self, readings: Sequence[Reading]) -> list[str]:
        touched = []
        for r in readings:
            if r.entity_id in self.vehicles and r.metric in VEHICLE_METRICS and math.isfinite(r.value):
                d = self.pos.setdefault(r.entity_id, {})
                d[r.metric] = r.value
                d["ts"] = r.ts
                if r.entity_id not in touched:
                    touched.append(r.entity_id)
        return touched

    def evaluate(self, readings: Sequence[Reading]) -> list[AlertDraft]:
        out = []
        with self._lock:
            for vid in self._update(readings):
                d = self.pos[vid]
                if "lon" not in d or "lat" not in d:
                    continue
                v = self.vehicles[vid]
                c = self.geo.check(v, d["lon"], d["lat"])
                plate = v.props.get("plate", vid)
                bad = False
                if self.kind == "route" and c["off_route_m"] > c["corridor_m"]:
                    bad = True
                    out.append(AlertDraft(self.id, vid, Severity.III, "危化品车辆偏离规划路线",
                                          f"{plate} 偏离 {c['off_route_m']:.0f} m (走廊 ±{c['corridor_m']:.0f} m)",
                                          round(c["off_route_m"], 1), title_en="Hazmat vehicle off its planned route",
                                          message_en=f"{plate} {c['off_route_m']:.0f} m off the route "
                                                     f"(corridor ±{c['corridor_m']:.0f} m)"))
                elif self.kind == "closed" and c["closed_zone"]:
                    bad = True
                    zone = self.model.items[c["closed_zone"]]
                    out.append(AlertDraft(self.id, vid, Severity.II, "危化品车辆闯入封闭区域", f"{plate} 进入 {zone.name}",
                                          title_en="Hazmat vehicle entered a closed zone",
                                          message_en=f"{plate} entered {zone.label('en')}"))
                elif self.kind == "stop":
                    speed = d.get("speed_kmh", math.inf)
                    if speed < STOP_KMH and not c["parked"]:
                        since = self.still_since.setdefault(vid, d["ts"])
                        if d["ts"] - since >= self.stop_s:
                            bad = True
                            out.append(AlertDraft(self.id, vid, Severity.III, "危化品车辆违规停车",
                                                  f"{plate} 在停车场/装卸台外停留 {d['ts'] - since:.0f} s",
                                                  title_en="Hazmat vehicle stopped outside a parking area",
                                                  message_en=f"{plate} stopped {d['ts'] - since:.0f} s outside the "
                                                             "parking area and loading bays"))
                    else:
                        self.still_since.pop(vid, None)
                self.state[vid] = bad
        return out

    def clears(self, r: Reading) -> bool:
        return r.entity_id in self.vehicles and r.metric == "lat" and not self.state.get(r.entity_id, False)


def vehicle_rules(model: ParkModel) -> list[VehicleRule]:
    return [VehicleRule(model, "route"), VehicleRule(model, "closed"), VehicleRule(model, "stop")]
