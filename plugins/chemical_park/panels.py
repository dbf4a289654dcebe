"""chemical_park panels: 3D scene, threat-zone summary, concentration at a point, hazard sources, KPIs."""

from __future__ import annotations

import math
import time
from typing import Any

import plotly.graph_objects as go
from dash import dcc, html

from core.api import SEVERITY_COLORS, PanelContext

from . import plume, scene
from .threat import Situation, receptor_series, situation
from .closed import ParkGeometry
from .twin import ParkModel, computed_grade, load_model

FONT = '"Noto Sans SC Subset", "Noto Sans SC", sans-serif'
LEVEL_COLOR = {"AEGL-3": SEVERITY_COLORS[1], "AEGL-2": SEVERITY_COLORS[2], "AEGL-1": SEVERITY_COLORS[3]}
LEVEL_ZH = {"AEGL-3": "红区 AEGL-3", "AEGL-2": "橙区 AEGL-2", "AEGL-1": "黄区 AEGL-1"}
LEVEL_EN = {"AEGL-3": "Red AEGL-3", "AEGL-2": "Orange AEGL-2", "AEGL-1": "Yellow AEGL-1"}
GRADE_COLOR = {"一级": SEVERITY_COLORS[1], "二级": SEVERITY_COLORS[2], "三级": SEVERITY_COLORS[3], "四级": SEVERITY_COLORS[4]}
GRADE_EN = {"一级": "I", "二级": "II", "三级": "III", "四级": "IV"}
ROMAN = {1: "Ⅰ", 2: "Ⅱ", 3: "Ⅲ", 4: "Ⅳ", 9: ""}
LIMITS = ("模型局限: 高斯烟羽; 平坦地形; 中性浮力气体(重气体近场会低估); 稳定连续泄漏、稳定风场; "
          "不计反应与沉降; 10 km 外及静风(<1 m/s)不计算。仅供辅助决策。",
          "Model limits: Gaussian plume, flat terrain, neutrally buoyant gas (dense gases such as chlorine are "
          "under-estimated near the source), steady release and wind, no reactions or deposition, nothing beyond "
          "10 km, not valid in calm air (<1 m/s). Decision support only.")
S = {"font-size": "17px"}
PAD = {"padding": "3px 6px"}


def td(children: Any = None, style: dict[str, Any] | None = None, **more: Any) -> html.Td:
    """A compact table cell (the host's .tb-table pads 6px 10px, too roomy for a 460 px column)."""
    return html.Td(children, style={**PAD, **(style or {}), **more})


def th(children: Any = None, style: dict[str, Any] | None = None, **more: Any) -> html.Th:
    # a head is one line: a narrow column never breaks "Grade" or "Downwind" mid-word
    return html.Th(children, style={**PAD, "whiteSpace": "nowrap", **(style or {}), **more})


def _model() -> ParkModel:
    return load_model()


def _latest(ctx: PanelContext, model: ParkModel) -> dict[tuple[str, str], Any]:
    ids = ([s.id for s in model.sensors] + [t.id for t in model.of("tank", "hazmat_vehicle", "zone", "gate")]
           + [model.weather_id])
    return {(lv.entity_id, lv.metric): lv for lv in ctx.store.latest(entity_ids=ids)}


def park_scene(ctx: PanelContext) -> Any:
    model = _model()
    sit = situation(ctx.store, model, ctx.settings, ctx.now)
    latest = _latest(ctx, model)
    ctx.data_time = max((lv.ts for lv in latest.values()), default=None)
    return scene.build(ctx, model, sit, latest)


def _msg_box(text: str, severe: bool = True) -> html.Div:
    color = SEVERITY_COLORS[1] if severe else "#36c6ff"
    return html.Div(text, style={"border": f"1px solid {color}", "borderLeft": f"6px solid {color}",
                                 "padding": "8px 12px", "fontSize": "18px", "margin": "4px 0 8px 0",
                                 "background": "rgba(232,54,59,0.12)" if severe else "rgba(54,198,255,0.08)"})


def _wind_line(ctx: PanelContext, sit: Situation) -> str:
    if not sit.wind:
        return ctx.text("风: 无数据", "Wind: no data")
    w = sit.wind
    cls = f" · {ctx.text('稳定度', 'class')} {sit.stability}" if sit.stability else ""
    return (ctx.text("风", "Wind") + f" {w['wind_ms']:.1f} m/s · "
            + ctx.text(f"来自{plume.compass(w['wind_from_deg'])}({w['wind_from_deg']:.0f}°)",
                       f"from {plume.compass(w['wind_from_deg'], 'en')} ({w['wind_from_deg']:.0f}°)") + cls)


def threat_summary(ctx: PanelContext) -> Any:
    """Who is inside each zone, how many people, which way to evacuate, and the model's limits."""
    model = _model()
    sit = situation(ctx.store, model, ctx.settings, ctx.now)
    ctx.data_time = sit.data_time
    lang = ctx.lang
    limits = html.Div(ctx.text(*LIMITS), style={"fontSize": "16px", "color": "#8fb3da", "marginTop": "4px",
                                                "lineHeight": "1.3", "flex": "none",
                                                "borderTop": "1px solid rgba(29,79,143,0.8)", "paddingTop": "4px"})
    if sit.status == "none":
        return html.Div([_msg_box(ctx.text("无有毒气体泄漏 · 当前无威胁区", "No toxic release · no threat zones"), False),
                         html.Div(_wind_line(ctx, sit), style=S), limits])
    sub = plume.substance(sit.tank.props["substance"])
    since = time.strftime("%H:%M:%S", time.localtime(sit.since)) if sit.since else "–"
    head = html.Div([
        html.Div([html.B(f"{sit.tank.label(lang)} · {sub.name(lang)}"),
                  html.Span(f"  {sit.rate_kg_s:.2f} kg/s · " + ctx.text("始于 ", "since ") + since)],
                 style={"fontSize": "19px", "color": "#ffd0d0"}),
        html.Div(_wind_line(ctx, sit) + (f" · {ctx.text('地表', 'surface')} {ctx.settings.surface}"
                                         if sit.plume else ""), style=S)])
    if sit.plume is None:
        return html.Div([head, _msg_box(ctx.text(*sit.message)), limits])
    rows = [html.Tr([th(ctx.text("威胁区", "Zone")), th(ctx.text("下风距离", "Downwind")),
                     th(ctx.text("人数", "People")), th(ctx.text("区内目标", "Inside"))])]
    for z in sit.zones:
        inside = [a for a in sit.affected if a.level == z.level]
        names = "、".join(a.item.label(lang) for a in inside[:3]) + (" …" if len(inside) > 3 else "")
        dist = (f"{z.distance_m:,.0f} m" + ("+" if z.capped else "")) if z.distance_m else "–"
        rows.append(html.Tr([
            td([html.Div((LEVEL_EN if lang == "en" else LEVEL_ZH)[z.level]),
                     html.Div(f"≥ {z.loc_ppm:g} ppm", style={"fontSize": "16px"})],
                    style={"color": LEVEL_COLOR[z.level], "fontWeight": 700, "whiteSpace": "nowrap"}),
            td(dist, **{"whiteSpace": "nowrap"}), td(f"{sit.people_in(z.level):,}", **{"whiteSpace": "nowrap"}),
            td(names or "–", **{"fontSize": "16px"})]))
    ev = plume.evacuation(sit.plume)
    cz = lambda b: plume.compass(b, lang)  # noqa: E731
    evac = ctx.text(
        f"疏散: 向侧风方向({cz(ev['crosswind_left'])}或{cz(ev['crosswind_right'])})撤出烟羽, "
        f"再向上风向({cz(ev['upwind'])})集结; 烟羽向{cz(sit.plume.toward_deg)}扩散。",
        f"Evacuate crosswind ({cz(ev['crosswind_left'])} or {cz(ev['crosswind_right'])}) out of the plume, "
        f"then regroup upwind ({cz(ev['upwind'])}); the plume travels {cz(sit.plume.toward_deg)}.")
    targets = [a for a in sit.affected if a.item.kind == "sensitive_target"]

    def target_line(a: Any) -> html.Li:
        eta = a.eta(sit.plume, sit.since)
        when = (ctx.text("已到达", "reached") if eta is not None and eta <= ctx.now else
                ctx.text("约", "ETA ") + time.strftime("%H:%M", time.localtime(eta)) + ctx.text("到达", "")) \
            if eta is not None else ""
        return html.Li(f"{a.item.label(lang)} · {a.level} {a.ppm:.2g} ppm · {a.people:,}{ctx.text('人', ' people')}"
                       f" · {when} · {ctx.text('向', 'go ')}{cz(a.crosswind_deg)}", style={"color": LEVEL_COLOR[a.level]})
    tlist = html.Ul([target_line(a) for a in targets[:4]],
                    style={"margin": "2px 0", "paddingLeft": "20px", "fontSize": "16px"})
    warn = []
    if isinstance(sub, plume.Chemical) and sub.heavier_than_air:
        warn = [html.Div(ctx.text(f"注意: {sub.name_zh}比空气重(MW {sub.mw:g}), 近场应以重气体模型复核",
                                  f"Note: {sub.name_en} is heavier than air (MW {sub.mw:g}); check the near field "
                                  "with a dense-gas model"), style={"fontSize": "16px", "color": "#f6d33c"})]
    body = html.Div([head, html.Table(rows, className="tb-table", style={"fontSize": "16px", "margin": "4px 0"}),
                     html.Div(ctx.text(f"区外敏感目标 {len(targets)} 处:", f"Sensitive targets outside: {len(targets)}"),
                              style={"fontSize": "16px"}), tlist,
                     html.Div(evac, style={"fontSize": "16px", "color": "#7fe0ff"}), *warn],
                    style={"flex": "1", "overflow": "hidden", "minHeight": "0"})
    return html.Div([body, limits], style={"display": "flex", "flexDirection": "column", "height": "100%"})


def receptor(ctx: PanelContext) -> Any:
    """Model concentration over time at a point with the AEGL lines: the point last clicked on a map of
    the screen (option ``follow_selection``, on by default), else lon/lat options, else a named entity."""
    model = _model()
    target = ctx.options.get("target", "cp.target.waisha")
    sel = ctx.selection if ctx.options.get("follow_selection", True) else None
    if sel is not None:
        picked = model.get(sel.id) if sel.id else None
        lon, lat, target = sel.lon, sel.lat, f"{sel.lon:.5f},{sel.lat:.5f}"
        where = f"{lon:.4f}°E {lat:.4f}°N"
        label = f"{picked.label(ctx.lang)} ({where})" if picked is not None else where
    elif "lon" in ctx.options and "lat" in ctx.options:
        lon, lat, label = float(ctx.options["lon"]), float(ctx.options["lat"]), f"{ctx.options['lon']}, {ctx.options['lat']}"
    else:
        item = model.get(target)
        if item is None or item.point is None:
            return _msg_box(ctx.text(f"未知目标 {target}", f"Unknown target {target}"))
        (lon, lat), label = item.point, item.label(ctx.lang)
    minutes = float(ctx.options.get("minutes", 30))
    now = ctx.now
    times, values, key = receptor_series(ctx.store, model, ctx.settings, lon, lat, now - minutes * 60, now)
    title = html.Div(ctx.text(f"{label} 处模型浓度", f"Model concentration at {label}"),
                     style={"fontSize": "17px", "color": "#8fb3da"})
    if not times:
        return html.Div([title, html.Div(ctx.text("窗口内无有毒气体泄漏", "No toxic release in the window"),
                                         className="tb-empty")])
    chem = plume.chemical(key)
    ctx.data_time = times[-1]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[time.strftime("%H:%M:%S", time.localtime(t)) for t in times],
                             y=[None if not math.isfinite(v) else v for v in values], mode="lines",
                             line={"width": 3, "color": "#36c6ff"}, name=chem.name(ctx.lang), connectgaps=False))
    top = max([v for v in values if math.isfinite(v)] + [0.0])
    for lvl, idx, _ in plume.LEVELS:
        loc = chem.aegl[idx]
        if loc <= max(top * 1.6, chem.aegl[0] * 1.2):
            fig.add_hline(y=loc, line={"color": LEVEL_COLOR[lvl], "dash": "dash", "width": 2},
                          annotation_text=f"{lvl} {loc:g}", annotation_font={"size": 15, "color": LEVEL_COLOR[lvl]})
    fig.update_layout(template="plotly_dark", paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)",
                      margin={"l": 56, "r": 16, "t": 8, "b": 36}, showlegend=False,
                      font={"size": 15, "color": "#e6f1ff", "family": FONT},
                      yaxis={"title": {"text": "ppm"}, "gridcolor": "#1d4f8f", "rangemode": "tozero"},
                      xaxis={"nticks": 6, "gridcolor": "#1d4f8f"}, uirevision=target)
    now_v = values[-1]
    cur = ctx.text("当前", "now") + (f" {now_v:.3g} ppm" if math.isfinite(now_v) else ctx.text(" 无风数据", " no wind"))
    return html.Div([html.Div([title, html.Span(cur, style={"fontSize": "17px", "marginLeft": "8px"})],
                              style={"display": "flex", "alignItems": "baseline"}),
                     dcc.Graph(figure=fig, config={"displayModeBar": False},
                               style={"height": "calc(100% - 28px)", "width": "100%"})],
                    style={"height": "100%"})


def hazards(ctx: PanelContext) -> Any:
    """Major hazard sources: grade, enterprise, substances, R value and live alarm state."""
    model = _model()
    worst = scene.worst_alarm(ctx)
    order = {"一级": 0, "二级": 1, "三级": 2, "四级": 3}
    rows = [html.Tr([th(ctx.text("等级", "Grade")), th(ctx.text("危险源 / 责任企业", "Source / enterprise")),
                     th(ctx.text("物质", "Substance")), th(ctx.text("状态", "State"))])]
    for h in sorted(model.of("hazard_source"), key=lambda h: (order[h.props["grade"]], h.id)):
        g = h.props["grade"]
        ent = model.get(h.props["enterprise"])
        subs = sorted({plume.substance(model.items[t].props["substance"]).name(ctx.lang) for t in h.props["tanks"]})
        sev = min((scene.tank_alarm(model, model.items[t], worst) or 9 for t in h.props["tanks"]), default=9)
        _, cg = computed_grade(model, h)
        state = (html.Span(ctx.text(f"{ROMAN[sev]}级报警", f"Alarm {ROMAN[sev]}"), style={"color": SEVERITY_COLORS[sev], "fontWeight": 700})
                 if sev < 9 else html.Span(ctx.text("正常", "Normal"), style={"color": "#3ddc84"}))
        if cg != g:
            state = html.Span([state, html.Br(), html.Span(ctx.text(f"核算为{cg}", f"computed {GRADE_EN[cg]}"),
                                                           style={"color": "#f6d33c", "fontSize": "16px"})])
        rows.append(html.Tr([
            td(g if ctx.lang == "zh" else GRADE_EN[g], **{"color": "#08111f", "background": GRADE_COLOR[g],
                                                               "fontWeight": 700, "textAlign": "center",
                                                               "whiteSpace": "nowrap"}),
            td([html.Div(h.label(ctx.lang)),
                     html.Div(ent.label(ctx.lang) if ent else "–", style={"fontSize": "16px", "color": "#8fb3da"})]),
            td("、".join(subs)), td(state, **{"whiteSpace": "nowrap"})]))
    ctx.data_time = time.time()
    return html.Div([html.Table(rows, className="tb-table", style={"fontSize": "16px", "lineHeight": "1.15"}),
                     html.Div(ctx.text("分级依据 GB 18218-2018 (R = α·Σβq/Q, 与台账核对); 演示数据",
                                       "Grades per GB 18218-2018 (R = α·Σβq/Q, checked); demo data"),
                              style={"fontSize": "16px", "color": "#8fb3da", "marginTop": "6px"})],
                    style={"overflow": "hidden", "height": "100%"})


def kpis(ctx: PanelContext) -> Any:
    """Sensors online, open alarms of the park, wind now, major hazard sources."""
    model = _model()
    latest = _latest(ctx, model)
    now = ctx.now
    sensors = model.sensors
    online = sum(1 for s in sensors if (lv := latest.get((s.id, s.props["metric"]))) is not None
                 and now - lv.ts < float(ctx.settings.stale_after_s) and math.isfinite(lv.value))
    alerts = [a for a in ctx.store.alerts(limit=10000) if a.plugin == ctx.plugin]
    worst = min((a.severity for a in alerts), default=None)
    sit = situation(ctx.store, model, ctx.settings, now)
    ctx.data_time = max((lv.ts for lv in latest.values()), default=None)

    def kpi(label: str, value: str, unit: str = "", cls: str = "") -> html.Div:
        return html.Div(className="tb-kpi", children=[
            html.Div([html.Span(value, className="tb-kpi-value " + cls, style={"fontSize": "34px"}),
                      html.Span(unit, className="tb-kpi-unit")]),
            html.Div(label, className="tb-kpi-label")])
    wind = (f"{sit.wind['wind_ms']:.1f}", f"m/s {plume.compass(sit.wind['wind_from_deg'], ctx.lang)}") if sit.wind \
        else ("–", ctx.text("无数据", "no data"))
    return html.Div(className="tb-kpis", style={"gridTemplateColumns": "repeat(2, 1fr)", "rowGap": "6px"}, children=[
        kpi(ctx.text("在线监测点", "Sensors online"), f"{online}", f"/{len(sensors)}"),
        kpi(ctx.text("园区未处置报警", "Open park alarms"), f"{len(alerts)}", "", f"tb-sev-{worst}" if worst else ""),
        kpi(ctx.text("重大危险源", "Major hazard sources"), f"{len(model.of('hazard_source'))}", ctx.text("处", "")),
        kpi(ctx.text("风速风向", "Wind"), *wind),
    ])


def closed_park(ctx: PanelContext) -> Any:
    """封闭化管理: people per zone, gate flows, hazmat vehicles against their routes."""
    model = _model()
    latest = _latest(ctx, model)
    worst = scene.worst_alarm(ctx)
    geo = ParkGeometry(model)
    lang = ctx.lang
    zones = model.of("zone")
    people = {z.id: latest.get((z.id, "people")) for z in zones}
    total = sum(int(lv.value) for lv in people.values() if lv is not None and math.isfinite(lv.value))
    zone_line = html.Div([html.Span(f"{z.label(lang)} {int(people[z.id].value) if people[z.id] else '–'}",
                                    style={"marginRight": "12px", "whiteSpace": "nowrap"}) for z in zones],
                         style={"fontSize": "16px", "display": "flex", "flexWrap": "wrap", "color": "#c8dcf0"})

    def count(gid: str, metric: str) -> str:
        lv = latest.get((gid, metric))
        return f"{lv.value:.0f}" if lv is not None and math.isfinite(lv.value) else "–"
    gates = html.Div([html.Div([html.Span(g.label(lang), style={"color": "#8fb3da", "marginRight": "8px"}),
                                html.Span(ctx.text("人 进/出 ", "people in/out ") +
                                          f"{count(g.id, 'people_in')}/{count(g.id, 'people_out')}  · "),
                                html.Span(ctx.text(" 车 进/出 ", " vehicles in/out ") +
                                          f"{count(g.id, 'vehicles_in')}/{count(g.id, 'vehicles_out')}")])
                      for g in model.of("gate")], style={"fontSize": "16px", "margin": "3px 0", "lineHeight": "1.35"})
    vrows = [html.Tr([th(ctx.text("车辆", "Vehicle")), th(ctx.text("货物", "Cargo")),
                      th(ctx.text("状态", "State"))])]
    newest = None
    for v in model.of("hazmat_vehicle"):
        lo, la = latest.get((v.id, "lon")), latest.get((v.id, "lat"))
        if lo is None or la is None or not (math.isfinite(lo.value) and math.isfinite(la.value)) \
                or ctx.now - lo.ts > float(ctx.settings.stale_after_s):
            state = html.Span(ctx.text("无定位", "no fix"), style={"color": "#8fb3da"})
        else:
            newest = max(newest or 0, lo.ts)
            c = geo.check(v, lo.value, la.value)
            sev = worst.get(v.id)
            if c["closed_zone"]:
                text = ctx.text("闯入封闭区", "in closed zone")
            elif c["off_route_m"] > c["corridor_m"]:
                text = ctx.text(f"偏离路线 {c['off_route_m']:.0f} m", f"off route {c['off_route_m']:.0f} m")
            elif sev is not None:
                text = ctx.text("违规停车", "stopped outside parking")
            elif c["parked"]:
                text = ctx.text("停靠/装卸", "parked / loading")
            else:
                text = ctx.text("按规划路线行驶", "on route")
            state = html.Span(text, style={"color": SEVERITY_COLORS[sev] if sev else "#3ddc84",
                                           "fontWeight": 700 if sev else 400})
        vrows.append(html.Tr([td(v.props.get("plate", v.id)),
                              td(plume.substance(v.props["cargo"]).name(lang)), td(state)]))
    ctx.data_time = newest
    return html.Div([
        html.Div([html.Span(ctx.text("在园人数 ", "People in park "), style={"color": "#8fb3da"}),
                  html.Span(f"{total:,}", className="tb-kpi-value", style={"fontSize": "26px"})],
                 style={"lineHeight": "1.1"}),
        zone_line,
        gates,
        html.Table(vrows, className="tb-table", style={"fontSize": "16px"}),
    ], style={"overflow": "hidden", "height": "100%"})


def integration(ctx: PanelContext) -> Any:
    """五个一体化: each integration against the plan's targets, work permits and hidden hazards."""
    model = _model()
    latest = _latest(ctx, model)
    now = ctx.now
    ok_c, bad_c = "#3ddc84", SEVERITY_COLORS[1]

    def row(name: str, value: str, ok: bool | None, target: str = "", failed: str = "") -> html.Tr:
        mark = "" if ok is None else ("✓" if ok else "✗")
        target = failed if ok is False and failed else target
        return html.Tr([td(name, **{"whiteSpace": "nowrap", "color": "#8fb3da"}), td(value),
                        td(f"{mark} {target}".strip(),
                                style={"color": ok_c if ok else bad_c if ok is not None else "#8fb3da",
                                       "whiteSpace": "nowrap"})])
    staff = model.of("supervisor")
    chem = sum(1 for s in staff if s.props["chem_background"])
    share = chem / len(staff) if staff else 0.0
    teams = model.of("rescue_team")
    members = sum(int(t.props["members"]) for t in teams)
    sensors = model.sensors
    online = sum(1 for s in sensors if (lv := latest.get((s.id, s.props["metric"]))) is not None
                 and now - lv.ts < float(ctx.settings.stale_after_s) and math.isfinite(lv.value))
    alerts = [a for a in ctx.store.alerts(limit=10000) if a.plugin == ctx.plugin]
    people = sum(int(lv.value) for z in model.of("zone") if (lv := latest.get((z.id, "people"))) is not None
                 and math.isfinite(lv.value))
    vehicles = model.of("hazmat_vehicle")
    v_alarm = sum(1 for v in vehicles if any(a.entity_id == v.id for a in alerts))
    med = model.of("medical_station")
    med_team = max((int(m.props.get("hazmat_team_members", 0)) for m in med), default=0)
    beds = sum(int(m.props.get("beds", 0)) for m in med)
    permits = model.of("work_permit")
    working = sum(1 for p in permits if p.props["state"] == "作业中")
    pending = sum(1 for p in permits if p.props["state"] == "审批中")
    hidden = model.of("hidden_hazard")
    today = time.strftime("%Y-%m-%d", time.localtime(now))
    open_h = [h for h in hidden if h.props["state"] != "销号"]
    overdue = sum(1 for h in open_h if str(h.props["deadline"]) < today)
    major = sum(1 for h in open_h if h.props["level"] == "重大")
    t = ctx.text
    rows = [
        row(t("安全监管", "Supervision"), t(f"{len(staff)} 人, 化工背景 {share:.0%}", f"{len(staff)} staff, {share:.0%} chem."),
            len(staff) >= 5 and share >= 0.75, "≥5 / ≥75%"),
        row(t("应急保障", "Rescue"), t(f"{len(teams)} 支队伍 {members} 人", f"{len(teams)} teams, {members} people"),
            all(tm.props.get("ready", True) for tm in teams), t("全部就绪", "all ready"), t("有队伍未就绪", "not all ready")),
        row(t("危险源监控", "Hazard monitoring"), t(f"在线 {online}/{len(sensors)}, 报警 {len(alerts)}",
                                                f"online {online}/{len(sensors)}, alarms {len(alerts)}"),
            online == len(sensors), t("全部在线", "all online"), t("有离线", "some offline")),
        row(t("人流物流", "People & goods"), t(f"在园 {people:,} 人, 危化车 {len(vehicles)} 辆", f"{people:,} people, "
                                            f"{len(vehicles)} hazmat trucks"), v_alarm == 0,
            t(f"车辆异常 {v_alarm}", f"{v_alarm} vehicle alarms")),
        row(t("医疗救助", "Medical"), t(f"救护站床位 {beds}, 危化医疗队 {med_team} 人", f"{beds} beds, team {med_team}"),
            med_team >= 30, "≥30"),
        row(t("特殊作业", "Work permits"), t(f"作业中 {working}, 审批中 {pending}", f"{working} active, {pending} pending"),
            None),
        row(t("隐患整改", "Hidden hazards"), t(f"未销号 {len(open_h)} (重大 {major}), 逾期 {overdue}",
                                           f"{len(open_h)} open ({major} major), {overdue} overdue"), overdue == 0,
            t("无逾期", "none overdue"), t("有逾期", "overdue")),
    ]
    ctx.data_time = max((lv.ts for lv in latest.values()), default=None)
    return html.Table(rows, className="tb-table", style={"fontSize": "16px"})
