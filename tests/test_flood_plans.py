"""flood_defence: response levels and checklists, transfers and shelters, five-nets scores, the simulator, the benchmark."""

from __future__ import annotations

import sys
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
from types import SimpleNamespace as NS  # noqa: E402

pl = _fd("plans")
PLAN = pl.load_plan(TWIN / "plans.yaml")


def test_response_level_follows_the_worst_open_warning():
    assert pl.response_level([]) is None
    assert pl.response_level([4, 4]) == "IV"
    assert pl.response_level([4, 3]) == "III"
    assert pl.response_level([3, 2, 4]) == "II"
    assert pl.response_level([1]) == "I"


def test_each_level_has_a_checklist_including_the_lower_levels():
    assert set(PLAN.levels) == {"IV", "III", "II", "I"}
    ids = [a.id for _, a in pl.active_actions(PLAN, "II")]
    assert ids[:3] == ["iv1", "iv2", "iv3"] and "ii2" in ids and "i1" not in ids
    assert all(a.person for _, a in pl.active_actions(PLAN, "I"))


def test_action_status():
    a = pl.Action("x", "做", "do", "role", "p", minutes=60)
    assert pl.action_status(a, 0, 30 * 60, {}, speed=0) == ("due", None)
    assert pl.action_status(a, 0, 61 * 60, {}, speed=0) == ("overdue", None)
    assert pl.action_status(a, 0, 10, {"x": 5.0}, speed=0) == ("done", 5.0)
    assert pl.action_status(a, 0, 60 * 60 / 24, {}, speed=24)[0] == "done"     # demo: 24× faster


def test_plan_file_errors(tmp_path):
    bad = tmp_path / "plans.yaml"
    bad.write_text("levels: {IV: {actions: [{id: a, action: b}]}}\nfive_nets: []\n", encoding="utf-8")
    with pytest.raises(pl.PlanError, match="field 'levels.III'"):
        pl.load_plan(bad)


def _pt(id_, lon, lat, **props):
    return NS(id=id_, name=id_, name_en=id_, geometry={"coordinates": [lon, lat]}, properties=props)


def test_transfers_fill_the_nearest_shelters_of_the_town_first():
    villages = [_pt("v1", 121.0, 28.0, town="a", to_transfer=300), _pt("v2", 121.1, 28.0, town="b", to_transfer=100)]
    shelters = [_pt("sa", 121.2, 28.0, town="a", capacity=200), _pt("sb", 121.1, 28.0, town="b", capacity=150),
                _pt("sc", 121.0, 28.0, town="c", capacity=1000)]
    st = pl.transfers(villages, shelters, progress=1.0)
    occ = {s["id"]: s["occupied"] for s in st.shelters}
    # v1: 200 into its own town's shelter, the other 100 into the nearest other one (sc is closest)
    assert occ == {"sa": 200, "sb": 100, "sc": 100}
    assert (st.to_transfer, st.transferred, st.unplaced) == (400, 400, 0)
    half = pl.transfers(villages, shelters, progress=0.5)
    assert half.transferred == 200
    # a flooded shelter takes nobody; overflow beyond capacity is reported, not hidden
    full = pl.transfers(villages, shelters[:2], progress=1.0, flooded_shelters=["sa"])
    assert {s["id"]: s["occupied"] for s in full.shelters}["sa"] == 0 and full.unplaced == 250


def test_five_nets_scores():
    towns = [NS(id="t1", name="甲", name_en="A", properties={"five_nets_met": {"org": 12, "risk": 12, "rescue": 12,
                                                                               "recovery": 11, "support": 12}}),
             NS(id="t2", name="乙", name_en="B", properties={"five_nets_met": {"org": 12, "risk": 12, "rescue": 12,
                                                                               "recovery": 8, "support": 12}}),
             NS(id="t3", name="丙", name_en="C", properties={"five_nets_met": {"org": 12, "risk": 12}})]
    s1, s2, s3 = pl.five_nets_scores(PLAN, towns)
    assert s1["total"] == pytest.approx(98.3, abs=0.05) and s1["pass"]
    assert s2["scores"]["recovery"] == pytest.approx(66.7, abs=0.05) and not s2["pass"]   # one weak net fails it
    assert s3["scores"]["rescue"] is None and not s3["pass"]                               # missing data never passes


def test_simulator_storm_cycle_crosses_yellow_then_orange():
    sim_mod, stn, wn = _fd("simulator"), _fd("stations"), _fd("warnings")
    settings = NS(interval_s=5.0, storm_period_s=900, demo_speed=24, storm_rain_peak_mm_h=70, backfill_h=1,
                  seed=1)
    import yaml
    doc = yaml.safe_load((TWIN / "twin.yaml").read_text(encoding="utf-8"))
    ents = [NS(id=e["id"], kind=e["kind"], name=e["name"], name_en=e.get("name_en", ""), properties=e["properties"],
               geometry={"coordinates": [e["lon"], e["lat"]]}) for e in doc["entities"] if e["kind"] == "station"]
    sim = sim_mod.StormSimulator(settings, t0=1_000_000.0)
    sim.stations = stn.stations_from_entities(ents)
    hist = sim.backfill(1_000_000.0)
    assert len({r.ts for r in hist}) == 12                       # 1 h of 5-minute history
    haimen = next(s for s in sim.stations if s.id.endswith("haimen_tide"))
    levels = []
    for k in range(int(900 / 5)):
        rs = sim.readings_at(1_000_000.0 + 5 * k, 5.0)
        levels.append(next(r.value for r in rs if r.entity_id == haimen.id))
        assert any(r.entity_id == sim_mod.SCENARIO_ID for r in rs)
    sev = [haimen.thresholds.severity(v) for v in levels]
    first = {s: sev.index(s) for s in (wn.Severity.III, wn.Severity.II)}
    assert first[wn.Severity.III] < first[wn.Severity.II]
    assert wn.Severity.I not in sev
    assert sev[-1] is None                                        # the storm passes


def test_benchmark_runs_small():
    import subprocess
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, str(root / "bench" / "flood.py"), "--quick", "--size", "200"],
                         cwd=root, capture_output=True, text=True, timeout=300, check=True).stdout
    res = json.loads(out.strip().splitlines()[-1])
    assert res["inundation_ratio"] > 0 and res["warning_pass_ms"] > 0
