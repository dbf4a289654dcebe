"""The supplies screen's panels: KPIs, stock against norm, expiring batches, store environment, hosted stock,
today's movements, tags held for review and the stores' map. Every panel reads one snapshot (cached 2 s)."""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass
from typing import Any

import pydeck as pdk
from dash import html

from core.api import SEVERITY_COLORS, PanelContext, PanelSpec, Store, text_layer

from . import ledger
from .model import CATEGORIES, Batch, Hosted, Item, SupplyStore, hosted

MUTED, OK, ACCENT = "var(--tb-muted)", "var(--tb-ok)", "#36c6ff"
RED, ORANGE, YELLOW, BLUE = (SEVERITY_COLORS[s] for s in (1, 2, 3, 4))
ROW = {"whiteSpace": "nowrap", "overflow": "hidden", "textOverflow": "ellipsis"}
#: the stock table's cells and its fixed store and stock columns (the item column takes the rest)
CELL = {"padding": "6px 6px"}
STORE_COL, STOCK_COL = "122px", "130px"


@dataclass
class Snap:
    d: ledger.Derived
    stores: list[SupplyStore]
    items: list[Item]
    batches: list[Batch]
    hosted: list[Hosted]
    today: dt.date
    at: float


_cache: dict[int, Snap] = {}
_lock = threading.Lock()


def snap(store: Store) -> Snap:
    with _lock:
        s = _cache.get(id(store))
        if s is not None and time.time() - s.at < 2.0:
            return s
    d, st, it, bt = ledger.current(store)
    s = Snap(d, st, it, bt, hosted(store), dt.date.today(), time.time())
    with _lock:
        _cache[id(store)] = s
    return s


def _name(ctx: PanelContext, obj: Any) -> str:
    return obj.name_en if ctx.lang == "en" and getattr(obj, "name_en", "") else obj.name


def _short(ctx: PanelContext, st: SupplyStore) -> str:
    """A store's short name: 区储备库, 化工园区库, 章安, 下陈."""
    if ctx.lang == "en":
        return st.name_en.replace(" emergency store", "").replace(" street supplies point", "")
    return st.name.replace("应急物资储备库", "储备库").replace("街道应急物资储备点", "").replace("应急物资库", "")


def _empty(ctx: PanelContext, zh: str, en: str) -> html.Div:
    return html.Div(ctx.text(zh, en), className="tb-empty")


def _kpi(label: str, value: str, unit: str = "", color: str | None = None) -> html.Div:
    return html.Div(className="tb-kpi", children=[
        html.Div([html.Span(value, className="tb-kpi-value", style={"fontSize": "40px"} | ({"color": color} if color
                                                                                              else {})),
                  html.Span(unit, className="tb-kpi-unit")]),
        html.Div(label, className="tb-kpi-label", style={"fontSize": "16px"})])


def _today_effects(s: Snap) -> list[dict[str, Any]]:
    start = time.mktime(s.today.timetuple())
    return [e for e in s.d.effects if e["ts"] >= start]


def kpis(ctx: PanelContext) -> Any:
    """Stores, stock lines below norm, batches expiring, tags held, movements today, hosted holders."""
    s = snap(ctx.store)
    if not s.stores:
        return _empty(ctx, "暂无物资库", "No stores yet")
    below = sum(1 for st in s.stores for it in s.items
                if it.norms.get(st.id) and s.d.stock.get((st.id, it.id), 0) < it.norms[st.id])
    exp = len(ledger.expiring(s.batches, s.d, s.today, ctx.settings.expiry_warn_days))
    moves = sum(1 for e in _today_effects(s) if e["kind"] != "drill")  # a drill's use is no live movement
    return html.Div(style={"display": "grid", "gridTemplateColumns": "repeat(3, 1fr)", "gap": "4px", "height": "100%",
                           "alignContent": "center"}, children=[
        _kpi(ctx.text("物资库", "Stores"), str(len(s.stores))),
        _kpi(ctx.text("低于定额", "Below norm"), str(below), color=RED if below else OK),
        _kpi(ctx.text("临期批次", "Expiring batches"), str(exp), color=ORANGE if exp else OK),
        _kpi(ctx.text("待核标签", "Tags held"), str(len(s.d.unknown)), color=YELLOW if s.d.unknown else OK),
        _kpi(ctx.text("今日出入库", "Movements today"), str(moves)),
        _kpi(ctx.text("托管协议", "Hosted agreements"), str(len(s.hosted)))])


def stock(ctx: PanelContext) -> Any:
    """Each item per store: stock against the reserve norm (bar; red below it), drill use apart."""
    s = snap(ctx.store)
    rows = []
    for it in s.items:
        for st in s.stores:
            norm = int(it.norms.get(st.id, 0))
            qty = int(s.d.stock.get((st.id, it.id), 0))
            if not norm and not qty:
                continue
            ratio = qty / norm if norm else 1.0
            color = RED if ratio < 0.5 else ORANGE if ratio < 1 else OK
            name, where = _name(ctx, it), _short(ctx, st)
            rows.append((ratio, html.Tr([
                html.Td(name, title=name, style={**ROW, **CELL}),     # a cut name keeps its full text as a tooltip
                html.Td(where, title=where, style={**ROW, **CELL, "color": MUTED}),
                html.Td([html.Div([html.Span(f"{qty}/{norm}", style={"color": color}),
                                   html.Span(it.unit, style={"color": MUTED, "fontSize": "16px", "marginLeft": "2px"})],
                                  title=f"{qty}/{norm} {it.unit}", style=ROW),
                         html.Div(style={"background": "rgba(54,198,255,0.12)", "height": "6px", "borderRadius": "3px"},
                                  children=html.Div(style={"width": f"{min(100.0, 100 * ratio):.0f}%", "height": "100%",
                                                           "background": color, "borderRadius": "3px"}))],
                        style={**CELL, "textAlign": "right", "fontVariantNumeric": "tabular-nums",
                               "whiteSpace": "nowrap"})])))
    if not rows:
        return _empty(ctx, "暂无库存", "No stock")
    rows.sort(key=lambda r: r[0])
    # fixed columns: the table never runs past its panel (English names are longer); item takes what is left
    return html.Table(className="tb-table", style={"width": "100%", "fontSize": "16px", "tableLayout": "fixed"}, children=[
        html.Colgroup([html.Col(), html.Col(style={"width": STORE_COL}), html.Col(style={"width": STOCK_COL})]),
        html.Thead(html.Tr([html.Th(h, title=h, style={**ROW, **CELL, **({"textAlign": "right"} if i == 2 else {})})
                            for i, h in enumerate((ctx.text("物资", "Item"), ctx.text("库", "Store"),
                                                   ctx.text("库存/定额", "Stock/norm")))])),
        html.Tbody([r for _, r in rows[: int(ctx.options.get("limit", 12))]])])


def expiring(ctx: PanelContext) -> Any:
    """Batches in stock expiring within the warning window (or expired), soonest first."""
    s = snap(ctx.store)
    rows = ledger.expiring(s.batches, s.d, s.today, ctx.settings.expiry_warn_days)
    if not rows:
        return _empty(ctx, "暂无临期批次", "No batch expiring")
    items = {i.id: i for i in s.items}
    names = {st.id: st for st in s.stores}
    out = []
    for r in rows[: int(ctx.options.get("limit", 5))]:
        b, days = r["batch"], r["days"]
        color = RED if days < 0 else ORANGE if days <= 30 else YELLOW
        it = items.get(b.item)
        left = ctx.text(f"已过期 {-days} 天", f"expired {-days} d ago") if days < 0 else \
            ctx.text(f"{days} 天后到期", f"expires in {days} d")
        out.append(html.Div(style={"borderLeft": f"5px solid {color}", "padding": "2px 8px", "margin": "4px 0",
                                   "background": "rgba(54,198,255,0.06)"}, children=[
            html.Div([html.Span(_name(ctx, it) if it else b.item, style={"marginRight": "8px"}),
                      html.Span(f"{ctx.text('批次', 'batch')} {b.code}", style={"color": MUTED, "fontSize": "16px"})],
                     style={**ROW, "fontSize": "17px"}),
            html.Div(f"{_short(ctx, names[r['store']]) if r['store'] in names else r['store']} · {r['qty']}"
                     f"{it.unit if it else ''} · {b.expiry} · {left}", style={**ROW, "fontSize": "16px",
                                                                              "color": color})]))
    return html.Div(out)


def environment(ctx: PanelContext) -> Any:
    """Each store's latest temperature, humidity, water leak and door, coloured against the thresholds."""
    s = snap(ctx.store)
    if not s.stores:
        return _empty(ctx, "暂无物资库", "No stores yet")
    latest = {(lv.entity_id, lv.metric): lv for lv in ctx.store.latest(entity_ids=[st.id for st in s.stores])}
    sens = {st.id for st in s.stores if (st.id, "humidity_watch") in latest}
    body = []
    for st in s.stores:
        def val(metric: str) -> float | None:
            lv = latest.get((st.id, metric))
            return None if lv is None else float(lv.value)
        t, h, leak, door = val("temperature"), val("humidity"), val("leak"), val("door")
        hot = t is not None and t >= ctx.settings.temperature_limit
        wet = h is not None and st.id in sens and h >= ctx.settings.humidity_limit
        body.append(html.Tr([
            html.Td(_short(ctx, st), style={**ROW, "maxWidth": "120px"}),
            html.Td("–" if t is None else f"{t:.1f}°C", style={"color": ORANGE if hot else None}),
            html.Td("–" if h is None else f"{h:.0f}%" + (" ◆" if st.id in sens else ""),
                    style={"color": RED if wet else None}),
            html.Td("–" if leak is None else ctx.text("漏水", "LEAK") if leak else ctx.text("正常", "ok"),
                    style={"color": RED if leak else OK}),
            html.Td("–" if door is None else ctx.text("开", "open") if door else ctx.text("关", "shut"),
                    style={"color": YELLOW if door else OK})]))
    return html.Div([
        html.Table(className="tb-table", style={"width": "100%", "fontSize": "16px"}, children=[
            html.Thead(html.Tr([html.Th(ctx.text("库", "Store")), html.Th(ctx.text("温度", "Temp.")),
                                html.Th(ctx.text("湿度", "Humidity")), html.Th(ctx.text("水浸", "Leak")),
                                html.Th(ctx.text("门磁", "Door"))])),
            html.Tbody(body)]),
        html.Div(ctx.text(f"◆ 存放药品/帐篷,湿度限值 {ctx.settings.humidity_limit:g}%",
                          f"◆ holds medicines/tents: humidity limit {ctx.settings.humidity_limit:g}%"),
                 style={"color": MUTED, "fontSize": "16px", "marginTop": "4px"})])


def hosted_panel(ctx: PanelContext) -> Any:
    """Hosted stock (托管): holder, item, quantity, agreement end, last check, agreed call-up time, call-ups."""
    s = snap(ctx.store)
    if not s.hosted:
        return _empty(ctx, "暂无托管协议", "No hosted agreements")
    items = {i.id: i for i in s.items}
    rows = []
    for h in s.hosted:
        it = items.get(h.item)
        end_days = (dt.date.fromisoformat(h.contract_end) - s.today).days
        check_days = (s.today - dt.date.fromisoformat(h.last_check)).days
        open_calls = [c for c in h.callups if c["state"] == "requested"]
        rows.append(html.Div(style={"borderLeft": f"5px solid {YELLOW if open_calls else ACCENT}", "padding": "2px 8px",
                                    "margin": "4px 0", "background": "rgba(246,211,60,0.06)"}, children=[
            html.Div([html.Span(_name(ctx, h), style={"marginRight": "8px"}),
                      html.Span(f"{_name(ctx, it) if it else h.item} {h.quantity}{it.unit if it else ''}",
                                style={"color": ACCENT})], style={**ROW, "fontSize": "17px"}),
            html.Div(ctx.text(f"协议至 {h.contract_end} · 查验 {check_days} 天前 · 调用 {h.callup_hours:g} 小时内"
                              + (f" · 调用中 {len(open_calls)}" if open_calls else ""),
                              f"until {h.contract_end} · checked {check_days} d ago · call-up {h.callup_hours:g} h"
                              + (f" · {len(open_calls)} call-up open" if open_calls else "")),
                     style={**ROW, "fontSize": "16px", "color": ORANGE if end_days < 90 or check_days > 92 else MUTED})]))
    return html.Div(rows[: int(ctx.options.get("limit", 4))])


def movements(ctx: PanelContext) -> Any:
    """Today's movements per store (in, out, dispatched, drill) and the latest lines."""
    s = snap(ctx.store)
    today = _today_effects(s)
    names = {st.id: st for st in s.stores}
    items = {i.id: i for i in s.items}
    kinds = {"in": ("入库", "in"), "count_found": ("盘盈", "found"), "out": ("出库", "out"),
             "count_missing": ("盘亏", "missing"), "dispatch": ("调度", "dispatch"), "drill": ("演练", "drill"),
             "transfer": ("调拨", "transfer")}
    per: dict[str, list[int]] = {}
    for e in today:
        row = per.setdefault(e["store"], [0, 0, 0, 0])
        if e["kind"] == "drill":
            row[3] += 1
        elif e["kind"] == "dispatch":
            row[2] += 1
        elif e["delta"] > 0:
            row[0] += 1
        else:
            row[1] += 1
    head = html.Table(className="tb-table", style={"width": "100%", "fontSize": "16px"}, children=[
        html.Thead(html.Tr([html.Th(ctx.text("库", "Store")), html.Th(ctx.text("入", "In")),
                            html.Th(ctx.text("出", "Out")), html.Th(ctx.text("调度", "Disp.")),
                            html.Th(ctx.text("演练", "Drill"))])),
        html.Tbody([html.Tr([html.Td(_short(ctx, st)), *[html.Td(str(v), style={"fontVariantNumeric": "tabular-nums"})
                                                         for v in per.get(st.id, [0, 0, 0, 0])]])
                    for st in s.stores])])
    lines = []
    for e in sorted(today, key=lambda e: -e["ts"])[: int(ctx.options.get("limit", 3))]:
        it, st = items.get(e["item"]), names.get(e["store"])
        k = kinds.get(e["kind"], (e["kind"], e["kind"]))
        qty = e.get("drill_qty", 0) if e["kind"] == "drill" else e["delta"]
        lines.append(html.Div(f"{time.strftime('%H:%M', time.localtime(e['ts']))} {ctx.text(*k)} "
                              f"{_name(ctx, it) if it else e['item']} {qty:+d} · {_short(ctx, st) if st else ''}",
                              style={**ROW, "fontSize": "16px", "color": ORANGE if e["kind"] == "dispatch" else MUTED}))
    return html.Div([head, html.Div(lines, style={"marginTop": "6px"})])


def review(ctx: PanelContext) -> Any:
    """Unknown tags held for review (read, not counted in stock)."""
    s = snap(ctx.store)
    if not s.d.unknown:
        return _empty(ctx, "无待核标签", "No tags held")
    names = {st.id: st for st in s.stores}
    rows = sorted(s.d.unknown.values(), key=lambda r: -r["last"])[: int(ctx.options.get("limit", 3))]
    return html.Div([html.Div([html.Span(r["epc"], style={"fontFamily": "monospace", "marginRight": "8px"}),
                               html.Span(f"{_short(ctx, names[r['store']]) if r['store'] in names else r['store']} · "
                                         f"{ctx.text('读取', 'read')} {r['reads']} {ctx.text('次', '×')}", style={"color": YELLOW})],
                              style={**ROW, "fontSize": "16px", "margin": "3px 0"}) for r in rows])


def stores_map(ctx: PanelContext) -> pdk.Deck:
    """The stores on the district base map (size: capacity; red ring: an item below norm) and hosted holders."""
    s = snap(ctx.store)
    rows = []
    for st in s.stores:
        short = [it for it in s.items if it.norms.get(st.id) and s.d.stock.get((st.id, it.id), 0) < it.norms[st.id]]
        total = sum(1 for it in s.items if s.d.stock.get((st.id, it.id), 0) > 0)
        rows.append({"position": [st.lon, st.lat], "id": st.id, "name": _name(ctx, st), "label": _short(ctx, st),
                     "radius": 300 + st.capacity / 2, "line": [232, 54, 59, 255] if short else [255, 255, 255, 220],
                     "info": ctx.text(f"品类 {total} · 低于定额 {len(short)} · 库容 {st.capacity} 托盘位",
                                      f"{total} items · {len(short)} below norm · {st.capacity} pallet places")})
    items = {i.id: i for i in s.items}
    holders = [{"position": [h.lon, h.lat], "id": h.id, "name": _name(ctx, h),
                "info": f"{_name(ctx, items[h.item]) if h.item in items else h.item} {h.quantity}"}
               for h in s.hosted if h.lon is not None]
    layers = [
        pdk.Layer("ScatterplotLayer", data=holders, id="sp-hosted", get_position="position", get_radius=260,
                  radius_min_pixels=6, radius_max_pixels=12, get_fill_color=[246, 211, 60, 200],
                  get_line_color=[10, 30, 60, 255], stroked=True, line_width_min_pixels=1, pickable=True),
        pdk.Layer("ScatterplotLayer", data=rows, id="sp-stores", get_position="position", get_radius="radius",
                  radius_min_pixels=8, radius_max_pixels=15, get_fill_color=[192, 140, 255, 220],
                  get_line_color="line", stroked=True, line_width_min_pixels=3, pickable=True),
        # the two district stores stand 900 m apart: one label to the left, one to the right
        # stores named after their street stand under the base map's street name: only the district's two
        text_layer("sp-store-labels", [{"position": r["position"], "text": r["label"]} for r in rows
                                       if r["id"] == "sp.store.district"], size=16, color=[226, 208, 255, 255],
                   offset=(-16, 0), anchor="end"),
        text_layer("sp-store-labels-r", [{"position": r["position"], "text": r["label"]} for r in rows
                                         if r["id"] == "sp.store.chem"], size=16, color=[226, 208, 255, 255],
                   offset=(16, 0), anchor="start"),
    ]
    view = pdk.ViewState(longitude=float(ctx.options.get("lon", 121.43)), latitude=float(ctx.options.get("lat", 28.68)),
                         zoom=float(ctx.options.get("zoom", 11.35)), pitch=0)
    return pdk.Deck(layers=layers, initial_view_state=view, map_provider=None, map_style=None,
                    tooltip={"text": "{name}\n{info}"})


def specs() -> list[PanelSpec]:
    P = "supplies"
    return [
        PanelSpec(f"{P}.kpis", "应急物资总览", "Supplies at a glance", kpis, refresh_s=10),
        PanelSpec(f"{P}.stock", "库存对照储备定额", "Stock against norm", stock, refresh_s=10,
                  default_options={"limit": 12}),
        PanelSpec(f"{P}.expiring", "临期批次", "Expiring batches", expiring, refresh_s=60,
                  default_options={"limit": 4}),
        PanelSpec(f"{P}.environment", "库房环境监测", "Store environment", environment, sources=("environment",),
                  refresh_s=10),
        PanelSpec(f"{P}.hosted", "托管储备", "Hosted stock", hosted_panel, refresh_s=30, default_options={"limit": 4}),
        PanelSpec(f"{P}.movements", "今日出入库", "Movements today", movements, refresh_s=10,
                  default_options={"limit": 3}),
        PanelSpec(f"{P}.review", "待核标签", "Tags held for review", review, refresh_s=15, default_options={"limit": 3}),
        PanelSpec(f"{P}.map", "应急物资库分布", "Supplies stores", stores_map, refresh_s=30, kind="deck", basemap=True),
    ]
