"""The bundled offline base map of the Jiaojiang district (椒江区).

Data: ``twin_models/basemap/`` (built by ``scripts/build_basemap.py``, see its
``NOTICE.md``): one GeoJSON FeatureCollection per zoom band, listed with its
zoom range in ``manifest.json``.  Coordinates are WGS-84 lon/lat.  Each
feature's ``properties.kind`` is one of

    land                 GSHHS land (sea = not land), clipped to the map box
    coastline            the land's shoreline (without the map box's edges)
    river                WDBII rivers, if any inside the box
    district_boundary    椒江区 as a (Multi)Polygon, islands included
    neighbour_boundary   黄岩区, 路桥区, 临海市 (clipped), with name_zh/name_en
    town_label           streets and towns (Points), with name_zh/name_en

Everything is read lazily and cached; the files are never written here.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import MultiPolygon, Point, Polygon, shape
from shapely.geometry.base import BaseGeometry

from core.errors import TwinboardError
from core.geo.projection import LocalEqualArea

#: Where the base-map files live (relative to the project root).
BASEMAP_DIR = Path(__file__).resolve().parents[2] / "twin_models" / "basemap"
MANIFEST = "manifest.json"

KINDS = frozenset({"land", "coastline", "river", "district_boundary", "neighbour_boundary", "town_label"})

#: Local equal-area projection centred on the district (metres).
_PROJ = LocalEqualArea(121.44, 28.67)


class BasemapError(TwinboardError):
    """A base-map file is missing or malformed; ``file`` names it."""

    def __init__(self, file: Path | str, message: str) -> None:
        self.file = str(file)
        super().__init__(f"{file}: {message}")


# --------------------------------------------------------------------------- files
def _read_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BasemapError(path, "missing (rebuild with: python scripts/build_basemap.py)") from None
    except OSError as exc:
        raise BasemapError(path, f"cannot be read: {exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise BasemapError(path, f"not valid JSON: {exc}") from None


@lru_cache(maxsize=1)
def manifest() -> dict:
    """The parsed ``manifest.json`` (levels, bbox, sources); cached."""
    path = BASEMAP_DIR / MANIFEST
    data = _read_json(path)
    levels = data.get("levels") if isinstance(data, dict) else None
    if not isinstance(levels, list) or not levels:
        raise BasemapError(path, "no 'levels' list")
    for i, lv in enumerate(levels):
        if not isinstance(lv, dict) or not isinstance(lv.get("file"), str) or "min_zoom" not in lv:
            raise BasemapError(path, f"levels[{i}] needs 'file', 'min_zoom' and 'max_zoom'")
    return data


def basemap_levels() -> list[dict]:
    """The zoom levels from ``manifest.json``, coarse to fine.

    Each is a dict with ``file``, ``min_zoom``, ``max_zoom`` (None for open),
    ``bytes``, ``gzip_bytes``, ``vertices`` and ``sha256``.
    """
    return sorted((dict(lv) for lv in manifest()["levels"]), key=lambda lv: lv["min_zoom"])


def basemap_bbox() -> tuple[float, float, float, float]:
    """(west, south, east, north) of the base map, degrees."""
    return tuple(manifest()["bbox"])  # type: ignore[return-value]


def level_for_zoom(zoom: float) -> dict:
    """The level whose zoom range holds ``zoom`` (fractional zooms round down).

    Zooms below the first level get the coarsest, above the last the finest.
    """
    levels = basemap_levels()
    z = math.floor(float(zoom))
    for lv in levels:
        hi = lv.get("max_zoom")
        if lv["min_zoom"] <= z and (hi is None or z <= hi):
            return lv
    return levels[0] if z < levels[0]["min_zoom"] else levels[-1]


@lru_cache(maxsize=8)
def _load_file(name: str) -> dict:
    path = BASEMAP_DIR / name
    fc = _read_json(path)
    if not isinstance(fc, dict) or fc.get("type") != "FeatureCollection" or not isinstance(fc.get("features"), list):
        raise BasemapError(path, "not a GeoJSON FeatureCollection")
    for i, f in enumerate(fc["features"]):
        kind = f.get("properties", {}).get("kind") if isinstance(f, dict) else None
        if kind not in KINDS:
            raise BasemapError(path, f"feature {i}: properties.kind {kind!r} not one of {sorted(KINDS)}")
        if not isinstance(f.get("geometry"), dict) or "type" not in f["geometry"]:
            raise BasemapError(path, f"feature {i} ({kind}): no geometry")
    return fc


def load_basemap(zoom: float) -> dict:
    """The GeoJSON FeatureCollection (a dict) for map zoom ``zoom``; cached.

    The dict is shared between callers: copy it before changing it.
    """
    return _load_file(level_for_zoom(zoom)["file"])


def finest_basemap() -> dict:
    """The full-detail FeatureCollection (the last level)."""
    return _load_file(basemap_levels()[-1]["file"])


def features(kind: str, zoom: float | None = None) -> list[dict]:
    """The features of one ``kind`` at ``zoom`` (default: full detail)."""
    if kind not in KINDS:
        raise ValueError(f"unknown base-map kind {kind!r}; one of {sorted(KINDS)}")
    fc = finest_basemap() if zoom is None else load_basemap(zoom)
    return [f for f in fc["features"] if f["properties"]["kind"] == kind]


# --------------------------------------------------------------------------- geometry
def _geometry(f: dict, file: str) -> BaseGeometry:
    try:
        return shape(f["geometry"])
    except Exception as exc:  # shapely raises several types for bad GeoJSON
        raise BasemapError(BASEMAP_DIR / file, f"bad {f['properties'].get('kind')} geometry: {exc}") from None


def _polygonal(kind: str) -> MultiPolygon:
    file = basemap_levels()[-1]["file"]
    parts = []
    for f in features(kind):
        g = _geometry(f, file)
        if not isinstance(g, (Polygon, MultiPolygon)):
            raise BasemapError(BASEMAP_DIR / file, f"{kind} is a {g.geom_type}, not a polygon")
        parts.extend(g.geoms if isinstance(g, MultiPolygon) else [g])
    if not parts:
        raise BasemapError(BASEMAP_DIR / file, f"no {kind} feature")
    return MultiPolygon(parts)


@lru_cache(maxsize=1)
def district_polygon() -> MultiPolygon:
    """椒江区 at full detail (MultiPolygon, lon/lat), islands included."""
    g = _polygonal("district_boundary")
    shapely.prepare(g)
    return g


@lru_cache(maxsize=1)
def land_polygon() -> MultiPolygon:
    """GSHHS land inside the base-map box at full detail (MultiPolygon, lon/lat)."""
    g = _polygonal("land")
    shapely.prepare(g)
    return g


@lru_cache(maxsize=1)
def _district_m() -> BaseGeometry:
    g = _PROJ.project(district_polygon())
    shapely.prepare(g)
    return g


def neighbours() -> list[dict]:
    """The neighbouring districts: ``name_zh``, ``name_en``, ``adcode`` and
    ``geometry`` (shapely, clipped to the base-map box)."""
    file = basemap_levels()[-1]["file"]
    return [
        {**{k: v for k, v in f["properties"].items() if k != "kind"}, "geometry": _geometry(f, file)}
        for f in features("neighbour_boundary")
    ]


def town_labels() -> list[dict]:
    """The town/street labels: dicts with ``name_zh``, ``name_en``, ``lon``, ``lat``
    (approximate seats) and ``town_kind`` ("street" or "town")."""
    out = []
    for f in features("town_label"):
        lon, lat = f["geometry"]["coordinates"][:2]
        props = {k: v for k, v in f["properties"].items() if k != "kind"}
        out.append({**props, "lon": float(lon), "lat": float(lat)})
    return out


def contains_district(lon: float, lat: float, margin_m: float = 0.0) -> bool:
    """True if (lon, lat) lies in 椒江区, or within ``margin_m`` metres of it."""
    pt = Point(lon, lat)
    if district_polygon().contains(pt):
        return True
    if margin_m <= 0:
        return False
    return distance_to_district_m(lon, lat) <= margin_m


def distance_to_district_m(lon: float, lat: float) -> float:
    """Metres from (lon, lat) to 椒江区 (0 inside), via a local equal-area projection."""
    pt = Point(*(float(v) for v in _PROJ.forward(lon, lat)))
    return float(_district_m().distance(pt))


def is_on_land(lon: float, lat: float) -> bool:
    """True if (lon, lat) lies on GSHHS land (False at sea, in the estuary, or off the map box)."""
    return bool(land_polygon().contains(Point(lon, lat)))


def clear_cache() -> None:
    """Forget everything read (after the files were rebuilt)."""
    for fn in (manifest, _load_file, district_polygon, land_polygon, _district_m):
        fn.cache_clear()
