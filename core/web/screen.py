"""Builds the big-screen component tree for a dashboard: a fixed canvas of placed panels."""

from __future__ import annotations

from typing import Any

from dash import dcc, html

from core.web.dashboards import Dashboard, PanelPlacement
from core.runtime.host import Host
from core.i18n import normalize_locale

PANEL = "tb-panel"


def panel_ids(uid: str, key: str) -> dict[str, dict[str, str]]:
    """The pattern-matching ids of one placed panel's parts."""
    ident = f"{uid}/{key}"
    return {part: {"type": f"tb-{part}", "panel": ident}
            for part in ("tick", "meta", "body", "fresh", "deck", "deckhost", "frame", "have", "poke")}


def _title(p: PanelPlacement, host: Host, lang: str) -> str:
    if p.title is not None:
        return p.title.get(lang)
    _, spec = host.panel(p.panel)
    if spec is not None:
        return spec.title_en if lang == "en" else spec.title_zh
    return p.panel


def panel_frame(dash_: Dashboard, p: PanelPlacement, host: Host, locale: str) -> html.Div:
    """One panel: header (title + freshness), body, its own refresh timer."""
    ids = panel_ids(dash_.uid, p.key)
    _, spec = host.panel(p.panel)
    refresh = p.refresh_s or (spec.refresh_s if spec else None) or dash_.refresh_s
    is_deck = spec is not None and spec.kind == "deck"
    body: list[Any] = [html.Div(id=ids["body"], className="tb-panel-body",
                                children=html.Div(host.translator.gettext("Loading…", locale),
                                                  className="tb-loading"))]
    # Every panel has a deck host (hidden unless the panel draws a map) so MATCH callbacks always resolve.
    body.append(html.Div(id=ids["deckhost"], className="tb-deck-host" if is_deck else "tb-deck-host tb-hidden"))
    return html.Div(
        id=ids["frame"], className=PANEL + (" tb-panel-deck" if is_deck else ""),
        **{"data-panel": p.panel, "data-key": p.key,
           **({"data-follows": "1"} if spec is not None and spec.follows_selection else {})},
        style={"left": f"{p.x}px", "top": f"{p.y}px", "width": f"{p.w}px", "height": f"{p.h}px"},
        children=[
            html.Div(className="tb-panel-head", children=[
                html.Span(_title(p, host, "en" if locale == "en" else "zh"), className="tb-panel-title"),
                html.Span(id=ids["fresh"], className="tb-fresh"),
            ]),
            *body,
            dcc.Interval(id=ids["tick"], interval=int(refresh * 1000), n_intervals=0),
            dcc.Store(id=ids["meta"], data={"uid": dash_.uid, "key": p.key, "locale": locale}),
            dcc.Store(id=ids["deck"]),
            # what the browser holds of a deck scene (core.web.deckpatch), and a "render now" poke (a map click)
            dcc.Store(id=ids["have"]),
            dcc.Store(id=ids["poke"]),
        ])


def title_bar(dash_: Dashboard, host: Host, locale: str) -> html.Div:
    """District and screen name, clock, routine/incident mode, language switch."""
    lang = "en" if locale == "en" else "zh"
    other = "zh" if lang == "en" else "en"
    t = host.translator.gettext
    return html.Div(className="tb-titlebar", children=[
        html.Div(className="tb-title-left", children=[
            html.Span(dash_.subtitle.get(lang) if dash_.subtitle else "", className="tb-district"),
        ]),
        html.H1(dash_.title.get(lang), className="tb-title"),
        html.Div(className="tb-title-right", children=[
            html.Span(t("Routine", locale), id="tb-mode", className="tb-mode tb-mode-routine"),
            html.Span(id="tb-clock", className="tb-clock", **{"data-lang": lang}),
            html.A("EN" if other == "en" else "中文", href=f"?lang={other}", className="tb-lang"),
        ]),
    ])


def screen_layout(dash_: Dashboard, host: Host, locale: str | None) -> html.Div:
    """The whole screen: a viewport that scales the fixed design canvas uniformly."""
    loc = normalize_locale(locale, host.settings.locale)
    canvas = dash_.canvas
    return html.Div(className="tb-viewport", children=[
        html.Div(id="tb-canvas", className=f"tb-canvas tb-theme-{dash_.theme}",
                 **{"data-width": str(canvas.width), "data-height": str(canvas.height),
                    "data-uid": dash_.uid, "lang": "en" if loc == "en" else "zh-CN"},
                 style={"width": f"{canvas.width}px", "height": f"{canvas.height}px"},
                 children=[title_bar(dash_, host, loc),
                           *[panel_frame(dash_, p, host, loc) for p in dash_.panels],
                           dcc.Store(id="tb-select")]),     # the last map pick (core.web.panel_context.Selection)
    ])
