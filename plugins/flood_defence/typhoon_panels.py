"""The typhoon panels: track, forecast cone and wind circles on the map, and the typhoon's figures.

Both show the storm ``best_tracks.situation`` chooses (panel option ``storm``, setting ``typhoon_storm``, or
the storm nearest the district in the period shown). When the time shown is outside that storm's life, or
there is no storm, they say so instead of drawing a position. Points of CMA category 9 are extratropical
(``ET``), coloured and named as such, not by their wind.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pydeck as pdk
from dash import html

from core.api import PanelContext, text_layer

from . import typhoon
from .panels import BJT, TABLE, _base_layers, _td, _typhoon, fit_view

#: track-point colours per class; ``ET`` (CMA category 9, extratropical) has its own
CLASS_RGB = {"TD": [90, 200, 120], "TS": [60, 140, 240], "STS": [250, 220, 60], "TY": [250, 150, 40],
             "STY": [240, 70, 160], "SuperTY": [220, 30, 40], "ET": [170, 150, 220], "": [150, 150, 150]}
NOTICE_COLOUR = "#f6d33c"


def class_text(ctx: PanelContext, p: typhoon.TrackPoint) -> tuple[str, str]:
    """(code, name in the screen's language) of a point's class (``ET`` for CMA category 9)."""
    code, zh, en, _ = typhoon.point_class(p)
    return code, ctx.text(zh, en)


def _dots(ctx: PanelContext, points: list[typhoon.TrackPoint]) -> list[dict[str, Any]]:
    out = []
    for p in points:
        code, name = class_text(ctx, p)
        wind = f" {p.wind_ms:.0f}m/s" if p.wind_ms is not None else ""
        out.append({"position": [p.lon, p.lat], "color": CLASS_RGB.get(code, CLASS_RGB[""]) + [255],
                    "cls": code, "name": f"{p.time.astimezone(BJT):%m-%d %H}{ctx.text('时', 'h')}{wind} {name}"})
    return out


def typhoon_map(ctx: PanelContext) -> pdk.Deck:
    """The track so far, the forecast track and cone, the 7/10/12-level wind circles, and the district; the
    whole track and a notice when the time shown is outside the storm's life."""
    sit = _typhoon(ctx)
    s = ctx.settings
    storm, now_t, cur = sit.storm, sit.time, sit.point
    layers = _base_layers(ctx)
    frame = [(s.district_lon, s.district_lat)]
    if storm is not None and cur is None:      # outside the storm's life: its whole track, no position
        layers += [
            pdk.Layer("PathLayer", data=[{"path": [[p.lon, p.lat] for p in storm.points]}], id="track",
                      get_path="path", get_color=[200, 200, 200, 150], width_min_pixels=2),
            pdk.Layer("ScatterplotLayer", data=_dots(ctx, storm.points), id="points", get_position="position",
                      get_fill_color="color", radius_min_pixels=3, radius_max_pixels=6, get_radius=5000,
                      pickable=True)]
        frame += [(p.lon, p.lat) for p in storm.points]
    if cur is None:
        layers.append(pdk.Layer(
            "ScatterplotLayer", data=[{"position": [s.district_lon, s.district_lat],
                                       "name": ctx.text("椒江区", "Jiaojiang"), "color": [255, 255, 255, 255]}],
            id="district", get_position="position", get_fill_color="color", radius_min_pixels=7, get_radius=4000,
            pickable=True))
        if len(frame) == 1:
            frame += [(s.district_lon - 8, s.district_lat - 6), (s.district_lon + 8, s.district_lat + 6)]
        deck = _deck(ctx, layers, frame)
        # the notice in the middle of the view, each line cut to what a 920-px panel holds
        notice = ctx.text(*sit.notice) if sit.notice else ""
        lines = [_cut(ln) for ln in notice.split("\n")]
        view = deck.initial_view_state
        deck.layers.append(text_layer("notice", [{"position": [view.longitude, view.latitude],
                                                  "text": "\n".join(lines)}], size=18, color=[246, 211, 60, 255]))
        return deck

    pts = storm.points
    past = [p for p in pts if p.time <= now_t] + [cur]
    horizon = now_t + timedelta(hours=s.forecast_hours)
    fut = [cur] + [p for p in pts if now_t < p.time <= horizon]
    lead_h = [(p.time - now_t).total_seconds() / 3600 for p in fut]
    cone = typhoon.forecast_cone(fut, [10 + 1.9 * h for h in lead_h]) if len(fut) > 1 else []
    circles = []
    if cur.radii:
        for lv, col in ((7, [255, 220, 60]), (10, [255, 140, 40]), (12, [240, 50, 60])):
            ring = typhoon.wind_circle(cur.lat, cur.lon, cur.radii.level(lv))
            if ring:
                sizes = "/".join(f"{r:.0f}" for r in cur.radii.level(lv))
                circles.append({"polygon": ring, "name": ctx.text(f"{lv}级风圈 {sizes} km", f"Level-{lv} wind {sizes} km"),
                                "line": col + [255], "fill": col + [40]})
    dots = _dots(ctx, [p for p in pts if p.time <= horizon and p.wind_ms is not None])
    ap = typhoon.approach(pts, now_t, s.district_lat, s.district_lon)
    district = [{"position": [s.district_lon, s.district_lat], "name": ctx.text("椒江区", "Jiaojiang"),
                 "color": [255, 80, 80, 255] if ap.inside_7 else [255, 255, 255, 255]}]
    code = typhoon.point_class(cur)[0]
    centre_rgb = CLASS_RGB["ET"] if code == "ET" else [255, 40, 40]
    # the storm by its Chinese name, and the time it stands for: the demo replays the track on a simulated clock
    sim = now_t.astimezone(BJT).strftime("%m-%d %H:%M")
    et = " ET" if code == "ET" else ""
    label = [{"position": [cur.lon, cur.lat],
              "text": ctx.text(f"{storm.name_zh} {cur.wind_ms or 0:.0f}m/s{et}\n模拟 {sim}",
                               f"{storm.name} ({storm.name_zh}) {cur.wind_ms or 0:.0f} m/s{et}\nsimulated {sim}")},
             {"position": [s.district_lon, s.district_lat], "text": f"{ap.distance_km:.0f} km"}]
    layers += [
        pdk.Layer("PolygonLayer", data=[{"polygon": cone}] if cone else [], id="cone", get_polygon="polygon",
                  get_fill_color=[255, 255, 255, 28], get_line_color=[255, 255, 255, 120], line_width_min_pixels=1,
                  stroked=True),
        pdk.Layer("PolygonLayer", data=circles, id="circles", get_polygon="polygon", get_fill_color="fill",
                  get_line_color="line", line_width_min_pixels=2, stroked=True, pickable=True),
        pdk.Layer("PathLayer", data=[{"path": [[p.lon, p.lat] for p in past]}], id="past", get_path="path",
                  get_color=[255, 255, 255, 230], width_min_pixels=3),
        pdk.Layer("PathLayer", data=[{"path": [[p.lon, p.lat] for p in fut]}], id="forecast", get_path="path",
                  get_color=[255, 90, 90, 230], width_min_pixels=2, get_dash_array=[6, 4]),
        pdk.Layer("ScatterplotLayer", data=dots, id="points", get_position="position", get_fill_color="color",
                  radius_min_pixels=4, radius_max_pixels=8, get_radius=6000, pickable=True),
        pdk.Layer("ScatterplotLayer", data=[{"position": [cur.lon, cur.lat], "name": storm.label}], id="centre",
                  get_position="position", get_fill_color=centre_rgb + [255],
                  radius_min_pixels=9, get_radius=9000, stroked=True, get_line_color=[255, 255, 255],
                  line_width_min_pixels=2),
        pdk.Layer("ScatterplotLayer", data=district, id="district", get_position="position", get_fill_color="color",
                  radius_min_pixels=7, get_radius=4000, pickable=True),
        text_layer("labels", label, size=18, color=[255, 255, 255, 255], offset=(0, -30)),   # the wall's font
    ]
    frame += [(cur.lon, cur.lat)] + [(p.lon, p.lat) for p in fut[:6]]
    if cur.radii:
        for b in (0, 90, 180, 270):
            la, lo = typhoon.destination(cur.lat, cur.lon, b, typhoon.radius_towards(cur.radii.r7, b))
            frame.append((lo, la))
    return _deck(ctx, layers, frame)


def _cut(line: str, units: int = 84) -> str:
    """``line`` cut to ``units`` half-width characters (a Chinese character counts two) with an ellipsis."""
    out, used = "", 0
    for ch in line:
        used += 2 if ord(ch) >= 0x2E80 else 1
        if used > units:
            return out + "…"
        out += ch
    return out


def _deck(ctx: PanelContext, layers: list[Any], frame: list[tuple[float, float]]) -> pdk.Deck:
    lon, lat, zoom = fit_view(frame, float(ctx.options.get("width_px", 900)), float(ctx.options.get("height_px", 500)))
    view = pdk.ViewState(longitude=float(ctx.options.get("lon", lon)), latitude=float(ctx.options.get("lat", lat)),
                         zoom=float(ctx.options.get("zoom", zoom)), pitch=0, bearing=0)
    return pdk.Deck(layers=layers, initial_view_state=view, map_provider=None, map_style=None,
                    tooltip={"text": "{name}"})


def typhoon_info(ctx: PanelContext) -> Any:
    """The typhoon's figures: class (GB/T 19201-2006, or extratropical), wind, pressure, distance and 7-level
    arrival time; a notice instead of them when the time shown is outside the storm's life."""
    sit = _typhoon(ctx)
    s = ctx.settings
    storm, now_t, cur = sit.storm, sit.time, sit.point
    time_row = (ctx.text("时间(北京)", "Time (BJT)"), now_t.astimezone(BJT).strftime("%Y-%m-%d %H:%M"))
    notice = html.Tr(html.Td(ctx.text(*sit.notice) if sit.notice else "", colSpan=2, className="tb-typhoon-notice",
                             style={"padding": "4px 5px", "color": NOTICE_COLOUR, "fontWeight": 700,
                                    "lineHeight": "21px"}))
    if storm is None:
        return html.Table(html.Tbody([html.Tr([_td(k, color="#8fb3da"), _td(v)]) for k, v in [time_row]] + [notice]),
                          style=TABLE)
    if cur is None:
        rows = [(ctx.text("台风", "Typhoon"), ctx.text(storm.label_zh, storm.label)), time_row,
                (ctx.text("生命期(北京)", "Life (BJT)"),
                 f"{storm.start.astimezone(BJT):%m-%d %H:%M} – {storm.end.astimezone(BJT):%m-%d %H:%M}")]
        return html.Table(html.Tbody([html.Tr([_td(k, color="#8fb3da"), _td(v)]) for k, v in rows] + [notice]),
                          style=TABLE)
    ap = typhoon.approach(storm.points, now_t, s.district_lat, s.district_lon)
    code, name = class_text(ctx, cur)
    arr = (ctx.text("已进入7级风圈", "inside the gale circle") if ap.inside_7 else
           ap.arrival_7.astimezone(BJT).strftime("%m-%d %H:%M") if ap.arrival_7 else "–")
    rows = [
        (ctx.text("台风", "Typhoon"), f"{ctx.text(storm.label_zh, storm.label)} · {name}" + (f" ({code})" if code else "")),
        time_row,
        (ctx.text("中心位置", "Centre"), f"{cur.lat:.1f}°N {cur.lon:.1f}°E"),
        (ctx.text("最大风速/气压", "Wind / pressure"),
         f"{cur.wind_ms or 0:.0f} m/s (≥{typhoon.beaufort(cur.wind_ms or 0)}{ctx.text('级', ' Bft')}) / "
         f"{cur.pressure_hpa or 0:.0f} hPa"),
        (ctx.text("距椒江", "Distance"),
         f"{ap.distance_km:.0f} km, {ctx.text('方位', 'bearing')} {ap.bearing_from_centre:.0f}°"),
        (ctx.text("7级风圈抵达", "Gale circle"), arr),
        (ctx.text("最近距离", "Closest"), f"{ap.closest_km:.0f} km @ {ap.closest_time.astimezone(BJT):%m-%d %H:%M}"
         if ap.closest_time else "–"),
    ]
    return html.Table(html.Tbody([html.Tr([_td(k, color="#8fb3da"), _td(v)]) for k, v in rows]), style=TABLE)
