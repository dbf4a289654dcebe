"""A wall that runs for weeks (issue #3 point 4): what a refresh leaves behind must not pile up.

In the browser two things grew with every refresh: Dash remounted each trend panel's ``dcc.Graph``
(a new plotly plot torn down and rebuilt every few seconds), and Dash's renderer kept every interval
tick in an undo history that nothing trims. On the server, per-thread malloc arenas kept the pages of
big trend responses (every point of the window, every refresh). The figures of a long run are in
``bench/soak.py``; these tests fail if any of it comes back, by counting, not by timing.
"""

from __future__ import annotations

import platform
from pathlib import Path

import pytest
import yaml
from dash import dcc, html, no_update

from conftest import ROOT, start_server
from core.web.graphslot import BODY_CLASS, graph_id, steady_body
from core.plugins.manager import import_plugin_submodule
from core.plugins.testing import dashboard, render_callback

TREND = {"key": "trend", "panel": "demo_sensors.trend", "x": 0, "y": 0, "w": 460, "h": 400,
         "options": {"metric": "gas_ppm", "minutes": 1}}


def test_a_graph_body_is_mounted_once_then_only_its_figure_travels() -> None:
    def graph(y: list[float]) -> dcc.Graph:
        return dcc.Graph(figure={"data": [{"y": y}]}, config={"displayModeBar": False}, style={"height": "100%"})

    children, cls, in_place = steady_body(graph([1]), "d/trend", BODY_CLASS)
    assert isinstance(children, dcc.Graph) and children.id == graph_id("d/trend")
    assert in_place is None and cls.startswith(BODY_CLASS + " tb-graph-")

    # The browser now holds that graph (its body carries the mark): no new component, just the figure.
    children2, cls2, in_place2 = steady_body(graph([1, 2]), "d/trend", cls)
    assert children2 is no_update and cls2 is no_update
    assert in_place2 == (graph_id("d/trend"), {"figure": {"data": [{"y": [1, 2]}]}})

    # Other config is another graph: mounted anew. A non-graph body replaces it and clears the mark.
    other = dcc.Graph(figure={}, config={"displayModeBar": True})
    assert isinstance(steady_body(other, "d/trend", cls)[0], dcc.Graph)
    card = html.Div("⚠")
    assert steady_body(card, "d/trend", cls) == (card, BODY_CLASS, None)
    assert steady_body(card, "d/trend", BODY_CLASS) == (card, no_update, None)
    # A plugin's own graph id is kept (its callbacks may use it).
    own = dcc.Graph(id="my-trend", figure={})
    assert steady_body(own, "d/trend", BODY_CLASS)[0].id == "my-trend"


def test_trend_refresh_sends_no_new_component(make_twin_app, monkeypatch) -> None:
    import core.web.screen_callbacks as sc
    set_in_place: list[tuple] = []
    monkeypatch.setattr(sc, "set_props", lambda *a: set_in_place.append(a))
    app = make_twin_app(builtin=True, plugin_allowlist=["demo_sensors", "alerts"],
                        dashboards=[dashboard("d", TREND)])
    client = app.server.test_client()
    first, _ = render_callback(client, app, "d", "trend", state={"body.className": BODY_CLASS})
    assert first["body"]["type"] == "Graph" and first["body"]["props"]["id"] == graph_id("d/trend")
    assert not set_in_place
    again, _ = render_callback(client, app, "d", "trend", tick=2,
                               state={"body.className": first["body.className"]})
    assert "body" not in again and "body.className" not in again     # the mounted graph is left alone
    (gid, props), = set_in_place
    assert gid == graph_id("d/trend") and props["figure"]["layout"]["uirevision"] == "gas_ppm"


def test_trend_sends_a_bounded_number_of_points_and_keeps_the_peaks() -> None:
    panels = import_plugin_submodule(ROOT / "plugins" / "demo_sensors", "panels")
    decimate, TREND_MAX_POINTS = panels.decimate, panels.TREND_MAX_POINTS  # noqa: N806
    pts = [(float(i), 5.0 + (60.0 if i == 2345 else 0.0) - (4.0 if i == 77 else 0.0)) for i in range(6000)]
    few = decimate(pts)
    assert len(few) <= TREND_MAX_POINTS and (2345.0, 65.0) in few and (77.0, 1.0) in few
    assert [t for t, _ in few] == sorted(t for t, _ in few)
    assert decimate(pts[:50]) == pts[:50]


@pytest.mark.browser
def test_wall_keeps_its_graph_mounted_and_its_history_short(tmp_path: Path, chromium) -> None:
    boards = tmp_path / "boards"
    boards.mkdir()
    fast = dashboard("soak", {**TREND, "refresh_s": 0.5},
                     {"key": "kpis", "panel": "demo_sensors.kpis", "x": 480, "y": 0, "w": 460, "h": 220,
                      "refresh_s": 0.5},
                     {"key": "levels", "panel": "alerts.summary", "x": 960, "y": 0, "w": 460, "h": 220,
                      "refresh_s": 0.5})
    (boards / "soak.yaml").write_text(yaml.safe_dump(fast, allow_unicode=True), encoding="utf-8")
    server = start_server(tmp_path, dashboards_dir=str(boards), playlists_file=str(tmp_path / "none.yaml"),
                          plugins={"demo_sensors": {"settings": {"interval_s": 0.2}}})
    try:
        page = chromium.new_page(viewport={"width": 1920, "height": 1080})
        page.goto(server.url + "/screen/soak")
        page.wait_for_function("() => document.querySelector('.js-plotly-plot .scatterlayer .trace')", timeout=45000)
        page.evaluate("""() => { const gd = window.__gd = document.querySelector('.js-plotly-plot');
            window.__data = gd.data; window.__redraws = 0; gd.on('plotly_afterplot', () => { window.__redraws += 1; }); }""")
        # 40 redraws of the trend are some 120 ticks of the three panels: well past the history's cap.
        for _ in range(240):
            if page.evaluate("() => window.__redraws >= 40 || !window.__gd.isConnected"):
                break
            page.wait_for_timeout(500)
        seen = page.evaluate("""() => ({
            same: window.__gd === document.querySelector('.js-plotly-plot') && window.__gd.isConnected,
            redrawn: window.__gd.data !== window.__data, redraws: window.__redraws,
            plots: document.querySelectorAll('.js-plotly-plot').length,
            past: Math.max(...window.dash_stores.map(s => s.getState().history.past.length))})""")
        assert seen["plots"] == 1 and seen["same"], "the trend's plot was torn down and rebuilt"
        assert seen["redrawn"] and seen["redraws"] >= 40, f"the trend's figure did not update in place: {seen}"
        assert seen["past"] <= 60, f"Dash's undo history holds {seen['past']} entries"
        page.close()
    finally:
        server.proc.terminate()
        server.proc.wait(10)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="M_ARENA_MAX is glibc's")
def test_server_caps_malloc_arenas(monkeypatch) -> None:
    from core.web.serve import cap_malloc_arenas
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert cap_malloc_arenas() is True
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")    # an operator's own setting wins
    assert cap_malloc_arenas() is False
