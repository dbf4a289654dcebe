"""Server callbacks of the big screen: render each panel at its cadence, contain its faults."""

from __future__ import annotations

import json
import logging
import time
import traceback
from collections.abc import Callable
from typing import Any

from dash import ClientsideFunction, Dash, Input, Output, State, html, no_update, set_props
from dash.dependencies import MATCH

from core.web.dashboards import Dashboard
from core.web.deckpatch import LayerCache, deck_patch
from core.web.graphslot import steady_body
from core.web.map_layers import compose_deck
from core.runtime.host import Host
from core.runtime.panel_faults import PanelFault
from core.web.panel_context import PanelContext, Selection
from core.plugins.manager import PluginStatus

log = logging.getLogger(__name__)


def error_card(title: str, message: str, detail: str = "") -> html.Div:
    """The card a panel shows instead of data when something is wrong."""
    return html.Div(className="tb-error-card", role="alert", children=[
        html.Div("⚠ " + title, className="tb-error-title"),
        html.Div(message, className="tb-error-message"),
        html.Div(detail, className="tb-error-detail") if detail else None,
    ])


def panel_fault_card(fault: PanelFault, report_after: int, t: Callable[[str], str]) -> html.Div:
    """A failed render's card: the panel id and the one-line error (never a traceback), the retry promise,
    and from ``report_after`` failures in a row on, that it is reported to the managers."""
    detail = t("Retried at the next refresh.")
    if fault.failures >= report_after:
        detail += " " + t("Failed renders in a row") + f": {fault.failures} · " + t("reported in /admin")
    return error_card(t("Panel error"), f"{fault.panel}: {fault.last_error}", detail)


def format_age(seconds: float, lang: str) -> str:
    """"12 秒前" / "12 s ago", in the largest sensible unit."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s} 秒前" if lang == "zh" else f"{s} s ago"
    if s < 3600:
        return f"{s // 60} 分钟前" if lang == "zh" else f"{s // 60} min ago"
    return f"{s // 3600} 小时前" if lang == "zh" else f"{s // 3600} h ago"


def render_panel(host: Host, dashboards: dict[str, Dashboard], meta: dict[str, Any],
                 selection: Any = None) -> tuple[Any, ...]:
    """(body children, deck spec, freshness text, frame class) for one placed panel.

    ``selection`` is the screen's last map pick as the browser sent it (validated into ``ctx.selection``).
    """
    locale = meta.get("locale", host.settings.locale)
    lang = "en" if locale == "en" else "zh"
    t: Callable[[str], str] = lambda m: host.translator.gettext(m, locale)  # noqa: E731
    base = "tb-panel"
    dash_ = dashboards.get(meta.get("uid", ""))
    placement = dash_.placement(meta.get("key", "")) if dash_ else None
    if dash_ is None or placement is None:
        return (error_card(t("Panel error"), t("This panel is no longer in the dashboard; reload the screen.")),
                None, "", base + " tb-panel-error")
    plugin, spec = host.panel(placement.panel)
    record = host.plugins.records.get(plugin)
    if record is None:
        return (error_card(t("Unknown plugin"), f"{placement.panel}: " + t("no plugin of that name is installed")),
                None, "", base + " tb-panel-error")
    if record.status == PluginStatus.DISABLED:
        return (error_card(t("Plugin disabled"), f"{plugin}: " + t("a manager has disabled this plugin")),
                None, "", base + " tb-panel-disabled")
    if record.status in (PluginStatus.FAILED, PluginStatus.INCOMPATIBLE):
        return (error_card(t("Plugin failed"), f"{plugin}: {record.error}"), None, "", base + " tb-panel-error")
    if spec is None:
        offered = ", ".join(sorted(host.contributions[plugin].panels)) if plugin in host.contributions else ""
        return (error_card(t("Unknown panel"), f"{placement.panel} ({t('offered')}: {offered or '-'})"),
                None, "", base + " tb-panel-error")
    ctx = PanelContext(plugin=plugin, panel_id=spec.id, options={**spec.default_options, **placement.options},
                       locale=locale, store=host.store, settings=record.settings,
                       translate=host.translator.gettext, selection=Selection.parse(selection))
    uid, key = dash_.uid, placement.key
    try:
        result = spec.render(ctx)
        children, deck = (result, None)
        if spec.kind == "deck":
            children, deck = [], compose_deck(_deck_json(result), spec, host, locale, height=placement.h - 46)
    except Exception as exc:  # noqa: BLE001 - the panel's fault stays in its own card; its plugin keeps running
        fault = host.panel_faults.failed(plugin, spec.id, uid, key, exc, traceback.format_exc())
        return panel_fault_card(fault, host.panel_faults.report_after, t), None, "", base + " tb-panel-error"
    host.panel_faults.succeeded(spec.id, uid, key)
    data_time = ctx.data_time or host.runtime.last_data(plugin, spec.sources or None)
    stale_after = spec.stale_after_s or dash_.stale_after_s
    now = time.time()
    if data_time is None:
        if spec.sources:
            return children, deck, t("No data yet"), base + " tb-stale"
        return children, deck, time.strftime("%H:%M:%S", time.localtime(now)), base
    age = now - data_time
    if age > stale_after:
        return children, deck, "⚠ " + t("Stale") + " · " + format_age(age, lang), base + " tb-stale"
    return children, deck, format_age(age, lang), base


def _deck_json(result: Any) -> dict[str, Any]:
    if hasattr(result, "to_json"):
        deck = json.loads(result.to_json())
        tooltip = getattr(result, "_tooltip", None)     # pydeck leaves the tooltip out of its JSON
        if isinstance(tooltip, dict):
            deck["tooltip"] = tooltip
        return deck
    if isinstance(result, dict):
        return result
    raise TypeError(f"a deck panel must return a pydeck.Deck or a dict, got {type(result).__name__}")


def register_screen_callbacks(app: Dash, host: Host, dashboards: Callable[[], dict[str, Dashboard]]) -> None:
    """One pattern-matching callback renders every panel; a clientside one draws deck.gl maps.

    A deck panel's scene goes as a patch (``core.web.deckpatch``) against what that browser holds
    (its ``tb-have`` store, written by the clientside merge): only changed layers, or row deltas.
    A map click sets ``tb-select`` and pokes the panels that follow the selection.
    """
    layer_cache = LayerCache()
    app.server.config["TWINBOARD_LAYER_CACHE"] = layer_cache

    @app.callback(
        Output({"type": "tb-body", "panel": MATCH}, "children"),
        Output({"type": "tb-deck", "panel": MATCH}, "data"),
        Output({"type": "tb-fresh", "panel": MATCH}, "children"),
        Output({"type": "tb-frame", "panel": MATCH}, "className"),
        Output({"type": "tb-body", "panel": MATCH}, "className"),
        Input({"type": "tb-tick", "panel": MATCH}, "n_intervals"),
        Input({"type": "tb-poke", "panel": MATCH}, "data"),
        State({"type": "tb-meta", "panel": MATCH}, "data"),
        State({"type": "tb-have", "panel": MATCH}, "data"),
        State("tb-select", "data"),
        State({"type": "tb-body", "panel": MATCH}, "className"),
    )
    def _render(_n: int, _poke: Any, meta: dict[str, Any], have: Any, selection: Any,
                body_class: str | None) -> tuple[Any, ...]:
        body, deck, fresh, cls = render_panel(host, dashboards(), meta or {}, selection)
        patch = None
        if deck is not None:
            cls += " tb-panel-deck"
            patch = deck_patch(deck, have, layer_cache)
        # A plotly graph stays mounted: later refreshes send only its figure (core.web.graphslot).
        body_cls: Any = no_update
        if body is not None:
            meta = meta or {}
            body, body_cls, in_place = steady_body(body, f"{meta.get('uid')}/{meta.get('key')}", body_class)
            if in_place is not None:
                set_props(*in_place)
        return (body if body is not None else no_update, patch if patch is not None else no_update, fresh, cls,
                body_cls)

    app.clientside_callback(
        ClientsideFunction(namespace="twinboard", function_name="renderDeck"),
        Output({"type": "tb-deckhost", "panel": MATCH}, "title"),
        Output({"type": "tb-have", "panel": MATCH}, "data"),
        Input({"type": "tb-deck", "panel": MATCH}, "data"),
        State({"type": "tb-deckhost", "panel": MATCH}, "id"),
    )
