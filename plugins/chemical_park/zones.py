"""Threat zones from a plume: the AEGL-3/2/1 (red, orange, yellow) zones with their map outlines, the
zone a point lies in, compass names and the evacuation bearings (crosswind out, then upwind)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .gaussian import Plume

LEVELS = (("AEGL-3", 2, (232, 54, 59)), ("AEGL-2", 1, (245, 133, 42)), ("AEGL-1", 0, (246, 211, 60)))


@dataclass(frozen=True)
class ThreatZone:
    level: str           # "AEGL-3" red, "AEGL-2" orange, "AEGL-1" yellow
    loc_ppm: float
    distance_m: float
    capped: bool
    color: tuple[int, int, int]
    ring_lonlat: list[list[float]]


def threat_zones(plume: Plume, n: int = 90) -> list[ThreatZone]:
    """The three AEGL zones, most severe first (red, orange, yellow), with map outlines."""
    out = []
    for level, idx, color in LEVELS:
        loc = plume.chemical.aegl[idx]
        dist, capped = plume.threat_distance(loc)
        ring = plume.zone_outline_xy(loc, n) if dist > 0 else []
        if ring:
            xs, ys = zip(*ring)
            lon, lat = plume.to_lonlat(np.array(xs), np.array(ys))
            ring_ll = [[float(a), float(b)] for a, b in zip(lon, lat)]
        else:
            ring_ll = []
        out.append(ThreatZone(level, loc, dist, capped, color, ring_ll))
    return out


def zone_of(plume: Plume, lon: float, lat: float) -> str | None:
    """The most severe AEGL level reached at a point, or None."""
    c = float(plume.ppm_at(lon, lat))
    for level, idx, _ in LEVELS:
        if c >= plume.chemical.aegl[idx]:
            return level
    return None


COMPASS_ZH = ("北", "东北", "东", "东南", "南", "西南", "西", "西北")
COMPASS_EN = ("N", "NE", "E", "SE", "S", "SW", "W", "NW")


def compass(bearing_deg: float, lang: str = "zh") -> str:
    names = COMPASS_EN if lang == "en" else COMPASS_ZH
    return names[int(((bearing_deg % 360) + 22.5) // 45) % 8]


def evacuation(plume: Plume, lon: float | None = None, lat: float | None = None) -> dict[str, float]:
    """Bearings: upwind (toward the source's wind), both crosswind directions, and the better crosswind
    one for a point (away from the plume axis on its own side)."""
    up = plume.wind_from_deg % 360
    right = (plume.toward_deg + 90) % 360
    left = (plume.toward_deg - 90) % 360
    out = {"upwind": up, "crosswind_right": right, "crosswind_left": left, "crosswind": right}
    if lon is not None and lat is not None:
        _, y = plume.to_xy(lon, lat)
        out["crosswind"] = right if float(y) >= 0 else left
    return out
