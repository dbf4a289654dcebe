"""chemical_park closed-park control: vehicles against routes, closed zones, stops; gates and people."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.api import ConfigError, Reading
from core.plugins.testing import make_twin_app, render_panel, twin_store  # noqa: F401

from test_chemical_park_plume import load

ROOT = Path(__file__).resolve().parents[1]
twin, scenario, simulator, closed = load("twin"), load("scenario"), load("simulator"), load("closed")
NOW = 1_790_000_000.0


@pytest.fixture
def model():
    return twin.load_model()


def run(model, name, seconds):
    sc = scenario.load_scenario(scenario.scenario_path(name), model)
    sim = simulator.Simulator(model, sc, t0=NOW)
    rules = closed.vehicle_rules(model)
    seen = {}
    for k in range(0, seconds, 2):
        rs = sim.readings(NOW + k)
        for r in rules:
            for d in r.evaluate(rs):
                seen.setdefault((d.rule_id, d.entity_id), k)
    return seen, rs


def test_geometry_helpers():
    sq = [(0, 0), (10, 0), (10, 10), (0, 10), (0, 0)]
    assert closed.inside((5, 5), sq) and not closed.inside((15, 5), sq)
    assert closed.dist_to_polyline((5, 3), [(0, 0), (10, 0)]) == pytest.approx(3)
    assert closed.dist_to_polyline((13, 4), [(0, 0), (10, 0)]) == pytest.approx(5)
    (x, y), d = closed.along([(0, 0), (10, 0), (10, 10)], 15)
    assert (x, y) == pytest.approx((10, 5)) and d == pytest.approx((0, 1))


def test_normal_day_vehicles_stay_on_route(model):
    seen, rs = run(model, "normal_day", 1200)
    assert seen == {}
    assert {r.entity_id for r in rs if r.metric == "lat"} == {v.id for v in model.of("hazmat_vehicle")}
    assert any(r.metric == "people" for r in rs) and any(r.metric == "vehicles_in" for r in rs)


def test_scripted_deviation_closed_zone_and_stop(model):
    seen, _ = run(model, "leak_chlorine", 600)
    assert 120 <= seen[("chemical_park.route", "cp.vehicle.v2")] < 200
    assert ("chemical_park.closed", "cp.vehicle.v2") in seen
    assert seen[("chemical_park.stop", "cp.vehicle.v3")] >= 200 + 120
    assert not any(e == "cp.vehicle.v1" for _, e in seen)


def test_vehicle_alerts_read_in_english_with_the_zone_s_english_name(model):
    """Issue 19: the closed-zone, route and stop alerts carry English text; the zone by its English name."""
    import re
    sc = scenario.load_scenario(scenario.scenario_path("leak_chlorine"), model)
    sim = simulator.Simulator(model, sc, t0=NOW)
    rules = closed.vehicle_rules(model)
    drafts = {}
    for k in range(0, 600, 2):
        rs = sim.readings(NOW + k)
        for r in rules:
            for d in r.evaluate(rs):
                drafts.setdefault(d.rule_id, d)
    assert {"chemical_park.route", "chemical_park.closed", "chemical_park.stop"} <= set(drafts)
    for d in drafts.values():
        assert d.title_en and d.message_en, d
        assert not re.search(r"[\u4e00-\u9fff]{2,}", d.title_en + d.message_en), d   # the plate's 浙 only
    assert "Loading area north maintenance closure" in drafts["chemical_park.closed"].message_en


def test_rule_clears_when_back_on_route(model):
    rule = closed.VehicleRule(model, "route")
    geo = closed.ParkGeometry(model)
    v = model.items["cp.vehicle.v1"]
    x, y = geo.routes[v.props["route"]][3]
    lon, lat = geo.local.lonlat(x - 200, y)
    assert rule.evaluate([Reading(v.id, "lon", 1, lon), Reading(v.id, "lat", 1, lat)])
    assert not rule.clears(Reading(v.id, "lat", 1, lat))
    lon, lat = geo.local.lonlat(x, y)
    assert rule.evaluate([Reading(v.id, "lon", 2, lon), Reading(v.id, "lat", 2, lat)]) == []
    assert rule.clears(Reading(v.id, "lat", 2, lat))


def test_vehicle_with_unknown_route_is_a_twin_error(tmp_path):
    text = (ROOT / "twin_models/chemical_park/park.yaml").read_text(encoding="utf-8")
    (tmp_path / "park.yaml").write_text(text.replace("route: cp.route.r2", "route: cp.route.r9", 1), encoding="utf-8")
    (tmp_path / "park.geojson").write_text((ROOT / "twin_models/chemical_park/park.geojson").read_text(
        encoding="utf-8"), encoding="utf-8")
    with pytest.raises(ConfigError, match="route 'cp.route.r9' is not a hazmat_route"):
        twin.load_model((tmp_path / "park.geojson", tmp_path / "park.yaml"))


def test_bad_vehicle_event_in_scenario(tmp_path, model):
    p = tmp_path / "s.yaml"
    p.write_text("name: {zh: x}\nweather: {wind_ms: 3, wind_from_deg: 90}\n"
                 "events:\n  - {type: vehicle_stop, vehicle: cp.vehicle.zz, at_s: 5}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="vehicle 'cp.vehicle.zz'"):
        scenario.load_scenario(p, model)


def test_closed_panel_and_vehicles_on_the_map(make_twin_app, model):
    app = make_twin_app(plugins_dir=ROOT / "plugins", plugin_allowlist=["chemical_park"], run_sources=False)
    host = app.server.config["TWINBOARD_HOST"]
    sc = scenario.load_scenario(scenario.scenario_path("leak_chlorine"), model)
    import time
    now = time.time()
    sim = simulator.Simulator(model, sc, t0=now - 160)
    for k in range(0, 20, 2):
        host.ingest("chemical_park", "simulator", sim.readings(now - 20 + k))
    text = str(render_panel(app, "chemical_park.closed"))
    assert "浙J·B5678" in text and ("偏离路线" in text or "闯入封闭区" in text)
    assert "在园人数" in text and "1号主门岗" in text
    deck = render_panel(app, "chemical_park.scene")
    ids = {layer["id"] for layer in deck["layers"]}
    assert "cp-vehicles" in ids
