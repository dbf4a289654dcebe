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
                _panel_title(_title(p, host, "en" if locale == "en" else "zh"), p.w),
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


#: a panel title's size (assets/twinboard.css .tb-panel-title) and the room its header leaves it: side padding
#: 2 × 16, the accent bar 16, the freshness label ("32 s ago", 16 px) and a gap 96, letter spacing 2 px
PANEL_TITLE_MAX_PX, PANEL_TITLE_MIN_PX, PANEL_TITLE_ROOM_PX, PANEL_TITLE_SPACING_PX = 22, 18, 32 + 16 + 96, 2


def panel_title_px(title: str, panel_width: int, spacing_px: float = PANEL_TITLE_SPACING_PX) -> int:
    """A panel title's font size: ``PANEL_TITLE_MAX_PX`` when it fits on one line beside the freshness
    label, else the size that fits, never under ``PANEL_TITLE_MIN_PX`` (past that it ends in an ellipsis)."""
    ems = text_em(title)
    room = panel_width - PANEL_TITLE_ROOM_PX - spacing_px * len(title)
    if ems <= 0:
        return PANEL_TITLE_MAX_PX
    return int(max(PANEL_TITLE_MIN_PX, min(PANEL_TITLE_MAX_PX, room / ems)))


def _panel_title(title: str, panel_width: int) -> html.Span:
    # one line, always: a long (English) title first loses its letter spacing, then gets smaller, then ends
    # in an ellipsis with its full text as a tooltip
    if panel_title_px(title, panel_width) == PANEL_TITLE_MAX_PX:
        return html.Span(title, className="tb-panel-title")
    px = panel_title_px(title, panel_width, spacing_px=0.5)
    return html.Span(title, className="tb-panel-title", title=title,
                     style={"fontSize": f"{px}px", "letterSpacing": "0.5px"})


#: the title bar's geometry (assets/twinboard.css .tb-titlebar): side padding, gap between columns, each
#: side column's width (the right one holds the clock over the mode badge and the language switch)
TITLE_PAD_PX, TITLE_GAP_PX, TITLE_SIDE_PX = 32, 24, 340
TITLE_MAX_PX, TITLE_MIN_PX, TITLE_SPACING_EM = 40, 24, 0.12


def text_em(text: str) -> float:
    """An estimate of ``text``'s width in em in the screen font: CJK and full-width forms 1 em, Latin less."""
    w = 0.0
    for ch in text:
        o = ord(ch)
        if o >= 0x2E80 or 0xFF00 <= o <= 0xFFEF:
            w += 1.0
        elif ch == " ":
            w += 0.28
        elif ch.isupper() or ch.isdigit() or ch in "&%@#—":
            w += 0.66
        elif ch in "il.,:;'|!()[]·":
            w += 0.3
        else:
            w += 0.56
    return w


def title_font_px(title: str, canvas_width: int) -> int:
    """The title's font size: ``TITLE_MAX_PX`` when it fits between the side columns, else the size that fits
    (never under ``TITLE_MIN_PX``; past that the title ends in an ellipsis and carries its full text as a tooltip)."""
    room = canvas_width - 2 * (TITLE_PAD_PX + TITLE_GAP_PX + TITLE_SIDE_PX) - 8
    ems = text_em(title) + TITLE_SPACING_EM * len(title)
    if ems <= 0:
        return TITLE_MAX_PX
    return int(max(TITLE_MIN_PX, min(TITLE_MAX_PX, room / ems)))


def title_bar(dash_: Dashboard, host: Host, locale: str) -> html.Div:
    """District and screen name, clock, routine/incident mode, language switch.

    Three columns: the subtitle (wraps to two lines), the title sized to fit the middle (``title_font_px``),
    and the clock over the mode badge and language switch; no two of them overlap, in either language.
    """
    lang = "en" if locale == "en" else "zh"
    other = "zh" if lang == "en" else "en"
    t = host.translator.gettext
    title = dash_.title.get(lang)
    return html.Div(className="tb-titlebar",
                    style={"--tb-side": f"{TITLE_SIDE_PX}px",
                           "--tb-title-size": f"{title_font_px(title, dash_.canvas.width)}px"},
                    children=[
        html.Div(className="tb-title-left", children=[
            html.Span(dash_.subtitle.get(lang) if dash_.subtitle else "", className="tb-district"),
        ]),
        html.H1(title, className="tb-title", title=title),
        html.Div(className="tb-title-right", children=[
            html.Span(id="tb-clock", className="tb-clock", **{"data-lang": lang}),
            html.Div(className="tb-title-row", children=[
                _mode_badge(host, lang, t("Routine", locale)),   # issue 19: the mode as it is, from the first paint
                *_speed_badge(dash_, host, lang),               # issue 19: 演示 ×N when the demo runs fast
                html.A("EN" if other == "en" else "中文", href=f"?lang={other}", className="tb-lang"),
            ]),
        ]),
    ])


def mode_text(state: dict[str, Any], lang: str, routine: str) -> tuple[str, str]:
    """(badge text, css class) of a wall state (core.runtime.wall.wall_state); assets/twinboard.js says the same."""
    if state.get("mode") != "incident":
        return routine, "tb-mode tb-mode-routine"
    zh = lang != "en"
    what = (("演练 · #" if zh else "Drill · #") if state.get("drill") else ("事件处置 · #" if zh else "Incident · #"))
    return f"{what}{state.get('incident_id')}", "tb-mode " + ("tb-mode-drill" if state.get("drill") else "tb-mode-incident")


def _mode_badge(host: Host, lang: str, routine: str) -> html.Span:
    # The wall's mode as the server knows it when it builds the screen, so the first paint is already right
    # (the browser only follows changes from then on: assets/twinboard.js, pollMode).
    try:
        state = host.walls.state(host.store)
    except Exception:   # noqa: BLE001 - a store that cannot answer: the poll corrects the badge once it can
        state = {"mode": "routine"}
    text, cls = mode_text(state, lang, routine)
    return html.Span(text, id="tb-mode", className=cls)


def demo_speeds(dash_: Dashboard, host: Host) -> list[float]:
    """The time scales (≠ 1) of the simulators feeding this screen's panels: a plugin whose settings have
    ``demo_speed`` (and ``simulate`` not false) runs its demo that many times faster than real time."""
    speeds: set[float] = set()
    for p in dash_.panels:
        plugin, spec = host.panel(p.panel)
        rec = host.plugins.records.get(plugin) if spec is not None else None
        settings = getattr(rec, "settings", None)
        speed = getattr(settings, "demo_speed", None)
        if isinstance(speed, (int, float)) and speed != 1 and getattr(settings, "simulate", True) is not False:
            speeds.add(float(speed))
    return sorted(speeds)


def _speed_badge(dash_: Dashboard, host: Host, lang: str) -> list[html.Span]:
    speeds = demo_speeds(dash_, host)
    if not speeds:
        return []
    scale = "/".join(f"×{s:g}" if s >= 10 else f"×{s:.3g}" for s in speeds)
    return [html.Span(("演示 " if lang != "en" else "Demo ") + scale, id="tb-demo-speed", className="tb-demo-speed",
                      title="演示时间比真实时间快" if lang != "en" else "the demo runs faster than real time")]


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
