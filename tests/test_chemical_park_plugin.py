"""chemical_park through the host: twin validation, scenario, simulator, alarm rules, panels, bad input."""

from __future__ import annotations

import json
import math
import shutil
import time
from pathlib import Path

import pytest

from core.api import ConfigError, Reading
from core.plugins.testing import make_twin_app, render_panel, twin_store  # noqa: F401

from test_chemical_park_plume import load

ROOT = Path(__file__).resolve().parents[1]
twin = load("twin")
scenario = load("scenario")
simulator = load("simulator")
rules_mod = load("rules")
plume = load("plume")
threat = load("threat")


@pytest.fixture
def model():
    return twin.load_model()


def test_twin_model_is_complete_and_valid(model):
    kinds = {i.kind for i in model.items.values()}
    for k in ("boundary", "fence", "zone", "enterprise", "building", "tank", "pipe_rack", "gate", "hazmat_parking",
              "medical_station", "fire_station", "sensitive_target", "hazard_source", "gas_detector",
              "process_sensor", "weather_station"):
        assert k in kinds, k
    assert {h.props["grade"] for h in model.of("hazard_source")} == set(twin.GRADES)
    for h in model.of("hazard_source"):
        assert twin.computed_grade(model, h)[1] == h.props["grade"]
        assert model.items[h.props["enterprise"]].kind == "enterprise"
    for t in model.of("tank"):
        lon, lat = t.point
        assert 121.46 <= lon <= 121.51 and 28.64 <= lat <= 28.67     # 外沙/岩头, south bank
        assert {"diameter_m", "height_m", "substance", "capacity_m3"} <= set(t.props)
    for b in model.of("building"):
        assert b.props["height_m"] > 0
    assert "DEMO" in (ROOT / "twin_models/chemical_park/park.yaml").read_text(encoding="utf-8")[:200]
    assert "DEMO" in (ROOT / "twin_models/chemical_park/park.geojson").read_text(encoding="utf-8")[:300]


def _broken_copy(tmp_path: Path, old: str, new: str) -> tuple[Path, Path]:
    geo = tmp_path / "park.geojson"
    shutil.copy(ROOT / "twin_models/chemical_park/park.geojson", geo)
    yml = tmp_path / "park.yaml"
    text = (ROOT / "twin_models/chemical_park/park.yaml").read_text(encoding="utf-8")
    assert old in text
    yml.write_text(text.replace(old, new, 1), encoding="utf-8")
    return geo, yml


@pytest.mark.parametrize("old,new,msg", [
    ("substance: chlorine", "substance: phosgene", "unknown substance 'phosgene'"),
    ("grade: 一级", "grade: 五级", "grade"),
    ("diameter_m: 4.6", "diameter_m: -4.6", "diameter_m"),
    ("enterprise: cp.ent.e5", "enterprise: cp.ent.nope", "is not an enterprise"),
])
def test_wrong_twin_field_is_a_clear_error(tmp_path, old, new, msg):
    with pytest.raises(ConfigError, match=msg) as exc:
        twin.load_model(_broken_copy(tmp_path, old, new))
    assert "park.yaml" in str(exc.value)


def test_scenarios_load_and_name_real_tanks(model):
    for name in ("normal_day", "leak_chlorine"):
        sc = scenario.load_scenario(scenario.scenario_path(name), model)
        assert sc.weather.wind_ms > 0
    leak = scenario.load_scenario(scenario.scenario_path("leak_chlorine"), model).leaks()[0]
    assert leak.tank == "cp.tank.t101" and leak.at_s == 30


@pytest.mark.parametrize("body,msg", [
    ("name: {zh: x}\nweather: {wind_ms: 3, wind_from_deg: 90}\nevents:\n  - {type: leak, tank: cp.tank.nope, at_s: 1, rate_kg_s: 1}\n",
     "tank 'cp.tank.nope'"),
    ("name: {zh: x}\nweather: {wind_ms: 3, wind_from_deg: 90, gust: 4}\n", "Extra inputs"),
    ("name: {zh: x}\nweather: {wind_ms: 3, wind_from_deg: 90}\nevents:\n  - {type: leak, tank: cp.tank.t101, rate_kg_s: 1}\n",
     "exactly one of at_s"),
    ("name: {zh: x}\nweather: {wind_ms: 3, wind_from_deg: 400}\n", "wind_from_deg"),
    ("name: {zh: x}\nweather: {wind_ms: 3, wind_from_deg: 90}\nevents:\n  - {type: spill, at_s: 3}\n", "events.0"),
])
def test_bad_scenario_is_a_clear_error(tmp_path, model, body, msg):
    p = tmp_path / "bad.yaml"
    p.write_text(body, encoding="utf-8")
    with pytest.raises(ConfigError, match=msg) as exc:
        scenario.load_scenario(p, model)
    assert "bad.yaml" in str(exc.value)


def _sim(model, name="leak_chlorine", t_rel=0.0):
    sc = scenario.load_scenario(scenario.scenario_path(name), model)
    now = 1_790_000_000.0  # fixed time: deterministic stability class
    return simulator.Simulator(model, sc, t0=now - t_rel), now


def test_normal_day_raises_nothing(model):
    sim, now = _sim(model, "normal_day")
    engine = rules_mod.rules(model)
    for k in range(40):
        rs = sim.readings(now + 2 * k)
        assert all(r.metric != simulator.RELEASE_METRIC for r in rs)
        drafts = [d for rule in engine for d in rule.evaluate(rs)]
        assert drafts == [], drafts[:3]


def test_leak_raises_gas_alarm_and_rate_alarms(model):
    sim, now = _sim(model, t_rel=20.0)   # leak at 30 s
    engine = rules_mod.rules(model)
    seen = {}
    for k in range(60):                  # two minutes at 2 s
        rs = sim.readings(now + 2 * k)
        for rule in engine:
            for d in rule.evaluate(rs):
                key = (d.rule_id, d.entity_id)
                seen[key] = min(seen.get(key, 9), int(d.severity))
    assert ("chemical_park.limit", "cp.gas.t101") in seen
    assert int(seen[("chemical_park.limit", "cp.gas.t101")]) <= 2
    assert ("chemical_park.rate", "cp.press.t101") in seen
    assert ("chemical_park.rate", "cp.temp.t101") in seen
    assert ("chemical_park.limit", "cp.gas.fence_w") in seen          # the fence-line station downwind
    assert not any(e.startswith("cp.gas.fence_e") for _, e in seen)   # upwind sees nothing


def test_fault_rule_on_nan_and_out_of_range(model):
    fault, limit = rules_mod.FaultRule(model), rules_mod.LimitRule(model)
    rs = [Reading("cp.temp.t503", "temperature_c", 1.0, float("nan"), "°C"),
          Reading("cp.gas.t101", "gas_ppm", 1.0, -3.0, "ppm")]
    assert [d.entity_id for d in fault.evaluate(rs)] == ["cp.temp.t503", "cp.gas.t101"]
    assert limit.evaluate(rs) == []
    assert fault.clears(Reading("cp.temp.t503", "temperature_c", 2.0, 24.0, "°C"))


def _app(make_twin_app):
    app = make_twin_app(plugins_dir=ROOT / "plugins", plugin_allowlist=["chemical_park", "alerts"], run_sources=False)
    host = app.server.config["TWINBOARD_HOST"]
    rec = host.plugins.records["chemical_park"]
    assert rec.status.value == "enabled", rec.error
    rec.settings.stability = "D"     # the class must not depend on the hour the test runs
    return app, host


def _feed_leak(host, model, seconds=90, wind=True, t_rel=20.0):
    sim, _ = _sim(model, t_rel=t_rel)
    now = time.time()
    sim.t0 = now - t_rel - seconds
    for k in range(0, seconds, 2):
        rs = sim.readings(now - seconds + k)
        if not wind:
            rs = [r for r in rs if r.entity_id != "cp.weather"]
        host.ingest("chemical_park", "simulator", rs)
    return sim


def test_leak_through_the_host_draws_zones_downwind_and_lists_targets(make_twin_app, model):
    app, host = _app(make_twin_app)
    _feed_leak(host, model)
    alerts = {(a.rule_id, a.entity_id) for a in host.store.alerts(limit=1000)}
    assert ("chemical_park.limit", "cp.gas.t101") in alerts
    deck = render_panel(app, "chemical_park.scene")
    layers = {layer["id"]: layer for layer in deck["layers"]}
    assert "cp-zones" in layers and len(layers["cp-zones"]["data"]) == 3
    src = model.items["cp.tank.t101"].point
    red = [d for d in layers["cp-zones"]["data"] if d["name"].startswith("AEGL-3")][0]
    assert min(p[0] for p in red["polygon"]) < src[0] - 0.002           # downwind = west of the tank
    assert deck["mapProvider"] is None if "mapProvider" in deck else True
    tank_fill = {d["name"]: d for lid, layer in layers.items() if lid.startswith("cp-tank-fill-") for d in layer["data"]}
    assert tank_fill["T101 液氯储罐"]["color"][:3] == [232, 54, 59]
    summary = str(render_panel(app, "chemical_park.threat"))
    for s in ("AEGL-3", "AEGL-2", "AEGL-1", "模型局限", "疏散", "外沙社区", "到达", "稳定度 D"):
        assert s in summary, s
    en = str(render_panel(app, "chemical_park.threat", locale="en"))
    assert "Evacuate crosswind" in en and "flat terrain" in en
    chart = render_panel(app, "chemical_park.receptor", options={"target": "cp.bldg.27"})
    assert "AEGL" in str(chart)
    hz = str(render_panel(app, "chemical_park.hazards"))
    assert "一级" in hz and "四级" in hz
    assert "/53" in str(render_panel(app, "chemical_park.kpis"))


def test_missing_wind_draws_no_zone_and_says_so(make_twin_app, model):
    app, host = _app(make_twin_app)
    _feed_leak(host, model, wind=False)
    deck = render_panel(app, "chemical_park.scene")
    assert "cp-zones" not in {layer["id"] for layer in deck["layers"]}
    assert "风速/风向数据缺失" in str(render_panel(app, "chemical_park.threat"))
    assert "Wind reading missing" in str(render_panel(app, "chemical_park.threat", locale="en"))


def test_stale_wind_and_calm_draw_no_zone(model, twin_store):
    now = time.time()
    settings = type("S", (), {"stale_after_s": 30.0, "surface": "rural", "stability": "auto",
                              "default_cloud_oktas": 4.0})()
    twin_store.ingest([Reading("cp.tank.t101", "release_kg_s", now, 0.5, "kg/s"),
                       Reading("cp.weather", "wind_ms", now - 120, 3.0, "m/s"),
                       Reading("cp.weather", "wind_dir_deg", now - 120, 90.0, "°")])
    assert threat.situation(twin_store, model, settings, now).status == "no_wind"
    twin_store.ingest([Reading("cp.weather", "wind_ms", now, 0.4, "m/s"),
                       Reading("cp.weather", "wind_dir_deg", now, 90.0, "°")])
    sit = threat.situation(twin_store, model, settings, now)
    assert sit.status == "calm" and sit.plume is None and not sit.zones


def test_no_release_is_a_quiet_state(make_twin_app, model):
    app, host = _app(make_twin_app)
    sim, now = _sim(model, "normal_day")
    host.ingest("chemical_park", "simulator", sim.readings(time.time()))
    assert "无有毒气体泄漏" in str(render_panel(app, "chemical_park.threat"))
    deck = render_panel(app, "chemical_park.scene")
    assert json.dumps(deck)  # serialisable
    assert "cp-zones" not in {layer["id"] for layer in deck["layers"]}


def test_nan_sensor_is_left_out_of_the_batch_and_shows_no_data(tmp_path, make_twin_app, model):
    p = tmp_path / "nan.yaml"
    p.write_text("name: {zh: x}\nweather: {wind_ms: 3, wind_from_deg: 90}\n"
                 "events:\n  - {type: sensor_fault, sensor: cp.temp.t503, at_s: 0, duration_s: 60, value: .nan}\n",
                 encoding="utf-8")
    sim = simulator.Simulator(model, scenario.load_scenario(p, model), t0=time.time())
    batch = list(sim.poll())
    assert all(math.isfinite(r.value) for r in batch) and sim.dropped_nonfinite == 1
    assert "cp.temp.t503" not in {r.entity_id for r in batch}
    app, host = _app(make_twin_app)
    host.ingest("chemical_park", "simulator", batch)          # the store accepts the batch
    assert "children='52'" in str(render_panel(app, "chemical_park.kpis"))   # 52 of 53 sensors online


def test_integration_panel_checks_the_plan_targets(make_twin_app, model):
    app, host = _app(make_twin_app)
    sim, _ = _sim(model, "normal_day")
    host.ingest("chemical_park", "simulator", sim.readings(time.time()))
    text = str(render_panel(app, "chemical_park.integration"))
    assert "6 人, 化工背景 83%" in text and "≥5 / ≥75%" in text      # 5 of 6 supervisors have a chemical background
    assert "危化医疗队 32 人" in text and "作业中 3, 审批中 1" in text
    assert "重大 2" in text
    en = str(render_panel(app, "chemical_park.integration", locale="en"))
    assert "Supervision" in en
    deck = render_panel(app, "chemical_park.scene")
    ops = [layer for layer in deck["layers"] if layer["id"] == "cp-operations"][0]
    assert len(ops["data"]) == 5 + 4 + 4      # permits, open hidden hazards, rescue teams


def test_bad_permit_state_in_twin(tmp_path):
    for name in ("park.geojson", "park.yaml"):
        (tmp_path / name).write_text((ROOT / "twin_models/chemical_park" / name).read_text(encoding="utf-8"),
                                     encoding="utf-8")
    text = (ROOT / "twin_models/chemical_park/operations.yaml").read_text(encoding="utf-8")
    (tmp_path / "operations.yaml").write_text(text.replace("state: 作业中", "state: 进行中", 1), encoding="utf-8")
    with pytest.raises(ConfigError, match="operations.yaml.*properties.state"):
        twin.load_model((tmp_path / "park.geojson", tmp_path / "park.yaml", tmp_path / "operations.yaml"))
