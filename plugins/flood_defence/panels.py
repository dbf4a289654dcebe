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

from . import best_tracks, data, plans, stations, typhoon
from .simulator import SCENARIO_ID
from .warnings import COLORS, CROSSED, rain_signal

FONT = '"Noto Sans SC Subset", "Noto Sans SC", sans-serif'
BJT = timezone(timedelta(hours=8))
SEV_RGB = {int(s): [int(c[1:3], 16), int(c[3:5], 16), int(c[5:7], 16)] for s, c in SEVERITY_COLORS.items()}
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


def _since_scenario(ctx: PanelContext, opened: float | None) -> float | None:
    """When the demo's progress (transfers, checklist) counts from: the response's opening, or the start of the
    demo storm cycle running now when that is later (a new cycle starts the scenario again, storm and all)."""
    if opened is None or not ctx.settings.demo_progress:
        return opened
    lv = ctx.store.latest(entity_ids=[SCENARIO_ID], metric="phase")
    if not lv:
        return opened
    return max(opened, lv[0].ts - lv[0].value * ctx.settings.storm_period_s)


def _typhoon(ctx: PanelContext) -> best_tracks.Situation:
    """The storm the panel shows and where it is at the analysis time (the demo cycle's phase mapped onto
    ``typhoon_start`` .. ``+ typhoon_hours``, or the option ``track_time``); see ``best_tracks.situation``."""
    phase = None if ctx.options.get("track_time") else _phase(ctx)
    return best_tracks.situation(ctx.store, ctx.settings, ctx.options, phase)


def _response(ctx: PanelContext) -> tuple[str | None, float | None]:
    alerts = _open_flood_alerts(ctx)
    level = plans.response_level([a.severity for a in alerts])
    opened = min((a.opened_at for a in alerts), default=None)
    return level, opened


def _empty(ctx: PanelContext, zh: str, en: str) -> html.Div:
    return html.Div(ctx.text(zh, en), className="tb-empty")


def _td(text: Any, **style: Any) -> html.Td:
    return html.Td(text, style={"padding": "1px 5px", "lineHeight": "19px", **style})


TABLE = {"width": "100%", "borderCollapse": "collapse", "fontSize": "16px"}
COMPACT = {**TABLE, "fontSize": "16px"}


# -- figures ----------------------------------------------------------------------------------------

def kpis(ctx: PanelContext) -> Any:
    """Response level, the typhoon's class, its distance to the district and when the 7-level circle arrives."""
    level, _ = _response(ctx)
    sit = _typhoon(ctx)
    storm, now_t, cur = sit.storm, sit.time, sit.point
    if storm is not None and cur is not None:
        ap = typhoon.approach(storm.points, now_t, ctx.settings.district_lat, ctx.settings.district_lon)
        _, zh, en, _ = typhoon.point_class(cur)
        wind, distance = f"{cur.wind_ms or 0:.0f}", f"{ap.distance_km:.0f}"
        inside = ap.inside_7
        if ap.inside_7:
            arrival = ctx.text("进入", "in")
        elif ap.arrival_7 is not None:
            h = (ap.arrival_7 - now_t).total_seconds() / 3600
            arrival = f"{h:.0f}h"
        else:
            arrival = "–"
    else:   # no storm, or the time is outside its life: no figures (the typhoon panels say why)
        zh, en = ("不在生命期", "outside its life") if storm is not None else ("无台风", "no storm")
        wind = distance = arrival = "–"
        inside = False
    sev = LEVEL_SEV.get(level or "", 0)

    def kpi(label: str, value: str, unit: str = "", cls: str = "") -> html.Div:
        return html.Div(className="tb-kpi", children=[
            html.Div([html.Span(value, className="tb-kpi-value " + cls, style={"fontSize": "36px"}),
                      html.Span(unit, className="tb-kpi-unit")]),
            html.Div(label, className="tb-kpi-label", style={"fontSize": "16px"})])
    return html.Div(className="tb-kpis", style={"gridTemplateColumns": "repeat(4, 1fr)"}, children=[
        kpi(ctx.text("应急响应", "Response"), level or ctx.text("无", "none"), ctx.text("级", "") if level else "",
            f"tb-sev-{sev}" if sev else ""),
        kpi(f"{ctx.text(zh, en)}", wind, "m/s"),
        kpi(ctx.text("距椒江", "Distance"), distance, "km"),
        kpi(ctx.text("7级风圈抵达", "Gale circle in"), arrival, "", "tb-sev-2" if inside else ""),
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
                      style={**COMPACT, "fontSize": "16px", "lineHeight": "20px"})


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


# -- map helpers (the typhoon panels are in typhoon_panels.py) --------------------------------------

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
        status, _t = plans.action_status(a, _since_scenario(ctx, opened) or ctx.now, ctx.now, done, speed)
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
                            if opened else "", style={"color": "#8fb3da", "fontSize": "16px"})]),
        html.Table(html.Tbody(items), style=COMPACT),
        html.Div(ctx.text("下级响应措施: ", "Lower levels: ") + summary if summary else "",
                 style={"color": "#8fb3da", "fontSize": "16px", "marginTop": "2px"})],
        style={"overflow": "hidden", "height": "100%"})


def transfers_panel(ctx: PanelContext) -> Any:
    """People to transfer and transferred so far; shelter occupancy against capacity
    (option ``show: villages``: the villages with their numbers and responsible persons instead)."""
    level, opened = _response(ctx)
    ents = ctx.store.entities(plugin=ctx.plugin)
    progress = 0.0
    if level in ("III", "II", "I") and opened and ctx.settings.demo_progress:
        progress = (ctx.now - (_since_scenario(ctx, opened) or opened)) * ctx.settings.demo_speed / (180 * 60.0)
    progress = float(ctx.options.get("progress", progress))
    # people moved as confirmed in the field (grid workers, via the store): readings ``transferred`` on villages
    since = opened if opened else ctx.now - 86400
    reported = {lv.entity_id: lv.value for lv in ctx.store.latest(metric="transferred") if lv.ts >= since}
    st = plans.transfers([e for e in ents if e.kind == "village"], [e for e in ents if e.kind == "shelter"], progress,
                         reported=reported)
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
            style={"display": "flex", "alignItems": "center", "fontSize": "16px", "margin": "1px 0"}))
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
                      style={**TABLE, "fontSize": "16px"})
