"""alerts: built-in panels over the host's alert table (every plugin's alarms in one list)."""

from __future__ import annotations

import time
from typing import Any

from dash import html

from core.api import PanelContext, PanelSpec, hookimpl, name_en

LEVEL_ZH = {1: "Ⅰ级", 2: "Ⅱ级", 3: "Ⅲ级", 4: "Ⅳ级"}
LEVEL_EN = {1: "I", 2: "II", 3: "III", 4: "IV"}
BADGE = {1: "#e8363b", 2: "#f5852a", 3: "#f6d33c", 4: "#2f8cf2"}


def _plugins(ctx: PanelContext) -> set[str] | None:
    """The ``plugin`` option: one plugin's name or a list of names (None: every plugin's alarms)."""
    only = ctx.options.get("plugin")
    if only is None or only == "" or only == []:
        return None
    names = [only] if isinstance(only, str) else only
    if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
        raise ValueError(f"option 'plugin' must be a plugin name or a list of names, got {only!r}")
    return set(names)


def _limit(ctx: PanelContext) -> int:
    raw = ctx.options.get("limit", 8)
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 1:
        raise ValueError(f"option 'limit' must be a whole number of at least 1, got {raw!r}")
    return raw


def alert_list(ctx: PanelContext) -> Any:
    """Open and acknowledged alarms, most severe and newest first; new ones pulse once.

    Options: ``plugin`` (a plugin's name or a list of names: only their alarms), ``limit`` (rows, default 8).
    """
    only = _plugins(ctx)  # a dashboard may show one plugin's alarms only
    alerts = [a for a in ctx.store.alerts(limit=200) if only is None or a.plugin in only][:_limit(ctx)]
    ctx.data_time = time.time()
    if not alerts:
        return html.Div(ctx.text("当前无报警", "No open alarms"), className="tb-empty")
    # people read the entity's name, never its id; a posed camera ("<camera>@west") is named by its camera
    wanted = {a.entity_id for a in alerts} | {a.entity_id.split("@", 1)[0] for a in alerts}
    names = {e.id: (e.name_en or name_en(e.name)) if ctx.lang == "en" else e.name
             for e in ctx.store.entities() if e.id in wanted}
    levels = LEVEL_EN if ctx.lang == "en" else LEVEL_ZH
    items = []
    for a in alerts:
        new = time.time() - a.opened_at < 10
        items.append(html.Li(className="tb-alert-new" if new else "", children=[
            html.Span(levels[a.severity], className="tb-alert-badge", style={"background": BADGE[a.severity]}),
            html.Span(" · ".join(x for x in (names.get(a.entity_id) or names.get(a.entity_id.split("@", 1)[0]),
                                             a.title_in(ctx.lang)) if x)),
            html.Span(a.message_in(ctx.lang), className="tb-alert-msg"),
            html.Span(time.strftime("%H:%M:%S", time.localtime(a.opened_at)), className="tb-alert-time"),
        ], **{"data-severity": str(a.severity)}))
    return html.Ul(items, className="tb-alerts")


def summary(ctx: PanelContext) -> Any:
    """Counts of unresolved alarms per national warning level.

    Option: ``plugin`` (a plugin's name or a list of names: count only their alarms).
    """
    only = _plugins(ctx)
    alerts = [a for a in ctx.store.alerts(limit=10000) if only is None or a.plugin in only]
    ctx.data_time = time.time()
    levels = LEVEL_EN if ctx.lang == "en" else LEVEL_ZH
    return html.Div(className="tb-kpis", style={"gridTemplateColumns": "repeat(4, 1fr)"}, children=[
        html.Div(className="tb-kpi", children=[
            html.Div(str(sum(1 for a in alerts if a.severity == s)), className=f"tb-kpi-value tb-sev-{s}"),
            html.Div(levels[s] + ctx.text("报警", " alarms"), className="tb-kpi-label")])
        for s in (1, 2, 3, 4)])


@hookimpl
def register_panels() -> list[PanelSpec]:
    return [PanelSpec("alerts.list", "实时报警", "Live alarms", alert_list, refresh_s=1),
            PanelSpec("alerts.summary", "报警分级统计", "Alarms by level", summary, refresh_s=2)]
