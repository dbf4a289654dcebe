"""The bundled offline base map (twin_models/basemap/, built by scripts/build_basemap.py)."""

from __future__ import annotations

import gzip
import hashlib
import json

import numpy as np
import pytest
import shapely
import shapely.geometry

from core.geo import basemap
from core.geo.gcj02 import gcj02_to_wgs84, wgs84_to_gcj02
from core.geo.projection import LocalEqualArea, area_km2

TOWNS = {"葭沚", "海门", "白云", "洪家", "下陈", "前所", "章安", "三甲", "大陈"}
NEIGHBOURS = {"黄岩区": "Huangyan", "路桥区": "Luqiao", "临海市": "Linhai"}
#: coarse + medium levels together, gzip (bytes)
GZIP_BUDGET = 150 * 1024


def test_district_area_centroid_and_validity():
    jj = basemap.district_polygon()
    assert jj.is_valid
    assert 300 <= area_km2(jj) <= 420  # 椒江区: ~364 km² with the islands
    proj = LocalEqualArea(121.44, 28.67)
    c = proj.project(jj).centroid
    assert np.hypot(c.x, c.y) < 15_000  # centroid within 15 km of 121.44E 28.67N
    # the Dachen islands are part of it, far offshore
    assert jj.bounds[2] > 121.85 and jj.bounds[1] < 28.46


def test_town_labels_inside_district_and_on_land():
    labels = {t["name_zh"]: t for t in basemap.town_labels()}
    assert set(labels) == TOWNS
    for name, t in labels.items():
        assert t["name_en"] and t["name_en"].isascii(), name
        assert basemap.contains_district(t["lon"], t["lat"]), name
        assert basemap.is_on_land(t["lon"], t["lat"]), name
        assert basemap.distance_to_district_m(t["lon"], t["lat"]) == 0.0, name
    # 前所 and 章安 are north of the Jiao river estuary, Haimen on its south bank
    assert labels["前所"]["lat"] > labels["海门"]["lat"]
    assert labels["章安"]["lat"] > labels["海门"]["lat"]
    # 大陈 is the island town, far offshore to the south-east
    assert labels["大陈"]["lon"] > 121.8 and labels["大陈"]["lat"] < 28.5


def test_neighbours_named():
    got = {n["name_zh"]: n["name_en"] for n in basemap.neighbours()}
    assert got == NEIGHBOURS
    jj = basemap.district_polygon()
    for n in basemap.neighbours():
        g = n["geometry"]
        assert g.is_valid and not g.is_empty
        # neighbours touch the district but do not overlap it (beyond ~1 km² of slivers)
        assert g.distance(jj) < 1e-3
        overlap = g.intersection(jj)
        assert overlap.is_empty or area_km2(overlap) < 1.0, n["name_zh"]


def test_contains_and_distance():
    assert basemap.contains_district(121.43, 28.66)  # central Jiaojiang
    assert not basemap.contains_district(121.26, 28.64)  # Huangyan, ~9 km west
    d = basemap.distance_to_district_m(121.26, 28.64)
    assert 3_000 < d < 15_000
    assert basemap.contains_district(121.26, 28.64, margin_m=d + 10)
    assert not basemap.contains_district(121.26, 28.64, margin_m=d - 10)
    assert not basemap.is_on_land(121.70, 28.60)  # open sea between coast and Dachen


def test_levels_and_simplification():
    levels = basemap.basemap_levels()
    assert [lv["min_zoom"] for lv in levels] == sorted(lv["min_zoom"] for lv in levels)
    assert basemap.level_for_zoom(8)["file"] == levels[0]["file"]
    assert basemap.level_for_zoom(10.7)["file"] == levels[1]["file"]
    assert basemap.level_for_zoom(16)["file"] == levels[-1]["file"]

    def vertices(fc):
        return sum(len(shapely.get_coordinates(shapely.geometry.shape(f["geometry"]))) for f in fc["features"])

    counts = [vertices(basemap.load_basemap(lv["min_zoom"])) for lv in levels]
    assert counts == sorted(counts) and counts[0] < counts[-1]
    assert counts == [lv["vertices"] for lv in levels]
    for lv in levels:
        fc = basemap.load_basemap(lv["min_zoom"])
        kinds = {f["properties"]["kind"] for f in fc["features"]}
        assert {"land", "district_boundary", "neighbour_boundary", "town_label"} <= kinds <= basemap.KINDS
        assert [f for f in fc["features"] if f["properties"]["kind"] == "district_boundary"][0]["properties"][
            "name_zh"] == "椒江区"
        for f in fc["features"]:
            assert shapely.geometry.shape(f["geometry"]).is_valid, (lv["file"], f["properties"])


def test_manifest_files_hashes_and_gzip_budget():
    man = basemap.manifest()
    w, s, e, n = man["bbox"]
    assert w < 121.2 and e > 122.0 and s < 28.45 and n > 28.85
    coarse_medium = 0
    for lv in basemap.basemap_levels():
        path = basemap.BASEMAP_DIR / lv["file"]
        raw = path.read_bytes()
        assert hashlib.sha256(raw).hexdigest() == lv["sha256"], path
        gz = len(gzip.compress(raw, compresslevel=9, mtime=0))
        if lv["min_zoom"] <= 11:
            coarse_medium += gz
    assert coarse_medium < GZIP_BUDGET
    for src in man["sources"]:
        assert src["version"] and len(src["sha256"]) == 64 and src["licence"]
    notice = (basemap.BASEMAP_DIR / "NOTICE.md").read_text(encoding="utf-8")
    assert "MIT" in notice and "LGPL" in notice and "scripts/build_basemap.py" in notice
    total = sum(p.stat().st_size for p in basemap.BASEMAP_DIR.iterdir())
    assert total < 1.5 * 1024 * 1024


def test_gcj02_round_trip():
    lon, lat = np.array([121.44, 121.9, 116.39]), np.array([28.67, 28.45, 39.9])
    glon, glat = wgs84_to_gcj02(lon, lat)
    assert np.all(np.hypot(glon - lon, glat - lat) > 0.003)  # a few hundred metres
    wlon, wlat = gcj02_to_wgs84(glon, glat)
    assert np.allclose(wlon, lon, atol=1e-8) and np.allclose(wlat, lat, atol=1e-8)
    assert tuple(map(float, wgs84_to_gcj02(2.35, 48.85))) == (2.35, 48.85)  # outside China: unchanged


def test_missing_or_bad_file_names_it(tmp_path, monkeypatch):
    monkeypatch.setattr(basemap, "BASEMAP_DIR", tmp_path)
    basemap.clear_cache()
    try:
        with pytest.raises(basemap.BasemapError, match="manifest.json"):
            basemap.basemap_levels()
        (tmp_path / "manifest.json").write_text(json.dumps({"levels": [{"file": "x.geojson", "min_zoom": 0,
                                                                          "max_zoom": None}]}))
        with pytest.raises(basemap.BasemapError, match="x.geojson: missing"):
            basemap.load_basemap(12)
        (tmp_path / "x.geojson").write_text('{"type": "FeatureCollection", "features": [{"properties": '
                                            '{"kind": "lava"}, "geometry": {"type": "Point"}}]}')
        with pytest.raises(basemap.BasemapError, match=r"x.geojson: feature 0: properties.kind 'lava'"):
            basemap.load_basemap(12)
    finally:
        monkeypatch.undo()
        basemap.clear_cache()
