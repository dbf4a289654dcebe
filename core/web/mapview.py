"""Framing a map: the deck.gl view that shows a set of places whole, on a viewport of a given size."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

from core.web.labels import screen_xy


def _world(lon: float, lat: float) -> tuple[float, float]:
    """Web Mercator at zoom 0 (512 px around the world)."""
    lat = max(min(lat, 85.05), -85.05)
    return ((lon + 180) / 360 * 512,
            (math.pi - math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))) / (2 * math.pi) * 512)


def _lonlat(x: float, y: float) -> tuple[float, float]:
    return x / 512 * 360 - 180, math.degrees(2 * math.atan(math.exp(math.pi - y / 512 * 2 * math.pi)) - math.pi / 2)


def fit_view(points: Iterable[Sequence[float]], *, width: float, height: float, pitch: float = 0, bearing: float = 0,
             padding: float | Sequence[float] = 40, min_zoom: float = 3, max_zoom: float = 16) -> dict[str, Any]:
    """deck.gl's ``initialViewState`` (longitude, latitude, zoom, pitch, bearing) that shows every one of
    ``points`` ([lon, lat, ...]) inside a ``width`` × ``height`` px map, ``padding`` px from its edges
    (one number, or [top, right, bottom, left]: e.g. room for a legend on the left), on a map tilted by
    ``pitch`` and turned by ``bearing`` degrees as deck.gl's MapView draws it.

    The zoom is the largest, in steps of 0.05 and within [``min_zoom``, ``max_zoom``], at which all fit:
    a panel that frames the same places twice gets the same view (the wall does not re-fly). Raises
    ``ValueError`` without points or with a padding that leaves no room.
    """
    pts = [(float(p[0]), float(p[1])) for p in points]
    if not pts:
        raise ValueError("fit_view: no points to frame")
    top, right, bottom, left = ([float(padding)] * 4 if isinstance(padding, (int, float))
                                else [float(v) for v in padding])
    if width - left - right <= 0 or height - top - bottom <= 0:
        raise ValueError(f"fit_view: padding {padding} leaves no room in a {width:g}×{height:g} px map")
    box_cx, box_cy = (left - right) / 2, (top - bottom) / 2          # the free box's centre, from the map's centre
    half_w, half_h = (width - left - right) / 2, (height - top - bottom) / 2
    xs, ys = zip(*(_world(lo, la) for lo, la in pts))

    def view_at(zoom: float) -> tuple[dict[str, Any], bool]:
        # centre the points' screen box in the free box: a few corrections, as the tilt makes it uneven
        cx, cy = (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2
        view: dict[str, Any] = {}
        for _ in range(4):
            lon, lat = _lonlat(cx, cy)
            view = {"longitude": round(lon, 5), "latitude": round(lat, 5), "zoom": round(zoom, 2),
                    "pitch": pitch, "bearing": bearing}
            scr = [screen_xy(lo, la, view, height) for lo, la in pts]
            if any(s is None for s in scr):
                return view, False
            sx = [s[0] for s in scr]
            sy = [s[1] for s in scr]
            dx = (min(sx) + max(sx)) / 2 - box_cx
            dy = (min(sy) + max(sy)) / 2 - box_cy
            if abs(dx) < 0.5 and abs(dy) < 0.5:
                break
            # screen px → world px at this zoom (the tilt shortens north-south distances by about cos(pitch))
            k = 2 ** zoom
            b = math.radians(bearing)
            e, n = dx / k, -dy / k / max(math.cos(math.radians(pitch)), 0.2)
            cx += e * math.cos(b) + n * math.sin(b)
            cy -= -e * math.sin(b) + n * math.cos(b)
        fits = (box_cx - half_w - 1 <= min(sx) and max(sx) <= box_cx + half_w + 1
                and box_cy - half_h - 1 <= min(sy) and max(sy) <= box_cy + half_h + 1)
        return view, fits

    best, ok = view_at(min_zoom)
    lo_z, hi_z = int(round(min_zoom * 20)), int(round(max_zoom * 20))
    while lo_z < hi_z:                 # the largest fitting zoom, in 0.05 steps
        mid = (lo_z + hi_z + 1) // 2
        view, fits = view_at(mid / 20)
        if fits:
            lo_z, best = mid, view
        else:
            hi_z = mid - 1
    return best
