"""The demo's panels: a plotly trend with alarm limits, a pydeck 3D map, headline figures."""

from __future__ import annotations

import functools
import math
import time
from datetime import datetime
from typing import Any

import plotly.io as pio
import pydeck as pdk
from dash import dcc, html

from core.api import SEVERITY_COLORS, PanelContext, Severity

from .settings import DemoSettings

_SEV_RGBA = {int(s): [int(c[1:3], 16), int(c[3:5], 16), int(c[5:7], 16), 230] for s, c in SEVERITY_COLORS.items()}
_NORMAL = [54, 198, 255, 220]
#: the big screen's shipped font (assets/fonts.css), so SVG text in plotly shows Chinese too
FONT = '"Noto Sans SC Subset", "Noto Sans SC", sans-serif'
#: points per trace a trend sends at most: a panel is a few hundred pixels wide, and every refresh
#: re-sends the whole window (at 10 readings a second, 5 minutes would be 3000 points per sensor)
TREND_MAX_POINTS = 400


def _names(ctx: PanelContext) -> dict[str, str]:
    return {e.id: (e.name_en or e.name) if ctx.lang == "en" else e.name
            for e in ctx.store.entities(plugin=ctx.plugin)}


def decimate(pts: list[tuple[float, float]], max_points: int = TREND_MAX_POINTS) -> list[tuple[float, float]]:
    """At most ``max_points`` of a time-ordered series: each bucket's lowest and highest point, in time order.

    Peaks survive (a short gas spike must still cross the drawn alarm limit), unlike plain averaging.
    """
    if len(pts) <= max_points:
        return pts
    buckets = max(1, max_points // 2)
    size = -(-len(pts) // buckets)
    out: list[tuple[float, float]] = []
    for i in range(0, len(pts), size):
        chunk = pts[i:i + size]
        lo = min(range(len(chunk)), key=lambda j: chunk[j][1])
        hi = max(range(len(chunk)), key=lambda j: chunk[j][1])
        out.extend(chunk[j] for j in sorted({lo, hi}))
    return out


def trend(ctx: PanelContext) -> Any:
    """Gas concentration over the last minutes, with the alarm limits drawn in warning colours.

    The figure is a plain dict: plotly's graph objects validate and deep-copy every property (the
    dark template alone, on each refresh), which made this the slowest panel of the wall.
    """
    metric = ctx.options.get("metric", "gas_ppm")
    minutes = float(ctx.options.get("minutes", 5))
    since = time.time() - minutes * 60
    names = _names(ctx)
    data: list[dict[str, Any]] = []
    newest = None
    unit = ""
    for entity in ctx.store.entities(kind="sensor", plugin=ctx.plugin):
        if entity.properties.get("metric") != metric:
            continue
        pts = ctx.store.series(entity.id, metric, since=since)
        if not pts:
            continue
        newest = max(newest or 0, pts[-1][0])
        unit = entity.properties.get("unit", unit)
        pts = decimate(pts)
        data.append({"type": "scatter", "mode": "lines", "name": names.get(entity.id, entity.id), "line": {"width": 3},
                     "x": [datetime.fromtimestamp(t).isoformat(timespec="milliseconds") for t, _ in pts],
                     "y": [v for _, v in pts]})
    settings: DemoSettings = ctx.settings
    shapes, notes = [], []
    for level, limit in settings.gas_limits_ppm.items():
        if metric == "gas_ppm":
            color = SEVERITY_COLORS[Severity[level]]
            shapes.append({"type": "line", "xref": "x domain", "x0": 0, "x1": 1, "yref": "y", "y0": limit, "y1": limit,
                           "line": {"color": color, "dash": "dash", "width": 2}})
            notes.append({"xref": "x domain", "x": 1, "xanchor": "right", "yref": "y", "y": limit, "yanchor": "bottom",
                          "showarrow": False, "font": {"size": 16, "color": color},
                          "text": f"{level}级 {limit:g}" if ctx.lang == "zh" else f"L{level} {limit:g}"})
    layout = {"template": _dark_template(), "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)",
              "margin": {"l": 56, "r": 16, "t": 8, "b": 36}, "font": {"size": 16, "color": "#e6f1ff", "family": FONT},
              "legend": {"orientation": "h", "y": 1.12, "font": {"size": 16}},
              "yaxis": {"title": {"text": unit}, "gridcolor": "#1d4f8f"},
              "xaxis": {"nticks": 6, "gridcolor": "#1d4f8f", "type": "date", "tickformat": "%H:%M:%S"},
              "shapes": shapes, "annotations": notes, "uirevision": metric}
    ctx.data_time = newest
    return dcc.Graph(figure={"data": data, "layout": layout}, config={"displayModeBar": False, "staticPlot": False},
                     style={"height": "100%", "width": "100%"})


@functools.cache
def _dark_template() -> dict[str, Any]:
    return pio.templates["plotly_dark"].to_plotly_json()


def kpis(ctx: PanelContext) -> Any:
    """Headline numbers: sensors reporting, highest gas reading, open alarms."""
    latest = ctx.store.latest(entity_ids=[e.id for e in ctx.store.entities(kind="sensor", plugin=ctx.plugin)])
    fresh = [lv for lv in latest if time.time() - lv.ts < 30]
    gas = [lv.value for lv in latest if lv.metric == "gas_ppm"]
    alerts = [a for a in ctx.store.alerts() if a.plugin == ctx.plugin]
    ctx.data_time = max((lv.ts for lv in latest), default=None)
    worst = min((a.severity for a in alerts), default=None)

    def kpi(label: str, value: str, unit: str = "", cls: str = "") -> html.Div:
        return html.Div(className="tb-kpi", children=[
            html.Div([html.Span(value, className="tb-kpi-value " + cls), html.Span(unit, className="tb-kpi-unit")]),
            html.Div(label, className="tb-kpi-label")])
    return html.Div(className="tb-kpis", children=[
        kpi(ctx.text("在线传感器", "Sensors online"), f"{len(fresh)}", f"/{len(latest)}"),
        kpi(ctx.text("最高气体浓度", "Highest gas"), f"{max(gas):.1f}" if gas else "–", "ppm"),
        kpi(ctx.text("未处置报警", "Open alarms"), f"{len(alerts)}", "",
            f"tb-sev-{worst}" if worst else ""),
    ])


def map3d(ctx: PanelContext) -> pdk.Deck:
    """The demo park in 3D: fence and zones from local GeoJSON, extruded buildings, tanks, sensors by alarm."""
    entities = ctx.store.entities(plugin=ctx.plugin)
    site = next(iter(ctx.store.sites()), None)
    latest = {lv.entity_id: lv for lv in ctx.store.latest(entity_ids=[e.id for e in entities if e.kind == "sensor"])}
    worst: dict[str, int] = {}
    for a in ctx.store.alerts():
        worst[a.entity_id] = min(worst.get(a.entity_id, 9), a.severity)
    name = (lambda e: e.name_en or e.name) if ctx.lang == "en" else (lambda e: e.name)
    base = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": e.geometry, "properties": {"name": name(e), "kind": e.kind}}
        for e in entities if e.kind in ("boundary", "zone", "river") and e.geometry]}
    buildings = [{"polygon": e.geometry["coordinates"][0], "height": e.properties.get("height_m", 10),
                  "name": name(e)} for e in entities if e.kind == "building" and e.geometry]
    tanks = [{"position": e.geometry["coordinates"], "height": e.properties.get("height_m", 12) * 3,
              "name": f"{name(e)} · {e.properties.get('substance', '')}",
              "color": _SEV_RGBA.get(min((worst.get(s) or 9) for s in _monitors(e.id, entities)), [120, 160, 200, 230])}
             for e in entities if e.kind == "tank" and e.geometry]
    sensors = []
    for e in entities:
        if e.kind != "sensor" or not e.geometry:
            continue
        lv = latest.get(e.id)
        sensors.append({"position": e.geometry["coordinates"], "name": name(e),
                        "value": f"{lv.value:.1f} {lv.unit}" if lv else "–",
                        "height": 20 + (min(lv.value, 100) * 4 if lv and lv.metric == "gas_ppm" else 40),
                        "color": _SEV_RGBA.get(worst.get(e.id, 0), _NORMAL)})
    ctx.data_time = max((lv.ts for lv in latest.values()), default=None)
    layers = [
        pdk.Layer("GeoJsonLayer", data=base, id="base", stroked=True, filled=True, get_line_width=6,
                  line_width_min_pixels=2, get_fill_color=[20, 70, 140, 60], get_line_color=[54, 198, 255, 200]),
        pdk.Layer("PolygonLayer", data=buildings, id="buildings", get_polygon="polygon", extruded=True,
                  get_elevation="height", elevation_scale=3, get_fill_color=[70, 120, 190, 200],
                  get_line_color=[140, 200, 255], wireframe=True, pickable=True),
        pdk.Layer("ColumnLayer", data=tanks, id="tanks", get_position="position", radius=40, disk_resolution=24,
                  get_elevation="height", get_fill_color="color", extruded=True, pickable=True),
        pdk.Layer("ColumnLayer", data=sensors, id="sensors", get_position="position", radius=14,
                  get_elevation="height", get_fill_color="color", extruded=True, pickable=True),
    ]
    lon, lat, zoom = fit_bounds(_extent(entities) or [(site.lon, site.lat) if site else (121.455, 28.701)],
                                float(ctx.options.get("width_px", 900)), float(ctx.options.get("height_px", 580)))
    view = pdk.ViewState(longitude=float(ctx.options.get("lon", lon)), latitude=float(ctx.options.get("lat", lat)),
                         zoom=float(ctx.options.get("zoom", zoom)), pitch=52, bearing=-18)
    return pdk.Deck(layers=layers, initial_view_state=view, map_provider=None, map_style=None,
                    tooltip={"text": "{name} {value}"})


def _extent(entities: list[Any]) -> list[tuple[float, float]]:
    """Every vertex of the park's own geometry (fence, zones, buildings, tanks, sensors; not the river, which
    runs far beyond the park)."""
    out: list[tuple[float, float]] = []

    def walk(c: Any) -> None:
        if isinstance(c, (list, tuple)) and len(c) >= 2 and all(isinstance(v, (int, float)) for v in c[:2]):
            out.append((float(c[0]), float(c[1])))
        elif isinstance(c, (list, tuple)):
            for x in c:
                walk(x)
    for e in entities:
        if e.kind in ("boundary", "zone", "building", "tank", "sensor") and e.geometry:
            walk(e.geometry.get("coordinates"))
    return out


def fit_bounds(points: Any, width_px: float, height_px: float, fill: float = 0.8,
               max_zoom: float = 18.0) -> tuple[float, float, float]:
    """(lon, lat, zoom) of the view whose centre is the points' bounding box's and whose zoom makes the box
    fill ``fill`` of the panel's width or height (web mercator, 512-px world at zoom 0)."""
    pts = list(points)
    lons, lats = [p[0] for p in pts], [p[1] for p in pts]
    west, east, south, north = min(lons), max(lons), min(lats), max(lats)

    def merc_y(lat: float) -> float:
        return math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))
    dx = (east - west) / 360.0 * 512
    dy = (merc_y(north) - merc_y(south)) / (2 * math.pi) * 512
    zoom = max_zoom
    for extent, room in ((dx, width_px), (dy, height_px)):
        if extent > 0:
            zoom = min(zoom, math.log2(room * fill / extent))
    mid_y = (merc_y(north) + merc_y(south)) / 2
    lat = math.degrees(2 * math.atan(math.exp(mid_y)) - math.pi / 2)
    return (west + east) / 2, lat, zoom


def _monitors(tank_id: str, entities: list[Any]) -> list[str]:
    # Sensor ids are "demo.<kind>.<tank suffix>": the twin's relations say the same; this keeps the map one query.
    suffix = tank_id.rsplit(".", 1)[-1]
    return [e.id for e in entities if e.kind == "sensor" and e.id.endswith("." + suffix)] or [""]
