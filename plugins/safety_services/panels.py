"""The regulator's screen: services at a glance, coverage of enterprises, findings per service, repeat
findings not fixed, agencies ranked by quality score (factors shown), copied-looking records, latest
records and their sign-off, qualifications. Every panel reads one snapshot (cached two seconds)."""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass
from typing import Any

import plotly.graph_objects as go
from dash import dcc, html

from core.api import SEVERITY_COLORS, PanelContext, PanelSpec

from . import analysis
from .model import QUALIFICATIONS, Agency, Contract, Record, agencies, contracts, item_text, records, services

FONT = '"Noto Sans SC Subset", "Noto Sans SC", sans-serif'
MUTED, OK, ACCENT = "var(--tb-muted)", "var(--tb-ok)", "#36c6ff"
RED, ORANGE, YELLOW, BLUE = (SEVERITY_COLORS[s] for s in (1, 2, 3, 4))
FACTORS = (("signed", "签字确认", "Signed"), ("original", "原创", "Original"), ("delivered", "履约", "Delivered"),
           ("evidence", "有照片", "Photos"), ("qualified", "资质", "Qualified"))


@dataclass
class Snap:
    today: dt.date
    agencies: list[Agency]
    contracts: list[Contract]
    records: list[Record]
    enterprises: dict[str, Any]          # id → entity
    coverage: dict[str, list[str]]
    copied: list[analysis.CopiedPair]
    quality: list[analysis.Quality]
    repeats: list[analysis.Repeat]


_cache: dict[int, tuple[float, Snap]] = {}
_lock = threading.Lock()


def snapshot(ctx: PanelContext) -> Snap:
    key = id(ctx.store)
    with _lock:
        hit = _cache.get(key)
        if hit and time.monotonic() - hit[0] < 2.0:
            return hit[1]
    s, today = ctx.settings, dt.date.today()
    ags, cons, recs = agencies(ctx.store), contracts(ctx.store), records(ctx.store)
    ents = {e.id: e for k in s.enterprise_kinds for e in ctx.store.entities(kind=k)}
    pairs = analysis.copied(recs, s.copy_threshold, s.copy_min_chars)
    snap = Snap(today, ags, cons, recs, ents, analysis.covered(list(ents), cons, ags, today), pairs,
                analysis.quality(ags, cons, recs, pairs, s.weights, today),
                analysis.repeats(recs, analysis.loop_states(ctx.store)))
    with _lock:
        _cache[key] = (time.monotonic(), snap)
    return snap


def _empty(ctx: PanelContext, zh: str = "暂无中介服务数据", en: str = "No service data yet") -> html.Div:
    return html.Div(ctx.text(zh, en), className="tb-empty")


def _kpi(label: str, value: str, unit: str = "", color: str | None = None, size: int = 40) -> html.Div:
    return html.Div(className="tb-kpi", children=[
        html.Div([html.Span(value, className="tb-kpi-value", style={"fontSize": f"{size}px"} | (
            {"color": color} if color else {})), html.Span(unit, className="tb-kpi-unit")]),
        html.Div(label, className="tb-kpi-label", style={"fontSize": "16px"})])


def _bar(value: float, color: str) -> html.Div:
    return html.Div(style={"background": "rgba(54,198,255,0.12)", "height": "10px", "borderRadius": "5px"}, children=[
        html.Div(style={"width": f"{max(0.0, min(100.0, value)):.0f}%", "height": "100%", "background": color,
                        "borderRadius": "5px"})])


def _row(children: list[Any], color: str, **style: Any) -> html.Div:
    return html.Div(children, style={"borderLeft": f"5px solid {color}", "padding": "2px 8px", "margin": "4px 0",
                                     "background": "rgba(54,198,255,0.06)", **style})


_ELL = {"whiteSpace": "nowrap", "overflow": "hidden", "textOverflow": "ellipsis"}


def _agency_name(ctx: PanelContext, s: Snap, aid: str) -> str:
    a = next((a for a in s.agencies if a.id == aid), None)
    if a is None:
        return aid
    return ctx.name(a.name, a.name_en)      # English screens: its English name, else the name in pinyin


def _ent_name(ctx: PanelContext, s: Snap, eid: str, fallback: str) -> str:
    e = s.enterprises.get(eid)
    if e is None:
        return ctx.name(fallback)
    return ctx.name(e.name, e.name_en) if ctx.lang == "en" else fallback


def _svc(ctx: PanelContext, key: str) -> str:
    return services()[key]["en" if ctx.lang == "en" else "zh"]


# -- panels ------------------------------------------------------------------------------------------------
def kpis(ctx: PanelContext) -> Any:
    """Agencies (qualified), contracts in force, coverage, records this year, signed share, open repeats."""
    s = snapshot(ctx)
    if not s.agencies:
        return _empty(ctx)
    year = [r for r in s.records if r.date[:4] == str(s.today.year)]
    decided = [r for r in s.records if r.state != "submitted"]
    signed = sum(r.state == "signed" for r in decided)
    covered = sum(bool(v) for v in s.coverage.values())
    rate = covered / len(s.coverage) if s.coverage else 0.0
    open_rep = sum(not r.fixed for r in s.repeats)
    return html.Div(style={"display": "grid", "gridTemplateColumns": "repeat(3, 1fr)", "gap": "4px", "height": "100%",
                           "alignContent": "center"}, children=[
        _kpi(ctx.text("中介机构", "Agencies"), str(len(s.agencies)),
             ctx.text(f" 有效{sum(bool(a.valid_on(s.today)) for a in s.agencies)}",
                      f" {sum(bool(a.valid_on(s.today)) for a in s.agencies)} valid")),
        _kpi(ctx.text("在履行合同", "Contracts in force"), str(sum(c.active_on(s.today) for c in s.contracts))),
        _kpi(ctx.text("企业覆盖率", "Enterprises covered"), f"{100 * rate:.0f}", "%", OK if rate >= 0.8 else ORANGE),
        _kpi(ctx.text(f"{s.today.year}年服务记录", f"{s.today.year} records"), str(len(year))),
        _kpi(ctx.text("企业签字确认率", "Signed off"), f"{100 * signed / len(decided):.0f}" if decided else "–", "%"),
        _kpi(ctx.text("重复未改问题", "Repeats not fixed"), str(open_rep), "", RED if open_rep else OK),
    ])


def coverage(ctx: PanelContext) -> Any:
    """Enterprises with a contracted (and qualified) agency, by kind, and those without one."""
    s = snapshot(ctx)
    if not s.coverage:
        return _empty(ctx, "暂无企业", "No enterprises")
    groups: dict[str, list[str]] = {}
    for eid in s.coverage:
        groups.setdefault(s.enterprises[eid].kind, []).append(eid)
    label = {"sme_enterprise": ("小微企业园", "Small-enterprise parks"), "enterprise": ("化工园区", "Chemical park")}
    rows = []
    for kind, ids in sorted(groups.items()):
        n = sum(bool(s.coverage[e]) for e in ids)
        zh, en = label.get(kind, (kind, kind))
        rows.append(html.Div(style={"margin": "6px 0"}, children=[
            html.Div(style={"display": "flex", "justifyContent": "space-between", "fontSize": "18px"}, children=[
                html.Span(ctx.text(zh, en)), html.Span([html.B(str(n), style={"color": OK}), f" / {len(ids)}"])]),
            _bar(100 * n / len(ids), OK if n == len(ids) else ACCENT)]))
    served: dict[str, int] = {}
    for v in s.coverage.values():
        for aid in v:
            served[aid] = served.get(aid, 0) + 1
    rows.append(html.Div(ctx.text("各机构服务企业数", "Enterprises per agency"),
                         style={"fontWeight": 700, "fontSize": "17px", "marginTop": "8px"}))
    for aid, n in sorted(served.items(), key=lambda x: (-x[1], x[0])):
        rows.append(html.Div(style={"display": "flex", "justifyContent": "space-between", "fontSize": "16px",
                                    "margin": "2px 0"}, children=[
            html.Span(_agency_name(ctx, s, aid), style=_ELL), html.B(str(n), style={"marginLeft": "8px"})]))
    missing = [e for e, v in s.coverage.items() if not v]
    rows.append(html.Div(ctx.text(f"未签约中介服务 {len(missing)} 家", f"No contracted agency: {len(missing)}"),
                         style={"fontWeight": 700, "fontSize": "17px", "marginTop": "8px"}))
    limit = int(ctx.options.get("limit", 5))
    for e in sorted(missing)[:limit]:
        ent = s.enterprises[e]
        rows.append(_row([html.Div(_ent_name(ctx, s, e, ent.name), style={"fontSize": "16px", **_ELL})], ORANGE))
    if len(missing) > limit:
        rows.append(html.Div(ctx.text(f"另有 {len(missing) - limit} 家", f"and {len(missing) - limit} more"),
                             style={"color": MUTED, "fontSize": "16px"}))
    return html.Div(rows)


def findings(ctx: PanelContext) -> Any:
    """Signed records per service type and their findings (general / major), with findings per record."""
    s = snapshot(ctx)
    per = analysis.findings_per_service(s.records)
    if not per:
        return _empty(ctx, "暂无已确认的服务记录", "No signed records yet")
    keys = [k for k in services() if k in per]
    names = [f"{_svc(ctx, k)}<br>{per[k]['records']:.0f}{ctx.text('次', ' rec.')}" for k in keys]
    fig = go.Figure([
        go.Bar(x=names, y=[per[k]["general"] for k in keys], name=ctx.text("一般隐患", "General"), marker_color=ACCENT),
        go.Bar(x=names, y=[per[k]["major"] for k in keys], name=ctx.text("重大隐患", "Major"), marker_color=RED),
        go.Scatter(x=names, y=[per[k]["per_record"] for k in keys], name=ctx.text("每次服务发现数", "Per record"),
                   mode="lines+markers+text", text=[f"{per[k]['per_record']:.1f}" for k in keys],
                   textposition="top center", line={"color": YELLOW, "width": 2}, yaxis="y2")])
    fig.update_layout(template="plotly_dark", paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)",
                      barmode="stack", margin={"l": 36, "r": 36, "t": 40, "b": 56}, bargap=0.35,
                      font={"size": 15, "color": "#e6f1ff", "family": FONT},
                      legend={"orientation": "h", "x": 0, "y": 1.16, "font": {"size": 15}},
                      yaxis={"gridcolor": "rgba(54,198,255,0.15)", "dtick": 1},
                      yaxis2={"overlaying": "y", "side": "right", "showgrid": False, "rangemode": "tozero",
                              "showticklabels": False})
    return dcc.Graph(figure=fig, config={"displayModeBar": False, "staticPlot": True},
                     style={"height": "100%", "width": "100%"})


def repeats(ctx: PanelContext) -> Any:
    """The same check-list item found again at the same enterprise; red while its hazard is not closed."""
    s = snapshot(ctx)
    if not s.repeats:
        return _empty(ctx, "暂无重复发现的问题", "No repeat findings")
    state = {"found": ("待整改", "to fix"), "rectifying": ("整改中", "fixing"), "reviewing": ("待验收", "reviewing"),
             "closed": ("已闭环", "closed"), "": ("未进入闭环", "not in the loop")}
    rows = []
    for r in s.repeats[: int(ctx.options.get("limit", 5))]:
        zh, en = state.get(r.loop_state, (r.loop_state, r.loop_state))
        rows.append(_row([
            html.Div([html.B(f"×{r.times} ", style={"color": OK if r.fixed else RED}),
                      _ent_name(ctx, s, r.enterprise, r.enterprise_name)], style={"fontSize": "17px", **_ELL}),
            html.Div(item_text(r.item, ctx.lang), style={"fontSize": "16px", **_ELL}),
            html.Div(f"{r.first} → {r.last} · {ctx.text(zh, en)}",
                     style={"fontSize": "16px", "color": OK if r.fixed else RED})], OK if r.fixed else RED))
    return html.Div(rows)


def quality(ctx: PanelContext) -> Any:
    """Agencies ranked by quality score (0–100), each factor shown; the formula is in the README."""
    s = snapshot(ctx)
    if not s.quality:
        return _empty(ctx)
    w = ctx.settings.weights
    head = html.Tr([html.Th("#"), html.Th(ctx.text("中介机构", "Agency"), style={"textAlign": "left"}),
                    html.Th(ctx.text("得分", "Score"))] +
                   [html.Th([ctx.text(zh, en), html.Br(), html.Span(f"×{w[k]:.2f}", style={"color": MUTED,
                                                                                         "fontSize": "16px"})])
                    for k, zh, en in FACTORS] + [html.Th(ctx.text("记录", "Rec."))])
    body = []
    for i, q in enumerate(s.quality, 1):
        color = OK if q.score >= 85 else (YELLOW if q.score >= 70 else RED)
        cells = []
        for k, _, _ in FACTORS:
            v = q.factors[k]
            cells.append(html.Td("–" if v is None else f"{100 * v:.0f}%",
                                 style={"color": MUTED if v is None else (RED if v < 0.6 else "#e6f1ff")}))
        body.append(html.Tr([html.Td(str(i)), html.Td(_agency_name(ctx, s, q.agency), style={"textAlign": "left",
                                                                                             "maxWidth": "330px", **_ELL}),
                             html.Td(html.B(f"{q.score:.0f}", style={"color": color, "fontSize": "26px"}))]
                            + cells + [html.Td(str(q.records))]))
    note = ctx.text("得分 = 100 × Σ 权重 × 因子:签字确认率、非雷同记录占比、合同服务履约率、问题附照片率、资质有效率;无数据计满分(–)",
                    "Score = 100 × Σ weight × factor: signed share, records not copied, contracted services delivered, "
                    "findings with photos, valid qualifications; no data counts as full (–)")
    return html.Div(style={"display": "flex", "flexDirection": "column", "height": "100%"}, children=[
        html.Table([html.Thead(head), html.Tbody(body)], style={"width": "100%", "borderCollapse": "collapse",
                                                                "fontSize": "17px", "textAlign": "center"},
                   className="ss-quality"),
        html.Div(note, style={"fontSize": "16px", "color": MUTED, "marginTop": "auto", "lineHeight": "20px"})])


def _notes(ctx: PanelContext, r: Record) -> list[Any]:
    """A record's findings as the agency wrote them: on English screens each in English where the record
    has it (``note_en``), else marked as the original (``PanelContext.original``)."""
    out: list[Any] = []
    for i, f in enumerate(r.findings()):
        if i:
            out.append(ctx.text(";", "; "))
        out.append(ctx.original(f["note"], f.get("note_en")))
    return out


def copied(ctx: PanelContext) -> Any:
    """Records of one service type at different enterprises whose findings text is near-identical."""
    s = snapshot(ctx)
    if not s.copied:
        return _empty(ctx, "未发现雷同服务记录", "No copied-looking records")
    by_id = {r.id: r for r in s.records}
    rows = [html.Div(ctx.text(f"疑似雷同 {len(s.copied)} 对(相似度 ≥ {100 * ctx.settings.copy_threshold:.0f}%)",
                              f"{len(s.copied)} look-alike pair{'' if len(s.copied) == 1 else 's'} (similarity ≥ {100 * ctx.settings.copy_threshold:.0f}%)"),
                     style={"fontSize": "17px", "fontWeight": 700})]
    for p in s.copied[: int(ctx.options.get("limit", 3))]:
        a, b = by_id[p.a], by_id[p.b]
        agency = _agency_name(ctx, s, a.agency) + ("" if a.agency == b.agency else " / " + _agency_name(ctx, s, b.agency))
        def said(r: Record) -> html.Div:
            return html.Div([html.Div(f"{_ent_name(ctx, s, r.enterprise, r.enterprise_name)} · {r.date}",
                                      style={"fontSize": "16px", "color": ACCENT, **_ELL}),
                             html.Div(_notes(ctx, r), style={"fontSize": "16px", "color": "#c9d8ee",
                                                             "lineHeight": "20px", "maxHeight": "80px",
                                                             "overflow": "hidden"})], style={"marginTop": "3px"})
        rows.append(_row([
            html.Div([html.B(f"{100 * p.similarity:.0f}% ", style={"color": RED}), _svc(ctx, p.service), " · ", agency],
                     style={"fontSize": "16px", **_ELL}), said(a), said(b)], RED))
    return html.Div(rows)


def recent(ctx: PanelContext) -> Any:
    """The latest service records with their findings and the enterprise's sign-off."""
    s = snapshot(ctx)
    if not s.records:
        return _empty(ctx)
    st = {"signed": ("已确认", "signed", OK), "submitted": ("待企业签字", "to sign", YELLOW),
          "rejected": ("企业退回", "rejected", RED)}
    rows = []
    for r in sorted(s.records, key=lambda r: (r.date, r.id), reverse=True)[: int(ctx.options.get("limit", 6))]:
        zh, en, color = st[r.state]
        rows.append(_row([
            html.Div([html.Span(ctx.text(zh, en), style={"color": color, "marginRight": "8px", "fontSize": "16px"}),
                      _ent_name(ctx, s, r.enterprise, r.enterprise_name)], style={"fontSize": "17px", **_ELL}),
            html.Div(f"{r.date} · {_svc(ctx, r.service)} · {ctx.text('问题', 'findings')} {len(r.findings())} · "
                     f"{_agency_name(ctx, s, r.agency)}", style={"fontSize": "16px", "color": MUTED, **_ELL})], color))
    return html.Div(rows)


def qualifications(ctx: PanelContext) -> Any:
    """Each agency's qualifications (资质) with their expiry: expired red, expiring soon orange."""
    s = snapshot(ctx)
    if not s.agencies:
        return _empty(ctx)
    warn = ctx.settings.qual_warn_days
    rows = []
    for a in s.agencies:
        for q in sorted(a.qualifications, key=lambda q: q["expiry"]):
            left = (dt.date.fromisoformat(q["expiry"]) - s.today).days
            color = RED if left < 0 else (ORANGE if left <= 30 else (YELLOW if left <= warn else OK))
            text = (ctx.text(f"已过期{-left}天", f"expired {-left} d") if left < 0 else
                    ctx.text(f"{left}天后到期", f"{left} d left") if left <= warn else q["expiry"])
            name = QUALIFICATIONS[q["kind"]][1 if ctx.lang == "en" else 0]
            rows.append((left, html.Div(style={"display": "flex", "justifyContent": "space-between", "fontSize": "16px",
                                               "borderLeft": f"5px solid {color}", "padding": "1px 8px",
                                               "margin": "3px 0"}, children=[
                html.Span(f"{_agency_name(ctx, s, a.id).split('(')[0].removesuffix('有限公司')} · {name}",
                          style={"minWidth": 0, **_ELL}),
                html.Span(text, style={"color": color, "whiteSpace": "nowrap", "marginLeft": "8px"})])))
    rows.sort(key=lambda x: x[0])
    return html.Div([r for _, r in rows[: int(ctx.options.get("limit", 7))]])


def specs() -> list[PanelSpec]:
    P = "safety_services"
    return [
        PanelSpec(f"{P}.kpis", "中介服务总览", "Services at a glance", kpis, sources=("checks",), refresh_s=15),
        PanelSpec(f"{P}.coverage", "企业中介服务覆盖", "Coverage of enterprises", coverage, refresh_s=30,
                  default_options={"limit": 5}),
        PanelSpec(f"{P}.findings", "各类服务发现问题", "Findings per service", findings, refresh_s=30),
        PanelSpec(f"{P}.repeats", "重复发现未整改", "Repeat findings not fixed", repeats, refresh_s=30,
                  default_options={"limit": 5}),
        PanelSpec(f"{P}.quality", "中介机构服务质量排名", "Agencies by quality score", quality, refresh_s=30),
        PanelSpec(f"{P}.copied", "疑似雷同服务记录", "Copied-looking records", copied, refresh_s=30,
                  default_options={"limit": 3}),
        PanelSpec(f"{P}.records", "最新服务记录", "Latest service records", recent, refresh_s=15,
                  default_options={"limit": 6}),
        PanelSpec(f"{P}.qualifications", "机构资质有效期", "Agency qualifications", qualifications, refresh_s=60,
                  default_options={"limit": 7}),
    ]
