"""The flood-defence panels: figures, hydrographs, rainfall, warnings, typhoon map, response checklist,
transfers and shelters, five nets (the inundation rehearsal's panels are in ``inundation_panels``)."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Any

import plotly.graph_objects as go
import pydeck as pdk
from dash import dcc, html

from core.api import SEVERITY_COLORS, PanelContext, Severity

from . import data, plans, stations, typhoon
from .simulator import SCENARIO_ID
from .warnings import COLORS, CROSSED, rain_signal

FONT = '"Noto Sans SC Subset", "Noto Sans SC", sans-serif'
BJT = timezone(timedelta(hours=8))
SEV_RGB = {int(s): [int(c[1:3], 16), int(c[3:5], 16), int(c[5:7], 16)] for s, c in SEVERITY_COLORS.items()}
CLASS_RGB = {"TD": [90, 200, 120], "TS": [60, 140, 240], "STS": [250, 220, 60], "TY": [250, 150, 40],
             "STY": [240, 70, 160], "SuperTY": [220, 30, 40], "": [150, 150, 150]}
LEVEL_SEV = {"IV": 4, "III": 3, "II": 2, "I": 1}


# -- shared helpers ----------------------------------------------------------------------------------

def _name(ctx: PanelContext, obj: Any) -> str:
    if isinstance(obj, dict):
        return (obj.get("name_en") or obj["name"]) if ctx.lang == "en" else obj["name"]
    return (obj.name_en or obj.name) if ctx.lang == "en" else obj.name


def _stations(ctx: PanelContext) -> list[stations.Station]:
    return stations.stations_from_entities(ctx.store.entities(kind="station", plugin=ctx.plugin),
                                           ctx.settings.blue_margin_m)


def _fig_layout(fig: go.Figure, **extra: Any) -> go.Figure:
    layout = {"template": "plotly_dark", "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)",
              "margin": {"l": 52, "r": 12, "t": 30, "b": 30},
              "font": {"size": 14, "color": "#e6f1ff", "family": FONT}}
    fig.update_layout(**{**layout, **extra})
    return fig


def _graph(fig: go.Figure) -> dcc.Graph:
    return dcc.Graph(figure=fig, config={"displayModeBar": False}, style={"height": "100%", "width": "100%"})


def _open_flood_alerts(ctx: PanelContext) -> list[Any]:
    return [a for a in ctx.store.alerts() if a.plugin == ctx.plugin]


def _phase(ctx: PanelContext) -> float | None:
    """The demo storm's phase (0..1); also sets the panel's data time to that reading's."""
    lv = ctx.store.latest(entity_ids=[SCENARIO_ID], metric="phase")
    if not lv:
        return None
    ctx.data_time = lv[0].ts
    return lv[0].value


def _track_now(ctx: PanelContext) -> tuple[typhoon.Storm, datetime]:
    """The typhoon and the analysis time: the demo cycle's phase mapped onto the track."""
    storm = data.track(ctx.settings)
    start = datetime.strptime(ctx.settings.typhoon_start, "%Y%m%d%H").replace(tzinfo=timezone.utc)
    if "track_time" in ctx.options:
        return storm, datetime.strptime(str(ctx.options["track_time"]), "%Y%m%d%H").replace(tzinfo=timezone.utc)
    p = _phase(ctx)
    return storm, start + timedelta(hours=ctx.settings.typhoon_hours * (p if p is not None else 0.0))


def _response(ctx: PanelContext) -> tuple[str | None, float | None]:
    alerts = _open_flood_alerts(ctx)
    level = plans.response_level([a.severity for a in alerts])
    opened = min((a.opened_at for a in alerts), default=None)
    return level, opened


def _empty(ctx: PanelContext, zh: str, en: str) -> html.Div:
    return html.Div(ctx.text(zh, en), className="tb-empty")


def _td(text: Any, **style: Any) -> html.Td:
    return html.Td(text, style={"padding": "1px 5px", "lineHeight": "19px", **style})


TABLE = {"width": "100%", "borderCollapse": "collapse", "fontSize": "15px"}
COMPACT = {**TABLE, "fontSize": "14px"}


# -- figures ----------------------------------------------------------------------------------------

def kpis(ctx: PanelContext) -> Any:
    """Response level, the typhoon's class, its distance to the district and when the 7-level circle arrives."""
    level, _ = _response(ctx)
    storm, now_t = _track_now(ctx)
    ap = typhoon.approach(storm.points, now_t, ctx.settings.district_lat, ctx.settings.district_lon)
    cur = typhoon.interpolate(storm.points, now_t)
    code, zh, en, _ = typhoon.intensity_class(cur.wind_ms)
    if ap.inside_7:
        arrival = ctx.text("进入", "in")
    elif ap.arrival_7 is not None:
        h = (ap.arrival_7 - now_t).total_seconds() / 3600
        arrival = f"{h:.0f}h"
    else:
        arrival = "–"
    sev = LEVEL_SEV.get(level or "", 0)

    def kpi(label: str, value: str, unit: str = "", cls: str = "") -> html.Div:
        return html.Div(className="tb-kpi", children=[
            html.Div([html.Span(value, className="tb-kpi-value " + cls, style={"fontSize": "36px"}),
                      html.Span(unit, className="tb-kpi-unit")]),
            html.Div(label, className="tb-kpi-label", style={"fontSize": "15px"})])
    return html.Div(className="tb-kpis", style={"gridTemplateColumns": "repeat(4, 1fr)"}, children=[
        kpi(ctx.text("应急响应", "Response"), level or ctx.text("无", "none"), ctx.text("级", "") if level else "",
            f"tb-sev-{sev}" if sev else ""),
        kpi(f"{ctx.text(zh, en)}", f"{cur.wind_ms or 0:.0f}", "m/s"),
        kpi(ctx.text("距椒江", "Distance"), f"{ap.distance_km:.0f}", "km"),
        kpi(ctx.text("7级风圈抵达", "Gale circle in"), arrival, "", "tb-sev-2" if ap.inside_7 else ""),
    ])


def hydrograph(ctx: PanelContext) -> Any:
    """One station's level with its warning, guaranteed and historical-maximum lines, the short-term forecast
    (trend, or an ingested external forecast), gaps as breaks and spikes as crosses."""
    all_st = _stations(ctx)
    want = str(ctx.options.get("station", "haimen_tide"))
    st = next((s for s in all_st if s.id == want or s.id.endswith("." + want)), None)
    if st is None:
        return _empty(ctx, f"无测站 {want}", f"No station {want}")
    minutes = float(ctx.options.get("minutes", 30))
    pts = ctx.store.series(st.id, st.metric, since=ctx.now - minutes * 60)
    if not pts:
        return _empty(ctx, "暂无数据", "No data yet")
    ctx.data_time = pts[-1][0]
    clean = stations.clean_series(pts, ctx.settings.interval_s, ctx.settings.max_rate_m_per_min)
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[datetime.fromtimestamp(t) for t in clean.times], y=clean.values, mode="lines",
                             name=ctx.text("实测", "observed"), line={"width": 3, "color": "#36c6ff"}, connectgaps=False))
    ext = ctx.store.series(st.id, st.metric + stations.FORECAST_SUFFIX, since=ctx.now)
    fc = stations.blend_external(
        stations.trend_forecast(pts[-200:], horizon_s=float(ctx.options.get("forecast_min", 60)) * 60,
                                fit_s=float(ctx.options.get("fit_min", 30)) * 60,
                                step_s=max(float(ctx.options.get("forecast_min", 60)) * 6, 5)), ext, ctx.now)
    if fc is not None:
        fig.add_trace(go.Scatter(x=[datetime.fromtimestamp(pts[-1][0])] + [datetime.fromtimestamp(t) for t in fc.times],
                                 y=[pts[-1][1]] + fc.values, mode="lines", name=ctx.text(
                                     "预报(外部)" if fc.source == "external" else "趋势预报",
                                     "forecast (ext.)" if fc.source == "external" else "trend forecast"),
                                 line={"width": 2, "dash": "dot", "color": "#ffffff"}))
    if clean.spikes:
        fig.add_trace(go.Scatter(x=[datetime.fromtimestamp(t) for t, _ in clean.spikes], y=[v for _, v in clean.spikes],
                                 mode="markers", name=ctx.text("异常跳变(已剔除)", "spike (removed)"),
                                 marker={"symbol": "x", "size": 10, "color": "#ff5cf0"}))
    ys = [v for v in clean.values if v is not None]
    lo, hi = min(ys), max(ys)
    if st.thresholds is not None:
        th = st.thresholds
        for sev, val, where in ((Severity.III, th.warning, "bottom left"), (Severity.II, th.guaranteed, "top left"),
                                (Severity.I, th.historical_max, "top right")):
            if sev == Severity.I and not ctx.options.get("show_max", True):
                continue
            _, zh, en = CROSSED[sev]
            fig.add_hline(y=val, line={"color": SEVERITY_COLORS[sev], "dash": "dash", "width": 2},
                          annotation_text=f"{ctx.text(zh, en)} {val:.2f}", annotation_position=where,
                          annotation_font={"size": 13, "color": SEVERITY_COLORS[sev]})
        hi = max(hi, th.guaranteed + 0.2)
        if ctx.options.get("show_max", True):
            hi = max(hi, th.historical_max + 0.2)
    note = "" if st.thresholds is not None else ctx.text("  ⚠ 阈值缺失，不判预警", "  ⚠ no thresholds: no warnings")
    if clean.gaps:
        note += ctx.text(f"  · 缺测{len(clean.gaps)}段", f"  · {len(clean.gaps)} gap(s)")
    pad = max((hi - lo) * 0.08, 0.1)
    _fig_layout(fig, showlegend=True, legend={"orientation": "h", "y": -0.12, "font": {"size": 12}},
                margin={"l": 48, "r": 10, "t": 26, "b": 46},
                title={"text": f"{st.label(ctx.lang)} ({st.unit}){note}", "font": {"size": 15}, "x": 0.01, "y": 0.98},
                yaxis={"range": [lo - pad, hi + pad], "gridcolor": "#1d4f8f"},
                xaxis={"gridcolor": "#1d4f8f", "nticks": 5, "tickformat": "%H:%M"}, uirevision=st.id)
    return _graph(fig)


def rainfall(ctx: PanelContext) -> Any:
    """Accumulated rain over 1, 3, 6 and 24 hours per rain station, coloured by the rainstorm signal met."""
    rows = []
    newest = None
    windows = (1, 3, 6, 12, 24)
    for st in _stations(ctx):
        if st.type != "rain":
            continue
        pts = ctx.store.series(st.id, st.metric, since=ctx.now - 24 * 3600 - 60, limit=100000)
        if pts:
            newest = max(newest or 0, pts[-1][0])
        tot = stations.rain_totals(pts, ctx.now, windows)
        sig = rain_signal(tot)
        rows.append((st, tot, sig))
    if not rows:
        return _empty(ctx, "无雨量站", "No rain stations")
    ctx.data_time = newest
    rows.sort(key=lambda r: -r[1][24])
    head = html.Tr([html.Th(ctx.text("雨量站", "Station"), style={"textAlign": "left"})] +
                   [html.Th(f"{h}h", style={"textAlign": "right"}) for h in (1, 3, 6, 24)] +
                   [html.Th(ctx.text("暴雨信号", "Signal"), style={"textAlign": "right"})])
    body = []
    for st, tot, sig in rows:
        colour = SEVERITY_COLORS[sig[0]] if sig else "#8fb3da"
        label = (ctx.text(COLORS[sig[0]][1], COLORS[sig[0]][0]) if sig else "–")
        body.append(html.Tr([_td(st.label(ctx.lang), lineHeight="17px")] +
                            [_td(f"{tot[h]:.1f}", textAlign="right", lineHeight="17px") for h in (1, 3, 6, 24)]
                            + [_td(label, textAlign="right", color=colour, fontWeight=700, lineHeight="17px")]))
    return html.Table([html.Thead(head, style={"color": "#8fb3da"}), html.Tbody(body)],
                      style={**COMPACT, "fontSize": "13px", "lineHeight": "17px"})


def warnings_list(ctx: PanelContext) -> Any:
    """Every water-level and tide station: latest level, warning colour and the threshold crossed."""
    sts = [s for s in _stations(ctx) if s.type != "rain"]
    latest = {lv.entity_id: lv for lv in ctx.store.latest(entity_ids=[s.id for s in sts])}
    alerts = {a.entity_id: a for a in _open_flood_alerts(ctx)}
    rows = []
    for s in sts:
        lv = latest.get(s.id)
        a = alerts.get(s.id)
        sev = Severity(a.severity) if a else None
        if s.thresholds is None:
            status, colour = ctx.text("阈值缺失", "no thresholds"), "#ff5cf0"
        elif sev:
            short_en = {Severity.IV: "near warn", Severity.III: "warning", Severity.II: "guaranteed",
                        Severity.I: "record"}[sev]
            status = f"{ctx.text(COLORS[sev][1], COLORS[sev][0])} · {ctx.text(CROSSED[sev][1], short_en)}"
            colour = SEVERITY_COLORS[sev]
        else:
            status, colour = ctx.text("正常", "normal"), "#2fd08a"
        margin = ""
        if lv and s.thresholds:
            margin = f"{lv.value - s.thresholds.warning:+.2f}"
        rows.append((a.severity if a else (9 if s.thresholds else 10), s, lv, status, colour, margin))
    rows.sort(key=lambda r: (r[0], r[1].id))
    ctx.data_time = max((lv.ts for lv in latest.values()), default=None)
    head = html.Tr([html.Th(ctx.text("测站", "Station"), style={"textAlign": "left"}), html.Th(ctx.text("水位", "Level")),
                    html.Th(ctx.text("超警戒", "Δwarn")), html.Th(ctx.text("预警", "Warning"), style={"textAlign": "left"})])
    body = [html.Tr([_td(s.label(ctx.lang), maxWidth="170px", overflow="hidden", whiteSpace="nowrap", textOverflow="ellipsis"),
                     _td(f"{lv.value:.2f}" if lv else "–", textAlign="right"), _td(m, textAlign="right"),
                     _td(status, color=c, fontWeight=700, whiteSpace="nowrap")]) for _, s, lv, status, c, m in rows]
    return html.Table([html.Thead(head, style={"color": "#8fb3da"}), html.Tbody(body)], style=COMPACT)


# -- typhoon map ---------------------------------------------------------------------------------------

def _base_layers(ctx: PanelContext) -> list[pdk.Layer]:
    ents = ctx.store.entities(plugin=ctx.plugin)
    fills = {"town": [20, 70, 140, 70], "sea": [10, 40, 90, 150], "land": [34, 66, 104, 255]}
    feats = [{"type": "Feature", "geometry": e.geometry,
              "properties": {"name": _name(ctx, e), "kind": e.kind, "fill": fills[e.kind]}}
             for e in ents if e.kind in ("land", "town", "sea") and e.geometry]
    feats.sort(key=lambda f: {"land": 0, "sea": 1, "town": 2}[f["properties"]["kind"]])
    lines = [{"path": e.geometry["coordinates"], "name": _name(ctx, e), "kind": e.kind,
              "color": [60, 170, 255, 230] if e.kind == "river" else [255, 200, 80, 255]}
             for e in ents if e.kind in ("river", "seawall") and e.geometry]
    return [
        pdk.Layer("GeoJsonLayer", data={"type": "FeatureCollection", "features": feats}, id="base", stroked=True,
                  filled=True, get_fill_color="properties.fill",
                  get_line_color=[54, 198, 255, 200], line_width_min_pixels=1, pickable=True),
        pdk.Layer("PathLayer", data=lines, id="lines", get_path="path", get_color="color", width_min_pixels=2,
                  get_width=40, pickable=True),
    ]


def fit_view(points: list[tuple[float, float]], width_px: float, height_px: float, margin: float = 0.5
             ) -> tuple[float, float, float]:
    """(lon, lat, zoom) of a Web-Mercator view (512-px world at zoom 0) showing every (lon, lat)."""
    import math
    lons = [p[0] for p in points]
    ys = [math.log(math.tan(math.pi / 4 + math.radians(p[1]) / 2)) for p in points]
    span_x = max(max(lons) - min(lons), 0.05)
    span_y = max(max(ys) - min(ys), 0.001)
    zx = math.log2(width_px * 360.0 / (512.0 * span_x))
    zy = math.log2(height_px * 2 * math.pi / (512.0 * span_y))
    ymid = (max(ys) + min(ys)) / 2
    lat = math.degrees(2 * math.atan(math.exp(ymid)) - math.pi / 2)
    return (max(lons) + min(lons)) / 2, lat, min(zx, zy) - margin


def typhoon_map(ctx: PanelContext) -> pdk.Deck:
    """The track so far, the forecast track and cone, the 7/10/12-level wind circles, and the district."""
    storm, now_t = _track_now(ctx)
    pts = storm.points
    cur = typhoon.interpolate(pts, now_t)
    past = [p for p in pts if p.time <= now_t] + [cur]
    horizon = now_t + timedelta(hours=ctx.settings.forecast_hours)
    fut = [cur] + [p for p in pts if now_t < p.time <= horizon]
    lead_h = [(p.time - now_t).total_seconds() / 3600 for p in fut]
    cone = typhoon.forecast_cone(fut, [10 + 1.9 * h for h in lead_h]) if len(fut) > 1 else []
    circles = []
    if cur.radii:
        for lv, col in ((7, [255, 220, 60]), (10, [255, 140, 40]), (12, [240, 50, 60])):
            ring = typhoon.wind_circle(cur.lat, cur.lon, cur.radii.level(lv))
            if ring:
                circles.append({"polygon": ring, "name": f"{lv}级风圈 {'/'.join(f'{r:.0f}' for r in cur.radii.level(lv))} km",
                                "line": col + [255], "fill": col + [40]})
    dots = [{"position": [p.lon, p.lat], "color": CLASS_RGB[p.intensity] + [255],
             "name": f"{p.time.astimezone(BJT):%m-%d %H时} {p.wind_ms:.0f}m/s {typhoon.intensity_class(p.wind_ms)[1]}"}
            for p in pts if p.time <= horizon and p.wind_ms is not None]
    s = ctx.settings
    ap = typhoon.approach(pts, now_t, s.district_lat, s.district_lon)
    district = [{"position": [s.district_lon, s.district_lat], "name": ctx.text("椒江区", "Jiaojiang"),
                 "color": [255, 80, 80, 255] if ap.inside_7 else [255, 255, 255, 255]}]
    label = [{"position": [cur.lon, cur.lat], "text": f"{storm.name} {cur.wind_ms or 0:.0f}m/s {now_t.astimezone(BJT):%m-%d %H:%M}"},
             {"position": [s.district_lon, s.district_lat], "text": f"{ap.distance_km:.0f} km"}]
    layers = _base_layers(ctx) + [
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
        pdk.Layer("ScatterplotLayer", data=[{"position": [cur.lon, cur.lat], "name": storm.name}], id="centre",
                  get_position="position", get_fill_color=[255, 40, 40, 255], radius_min_pixels=9, get_radius=9000,
                  stroked=True, get_line_color=[255, 255, 255], line_width_min_pixels=2),
        pdk.Layer("ScatterplotLayer", data=district, id="district", get_position="position", get_fill_color="color",
                  radius_min_pixels=7, get_radius=4000, pickable=True),
        pdk.Layer("TextLayer", data=label, id="labels", get_position="position", get_text="text", get_size=16,
                  get_color=[255, 255, 255, 255], get_pixel_offset=[0, -22], background=True,
                  get_background_color=[5, 13, 31, 200], outline_width=0),
    ]
    frame = [(cur.lon, cur.lat), (s.district_lon, s.district_lat)] + [(p.lon, p.lat) for p in fut[:6]]
    if cur.radii:
        for b in (0, 90, 180, 270):
            la, lo = typhoon.destination(cur.lat, cur.lon, b, typhoon.radius_towards(cur.radii.r7, b))
            frame.append((lo, la))
    lon, lat, zoom = fit_view(frame, float(ctx.options.get("width_px", 900)), float(ctx.options.get("height_px", 500)))
    view = pdk.ViewState(longitude=float(ctx.options.get("lon", lon)), latitude=float(ctx.options.get("lat", lat)),
                         zoom=float(ctx.options.get("zoom", zoom)), pitch=0, bearing=0)
    return pdk.Deck(layers=layers, initial_view_state=view, map_provider=None, map_style=None,
                    tooltip={"text": "{name}"})


def typhoon_info(ctx: PanelContext) -> Any:
    """The typhoon's figures: class by GB/T 19201-2006, wind, pressure, distance and 7-level arrival time."""
    storm, now_t = _track_now(ctx)
    s = ctx.settings
    cur = typhoon.interpolate(storm.points, now_t)
    ap = typhoon.approach(storm.points, now_t, s.district_lat, s.district_lon)
    code, zh, en, _ = typhoon.intensity_class(cur.wind_ms)
    arr = (ctx.text("已进入7级风圈", "inside the gale circle") if ap.inside_7 else
           ap.arrival_7.astimezone(BJT).strftime("%m-%d %H:%M") if ap.arrival_7 else "–")
    rows = [
        (ctx.text("台风", "Typhoon"), f"{storm.cn_id} {storm.name} · {ctx.text(zh, en)} ({code})"),
        (ctx.text("时间(北京)", "Time (BJT)"), now_t.astimezone(BJT).strftime("%Y-%m-%d %H:%M")),
        (ctx.text("中心位置", "Centre"), f"{cur.lat:.1f}°N {cur.lon:.1f}°E"),
        (ctx.text("最大风速/气压", "Wind / pressure"), f"{cur.wind_ms or 0:.0f} m/s (≥{typhoon.beaufort(cur.wind_ms or 0)}级) / "
                                                     f"{cur.pressure_hpa or 0:.0f} hPa"),
        (ctx.text("距椒江", "Distance"), f"{ap.distance_km:.0f} km, {ctx.text('方位', 'bearing')} {ap.bearing_from_centre:.0f}°"),
        (ctx.text("7级风圈抵达", "Gale circle"), arr),
        (ctx.text("最近距离", "Closest"), f"{ap.closest_km:.0f} km @ {ap.closest_time.astimezone(BJT):%m-%d %H:%M}"
         if ap.closest_time else "–"),
    ]
    return html.Table(html.Tbody([html.Tr([_td(k, color="#8fb3da"), _td(v)]) for k, v in rows]), style=TABLE)


# -- plans, transfers, five nets ------------------------------------------------------------------------

def plan_checklist(ctx: PanelContext) -> Any:
    """The response level the open warnings call for and its checklist (with the lower levels' actions)."""
    level, opened = _response(ctx)
    plan = data.plan()
    if ctx.options.get("level"):
        level, opened = str(ctx.options["level"]), opened or ctx.now
    if level is None:
        return html.Div([html.Div(ctx.text("未启动应急响应", "No response active"), className="tb-kpi-value",
                                  style={"fontSize": "26px", "color": "#2fd08a"}),
                         html.Div(ctx.text("预警发布后自动启动对应级别预案", "A warning opens the response of its level"),
                                  className="tb-empty")])
    done = {}
    for entry in ctx.store.audit_log(limit=200):
        if entry.action == "flood_defence.action_done":
            done.setdefault(entry.target.split(":", 1)[-1], entry.ts)
    speed = ctx.settings.demo_speed if ctx.settings.demo_progress else 0.0
    sev = LEVEL_SEV[level]
    name, name_en, _ = plan.levels[level]
    items, lower = [], {}
    for lv, a in plans.active_actions(plan, level):
        status, _t = plans.action_status(a, opened or ctx.now, ctx.now, done, speed)
        if lv != level:
            n_done, n_all = lower.get(lv, (0, 0))
            lower[lv] = (n_done + (status == "done"), n_all + 1)
            continue
        mark, col = {"done": ("✔", "#2fd08a"), "due": ("○", "#e6f1ff"), "overdue": ("!", "#e8363b")}[status]
        items.append(html.Tr([_td(mark, color=col, fontWeight=700, width="18px"), _td(ctx.text(a.action, a.action_en)),
                              _td(a.person, color="#8fb3da", whiteSpace="nowrap", textAlign="right")]))
    summary = "  ".join(f"{lv}{ctx.text('级', '')} {d}/{n}" for lv, (d, n) in lower.items())
    return html.Div([
        html.Div([html.Span(ctx.text(name, name_en), style={"fontSize": "21px", "fontWeight": 700,
                                                            "color": SEVERITY_COLORS[Severity(sev)]}),
                  html.Span(ctx.text("  已启动 ", "  opened ") + time.strftime("%H:%M", time.localtime(opened))
                            if opened else "", style={"color": "#8fb3da", "fontSize": "14px"})]),
        html.Table(html.Tbody(items), style=COMPACT),
        html.Div(ctx.text("下级响应措施: ", "Lower levels: ") + summary if summary else "",
                 style={"color": "#8fb3da", "fontSize": "13px", "marginTop": "2px"})],
        style={"overflow": "hidden", "height": "100%"})


def transfers_panel(ctx: PanelContext) -> Any:
    """People to transfer and transferred so far; shelter occupancy against capacity
    (option ``show: villages``: the villages with their numbers and responsible persons instead)."""
    level, opened = _response(ctx)
    ents = ctx.store.entities(plugin=ctx.plugin)
    progress = 0.0
    if level in ("III", "II", "I") and opened and ctx.settings.demo_progress:
        progress = (ctx.now - opened) * ctx.settings.demo_speed / (180 * 60.0)
    progress = float(ctx.options.get("progress", progress))
    st = plans.transfers([e for e in ents if e.kind == "village"], [e for e in ents if e.kind == "shelter"], progress)
    pct = 100.0 * st.transferred / max(st.to_transfer, 1)
    if ctx.options.get("show") == "villages":
        rows = [html.Tr([_td(_name(ctx, v)), _td(f"{v['transferred']}/{v['to_transfer']}", textAlign="right"),
                         _td(v["responsible"], color="#8fb3da", textAlign="right")])
                for v in st.villages[: int(ctx.options.get("villages", 8))]]
        return html.Div([
            html.Div(ctx.text(f"已转移 {st.transferred:,} / {st.to_transfer:,} 人 ({pct:.0f}%)",
                              f"Moved {st.transferred:,} / {st.to_transfer:,} ({pct:.0f}%)"),
                     style={"fontSize": "18px", "color": "#f6d33c"}),
            html.Table(html.Tbody(rows), style=COMPACT)])
    bars = []
    for s in sorted(st.shelters, key=lambda s: -s["occupied"] / max(s["capacity"], 1))[: int(ctx.options.get("shelters", 4))]:
        share = s["occupied"] / max(s["capacity"], 1)
        col = "#e8363b" if share >= 0.95 else "#f5852a" if share >= 0.8 else "#2fd08a"
        bars.append(html.Div([
            html.Div(_name(ctx, s), style={"width": "46%", "whiteSpace": "nowrap", "overflow": "hidden", "textOverflow": "ellipsis"}),
            html.Div(html.Div(style={"width": f"{min(share, 1) * 100:.0f}%", "height": "100%", "background": col}),
                     style={"flex": 1, "height": "12px", "background": "#12305a", "margin": "0 8px"}),
            html.Div(f"{s['occupied']}/{s['capacity']}", style={"width": "78px", "textAlign": "right"})],
            style={"display": "flex", "alignItems": "center", "fontSize": "14px", "margin": "1px 0"}))
    return html.Div([
        html.Div([html.Span(f"{st.transferred:,}", className="tb-kpi-value", style={"fontSize": "30px"}),
                  html.Span(f" / {st.to_transfer:,} {ctx.text('人已转移', 'moved')}", className="tb-kpi-unit"),
                  html.Span(f"  {pct:.0f}%", style={"fontSize": "20px", "color": "#f6d33c", "marginLeft": "8px"})]),
        html.Div(bars)])


def five_nets(ctx: PanelContext) -> Any:
    """The 8 streets/towns' standardisation against the five nets (scores per net, total, pass)."""
    plan = data.plan()
    towns = ctx.store.entities(kind="town", plugin=ctx.plugin)
    scores = plans.five_nets_scores(plan, towns)
    if not scores:
        return _empty(ctx, "无街道数据", "No towns")
    passed = sum(1 for s in scores if s["pass"])

    def cell(v: float | None) -> html.Td:
        if v is None:
            return _td("?", textAlign="center", color="#ff5cf0")
        col = "#2fd08a" if v >= plan.pass_score else "#f6d33c" if v >= 75 else "#e8363b"
        return _td(f"{v:.0f}", textAlign="center", color=col, lineHeight="17px")
    head = html.Tr([html.Th(ctx.text(f"达标 {passed}/{len(scores)}", f"Pass {passed}/{len(scores)}"),
                            style={"textAlign": "left", "color": "#f6d33c"})] +
                   [html.Th(ctx.text(n.get("short", n["name"][:2]), n.get("short_en", n["name_en"][:6])), title=n["name"])
                    for n in plan.nets] +
                   [html.Th(ctx.text("总分", "Total"))])
    body = [html.Tr([_td(_name(ctx, s), lineHeight="17px")] + [cell(s["scores"][n["key"]]) for n in plan.nets] +
                    [_td(f"{s['total']:.0f} {'✔' if s['pass'] else '✘'}", textAlign="right",
                         color="#2fd08a" if s["pass"] else "#e8363b", fontWeight=700, lineHeight="17px")])
            for s in scores]
    return html.Table([html.Thead(head, style={"color": "#8fb3da"}), html.Tbody(body)],
                      style={**TABLE, "fontSize": "13px"})
