"""The grid screen's panels: KPIs, coverage per town, overdue patrols, reports by category, the grid map,
each worker's last check-in, the latest reports and evacuation progress. All read the store only."""

from __future__ import annotations

import time
from typing import Any

import pydeck as pdk
from dash import html

from core.api import SEVERITY_COLORS, PanelContext, PanelSpec, text_layer

from . import coverage, evacuation
from .model import CATEGORIES, GRID_TYPES, LEVELS, PLUGIN, day_start, load_twin, week_start
from .reports import reports

MUTED = "var(--tb-muted)"
OK = "var(--tb-ok)"
ROW = {"display": "flex", "justifyContent": "space-between", "alignItems": "center", "gap": "8px"}
ELLIPSIS = {"whiteSpace": "nowrap", "overflow": "hidden", "textOverflow": "ellipsis"}


def _rgb(hex_color: str, alpha: int = 255) -> list[int]:
    return [int(hex_color[i:i + 2], 16) for i in (1, 3, 5)] + [alpha]


def cover_color(frac: float) -> str:
    """Green from 90 %, yellow from 60 %, orange from 30 %, red below (the national warning colours)."""
    return "#2fd08a" if frac >= 0.9 else SEVERITY_COLORS[3] if frac >= 0.6 else SEVERITY_COLORS[2] if frac >= 0.3 \
        else SEVERITY_COLORS[1]


def _name(ctx: PanelContext, zh: str, en: str) -> str:
    return (en or zh) if ctx.lang == "en" else zh


def _state(ctx: PanelContext) -> tuple[Any, dict[str, float]]:
    twin = load_twin(ctx.store)
    seen = coverage.visits(ctx.store, twin)
    ctx.data_time = max(seen.values(), default=None)
    return twin, seen


def _empty(ctx: PanelContext, zh: str, en: str) -> html.Div:
    return html.Div(ctx.text(zh, en), className="tb-empty")


def _bar(frac: float, color: str) -> html.Div:
    return html.Div(style={"flex": 1, "height": "10px", "background": "rgba(54,198,255,0.12)", "borderRadius": "5px"},
                    children=html.Div(style={"width": f"{min(1.0, frac) * 100:.0f}%", "height": "100%",
                                             "background": color, "borderRadius": "5px"}))


def _kpi(label: str, value: str, unit: str = "", color: str | None = None) -> html.Div:
    return html.Div(className="tb-kpi", children=[
        html.Div([html.Span(value, className="tb-kpi-value", style={"fontSize": "38px"} | ({"color": color} if color else {})),
                  html.Span(unit, className="tb-kpi-unit")]),
        html.Div(label, className="tb-kpi-label", style={"fontSize": "16px"})])


def kpis(ctx: PanelContext) -> Any:
    """Grids and workers, coverage today and this week, overdue points, reports today, open evacuation tasks."""
    twin, seen = _state(ctx)
    if not twin.grids:
        return _empty(ctx, "无网格数据", "No grids")
    cov = coverage.overall(twin, seen, ctx.now)
    today = sum(1 for r in reports(ctx.store) if float(r.properties.get("ts", 0)) >= day_start(ctx.now))
    open_tasks = len(evacuation.tasks(ctx.store, open_only=True))
    return html.Div(style={"display": "grid", "gridTemplateColumns": "repeat(3, 1fr)", "gap": "6px 4px",
                           "height": "100%", "alignContent": "center"}, children=[
        _kpi(ctx.text("今日巡查覆盖率", "Covered today"), f"{100 * cov.today_frac:.0f}", "%", cover_color(cov.today_frac)),
        _kpi(ctx.text("本周巡查覆盖率", "Covered this week"), f"{100 * cov.week_frac:.0f}", "%", cover_color(cov.week_frac)),
        _kpi(ctx.text("超期未巡点位", "Overdue points"), str(cov.overdue), f"/{cov.points}",
             SEVERITY_COLORS[2] if cov.overdue else OK),
        _kpi(ctx.text("网格 / 网格员", "Grids / workers"), str(len(twin.grids)), f"/{len(twin.workers)}"),
        _kpi(ctx.text("今日上报隐患", "Reports today"), str(today)),
        _kpi(ctx.text("待完成转移任务", "Open evacuation tasks"), str(open_tasks), "",
             SEVERITY_COLORS[2] if open_tasks else None),
    ])


def town_coverage(ctx: PanelContext) -> Any:
    """Per town: points covered today and this week, as bars with the counts."""
    twin, seen = _state(ctx)
    towns = {c: (zh, en) for c, zh, en in twin.towns()}
    rows = [html.Div(style=ROW | {"color": MUTED, "fontSize": "16px"}, children=[
        html.Span(ctx.text("街道(镇)", "Town"), style={"width": "84px"}),
        html.Span(ctx.text("今日", "Today"), style={"flex": 1}), html.Span(ctx.text("本周", "Week"), style={"flex": 1})])]
    for c in coverage.by_town(twin, seen, ctx.now):
        zh, en = towns[c.key]
        rows.append(html.Div(style=ROW | {"fontSize": "16px", "padding": "4px 0"}, children=[
            html.Span(_name(ctx, zh, en), style={"width": "84px"} | ELLIPSIS),
            html.Div(style={"flex": 1, "display": "flex", "alignItems": "center", "gap": "6px"}, children=[
                _bar(c.today_frac, cover_color(c.today_frac)),
                html.Span(f"{100 * c.today_frac:.0f}%", style={"width": "42px", "textAlign": "right"})]),
            html.Div(style={"flex": 1, "display": "flex", "alignItems": "center", "gap": "6px"}, children=[
                _bar(c.week_frac, cover_color(c.week_frac)),
                html.Span(f"{100 * c.week_frac:.0f}%", style={"width": "42px", "textAlign": "right"})])]))
    return html.Div(rows)


def overdue(ctx: PanelContext) -> Any:
    """Grids whose points are past their patrol interval, worst first, with the worker and the oldest visit."""
    twin, seen = _state(ctx)
    late = coverage.overdue_grids(twin, seen, ctx.now)
    if not late:
        return html.Div(ctx.text("全部点位均在巡查周期内", "Every point is within its patrol interval"),
                        className="tb-empty", style={"color": OK})
    rows = []
    for r in late[: int(ctx.options.get("limit", 7))]:
        g = r["grid"]
        w = twin.workers.get(g.workers[0]) if g.workers else None
        since = (ctx.text(f"最久 {r['oldest_h']:.0f} 小时未巡", f"oldest {r['oldest_h']:.0f} h ago")
                 if r["oldest_h"] is not None else ctx.text("从未巡查", "never patrolled"))
        frac = r["overdue"] / max(r["points"], 1)
        color = SEVERITY_COLORS[1] if frac >= 0.75 else SEVERITY_COLORS[2] if frac >= 0.4 else SEVERITY_COLORS[3]
        rows.append(html.Div(style={"borderLeft": f"5px solid {color}", "padding": "2px 8px", "margin": "4px 0",
                                    "background": "rgba(232,54,59,0.06)"}, children=[
            html.Div(style=ROW | {"fontSize": "16px"}, children=[
                html.Span(_name(ctx, g.name, g.name_en), style=ELLIPSIS),
                html.B(f"{r['overdue']}/{r['points']}", style={"color": color})]),
            html.Div(f"{ctx.text('网格员', 'Worker')} {ctx.person(w.name) if w else '–'} · {since}",
                     style={"fontSize": "16px", "color": MUTED})]))
    more = len(late) - len(rows)
    return html.Div(rows + ([html.Div(ctx.text(f"另有 {more} 个网格", f"{more} more grids"),
                                      style={"color": MUTED, "fontSize": "16px"})] if more > 0 else []))


def by_category(ctx: PanelContext) -> Any:
    """Reports this week by category, as bars (option ``days``: a rolling window instead of the week)."""
    since = ctx.now - float(ctx.options["days"]) * 86400 if ctx.options.get("days") else week_start(ctx.now)
    rs = reports(ctx.store)
    counts = coverage.categories(rs, since)
    ctx.data_time = ctx.now       # reports are events: the list is as of this query, however old the newest one
    if not counts:
        return _empty(ctx, "本周暂无上报", "No reports this week")
    top = max(counts.values())
    rows = []
    for cat, n in counts.most_common(int(ctx.options.get("limit", 8))):
        zh, en = CATEGORIES.get(cat, (cat, cat))
        rows.append(html.Div(style=ROW | {"fontSize": "16px", "padding": "3px 0"}, children=[
            html.Span(ctx.text(zh, en), style={"width": "96px"} | ELLIPSIS),
            _bar(n / top, "var(--tb-accent)"), html.B(str(n), style={"width": "34px", "textAlign": "right"})]))
    return html.Div([html.Div(ctx.text(f"本周共 {sum(counts.values())} 条", f"{sum(counts.values())} this week"),
                              style={"color": MUTED, "fontSize": "16px", "marginBottom": "2px"}), *rows])


def workers(ctx: PanelContext) -> Any:
    """Each worker's last check-in: when and at which point, longest silent first."""
    twin, _seen = _state(ctx)
    last = coverage.last_checkins(ctx.store, twin)
    rows = []
    order = sorted(twin.workers.values(), key=lambda w: last.get(w.id, (0.0, 0))[0])
    for w in order[: int(ctx.options.get("limit", 14))]:
        g = twin.grids.get(w.grid)
        ts, no = last.get(w.id, (None, 0))
        point = next((p for p in twin.grid_points(w.grid) if p.no == no), None)
        age_h = (ctx.now - ts) / 3600 if ts else None
        color = MUTED if age_h is None else SEVERITY_COLORS[1] if age_h > 48 else SEVERITY_COLORS[3] if age_h > 24 else OK
        when = time.strftime("%m-%d %H:%M", time.localtime(ts)) if ts else ctx.text("无签到", "none")
        rows.append(html.Div(style=ROW | {"fontSize": "16px", "padding": "3px 0",
                                          "borderBottom": "1px solid rgba(29,79,143,0.45)"}, children=[
            html.Span(ctx.person(w.name), title=w.name, style={"width": "62px", "flex": "none"} | ELLIPSIS),
            html.Span(_name(ctx, g.name, g.name_en).split("·")[-1] if g else w.grid, style={"flex": 1} | ELLIPSIS),
            html.Span(_name(ctx, point.name, point.name_en).split("·")[-1] if point else "–",
                      style={"width": "110px", "color": MUTED} | ELLIPSIS),
            html.B(when, style={"color": color, "width": "96px", "textAlign": "right"})]))
    return html.Div(rows)


def latest_reports(ctx: PanelContext) -> Any:
    """The newest hazard reports: level, category, grid, when, and whether it went to the enterprise loop."""
    rs = reports(ctx.store)
    twin = load_twin(ctx.store)
    if not rs:
        return _empty(ctx, "暂无上报", "No reports")
    ctx.data_time = ctx.now       # reports are events: the list is as of this query
    rows = []
    for r in rs[: int(ctx.options.get("limit", 5))]:
        p = r.properties
        lv = LEVELS.get(p.get("level", "general"), LEVELS["general"])
        color = SEVERITY_COLORS[lv[2]] if lv[2] else SEVERITY_COLORS[4]
        g = twin.grids.get(p.get("grid", ""))
        tags = [ctx.text(lv[0], lv[1])]
        if p.get("enterprise"):
            tags.append(ctx.text("已转园区闭环", "to park loop"))
        # the worker's description: in English where the report carries it (the demo's), else as written,
        # marked as the original; a cut line keeps its full text as a tooltip
        if ctx.lang == "zh":
            what = tip = r.name.removeprefix("网格上报·")
        else:
            head = r.name_en.removeprefix("Grid report · ")       # as the Chinese line: the category first
            what = [f"{head}: ", ctx.original(p.get("description", ""), p.get("description_en"))]
            tip = f"{head}: {p.get('description_en') or p.get('description', '')}"
        rows.append(html.Div(style={"borderLeft": f"5px solid {color}", "padding": "2px 8px", "margin": "4px 0"}, children=[
            html.Div(what, title=tip, style={"fontSize": "16px"} | ELLIPSIS),
            html.Div(f"{time.strftime('%m-%d %H:%M', time.localtime(float(p.get('ts', 0))))} · "
                     f"{_name(ctx, g.name, g.name_en) if g else p.get('grid')} · {' · '.join(tags)}",
                     style={"fontSize": "16px", "color": MUTED} | ELLIPSIS)]))
    return html.Div(rows)


def evacuation_panel(ctx: PanelContext) -> Any:
    """The newest evacuation campaign: households moved against the target, per grid."""
    ts = evacuation.tasks(ctx.store)
    if not ts:
        return _empty(ctx, "暂无避险转移任务", "No evacuation tasks")
    camp = ts[0].properties["campaign"]
    mine = [t for t in ts if t.properties["campaign"] == camp]
    ctx.data_time = ctx.now       # tasks are records: the list is as of this query
    twin = load_twin(ctx.store)
    hh = sum(int(t.properties["households_moved"]) for t in mine)
    target = sum(int(t.properties["households_target"]) for t in mine)
    people = sum(int(t.properties["people_moved"]) for t in mine)
    rows = []
    for t in sorted(mine, key=lambda t: t.properties["households_moved"] / max(t.properties["households_target"], 1))[
            : int(ctx.options.get("limit", 4))]:
        p = t.properties
        g = twin.grids.get(p["grid"])
        frac = p["households_moved"] / max(p["households_target"], 1)
        rows.append(html.Div(style=ROW | {"fontSize": "16px"}, children=[
            html.Span(_name(ctx, g.name, g.name_en).split("·")[-1] if g else p["grid"], style={"width": "120px"} | ELLIPSIS),
            _bar(frac, OK if frac >= 1 else SEVERITY_COLORS[3]),
            html.Span(f"{p['households_moved']}/{p['households_target']}", style={"width": "64px", "textAlign": "right"})]))
    return html.Div([
        html.Div(mine[0].properties.get("reason", ""), style={"fontSize": "16px", "color": MUTED} | ELLIPSIS),
        html.Div([html.Span(f"{hh}", className="tb-kpi-value", style={"fontSize": "30px"}),
                  html.Span(f" / {target} {ctx.text('户已转移', 'households moved')} · {people} {ctx.text('人', 'people')}",
                            className="tb-kpi-unit")]),
        *rows])


def grid_map(ctx: PanelContext) -> pdk.Deck:
    """Grids coloured by today's coverage, their points (visited today / overdue) and this week's reports."""
    twin, seen = _state(ctx)
    covs = coverage.by_grid(twin, seen, ctx.now)
    d0 = day_start(ctx.now)
    feats = []
    for g in twin.grids.values():
        c = covs[g.id]
        tz, te = GRID_TYPES.get(g.type, (g.type, g.type))
        feats.append({"type": "Feature", "geometry": g.geometry, "properties": {
            "id": g.id, "name": _name(ctx, g.name, g.name_en),
            "info": ctx.text(f"{tz} · 今日覆盖 {c.today}/{c.points} · 超期 {c.overdue}",
                             f"{te} · today {c.today}/{c.points} · overdue {c.overdue}"),
            "fill": _rgb(cover_color(c.today_frac), 95)}})
    dots = []
    for p in twin.points.values():
        t = seen.get(p.id)
        g = twin.grids.get(p.grid)
        late = g is not None and (t is None or ctx.now - t > g.every_h * 3600)
        color = [47, 208, 138, 235] if t is not None and t >= d0 else _rgb(SEVERITY_COLORS[1], 235) if late \
            else [170, 190, 210, 220]
        dots.append({"position": [p.lon, p.lat], "id": p.id, "name": _name(ctx, p.name, p.name_en),
                     "info": ctx.text("今日已巡", "visited today") if t is not None and t >= d0 else
                     ctx.text("超期未巡", "overdue") if late else ctx.text("周期内", "within interval"), "color": color})
    since = week_start(ctx.now)
    reps = []
    for r in reports(ctx.store):
        p = r.properties
        if float(p.get("ts", 0)) < since or p.get("lon") is None:
            continue
        sev = LEVELS.get(p.get("level", "general"), LEVELS["general"])[2] or 4
        reps.append({"position": [p["lon"], p["lat"]], "id": r.id, "name": _name(ctx, r.name, r.name_en),
                     "info": (p.get("description_en") or p.get("description", "")) if ctx.lang == "en" else
                     p.get("description", ""),
                     "color": _rgb(SEVERITY_COLORS[sev], 255)})
    routes = [{"path": line, "id": gid} for gid, line in twin.routes.items() if line]
    layers = [
        pdk.Layer("GeoJsonLayer", data={"type": "FeatureCollection", "features": feats}, id="gp-grids", stroked=True,
                  filled=True, get_fill_color="properties.fill", get_line_color=[140, 210, 255, 200],
                  line_width_min_pixels=1, pickable=True),
        pdk.Layer("PathLayer", data=routes, id="gp-routes", get_path="path", get_color=[54, 198, 255, 120],
                  width_min_pixels=1, get_width=20),
        pdk.Layer("ScatterplotLayer", data=dots, id="gp-points", get_position="position", get_fill_color="color",
                  get_radius=40, radius_min_pixels=2.5, radius_max_pixels=7, pickable=True),
        pdk.Layer("ScatterplotLayer", data=reps, id="gp-reports", get_position="position", get_fill_color="color",
                  get_line_color=[255, 255, 255, 230], stroked=True, line_width_min_pixels=1.5, get_radius=90,
                  radius_min_pixels=5, pickable=True),
    ]
    if ctx.options.get("legend", True):
        lon, lat = float(ctx.options.get("legend_lon", 121.655)), float(ctx.options.get("legend_lat", 28.575))
        steps = [("≥90%", "#2fd08a"), ("60–90%", SEVERITY_COLORS[3]), ("30–60%", SEVERITY_COLORS[2]),
                 ("<30%", SEVERITY_COLORS[1])]
        layers.append(text_layer("gp-legend", [
            {"position": [lon, lat - 0.03 * i], "text": ctx.text(f"今日覆盖 {s}", f"today {s}"), "color": _rgb(c)}
            for i, (s, c) in enumerate(steps)], size=15, color="color", anchor="start"))
    # the mainland's eight streets on the left, 大陈镇's islands out at sea on the right
    view = pdk.ViewState(longitude=float(ctx.options.get("lon", 121.635)), latitude=float(ctx.options.get("lat", 28.60)),
                         zoom=float(ctx.options.get("zoom", 10.05)), pitch=0, bearing=0)
    return pdk.Deck(layers=layers, initial_view_state=view, map_provider=None, map_style=None,
                    tooltip={"text": "{name}\n{info}"})


def specs() -> list[PanelSpec]:
    P = PLUGIN
    src = ("demo_patrol",)
    return [
        PanelSpec(f"{P}.kpis", "网格巡查总览", "Grid patrols at a glance", kpis, sources=src, refresh_s=5),
        PanelSpec(f"{P}.coverage", "各街道巡查覆盖率", "Patrol coverage by town", town_coverage, sources=src, refresh_s=10),
        PanelSpec(f"{P}.overdue", "超期未巡网格", "Overdue patrols", overdue, sources=src, refresh_s=10,
                  default_options={"limit": 7}),
        PanelSpec(f"{P}.categories", "隐患上报分类", "Reports by category", by_category, refresh_s=10),
        PanelSpec(f"{P}.map", "网格巡查一张图", "Grid patrol map", grid_map, sources=src, refresh_s=10, kind="deck",
                  basemap=True),
        PanelSpec(f"{P}.workers", "网格员最近签到", "Workers' last check-in", workers, sources=src, refresh_s=10,
                  default_options={"limit": 14}),
        PanelSpec(f"{P}.reports", "最新隐患上报", "Latest reports", latest_reports, refresh_s=5,
                  default_options={"limit": 5}),
        PanelSpec(f"{P}.evacuation", "避险转移任务", "Evacuation tasks", evacuation_panel, refresh_s=5,
                  default_options={"limit": 4}),
    ]
