"""chemical_park: the Gaussian plume against hand-calculated values, P-G classes, Briggs sigmas, AEGL zones."""

from __future__ import annotations

import math
import types
from pathlib import Path

from core.plugins.manager import import_plugin_submodule

import numpy as np
import pytest

FOLDER = Path(__file__).resolve().parents[1] / "plugins" / "chemical_park"


def load(sub: str) -> types.ModuleType:
    """Import the plugin as the host does (``twinboard_plugins.chemical_park``) and return a submodule."""
    return import_plugin_submodule(FOLDER, sub)


plume = load("plume")
Plume, chemical = plume.Plume, plume.chemical


def cl2(**kw):
    args = dict(chemical=chemical("chlorine"), rate_kg_s=1.0, wind_ms=3.0, wind_from_deg=90.0,
                stability="D", surface="rural", lon=121.53, lat=28.71)
    args.update(kw)
    return Plume(**args)


# -- hand calculations ----------------------------------------------------------------------
def test_centreline_hand_value_chlorine_class_d_rural():
    # x = 1000 m, class D rural: σy = 0.08·1000/√1.1 = 76.2770 m, σz = 0.06·1000/√2.5 = 37.9473 m
    # C = Q/(π u σy σz) = 1000 g/s / (π·3·76.2770·37.9473) = 0.0366568 g/m³ = 36.6568 mg/m³
    # ppm = 36.6568 · 24.45 / 70.90 = 12.641 ppm
    sy, sz = plume.sigmas(1000.0, "D", "rural")
    assert float(sy) == pytest.approx(76.2770, abs=1e-3)
    assert float(sz) == pytest.approx(37.9473, abs=1e-3)
    p = cl2()
    assert float(p.concentration_g_m3(1000.0)) == pytest.approx(0.0366568, rel=1e-5)
    assert float(p.centreline_ppm(1000.0)) == pytest.approx(12.641, rel=1e-4)


def test_full_equation_hand_value_elevated_release_off_axis():
    # ammonia 2 kg/s at H = 10 m, u = 2 m/s, class F rural, receptor at ground, x = 500 m, y = 50 m
    # σy = 0.04·500/√1.05 = 19.5180 m, σz = 0.016·500/(1+0.15) = 6.95652 m
    # C = Q/(2π u σy σz) · exp(−y²/2σy²) · 2·exp(−H²/2σz²) = 0.0313530 g/m³ → 45.0136 ppm
    p = Plume(chemical("ammonia"), 2.0, 2.0, 0.0, "F", "rural", height_m=10.0)
    assert float(p.concentration_g_m3(500.0, 50.0)) == pytest.approx(0.0313530, rel=1e-5)
    assert float(p.ppm(500.0, 50.0)) == pytest.approx(45.0136, rel=1e-5)


def test_ground_release_equals_centreline_formula_everywhere():
    p = cl2(stability="E", surface="urban")
    xs = np.geomspace(50, 10_000, 40)
    sy, sz = plume.sigmas(xs, "E", "urban")
    np.testing.assert_allclose(p.concentration_g_m3(xs, 0.0), 1000.0 / (math.pi * 3.0 * sy * sz), rtol=1e-12)


def test_ground_reflection_doubles_a_ground_release_and_image_term_for_elevated():
    p = cl2(height_m=0.0)
    x, sy, sz = 800.0, *plume.sigmas(800.0, "D")
    no_reflection = 1000.0 / (2 * math.pi * 3.0 * sy * sz)  # one Gaussian in z only
    assert float(p.concentration_g_m3(x)) == pytest.approx(2 * no_reflection)
    # elevated source, receptor at the source height: direct term 1, image term exp(−(2H)²/2σz²)
    h = 20.0
    pe = cl2(height_m=h, receptor_m=h)
    expect = no_reflection * (1 + math.exp(-(2 * h) ** 2 / (2 * sz * sz)))
    assert float(pe.concentration_g_m3(x)) == pytest.approx(float(expect))


def test_upwind_is_zero_and_crosswind_falls_off_as_gaussian():
    p = cl2()
    assert float(p.concentration_g_m3(-100.0)) == 0.0
    sy, _ = plume.sigmas(600.0, "D")
    ratio = p.concentration_g_m3(600.0, float(sy)) / p.concentration_g_m3(600.0, 0.0)
    assert float(ratio) == pytest.approx(math.exp(-0.5))


# -- Briggs coefficients --------------------------------------------------------------------
@pytest.mark.parametrize("cls,surface,sy,sz", [
    ("A", "rural", 0.22 * 2000 / math.sqrt(1.2), 0.20 * 2000),
    ("C", "rural", 0.11 * 2000 / math.sqrt(1.2), 0.08 * 2000 / math.sqrt(1.4)),
    ("F", "rural", 0.04 * 2000 / math.sqrt(1.2), 0.016 * 2000 / 1.6),
    ("A", "urban", 0.32 * 2000 / math.sqrt(1.8), 0.24 * 2000 * math.sqrt(3.0)),
    ("C", "urban", 0.22 * 2000 / math.sqrt(1.8), 0.20 * 2000),
    ("D", "urban", 0.16 * 2000 / math.sqrt(1.8), 0.14 * 2000 / math.sqrt(1.6)),
    ("F", "urban", 0.11 * 2000 / math.sqrt(1.8), 0.08 * 2000 / math.sqrt(4.0)),
])
def test_briggs_sigmas_at_2km(cls, surface, sy, sz):
    got = plume.sigmas(2000.0, cls, surface)
    assert float(got[0]) == pytest.approx(sy) and float(got[1]) == pytest.approx(sz)


def test_urban_spreads_more_so_zones_are_shorter():
    rural = cl2(stability="D", surface="rural").threat_distance(2.0)[0]
    urban = cl2(stability="D", surface="urban").threat_distance(2.0)[0]
    assert urban < rural


# -- Pasquill–Gifford classes ---------------------------------------------------------------
@pytest.mark.parametrize("u,day,ins,cloud,expect", [
    (1.5, True, "strong", 0, "A"), (1.5, True, "slight", 0, "B"), (2.5, True, "moderate", 2, "B"),
    (4.0, True, "strong", 2, "B"), (4.0, True, "slight", 2, "C"), (5.5, True, "strong", 2, "C"),
    (7.0, True, "moderate", 2, "D"), (1.5, False, "moderate", 2, "F"), (2.5, False, "moderate", 5, "E"),
    (4.0, False, "moderate", 2, "E"), (4.0, False, "moderate", 6, "D"), (1.5, True, "strong", 8, "D"),
    (1.5, False, "moderate", 8, "D"),
])
def test_stability_class_table(u, day, ins, cloud, expect):
    assert plume.stability_class(u, daytime=day, insolation=ins, cloud_oktas=cloud) == expect


def test_stability_from_the_sun():
    # 2026-06-21 04:00 UTC = noon at lon 120 E: sun high over Taizhou (≈ 85°); 16:00 UTC is midnight
    noon = 1782014400.0
    assert plume.solar_elevation_deg(noon, 121.53, 28.71) > 75
    assert plume.stability_at(noon, 121.53, 28.71, 1.5, 0) == "A"
    assert plume.stability_at(noon + 12 * 3600, 121.53, 28.71, 1.5, 0) == "F"
    assert plume.insolation_from_sun(50, 6) == "slight"


# -- threat zones ---------------------------------------------------------------------------
def test_threat_distance_solves_the_centreline_formula():
    p = cl2()
    for loc in (20.0, 2.0, 0.5):
        d, capped = p.threat_distance(loc)
        assert not capped
        assert float(p.centreline_ppm(d)) == pytest.approx(loc, rel=1e-6)
    # hand check: at 1000 m the centreline is 12.64 ppm, so AEGL-3 (20) ends before 1 km and AEGL-2 after
    assert p.threat_distance(20.0)[0] < 1000 < p.threat_distance(2.0)[0]


def test_aegl_values_from_the_issue():
    expect = {"chlorine": (0.50, 2.0, 20), "ammonia": (30, 160, 1100), "hydrogen_sulfide": (0.51, 27, 50),
              "hydrogen_chloride": (1.8, 22, 100), "hydrogen_fluoride": (1.0, 24, 44),
              "sulfur_dioxide": (0.20, 0.75, 30)}
    assert {k: c.aegl for k, c in plume.CHEMICALS.items()} == {k: tuple(map(float, v)) for k, v in expect.items()}


@pytest.mark.parametrize("key", sorted(plume.CHEMICALS))
def test_zones_nest_red_inside_orange_inside_yellow(key):
    p = Plume(chemical(key), 2.0, 2.5, 45.0, "D")
    zones = plume.threat_zones(p)
    d = [z.distance_m for z in zones]
    assert [z.level for z in zones] == ["AEGL-3", "AEGL-2", "AEGL-1"]
    assert 0 < d[0] < d[1] <= d[2]
    for z in zones:
        c = chemical(key).aegl[{"AEGL-1": 0, "AEGL-2": 1, "AEGL-3": 2}[z.level]]
        if not z.capped:
            assert float(p.centreline_ppm(z.distance_m)) == pytest.approx(c, rel=1e-6)


def test_zone_points_downwind_and_zone_of_agrees_with_the_equation():
    p = cl2(wind_from_deg=90.0)  # east wind → plume travels west
    zones = plume.threat_zones(p)
    red = zones[0]
    lons = [pt[0] for pt in red.ring_lonlat]
    assert max(lons) <= p.lon + 1e-6 and min(lons) < p.lon - 0.001
    lon, lat = p.to_lonlat(300.0, 0.0)
    assert lon < p.lon and lat == pytest.approx(p.lat)
    assert plume.zone_of(p, float(lon), float(lat)) == "AEGL-3"
    lon, lat = p.to_lonlat(-300.0, 0.0)  # upwind
    assert plume.zone_of(p, float(lon), float(lat)) is None
    # the ring's edge is where the equation gives the LOC
    for x, y in p.zone_outline_xy(2.0)[5:40:7]:
        if abs(y) > 1:
            assert float(p.ppm(x, y)) == pytest.approx(2.0, rel=1e-6)


def test_grid_matches_pointwise_equation():
    p = cl2(height_m=5.0, stability="C")
    lon, lat = np.meshgrid(np.linspace(121.50, 121.54, 60), np.linspace(28.69, 28.73, 50))
    fast = p.ppm_grid(lon.copy(), lat.copy())
    np.testing.assert_allclose(fast, p.ppm_at(lon, lat), rtol=1e-9, atol=1e-12)


def test_evacuation_directions():
    p = cl2(wind_from_deg=90.0)
    ev = plume.evacuation(p)
    assert ev["upwind"] == 90.0 and {ev["crosswind_left"], ev["crosswind_right"]} == {0.0, 180.0}
    assert plume.compass(ev["upwind"]) == "东" and plume.compass(ev["upwind"], "en") == "E"
    lon, lat = p.to_lonlat(500.0, -100.0)   # left of a westward plume = south side
    assert plume.compass(plume.evacuation(p, float(lon), float(lat))["crosswind"], "en") == "S"


# -- bad input ------------------------------------------------------------------------------
@pytest.mark.parametrize("kw,msg", [
    ({"wind_ms": 0.4}, "calm"), ({"wind_ms": float("nan")}, "not a number"), ({"rate_kg_s": 0.0}, "> 0"),
    ({"stability": "G"}, "stability"), ({"surface": "forest"}, "surface"), ({"wind_from_deg": None}, "missing"),
])
def test_bad_input_is_refused(kw, msg):
    with pytest.raises(plume.PlumeError, match=msg):
        cl2(**kw)


def test_unknown_chemical():
    with pytest.raises(plume.PlumeError, match="unknown chemical 'phosgene'"):
        chemical("phosgene")


def test_gb18218_grade():
    # 40 t chlorine (β 4, Q 5 t) with 120 people within 500 m: R = 2.0 · 4 · 40/5 = 64 → 二级
    assert plume.gb18218_grade([("chlorine", 40)], 120) == (pytest.approx(64.0), "二级")
    assert plume.gb18218_grade([("ammonia", 20)], 0)[1] == "四级"


@pytest.mark.parametrize("cls,surface,wind_from,h", [("D", "rural", 80.0, 2.0), ("A", "urban", 200.0, 0.0),
                                                     ("F", "rural", 315.0, 15.0), ("C", "urban", 0.0, 5.0),
                                                     ("E", "rural", 90.0, 0.0), ("B", "rural", 135.0, 3.0)])
def test_grid_on_axes_matches_the_equation(cls, surface, wind_from, h):
    p = Plume(chemical("ammonia"), 2.0, 3.0, wind_from, cls, surface, height_m=h, lon=121.53, lat=28.71)
    lons, lats = np.linspace(121.49, 121.57, 161), np.linspace(28.68, 28.74, 121)
    fast = p.ppm_on_axes(lons, lats)
    lon2, lat2 = np.meshgrid(lons, lats)
    exact = p.ppm_at(lon2, lat2)
    # identical inside the 8σ wedge; outside it the exact value is below 1e-13 of the grid's maximum
    np.testing.assert_allclose(fast, exact, rtol=1e-9, atol=exact.max() * 1e-13)
    assert (fast > 0).sum() > 100
