"""The demo twin sits on the real district (issue 14).

Every demo entity of every built-in plugin, loaded through the host, is on land inside 椒江区 (the
bundled base map's district polygon and GSHHS land), or marked ``properties.coastal: true`` and within
1 km of the district; an entity whose name (or ``town``/``street`` property) names a street or town is
near that place's seat; the demo road graph is on land and crosses the Jiao river estuary only on its
bridges; the flood plugin's DEM is above the datum on land and below it at sea.
"""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import numpy as np
import pytest
import shapely
import shapely.ops
import yaml
from shapely.geometry import LineString, shape

from core.geo.basemap import district_polygon, land_polygon, town_labels
from core.geo.projection import LocalEqualArea
from core.plugins.manager import import_plugin_submodule
from core.plugins.testing import temp_settings
from core.runtime.host import Host

ROOT = Path(__file__).resolve().parents[1]
#: GSHHS's shoreline is coarse (~100 m) and older than the coastal reclamation
LAND_TOLERANCE_M = 150.0
#: the ECharts district polygon is quantised to ~100 m
BORDER_TOLERANCE_M = 100.0
COASTAL_M = 1000.0
#: within this distance of its seat, and the seat one of the two nearest: "near the place its name says"
TOWN_KM = 6.0
#: regional context, not district entities: the typhoon map's sketch of East Asia's coasts
REGIONAL = {("flood_defence", "land")}
BUILT_IN = {"command_center", "chemical_park", "enterprise_park", "flood_defence", "forest_fire", "demo_sensors"}

PROJ = LocalEqualArea(121.44, 28.67)


def _xy(pts: np.ndarray) -> np.ndarray:
    return np.array([PROJ.forward(float(x), float(y)) for x, y in pts], dtype=float).reshape(-1, 2)


@pytest.fixture(scope="module")
def geo() -> dict:
    land, district = land_polygon(), district_polygon()
    land_m, district_m = PROJ.project(land), PROJ.project(district)
    shapely.prepare(land_m)
    shapely.prepare(district_m)
    mainland = max(district.geoms, key=lambda g: g.area)
    banks = sorted(sorted(land.intersection(mainland).geoms, key=lambda g: -g.area)[:2], key=lambda g: -g.centroid.y)
    return {"land": land, "land_m": land_m, "district_m": district_m,
            "banks_m": [PROJ.project(b) for b in banks]}          # [north, south]


def _dist(geom_m, pts: np.ndarray) -> np.ndarray:
    """Metres from each (lon, lat) to a projected geometry (0 inside)."""
    xy = _xy(pts)
    return shapely.distance(geom_m, shapely.points(xy))


@pytest.fixture(scope="module")
def host(tmp_path_factory) -> Host:
    settings = temp_settings(tmp_path_factory.mktemp("geo"), plugins_dir=ROOT / "plugins", run_sources=False)
    h = Host(settings).start()
    yield h
    h.stop()


@pytest.fixture(scope="module")
def placed(host) -> list:
    """Every entity with a location, except the regional context."""
    ents = [e for e in host.store.entities() if e.geometry and (e.plugin, e.kind) not in REGIONAL]
    assert {e.plugin for e in ents} >= BUILT_IN, "a built-in plugin's twin did not load"
    return ents


def test_every_demo_entity_is_on_land_in_the_district_or_coastal(placed, geo) -> None:
    bad = []
    for e in placed:
        pts = shapely.get_coordinates(shape(e.geometry))
        to_district = _dist(geo["district_m"], pts)
        where = f"{e.plugin} {e.id} ({e.name})"
        if e.properties.get("coastal") is True:
            if to_district.max() > COASTAL_M:
                bad.append(f"{where}: coastal but {to_district.max():.0f} m from the district")
            continue
        if to_district.max() > BORDER_TOLERANCE_M:
            bad.append(f"{where}: {to_district.max():.0f} m outside the district")
        to_land = _dist(geo["land_m"], pts)
        if to_land.max() > LAND_TOLERANCE_M:
            i = int(to_land.argmax())
            bad.append(f"{where}: ({pts[i][0]:.4f}, {pts[i][1]:.4f}) is {to_land[i]:.0f} m off the land "
                       "(mark it coastal: true if it belongs on the shore)")
    assert not bad, "\n".join(bad)
    coastal = {e.id for e in placed if e.properties.get("coastal") is True}
    # the tide stations and the sea wall are on the coast; the rest of the twins is not
    assert {"fd.station.haimen_tide", "fd.station.qiansuo_tide", "fd.station.sanjia_tide", "fd.seawall.east"} <= coastal
    assert len(coastal) < len(placed) / 10


def test_names_say_where_things_are(placed) -> None:
    seats = {t["name_zh"]: (t["lon"], t["lat"]) for t in town_labels()}
    by_en = {t["name_en"].lower().replace("'", ""): t["name_zh"] for t in town_labels()}

    def km(a, b) -> float:
        return float(np.hypot((a[0] - b[0]) * 97.7, (a[1] - b[1]) * 110.5))
    bad, checked = [], 0
    for e in placed:
        geom = shape(e.geometry)
        town_prop = str(e.properties.get("town") or e.properties.get("street") or "")
        named = {zh for zh in seats if zh in e.name}
        if town_prop.startswith("fd.town."):
            named.add(by_en[town_prop.removeprefix("fd.town.")])
        else:
            named |= {zh for zh in seats if town_prop.startswith(zh)}
        for zh in named:
            checked += 1
            # a park, canal or forest: its point nearest the seat
            p = geom if geom.geom_type == "Point" else shapely.ops.nearest_points(geom, shapely.Point(seats[zh]))[0]
            pos = (p.x, p.y)
            nearest = sorted(seats, key=lambda z: km(pos, seats[z]))[:2]
            d = km(pos, seats[zh])
            if d > TOWN_KM or zh not in nearest:
                bad.append(f"{e.plugin} {e.id} ({e.name}) is {d:.1f} km from {zh}; nearest seats {nearest}")
    assert checked > 80
    assert not bad, "\n".join(bad)


def test_flood_villages_are_in_their_street(host) -> None:
    towns = {e.id: shape(e.geometry).buffer(0.001) for e in host.store.entities(kind="town", plugin="flood_defence")}
    assert len(towns) == 8
    bad = [e.id for e in host.store.entities(plugin="flood_defence")
           if str(e.properties.get("town", "")).startswith("fd.town.")
           and not towns[e.properties["town"]].contains(shape(e.geometry))]
    assert not bad


def test_drill_places_are_on_land_in_the_district(geo) -> None:
    drills = yaml.safe_load((ROOT / "twin_models/command_center/drills.yaml").read_text(encoding="utf-8"))["drills"]
    pts = np.array([[d["place"]["lon"], d["place"]["lat"]] for d in drills])
    assert _dist(geo["district_m"], pts).max() == 0
    assert _dist(geo["land_m"], pts).max() <= LAND_TOLERANCE_M


# -- the road graph ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def graph() -> nx.Graph:
    return import_plugin_submodule(ROOT / "plugins" / "command_center", "roads").demo_roads()


def test_road_nodes_are_on_land_in_the_district(graph, geo) -> None:
    pts = np.array([[d["lon"], d["lat"]] for _, d in graph.nodes(data=True)])
    assert len(pts) > 1000
    assert _dist(geo["land_m"], pts).max() <= LAND_TOLERANCE_M
    assert _dist(geo["district_m"], pts).max() <= BORDER_TOLERANCE_M


def test_roads_cross_the_estuary_only_on_bridges(graph, geo) -> None:
    land_near = geo["land_m"].buffer(LAND_TOLERANCE_M)
    shapely.prepare(land_near)
    north, south = geo["banks_m"]
    nodes = list(graph.nodes)
    xy = _xy(np.array([[graph.nodes[n]["lon"], graph.nodes[n]["lat"]] for n in nodes]))
    pts = shapely.points(xy)
    bank = dict(zip(nodes, np.where(shapely.distance(north, pts) < shapely.distance(south, pts), "north", "south")))
    pos = dict(zip(nodes, map(tuple, xy)))
    bridges, wet = [], []
    for u, v, d in graph.edges(data=True):
        crosses = bank[u] != bank[v]
        if d["road"] == "bridge":
            bridges.append(d.get("name"))
            assert crosses, f"bridge {d.get('name')} does not join the banks"
        elif crosses or not land_near.contains(LineString([pos[u], pos[v]])):
            wet.append((u, v, d["road"]))
    assert not wet, f"{len(wet)} non-bridge edges cross water, e.g. {wet[:5]}"
    assert 2 <= len(bridges) <= 3 and all(bridges)
    # each bank's roads hold together, and only the bridges join the banks
    assert nx.is_connected(graph)
    dry = graph.copy()
    dry.remove_edges_from([(u, v) for u, v, d in graph.edges(data=True) if d["road"] == "bridge"])
    for comp in nx.connected_components(dry):
        assert len({bank[n] for n in comp}) == 1
    assert sum(1 for comp in nx.connected_components(dry) if len(comp) > 50) == 2


# -- the flood DEM -----------------------------------------------------------------------------------------
def test_flood_dem_fits_the_real_coast(geo) -> None:
    dem = import_plugin_submodule(ROOT / "plugins" / "flood_defence", "dem").load_dem(
        ROOT / "twin_models" / "flood_defence" / "dem_demo.npz")
    rows, cols = dem.shape
    lon = dem.lon0 + (np.arange(2, cols, 7) + 0.5) * dem.dlon
    lat = dem.lat0 - (np.arange(2, rows, 7) + 0.5) * dem.dlat
    LON, LAT = np.meshgrid(lon, lat)
    pts = np.column_stack([LON.ravel(), LAT.ravel()])
    on_land = shapely.contains_xy(geo["land"], pts[:, 0], pts[:, 1])
    coast = _dist(geo["land_m"].boundary, pts)
    clear = coast > 250                                      # a cell or two from the shoreline
    z = np.array([dem.z[dem.cell(x, y)] for x, y in pts])
    assert clear.sum() > 800 and on_land[clear].sum() > 300 and (~on_land[clear]).sum() > 100
    assert (z[clear & on_land] > 0).all(), "DEM below the datum on land"
    assert (z[clear & ~on_land] <= 0).all(), "DEM above the datum at sea or in the estuary"
    # low-lying polders near the estuary and the coast, higher ground inland
    near = on_land & (coast < 1500) & clear
    assert np.median(z[near]) < 4.0
