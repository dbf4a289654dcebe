"""The 全民安全素养 screen's panels: targets as rings against 100%, shortfalls by unit, training hours,
high-risk enterprises, outreach (五进) by channel and by month, certificates running out, the bases map.
Every panel reads one :func:`kpis.cached` snapshot."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import plotly.graph_objects as go
import pydeck as pdk
from dash import dcc, html

from core.api import SEVERITY_COLORS, PanelContext, PanelSpec, text_layer

from . import kpis
from . import records as R

FONT = '"Noto Sans SC Subset", "Noto Sans SC", sans-serif'
MUTED = "var(--tb-muted)"
OK = "#2fd08a"
CHANNEL_COLORS = {"enterprise": "#36c6ff", "village": "#3cdc78", "community": "#f6d33c", "school": "#ff8a3c",
                  "family": "#e678ff"}
TARGET_TEXT = {"cadre": ("干部轮训", "Cadre training"), "inspector": ("执法复训", "Inspector refresher"),
               "grid_worker": ("网格员培训", "Grid workers"), "frontline": ("一线员工培训", "Front-line training"),
               "principal": ("无有效主要负责人证", "No valid principal cert."),
               "safety_manager": ("无有效安全管理人员证", "No valid safety-manager cert."),
               "certificates": ("三类人员证书过期", "Expired key-personnel certificates")}


def snapshot(ctx: PanelContext) -> kpis.Snapshot:
    s = ctx.settings
    snap = kpis.cached(ctx.store, period_days=s.period_days, expiring_days=s.expiring_days,
                       enterprise_kinds=tuple(s.enterprise_kinds), hazardous_kinds=tuple(s.hazardous_kinds))
    # no data_time: the panels read the store as it is at each render (records change by import, not by a feed)
    return snap


def _rate_color(rate: float) -> str:
    if rate >= 1:
        return OK
    return SEVERITY_COLORS[3] if rate >= 0.9 else SEVERITY_COLORS[2] if rate >= 0.75 else SEVERITY_COLORS[1]


def _ring(label: str, share: kpis.Share, size: int = 104) -> html.Div:
    """A ring filled to the share of 100% (CSS conic gradient), the percentage inside, done/required below."""
    pct = 100 * share.rate
    color = _rate_color(share.rate)
    return html.Div(className="sl-ring-cell", style={"textAlign": "center"}, children=[
        html.Div(style={"width": f"{size}px", "height": f"{size}px", "margin": "0 auto", "borderRadius": "50%",
                        "background": f"conic-gradient({color} {pct:.1f}%, rgba(54,198,255,0.14) 0)",
                        "display": "grid", "placeItems": "center"}, children=html.Div(style={
                            "width": f"{size - 20}px", "height": f"{size - 20}px", "borderRadius": "50%",
                            "background": "#0a1e40", "display": "grid", "placeItems": "center"}, children=html.Div([
                                html.Span(f"{pct:.0f}" if pct < 99.95 else "100", className="sl-ring-value",
                                          style={"fontSize": "32px", "fontWeight": 700, "color": color,
                                                 "fontVariantNumeric": "tabular-nums"}),
                                html.Span("%", style={"fontSize": "16px", "color": MUTED})]))),
        html.Div(label, style={"fontSize": "17px", "marginTop": "4px", "whiteSpace": "nowrap", "lineHeight": "22px"}),
        html.Div(f"{share.done:,}/{share.required:,}", style={"fontSize": "16px", "color": MUTED, "lineHeight": "20px",
                                                              "fontVariantNumeric": "tabular-nums"})])


def targets(ctx: PanelContext) -> Any:
    """The plan's targets against 100%: participation of cadres, inspectors and grid workers, front-line
    coverage of high-risk enterprises, 三类人员 certified."""
    snap = snapshot(ctx)
    p = snap.participation
    rings = [_ring(ctx.text("干部轮训参与率", "Cadres"), p["cadre"]),
             _ring(ctx.text("执法人员复训率", "Inspectors"), p["inspector"]),
             _ring(ctx.text("网格员培训率", "Grid workers"), p["grid_worker"]),
             _ring(ctx.text("高危一线员工覆盖", "High-risk workers"), snap.frontline),
             _ring(ctx.text("三类人员持证率", "Key personnel certified"), snap.three_types)]
    return html.Div(style={"height": "100%", "display": "flex", "flexDirection": "column"}, children=[
        html.Div(rings[:3], style={"display": "grid", "gridTemplateColumns": "repeat(3, 1fr)", "gap": "4px"}),
        html.Div(rings[3:], style={"display": "grid", "gridTemplateColumns": "repeat(2, 1fr)", "gap": "4px",
                                   "marginTop": "6px", "padding": "0 60px"}),
        html.Div(ctx.text(f"目标 100% · 统计期 {ctx.settings.period_days} 天 · 演示数据" if snap.demo else
                          f"目标 100% · 统计期 {ctx.settings.period_days} 天",
                          f"target 100% · period {ctx.settings.period_days} days" + (" · demo data" if snap.demo else "")),
                 style={"fontSize": "16px", "color": MUTED, "textAlign": "right", "marginTop": "auto"})])


def shortfall(ctx: PanelContext) -> Any:
    """Each unit short of a target: what, done of required, and who (where the roster or records name them)."""
    snap = snapshot(ctx)
    limit = int(ctx.options.get("limit", 9))
    if not snap.gaps:
        return html.Div(ctx.text("各项指标均已达标", "Every target met"), className="tb-empty",
                        style={"color": OK, "fontSize": "22px", "padding": "20px"})
    rows = []
    for g in snap.gaps[:limit]:
        zh, en = TARGET_TEXT.get(g.target, (g.target, g.target))
        who = ctx.text("、", ", ").join(ctx.person(m) for m in g.missing[:4]) + ("…" if len(g.missing) > 4 else "")
        rate = g.done / g.required if g.required else 1.0
        unit = ctx.name(g.unit, g.unit_en)     # a cut name keeps its full text as a tooltip
        detail = f"{g.done}/{g.required}" + (f" · {who}" if who else "")
        rows.append(html.Div(className="sl-gap", style={"padding": "5px 0", "borderBottom": "1px solid rgba(29,79,143,0.5)"},
                             children=[
            html.Div(style={"display": "flex", "justifyContent": "space-between", "fontSize": "18px", "gap": "8px"},
                     children=[html.Span(unit, title=unit,
                                         style={"overflow": "hidden", "whiteSpace": "nowrap",
                                                "textOverflow": "ellipsis"}),
                               html.Span([html.Span(ctx.text(zh, en), style={"color": MUTED, "fontSize": "16px",
                                                                             "marginRight": "4px"}),
                                          " ",      # read as two words: "… cert. short 1", never "cert.short"
                                          html.B(f"{ctx.text('缺', 'short')} {g.short}",
                                                 style={"color": _rate_color(rate)})],
                                         style={"whiteSpace": "nowrap"})]),
            html.Div(detail, title=detail,
                     style={"fontSize": "16px", "color": MUTED, "whiteSpace": "nowrap", "overflow": "hidden",
                            "textOverflow": "ellipsis"})]))
    more = len(snap.gaps) - limit
    if more > 0:
        rows.append(html.Div(ctx.text(f"另有 {more} 项未达标", f"{more} more below target"),
                             style={"fontSize": "16px", "color": MUTED, "paddingTop": "4px"}))
    return html.Div(rows)


def _layout(fig: go.Figure, **extra: Any) -> go.Figure:
    fig.update_layout(**{"template": "plotly_dark", "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)",
                         "margin": {"l": 10, "r": 16, "t": 8, "b": 30},
                         "font": {"size": 15, "color": "#e6f1ff", "family": FONT}, **extra})
    return fig


def _graph(fig: go.Figure) -> dcc.Graph:
    return dcc.Graph(figure=fig, config={"displayModeBar": False, "staticPlot": True},
                     style={"height": "100%", "width": "100%"})


def hours(ctx: PanelContext) -> Any:
    """Training hours in the period by category, with the number of people trained."""
    snap = snapshot(ctx)
    cats = [c for c in R.CATEGORIES if snap.hours[c][0] > 0] or list(R.CATEGORIES)
    cats.reverse()
    labels = [R.label(R.CATEGORIES, c, ctx.lang) for c in cats]
    values = [snap.hours[c][0] for c in cats]
    people = [snap.hours[c][1] for c in cats]
    fig = go.Figure(go.Bar(x=values, y=labels, orientation="h", marker={"color": "#36c6ff"},
                           text=[f"{v:,.0f} {ctx.text('学时', 'h')} · {n} {ctx.text('人', 'ppl')}" for v, n in zip(values, people)],
                           textposition="outside", cliponaxis=False, textfont={"size": 14}))
    _layout(fig, margin={"l": 10, "r": 130, "t": 4, "b": 4}, xaxis={"visible": False},
            yaxis={"automargin": True, "tickfont": {"size": 15}}, bargap=0.35)
    return _graph(fig)


def enterprises(ctx: PanelContext) -> Any:
    """High-risk enterprises: front-line workers trained against their worker count, and their 三类 certificates."""
    snap = snapshot(ctx)
    rows = sorted(snap.enterprises, key=lambda e: (e.trained / e.workers if e.workers else 1, e.name))
    limit = int(ctx.options.get("limit", 9))
    out = []
    for e in rows[:limit]:
        rate = e.trained / e.workers if e.workers else 1.0
        color = _rate_color(rate)
        mark = lambda ok, zh, en: html.Span(("✓ " if ok else "✗ ") + ctx.text(zh, en),  # noqa: E731
                                            style={"color": OK if ok else SEVERITY_COLORS[1], "marginLeft": "8px"})
        out.append(html.Div(className="sl-ent", style={"padding": "4px 0"}, children=[
            html.Div(style={"display": "flex", "justifyContent": "space-between", "fontSize": "17px"}, children=[
                html.Span([html.Span("●", style={"color": "#ff8a3c" if e.klass == "fireworks" else "#e678ff",
                                                 "marginRight": "6px"}),
                           e.name_en if ctx.lang == "en" else e.name],
                          style={"overflow": "hidden", "whiteSpace": "nowrap", "textOverflow": "ellipsis"}),
                html.B(f"{e.trained}/{e.workers}", style={"color": color, "fontVariantNumeric": "tabular-nums"})]),
            html.Div(style={"background": "rgba(54,198,255,0.12)", "height": "8px", "borderRadius": "4px"},
                     children=html.Div(style={"width": f"{100 * rate:.0f}%", "height": "100%", "background": color,
                                              "borderRadius": "4px"})),
            html.Div(style={"fontSize": "16px", "color": MUTED}, children=[
                ctx.text(kpis.HIGH_RISK_TEXT[e.klass][0], kpis.HIGH_RISK_TEXT[e.klass][1]),
                mark(e.principal, "主要负责人", "principal"), mark(e.safety_manager, "安全管理人员", "safety mgr"),
                html.Span(ctx.text(f" · 过期证书 {e.expired}", f" · expired {e.expired}"),
                          style={"color": SEVERITY_COLORS[2]}) if e.expired else None])]))
    if not out:
        return html.Div(ctx.text("孪生体中暂无高危企业", "No high-risk enterprises in the twin"), className="tb-empty")
    return html.Div(out)


def channels(ctx: PanelContext) -> Any:
    """五进: events and people reached per channel in the period."""
    snap = snapshot(ctx)
    tiles = []
    for c, (zh, en, _) in R.CHANNELS.items():
        n, people = snap.outreach_channels[c]
        tiles.append(html.Div(className="sl-channel", style={
            "textAlign": "center", "borderTop": f"4px solid {CHANNEL_COLORS[c]}", "padding": "6px 0",
            "background": "rgba(54,198,255,0.06)"}, children=[
            html.Div(zh if ctx.lang == "zh" else en, style={"fontSize": "19px" if ctx.lang == "zh" else "16px",
                                                            "fontWeight": 700, "lineHeight": "26px",
                                                            "overflow": "hidden", "textOverflow": "ellipsis"}),
            html.Div(f"{people:,}", style={"fontSize": "26px", "fontWeight": 700, "color": CHANNEL_COLORS[c],
                                           "fontVariantNumeric": "tabular-nums", "lineHeight": "34px"}),
            html.Div(ctx.text(f"人次 · {n}场", f"ppl · {n} ev."), style={"fontSize": "16px", "color": MUTED,
                                                                          "whiteSpace": "nowrap"})]))
    total = sum(p for _, p in snap.outreach_channels.values())
    events = sum(n for n, _ in snap.outreach_channels.values())
    return html.Div(style={"height": "100%", "display": "flex", "flexDirection": "column", "gap": "8px"}, children=[
        html.Div(tiles, style={"display": "grid", "gridTemplateColumns": "repeat(5, minmax(0, 1fr))", "gap": "6px"}),
        html.Div(ctx.text(f"近一年 {events} 场活动,覆盖 {total:,} 人次", f"{events} events, {total:,} people in the period"),
                 style={"fontSize": "17px", "color": MUTED, "textAlign": "center"})])


def months(ctx: PanelContext) -> Any:
    """People reached per month, stacked by 五进 channel (the last 12 months)."""
    snap = snapshot(ctx)
    labels = [m[2:].replace("-", "/") for m, _ in snap.outreach_months]
    fig = go.Figure()
    for c, (zh, en, _) in R.CHANNELS.items():
        fig.add_trace(go.Bar(x=labels, y=[row[c] for _, row in snap.outreach_months], name=zh if ctx.lang == "zh" else en,
                             marker={"color": CHANNEL_COLORS[c]}))
    _layout(fig, barmode="stack", showlegend=True, margin={"l": 56, "r": 10, "t": 30, "b": 34},
            legend={"orientation": "h", "y": 1.14, "x": 0, "font": {"size": 14}, "traceorder": "normal"},
            yaxis={"gridcolor": "#1d4f8f", "title": {"text": ctx.text("人次", "people"), "font": {"size": 14}}},
            xaxis={"tickfont": {"size": 14}})
    return _graph(fig)


def expiring(ctx: PanelContext) -> Any:
    """Certificates expiring within the warning window, and those already expired (newest first)."""
    snap = snapshot(ctx)
    limit = int(ctx.options.get("limit", 7))
    if not snap.expiring:
        return html.Div(ctx.text("近期无到期证书", "No certificates expiring soon"), className="tb-empty")
    rows = []
    for r, left in snap.expiring[:limit]:
        color = SEVERITY_COLORS[1] if left < 0 else SEVERITY_COLORS[2] if left <= 30 else SEVERITY_COLORS[3]
        when = ctx.text(f"已过期 {-left} 天", f"expired {-left} d ago") if left < 0 else ctx.text(f"{left} 天后到期",
                                                                                                f"in {left} d")
        rows.append(html.Div(style={"display": "grid", "gridTemplateColumns": "80px 1fr 120px", "gap": "6px",
                                    "fontSize": "16px", "padding": "3px 0",
                                    "borderBottom": "1px solid rgba(29,79,143,0.4)"}, children=[
            html.Span(r["person"]),
            html.Span(f"{R.label(R.CATEGORIES, r['category'], ctx.lang)} · {r['unit']}",
                      style={"color": MUTED, "overflow": "hidden", "whiteSpace": "nowrap", "textOverflow": "ellipsis"}),
            html.B(when, style={"color": color, "textAlign": "right"})]))
    return html.Div(rows)


def _rgb(hex_color: str, alpha: int = 235) -> list[int]:
    return [int(hex_color[i:i + 2], 16) for i in (1, 3, 5)] + [alpha]


def bases_map(ctx: PanelContext) -> dict[str, Any]:
    """Demonstration bases (示范企业/社区/学校, the hall, the training base) on the district, and where the
    outreach events of the period took place (dot size: people reached). Legend chips turn each on and off."""
    snap = snapshot(ctx)
    by_type: dict[str, list[dict[str, Any]]] = {t: [] for t in R.BASE_TYPES}
    for b in ctx.store.entities(kind=R.KIND_BASE):
        t = (b.properties or {}).get("base_type", "")
        if not b.geometry or b.geometry.get("type") != "Point" or t not in by_type:
            continue
        by_type[t].append({"id": b.id, "position": b.geometry["coordinates"],
                           "name": (b.name_en or b.name) if ctx.lang == "en" else b.name,
                           "label": R.norm((b.name_en or b.name) if ctx.lang == "en" else b.name).replace("(演示)", "")
                           .replace(" (demo)", ""),
                           "info": R.label(R.BASE_TYPES, t, ctx.lang)})
    since = snap.today - dt.timedelta(days=ctx.settings.period_days)
    events = []
    for ev in R.outreach(ctx.store):
        if not ev.geometry or dt.date.fromisoformat(ev["date"]) < since:
            continue
        events.append({"position": ev.geometry["coordinates"], "radius": 150 + 12 * int(ev["count"]) ** 0.5,
                       "color": _rgb(CHANNEL_COLORS[ev["channel"]], 95), "name": ev.name,
                       "info": f"{R.label(R.CHANNELS, ev['channel'], ctx.lang)} · {ev['place']} · {ev['date']} · "
                               f"{ev['count']} {ctx.text('人', 'people')}"})
    layers: list[Any] = [
        pdk.Layer("ScatterplotLayer", data=events, id="sl-events", get_position="position", get_radius="radius",
                  radius_min_pixels=3, radius_max_pixels=10, get_fill_color="color", stroked=False, pickable=True)]
    legend = [{"ids": ["sl-events"], "label": ctx.text(f"五进活动 {len(events)}", f"Outreach events {len(events)}"),
               "color": [143, 179, 218]}]
    for t, rows in by_type.items():
        if not rows:
            continue
        color = R.BASE_TYPES[t][2]
        layers.append(pdk.Layer("ScatterplotLayer", data=rows, id=f"sl-base-{t}", get_position="position",
                                get_radius=260, radius_min_pixels=9, radius_max_pixels=15, get_fill_color=_rgb(color),
                                stroked=True, get_line_color=[255, 255, 255, 230], line_width_min_pixels=2,
                                pickable=True))
        legend.append({"ids": [f"sl-base-{t}", f"sl-label-{t}"], "label": f"{R.label(R.BASE_TYPES, t, ctx.lang)} {len(rows)}",
                       "color": _rgb(color)[:3]})
    for t, rows in by_type.items():     # labels over every point
        if rows:
            layers.append(text_layer(f"sl-label-{t}", [{"position": r["position"], "text": r["label"]} for r in rows],
                                     size=16, offset=(0, 13), baseline="top"))
    view = pdk.ViewState(longitude=float(ctx.options.get("lon", 121.425)), latitude=float(ctx.options.get("lat", 28.672)),
                         zoom=float(ctx.options.get("zoom", 11.4)), pitch=float(ctx.options.get("pitch", 30)), bearing=0)
    # a dict rather than the Deck: it carries the legend chips (tbLegend) and the tooltip (pydeck's JSON leaves it out)
    deck = json.loads(pdk.Deck(layers=layers, initial_view_state=view, map_provider=None, map_style=None).to_json())
    deck["tooltip"] = {"text": "{name}\n{info}"}
    deck["tbLegend"] = legend
    return deck


def specs() -> list[PanelSpec]:
    P = R.PLUGIN
    return [
        PanelSpec(f"{P}.targets", "规划目标达成", "Targets of the plan", targets, refresh_s=30),
        PanelSpec(f"{P}.shortfall", "未达标单位", "Shortfall by unit", shortfall, refresh_s=30,
                  default_options={"limit": 9}),
        PanelSpec(f"{P}.hours", "培训学时(近一年)", "Training hours (period)", hours, refresh_s=60),
        PanelSpec(f"{P}.enterprises", "高危企业培训覆盖", "High-risk enterprises", enterprises, refresh_s=30,
                  default_options={"limit": 9}),
        PanelSpec(f"{P}.channels", "“五进”宣教", "Outreach (五进)", channels, refresh_s=60),
        PanelSpec(f"{P}.months", "“五进”活动月度覆盖", "Outreach by month", months, refresh_s=60),
        PanelSpec(f"{P}.expiring", "证书到期提醒", "Certificates expiring", expiring, refresh_s=60,
                  default_options={"limit": 7}),
        PanelSpec(f"{P}.bases_map", "宣教示范基地与活动分布", "Demonstration bases and outreach", bases_map,
                  refresh_s=60, kind="deck", basemap=True),
    ]
