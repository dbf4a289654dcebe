"""Issue 19 (9): the demo is physically plausible and says when it runs faster than real time.

- the Haimen tide, read from the flood simulator's own readings, has the semidiurnal M2 period (12.42 h) in
  simulated time;
- the typhoon moves at a plausible speed between consecutive readings; where the demo starts its scenario
  again (a new cycle), the transfers start again with it;
- the demo's tank pressure is a smooth physical curve (lag-1 autocorrelation near 1), not noise;
- storms are named in Chinese with the simulated time, in the wall's font.
The demo-speed badge on the screens is checked in Chromium (tests/test_playlist_switch.py).
"""

from __future__ import annotations

import json
import math
import types
from pathlib import Path

import numpy as np
import pytest

from core.api import AlertDraft, Reading, Severity
from core.plugins.manager import import_plugin_submodule
from core.plugins.testing import render_panel

ROOT = Path(__file__).resolve().parents[1]
FD = "flood_defence"
M2_H = 12.42


def _fd(module: str) -> types.ModuleType:
    return import_plugin_submodule(ROOT / "plugins" / FD, module)


@pytest.fixture
def fd_app(tmp_path):
    from core.plugins.testing import temp_settings
    from core.runtime.host import Host
    from core.web.app import create_app
    settings = temp_settings(tmp_path / "app", plugins_dir=ROOT / "plugins", plugin_allowlist=[FD], run_sources=False)
    host = Host(settings)
    app = create_app(settings, host=host, start=True)
    assert host.plugins.records[FD].status.value == "enabled", host.plugins.records[FD].error
    yield app, host
    host.stop()


def _run(sim, t0: float, seconds: float, step: float) -> list[Reading]:
    sim.t0 = t0
    out, t = [], t0
    while t < t0 + seconds:
        out += sim.readings_at(t, step)
        t += step
    return out


def test_the_tide_has_the_m2_period_in_simulated_time(fd_app):
    _app, host = fd_app
    s = host.plugins.records[FD].settings
    sim_mod, stations = _fd("simulator"), _fd("stations")
    sim = sim_mod.StormSimulator(s)
    sim.stations = [st for st in stations.stations_from_entities(host.store.entities(kind="station", plugin=FD))
                    if st.type == "tide"]
    assert sim.stations, "the twin has tide stations"
    haimen = next(st for st in sim.stations if "haimen" in st.id)
    haimen.properties["surge_peak"] = 0.0          # the astronomical tide alone: no storm surge on top
    t0 = 1_700_000_000.0
    span_sim_h = 5 * M2_H
    readings = [r for r in _run(sim, t0, span_sim_h * 3600 / s.demo_speed, s.interval_s * 4) if r.entity_id == haimen.id]
    t_h = np.array([(r.ts - t0) * s.demo_speed / 3600 for r in readings])
    x = np.array([r.value for r in readings])
    x = x - x.mean()
    periods = np.arange(2.0, 30.0, 0.01)
    power = [abs(np.sum(x * np.exp(-2j * np.pi * t_h / p))) for p in periods]
    best = periods[int(np.argmax(power))]
    assert abs(best - M2_H) < 0.1, f"tide period {best:.2f} h of simulated time, not {M2_H} h"
    # and it is continuous from the back-filled history into the live cycle (no step at t0)
    before = sim._tide(haimen, t0 - 1e-3)
    assert abs(before - sim._tide(haimen, t0)) < 1e-3


def test_the_typhoon_moves_plausibly_and_a_new_cycle_starts_the_transfers_again(fd_app):
    app, host = fd_app
    s = host.plugins.records[FD].settings
    best_tracks, typhoon = _fd("best_tracks"), _fd("typhoon")
    sim = _fd("simulator").StormSimulator(s)
    t0 = 1_700_000_000.0
    phases = [r for r in _run(sim, t0, 2.5 * s.storm_period_s, s.interval_s) if r.entity_id == "fd.scenario"]
    by_ts: dict[float, dict[str, float]] = {}
    for r in phases:
        by_ts.setdefault(r.ts, {})[r.metric] = r.value
    steps = sorted(by_ts.items())
    assert {"phase", "cycle"} <= set(steps[0][1]), "the simulator publishes the cycle's phase and number"
    restarts, prev = 0, None
    for ts, v in steps:
        sit = best_tracks.situation(host.store, s, {}, v["phase"])
        assert sit.point is not None, "the demo cycle lies within the storm's life"
        d = typhoon.distance_km(sit.point.lat, sit.point.lon, s.district_lat, s.district_lon)
        if prev is not None:
            pts, pd, pcycle = prev
            if v["cycle"] == pcycle:
                sim_h = (ts - pts) * s.demo_speed / 3600
                assert abs(d - pd) <= 60.0 * sim_h + 1.0, f"the storm jumps {pd:.0f} → {d:.0f} km in {sim_h:.2f} h"
            else:
                restarts += 1                            # a new scenario: told by the cycle number
        prev = (ts, d, v["cycle"])
    assert restarts == 2

    # the transfers follow the scenario: far into a cycle many are moved; a new cycle starts them again
    import time as _time
    now = _time.time()
    host.raise_alert(FD, AlertDraft(f"{FD}.test_warning", "fd.station.haimen_tide", Severity(2), "测试预警"))
    from core.api import Alert
    with host.store.session() as db:                      # the warning opened an hour ago
        for a in [a for a in host.store.alerts() if a.plugin == FD]:
            row = db.get(Alert, a.id)
            row.opened_at = now - 3600
            db.add(row)
        db.commit()
    opened = min(a.opened_at for a in host.store.alerts() if a.plugin == FD)

    def moved(phase_now: float, ts: float) -> int:
        host.ingest(FD, "storm", [Reading("fd.scenario", "phase", ts, phase_now, ""),
                                  Reading("fd.scenario", "cycle", ts, 1.0, "")])
        from plotly.utils import PlotlyJSONEncoder
        body = json.dumps(render_panel(app, f"{FD}.transfers", {}), cls=PlotlyJSONEncoder, ensure_ascii=False)
        return int(body.split('"children": "', 1)[1].split('"', 1)[0].replace(",", ""))
    assert opened <= now
    late = moved(0.9, now - 2)        # the cycle began 0.9 × storm_period_s ago (the warning opened before it)
    fresh = moved(0.001, now - 1)     # the cycle began a moment ago: the scenario starts again
    assert late > 0 and fresh < late * 0.1, (late, fresh)


def test_tank_pressure_is_a_smooth_physical_curve():
    from plugins.demo_sensors.settings import DemoSettings
    from plugins.demo_sensors.simulator import Simulator
    s = DemoSettings()
    sim = Simulator(s)
    sim.sensors = [("demo.press.t1", {"metric": "pressure_kpa", "unit": "kPa", "base": 820, "noise": 6}),
                   ("demo.temp.t3", {"metric": "temperature_c", "unit": "°C", "base": 24, "noise": 0.4})]
    t0 = sim.t0
    day_real = 86400 / s.demo_speed
    series: dict[str, list[float]] = {"demo.press.t1": [], "demo.temp.t3": []}
    for k in range(600):
        for r in sim.readings(t0 + k * day_real / 300):      # two simulated days, 300 readings each
            series[r.entity_id].append(r.value)
    for sid, values in series.items():
        x = np.array(values) - np.mean(values)
        r1 = float(np.sum(x[1:] * x[:-1]) / np.sum(x * x))
        assert r1 > 0.95, f"{sid}: lag-1 autocorrelation {r1:.2f}: noise, not a physical curve"
    p, temp = np.array(series["demo.press.t1"]), np.array(series["demo.temp.t3"])
    assert np.corrcoef(p, temp)[0, 1] > 0.9              # a liquefied gas's pressure follows its temperature
    assert 700 < p.min() < p.max() < 950                  # within a plausible band around the design value


def test_storms_are_named_in_chinese_with_the_simulated_time_in_the_wall_font(fd_app):
    app, host = fd_app
    deck = render_panel(app, f"{FD}.typhoon_map", {})
    labels = next(layer for layer in deck["layers"] if layer["id"] == "labels")
    texts = [row["text"] for row in labels["data"]]
    assert any("利奇马" in t and "模拟" in t for t in texts), texts
    assert not any("Lekima" in t for t in texts)
    from core.api import FONT_FAMILY
    assert labels["fontFamily"] == FONT_FAMILY and "monospace" not in labels["fontFamily"].lower()
    en = render_panel(app, f"{FD}.typhoon_map", {}, locale="en")
    en_labels = next(layer for layer in en["layers"] if layer["id"] == "labels")
    assert any("Lekima (利奇马)" in row["text"] and "simulated" in row["text"] for row in en_labels["data"])
