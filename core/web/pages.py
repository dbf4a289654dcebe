"""Non-screen pages: the index (dashboards, playlists, plugins with their state) and playlists."""

from __future__ import annotations

from typing import Any

from dash import dcc, html

from core.web.dashboards import Dashboard, Playlist
from core.runtime.host import Host


def index_page(host: Host, dashboards: dict[str, Dashboard], playlists: dict[str, Playlist],
               locale: str) -> html.Div:
    """Links to every screen and playlist, and every plugin with its state and traceback."""
    lang = "en" if locale == "en" else "zh"
    t = lambda m: host.translator.gettext(m, locale)  # noqa: E731
    rows = []
    for name, rec in sorted(host.plugins.records.items()):
        title = rec.manifest.title.get(lang) if rec.manifest else name
        rows.append(html.Tr(className=f"tb-plugin-{rec.status.value}", children=[
            html.Td(name), html.Td(title), html.Td(rec.manifest.version if rec.manifest else "-"),
            html.Td(rec.origin), html.Td(t(rec.status.value.capitalize()), className="tb-state"),
            html.Td([html.Div(rec.error or ""),
                     html.Details([html.Summary(t("Traceback")), html.Pre(rec.traceback)])
                     if rec.traceback else None]),
        ]))
    return html.Div(className="tb-page", children=[
        html.H1("twinboard · " + t("Digital twin command platform")),
        html.H2(t("Dashboards")),
        html.Ul([html.Li(dcc.Link(d.title.get(lang) + f"  ({uid})", href=f"/screen/{uid}?lang={lang}"))
                 for uid, d in sorted(dashboards.items())], id="tb-dashboards"),
        html.H2(t("Playlists")),
        html.Ul([html.Li(dcc.Link(p.title.get(lang), href=f"/playlist/{uid}?lang={lang}"))
                 for uid, p in sorted(playlists.items())] or [html.Li("-")]),
        html.H2(t("Plugins")),
        html.Table(id="tb-plugins", className="tb-table", children=[
            html.Thead(html.Tr([html.Th(t(h)) for h in
                                ("Name", "Title", "Version", "Origin", "State", "Error")])),
            html.Tbody(rows)]),
    ])


def playlist_page(playlist: Playlist, locale: str) -> html.Div:
    """A wall rotating through dashboards: two stacked iframes (shown, preloading) cross-faded by assets/twinboard.js."""
    lang = "en" if locale == "en" else "zh"
    items: list[dict[str, Any]] = [{"src": f"/screen/{i.dashboard}?lang={lang}", "seconds": i.seconds}
                                   for i in playlist.items]
    extra: dict[str, str] = {}
    if playlist.incident_dashboard:
        # In incident mode (GET /api/wall?wall=...) the wall leaves the rotation for the incident view.
        extra = {"data-wall": playlist.wall or "leaders",
                 "data-incident-src": f"/screen/{playlist.incident_dashboard}?lang={lang}"}
    return html.Div(className="tb-playlist", id="tb-playlist", **{"data-items": _json(items)}, **extra, children=[
        # the screen shown, and a spare that loads the next one ahead, faded in once it has painted
        html.Iframe(id="tb-playlist-frame", src=items[0]["src"], className="tb-playlist-frame tb-shown"),
        html.Iframe(id="tb-playlist-next", className="tb-playlist-frame", **{"aria-hidden": "true"}),
    ])


def _json(obj: Any) -> str:
    import json
    return json.dumps(obj, ensure_ascii=False)
