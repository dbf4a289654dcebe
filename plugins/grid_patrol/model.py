"""The grid twin as the plugin reads it from the store: grids, workers, hazard points, routes, check-lists.

The twin file (``twin_models/grid_patrol/grids.geojson``, DEMO data built by
``scripts/build_grid_patrol_twin.py``) is loaded by the host; this module turns its entities into small
dataclasses, cached for a few seconds per store so a burst of phone submissions does not re-read them.
Check-lists by grid type come from ``twin_models/grid_patrol/checklists.yaml`` (validated, errors name
the file, line and field).
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from core.api import Store, load_yaml

PLUGIN = "grid_patrol"
TWIN_DIR = Path(__file__).resolve().parents[2] / "twin_models" / PLUGIN
GRID_TYPES = {"enterprise": ("企业网格", "Enterprise"), "residential": ("居住网格", "Residential"),
              "hillside": ("山林地灾网格", "Hillside"), "riverside": ("沿河沿海网格", "Riverside")}
#: hazard categories a worker reports: key → (zh, en)
CATEGORIES: dict[str, tuple[str, str]] = {
    "fire": ("消防安全", "Fire safety"), "electrical": ("用电安全", "Electrical"), "gas": ("燃气安全", "Gas"),
    "hazmat": ("危险化学品", "Hazardous chemicals"), "building": ("房屋安全", "Building safety"),
    "geological": ("地质灾害", "Geological hazard"), "flood": ("防汛排涝", "Flood and drainage"),
    "escape": ("疏散通道", "Escape routes"), "other": ("其他", "Other")}
#: report levels: key → (zh, en, alert severity or None)
LEVELS: dict[str, tuple[str, str, int | None]] = {
    "general": ("一般隐患", "General", None), "major": ("重大隐患", "Major", 2), "urgent": ("紧急险情", "Urgent", 1)}


class ChecklistItem(BaseModel):
    """One item of a check-list."""

    model_config = ConfigDict(extra="forbid")
    key: str = Field(pattern=r"^[a-z][a-z0-9_]{1,40}$")
    zh: str = Field(min_length=1, max_length=60)
    en: str = Field(min_length=1, max_length=80)


class Checklists(BaseModel):
    """The check-list of each grid type."""

    model_config = ConfigDict(extra="forbid")
    enterprise: list[ChecklistItem] = Field(min_length=1)
    residential: list[ChecklistItem] = Field(min_length=1)
    hillside: list[ChecklistItem] = Field(min_length=1)
    riverside: list[ChecklistItem] = Field(min_length=1)


@lru_cache(maxsize=4)
def checklists(path: Path = TWIN_DIR / "checklists.yaml") -> dict[str, list[ChecklistItem]]:
    """Check-list items by grid type; ConfigError (file, line, field) when the file is wrong."""
    doc = load_yaml(path)
    model = doc.validate(Checklists, doc.data or {})
    return {t: list(getattr(model, t)) for t in GRID_TYPES}


@dataclass(frozen=True)
class Grid:
    id: str
    name: str
    name_en: str
    town: str
    town_zh: str
    town_en: str
    type: str
    workers: tuple[str, ...]
    points: tuple[str, ...]
    every_h: float
    households: int
    people: int
    flood_village: str | None
    office: tuple[float, float]
    geometry: dict[str, Any] = field(repr=False, compare=False, hash=False, default_factory=dict)


@dataclass(frozen=True)
class PatrolPoint:
    id: str
    name: str
    name_en: str
    grid: str
    no: int
    category: str
    enterprise: str | None
    lon: float
    lat: float


@dataclass(frozen=True)
class Worker:
    id: str
    name: str
    name_en: str
    grid: str
    phone: str
    lon: float
    lat: float


@dataclass
class Twin:
    grids: dict[str, Grid]
    points: dict[str, PatrolPoint]
    workers: dict[str, Worker]
    routes: dict[str, list[list[float]]]    # grid id → the route's line

    def towns(self) -> list[tuple[str, str, str]]:
        """(code, zh, en) of the towns with grids, in the twin's order."""
        seen: dict[str, tuple[str, str, str]] = {}
        for g in self.grids.values():
            seen.setdefault(g.town, (g.town, g.town_zh, g.town_en))
        return list(seen.values())

    def grid_points(self, grid_id: str) -> list[PatrolPoint]:
        g = self.grids.get(grid_id)
        return [self.points[p] for p in (g.points if g else ()) if p in self.points]


_cache: dict[int, tuple[float, Twin]] = {}
_lock = threading.Lock()
CACHE_S = 10.0


def _xy(geometry: dict[str, Any] | None) -> tuple[float, float]:
    c = (geometry or {}).get("coordinates") or [math.nan, math.nan]
    return float(c[0]), float(c[1])


def load_twin(store: Store, now: float | None = None) -> Twin:
    """The grid twin from the store (cached ``CACHE_S`` seconds per store)."""
    now = time.monotonic() if now is None else now
    key = id(store)
    with _lock:
        hit = _cache.get(key)
        if hit is not None and now - hit[0] < CACHE_S:
            return hit[1]
    grids, points, workers, routes = {}, {}, {}, {}
    # the twin's own kinds only (reports and check-ins, which grow every day, are not read)
    ents = [e for kind in ("grid", "patrol_point", "grid_worker", "patrol_route")
            for e in store.entities(kind=kind, plugin=PLUGIN)]
    for e in ents:
        p = e.properties or {}
        if e.kind == "grid":
            grids[e.id] = Grid(e.id, e.name, e.name_en, str(p.get("town", "")), str(p.get("town_zh", "")),
                               str(p.get("town_en", "")), str(p.get("grid_type", "residential")),
                               tuple(p.get("workers") or ()), tuple(p.get("points") or ()),
                               float(p.get("patrol_every_h", 24)), int(p.get("households_at_risk", 0)),
                               int(p.get("people_at_risk", 0)), p.get("flood_village"),
                               tuple(p.get("office") or (math.nan, math.nan)), e.geometry or {})
        elif e.kind == "patrol_point":
            lon, lat = _xy(e.geometry)
            points[e.id] = PatrolPoint(e.id, e.name, e.name_en, str(p.get("grid", "")), int(p.get("no", 0)),
                                       str(p.get("category", "other")), p.get("enterprise"), lon, lat)
        elif e.kind == "grid_worker":
            lon, lat = _xy(e.geometry)
            workers[e.id] = Worker(e.id, e.name, e.name_en, str(p.get("grid", "")), str(p.get("phone", "")), lon, lat)
        elif e.kind == "patrol_route":
            routes[str(p.get("grid", ""))] = (e.geometry or {}).get("coordinates") or []
    twin = Twin(grids, points, workers, routes)
    with _lock:
        _cache[key] = (now, twin)
    return twin


def forget(store: Store | None = None) -> None:
    """Drop the cached twin (all stores, or one): after the twin was reloaded."""
    with _lock:
        if store is None:
            _cache.clear()
        else:
            _cache.pop(id(store), None)


def distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Metres between two lon/lat points (equirectangular; exact enough within a district)."""
    lat0 = math.radians((a[1] + b[1]) / 2)
    return math.hypot((a[0] - b[0]) * 111_320.0 * math.cos(lat0), (a[1] - b[1]) * 110_570.0)


def day_start(now: float) -> float:
    """Local midnight of ``now``'s day (epoch seconds)."""
    t = time.localtime(now)
    return time.mktime((t.tm_year, t.tm_mon, t.tm_mday, 0, 0, 0, 0, 0, -1))


def week_start(now: float) -> float:
    """Local midnight of the Monday of ``now``'s week."""
    t = time.localtime(now)
    return time.mktime((t.tm_year, t.tm_mon, t.tm_mday - t.tm_wday, 0, 0, 0, 0, 0, -1))
