"""flood_defence water-level spike filter (issue 18, item 2): one filter for the live rule, the vectorised
pass and the hydrograph's spike marks; right on inconsistent jumps, spikes, steps and fast rises."""

from __future__ import annotations

import types
from pathlib import Path
from types import SimpleNamespace as NS

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.api import Reading, Severity
from core.plugins.manager import import_plugin_submodule

ROOT = Path(__file__).resolve().parents[1]


def _fd(module: str) -> types.ModuleType:
    return import_plugin_submodule(ROOT / "plugins" / "flood_defence", module)


wn = _fd("warnings")
stn = _fd("stations")

TH = {"warning_level": 5.0, "guaranteed_level": 5.8, "historical_max": 6.6}
T0 = 1_700_000_000.0
METRIC = "water_level_m"


def _rule(rate: float = 0.2):
    th = wn.Thresholds.from_properties("st", TH)
    return wn.WaterLevelRule("flood_defence.water_level", {"st": (th, METRIC, "椒江水位站")}, rate)


def _feed(rule, values, step_s: float = 60.0, t0: float = T0):
    """Feed readings one by one, as the host does; returns (readings, drafts raised by each)."""
    rs = [Reading("st", METRIC, t0 + step_s * i, v, "m") for i, v in enumerate(values)]
    return rs, [rule.evaluate([r]) for r in rs]


def test_inconsistent_jumps_raise_nothing_and_the_good_reading_after_them_counts():
    """The reported case: 7.5 → 2.0 → 9.0 m raised red, and the 4.0 after it was rejected (red stayed)."""
    rule = _rule()
    rs, out = _feed(rule, [4.0, 4.0, 4.0, 7.5, 2.0, 9.0, 4.0])
    assert out == [[]] * 7                                    # no red (nor any) warning
    assert [r.value for r in rule.rejected] == [7.5, 2.0, 9.0]
    assert rule.clears(rs[-1])                               # 4.0 is accepted: it would clear an open warning


@pytest.mark.parametrize("spike", [[7.5], [7.5, 7.6], [9.0, 8.9]])
def test_isolated_spikes_of_one_or_two_readings_are_rejected_and_recovery_accepted(spike):
    rule = _rule()
    rs, out = _feed(rule, [4.0, 4.0, *spike, 4.05, 4.1])
    assert all(d == [] for d in out)
    assert [r.value for r in rule.rejected] == spike
    assert rule.clears(rs[-1])              # the host asks right after evaluating that reading's batch
    lv = np.array([[r.value for r in rs]])
    assert wn.evaluate_pass(lv, np.array([r.ts for r in rs]), [wn.Thresholds(5.0, 5.8, 6.6)]).tolist() == [0]


def test_evaluate_pass_agrees_with_the_live_rule_on_a_two_reading_spike():
    """Before: evaluate_pass masked only a reading with a jump on both sides, so 4, 9, 9, 4 gave red there."""
    t = np.arange(0, 288) * 300.0
    lv = np.full((2, 288), 4.0)
    lv[0, 100:102] = 9.0                                    # 2-reading spike
    lv[1, 100:] = 9.0                                       # a level that holds (a step): real
    th = [wn.Thresholds(5.0, 5.8, 6.6)] * 2
    assert wn.evaluate_pass(lv, t, th).tolist() == [0, 1]
    for row, want in zip(lv, ([], [Severity.I])):
        rule = _rule()
        _, out = _feed(rule, row.tolist(), 300.0)
        assert sorted({d.severity for ds in out for d in ds}) == want


def test_a_level_that_holds_is_accepted_on_its_third_reading_with_the_two_before():
    rule = _rule()
    rs, out = _feed(rule, [4.0, 4.0, 5.5, 5.5, 5.5, 5.5])
    assert out[2] == [] and out[3] == []
    assert [d.value for d in out[4]] == [5.5, 5.5, 5.5] and out[4][0].severity == Severity.III
    assert [d.value for d in out[5]] == [5.5] and rule.rejected == []


def test_a_fast_consistent_rise_is_accepted_every_reading_and_blue_is_not_skipped():
    """0.3 m/min at 1-minute readings (faster than max_rate 0.2): before, only every third reading counted,
    so the blue band (4.7–5.0, one reading wide) was skipped."""
    rule = _rule()
    levels = [4.0, 4.0, 4.0] + [round(4.0 + 0.3 * k, 2) for k in range(1, 10)]   # 4.3 .. 6.7
    rs, out = _feed(rule, levels)
    assert rule.rejected == []                               # every reading of the rise is accepted
    # the first two readings of the jump are held until the third agrees, then every reading at once
    assert out[3] == [] and out[4] == []
    assert [[d.severity for d in ds] for ds in out[5:]] == [
        [Severity.IV], [Severity.III], [Severity.III], [Severity.II], [Severity.II], [Severity.II], [Severity.I]]
    assert wn.evaluate_pass(np.array([levels]), np.array([r.ts for r in rs]), [wn.Thresholds(5.0, 5.8, 6.6)]
                            ).tolist() == [1]


def test_blue_crossed_while_readings_are_held_is_raised_when_they_are_confirmed():
    rule = _rule()
    _, out = _feed(rule, [4.5, 4.5, 4.8, 5.1, 5.4, 5.7])
    assert out[2] == [] and out[3] == []
    assert [(d.severity, d.value) for d in out[4]] == [(Severity.IV, 4.8), (Severity.III, 5.1), (Severity.III, 5.4)]
    assert [d.severity for d in out[5]] == [Severity.III]


def test_slow_rise_and_five_second_noise_are_never_held():
    rule = _rule()
    rng = np.random.default_rng(1)
    levels = (4.0 + 0.004 * np.arange(400) + rng.normal(0, 0.03, 400)).tolist()   # 5-s readings
    _feed(rule, levels, 5.0)
    assert rule.rejected == []


@pytest.mark.parametrize("props,where", [({**TH, "blue_margin": -0.2}, "property blue_margin"),
                                         ({**TH, "blue_margin": float("nan")}, "property blue_margin"),
                                         ({**TH, "blue_margin": "wide"}, "property blue_margin")])
def test_a_negative_or_bad_blue_margin_is_refused_naming_it(props, where):
    with pytest.raises(wn.ThresholdError, match=f"station 'fd.station.x': {where}"):
        wn.Thresholds.from_properties("fd.station.x", props)


def test_a_negative_blue_margin_setting_is_refused_naming_it():
    with pytest.raises(wn.ThresholdError, match="station 'fd.station.x': setting blue_margin_m: must be .*>= 0"):
        wn.Thresholds.from_properties("fd.station.x", TH, blue_margin=-0.3)
    with pytest.raises(wn.ThresholdError, match="blue_margin must be"):
        wn.Thresholds(5.0, 5.8, 6.6, -0.1)
    # the station is then shown with its error, not silently without a blue warning
    [s] = stn.stations_from_entities([NS(id="fd.station.x", kind="station", name="X", name_en="", geometry=None,
                                         properties={"station_type": "water_level", **TH, "blue_margin": -1})])
    assert s.thresholds is None and "blue_margin" in s.threshold_error
    fs = _fd("settings")
    with pytest.raises(Exception, match="blue_margin_m"):
        fs.FloodSettings(blue_margin_m=-0.3)
    with pytest.raises(ValueError, match="max_rate_m_per_min"):
        wn.WaterLevelRule("r", {}, 0.0)


# -- property: the live rule, evaluate_pass and the hydrograph agree reading by reading --------------------
def _segment():
    flat = st.tuples(st.just("flat"), st.integers(1, 8), st.floats(-0.3, 0.3))
    ramp = st.tuples(st.just("ramp"), st.integers(2, 10), st.floats(-0.5, 0.5))
    spike = st.tuples(st.just("spike"), st.integers(1, 2), st.floats(-4, 4))
    step = st.tuples(st.just("step"), st.integers(1, 6), st.floats(-3, 3))
    gap = st.tuples(st.just("nan"), st.integers(1, 2), st.just(0.0))
    return st.one_of(flat, ramp, spike, step, gap)


def _series(segments, start: float) -> list[float]:
    out, level = [], start
    for kind, n, x in segments:
        for i in range(n):
            if kind == "flat":
                out.append(level + x * (i % 2) * 0.1)
            elif kind == "ramp":
                level += x
                out.append(level)
            elif kind == "spike":
                out.append(level + x)
            elif kind == "step":
                level += x if i == 0 else 0.0
                out.append(level)
            else:
                out.append(float("nan"))
    return out[:90]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(_segment(), min_size=1, max_size=12), min_size=1, max_size=4),
       st.floats(3.0, 6.0), st.sampled_from([5.0, 60.0, 300.0]), st.sampled_from([0.1, 0.2, 0.5]))
def test_live_rule_vectorised_pass_and_hydrograph_agree(rows, start, step_s, rate):
    series = [_series(segs, start) for segs in rows]
    m = max(len(s) for s in series)
    series = [s + [s[-1]] * (m - len(s)) for s in series]
    th = wn.Thresholds(5.0, 5.8, 6.6)
    t = T0 + step_s * np.arange(m)
    lv = np.array(series)
    worst_pass = wn.evaluate_pass(lv, t, [th] * len(series), rate).tolist()
    mask = wn.accepted_mask(lv, t, rate)
    for k, row in enumerate(series):
        rule = _rule(rate)
        rs, out = _feed(rule, row, step_s)
        sevs = [int(d.severity) for ds in out for d in ds]
        assert worst_pass[k] == (min(sevs) if sevs else 0)
        rejected = {id(r) for r in rule.rejected}
        live = [id(r) not in rejected and np.isfinite(r.value) for r in rs]
        assert mask[k].tolist() == live
        clean = stn.clean_series([(r.ts, r.value) for r in rs], step_s, rate)
        assert clean.spikes == [(r.ts, r.value) for r in rule.rejected if np.isfinite(r.value)]
