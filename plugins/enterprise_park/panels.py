"""The park brain's panels: KPIs, park ranking, one enterprise's file, the hazard loop, live devices,
the map, and AI findings waiting for review. Every panel reads one :func:`risk.snapshot`."""

from __future__ import annotations

import time
from typing import Any

import pydeck as pdk
from dash import html

from core.api import SEVERITY_COLORS, PanelContext, PanelSpec, text_layer

from . import ai_patrol, inspections, risk
from .mqtt_source import STATS
from .payloads import METRIC_UNITS

MUTED = "var(--tb-muted)"
OK = "var(--tb-ok)"
LEVEL_ZH = {1: "Ⅰ级", 2: "Ⅱ级", 3: "Ⅲ级", 4: "Ⅳ级"}
METRIC_TEXT = {"power_kw": ("功率", "Power"), "energy_kwh": ("电量", "Energy"), "voltage_v": ("电压", "Voltage"),
               "current_a": ("电流", "Current"), "residual_ma": ("剩余电流", "Residual"),
               "cable_temp_c": ("线缆温度", "Cable temp"), "gas_lel_pct": ("可燃气体", "Gas"),
               "smoke_alarm": ("烟感", "Smoke"), "smoke_obsc_db_m": ("减光率", "Obscuration"),
               "battery_pct": ("电池", "Battery")}
TYPE_TEXT = {"meter": ("智能电表", "Meter"), "elec_fire": ("电气火灾", "Elec. fire"), "gas": ("燃气探测", "Gas"),
             "smoke": ("烟感", "Smoke")}
MAIN_METRIC = {"meter": "power_kw", "elec_fire": "cable_temp_c", "gas": "gas_lel_pct", "smoke": "smoke_alarm"}
STAR = "★"
#: one line that ends in "…" when it is too long for its panel (English is longer than Chinese)
ONE_LINE = {"whiteSpace": "nowrap", "overflow": "hidden", "textOverflow": "ellipsis", "minWidth": 0}
#: the park brain's system vocabulary in its records (roles of inspectors and actors, inspection results,
#: how a chemical is held, permit types): shown in English on English screens
VOCAB_EN = {
    "园区安全员": "Park safety officer", "企业安全员": "Enterprise safety officer", "街道安监站": "Street safety office",
    "第三方服务机构(微型服务站)": "Third-party service (micro station)", "企业安全负责人": "Enterprise safety lead",
    "AI巡查+人工确认": "AI patrol + human check", "系统": "System",
    "已销号": "closed", "合格": "passed", "整改中": "rectifying", "不合格": "failed",
    "使用": "in use", "储存": "stored",
    "营业执照": "Business licence", "燃气使用安全评估": "Gas safety assessment",
    "危化品储存备案": "Hazchem storage filing", "危险化学品经营许可证(仓储)": "Hazchem trading permit (storage)",
}
DEMO_ACTOR = "demo:"


def _snap(ctx: PanelContext) -> risk.Snapshot:
    s = risk.snapshot(ctx.store, online_window_s=getattr(ctx.settings, "online_window_s", 600.0))
    ctx.data_time = max(s.device_last.values(), default=None) or s.now
    return s


def _name(ctx: PanelContext, e: Any) -> str:
    return ctx.name(e.name, e.name_en)


def _vocab(ctx: PanelContext, zh: str) -> Any:
    """A word of the records' vocabulary (a result, a permit type) in the screen's language; a word the table
    does not know was typed by a person: shown as written, marked as the original."""
    en = VOCAB_EN.get(zh)
    return ctx.text(zh, en) if en else ctx.original(zh)


def _person(ctx: PanelContext, who: str) -> str:
    """Who did something: a role of the vocabulary, ``system``, or a person's or user's name; ``demo:<role>``
    (the demo's own actors) as that role marked as the demo."""
    demo = who.startswith(DEMO_ACTOR)
    who = who[len(DEMO_ACTOR):] if demo else who
    text = ctx.text("系统", "system") if who == "system" else (
        ctx.text(who, VOCAB_EN[who]) if who in VOCAB_EN else ctx.person(who))
    return text + (ctx.text("(演示)", " (demo)") if demo else "")


def _title(ctx: PanelContext, insp: inspections.Inspection) -> Any:
    """A hazard's title: its English form when it has one, else as written (a person's text)."""
    return ctx.original(insp.title, insp.title_en)


def _pct(x: float) -> str:
    return f"{100 * x:.0f}"


def _kpi(label: str, value: str, unit: str = "", color: str | None = None) -> html.Div:
    style = {"fontSize": "40px"} | ({"color": color} if color else {})
    return html.Div(className="tb-kpi", children=[
        html.Div([html.Span(value, className="tb-kpi-value", style=style), html.Span(unit, className="tb-kpi-unit")]),
        html.Div(label, className="tb-kpi-label", style={"fontSize": "16px"})])


def kpis(ctx: PanelContext) -> Any:
    """The plan's two coverage targets, and the headline counts."""
    k = _snap(ctx).kpis()
    cov = "var(--tb-ok)" if k["digital_coverage"] >= 1 else SEVERITY_COLORS[2]
    rc = "var(--tb-ok)" if k["risk_control_coverage"] >= 1 else SEVERITY_COLORS[2]
    return html.Div(style={"display": "grid", "gridTemplateColumns": "repeat(3, 1fr)", "gap": "6px 4px",
                           "height": "100%", "alignContent": "center"}, children=[
        _kpi(ctx.text("星级园区数字化监管覆盖率", "Star parks digitally supervised"), _pct(k["digital_coverage"]), "%", cov),
        _kpi(ctx.text("风险管控体系覆盖率", "Risk-control coverage"), _pct(k["risk_control_coverage"]), "%", rc),
        _kpi(ctx.text("在线设备", "Devices online"), str(k["devices_online"]), f"/{k['devices']}"),
        _kpi(ctx.text("园区 / 星级", "Parks / starred"), str(k["parks"]), f"/{k['star_parks']}"),
        _kpi(ctx.text("未销号隐患", "Open hazards"), str(k["open_hazards"]), ""),
        _kpi(ctx.text("超期隐患", "Overdue"), str(k["overdue_hazards"]), "",
             SEVERITY_COLORS[1] if k["overdue_hazards"] else None),
    ])


def _bar(value: float, color: str, width: str = "100%") -> html.Div:
    return html.Div(style={"background": "rgba(54,198,255,0.12)", "height": "10px", "borderRadius": "5px",
                           "width": width}, children=html.Div(style={
                               "width": f"{min(100.0, value):.0f}%", "height": "100%", "background": color,
                               "borderRadius": "5px"}))


def ranking(ctx: PanelContext) -> Any:
    """Parks ranked by risk (mean of enterprises + a quarter of the gap to the worst), with their worst enterprise."""
    snap = _snap(ctx)
    rows = []
    ents = {e.id: e for e in snap.enterprises}
    for n, (park, value, mine) in enumerate(snap.park_ranking(), 1):
        star = int(park.properties.get("star_rating") or 0)
        worst = mine[0] if mine else None
        color = worst.grade[3] if worst else MUTED
        rows.append(html.Div(style={"padding": "3px 0", "borderBottom": "1px solid rgba(29,79,143,0.5)"}, children=[
            html.Div(style={"display": "flex", "justifyContent": "space-between", "fontSize": "18px", "gap": "8px",
                            "lineHeight": "24px"},
                     children=[
                html.Span([html.B(f"{n}  ", style={"color": "var(--tb-accent)"}), _name(ctx, park)], style=ONE_LINE),
                html.Span([html.Span(STAR * star if star else ctx.text("未评星", "unrated"),
                                     style={"color": "#f6d33c", "marginRight": "10px", "fontSize": "16px"}),
                           html.B(f"{value:.0f}", style={"color": color})], style={"whiteSpace": "nowrap"})]),
            _bar(value, color),
            html.Div(style={"fontSize": "16px", "color": MUTED, "marginTop": "2px", "display": "flex",
                            "lineHeight": "20px"}, children=[
                html.Span(f"{ctx.text('最高', 'worst')}: "
                          f"{_name(ctx, ents[worst.enterprise]) if worst.enterprise in ents else ''}", style=ONE_LINE),
                html.Span(f"\u00a0{worst.total:.0f} · {len(mine)} {ctx.text('家企业', 'enterprises')}",
                          style={"whiteSpace": "nowrap"})] if worst else ctx.text("无企业", "no enterprises"))]))
    return html.Div(rows, style={"overflowY": "hidden"})


def _pick_enterprise(ctx: PanelContext, snap: risk.Snapshot) -> Any | None:
    ents = {e.id: e for e in snap.enterprises}
    want = ctx.options.get("enterprise")
    if want in ents:
        return ents[want]
    order = sorted(snap.scores.values(), key=lambda s: -s.total)
    top = [s for s in order][: int(ctx.options.get("rotate_top", 5))]
    if not top:
        return None
    period = float(ctx.options.get("rotate_s", 15))
    return ents[top[int(snap.now // period) % len(top)].enterprise]


def enterprise(ctx: PanelContext) -> Any:
    """一企一档: one enterprise's file and the explanation of its risk score (rotates through the riskiest).

    On English screens the file's own English forms are shown (``industry_en``, a chemical's ``name_en``, a
    history record's ``findings_en``); without one the text shows as written, marked as the original."""
    snap = _snap(ctx)
    ent = _pick_enterprise(ctx, snap)
    if ent is None:
        return html.Div(ctx.text("暂无企业档案", "No enterprise files"), className="tb-empty")
    p = ent.properties or {}
    sc = snap.scores[ent.id]
    g = sc.grade
    park = next((x for x in snap.parks if x.id == p.get("park")), None)
    chems = p.get("hazardous_chemicals") or []
    mine = [i for i in snap.inspections if i.enterprise == ent.id]
    hist = sorted(p.get("inspection_history") or [], key=lambda h: h.get("date", ""), reverse=True)[:2]
    officer = p.get("safety_officer") or {}
    small = {"fontSize": "16px", "color": MUTED}
    line = {"fontSize": "17px", "margin": "2px 0", "whiteSpace": "nowrap", "overflow": "hidden", "textOverflow": "ellipsis"}
    chem_text = [[ctx.original(str(c.get("name", "")), c.get("name_en")), ctx.text("(", " ("),
                  _vocab(ctx, str(c.get("use", ""))), ctx.text(f" {c.get('max_stock_t', '?')}t)", f" {c.get('max_stock_t', '?')} t)")]
                 for c in chems]
    permits = [[_vocab(ctx, str(x.get("type", ""))),
                ctx.text(f" (至{x['valid_until']})", f" (until {x['valid_until']})")
                if x.get("valid_until") and x.get("valid_until") != "长期" else ""] for x in p.get("permits") or []]
    sep = ctx.text("、", ", ")
    factors = [html.Div(style={"display": "grid", "gridTemplateColumns": ctx.text("120px", "170px") + " 1fr 44px",
                               "alignItems": "center",
                               "gap": "6px", "fontSize": "16px", "margin": "2px 0"}, children=[
        html.Span(f.zh if ctx.lang == "zh" else f.en), _bar(f.points * 4, g[3]),
        html.Span(f"+{f.points:g}", style={"textAlign": "right"})]) for f in sc.factors]
    return html.Div(style={"display": "flex", "flexDirection": "column", "minHeight": "100%"}, children=[
        html.Div(style={"display": "flex", "justifyContent": "space-between", "alignItems": "baseline"}, children=[
            html.Div(_name(ctx, ent), style={"fontSize": "22px", "fontWeight": 700, "overflow": "hidden",
                                             "whiteSpace": "nowrap", "textOverflow": "ellipsis", "maxWidth": "300px"}),
            html.Div([html.Span(f"{sc.total:.0f}", style={"fontSize": "34px", "fontWeight": 700, "color": g[3]}),
                      html.Span(" " + (g[1] if ctx.lang == "zh" else g[2]), style={"color": g[3], "fontSize": "17px"})])]),
        html.Div([f"{_name(ctx, park) if park else ''} · ", ctx.original(str(p.get("industry", "")), p.get("industry_en")),
                  f" · {p.get('staff', '?')}{ctx.text('人', ' staff')} · {p.get('area_m2', '?')} m²"], style=small),
        html.Div(f"{ctx.text('安全负责人', 'Safety officer')}: {_person(ctx, officer.get('name', '-'))} "
                 f"{str(officer.get('phone', '')).replace('(演示)', ctx.text('(演示)', '(demo)'))}", style=line),
        html.Div([html.Span(ctx.text("危化品: ", "Chemicals: "), style={"color": MUTED}),
                  *(_joined(chem_text, sep) or [ctx.text("无", "none")])], style=line),
        html.Div([html.Span(ctx.text("证照: ", "Permits: "), style={"color": MUTED}),
                  *_joined(permits, sep)], style=line),
        html.Div(ctx.text("风险评分构成", "Why this score"), style={"marginTop": "6px", "fontWeight": 700, "fontSize": "17px"}),
        *factors,
        html.Div(ctx.text("检查记录", "Inspection history"), style={"marginTop": "6px", "fontWeight": 700, "fontSize": "17px"}),
        *[html.Div([_title(ctx, i), f" · {inspections.STATE_TEXT[i.state][0 if ctx.lang == 'zh' else 1]}"], style=line)
          for i in sorted(mine, key=lambda i: -i.found_at)[:2]],
        *[html.Div([f"{h.get('date')} {_person(ctx, str(h.get('inspector', '')))}: ",
                    ctx.original(str(h.get("findings", "")), h.get("findings_en")), " (",
                    _vocab(ctx, str(h.get("result", ""))), ")"], style=line | small) for h in hist],
    ])


def _joined(groups: list[list[Any]], sep: str) -> list[Any]:
    """The parts of each group with ``sep`` between groups (children of one line: texts and marked originals)."""
    out: list[Any] = []
    for k, group in enumerate(groups):
        out += ([sep] if k else []) + group
    return out


def inspections_panel(ctx: PanelContext) -> Any:
    """The hazard loop: how many in each stage, and the overdue ones with who is responsible and where it went."""
    snap = _snap(ctx)
    now = snap.now
    insps = snap.inspections
    counts = {s: sum(1 for i in insps if i.state == s) for s in inspections.STATES}
    stages = []
    for n, s in enumerate(inspections.STATES):
        zh, en = inspections.STATE_TEXT[s]
        stages.append(html.Div(style={"flex": 1, "textAlign": "center", "border": "1px solid var(--tb-line)",
                                      "borderRadius": "4px", "padding": "4px 0",
                                      "background": "rgba(47,208,138,0.12)" if s == "closed" else "rgba(54,198,255,0.08)"},
                               children=[html.Div(str(counts[s]), style={"fontSize": "30px", "fontWeight": 700,
                                                                       "color": OK if s == "closed" else "var(--tb-accent)"}),
                                         html.Div(zh if ctx.lang == "zh" else en, style={"fontSize": "16px", "color": MUTED})]))
        if n < 3:
            stages.append(html.Div("→", style={"alignSelf": "center", "color": MUTED, "padding": "0 3px"}))
    ents = {e.id: e for e in snap.enterprises}
    overdue = sorted((i for i in insps if i.is_overdue(now)), key=lambda i: -i.overdue_days(now))
    recent = sorted((i for i in insps if not i.is_overdue(now) and i.state != "closed"),
                    key=lambda i: -(i.history[-1]["ts"] if i.history else i.found_at))
    rows = []
    for i in overdue[: int(ctx.options.get("limit", 4))]:
        esc = inspections.ESCALATION[i.escalation - 1] if i.escalation else None
        due, late = time.strftime("%m-%d", time.localtime(i.deadline)), i.overdue_days(now)
        color = {1: SEVERITY_COLORS[3], 2: SEVERITY_COLORS[2], 3: SEVERITY_COLORS[1]}.get(i.escalation, SEVERITY_COLORS[4])
        rows.append(html.Div(style={"borderLeft": f"5px solid {color}", "padding": "2px 8px", "margin": "4px 0",
                                    "background": "rgba(232,54,59,0.08)"}, children=[
            html.Div([f"{_name(ctx, ents[i.enterprise]) if i.enterprise in ents else ''} · ", _title(ctx, i)],
                     style={"fontSize": "17px", "lineHeight": "22px"} | ONE_LINE),
            html.Div(ctx.text(f"责任人 {i.responsible} · 期限 {due} · 超期 {late:.1f}天",
                              f"{_person(ctx, i.responsible)} · due {due}, {late:.1f} d late")
                     + (f" · {ctx.text('已升级', '→')} {esc[2 if ctx.lang == 'zh' else 3]}" if esc else ""),
                     style={"fontSize": "16px", "color": MUTED, "lineHeight": "20px"} | ONE_LINE)]))
    live = recent[0] if recent else None
    return html.Div(style={"display": "flex", "flexDirection": "column", "height": "100%"}, children=[
        html.Div(stages, style={"display": "flex", "gap": "2px"}),
        html.Div(ctx.text(f"超期隐患 {len(overdue)} 项", f"Overdue: {len(overdue)}"),
                 style={"marginTop": "6px", "fontWeight": 700, "fontSize": "17px",
                        "color": SEVERITY_COLORS[1] if overdue else OK}),
        *rows,
        html.Div([html.Span(ctx.text("最新动态: ", "Latest: "), style={"color": MUTED}),
                  _title(ctx, live), f" → {inspections.STATE_TEXT[live.state][0 if ctx.lang == 'zh' else 1]}"
                  + (f" ({_person(ctx, str(live.history[-1]['actor']))})" if live.history else "")] if live else "",
                 style={"fontSize": "16px", "marginTop": "auto", "whiteSpace": "nowrap", "overflow": "hidden",
                        "textOverflow": "ellipsis"}),
    ])


def devices(ctx: PanelContext) -> Any:
    """Live device values as they arrive over MQTT, alarming ones first, and the ingest counters."""
    snap = _snap(ctx)
    worst: dict[str, int] = {}
    for a in ctx.store.alerts(limit=2000):
        if a.plugin == ctx.plugin:
            worst[a.entity_id] = min(worst.get(a.entity_id, 9), a.severity)
    ents = {e.id: e for e in snap.enterprises}
    rows = []
    for d in snap.devices:
        dtype = d.properties.get("device_type", "")
        vals = {lv.metric: lv for lv in snap.latest.get(d.id, [])}
        main = vals.get(MAIN_METRIC.get(dtype, ""))
        rows.append((worst.get(d.id, 9), 0 if main else 1, d, dtype, vals, main))
    rows.sort(key=lambda r: (r[0], r[1], r[2].id))
    cols = int(ctx.options.get("columns", 2))
    limit = int(ctx.options.get("limit", 16))
    cells = []
    for sev, _, d, dtype, vals, main in rows[:limit]:
        online = snap.online(d.id)
        color = SEVERITY_COLORS.get(sev) if sev < 9 else (OK if online else MUTED)
        if main is None:
            text = ctx.text("无数据", "no data")
        elif main.metric == "smoke_alarm":
            text = ctx.text("报警", "ALARM") if main.value >= 1 else ctx.text("正常", "normal")
            bat = vals.get("battery_pct")
            text += f" · {bat.value:.0f}%" if bat else ""
        else:
            text = f"{main.value:g} {METRIC_UNITS.get(main.metric, '')}"
            if dtype == "elec_fire" and "residual_ma" in vals:
                text += f" · {vals['residual_ma'].value:.0f} mA"
        ent = ents.get(d.properties.get("enterprise", ""))
        age = f"{snap.now - main.ts:.0f}s" if main else "-"
        cells.append(html.Div(style={"borderLeft": f"5px solid {color}", "padding": "2px 8px",
                                     "background": "rgba(54,198,255,0.06)", "minWidth": 0}, children=[
            html.Div(f"{(ent.name[:6] if ctx.lang == 'zh' else _name(ctx, ent).split(' ')[0]) if ent else ''} "
                     f"{TYPE_TEXT.get(dtype, (dtype, dtype))[0 if ctx.lang == 'zh' else 1]}",
                     style={"fontSize": "16px", "color": MUTED, "whiteSpace": "nowrap", "overflow": "hidden",
                            "lineHeight": "20px"}),
            html.Div([html.Span(text, style={"fontSize": "19px", "fontWeight": 700, "color": color if sev < 9 else None}),
                      html.Span(f"  {age}", style={"fontSize": "16px", "color": MUTED})],
                     style={"whiteSpace": "nowrap", "overflow": "hidden", "lineHeight": "24px"})]))
    st = STATS.get(f"{ctx.plugin}.mqtt")
    foot = ""
    if st is not None:
        s = st.as_dict()
        foot = (f"MQTT {ctx.text('已连接', 'connected') if s['connected'] else ctx.text('未连接', 'disconnected')} · "
                f"{ctx.text('消息', 'msgs')} {s['messages']} · {ctx.text('入库', 'stored')} {s['readings_stored']} · "
                f"{ctx.text('格式错误', 'malformed')} {s['malformed']} · {ctx.text('超长', 'oversized')} {s['oversized']} · "
                f"{ctx.text('未知设备', 'unknown')} {s['unknown']} · {ctx.text('重复', 'dup')} {s['duplicates']} · "
                f"{ctx.text('重连', 'reconnects')} {max(0, s['connects'] - 1)}")
    return html.Div(style={"display": "flex", "flexDirection": "column", "height": "100%"}, children=[
        html.Div(cells, style={"display": "grid", "gridTemplateColumns": f"repeat({cols}, minmax(0, 1fr))",
                               "gap": "5px 8px", "flex": 1, "alignContent": "start", "overflow": "hidden"}),
        html.Div(foot, style={"fontSize": "16px", "color": MUTED, "marginTop": "4px", "whiteSpace": "nowrap",
                              "overflow": "hidden", "textOverflow": "ellipsis"})])


def review(ctx: PanelContext) -> Any:
    """AI patrol findings waiting for a person (AI技防 + 人工复核), then the newest IoT alarms of the parks."""
    pend = ai_patrol.pending(ctx.store)
    others = [a for a in ctx.store.alerts(limit=200) if a.plugin == ctx.plugin and a not in pend
              and not a.rule_id.startswith(ai_patrol.RULE_PREFIX)]
    names = {e.id: e for e in ctx.store.entities(plugin=ctx.plugin) if e.kind in ("sme_enterprise", "iot_device",
                                                                                    "patrol_camera", "inspection")}
    ctx.data_time = time.time()
    limit = int(ctx.options.get("limit", 6))

    def who(a: Any) -> Any:
        """The alert's camera, enterprise, device or hazard by name: a camera of another plugin (an unassigned
        detection) by its twin's name ("<camera>@<view>": that camera's), one no twin knows as an unregistered
        camera, never by its id."""
        e = names.get(a.entity_id) or ctx.store.entity(a.entity_id) or ctx.store.entity(a.entity_id.split("@", 1)[0])
        if e is None:
            return ctx.text("未登记摄像机", "Unregistered camera") if a.rule_id.startswith(ai_patrol.RULE_PREFIX) \
                else ctx.text("未知对象", "Unknown object")
        return ctx.original(e.name, e.name_en) if e.kind == inspections.KIND else _name(ctx, e)

    def row(a: Any, tag: str) -> html.Div:
        """Two lines: level, kind, who and when; then the alert's title (English titles need the width)."""
        return html.Div(style={"margin": "3px 0", "lineHeight": "22px"}, children=[
            html.Div(style={"display": "flex", "gap": "8px", "alignItems": "center", "fontSize": "17px"}, children=[
                html.Span(LEVEL_ZH[a.severity] if ctx.lang == "zh" else f"L{a.severity}", className="tb-alert-badge",
                          style={"background": SEVERITY_COLORS[a.severity], "padding": "0 6px", "borderRadius": "3px",
                                 "color": "#000" if a.severity == 3 else "#fff", "fontSize": "16px",
                                 "whiteSpace": "nowrap"}),
                html.Span(tag, style={"color": "#e678ff" if tag.startswith("AI") else "var(--tb-accent)",
                                      "fontSize": "16px", "whiteSpace": "nowrap"}),
                html.Span(who(a), style=ONE_LINE | {"flex": "1 1 0"}),
                html.Span(time.strftime("%H:%M", time.localtime(a.opened_at)), style={"color": MUTED, "fontSize": "16px"})]),
            html.Div(a.title_in(ctx.lang), style=ONE_LINE | {"fontSize": "16px", "lineHeight": "20px",
                                                             "paddingLeft": "8px"})])
    items = [row(a, ctx.text("AI待复核", "AI review")) for a in pend[:limit]]
    items += [row(a, "IoT" if a.entity_id.startswith("ep.dev.") else ctx.text("隐患", "Hazard"))
              for a in others[: max(0, limit - len(items))]]
    head = html.Div([html.Span(ctx.text("待人工复核 ", "Awaiting review ")),
                     html.B(str(len(pend)), style={"color": "#e678ff", "fontSize": "24px"}),
                     html.Span(ctx.text("  · 园区报警 ", "  · park alarms ")),
                     html.B(str(len(others)), style={"color": SEVERITY_COLORS[2], "fontSize": "24px"})],
                    style={"fontSize": "17px", "marginBottom": "4px"})
    if not items:
        return html.Div([head, html.Div(ctx.text("当前无待处置事项", "Nothing waiting"), className="tb-empty")])
    return html.Div([head, *items])


_GRADE_RGBA = {"red": [232, 54, 59, 235], "orange": [245, 133, 42, 235], "yellow": [246, 211, 60, 235],
               "blue": [47, 140, 242, 235]}


def _ring_centre(geometry: dict[str, Any] | None) -> list[float] | None:
    """The mean of a polygon's outer ring (where a park's name goes), or None."""
    try:
        ring = geometry["coordinates"][0] if geometry["type"] == "Polygon" else geometry["coordinates"][0][0]
        return [sum(p[0] for p in ring) / len(ring), sum(p[1] for p in ring) / len(ring)]
    except (TypeError, KeyError, IndexError, ZeroDivisionError):
        return None


def park_map(ctx: PanelContext) -> pdk.Deck:
    """Parks (coloured by star rating), factory blocks in 3D, enterprises as columns by risk, devices by state."""
    snap = _snap(ctx)
    ents = ctx.store.entities(plugin=ctx.plugin)
    site = next((s for s in ctx.store.sites() if s.id == "ep-jiaojiang"), None)
    worst: dict[str, int] = {}
    for a in ctx.store.alerts(limit=2000):
        worst[a.entity_id] = min(worst.get(a.entity_id, 9), a.severity)
    parks = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": e.geometry,
         "properties": {"name": f"{_name(ctx, e)} {STAR * int(e.properties.get('star_rating') or 0)}",
                        "fill": [54, 198, 255, 30 + 18 * int(e.properties.get("star_rating") or 0)]}}
        for e in ents if e.kind == "sme_park" and e.geometry]}
    blocks = [{"polygon": e.geometry["coordinates"][0], "height": e.properties.get("height_m", 20), "name": _name(ctx, e)}
              for e in ents if e.kind == "park_building" and e.geometry]
    columns = []
    for e in snap.enterprises:
        if not e.geometry:
            continue
        sc = snap.scores[e.id]
        columns.append({"position": e.geometry["coordinates"], "height": 40 + sc.total * 12,
                        "name": f"{_name(ctx, e)} · {ctx.text('风险', 'risk')} {sc.total:.0f}",
                        "color": _GRADE_RGBA[sc.grade[0]]})
    dots = []
    for e in snap.devices:
        if not e.geometry:
            continue
        sev = worst.get(e.id, 9)
        color = ([int(SEVERITY_COLORS[sev][i:i + 2], 16) for i in (1, 3, 5)] + [255]) if sev < 9 else (
            [47, 208, 138, 230] if snap.online(e.id) else [120, 140, 160, 200])
        dots.append({"position": e.geometry["coordinates"], "name": _name(ctx, e), "color": color})
    river = [{"path": e.geometry["coordinates"], "name": _name(ctx, e)}
             for e in ents if e.kind == "context_line" and e.geometry]
    layers = [
        pdk.Layer("PathLayer", data=river, id="river", get_path="path", get_width=600, width_min_pixels=6,
                  get_color=[40, 110, 190, 150], pickable=True),
        pdk.Layer("GeoJsonLayer", data=parks, id="parks", stroked=True, filled=True, get_fill_color="properties.fill",
                  get_line_color=[54, 198, 255, 220], line_width_min_pixels=2, pickable=True),
        pdk.Layer("PolygonLayer", data=blocks, id="blocks", get_polygon="polygon", extruded=True,
                  get_elevation="height", elevation_scale=3, get_fill_color=[70, 120, 190, 170],
                  get_line_color=[140, 200, 255], wireframe=True, pickable=True),
        pdk.Layer("ColumnLayer", data=columns, id="enterprises", get_position="position", radius=70,
                  get_elevation="height", get_fill_color="color", extruded=True, pickable=True),
        pdk.Layer("ScatterplotLayer", data=dots, id="devices", get_position="position", get_radius=25,
                  radius_min_pixels=4, get_fill_color="color", pickable=True),
    ]
    # park names on the map: the host's TextLayer with the bundled Chinese font (core.api.text_layer)
    layers.append(text_layer("park_labels", [
        {"position": _ring_centre(e.geometry), "text": _name(ctx, e)}
        for e in ents if e.kind == "sme_park" and _ring_centre(e.geometry)], size=16, offset=(0, -8), baseline="bottom"))
    view = pdk.ViewState(longitude=site.lon if site else 121.43, latitude=site.lat if site else 28.668,
                         zoom=float(ctx.options.get("zoom", site.zoom if site else 11.85)), pitch=35, bearing=-8)
    return pdk.Deck(layers=layers, initial_view_state=view, map_provider=None, map_style=None,
                    tooltip={"text": "{name}"})


def specs() -> list[PanelSpec]:
    src = ("mqtt",)
    return [
        PanelSpec("enterprise_park.kpis", "园区大脑总览", "Park brain at a glance", kpis, sources=src, refresh_s=5),
        PanelSpec("enterprise_park.ranking", "园区风险排行", "Park risk ranking", ranking, refresh_s=10),
        PanelSpec("enterprise_park.enterprise", "一企一档", "Enterprise file", enterprise, refresh_s=5,
                  default_options={"rotate_s": 15, "rotate_top": 5}),
        PanelSpec("enterprise_park.inspections", "隐患排查治理闭环", "Hazard inspection loop", inspections_panel,
                  sources=("inspections",), refresh_s=5, default_options={"limit": 4}),
        PanelSpec("enterprise_park.devices", "物联感知实时数据", "Live IoT devices", devices, sources=src,
                  refresh_s=2, default_options={"limit": 16, "columns": 2}),
        PanelSpec("enterprise_park.map", "小微企业园一张图", "SME parks map", park_map, sources=src, refresh_s=5,
                  kind="deck", basemap=True),
        PanelSpec("enterprise_park.review", "AI巡查与报警复核", "AI patrol and alarm review", review, refresh_s=3,
                  default_options={"limit": 6}),
    ]
