"""flood_defence: the warning colours, the alert rule, spikes and gaps, rainfall totals and forecasts."""

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
wn = _fd("warnings")
stn = _fd("stations")

import numpy as np  # noqa: E402
from core.api import Reading, Severity  # noqa: E402

TH = {"warning_level": 5.0, "guaranteed_level": 5.8, "historical_max": 6.6}


@pytest.mark.parametrize("level,sev", [
    (4.69, None), (4.70, Severity.IV), (4.99, Severity.IV), (5.0, Severity.III), (5.79, Severity.III),
    (5.8, Severity.II), (6.59, Severity.II), (6.6, Severity.I), (9.0, Severity.I), (float("nan"), None)])
def test_colour_by_domain_rules(level, sev):
    assert wn.Thresholds.from_properties("s", TH).severity(level) == sev


def test_vectorised_classify_matches_scalar():
    th = wn.Thresholds.from_properties("s", TH)
    lv = np.linspace(4.0, 7.0, 301)[None, :]
    got = wn.classify(lv, [5.0], [5.8], [6.6], 0.3)[0]
    want = [int(th.severity(v) or 0) for v in lv[0]]
    assert got.tolist() == want


@pytest.mark.parametrize("props,msg", [
    ({}, "has no warning_level, guaranteed_level, historical_max"),
    ({"warning_level": 5, "guaranteed_level": 5.8}, "has no historical_max"),
    ({"warning_level": 6, "guaranteed_level": 5.8, "historical_max": 6.6}, "need warning_level"),
    ({"warning_level": "high", "guaranteed_level": 5.8, "historical_max": 6.6}, "must be numbers"),
])
def test_station_without_thresholds_is_an_error(props, msg):
    with pytest.raises(wn.ThresholdError, match=msg):
        wn.Thresholds.from_properties("fd.station.x", props)


def _rule():
    th = wn.Thresholds.from_properties("s", TH)
    return wn.WaterLevelRule("flood_defence.water_level", {"st": (th, "tide_level_m", "海门潮位站")}, 0.2)


def test_rule_raises_colours_with_station_and_threshold():
    rule = _rule()
    t = 1_700_000_000.0
    out = []
    for i, v in enumerate([4.5, 4.8, 5.1, 5.5, 5.9]):
        out.append(rule.evaluate([Reading("st", "tide_level_m", t + 600 * i, v, "m")]))
    sevs = [d[0].severity if d else None for d in out]
    assert sevs == [None, Severity.IV, Severity.III, Severity.III, Severity.II]
    d = out[-1][0]
    assert d.entity_id == "st" and d.rule_id == "flood_defence.water_level" and d.value == 5.9
    assert "海门潮位站" in d.title and "橙色" in d.title
    assert "保证水位 5.80" in d.message and d.details == {"threshold": "guaranteed"}  # issue 19: no key=value text
    assert d.title_en == "Haimen Tide Station: orange water-level warning" and "guaranteed level 5.80" in d.message_en
    # other metrics and entities are ignored
    assert rule.evaluate([Reading("st", "rain_mm", t + 600, 99, "mm"), Reading("x", "tide_level_m", t, 9, "m")]) == []


def test_spike_neither_raises_nor_clears():
    rule = _rule()
    t = 1_700_000_000.0
    assert rule.evaluate([Reading("st", "tide_level_m", t, 4.0)]) == []
    spike = Reading("st", "tide_level_m", t + 60, 7.5)
    assert rule.evaluate([spike]) == []              # 3.5 m in a minute: a glitch, not a red warning
    assert rule.rejected == [spike]
    assert not rule.clears(spike)
    # back to normal, then a real step that persists is accepted on its third reading
    assert rule.evaluate([Reading("st", "tide_level_m", t + 120, 4.05)]) == []
    res = [rule.evaluate([Reading("st", "tide_level_m", t + 180 + 60 * i, 5.5)]) for i in range(3)]
    assert [bool(r) for r in res] == [False, False, True]


def test_rule_clears_below_blue():
    rule = _rule()
    r1 = Reading("st", "tide_level_m", 1.0e9, 5.2)
    assert rule.evaluate([r1])
    r2 = Reading("st", "tide_level_m", 1.0e9 + 600, 4.5)
    assert rule.evaluate([r2]) == [] and rule.clears(r2)
    r3 = Reading("st", "tide_level_m", 1.0e9 + 1200, 4.8)
    assert rule.evaluate([r3]) and not rule.clears(r3)


def test_evaluate_pass_masks_spikes():
    th = [wn.Thresholds.from_properties("s", TH)] * 3
    t = np.arange(0, 288) * 300.0
    lv = np.full((3, 288), 4.0)
    lv[1, 100] = 9.0                     # isolated spike: ignored
    lv[2, 100:] = np.linspace(4.0, 6.0, 188)  # a real rise to orange
    assert wn.evaluate_pass(lv, t, th).tolist() == [0, 0, 2]


def test_rain_signal():
    assert wn.rain_signal({1: 10, 3: 20, 6: 30, 12: 49}) is None
    assert wn.rain_signal({3: 20, 6: 30, 12: 50})[0] == Severity.IV
    assert wn.rain_signal({3: 20, 6: 55, 12: 60})[0] == Severity.III
    assert wn.rain_signal({3: 60, 6: 60})[0] == Severity.II
    assert wn.rain_signal({3: 100})[0] == Severity.I


def test_rain_totals():
    now = 100_000.0
    pts = [(now - k * 300, 1.0) for k in range(288)]  # 1 mm every 5 minutes for 24 h
    pts.append((now - 60, float("nan")))              # a missing value counts as nothing
    pts.sort()
    assert stn.rain_totals(pts, now) == {1: 12.0, 3: 36.0, 6: 72.0, 24: 288.0}
    assert stn.rain_totals([], now) == {1: 0.0, 3: 0.0, 6: 0.0, 24: 0.0}


def test_clean_series_flags_gaps_and_spikes():
    pts = [(k * 60.0, 2.0 + 0.01 * k) for k in range(20)]
    pts[5] = (300.0, 6.0)                       # spike
    pts = pts[:10] + pts[14:]                   # 4-minute outage
    c = stn.clean_series(pts, 60, 0.2)
    assert c.spikes == [(300.0, 6.0)]
    assert c.gaps == [(540.0, 840.0)]
    assert None in c.values and 6.0 not in c.values
    # a change of cadence (5-min history, then 5-s live) is not a gap
    mixed = [(k * 300.0, 1.0) for k in range(10)] + [(2700 + k * 5.0, 1.0) for k in range(1, 20)]
    assert stn.clean_series(mixed, 5, 0.2).gaps == []


def test_trend_forecast_and_external_series():
    pts = [(k * 60.0, 2.0 + 0.01 * k) for k in range(30)]     # +0.6 m/h
    fc = stn.trend_forecast(pts, horizon_s=3600, fit_s=1800, step_s=600, damping=1.0)
    assert fc.rate_per_h == pytest.approx(0.6, rel=1e-6)
    assert fc.values[-1] == pytest.approx(2.29 + 0.6, abs=1e-6)
    damped = stn.trend_forecast(pts, horizon_s=3600, fit_s=1800, step_s=600, damping=0.5)
    assert 2.29 < damped.values[-1] < fc.values[-1]
    assert stn.trend_forecast(pts[:2]) is None
    ext = [(1700.0, 9.9), (1800.0, 3.0), (5400.0, 3.5)]
    got = stn.blend_external(fc, ext, now=1740.0)
    assert got.source == "external" and got.values == [3.0, 3.5]
    assert stn.blend_external(fc, [], now=1740.0) is fc


def test_stations_from_entities_keep_threshold_errors():
    from types import SimpleNamespace as NS
    ents = [NS(id="a", kind="station", name="A", name_en="", geometry={"coordinates": [121, 28]},
               properties={"station_type": "tide", **TH}),
            NS(id="b", kind="station", name="B", name_en="", geometry={"coordinates": [121, 28]},
               properties={"station_type": "water_level"}),
            NS(id="c", kind="station", name="C", name_en="", geometry={"coordinates": [121, 28]},
               properties={"station_type": "rain"})]
    a, b, c = stn.stations_from_entities(ents)
    assert a.thresholds.warning == 5.0 and a.metric == "tide_level_m"
    assert b.thresholds is None and "no warning can be computed" in b.threshold_error
    assert c.thresholds is None and c.threshold_error is None and c.metric == "rain_mm"
    with pytest.raises(ValueError, match="station_type"):
        stn.stations_from_entities([NS(id="d", kind="station", name="D", name_en="", geometry=None,
                                       properties={"station_type": "wind"})])
