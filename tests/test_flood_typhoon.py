"""flood_defence: the CMA best-track parser, GB/T 19201-2006 classes, wind circles, cone and arrival time."""

from __future__ import annotations

import types
from datetime import datetime, timedelta, timezone
from pathlib import Path

from core.plugins.manager import import_plugin_submodule

import pytest

ROOT = Path(__file__).resolve().parents[1]
TWIN = ROOT / "twin_models" / "flood_defence"


def _fd(module: str) -> types.ModuleType:
    """Import a module of the flood_defence folder plugin under the name the host uses."""
    return import_plugin_submodule(ROOT / "plugins" / "flood_defence", module)


ty = _fd("typhoon")
UTC = timezone.utc

SAMPLE = """66666 1909    3 0009 1909 0 6 Lekima                         20200112
2019080912 6 273 1221  930      53
2019080918 6 283 1215  930      52
2019081000 5 289 1209  955      42
"""


def test_parse_sample_file_lekima():
    storms = ty.parse_best_track(TWIN / "lekima_1909_cma_bst_demo.txt")
    assert len(storms) == 1
    s = storms[0]
    assert (s.intl_id, s.cn_id, s.name, s.interval_h) == ("1909", "1909", "Lekima", 6)
    assert len(s.points) == 41
    assert s.peak.wind_ms == 62
    landfall = next(p for p in s.points if p.time == datetime(2019, 8, 9, 18, tzinfo=UTC))
    assert (landfall.lat, landfall.lon, landfall.wind_ms) == (28.3, 121.5, 52)
    assert landfall.intensity == "SuperTY"       # 52 m/s at landfall near Wenling
    # every line's CMA category agrees with the class of its wind (0/9 aside)
    for p in s.points:
        if p.category not in (0, 9):
            assert ty.intensity_class(p.wind_ms)[3] == p.category, p


def test_format_round_trip():
    s = ty.parse_best_track("x.txt", SAMPLE)[0]
    again = ty.parse_best_track("y.txt", ty.format_best_track(s, "20200112"))[0]
    assert again.points == s.points and again.name == "Lekima"


@pytest.mark.parametrize("line,field", [
    ("2019080918 6 283 12x5  930      52", "lon"),
    ("201908091 6 283 1215  930      52", "time"),
    ("2019080918 7 283 1215  930      52", "category"),
    ("2019080918 6 283 1215  930     152", "wind"),
    ("2019080918 6 283 1215", "pressure"),
    ("2019080918 6 283", "lon"),
])
def test_malformed_line_names_file_line_and_field(line, field):
    text = SAMPLE.replace("2019080918 6 283 1215  930      52", line)
    with pytest.raises(ty.BestTrackError) as exc:
        ty.parse_best_track("bst/CH2019BST.txt", text)
    err = exc.value
    assert (err.file, err.line, err.field) == ("bst/CH2019BST.txt", 3, field)
    assert str(err).startswith(f"bst/CH2019BST.txt:3: field '{field}':")


def test_lenient_mode_parses_the_rest():
    text = SAMPLE.replace("2019080918 6 283 1215  930      52", "2019080918 6 283 12x5  930      52")
    storms, errors = ty.parse_best_track("f.txt", text, strict=False)
    assert [p.time.hour for p in storms[0].points] == [12, 0]
    assert [(e.line, e.field) for e in errors] == [(3, "lon")]


def test_header_errors():
    with pytest.raises(ty.BestTrackError, match=r"f.txt:1: field 'line_count'"):
        ty.parse_best_track("f.txt", SAMPLE.replace("   3 0009", "   x 0009"))
    with pytest.raises(ty.BestTrackError, match=r"f.txt:1: field 'line_count': header announces 5"):
        ty.parse_best_track("f.txt", SAMPLE.replace("   3 0009", "   5 0009"))
    with pytest.raises(ty.BestTrackError, match=r"f.txt:1: field 'marker': data line before"):
        ty.parse_best_track("f.txt", "2019080918 6 283 1215  930      52\n")


@pytest.mark.parametrize("wind,code", [
    (None, ""), (10.7, ""), (10.8, "TD"), (17.1, "TD"), (17.2, "TS"), (24.4, "TS"), (24.5, "STS"), (32.6, "STS"),
    (32.7, "TY"), (41.4, "TY"), (41.5, "STY"), (50.9, "STY"), (51.0, "SuperTY"), (62, "SuperTY")])
def test_gbt_19201_boundaries(wind, code):
    assert ty.intensity_class(wind)[0] == code


def test_beaufort():
    assert ty.beaufort(13.9) == 7 and ty.beaufort(17.1) == 7 and ty.beaufort(24.5) == 10 and ty.beaufort(32.7) == 12


def test_distance_and_bearing():
    # one degree of latitude ~ 111.2 km; Jiaojiang to Wenling landfall ~ 42 km, to the south
    assert ty.distance_km(28.0, 121.0, 29.0, 121.0) == pytest.approx(111.19, abs=0.05)
    assert ty.distance_km(28.68, 121.44, 28.3, 121.5) == pytest.approx(42.6, abs=0.5)
    assert ty.bearing_deg(28.68, 121.44, 28.3, 121.44) == pytest.approx(180, abs=0.01)
    lat, lon = ty.destination(28.0, 121.0, 90, 100)
    assert ty.distance_km(28.0, 121.0, lat, lon) == pytest.approx(100, abs=0.01)


def test_wind_circle_quadrants():
    ring = ty.wind_circle(25.0, 123.0, (300, 200, 100, 50), step_deg=5)
    assert ring[0] == ring[-1]
    for lon, lat in ring[:-1]:
        b = ty.bearing_deg(25.0, 123.0, lat, lon)
        d = ty.distance_km(25.0, 123.0, lat, lon)
        if min(b % 90, 90 - b % 90) > 0.5:   # away from the radial steps between quadrants
            assert d == pytest.approx((300, 200, 100, 50)[ty.quadrant_of(b)], rel=1e-3)
    assert ty.wind_circle(25, 123, (0, 0, 0, 0)) == []
    with pytest.raises(ValueError, match="4 quadrants"):
        ty.wind_circle(25, 123, (1, 2, 3))
    with pytest.raises(ValueError, match=">= 0"):
        ty.wind_circle(25, 123, (1, 2, 3, -4))


def test_cone_contains_track_and_widens():
    pts = [ty.TrackPoint(datetime(2019, 8, 9, h, tzinfo=UTC), 25 + h * 0.1, 123 - h * 0.05, 930, 50) for h in range(0, 24, 6)]
    ring = ty.forecast_cone(pts, [10, 40, 70, 100])
    assert ring[0] == ring[-1] and len(ring) > 2 * len(pts)
    # the left and right edges at the last point are 2 * 100 km apart
    left, right = ring[len(pts) - 1], ring[len(pts) + 17]
    assert ty.distance_km(left[1], left[0], right[1], right[0]) == pytest.approx(200, rel=0.02)


def _track(radii7=(300, 300, 300, 300)):
    r = ty.WindRadii(radii7, (100,) * 4, (50,) * 4)
    t0 = datetime(2019, 8, 9, 0, tzinfo=UTC)
    # heading due north along 121.44E towards a place at 28.68N, 500 km away at t0, 25 km/h
    lat0 = 28.68 - 500 / 111.19
    return [ty.TrackPoint(t0 + timedelta(hours=h), lat0 + h * 25 / 111.19, 121.44, 950, 45, 5, r) for h in range(0, 25)]


def test_arrival_of_the_gale_circle():
    pts = _track()
    ap = ty.approach(pts, pts[0].time, 28.68, 121.44, step=timedelta(minutes=5))
    assert ap.distance_km == pytest.approx(500, abs=0.5)
    assert not ap.inside_7
    # 500 - 300 = 200 km to close at 25 km/h: 8 hours
    assert (ap.arrival_7 - pts[0].time).total_seconds() / 3600 == pytest.approx(8, abs=0.1)
    assert ap.closest_km < 15
    later = ty.approach(pts, pts[0].time + timedelta(hours=10), 28.68, 121.44)
    assert later.inside_7 and later.arrival_7 == pts[0].time + timedelta(hours=10)
    assert not later.inside_10


def test_arrival_uses_the_quadrant_facing_the_place():
    # the place lies north of the centre: NE/NW quadrants (index 0 or 3) count, not the SW radius
    pts = _track(radii7=(100, 400, 400, 100))
    ap = ty.approach(pts, pts[0].time, 28.68, 121.44, step=timedelta(minutes=5))
    assert (ap.arrival_7 - pts[0].time).total_seconds() / 3600 == pytest.approx(16, abs=0.1)


def test_never_arrives():
    pts = _track()
    ap = ty.approach(pts, pts[0].time, 20.0, 140.0)
    assert ap.arrival_7 is None


def test_interpolation_and_radii_attachment():
    s = ty.parse_best_track("f.txt", SAMPLE)[0]
    t6, t12 = datetime(2019, 8, 9, 12, tzinfo=UTC), datetime(2019, 8, 10, 0, tzinfo=UTC)
    pts = ty.attach_radii(s.points, {t6: ty.WindRadii((300,) * 4), t12: ty.WindRadii((200,) * 4)})
    assert pts[1].radii.r7 == pytest.approx((250,) * 4)
    mid = ty.interpolate(pts, datetime(2019, 8, 9, 15, tzinfo=UTC))
    assert (mid.lat, mid.lon, mid.wind_ms) == pytest.approx((27.8, 121.8, 52.5))
    assert mid.radii.r7 == pytest.approx((275,) * 4)
