"""Where the 3D scene's camera goes: to the entity the user clicked, to an alarm, or over the park.

- A click on an entity (``ctx.selection`` with an id) flies to it, framed by its size.
- An alarm takes the camera there when its target is newer than the last click (or there was no
  click): with a modelled release and its threat zones, framing the source and the zones downwind
  (since the release began); otherwise to the most severe, earliest open alarm's place (since it
  opened; a tank's sensors lead to the tank).
- Otherwise the park's own view.

The view is part of the scene JSON, which the host sends only when it changed (``core.web.deckpatch``):
the camera moves when its target changes and never while it stays, so between moves the operator
pans freely, and a camera already at the tank is not sent there again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pydeck as pdk

from .threat import Situation
from .twin import Item, ParkModel

FLY_MS = 1500
#: a release is framed to the first of these reaches (m) its zones fit in
FRAME_STEPS_M = (1000.0, 1500.0, 2000.0, 3000.0, 4000.0)
#: metres per pixel at zoom 0 on the equator (web mercator, 512 px tiles as deck.gl uses)
M_PER_PX_Z0 = 78_271.5


@dataclass(frozen=True)
class Focus:
    """The camera's target: why ("park", "entity", "alarm", "release"), where, how close, and what."""

    reason: str
    lon: float
    lat: float
    zoom: float
    entity_id: str | None = None


def zoom_for(extent_m: float, lat: float, width_px: float) -> float:
    """The zoom at which ``extent_m`` metres fill about ``width_px`` pixels."""
    m_per_px = max(extent_m, 1.0) / max(width_px, 1.0)
    return math.log2(M_PER_PX_Z0 * math.cos(math.radians(lat)) / m_per_px)


def extent_m(item: Item) -> float:
    """The larger side (metres) of an area's or line's bounding box; 0 for points."""
    g = item.geometry or {}
    if g.get("type") not in ("Polygon", "LineString"):
        return 0.0
    pts = g["coordinates"][0] if g["type"] == "Polygon" else g["coordinates"]
    lons, lats = [p[0] for p in pts], [p[1] for p in pts]
    lat0 = sum(lats) / len(lats)
    return max((max(lons) - min(lons)) * 111_320 * math.cos(math.radians(lat0)), (max(lats) - min(lats)) * 110_574)


def alarm_place(model: ParkModel, entity_id: str) -> Item | None:
    """The positioned twin entity an alarm points at: a tank's sensor leads to its tank."""
    item = model.get(entity_id)
    if item is None:
        return None
    tank = item.props.get("tank") if item.kind in ("gas_detector", "process_sensor") else None
    if tank and model.get(tank) is not None and model.items[tank].point:
        return model.items[tank]
    return item if item.point else None


def alarm_focus(model: ParkModel, sit: Situation, alerts: list[Any], width: float,
                near: float) -> tuple[Focus, float] | None:
    """Where an alarm takes the camera, and since when: the release (since it began) framed with its
    zones, else the place of the most severe, earliest open alarm (since it opened); None without one.

    The onset belongs to the target, not to the newest alarm: rate alarms that open and clear during
    a leak do not pull the camera back from where the operator clicked; a new release or a new, more
    severe alarm does.
    """
    if sit.plume is not None and sit.zones:
        # frame the source and the zones (at most 4 km of them, so the park stays readable); the frame
        # moves in steps (zone reach, wind to the nearest 45°), not with every sway of the wind, so the
        # camera stays put while the zones breathe and the operator can pan
        reach = max((z.distance_m for z in sit.zones), default=1000.0)
        far = next((step for step in FRAME_STEPS_M if reach <= step), FRAME_STEPS_M[-1])
        toward = math.radians(round(sit.plume.toward_deg / 45.0) * 45.0)
        lon0, lat0 = sit.plume.lon, sit.plume.lat
        c_lat = lat0 + math.degrees(far * 0.4 * math.cos(toward) / 6_371_008.8)
        c_lon = lon0 + math.degrees(far * 0.4 * math.sin(toward) / (6_371_008.8 * math.cos(math.radians(lat0))))
        zoom = max(11.0, min(16.0, zoom_for(max(far * 1.4, 1200.0), c_lat, width)))
        return (Focus("release", c_lon, c_lat, zoom, sit.tank.id if sit.tank else None), float(sit.since or 0.0))
    placed = [(a, p) for a in alerts if (p := alarm_place(model, a.entity_id)) is not None]
    if not placed:
        return None
    alarm, place = min(placed, key=lambda ap: (int(ap[0].severity), float(ap[0].opened_at or 0)))
    lon, lat = place.point
    return Focus("alarm", float(lon), float(lat), near, place.id), float(alarm.opened_at or 0.0)


def focus(model: ParkModel, sit: Situation, opts: dict[str, Any], alerts: list[Any],
          selection: Any = None) -> Focus:
    """The camera target for this render (see the module's docstring for the order)."""
    width = float(opts.get("width_px", 920))
    near = float(opts.get("focus_zoom", 15.0))
    alarm = alarm_focus(model, sit, alerts, width, near) if opts.get("fly_to_alarm", True) else None
    if selection is not None and selection.id and (alarm is None or selection.ts >= alarm[1]):
        item = model.get(selection.id)
        if item is not None and item.point:
            (lon, lat), size = item.point, extent_m(item)
            zoom = min(near, max(12.0, zoom_for(size * 1.6, lat, width))) if size else near
            return Focus("entity", float(lon), float(lat), zoom, item.id)
        return Focus("entity", selection.lon, selection.lat, near, selection.id)
    if alarm is not None:
        return alarm[0]
    lon, lat = model.center
    return Focus("park", lon, lat, float(opts.get("zoom", model.site.get("zoom", 13.6))))


def view_state(f: Focus, opts: dict[str, Any]) -> pdk.ViewState:
    """The deck's initial view for a focus; a changed one flies there (deck.gl's FlyToInterpolator)."""
    return pdk.ViewState(longitude=round(f.lon, 6), latitude=round(f.lat, 6), zoom=round(f.zoom, 2),
                         pitch=float(opts.get("pitch", 50)), bearing=float(opts.get("bearing", -12)),
                         transition_duration=FLY_MS, transition_interpolator={"@@type": "FlyToInterpolator"})
