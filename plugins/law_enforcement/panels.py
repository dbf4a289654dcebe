"""The enforcement screen's panels: plan progress by month and by town, findings by type, rectification
closure, certified inspectors against 100 %, equipment against the required list, the plan's map, and
the tasks due. Every panel reads one :func:`snapshot` (cached a couple of seconds)."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import plotly.graph_objects as go
from dash import dcc, html

from core.api import SEVERITY_COLORS, PanelContext, PanelSpec

from . import grading, plan_map, records as rec_mod
from .model import Unit
from .snapshot import Snapshot, snapshot

FONT = '"Noto Sans SC Subset", "Noto Sans SC", sans-serif'
MUTED, OK, ACCENT = "var(--tb-muted)", "var(--tb-ok)", "#36c6ff"
RED, ORANGE, YELLOW, BLUE = (SEVERITY_COLORS[s] for s in (1, 2, 3, 4))


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.0f}"


def _kpi(label: str, value: str, unit: str = "", color: str | None = None, size: int = 40) -> html.Div:
    return html.Div(className="tb-kpi", children=[
        html.Div([html.Span(value, className="tb-kpi-value", style={"fontSize": f"{size}px"} | (
            {"color": color} if color else {})), html.Span(unit, className="tb-kpi-unit")]),
        html.Div(label, className="tb-kpi-label", style={"fontSize": "16px"})])


def _bar(value: float, color: str, target: float | None = None) -> html.Div:
    marker = [html.Div(style={"position": "absolute", "left": f"calc({target:.0f}% - 1px)", "top": "-3px",
                              "width": "2px", "height": "16px", "background": "#ffffff"})] if target else []
    return html.Div(style={"position": "relative", "background": "rgba(54,198,255,0.12)", "height": "10px",
                           "borderRadius": "5px"}, children=[
        html.Div(style={"width": f"{max(0.0, min(100.0, value)):.0f}%", "height": "100%", "background": color,
                        "borderRadius": "5px"}), *marker])


def _fig(fig: go.Figure, **extra: Any) -> dcc.Graph:
    fig.update_layout(**{"template": "plotly_dark", "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)",
                         "margin": {"l": 40, "r": 10, "t": 36, "b": 30}, "bargap": 0.25,
                         "font": {"size": 15, "color": "#e6f1ff", "family": FONT},
                         "legend": {"orientation": "h", "x": 0, "y": 1.14, "font": {"size": 15}}, **extra})
    return dcc.Graph(figure=fig, config={"displayModeBar": False, "staticPlot": True},
                     style={"height": "100%", "width": "100%"})


def _ent_name(ctx: PanelContext, s: Snapshot, enterprise_id: str, fallback: str) -> str:
    if ctx.lang != "en":
        return fallback
    return next((e.name_en for e in s.enterprises if e.id == enterprise_id), fallback)


def _empty(ctx: PanelContext, zh: str = "暂无执法计划", en: str = "No enforcement plan yet") -> html.Div:
    return html.Div(ctx.text(zh, en), className="tb-empty")


# -- panels ----------------------------------------------------------------------------------------
def kpis(ctx: PanelContext) -> Any:
    """The year's plan at a glance: checks, done, due-and-done rate, overdue, enterprises behind, fines."""
    s = snapshot(ctx)
    checks = s.checks
    if not checks:
        return _empty(ctx)
    done = sum(1 for t in checks if t.state == "done")
    due = [t for t in checks if t.due_date() < s.today]
    due_done = sum(1 for t in due if t.state == "done")
    grace = ctx.settings.overdue_grace_days
    overdue = s.overdue(grace)
    behind = {t.enterprise for t in checks if t.overdue_days(s.today, grace) > 0}
    fines = sum(r.fine_total() for r in s.records)
    rate = due_done / len(due) if due else None
    return html.Div(style={"display": "grid", "gridTemplateColumns": "repeat(3, 1fr)", "gap": "4px",
                           "height": "100%", "alignContent": "center"}, children=[
        _kpi(ctx.text(f"{s.year}年计划检查", f"{s.year} planned checks"), str(len(checks))),
        _kpi(ctx.text("已完成", "Done"), str(done), f"/{len(checks)}", OK),
        _kpi(ctx.text("到期完成率", "Due and done"), _pct(rate), "%",
             OK if rate is None or rate >= 0.999 else ORANGE),
        _kpi(ctx.text("逾期任务", "Overdue tasks"), str(len(overdue)), "", RED if overdue else OK),
        _kpi(ctx.text("计划滞后企业", "Enterprises behind"), str(len(behind)), "", ORANGE if behind else OK),
        _kpi(ctx.text("罚款(万元)", "Fines (10k yuan)"), f"{fines / 10000:.1f}", ""),
    ])


def progress_month(ctx: PanelContext) -> Any:
    """Checks planned and done per month of the year (follow-ups apart)."""
    s = snapshot(ctx)
    checks = s.checks
    if not checks:
        return _empty(ctx)
    months = list(range(1, 13))
    planned = [sum(1 for t in checks if t.month == m) for m in months]
    done = [sum(1 for t in checks if t.month == m and t.state == "done") for m in months]
    late = [sum(1 for t in checks if t.month == m and t.overdue_days(s.today) > 0) for m in months]
    fups = [sum(1 for t in s.tasks if t.kind == "follow_up" and t.year == s.year and t.month == m) for m in months]
    labels = [ctx.text(f"{m}月", dt.date(2000, m, 1).strftime("%b")) for m in months]
    fig = go.Figure([
        go.Bar(x=labels, y=planned, name=ctx.text("计划", "Planned"), marker_color="rgba(54,198,255,0.35)",
               marker_line_color=ACCENT, marker_line_width=1),
        go.Bar(x=labels, y=done, name=ctx.text("完成", "Done"), marker_color="#2fd08a"),
        go.Bar(x=labels, y=late, name=ctx.text("逾期", "Overdue"), marker_color=RED),
        go.Scatter(x=labels, y=fups, name=ctx.text("复查", "Follow-ups"), mode="lines+markers",
                   line={"color": YELLOW, "width": 2}),
    ])
    return _fig(fig, barmode="group", yaxis={"gridcolor": "rgba(54,198,255,0.15)", "dtick": 2})


def progress_town(ctx: PanelContext) -> Any:
    """Each town's checks: done of planned, due and done, overdue."""
    s = snapshot(ctx)
    checks = s.checks
    if not checks:
        return _empty(ctx)
    rows = []
    towns = sorted({t.town for t in checks}, key=lambda k: [x[0] for x in grading.TOWNS].index(k)
                   if k in grading.TOWN_NAMES else 99)
    for town in towns:
        mine = [t for t in checks if t.town == town]
        done = sum(1 for t in mine if t.state == "done")
        due = [t for t in mine if t.due_date() < s.today]
        late = sum(1 for t in due if t.state != "done")
        color = RED if late else OK
        rows.append(html.Div(style={"padding": "5px 0", "borderBottom": "1px solid rgba(29,79,143,0.5)"}, children=[
            html.Div(style={"display": "flex", "justifyContent": "space-between", "fontSize": "18px"}, children=[
                html.Span(grading.town_text(town, ctx.lang)),
                html.Span([html.B(f"{done}", style={"color": OK}), f" / {len(mine)}",
                           html.Span(f"  {ctx.text('逾期', 'late')} {late}" if late else "",
                                     style={"color": RED, "fontSize": "16px"})])]),
            _bar(100 * done / len(mine), color if late else ACCENT, 100 * len(due) / len(mine) if due else None)]))
    foot = html.Div(ctx.text("白线:截至今日应完成比例", "White mark: share due by today"),
                    style={"fontSize": "16px", "color": MUTED, "marginTop": "6px"})
    # the enterprises by risk grade with their checks a year: also the legend of the plan's map
    freq = ctx.settings.frequency
    grades = html.Div(style={"marginTop": "auto"}, children=[
        html.Div(ctx.text("企业风险等级 · 年检查频次", "Enterprises by risk grade · checks a year"),
                 style={"fontSize": "16px", "fontWeight": 700, "marginBottom": "4px"}),
        *[html.Div(style={"display": "flex", "alignItems": "center", "gap": "8px", "fontSize": "16px",
                          "margin": "2px 0"}, children=[
            html.Span(style={"width": "14px", "height": "14px", "borderRadius": "50%", "flex": "none",
                             "background": grading.GRADE_TEXT[g][2]}),
            html.Span(grading.GRADE_TEXT[g][0] if ctx.lang == "zh" else grading.GRADE_TEXT[g][1], style={"flex": 1}),
            html.B(str(sum(1 for e in s.enterprises if e.grade == g))),
            html.Span(ctx.text(f"家 · {freq[g]}次/年", f" · {freq[g]}/yr"), style={"color": MUTED, "minWidth": "76px"})])
          for g in ("A", "B", "C", "D")]])
    return html.Div([*rows, foot, grades], style={"display": "flex", "flexDirection": "column", "height": "100%"})


def findings(ctx: PanelContext) -> Any:
    """Findings of this year's records by type (major ones marked)."""
    s = snapshot(ctx)
    cat = rec_mod.catalog()
    counts = {k: 0 for k in cat}
    major = {k: 0 for k in cat}
    for r in s.records:
        for f in r.findings:
            counts[f["type"]] = counts.get(f["type"], 0) + 1
            major[f["type"]] = major.get(f["type"], 0) + int(f.get("level") == "major")
    if not any(counts.values()):
        return _empty(ctx, "今年检查暂无发现问题", "No findings this year")
    keys = sorted(counts, key=lambda k: (counts[k], k))
    names = [cat[k]["zh"] if ctx.lang == "zh" else cat[k]["en"] for k in keys]
    fig = go.Figure([
        go.Bar(y=names, x=[counts[k] - major[k] for k in keys], orientation="h", name=ctx.text("一般", "General"),
               marker_color=ACCENT),
        go.Bar(y=names, x=[major[k] for k in keys], orientation="h", name=ctx.text("重大", "Major"),
               marker_color=RED)])
    return _fig(fig, barmode="stack", margin={"l": 150, "r": 10, "t": 40, "b": 26},
                legend={"orientation": "h", "x": 1, "xanchor": "right", "y": 1.02, "yanchor": "bottom",
                        "font": {"size": 15}},
                xaxis={"gridcolor": "rgba(54,198,255,0.15)", "dtick": 1})


def closure(ctx: PanelContext) -> Any:
    """Rectification closure rate (records with an order that are closed), and the open ones with deadlines."""
    s = snapshot(ctx)
    ordered = [r for r in s.records if r.has_order()]
    if not ordered:
        return _empty(ctx, "暂无责令限期整改", "No rectification orders yet")
    closed = [r for r in ordered if r.state == "closed"]
    rate = len(closed) / len(ordered)
    fus = {t.id: t for t in s.tasks if t.kind == "follow_up"}
    open_ = []
    for r in ordered:
        if r.state == "closed":
            continue
        nxt = next((fus[f] for f in reversed(r.follow_ups) if f in fus and fus[f].state == "planned"), None)
        open_.append((nxt.due if nxt else "9999", r, nxt))
    open_.sort(key=lambda x: (x[0], x[1].id))
    rows = []
    for due, r, nxt in open_[: int(ctx.options.get("limit", 4))]:
        late = nxt is not None and nxt.overdue_days(s.today) > 0
        rows.append(html.Div(style={"borderLeft": f"5px solid {RED if late else YELLOW}", "padding": "2px 8px",
                                    "margin": "4px 0", "background": "rgba(54,198,255,0.06)"}, children=[
            html.Div(_ent_name(ctx, s, r.enterprise, r.enterprise_name), style={"fontSize": "17px", "whiteSpace": "nowrap", "overflow": "hidden",
                                               "textOverflow": "ellipsis"}),
            html.Div(f"{ctx.text('复查期限', 'follow-up due')} {due if nxt else '–'}"
                     + (f" · {ctx.text('已逾期', 'overdue')} {nxt.overdue_days(s.today):.0f}{ctx.text('天', ' d')}"
                        if late else ""), style={"fontSize": "16px", "color": RED if late else MUTED})]))
    return html.Div(style={"display": "flex", "flexDirection": "column", "height": "100%"}, children=[
        html.Div(style={"display": "flex", "alignItems": "center", "gap": "16px"}, children=[
            _kpi(ctx.text("整改闭环率", "Closure rate"), _pct(rate), "%", OK if rate >= 0.999 else ORANGE, 48),
            html.Div(style={"flex": 1, "fontSize": "17px"}, children=[
                html.Div(f"{ctx.text('责令整改', 'Orders')} {len(ordered)} · {ctx.text('已销号', 'closed')} {len(closed)}"),
                _bar(100 * rate, OK if rate >= 0.999 else ORANGE, 100.0)])]),
        html.Div(ctx.text(f"整改中 {len(open_)} 家", f"Rectifying: {len(open_)}"),
                 style={"fontWeight": 700, "fontSize": "17px", "marginTop": "4px"}),
        *rows])


def certified(ctx: PanelContext) -> Any:
    """Share of active inspectors holding a valid enforcement certificate, against the 100 % target."""
    s = snapshot(ctx)
    active = [i for i in s.inspectors if i.active]
    if not active:
        return _empty(ctx, "暂无执法人员", "No inspectors")
    ok = [i for i in active if i.certified_on(s.today)]
    rate = len(ok) / len(active)
    warn = ctx.settings.cert_warn_days
    unit_name = {u.id: (u.name_en if ctx.lang == "en" else u.name) for u in s.units}
    issues = []
    for i in active:
        if not i.cert_no:
            issues.append((-99999, i, ctx.text("未取得执法证", "no certificate"), RED))
            continue
        left = (dt.date.fromisoformat(i.cert_expiry) - s.today).days
        if left < 0:
            issues.append((left, i, ctx.text(f"已过期 {-left} 天", f"expired {-left} d ago"), RED))
        elif left <= warn:
            issues.append((left, i, ctx.text(f"{left} 天后到期", f"expires in {left} d"),
                           ORANGE if left <= 30 else YELLOW))
    issues.sort(key=lambda x: (x[0], x[1].id))
    rows = [html.Div(style={"display": "flex", "justifyContent": "space-between", "fontSize": "16px",
                            "borderLeft": f"5px solid {color}", "padding": "1px 8px", "margin": "3px 0"}, children=[
        html.Span(f"{ctx.person(i.name)} · {unit_name.get(i.unit, i.unit)}", style={"whiteSpace": "nowrap", "overflow": "hidden",
                                                                         "textOverflow": "ellipsis"}),
        html.Span(text, style={"color": color, "whiteSpace": "nowrap"})])
        for _, i, text, color in issues[: int(ctx.options.get("limit", 4))]]
    return html.Div(style={"display": "flex", "flexDirection": "column", "height": "100%"}, children=[
        html.Div(style={"display": "flex", "alignItems": "center", "gap": "16px"}, children=[
            _kpi(ctx.text("持证上岗率", "Certified"), _pct(rate), "%", OK if rate >= 0.999 else ORANGE, 48),
            html.Div(style={"flex": 1, "fontSize": "17px"}, children=[
                html.Div(f"{ctx.text('目标', 'target')} 100% · {len(ok)}/{len(active)} {ctx.text('人', 'people')}"),
                _bar(100 * rate, OK if rate >= 0.999 else ORANGE, 100.0)])]),
        *rows])


def required(unit: Unit, n_inspectors: int, items: list[Any]) -> dict[str, int]:
    """What a unit must have: base + per_inspector × its inspectors, rounded up."""
    return {e.key: e.base + math.ceil(e.per_inspector * n_inspectors - 1e-9) for e in items}


def equipment(ctx: PanelContext) -> Any:
    """Each unit's vehicles and equipment against the required list (标准化配备); shortfalls in red."""
    s = snapshot(ctx)
    if not s.units:
        return _empty(ctx, "暂无执法单位", "No units")
    items = list(ctx.settings.required_equipment)
    staff = {u.id: sum(1 for i in s.inspectors if i.active and i.unit == u.id) for u in s.units}
    order = [u for u in s.units if u.district] + sorted((u for u in s.units if not u.district),
                                                        key=lambda u: [x[0] for x in grading.TOWNS].index(u.town)
                                                        if u.town in grading.TOWN_NAMES else 99)
    head = html.Tr([html.Th(ctx.text("单位", "Unit"))] + [
        html.Th((e.short or e.zh[:2]) if ctx.lang == "zh" else (e.short_en or e.key[:5]),
                title=e.zh if ctx.lang == "zh" else e.en)
        for e in items])
    body, complete = [], 0
    for u in order:
        need = required(u, staff[u.id], items)
        short = [e.key for e in items if u.equipment.get(e.key, 0) < need[e.key]]
        complete += not short
        name = ctx.text("区执法大队", "District") if u.district else grading.town_text(u.town, ctx.lang)
        cells = []
        for e in items:
            have = u.equipment.get(e.key, 0)
            bad = have < need[e.key]
            cells.append(html.Td(f"{have}/{need[e.key]}" if bad else f"{have}",
                                 style={"color": RED if bad else "#e6f1ff", "fontWeight": 700 if bad else 400}))
        body.append(html.Tr([html.Td(name, style={"color": RED if short else OK})] + cells))
    legend = ctx.text("红色:现有/应配 · 应配 = 基数 + 每名执法人员配额", "Red: have/required · required = base + per inspector")
    return html.Div(style={"display": "flex", "flexDirection": "column", "height": "100%"}, children=[
        html.Div([html.Span(ctx.text("配备达标单位 ", "Units fully equipped ")),
                  html.B(f"{complete}/{len(order)}", style={"color": OK if complete == len(order) else ORANGE,
                                                            "fontSize": "26px"})], style={"fontSize": "17px"}),
        html.Table([html.Thead(head), html.Tbody(body)], className="le-equip",
                   style={"width": "100%", "borderCollapse": "collapse", "fontSize": "16px", "textAlign": "center",
                          "marginTop": "4px"}),
        html.Div(legend, style={"fontSize": "16px", "color": MUTED, "marginTop": "auto", "lineHeight": "20px"})])


def task_list(ctx: PanelContext) -> Any:
    """Overdue tasks first, then those due soonest, with their teams."""
    s = snapshot(ctx)
    open_ = [t for t in s.tasks if t.state == "planned"]
    if not open_:
        return _empty(ctx, "暂无待办检查", "No checks waiting")
    people = {i.id: ctx.person(i.name) for i in s.inspectors}
    open_.sort(key=lambda t: (t.due, t.id))
    rows = []
    for t in open_[: int(ctx.options.get("limit", 6))]:
        late = t.overdue_days(s.today, ctx.settings.overdue_grace_days)
        color = RED if late > 0 else (YELLOW if t.kind == "follow_up" else ACCENT)
        kind = {"plan": ctx.text("计划", "plan"), "added": ctx.text("加检", "extra"),
                "follow_up": ctx.text("复查", "follow-up")}[t.kind]
        rows.append(html.Div(style={"borderLeft": f"5px solid {color}", "padding": "2px 8px", "margin": "4px 0",
                                    "background": "rgba(232,54,59,0.08)" if late > 0 else "rgba(54,198,255,0.06)"},
                             children=[
            html.Div([html.Span(kind, style={"color": color, "marginRight": "8px", "fontSize": "16px"}),
                      _ent_name(ctx, s, t.enterprise, t.enterprise_name)], style={"fontSize": "17px", "whiteSpace": "nowrap", "overflow": "hidden",
                                                  "textOverflow": "ellipsis"}),
            html.Div(f"{ctx.text('期限', 'due')} {t.due} · {ctx.text('、', ', ').join(people.get(i, i) for i in t.inspectors)}"
                     + (f" · {ctx.text('逾期', 'overdue')} {late:.0f}{ctx.text('天', ' d')}" if late > 0 else ""),
                     style={"fontSize": "16px", "color": RED if late > 0 else MUTED, "whiteSpace": "nowrap",
                            "overflow": "hidden", "textOverflow": "ellipsis"})]))
    return html.Div(rows)


def specs() -> list[PanelSpec]:
    P = "law_enforcement"
    src = ("checks",)
    return [
        PanelSpec(f"{P}.kpis", "年度执法计划总览", "Plan at a glance", kpis, sources=src, refresh_s=10),
        PanelSpec(f"{P}.progress_month", "计划进度(按月)", "Plan progress by month", progress_month, refresh_s=30),
        PanelSpec(f"{P}.progress_town", "计划进度(按街道)", "Progress by town", progress_town, refresh_s=30),
        PanelSpec(f"{P}.findings", "检查发现问题分类", "Findings by type", findings, refresh_s=30),
        PanelSpec(f"{P}.closure", "整改闭环", "Rectification closure", closure, refresh_s=15,
                  default_options={"limit": 4}),
        PanelSpec(f"{P}.certified", "执法人员持证上岗", "Certified inspectors", certified, refresh_s=30,
                  default_options={"limit": 4}),
        PanelSpec(f"{P}.equipment", "执法装备标准化配备", "Equipment standard", equipment,
                  refresh_s=60),
        PanelSpec(f"{P}.tasks", "待办检查任务", "Checks due", task_list, refresh_s=15, default_options={"limit": 5}),
        PanelSpec(f"{P}.map", "执法计划一张图", "Enforcement plan map", plan_map.plan_map, refresh_s=30, kind="deck",
                  basemap=True),
    ]
