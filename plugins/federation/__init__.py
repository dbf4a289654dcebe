"""federation: a built-in panel over the host's five-level interconnection (上下级互通): the incidents,
warnings, alert summaries and instructions received from the levels above and below, with their origin."""

from __future__ import annotations

import time
from typing import Any

from dash import html

from core.api import PanelContext, PanelSpec, federation_received, hookimpl

BADGE = {1: "#e8363b", 2: "#f5852a", 3: "#f6d33c", 4: "#2f8cf2"}
#: a message's direction colour: from above (city, province, ministry) or from below (streets)
FROM_ABOVE = {"ministry", "province", "city"}


def exchange(ctx: PanelContext) -> Any:
    """The newest messages received, each with its origin level (市/街道...) and name, type and time.

    Options: ``limit`` (rows, default 8).
    """
    raw = ctx.options.get("limit", 8)
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 1:
        raise ValueError(f"option 'limit' must be a whole number of at least 1, got {raw!r}")
    items = federation_received(ctx.store, raw)
    ctx.data_time = time.time()
    if not items:
        return html.Div(ctx.text("暂无上下级消息", "Nothing from the levels above or below"), className="tb-empty")
    en = ctx.lang == "en"
    rows = []
    for m in items:
        above = m["origin_level"] in FROM_ABOVE
        rows.append(html.Li(className="tb-fed-item", **{"data-type": m["type"], "data-level": m["origin_level"]},
                            children=[
            html.Span(m["level_en"] if en else m["level_zh"], className="tb-alert-badge",
                      style={"background": "#7a5cf0" if above else "#1f9d8a"}),
            html.Span(f"{m['origin_name']} · {m['type_en'] if en else m['type_zh']} · {m['title']}",
                      style={"color": BADGE.get(m["severity"] or 0, "inherit")} if m["severity"] in (1, 2) else None),
            html.Span(time.strftime("%H:%M:%S", time.localtime(m["received_at"])), className="tb-alert-time"),
        ]))
    return html.Ul(rows, className="tb-alerts")


@hookimpl
def register_panels() -> list[PanelSpec]:
    return [PanelSpec("federation.exchange", "上下级互通", "Interconnection", exchange, refresh_s=5)]
