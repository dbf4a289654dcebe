"""flood_defence: DEM, connected bathtub, storage cells, breaches and what the water reaches."""

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
import numpy as np  # noqa: E402
from types import SimpleNamespace as NS  # noqa: E402

inu = _fd("inundation")
demmod = _fd("dem")


def grid(rows):
    return np.array([[float(c) for c in r.split()] for r in rows], dtype=np.float32)


# a sea column on the left (-1), a dike (9) with a low basin (1) behind it, and a separate closed pit (0)
Z = grid([
    "-1 9 1 1 5 5 5",
    "-1 9 1 1 5 0 5",
    "-1 9 1 2 5 5 5",
    "-1 3 2 2 5 5 5",
])
SEA = np.zeros(Z.shape, bool)
SEA[:, 0] = True


def test_bathtub_fills_only_cells_connected_to_the_source():
    d = inu.bathtub(Z, 4.0, SEA)
    # the low dike cell (3) at row 3 lets water in; the pit at (1, 5) stays dry: not connected
    assert d[1, 5] == 0
    assert d[0, 2] == pytest.approx(3.0) and d[2, 3] == pytest.approx(2.0) and d[3, 1] == pytest.approx(1.0)
    assert d[0, 1] == 0                                        # the dike stays dry
    assert d[:, 0].tolist() == [5.0] * 4                       # the source itself has depth
    # below the low point of the dike nothing gets in
    d2 = inu.bathtub(Z, 2.9, SEA)
    assert (d2[:, 1:] == 0).all()


def test_bathtub_is_4_connected():
    z = grid(["0 9", "9 0"])
    src = np.zeros(z.shape, bool)
    src[0, 0] = True
    d = inu.bathtub(z, 1.0, src)
    assert d[1, 1] == 0 and d[0, 0] == 1.0


def test_nodata_cells_are_walls():
    z = Z.copy()
    z[3, 1] = np.nan          # the low dike cell has no data: it must not let water through
    d = inu.bathtub(z, 4.0, SEA, np.isfinite(z))
    assert (d[:, 1:] == 0).all() and not np.isnan(d).any()


def test_bathtub_equals_a_plain_flood_fill_on_random_grids():
    rng = np.random.default_rng(3)
    for _ in range(5):
        z = rng.uniform(0, 10, (30, 40)).astype(np.float32)
        src = np.zeros(z.shape, bool)
        src[0, :] = True
        got = inu.bathtub(z, 5.0, src) > 0
        # reference: BFS
        want = np.zeros(z.shape, bool)
        stack = [(0, c) for c in range(40) if z[0, c] < 5]
        for rc in stack:
            want[rc] = True
        while stack:
            r, c = stack.pop()
            for rr, cc in ((r + 1, c), (r - 1, c), (r, c + 1), (r, c - 1)):
                if 0 <= rr < 30 and 0 <= cc < 40 and not want[rr, cc] and z[rr, cc] < 5:
                    want[rr, cc] = True
                    stack.append((rr, cc))
        assert (got == want).all()


def test_limit_volume_fills_from_the_lowest_cell():
    z = grid(["0 1 2 3"])
    depth = inu.bathtub(z, 4.0, np.array([[True, False, False, False]]))
    out = inu.limit_volume(depth, z, 1.0, 3.0)      # 3 m³ over 1 m² cells: level 2 (2 + 1 + 0)
    assert out.tolist() == [[2.0, 1.0, 0.0, 0.0]]
    assert inu.limit_volume(depth, z, 1.0, 1e9).tolist() == depth.tolist()
    assert inu.limit_volume(depth, z, 1.0, 0).sum() == 0


def test_storage_cells_conserve_mass_and_pond_in_the_low_cell():
    z = grid(["3 3 3 3 3", "3 2 2 2 3", "3 2 0 2 3", "3 2 2 2 3", "3 3 3 3 3"])
    water = np.zeros(z.shape, bool)
    h = inu.storage_cells(z, 100.0, water, runoff_coeff=1.0, drainage_mm=0.0, iterations=400, open_edges=False)
    assert h.sum() == pytest.approx(25 * 0.1, rel=1e-4)       # nothing leaves a closed grid
    assert h[2, 2] == h.max() and h[2, 2] > 0.5
    assert (h >= 0).all()


def test_storage_cells_drain_into_open_water_and_skip_nodata():
    z = grid(["1 1 1 1", "1 1 1 1", "-2 -2 -2 -2"])
    water = np.zeros(z.shape, bool)
    water[2] = True
    z[0, 0] = np.nan
    h = inu.storage_cells(z, 100.0, water, runoff_coeff=1.0, drainage_mm=0.0, iterations=200, open_edges=False)
    assert h[0, 0] == 0 and h[2].sum() == 0
    assert h.sum() < 7 * 0.1                                   # some left into the river
    assert inu.storage_cells(z, 40.0, water).sum() == 0         # 40 × 0.7 − 50 mm drainage: nothing ponds
    with pytest.raises(ValueError, match="alpha"):
        inu.storage_cells(z, 10, water, alpha=0.5)


def _mini_dem():
    z = np.array([[-5, 8, 2, 2, 2, 2, 9, 9],
                  [-5, 8, 2, 1, 1, 2, 9, 9],
                  [-5, 8, 2, 1, 1, 2, 9, 9],
                  [-5, 8, 2, 2, 2, 2, 9, 9]], dtype=np.float32)
    water = np.zeros(z.shape, bool)
    water[:, 0] = True
    dike = np.zeros(z.shape, bool)
    dike[:, 1] = True
    return demmod.Dem(z, water, dike, 121.0, 29.0, 0.001, 0.001)


def test_breach_lets_the_sea_into_the_polder():
    dem = _mini_dem()
    calm = inu.run_scenario(dem, inu.Scenario("a", "a", "a", 5.0, 0.0))
    assert calm.area_km2 == 0
    lon, lat = dem.center(1, 1)
    sc = inu.Scenario("b", "b", "b", 5.0, 0.0, breaches=((lon, lat),), breach_width_m=100)
    res = inu.run_scenario(dem, sc)
    assert res.depth[1, 3] == pytest.approx(4.0) and res.depth[0, 6] == 0
    assert res.depth[:, 0].sum() == 0                          # open water is not "flooded land"
    assert res.area_km2 > 0 and res.max_depth_m == pytest.approx(4.0, abs=0.1) or res.max_depth_m > 3
    limited = inu.run_scenario(dem, inu.Scenario("c", "c", "c", 5.0, 0.0, breaches=((lon, lat),), breach_width_m=100,
                                                 breach_volume_m3=20000))
    assert 0 < limited.volume_m3 <= 20000 * 1.001
    with pytest.raises(ValueError, match="outside the DEM"):
        inu.run_scenario(dem, inu.Scenario("d", "d", "d", 5.0, 0.0, breaches=((100.0, 10.0),)))


def test_assess_lists_villages_people_risk_points_and_shelters():
    dem = _mini_dem()
    lon, lat = dem.center(1, 1)
    res = inu.run_scenario(dem, inu.Scenario("b", "b", "b", 5.0, 0.0, breaches=((lon, lat),), breach_width_m=100))

    def ent(id_, r, c, **props):
        lo, la = dem.center(r, c)
        return NS(id=id_, name=id_, name_en=id_, geometry={"coordinates": [lo, la]}, properties=props)
    vil = [ent("v.low", 1, 3, population=1000, radius_m=50), ent("v.hill", 1, 7, population=500, radius_m=50)]
    risk = [ent("r.low", 2, 4, risk_type="low_lying", people=20), ent("r.hill", 2, 7)]
    shel = [ent("s.low", 2, 3, capacity=300), ent("s.hill", 0, 7, capacity=200)]
    aff = inu.assess(dem, res, vil, risk, shel)
    assert [v["id"] for v in aff.villages] == ["v.low"] and aff.people == 1000
    assert [p["id"] for p in aff.risk_points] == ["r.low"]
    assert [s["id"] for s in aff.shelters_flooded] == ["s.low"]


def test_dem_file_matches_the_generator_and_has_the_landscape():
    dem = demmod.load_dem(TWIN / "dem_demo.npz")
    gen = demmod.generate_dem()
    assert np.allclose(dem.z, gen.z) and (dem.water == gen.water).all() and (dem.dike == gen.dike).all()
    land = dem.valid & ~dem.water & ~dem.dike
    assert dem.z[dem.water].max() < 0                         # river and sea below datum
    assert np.percentile(dem.z[land], 25) < 4                  # a coastal lowland
    assert dem.z[land].max() > 200                              # hills
    # the tidal river connects to the sea: a surge above the land but below the dikes stays out
    res = inu.run_scenario(dem, inu.Scenario("x", "x", "x", 6.0, 0.0))
    assert res.area_km2 == 0
    over = inu.run_scenario(dem, inu.Scenario("y", "y", "y", 7.6, 0.0))
    assert over.area_km2 > 100


def test_bad_dem_files(tmp_path):
    with pytest.raises(demmod.DemError, match="not found"):
        demmod.load_dem(tmp_path / "none.npz")
    (tmp_path / "bad.npz").write_bytes(b"garbage")
    with pytest.raises(demmod.DemError, match="not a twinboard DEM"):
        demmod.load_dem(tmp_path / "bad.npz")
    z = np.full((3, 3), np.nan, np.float32)
    demmod.Dem(z, np.zeros((3, 3), bool), np.zeros((3, 3), bool), 0, 0, 1, 1).save(tmp_path / "nan.npz")
    with pytest.raises(demmod.DemError, match="every cell is no-data"):
        demmod.load_dem(tmp_path / "nan.npz")


def test_scenario_results_on_the_demo_twin():
    dem = demmod.load_dem(TWIN / "dem_demo.npz")
    import yaml
    scs = [inu.Scenario.from_dict(d) for d in yaml.safe_load((TWIN / "scenarios.yaml").read_text())["scenarios"]]
    areas = [inu.run_scenario(dem, s).area_km2 for s in scs]
    assert areas[0] < areas[1] < areas[2]                       # worse scenarios flood more
