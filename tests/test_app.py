"""create_app end to end without a browser: health, screens, fault containment, enable/disable at run time."""

from __future__ import annotations

from core import PLUGIN_API_VERSION
from core.api import PanelSpec, hookimpl
from core.plugins.manager import PluginStatus
from core.web.screen_callbacks import render_panel as render_screen_panel
from core.plugins.testing import dashboard, make_manifest, plugin_module

OK_PANEL = {"key": "ok", "panel": "good.p", "x": 0, "y": 100, "w": 400, "h": 300}
BAD_PANEL = {"key": "bad", "panel": "bad.p", "x": 500, "y": 100, "w": 400, "h": 300}


def _plugins():
    good = plugin_module("good", register_panels=hookimpl(lambda: [PanelSpec("good.p", "好", "Good",
                                                                              lambda ctx: "fine")]))

    def explode(ctx):
        raise ZeroDivisionError("panel bug")
    bad = plugin_module("bad", register_panels=hookimpl(lambda: [PanelSpec("bad.p", "坏", "Bad", explode)]))
    return [(good, make_manifest("good")), (bad, make_manifest("bad"))]


def test_health_reports_plugins_and_sources(make_twin_app) -> None:
    app = make_twin_app(builtin=True, plugin_allowlist=["demo_sensors", "alerts"])
    body = app.server.test_client().get("/api/health").get_json()
    assert body["plugin_api_version"] == PLUGIN_API_VERSION and body["version"]
    demo = next(p for p in body["plugins"] if p["name"] == "demo_sensors")
    assert demo["state"] == "enabled" and "simulator" in demo["sources"]
    assert set(demo["sources"]["simulator"]) >= {"last_heartbeat", "last_data"}


def test_panel_exception_shows_error_card_on_that_panel_only(make_twin_app) -> None:
    app = make_twin_app(plugins=_plugins(), dashboards=[dashboard("d", OK_PANEL, BAD_PANEL)])
    host = app.server.config["TWINBOARD_HOST"]
    boards = {"d": _board(app)}
    body, _, _, cls = render_screen_panel(host, boards, {"uid": "d", "key": "bad", "locale": "en"})
    assert "tb-panel-error" in cls and "panel bug" in str(body)
    # the panel's fault is its own (tests/test_panel_failures.py): its plugin keeps running
    assert host.plugins.records["bad"].status == PluginStatus.ENABLED
    body, _, _, cls = render_screen_panel(host, boards, {"uid": "d", "key": "ok", "locale": "en"})
    assert body == "fine" and "error" not in cls


def test_unknown_panel_id_gets_error_card(make_twin_app) -> None:
    typo = {**OK_PANEL, "panel": "good.q"}
    app = make_twin_app(plugins=_plugins()[:1], dashboards=[dashboard("d", typo)])
    host = app.server.config["TWINBOARD_HOST"]
    body, _, _, cls = render_screen_panel(host, {"d": _board(app)}, {"uid": "d", "key": "ok", "locale": "en"})
    assert "Unknown panel" in str(body) and "good.p" in str(body) and "tb-panel-error" in cls


def test_disable_and_enable_at_run_time(make_twin_app) -> None:
    app = make_twin_app(builtin=True, plugin_allowlist=["demo_sensors", "alerts"])
    host = app.server.config["TWINBOARD_HOST"]
    assert host.runtime.heartbeats("demo_sensors")
    host.set_enabled("demo_sensors", False, actor="manager")
    assert host.runtime.heartbeats("demo_sensors") == {} and host.panel("demo_sensors.trend")[1] is None
    assert host.store.plugin_state("demo_sensors").enabled is False
    host.set_enabled("demo_sensors", True, actor="manager")
    assert host.runtime.heartbeats("demo_sensors") and host.panel("demo_sensors.trend")[1] is not None
    assert [e.action for e in host.store.audit_log()[:2]] == ["plugin.enable", "plugin.disable"]


def test_disabled_state_survives_restart(make_twin_app, tmp_path) -> None:
    from core.runtime.host import Host
    app = make_twin_app(builtin=True, plugin_allowlist=["demo_sensors", "alerts"])
    host = app.server.config["TWINBOARD_HOST"]
    host.set_enabled("demo_sensors", False, actor="manager")
    host.stop()
    again = Host(host.settings).start()
    try:
        assert again.plugins.records["demo_sensors"].status == PluginStatus.DISABLED
    finally:
        again.stop()


def test_screen_and_index_pages_route(make_twin_app) -> None:
    app = make_twin_app(builtin=True, plugin_allowlist=["demo_sensors", "alerts"], dashboards_dir=__import__("pathlib").Path(__file__).parent.parent
                        / "config" / "dashboards")
    client = app.server.test_client()
    assert client.get("/screen/demo").status_code == 200
    assert client.get("/vendor/deckgl/index.js").status_code == 200
    assert "demo" in [d["uid"] for d in client.get("/api/dashboards").get_json()]


def _board(app):
    from core.web.dashboards import load_dashboards
    host = app.server.config["TWINBOARD_HOST"]
    return next(iter(load_dashboards(host.settings.path(host.settings.dashboards_dir)).values()))[0]


def test_stale_panel_says_so(make_twin_app) -> None:
    import time

    def render(ctx):
        ctx.data_time = time.time() - 600
        return "old"
    mod = plugin_module("old", register_panels=hookimpl(lambda: [PanelSpec("old.p", "旧", "Old", render)]))
    app = make_twin_app(plugins=[(mod, make_manifest("old"))],
                        dashboards=[dashboard("d", {**OK_PANEL, "panel": "old.p"}, stale_after_s=30)])
    host = app.server.config["TWINBOARD_HOST"]
    _, _, fresh, cls = render_screen_panel(host, {"d": _board(app)}, {"uid": "d", "key": "ok", "locale": "zh_CN"})
    assert "tb-stale" in cls and "数据过期" in fresh and "10 分钟前" in fresh


def test_failing_source_marks_plugin_failed_with_traceback(make_twin_app) -> None:
    import time
    from core.api import SourceSpec

    def poll(ctx):
        raise OSError("camera unreachable")
    mod = plugin_module("cam", register_sources=hookimpl(lambda: [SourceSpec("rtsp", interval_s=0.05, poll=poll)]))
    app = make_twin_app(plugins=[(mod, make_manifest("cam"))])
    host = app.server.config["TWINBOARD_HOST"]
    end = time.time() + 5
    while host.plugins.records["cam"].status != PluginStatus.FAILED and time.time() < end:
        time.sleep(0.05)
    rec = host.plugins.records["cam"]
    assert rec.status == PluginStatus.FAILED and "camera unreachable" in rec.traceback
    assert "OSError: camera unreachable" in host.health()["plugins"][0]["sources"]["rtsp"]["last_error"]


def test_host_runs_on_postgresql(make_twin_app, pg_cluster) -> None:
    """The whole chain (twin loading, simulated source, ingest, alert rules, panels) on a real PostgreSQL."""
    import time
    from core.plugins.testing import render_panel
    app = make_twin_app(builtin=True, plugin_allowlist=["demo_sensors", "alerts"], database_url=pg_cluster.new_database())
    host = app.server.config["TWINBOARD_HOST"]
    assert host.store.engine.dialect.name == "postgresql"
    end = time.time() + 20
    while not host.store.latest(metric="gas_ppm") and time.time() < end:
        time.sleep(0.1)
    assert len(host.store.latest(metric="gas_ppm")) == 3
    assert render_panel(app, "demo_sensors.map3d")["layers"][0]["id"] == "base"
    assert app.server.test_client().get("/api/health").get_json()["database"] == "postgresql"
