"""The command centre's panels: the one map, headline figures, resources, the 15-minute circle, and
the incident view (card, timeline, soonest teams, incident map), warnings and incidents lists."""

from __future__ import annotations

import json
import math
import time
from datetime import date
from typing import Any

import pydeck as pdk
from sqlmodel import select
from dash import html

from core.api import Alert, Incident, PanelContext, fit_view, icon_layer, name_en, text_layer, wall_state

from . import incidents, publish
from .circle import rapid_response_circle
from .dispatching import candidates
from .incidents import EVENT_TEXT, KINDS, STATE_TEXT, STATES, point_of
from .places import LAYERS, entities_of, nearby_entities, road_network, stations, targets
from .tracker import drill_teams

SEV_RGB = {1: [232, 54, 59], 2: [245, 133, 42], 3: [246, 211, 60], 4: [47, 140, 242]}
DRILL_RGB = [246, 211, 60]
LEVEL_ZH = {1: "Ⅰ级", 2: "Ⅱ级", 3: "Ⅲ级", 4: "Ⅳ级"}
STATUS = {"standby": ("待命", "Standby", "#3cdc78"), "dispatched": ("出动", "En route", "#f6d33c"),
          "on_scene": ("到场", "On scene", "#f5852a"), "returning": ("返回", "Returning", "#36c6ff")}
#: the incident map's nearby places that are no layer of the one map: key → (kinds, zh, en, RGB, icon)
NEARBY_OTHER = {"targets": (("sensitive_target", "village"), "敏感目标/村庄", "Sensitive targets, villages",
                            [190, 200, 215], "circle")}
RADIUS_RGB = [170, 190, 220]
ICON_PX = 22            # map symbols: screen pixels of the 1920×1080 canvas
_circle_cache: dict[tuple, Any] = {}


def _name(ctx: PanelContext, e: Any) -> str:
    return (e.name_en or e.name) if ctx.lang == "en" else e.name


def _kpi(label: str, value: str, unit: str = "", cls: str = "", size: int = 40) -> html.Div:
    return html.Div(className="tb-kpi", children=[
        html.Div([html.Span(value, className="tb-kpi-value " + cls, style={"fontSize": f"{size}px"}),
                  html.Span(unit, className="tb-kpi-unit")]),
        html.Div(label, className="tb-kpi-label", style={"fontSize": "16px"})])


def circle_result(ctx: PanelContext):
    """The 15-minute circle over the current stations and targets (cached until they change)."""
    net = road_network(ctx.settings.road_spacing_m, ctx.store)
    sts, tgs = stations(ctx.store), targets(ctx.store)
    # the network is part of the key: a road import replaces it, and the circle follows at once
    key = (id(net), ctx.settings.circle_minutes, tuple(sts), tuple(tgs))
    if key not in _circle_cache:
        _circle_cache.clear()
        _circle_cache[key] = rapid_response_circle(net, sts, tgs, ctx.settings.circle_minutes)
    return _circle_cache[key]


def current_incident(ctx: PanelContext) -> Incident | None:
    """The incident a panel shows: its ``incident`` option, the wall's, else the newest open one."""
    wanted = ctx.options.get("incident")
    if wanted is None:
        wanted = wall_state(ctx.store, ctx.settings.wall).get("incident_id")
    if wanted is not None:
        try:
            return incidents.get(ctx.store, int(wanted))
        except (incidents.IncidentError, ValueError):
            return None
    open_ = incidents.incidents(ctx.store, open_only=True, limit=1)
    return open_[0] if open_ else None


# -- routine view ----------------------------------------------------------------------------------
def headline(ctx: PanelContext) -> Any:
    """The district at a glance: open incidents, alerts, teams out, coverage, people sheltered."""
    open_inc = incidents.incidents(ctx.store, open_only=True, limit=200, drill=False)  # a drill is no live figure
    alerts = ctx.store.alerts(limit=500)
    worst = min((a.severity for a in alerts), default=None)
    teams = entities_of(ctx.store, ("emergency_team", "micro_station", "fire_rescue_station"))
    out = sum(1 for t in teams if t.properties.get("status", "standby") != "standby")
    res = circle_result(ctx)
    cov = res.shares.get("risk_points")
    ctx.data_time = time.time()
    return html.Div(className="tb-kpis", style={"gridTemplateColumns": "repeat(3, 1fr)"}, children=[
        _kpi(ctx.text("处置中事件", "Open incidents"), str(len(open_inc)), "",
             "tb-sev-1" if any(not i.is_drill for i in open_inc) else ""),
        _kpi(ctx.text("未结报警", "Open alarms"), str(len(alerts)), "", f"tb-sev-{worst}" if worst else ""),
        _kpi(ctx.text("出动队伍", "Teams out"), f"{out}/{len(teams)}"),
        _kpi(ctx.text("15分钟圈覆盖风险点", "Risk points in 15 min"), "–" if cov is None else f"{cov * 100:.0f}", "%",
             "" if cov is None or cov >= 0.999 else "tb-sev-3"),
        _kpi(ctx.text("应急救援力量(人)", "Rescuers"), str(sum(int(t.properties.get("size", 0) or 0) for t in teams))),
        _kpi(ctx.text("今日发布预警", "Warnings today"),
             str(sum(1 for p in publish.publications(ctx.store, 200, drill=False)
                     if p.published_at and time.time() - p.published_at < 86400))),
    ])


def _rgb(hex_colour: str) -> list[int]:
    return [int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)]


def _layer_points(ctx: PanelContext, key: str) -> list[dict[str, Any]]:
    kinds, _, _, rgb, icon = LAYERS[key]
    out = []
    for e in entities_of(ctx.store, kinds):
        pt = point_of(e.geometry)
        if pt is None:
            continue
        status = e.properties.get("status")
        colour = rgb
        if status in STATUS and status != "standby":
            colour = _rgb(STATUS[status][2])
        out.append({"position": list(pt), "name": _name(ctx, e), "kind": key, "color": colour + [255],
                    "icon": icon, "info": _info(ctx, e)})
    return out


def _info(ctx: PanelContext, e: Any) -> str:
    p = e.properties
    bits = []
    if p.get("size"):
        bits.append(f"{p['size']}{ctx.text('人', ' people')}")
    if p.get("status") in STATUS:
        bits.append(STATUS[p["status"]][0 if ctx.lang == "zh" else 1])
    if p.get("capacity"):
        bits.append(f"{ctx.text('容量', 'capacity')} {p['capacity']}")
    if p.get("grade"):
        bits.append(str(p["grade"]))
    return " · ".join(bits)


def one_map(ctx: PanelContext) -> dict[str, Any]:
    """一张图: resources, rescue forces, shelters, cameras, what the domain plugins publish, incidents.

    One layer per kind of resource (``places.LAYERS``; a dashboard picks them with ``options.layers``), each
    drawn with its own symbol and colour, and a legend (``tbLegend``) whose chips, with the same symbols, turn
    each layer on and off on the screen. A team out on a job takes its status's colour. Key resources
    (``options.labels``, default fire stations and material stores) and incidents carry their names.
    The host draws the base map under it and other plugins' map layers (PanelSpec basemap, map_layers).
    """
    wanted = [k for k in (ctx.options.get("layers") or list(LAYERS)) if k in LAYERS]
    labelled = set(ctx.options.get("labels") or ("fire", "depots"))
    net = road_network(ctx.settings.road_spacing_m)
    lang = 1 if ctx.lang == "zh" else 2
    legend: list[dict[str, Any]] = []
    layers = [pdk.Layer("PathLayer", data=net.edge_paths("expressway") + net.edge_paths("arterial")
                        + net.edge_paths("bridge"), id="roads", get_path="path", get_width=3, width_min_pixels=1,
                        get_color=[70, 110, 160, 150])]
    legend.append({"ids": ["roads"], "label": ctx.text("道路", "Roads"), "color": [70, 110, 160], "icon": "line"})
    if ctx.options.get("circle", True):
        res = circle_result(ctx)
        layers.append(pdk.Layer("PolygonLayer", id="circle",
                                data=[{"polygon": a.polygon, "name": a.station.name} for a in res.areas if a.polygon],
                                get_polygon="polygon", get_fill_color=[47, 208, 138, 28], get_line_color=[47, 208, 138, 120],
                                line_width_min_pixels=1, stroked=True, pickable=False))
        layers.append(pdk.Layer("ScatterplotLayer", id="gaps", data=[
            {"position": [g.target.lon, g.target.lat], "name": g.target.name, "info": ctx.text("15分钟圈外", "outside")}
            for g in res.gaps if g.target.lon is not None], get_position="position", get_radius=260,
            radius_min_pixels=6, stroked=True, filled=False, get_line_color=[232, 54, 59, 255],
            line_width_min_pixels=2, pickable=True))
        legend.append({"ids": ["circle", "gaps"], "label": ctx.text(f"{res.minutes:g}分钟圈/盲区", f"{res.minutes:g}-min circle"),
                       "color": [47, 208, 138], "icon": "ring"})
    for key in wanted:
        points = _layer_points(ctx, key)
        layers.append(icon_layer(f"res_{key}", points, size=ICON_PX))
        ids = [f"res_{key}"]
        if key in labelled and points:
            ids.append(f"res_{key}_labels")
            layers.append(text_layer(ids[-1], [{"position": p["position"], "text": p["name"]} for p in points],
                                     size=15, offset=(0, -ICON_PX // 2 - 2), baseline="bottom"))
        legend.append({"ids": ids, "label": f"{LAYERS[key][lang]} {len(points)}", "color": LAYERS[key][3],
                       "icon": LAYERS[key][4]})
    routes = [{"path": t.properties["route"], "name": t.name} for t in
              entities_of(ctx.store, ("emergency_team", "micro_station", "fire_rescue_station"))
              if t.properties.get("status") == "dispatched" and t.properties.get("route")]
    layers.append(pdk.Layer("PathLayer", id="routes", data=routes, get_path="path", get_width=40, width_min_pixels=4,
                            get_color=[60, 220, 120, 230], pickable=True))
    # live incidents only: a drill shows on its own incident view, never on the live map
    open_incidents = incidents.incidents(ctx.store, open_only=True, limit=50,
                                         drill=None if ctx.options.get("drills") else False)
    layers.append(_incident_layer(ctx, open_incidents))
    layers.append(_incident_labels(ctx, open_incidents))
    legend.append({"ids": ["incidents", "routes", "incident_labels"], "label": ctx.text("事件/出动路线", "Incidents, routes"),
                   "color": [232, 54, 59]})
    site = next((s for s in ctx.store.sites() if s.id == "cc-jiaojiang"), None)
    view = pdk.ViewState(longitude=site.lon if site else 121.45, latitude=site.lat if site else 28.67,
                         zoom=float(ctx.options.get("zoom", 11.3)), pitch=40, bearing=0)
    ctx.data_time = time.time()
    return _deck_spec(layers, view, legend)


def _incident_layer(ctx: PanelContext, incs: list[Incident], radius_m: float = 420) -> pdk.Layer:
    data = []
    for i in incs:
        pt = point_of(i.geometry)
        if pt:
            rgb = DRILL_RGB if i.is_drill else SEV_RGB.get(i.severity, SEV_RGB[1])
            data.append({"position": list(pt), "name": incidents.title_in(i, ctx.lang), "info": STATE_TEXT[i.state][0 if ctx.lang == "zh" else 1],
                         "color": rgb + [255]})
    return pdk.Layer("ScatterplotLayer", id="incidents", data=data, get_position="position", get_fill_color="color",
                     get_radius=radius_m, radius_min_pixels=12, stroked=True, get_line_color=[255, 255, 255, 255],
                     line_width_min_pixels=3, pickable=True,
                     tb_pulse=any(not i.is_drill for i in incs))   # live incidents pulse on the wall (twinboard.js)


def _incident_labels(ctx: PanelContext, incs: list[Incident]) -> dict[str, Any]:
    rows = [{"position": list(pt), "text": (ctx.text("[演练] ", "[Drill] ") if i.is_drill else "") + incidents.title_in(i, ctx.lang).removeprefix("[Drill] ")}
            for i in incs if (pt := point_of(i.geometry))]
    return text_layer("incident_labels", rows, size=18, color=[255, 226, 226, 255], offset=(0, -20),
                      baseline="bottom")


def resources(ctx: PanelContext) -> Any:
    """Rescue forces by status, stores with stock and expiry, shelters with occupancy."""
    teams = entities_of(ctx.store, ("emergency_team", "fire_rescue_station"))
    rows = []
    for t in teams:
        st = t.properties.get("status", "standby")
        zh, en, colour = STATUS.get(st, STATUS["standby"])
        rows.append(html.Tr([html.Td(_name(ctx, t)), html.Td(str(t.properties.get("size", "–"))),
                             html.Td(ctx.text(zh, en), style={"color": colour})]))
    today = date.fromtimestamp(time.time())
    stock = []
    latest = {(lv.entity_id, lv.metric): lv for lv in ctx.store.latest(
        entity_ids=[d.id for d in entities_of(ctx.store, ("material_depot",))])}
    for d in entities_of(ctx.store, ("material_depot",)):
        for it in d.properties.get("items", []):
            lv = latest.get((d.id, f"stock.{it['sku']}"))
            count = int(lv.value) if lv else int(it.get("count", 0))
            warn = ""
            if it.get("expiry"):
                days = (date.fromisoformat(str(it["expiry"])) - today).days
                if days < 0:
                    warn = ctx.text("已过期", "expired")
                elif days <= 30:
                    warn = ctx.text(f"{days}天后到期", f"expires in {days} d")
            stock.append(html.Tr([html.Td(it["name"] if ctx.lang == "zh" else it.get("name_en", it["name"])),
                                  html.Td(f"{count}{it.get('unit', '') if ctx.lang == 'zh' else ''}"),
                                  html.Td(warn, className="tb-sev-2" if warn else "")]))
    shelters = entities_of(ctx.store, ("emergency_shelter",))
    occ = {lv.entity_id: lv.value for lv in ctx.store.latest(entity_ids=[s.id for s in shelters])
           if lv.metric == "occupancy"}
    cap = sum(int(s.properties.get("capacity", 0)) for s in shelters)
    used = sum(occ.get(s.id, 0) for s in shelters)
    scan = max((lv.ts for lv in latest.values()), default=None)
    ctx.data_time = scan or time.time()
    return html.Div(style={"display": "grid", "gridTemplateColumns": "1fr 1fr", "gap": "12px", "fontSize": "17px"},
                    children=[
        html.Table(className="tb-table", children=[html.Thead(html.Tr([html.Th(ctx.text("救援力量", "Forces")),
                                                                      html.Th(ctx.text("人数", "Size")),
                                                                      html.Th(ctx.text("状态", "Status"))])),
                                                   html.Tbody(rows)]),
        html.Div([html.Table(className="tb-table", children=[
            html.Thead(html.Tr([html.Th(ctx.text("物资(RFID盘点)", "Stock (RFID)")), html.Th(ctx.text("数量", "Count")),
                                html.Th("")])), html.Tbody(stock[:9])]),
            html.Div(f"{ctx.text('避难场所', 'Shelters')}: {int(used)}/{cap} {ctx.text('人', 'people')}",
                     style={"marginTop": "8px", "color": "#9fb6cc"})]),
    ])


def circle_panel(ctx: PanelContext) -> Any:
    """15分钟快速响应救援圈: shares covered, the gaps, stations that cannot use the road graph."""
    res = circle_result(ctx)
    ctx.data_time = time.time()

    def pct(v: float | None) -> str:
        return "–" if v is None else f"{v * 100:.0f}"
    stations = {a.station.id: a.station.name for a in res.areas}

    def row(t: Any) -> html.Li:
        when = (ctx.text(f"{t.best_s / 60:.1f} 分钟", f"{t.best_s / 60:.1f} min") if t.best_s is not None
                else ctx.text("不可达", "unreachable"))
        by = f" · {ctx.name(stations[t.station_id])}" if t.station_id in stations else ""
        return html.Li(f"{ctx.name(t.target.name)}{by} · {when}", title=t.target.name,
                       style={"whiteSpace": "nowrap", "overflow": "hidden", "textOverflow": "ellipsis"})
    if res.gaps:
        head = ctx.text(f"{int(res.minutes)} 分钟圈外 ({len(res.gaps)})", f"Outside {int(res.minutes)} min ({len(res.gaps)})")
        rows, colour = [row(g) for g in res.gaps[:6]], "#f5852a"
    else:   # all inside: where the circle is thinnest, the targets reached last
        edge = sorted((t for t in res.targets if t.covered and t.best_s is not None), key=lambda t: -t.best_s)[:4]
        head = ctx.text(f"全部在 {int(res.minutes)} 分钟圈内 · 最晚到达", f"All inside {int(res.minutes)} min · reached last")
        rows, colour = [row(t) for t in edge] or [html.Li(ctx.text("无目标", "no targets"))], "#2fd08a"
    return html.Div([
        html.Div(className="tb-kpis", style={"gridTemplateColumns": "repeat(3, 1fr)"}, children=[
            _kpi(ctx.text("风险点覆盖", "Risk points"), pct(res.shares.get("risk_points")), "%", size=34),
            _kpi(ctx.text("企业覆盖", "Enterprises"), pct(res.shares.get("enterprises")), "%", size=34),
            _kpi(ctx.text("人口覆盖", "People"), pct(res.shares.get("people")), "%", size=34)]),
        html.Div(head, style={"marginTop": "8px", "color": colour, "fontSize": "16px"}),
        html.Ul(rows, style={"fontSize": "16px", "margin": "4px 0", "paddingLeft": "20px"}),
        html.Div([html.Div("⚠ " + p, className="tb-error-detail") for p in res.problems[:3]]),
    ])


# -- incident view ---------------------------------------------------------------------------------
def _drill_badge(ctx: PanelContext, inc: Incident) -> Any:
    if not inc.is_drill:
        return None
    return html.Span(ctx.text("演练", "DRILL"), className="tb-drill-badge",
                     style={"background": "#f6d33c", "color": "#07142b", "padding": "2px 10px", "fontWeight": 700,
                            "marginRight": "10px", "borderRadius": "3px"})


def incident_card(ctx: PanelContext) -> Any:
    """The incident: type, place, level, where it is in the workflow, response times so far."""
    inc = current_incident(ctx)
    ctx.data_time = time.time()
    if inc is None:
        return html.Div(ctx.text("当前无处置中的事件", "No incident in progress"), className="tb-empty")
    events = incidents.timeline(ctx.store, inc.id)
    times = incidents.response_times(inc, events)
    idx = STATES.index(inc.state)
    seen = {e.kind for e in events} | {"intake"}

    def step_style(i: int, s: str) -> dict[str, str]:
        if i == idx:
            bg = "#2fd08a" if s == "closed" else "#e8363b"
        elif i < idx:
            bg = "#1f5fa8" if s in seen else "#132a4d"        # a skipped step (e.g. no warning) stays dim
        else:
            bg = "#132a4d"
        return {"padding": "4px 12px" if ctx.lang == "zh" else "3px 7px", "marginRight": "4px", "borderRadius": "3px",
                "fontSize": "17px" if ctx.lang == "zh" else "16px",  # the wall minimum; the longer English words wrap
                "background": bg, "color": "#e6f1ff" if i <= idx and (s in seen or i == idx) else "#6f86a6",
                "textDecoration": "line-through" if i < idx and s not in seen else "none"}
    steps = [html.Span(STATE_TEXT[s][0 if ctx.lang == "zh" else 1], style=step_style(i, s))
             for i, s in enumerate(STATES)]

    def dur(v: float | None) -> str:
        return "–" if v is None else f"{v / 60:.1f}"
    return html.Div([
        html.Div([_drill_badge(ctx, inc), html.Span(f"#{inc.id} {incidents.title_in(inc, ctx.lang)}", style={"fontSize": "24px",
                                                                                     "fontWeight": 700})]),
        html.Div(f"{KINDS[inc.kind][0 if ctx.lang == 'zh' else 1]} · "
                 f"{LEVEL_ZH[inc.severity] if ctx.lang == 'zh' else 'Level ' + str(inc.severity)} · "
                 f"{ctx.name(inc.properties.get('place') or '', inc.properties.get('place_en'))} · {ctx.text('接报', 'reported')} "
                 f"{time.strftime('%H:%M:%S', time.localtime(inc.properties.get('reported_at') or inc.opened_at))}",
                 style={"color": "#9fb6cc", "fontSize": "17px", "margin": "6px 0 10px"}),
        html.Div(steps, style={"marginBottom": "12px", "display": "flex", "flexWrap": "wrap", "rowGap": "4px"}),
        html.Div(className="tb-kpis", style={"gridTemplateColumns": "repeat(3, 1fr)"}, children=[
            _kpi(ctx.text("接报→调度", "Intake→dispatch"), dur(times["intake_to_dispatch_s"]), ctx.text("分", "min"), size=32),
            _kpi(ctx.text("调度→到场", "Dispatch→arrival"), dur(times["dispatch_to_arrival_s"]), ctx.text("分", "min"), size=32),
            _kpi(ctx.text("出动队伍", "Teams"), str(len(inc.properties.get("dispatches", []))), size=32)]),
    ])


def incident_timeline(ctx: PanelContext) -> Any:
    """Who did what when: every step, message and state change, newest first."""
    inc = current_incident(ctx)
    ctx.data_time = time.time()
    if inc is None:
        return html.Div(ctx.text("无事件", "No incident"), className="tb-empty")
    events = incidents.timeline(ctx.store, inc.id)[::-1][:int(ctx.options.get("limit", 14))]
    return html.Ul(className="tb-alerts", style={"fontSize": "16px"}, children=[
        html.Li([html.Span(time.strftime("%H:%M:%S", time.localtime(e.ts)), className="tb-alert-time"),
                 html.Span({**STATE_TEXT, **EVENT_TEXT}.get(e.kind, (e.kind, e.kind))[0 if ctx.lang == "zh" else 1],
                           className="tb-alert-badge", style={"background": "#1f5fa8"}),
                 html.Span([f"{actor_label(ctx, e.actor)}: ", *event_text(ctx, inc, e)])]) for e in events])


def event_text(ctx: PanelContext, inc: Incident, e: Any) -> list[Any]:
    """A timeline line in the screen's language: the stored Chinese line, or its English form
    (``incidents.event_en``) with a person's text in English or marked as the original; the English line
    leaves out its step word where the line's badge already says it ("Dispatch: …" under "Dispatch")."""
    if ctx.lang != "en":
        return [e.message]
    parts = incidents.event_en(ctx.store, inc, e)
    badge = {**STATE_TEXT, **EVENT_TEXT}.get(e.kind, (e.kind, e.kind))[1] + ": "
    if parts and isinstance(parts[0], str) and parts[0].startswith(badge):
        parts = [parts[0].removeprefix(badge), *parts[1:]]
    return [p if isinstance(p, str) else ctx.original(*p) for p in parts if p != ""]


def actor_label(ctx: PanelContext, actor: str) -> str:
    """Who acted, for people: a person's name, a team's name, or 系统 / 演练 — never the stored actor id
    (``system``, ``team:cc.team.hazmat``, ``drill:chem_leak``)."""
    kind, _, rest = (actor or "").partition(":")
    if not rest:
        if kind in ("system", "rule", ""):
            return ctx.text("系统", "System")
        return actor  # a signed-in person's user name
    if kind == "team":
        team = ctx.store.entity(rest)
        if team is not None:
            return team.name if ctx.lang == "zh" else (team.name_en or name_en(team.name))
        return ctx.text("救援队伍", "Rescue team")
    if kind == "drill":
        return ctx.text("演练脚本", "Drill script")
    if kind in ("detector", "plugin", "source"):
        return ctx.text("系统", "System")
    return ctx.text("值班人员", "Duty officer")


def soonest_teams(ctx: PanelContext) -> Any:
    """For the incident: teams by arrival time over the road graph, and hazards / resources nearby."""
    inc = current_incident(ctx)
    ctx.data_time = time.time()
    if inc is None:
        return html.Div(ctx.text("无事件", "No incident"), className="tb-empty")
    try:
        cands = candidates(ctx.store, road_network(ctx.settings.road_spacing_m), inc)
    except incidents.IncidentError as exc:
        return html.Div("⚠ " + str(exc), className="tb-error-message")
    rows = []
    for c in cands[:int(ctx.options.get("limit", 7))]:
        zh, en, colour = STATUS.get(c["status"], STATUS["standby"])
        rows.append(html.Tr([html.Td(c["name"] if ctx.lang == "zh" else c["name_en"] or c["name"]),
                             html.Td("–" if c["eta_s"] is None else f"{c['eta_s'] / 60:.1f}"),
                             html.Td(ctx.text(zh, en), style={"color": colour})]))
    pt = point_of(inc.geometry)
    near = nearby_entities(ctx.store, pt[0], pt[1], ctx.settings.nearby_km,
                           ("hazard_source", "sensitive_target", "emergency_shelter", "shelter", "medical_point",
                            "material_depot", "village"))
    return html.Div([
        html.Table(className="tb-table", style={"fontSize": "17px"}, children=[
            html.Thead(html.Tr([html.Th(ctx.text("最快到达队伍", "Soonest teams")), html.Th(ctx.text("分钟", "min")),
                                html.Th(ctx.text("状态", "Status"))])), html.Tbody(rows)]),
        html.Div(ctx.text(f"周边 {ctx.settings.nearby_km:g} 公里", f"Within {ctx.settings.nearby_km:g} km"),
                 style={"margin": "10px 0 4px", "color": "#9fb6cc"}),
        html.Div("、".join(_name(ctx, e) for e in near[:10]) or "–", style={"fontSize": "16px"}),
    ])


def _deck_spec(layers: list[Any], view: pdk.ViewState | dict[str, Any], legend: list[dict[str, Any]]) -> dict[str, Any]:
    """The deck as deck.gl JSON with the tooltip and the legend chips (``tbLegend``)."""
    if isinstance(view, dict):
        view = pdk.ViewState(**view)
    deck = json.loads(pdk.Deck(layers=layers, initial_view_state=view, map_provider=None,
                               tooltip={"text": "{name}\n{info}"}).to_json())
    deck["tbLegend"] = legend
    return deck


def _circle_points(lon: float, lat: float, radius_km: float, n: int = 16) -> list[list[float]]:
    """``n`` points on a circle of ``radius_km`` around (lon, lat): what a map must show to show the circle."""
    return [[lon + radius_km / (111.32 * math.cos(math.radians(lat))) * math.cos(2 * math.pi * i / n),
             lat + radius_km / 110.54 * math.sin(2 * math.pi * i / n)] for i in range(n)]


def incident_map(ctx: PanelContext) -> dict[str, Any]:
    """The map flown to the incident: hazards and resources within reach, the teams by status with their
    routes, the incident; a legend (``tbLegend``) whose chips, with the map's symbols and colours, turn
    each of them on and off.

    The view frames the incident, the ``nearby_km`` circle, the places shown and the teams' whole routes
    (``core.api.fit_view``) on a map ``options.map_px`` [width, height] px (default 918×570, the incident
    screen's map) with room for the legend on the left; it changes only when these do, so the wall does
    not re-fly as the teams move. ``options.zoom`` caps the zoom (default 15).
    """
    inc = current_incident(ctx)
    net = road_network(ctx.settings.road_spacing_m)
    lang = 1 if ctx.lang == "zh" else 2
    layers: list[Any] = []
    legend: list[dict[str, Any]] = []
    view: Any = pdk.ViewState(longitude=121.45, latitude=28.67, zoom=11.3, pitch=45)
    roads_chip = {"ids": ["roads"], "label": ctx.text("道路", "Roads"), "color": [70, 110, 160], "icon": "line"}
    if inc is None:  # nothing to fly to: the district's main roads
        layers.append(pdk.Layer("PathLayer", id="roads", get_path="path", get_width=3, width_min_pixels=1,
                                get_color=[70, 110, 160, 150],
                                data=net.edge_paths("expressway") + net.edge_paths("arterial") + net.edge_paths("bridge")))
        legend.append(roads_chip)
    if inc is not None:
        pt = point_of(inc.geometry)
        near_km = ctx.settings.nearby_km
        r = near_km * 2.5
        layers.append(pdk.Layer("PathLayer", id="roads", get_path="path", get_width=2, width_min_pixels=1,
                                get_color=[70, 110, 160, 150], data=[
                                    p for p in net.edge_paths()
                                    if abs(p["path"][0][0] - pt[0]) < r / 97.8 and abs(p["path"][0][1] - pt[1]) < r / 110.5]))
        legend.append(roads_chip)
        layers.append(pdk.Layer("ScatterplotLayer", id="radius", data=[{"position": list(pt)}],
                                get_position="position", get_radius=near_km * 1000, filled=False,
                                stroked=True, get_line_color=RADIUS_RGB + [200], line_width_min_pixels=2))
        legend.append({"ids": ["radius"], "label": ctx.text(f"周边{near_km:g}公里", f"Within {near_km:g} km"),
                       "color": RADIUS_RGB, "icon": "ring"})
        # the teams sent to it, by status, each status with its routes
        if inc.is_drill:  # a drill's teams travel on the drill only (tracker.drill_teams), marked 演练
            teams = [{"id": t["id"], "position": t["position"], "name": t["name"], "route": t["route"], "status": t["status"],
                      "info": ctx.text("演练 · ", "Drill · ") + STATUS[t["status"]][0 if ctx.lang == "zh" else 1]}
                     for t in drill_teams(inc, ctx.settings.speedup)]
        else:
            teams = []
            for t in entities_of(ctx.store, ("emergency_team", "micro_station", "fire_rescue_station")):
                if t.properties.get("incident_id") != inc.id or point_of(t.geometry) is None:
                    continue
                status = t.properties.get("status") if t.properties.get("status") in STATUS else "standby"
                teams.append({"id": t.id, "position": list(point_of(t.geometry)), "name": _name(ctx, t),
                              "route": t.properties.get("route"), "status": status,
                              "info": STATUS[status][0 if ctx.lang == "zh" else 1]})
        team_layers = []
        for status, (zh, en, colour) in STATUS.items():
            mine = [t for t in teams if t["status"] == status]
            rgb = _rgb(colour)
            layers.append(pdk.Layer("PathLayer", id=f"routes_{status}", data=[
                {"path": t["route"], "name": t["name"], "info": t["info"]} for t in mine if t["route"]],
                get_path="path", get_width=30, width_min_pixels=4, get_color=rgb + [200], pickable=True))
            team_layers.append(icon_layer(f"teams_{status}", [
                {"id": t["id"], "position": t["position"], "name": t["name"], "info": t["info"]} for t in mine],
                icon="shield", color=rgb + [255], size=ICON_PX + 2))
            if mine:
                legend.append({"ids": [f"teams_{status}", f"routes_{status}"],
                               "label": ctx.text(f"救援队伍·{zh} {len(mine)}", f"Teams {en.lower()} {len(mine)}"),
                               "color": rgb, "icon": "shield"})
        # hazards and resources within reach, each kind with the one map's symbol and colour (the teams sent
        # to it are drawn once, as teams)
        kinds = {**LAYERS, **NEARBY_OTHER}
        sent = {t["id"] for t in teams}
        near = [e for e in nearby_entities(ctx.store, pt[0], pt[1], near_km * 1.5,
                                           tuple(k for key in kinds for k in kinds[key][0])) if e.id not in sent]
        labelled = {e.id for e in near[:int(ctx.options.get("label_limit", 20))]}
        for key, (ekinds, zh, en, rgb, icon) in kinds.items():
            mine = [e for e in near if e.kind in ekinds]
            if not mine:
                continue
            rows = [{"id": e.id, "position": list(point_of(e.geometry)), "name": _name(ctx, e), "info": _info(ctx, e)}
                    for e in mine]
            layers.append(icon_layer(f"nearby_{key}", rows, icon=icon, color=rgb + [255], size=ICON_PX))
            ids = [f"nearby_{key}"]
            names = [{"position": row["position"], "text": row["name"]} for e, row in zip(mine, rows) if e.id in labelled]
            if names:
                ids.append(f"nearby_{key}_labels")
                layers.append(text_layer(ids[-1], names, size=15, offset=(0, -ICON_PX // 2 - 2), baseline="bottom"))
            legend.append({"ids": ids, "label": f"{(zh, en)[lang - 1]} {len(mine)}", "color": rgb, "icon": icon})
        layers += team_layers                       # teams over the places they pass
        layers.append(_incident_layer(ctx, [inc], radius_m=120))
        layers.append(_incident_labels(ctx, [inc]))
        if inc.is_drill:
            what = ctx.text("演练事件", "Drill incident")
        elif inc.severity in LEVEL_ZH:
            what = ctx.text(f"事件 {LEVEL_ZH[inc.severity]}", f"Incident, level {inc.severity}")
        else:
            what = ctx.text("事件", "Incident")
        legend.insert(0, {"ids": ["incidents", "incident_labels"], "label": what,
                          "color": DRILL_RGB if inc.is_drill else SEV_RGB.get(inc.severity, SEV_RGB[1])})
        # frame what the map shows: the incident, its circle, the places around it, the teams' whole routes
        frame = [list(pt)] + _circle_points(pt[0], pt[1], near_km) + [list(point_of(e.geometry)) for e in near]
        frame += [p for t in teams for p in (t["route"] or [t["position"]])]
        width, height = (float(v) for v in ctx.options.get("map_px", (918, 570)))
        view = fit_view(frame, width=width, height=height, pitch=45, bearing=-10,
                        padding=(60, 40, 30, 220 if ctx.lang == "zh" else 270),
                        min_zoom=8, max_zoom=float(ctx.options.get("zoom", 15)))
    ctx.data_time = time.time()
    return _deck_spec(layers, view, legend)


def warnings_panel(ctx: PanelContext) -> Any:
    """Warning publications: level, title, state, recipients, channel results."""
    inc = current_incident(ctx)  # live warnings, and a drill's own when the view shows that drill
    pubs = publish.publications(ctx.store, int(ctx.options.get("limit", 6)), drill=False,
                                incident_id=inc.id if inc is not None and inc.is_drill else None)
    ctx.data_time = time.time()
    if not pubs:
        return html.Div(ctx.text("暂无预警发布", "No warnings published"), className="tb-empty")
    state = {"draft": ("草稿", "Draft"), "reviewed": ("已审核", "Reviewed"), "published": ("已发布", "Published"),
             "cancelled": ("已撤销", "Cancelled")}
    titled = {inc.id: inc} if inc is not None else {}

    def title(p: Any) -> Any:  # a warning titled like its incident reads the incident's English title
        if p.incident_id not in titled:
            with ctx.store.session() as db:
                titled[p.incident_id] = db.get(Incident, p.incident_id) if p.incident_id else None
        of = titled[p.incident_id]
        if ctx.lang == "en" and of is not None and of.title == p.title and (of.properties or {}).get("title_en"):
            return of.properties["title_en"]
        return ctx.original(p.title)
    return html.Ul(className="tb-alerts", style={"fontSize": "16px"}, children=[
        html.Li([html.Span(publish.LEVELS[p.level][0 if ctx.lang == "zh" else 1], className="tb-alert-badge",
                           style={"background": "rgb({},{},{})".format(*publish.LEVEL_RGB[p.level]),
                                  "color": "#07142b"}),
                 html.Span([f"#{p.id} ", title(p), f" · {state[p.state][0 if ctx.lang == 'zh' else 1]} · "
                            f"{len(p.recipients)}{ctx.text('个对象', ' recipients')}"])]) for p in pubs])


def incidents_list(ctx: PanelContext) -> Any:
    """Incidents, open first then recently closed, with their step; drills only with ``options.drills``."""
    incs = incidents.incidents(ctx.store, limit=int(ctx.options.get("limit", 6)),
                               drill=None if ctx.options.get("drills") else False)
    ctx.data_time = time.time()
    if not incs:
        return html.Div(ctx.text("暂无事件", "No incidents"), className="tb-empty")
    with ctx.store.session() as db:
        linked = set(db.scalars(select(Alert.incident_id).where(Alert.incident_id.isnot(None))).all())
    return html.Ul(className="tb-alerts", style={"fontSize": "16px"}, children=[
        html.Li([html.Span(STATE_TEXT[i.state][0 if ctx.lang == "zh" else 1], className="tb-alert-badge",
                           style={"background": "#2fd08a" if i.state == "closed" else "#e8363b"}),
                 html.Span(f"#{i.id} {incidents.title_in(i, ctx.lang)}" + (" ⚑" if i.id in linked else ""))]) for i in incs])
