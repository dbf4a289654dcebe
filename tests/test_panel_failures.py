"""A panel whose render raises shows its own error card and is retried; its plugin keeps running
(issue 18, item 5). Driven through the app's real render callback (/_dash-update-component)."""

from __future__ import annotations

import re
import time

import flask

from core.api import PanelSpec, Reading, RouteSpec, SourceSpec, hookimpl
from core.data.users import Users
from core.plugins.manager import PluginStatus
from core.plugins.testing import dashboard, make_manifest, plugin_module, render_callback
from core.runtime.panel_faults import REPORT_AFTER

FLAKY = {"key": "flaky", "panel": "flaky.p", "x": 0, "y": 100, "w": 400, "h": 300}
STEADY = {"key": "steady", "panel": "flaky.steady", "x": 500, "y": 100, "w": 400, "h": 300}


def _flaky_plugin(fail_first: int) -> tuple[object, object, dict[str, int]]:
    """A plugin whose panel ``flaky.p`` raises on its first ``fail_first`` renders, then works; it also
    has a steady panel, a route and a source."""
    calls = {"renders": 0, "polls": 0}

    def render(ctx):
        calls["renders"] += 1
        if calls["renders"] <= fail_first:
            raise RuntimeError(f"feed down (render {calls['renders']})")
        return f"ok after {calls['renders'] - 1} failures"

    def poll(ctx):
        calls["polls"] += 1
        return [Reading("flaky.e1", "level", time.time(), float(calls["polls"]))]

    mod = plugin_module(
        "flaky",
        register_panels=hookimpl(lambda: [PanelSpec("flaky.p", "易错面板", "Flaky", render),
                                          PanelSpec("flaky.steady", "稳定面板", "Steady", lambda ctx: "steady")]),
        register_routes=hookimpl(lambda: [RouteSpec("/ping", lambda: flask.jsonify({"pong": True}))]),
        register_sources=hookimpl(lambda: [SourceSpec("feed", interval_s=0.05, poll=poll)]))
    return mod, make_manifest("flaky"), calls


def _app(make_twin_app, fail_first: int):
    mod, manifest, calls = _flaky_plugin(fail_first)
    app = make_twin_app(plugins=[(mod, manifest)], dashboards=[dashboard("d", FLAKY, STEADY)])
    return app, app.server.config["TWINBOARD_HOST"], calls


def _wait(cond, timeout: float = 10.0) -> bool:
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return True
        time.sleep(0.05)
    return False


def test_only_the_raising_panel_shows_an_error_and_its_plugin_keeps_running(make_twin_app) -> None:
    app, host, calls = _app(make_twin_app, fail_first=2)
    client = app.server.test_client()
    out, _ = render_callback(client, app, "d", "flaky", locale="zh_CN")
    card = str(out["body"])
    assert "tb-panel-error" in out["frame"] and "面板错误" in card
    assert "flaky.p: RuntimeError: feed down (render 1)" in card and "下次刷新时将自动重试" in card
    assert "Traceback" not in card and 'File "' not in card
    # the plugin is not failed: its other panel renders, its route answers, its source goes on
    assert host.plugins.records["flaky"].status == PluginStatus.ENABLED
    out, _ = render_callback(client, app, "d", "steady")
    assert out["body"] == "steady" and "error" not in out["frame"]
    assert client.get("/plugins/flaky/ping").get_json() == {"pong": True}
    polls = calls["polls"]
    assert _wait(lambda: calls["polls"] > polls + 2)
    # retried at the next refresh: the second render fails too (English card), the third draws data
    out, _ = render_callback(client, app, "d", "flaky", locale="en", tick=2)
    assert "Panel error" in str(out["body"]) and "Retried at the next refresh." in str(out["body"])
    out, _ = render_callback(client, app, "d", "flaky", tick=3)
    assert out["body"] == "ok after 2 failures" and "error" not in out["frame"]
    assert calls["renders"] == 3


def test_a_panel_failing_n_times_in_a_row_is_reported_until_it_recovers(make_twin_app) -> None:
    k = REPORT_AFTER + 1
    app, host, calls = _app(make_twin_app, fail_first=k)
    client = app.server.test_client()
    for tick in range(1, REPORT_AFTER):
        render_callback(client, app, "d", "flaky", tick=tick)
    assert client.get("/api/health").get_json()["panels_failing"] == []  # not yet N in a row
    before = time.time()
    out, _ = render_callback(client, app, "d", "flaky", locale="en", tick=REPORT_AFTER)
    assert f"Failed renders in a row: {REPORT_AFTER}" in str(out["body"])
    health = client.get("/api/health").get_json()
    [failing] = health["panels_failing"]
    assert {k_: failing[k_] for k_ in ("plugin", "panel", "dashboard", "key", "failures")} == \
        {"plugin": "flaky", "panel": "flaky.p", "dashboard": "d", "key": "flaky", "failures": REPORT_AFTER}
    assert failing["last_error"] == f"RuntimeError: feed down (render {REPORT_AFTER})"
    assert failing["since"] <= before <= failing["last_at"]
    assert next(p for p in health["plugins"] if p["name"] == "flaky")["state"] == "enabled"

    # /admin lists it for a manager
    Users(host.store).add("boss", "boss-pass-1", "manager", "test")
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    assert client.post("/login", data={"username": "boss", "password": "boss-pass-1",
                                       "csrf_token": token}).status_code == 302
    page = client.get("/admin?lang=en").get_data(as_text=True)
    assert 'id="tb-admin-failing-panels"' in page and 'data-panel="flaky.p"' in page
    assert f"RuntimeError: feed down (render {REPORT_AFTER})" in page

    render_callback(client, app, "d", "flaky", tick=REPORT_AFTER + 1)   # still failing: count goes on
    assert client.get("/api/health").get_json()["panels_failing"][0]["failures"] == k
    out, _ = render_callback(client, app, "d", "flaky", tick=k + 1)     # recovers: the report is gone
    assert out["body"] == f"ok after {k} failures"
    assert client.get("/api/health").get_json()["panels_failing"] == []
    assert 'id="tb-admin-failing-panels"' not in client.get("/admin").get_data(as_text=True)


def test_a_deck_panel_returning_the_wrong_type_is_a_panel_fault(make_twin_app) -> None:
    mod = plugin_module("maps", register_panels=hookimpl(
        lambda: [PanelSpec("maps.m", "地图", "Map", lambda ctx: 42, kind="deck")]))
    app = make_twin_app(plugins=[(mod, make_manifest("maps"))],
                        dashboards=[dashboard("d", {**FLAKY, "key": "m", "panel": "maps.m"})])
    out, _ = render_callback(app.server.test_client(), app, "d", "m", locale="en")
    assert "maps.m: TypeError: a deck panel must return a pydeck.Deck or a dict, got int" in str(out["body"])
    assert app.server.config["TWINBOARD_HOST"].plugins.records["maps"].status == PluginStatus.ENABLED
