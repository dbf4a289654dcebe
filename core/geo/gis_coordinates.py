"""Coordinate systems and coordinate checks of a GIS import (part of :mod:`core.geo.gis_import`).

Shared by vector files and the DEM: which coordinate system to convert from (the file's own or
``--crs``), a hint when coordinates are no longitude/latitude after converting, the GCJ-02 check
against the base map's coastline, and the warning for data that lies nowhere near the district.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely

from core.geo.gcj02 import wgs84_to_gcj02
from core.geo.readers import GisImportError

if TYPE_CHECKING:
    from core.geo.crs import LonLatTransform


def resolve_crs(file_crs: str | None, override: str | None, display: str) -> tuple[LonLatTransform, list[str]]:
    """The transform to WGS-84 lon/lat from ``override`` (``--crs``) or else the file's own system,
    and warnings (the two disagree, the transform's own); GisImportError when there is neither."""
    from core.geo.crs import CrsError, parse_crs, to_lonlat  # pyproj, only when importing
    warnings: list[str] = []
    try:
        if override:
            src = parse_crs(override)
            if file_crs:
                try:
                    own = parse_crs(file_crs)
                    if not own.equals(src, ignore_axis_order=True):
                        warnings.append(f"the file says its coordinate system is {_short(own)}; --crs {override} "
                                        "was used instead")
                except CrsError:
                    pass
        elif file_crs:
            src = parse_crs(file_crs)
        else:
            raise GisImportError(display, "has no coordinate system (no .prj, no CRS in the file): give it with "
                                          "--crs, e.g. --crs EPSG:4326 for WGS-84 lon/lat, EPSG:4490 for CGCS2000, "
                                          "EPSG:4549 for CGCS2000 3-degree Gauss–Krüger CM 120E")
        tr = to_lonlat(src)
    except CrsError as exc:
        raise GisImportError(display, f"coordinate system: {exc}") from None
    return tr, warnings + tr.warnings


def _short(crs: Any) -> str:
    from core.geo.crs import label
    return label(crs)


def coordinate_hint(x: float, y: float, tr: LonLatTransform) -> str:
    """What to check when ``(x, y)`` is no longitude/latitude after ``tr``: "; ..." to end a message."""
    from core.geo.crs import gauss_kruger_hint
    hint = gauss_kruger_hint(x, y)
    if hint:
        return f"; {hint}"
    if tr.crs.is_geographic and (abs(x) > 180 or abs(y) > 90):
        return "; the numbers look like metres, not degrees: give the file's projected system with --crs"
    return "; check the coordinate system (--crs)"


def gcj02_check(lon: np.ndarray, lat: np.ndarray, converted: bool = False, sample: int = 4000) -> str | None:
    """A warning when the data fits the base map's land clearly better shifted by the GCJ-02 offset.

    Without ``converted``: data that fits far better with the offset undone looks like GCJ-02. With
    it (after ``--gcj02``): data that fits far better with the conversion undone was WGS-84 already.
    The offset must beat not only the data as it is but every shift of the same length in other
    directions (45° and more away), so a coast that moved (reclaimed land) is not taken for it.
    """
    try:
        from core.geo.basemap import basemap_bbox, land_polygon
        land = land_polygon()
        west, south, east, north = basemap_bbox()
    except Exception:  # no base map: nothing to compare with
        return None
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    inside = (lon > west + 0.02) & (lon < east - 0.02) & (lat > south + 0.02) & (lat < north - 0.02)
    idx = np.flatnonzero(inside)
    if len(idx) < 20:
        return None
    if len(idx) > sample:
        idx = np.sort(np.random.default_rng(0).choice(idx, sample, replace=False))
    x, y = lon[idx], lat[idx]
    cx, cy = float(np.median(x)), float(np.median(y))
    gx, gy = wgs84_to_gcj02(cx, cy)
    dx, dy = float(gx) - cx, float(gy) - cy  # the GCJ-02 offset here, degrees
    if dx == 0 and dy == 0:
        return None
    sx, sy = (dx, dy) if converted else (-dx, -dy)  # the shift that would fix the suspected mistake
    kx = 111_320.0 * math.cos(math.radians(cy))
    mx, my = sx * kx, sy * 110_540.0
    dist = math.hypot(mx, my)
    ang = math.atan2(my, mx)

    def off_land(ox: float, oy: float) -> int:
        return int((~shapely.contains_xy(land, x + ox, y + oy)).sum())

    n0 = off_land(0.0, 0.0)
    n_fix = off_land(sx, sy)
    controls = []
    for deg in (45, 90, 135, 180, 225, 270, 315):
        a = ang + math.radians(deg)
        controls.append(off_land(dist * math.cos(a) / kx, dist * math.sin(a) / 110_540.0))
    total = len(idx)
    if n0 >= max(5, 0.02 * total) and n_fix <= 0.5 * n0 and n_fix < min(controls):
        if converted:
            return (f"with --gcj02 the data fits the coastline worse than without: {n0} of {total} sampled points "
                    f"fall in the sea or the river, {n_fix} without the conversion; it may already be WGS-84: "
                    "re-import without --gcj02")
        return (f"looks like GCJ-02 (~{dist:.0f} m offset): {n0} of {total} sampled points fall in the sea or the "
                f"river, {n_fix} after converting GCJ-02 → WGS-84; re-import with --gcj02")
    return None


def far_from_district(lon: np.ndarray, lat: np.ndarray) -> str | None:
    """A warning when no point lies in the base map's area (None without a base map)."""
    try:
        from core.geo.basemap import basemap_bbox
        west, south, east, north = basemap_bbox()
    except Exception:
        return None
    inside = (lon >= west) & (lon <= east) & (lat >= south) & (lat <= north)
    if inside.any():
        return None
    return (f"no point lies in the base map's area ({west:g}–{east:g}°E, {south:g}–{north:g}°N): the data is "
            f"around {float(np.median(lon)):.4f}°E, {float(np.median(lat)):.4f}°N; check the coordinate system")
