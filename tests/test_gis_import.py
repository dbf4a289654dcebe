"""GIS import (core.geo.gis_import): the bureau's roads, boundaries, places, shelters, resources and DEM.

Real files made here (OSM XML, zipped Shapefile, GeoJSON, GeoPackage, GeoTIFF), real SQLite and
PostgreSQL: formats and coordinate systems, GCJ-02, errors that name file/feature/field with nothing
stored, idempotent re-import, the 15-minute circle on the imported roads, the command line and the
admin upload.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import types
import zipfile
from pathlib import Path

import numpy as np
import pytest
import shapely
from sqlalchemy import func, select

from core.data import twin
from core.data.store import open_store
from core.data.users import Users
from core.geo import gis_import
from core.geo.gis_import import GisImportError, import_file, imported_dem, imported_features, imported_roads
from core.plugins.manager import import_plugin_submodule

ROOT = Path(__file__).resolve().parents[1]
PLUGIN_DIR = ROOT / "plugins" / "command_center"


def _cc(module: str) -> types.ModuleType:
    return import_plugin_submodule(PLUGIN_DIR, module)


places, circle, incidents = (_cc(m) for m in ("places", "circle", "incidents"))


# --------------------------------------------------------------------------- files made here
def write_osm(path: Path, nodes: dict[int, tuple[float, float]], ways: list[tuple[int, list[int], dict[str, str]]],
              tagged_nodes: dict[int, dict[str, str]] | None = None) -> Path:
    """A small OpenStreetMap XML file (what JOSM or an Overpass export writes)."""
    out = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="twinboard-test">']
    for nid, (lon, lat) in nodes.items():
        tags = (tagged_nodes or {}).get(nid)
        if tags:
            out.append(f' <node id="{nid}" version="1" lat="{lat:.7f}" lon="{lon:.7f}">')
            out += [f'  <tag k="{k}" v="{v}"/>' for k, v in tags.items()]
            out.append(" </node>")
        else:
            out.append(f' <node id="{nid}" version="1" lat="{lat:.7f}" lon="{lon:.7f}"/>')
    for wid, refs, tags in ways:
        out.append(f' <way id="{wid}" version="1">')
        out += [f'  <nd ref="{r}"/>' for r in refs]
        out += [f'  <tag k="{k}" v="{v}"/>' for k, v in tags.items()]
        out.append(" </way>")
    out.append("</osm>")
    path.write_text("\n".join(out), encoding="utf-8")
    return path


def write_geojson(path: Path, features: list[tuple[dict | None, dict]], crs: str | None = None) -> Path:
    """A GeoJSON FeatureCollection of (geometry, properties); ``crs`` as the old "crs" member."""
    doc: dict = {"type": "FeatureCollection",
                 "features": [{"type": "Feature", "geometry": g, "properties": p} for g, p in features]}
    if crs:
        doc["crs"] = {"type": "name", "properties": {"name": f"urn:ogc:def:crs:{crs.replace(':', '::')}"}}
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def write_layer(path: Path, geoms: list, fields: dict[str, list], crs: str | None, driver: str,
                geometry_type: str) -> Path:
    """A layer written by GDAL itself (pyogrio): Shapefile, GeoPackage..."""
    import warnings
    from pyogrio.raw import write
    arrays = []
    for values in fields.values():
        if all(isinstance(v, (int, np.integer)) for v in values):
            arrays.append(np.array(values, dtype=np.int64))
        elif all(isinstance(v, (int, float)) for v in values):
            arrays.append(np.array(values, dtype=float))
        else:
            arrays.append(np.array(values, dtype=object))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "'crs' was not provided")  # a file without .prj on purpose
        write(str(path), shapely.to_wkb(np.array(geoms, dtype=object)), arrays, list(fields), driver=driver,
              geometry_type=geometry_type, crs=crs, encoding="UTF-8")
    return path


def zip_shapefile(shp: Path, dest: Path, leave_out: tuple[str, ...] = ()) -> Path:
    with zipfile.ZipFile(dest, "w") as zf:
        for f in sorted(shp.parent.glob(shp.stem + ".*")):
            if f.suffix.lower() not in leave_out:
                zf.write(f, f"roads/{f.name}")
    return dest


def line(*pts: tuple[float, float]) -> dict:
    return {"type": "LineString", "coordinates": [list(p) for p in pts]}


def point(lon: float, lat: float) -> dict:
    return {"type": "Point", "coordinates": [lon, lat]}


#: A small street network in Haimen (海门), south bank of the Jiao river: a primary road west→east along
#: 28.670°N (OSM maxspeed 40 caps its 45 km/h), two residential streets crossing it, a footway (not for
#: vehicles) and a canal (no highway tag).
A, J1, MID, J2, B = 1, 2, 3, 4, 5
HAIMEN_NODES = {A: (121.430, 28.670), J1: (121.435, 28.670), MID: (121.440, 28.670), J2: (121.445, 28.670),
                B: (121.450, 28.670), 11: (121.435, 28.667), 12: (121.435, 28.673), 21: (121.445, 28.667),
                22: (121.445, 28.673), 31: (121.431, 28.675), 32: (121.432, 28.676), 41: (121.431, 28.665),
                42: (121.449, 28.665), 90: (121.4405, 28.6705), 91: (121.4465, 28.6712), 92: (121.4412, 28.6688)}
HAIMEN_WAYS = [(100, [A, J1, MID, J2, B], {"highway": "primary", "name": "市府大道", "maxspeed": "40", "oneway": "yes"}),
               (101, [11, J1, 12], {"highway": "residential", "name": "东山路"}),
               (102, [21, J2, 22], {"highway": "residential", "name": "云西路"}),
               (103, [31, 32], {"highway": "footway"}),
               (104, [41, 42], {"waterway": "canal", "name": "东官河"})]


def haimen_osm(tmp_path: Path) -> Path:
    return write_osm(tmp_path / "haimen.osm", HAIMEN_NODES, HAIMEN_WAYS,
                     tagged_nodes={90: {"amenity": "shelter", "name": "东山公园"},
                                   91: {"amenity": "fire_station", "name": "海门消防救援站"},
                                   92: {"shop": "bakery", "name": "面包店"}})


def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    from pyproj import Geod
    return float(Geod(ellps="WGS84").inv(a[0], a[1], b[0], b[1])[2])


def counts(store) -> dict[str, int]:
    with store.engine.connect() as conn:
        return {t.__tablename__: conn.execute(select(func.count()).select_from(t.__table__)).scalar_one()
                for t in (twin.GisImport, twin.GisFeature, twin.GisRaster, twin.Entity, twin.AuditEntry)}


def feature_rows(store) -> list[tuple]:
    F = twin.GisFeature.__table__
    with store.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(F).order_by(F.c.id))]


@pytest.fixture
def store(tmp_path: Path):
    s = open_store(f"sqlite:///{tmp_path / 'gis.sqlite'}")
    yield s
    s.engine.dispose()


# --------------------------------------------------------------------------- the command centre app
@pytest.fixture
def app(make_twin_app):
    app = make_twin_app(builtin=True, plugin_allowlist=["command_center", "alerts"], run_sources=False,
                        public_screens=False)
    users = Users(app.server.config["TWINBOARD_HOST"].store)
    users.add("viewer1", "viewer-pass-1", "viewer", "test")
    users.add("manager1", "manager-pass-1", "manager", "test")
    return app


def host_of(app):
    return app.server.config["TWINBOARD_HOST"]


def spacing(app) -> float:
    return host_of(app).plugins.records["command_center"].settings.road_spacing_m


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def login(app, name: str, password: str):
    client = app.server.test_client()
    token = csrf_of(client.get("/login").get_data(as_text=True))
    resp = client.post("/login", data={"username": name, "password": password, "csrf_token": token})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    return client


def test_osm_xml_roads_import_and_the_command_centre_routes_on_them(app, tmp_path: Path) -> None:
    host = host_of(app)
    store = host.store
    result = import_file(store, haimen_osm(tmp_path), "roads", actor="li")
    # 3 ways with a highway tag for vehicles... the footway is stored but not driven on, the canal left out
    assert result.feature_count == 4 and result.summary["drivable"] == 3
    assert "left out 1 OSM line without a highway tag (waterways, railways, barriers...)" in result.warnings
    # nodes: the 2 ends of the primary road, its 2 junctions, the 4 ends of the side streets (MID is no node)
    assert (result.summary["nodes"], result.summary["edges"], result.summary["components"]) == (8, 7, 1)
    assert result.source_crs.startswith("EPSG:4326")

    net = places.road_network(spacing(app), store)
    assert net.graph.graph["name"] == "imported roads"
    assert net.graph.number_of_nodes() == result.summary["nodes"] and net.edge_count == result.summary["edges"]
    with app.server.test_request_context("/"):  # in a request the serving host's store is found by itself
        assert places.road_network(spacing(app)) is net
    edge = next(d for u, v, d in net.graph.edges(data=True) if d["name"] == "市府大道")
    assert (edge["speed_kmh"], edge["road"], edge["highway"], edge["oneway"]) == (40.0, "arterial", "primary", 1)

    # the same OSM file's shelters and emergency resources (by their tags), ids from the OSM node ids
    shelters = import_file(store, haimen_osm(tmp_path), "shelters")
    assert shelters.feature_count == 1 and "left out 2 OSM points that are not named shelters" in shelters.warnings[0]
    assert store.entity("gis.shelters.90").name == "东山公园"
    import_file(store, haimen_osm(tmp_path), "resources")
    fire = store.entity("gis.resources.91")
    assert (fire.kind, fire.name, fire.properties["amenity"]) == ("fire_rescue_station", "海门消防救援站", "fire_station")

    # a rescue team imported at the road's west end, an incident at its east end: the duty console's
    # candidates (the plugin's own route) give the drive along the imported primary road at 40 km/h
    teams = write_geojson(tmp_path / "teams.geojson", [(point(*HAIMEN_NODES[A]), {
        "编号": "T1", "名称": "海门应急救援队", "类型": "救援队伍", "size": 12})])
    res = import_file(store, teams, "resources", actor="li")
    assert res.summary["kinds"] == {"emergency_team": 1}
    inc = incidents.open_incident(store, "li", kind="fire", title="厂房火灾", lon=HAIMEN_NODES[B][0],
                                  lat=HAIMEN_NODES[B][1])
    client = login(app, "viewer1", "viewer-pass-1")
    resp = client.get(f"/plugins/command_center/incidents/{inc.id}/candidates")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    cand = {c["id"]: c for c in resp.get_json()}
    mine = cand["gis.resources.T1"]
    drive_m = metres(HAIMEN_NODES[A], HAIMEN_NODES[B])
    assert mine["name"] == "海门应急救援队" and mine["eta_s"] == pytest.approx(drive_m / (40 / 3.6), rel=0.01)
    # the route follows the imported road's nodes
    a, b = net.snap(*HAIMEN_NODES[A]), net.snap(*HAIMEN_NODES[B])
    path, cum = net.route(a.index, b.index)
    assert [tuple(round(c, 6) for c in p) for p in path] == [HAIMEN_NODES[n] for n in (A, J1, J2, B)]
    assert cum[-1] == pytest.approx(drive_m / (40 / 3.6), rel=0.01)


def test_zipped_shapefile_roads_replace_the_network_and_the_circle_uses_them(app, tmp_path: Path) -> None:
    store = host_of(app).store
    import_file(store, haimen_osm(tmp_path), "roads")
    # a surveyed network as a zipped shapefile: two roads meeting at a junction, speeds in a field, Chinese names
    shp_dir = tmp_path / "shp"
    shp_dir.mkdir()
    west, junction, north = (121.380, 28.650), (121.390, 28.650), (121.390, 28.660)
    roads = [shapely.LineString([west, (121.385, 28.6502), junction]), shapely.LineString([junction, north])]
    write_layer(shp_dir / "道路.shp", roads, {"name": ["洪家路", "白云山路"], "speed_kmh": [60.0, 30.0],
                                             "dldj": ["县道", "支路"]}, "EPSG:4326", "ESRI Shapefile", "LineString")
    zipped = zip_shapefile(shp_dir / "道路.shp", tmp_path / "roads.zip")
    result = import_file(store, zipped, "roads", actor="li")
    assert result.feature_count == 2 and (result.summary["nodes"], result.summary["edges"]) == (3, 2)
    assert result.summary["speed_field"] == "speed_kmh" and result.summary["class_field"] == "dldj"
    assert [f["properties"]["name"] for f in imported_features(store, "roads")] == ["洪家路", "白云山路"]

    net = places.road_network(spacing(app), store)
    assert net.graph.number_of_nodes() == result.summary["nodes"] == 3
    assert sorted(d["highway"] for _, _, d in net.graph.edges(data=True)) == ["县道", "支路"]
    assert sorted(d["road"] for _, _, d in net.graph.edges(data=True)) == ["arterial", "local"]

    # the circle: a micro station imported at the west end, a village at the north end
    import_file(store, write_geojson(tmp_path / "st.geojson", [(point(*west), {
        "id": "S1", "name": "洪家微型消防站", "kind": "微型消防站"})]), "resources")
    import_file(store, write_geojson(tmp_path / "v.geojson", [(point(*north), {
        "id": "V1", "name": "后蒋村", "kind": "村", "population": 800})]), "places")
    village = next(p for p in places.targets(store) if p.id == "gis.places.V1")
    assert village.people == 800
    result_c = circle.rapid_response_circle(net, places.stations(store), [village], 15.0)
    cover = result_c.targets[0]
    expected = (metres(west, (121.385, 28.6502)) + metres((121.385, 28.6502), junction)) / (60 / 3.6) \
        + metres(junction, north) / (30 / 3.6)
    assert cover.covered and cover.station_id == "gis.resources.S1"
    assert cover.best_s == pytest.approx(expected, rel=0.01)
    # the demo stations far from these two roads are reported, not counted silently
    assert any("km from the nearest road" in p for p in result_c.problems)

    assert gis_import.drop_layer(store, "roads", actor="li")
    assert places.road_network(spacing(app), store).graph.graph["name"] == "demo roads"


# --------------------------------------------------------------------------- bad input, atomicity
def good_roads(tmp_path: Path, name: str = "roads.geojson") -> Path:
    return write_geojson(tmp_path / name, [
        (line((121.42, 28.66), (121.43, 28.66)), {"name": "一号路", "speed_kmh": 40}),
        (line((121.43, 28.66), (121.43, 28.67)), {"name": "二号路", "speed_kmh": "35"}),
        (line((121.43, 28.67), (121.44, 28.67)), {"name": "三号路", "highway": "secondary"})])


def test_bad_speed_is_refused_with_file_feature_field_and_nothing_is_stored(any_store, tmp_path: Path) -> None:
    store = any_store
    first = import_file(store, good_roads(tmp_path), "roads", actor="li")
    before, rows, topo = counts(store), feature_rows(store), imported_roads(store)
    bad = write_geojson(tmp_path / "roads_bad.geojson", [
        (line((121.40, 28.66), (121.41, 28.66)), {"name": f"路{i}", "speed_kmh": "40"}) for i in range(17)] + [
        (line((121.41, 28.66), (121.42, 28.66)), {"name": "快速路", "speed_kmh": "fast"})])
    with pytest.raises(GisImportError) as err:
        import_file(store, bad, "roads", display="roads.geojson")
    assert str(err.value) == "roads.geojson: feature 17: field 'speed_kmh': 'fast' is not a number"
    assert (err.value.file, err.value.feature, err.value.field) == ("roads.geojson", 17, "speed_kmh")
    assert counts(store) == before and feature_rows(store) == rows
    assert imported_roads(store).stamp == topo.stamp and gis_import.import_row(store, "roads").revision == 1
    assert first.summary["nodes"] == 4


def _bad_cases(tmp_path: Path) -> dict[str, tuple[Path, str, str, str]]:
    """name → (file, layer, expected message part, extra import option)."""
    cases: dict[str, tuple[Path, str, str, str]] = {}
    cases["point_as_road"] = (write_geojson(tmp_path / "p.geojson", [
        (line((121.4, 28.6), (121.5, 28.6)), {}), (line((121.4, 28.6), (121.5, 28.7)), {}),
        (point(121.4, 28.6), {"name": "x"})]), "roads",
        "p.geojson: feature 2: its geometry is a Point; --as roads takes LineString or MultiLineString", "")
    cases["empty_geometry"] = (write_geojson(tmp_path / "e.geojson", [
        (line((121.4, 28.6), (121.5, 28.6)), {}), ({"type": "LineString", "coordinates": []}, {})]), "roads",
        "e.geojson: feature 1: its geometry is empty", "")
    cases["no_geometry"] = (write_geojson(tmp_path / "n.geojson", [(None, {"name": "x"})]), "places",
                            "n.geojson: feature 0: has no geometry", "")
    cases["metres_as_degrees"] = (write_geojson(tmp_path / "gk.geojson", [
        (line((640763.4, 3173543.2), (641763.4, 3173543.2)), {})]), "roads",
        "gk.geojson: feature 0: coordinates (640763, 3.17354e+06) are not longitude/latitude after converting "
        "from EPSG:4326", "")
    cases["zone_prefix_with_cm_crs"] = (write_geojson(tmp_path / "zone.geojson", [
        (line((40640763.4, 3173543.2), (40641763.4, 3173543.2)), {})], crs="EPSG:4549"), "roads",
        "x 40640763 carries the 3-degree zone number 40: try --crs EPSG:4528", "")
    cases["unreadable"] = ((tmp_path / "junk.geojson"), "roads", "junk.geojson: is not a GIS file GDAL can read", "")
    (tmp_path / "junk.geojson").write_bytes(b"\x00\x01 this is not GeoJSON {")
    with zipfile.ZipFile(tmp_path / "noshp.zip", "w") as zf:
        zf.writestr("readme.txt", "roads")
        zf.writestr("roads.dbf", b"\x03")
    cases["zip_without_shp"] = (tmp_path / "noshp.zip", "roads",
                                "noshp.zip: the zip holds no .shp file (it holds: readme.txt, roads.dbf)", "")
    shp_dir = tmp_path / "noprj"
    shp_dir.mkdir()
    write_layer(shp_dir / "r.shp", [shapely.LineString([(121.4, 28.6), (121.5, 28.6)])], {"name": ["a"]}, None,
                "ESRI Shapefile", "LineString")
    cases["no_crs"] = (zip_shapefile(shp_dir / "r.shp", tmp_path / "noprj.zip"), "roads",
                       "noprj.zip: has no coordinate system (no .prj, no CRS in the file): give it with --crs", "")
    cases["shp_without_dbf"] = (zip_shapefile(shp_dir / "r.shp", tmp_path / "nodbf.zip", leave_out=(".dbf",)),
                                "roads", "nodbf.zip: roads/r.shp comes without roads/r.dbf", "")
    big = good_roads(tmp_path, "big.geojson")
    cases["too_big"] = (big, "roads", f"big.geojson: is {big.stat().st_size:,} bytes, over the import limit of "
                                      "100 bytes", "max_bytes")
    cases["capacity"] = (write_geojson(tmp_path / "s.geojson", [
        (point(121.44, 28.67), {"名称": "东山公园", "容纳人数": 6000}),
        (point(121.43, 28.67), {"名称": "体育中心", "容纳人数": "很多"})]), "shelters",
        "s.geojson: feature 1: field '容纳人数': '很多' is not a number of people", "")
    cases["duplicate_id"] = (write_geojson(tmp_path / "d.geojson", [
        (point(121.44, 28.67), {"name": "甲", "code": "R-1", "kind": "物资库"}),
        (point(121.43, 28.67), {"name": "乙", "code": "R-1", "kind": "物资库"})]), "resources",
        "d.geojson: feature 1: field 'code': 'R-1' repeats feature 0", "")
    cases["unknown_resource_kind"] = (write_geojson(tmp_path / "k.geojson", [
        (point(121.44, 28.67), {"name": "甲", "kind": "spaceship"})]), "resources",
        "k.geojson: feature 0: field 'kind': 'spaceship' is not a resource kind", "")
    cases["empty_name"] = (write_geojson(tmp_path / "nm.geojson", [
        (point(121.44, 28.67), {"name": "甲"}), (point(121.44, 28.68), {"name": " "})]), "places",
        "nm.geojson: feature 1: field 'name': is empty", "")
    cases["bad_crs_option"] = (good_roads(tmp_path, "c.geojson"), "roads",
                               "c.geojson: coordinate system: 'EPSG:99999' is not a coordinate system pyproj knows",
                               "crs")
    return cases


BAD = ["point_as_road", "empty_geometry", "no_geometry", "metres_as_degrees", "zone_prefix_with_cm_crs",
       "unreadable", "zip_without_shp", "no_crs", "shp_without_dbf", "too_big", "capacity", "duplicate_id",
       "unknown_resource_kind", "empty_name", "bad_crs_option"]


@pytest.mark.parametrize("case", BAD)
def test_bad_files_are_refused_and_nothing_is_stored(store, tmp_path: Path, case: str) -> None:
    import_file(store, good_roads(tmp_path, "ok.geojson"), "roads")
    import_file(store, write_geojson(tmp_path / "ok_sh.geojson", [(point(121.44, 28.67), {"name": "甲"})]),
                "shelters")
    import_file(store, write_geojson(tmp_path / "ok_pl.geojson", [(point(121.44, 28.67), {"name": "乙"})]), "places")
    before, rows = counts(store), feature_rows(store)
    entities = [(e.id, e.name) for e in store.entities(plugin="gis")]
    path, layer, message, option = _bad_cases(tmp_path)[case]
    kwargs = {"max_bytes": 100} if option == "max_bytes" else {"crs": "EPSG:99999"} if option == "crs" else {}
    with pytest.raises(GisImportError) as err:
        import_file(store, path, layer, display=path.name, **kwargs)
    assert message in str(err.value)
    assert str(err.value).startswith(path.name + ": ")
    assert counts(store) == before and feature_rows(store) == rows
    assert [(e.id, e.name) for e in store.entities(plugin="gis")] == entities


def test_reimport_replaces_idempotently(any_store, tmp_path: Path) -> None:
    store = any_store
    shelters = write_geojson(tmp_path / "shelters.geojson", [
        (point(121.458, 28.676), {"编号": "S-01", "名称": "东山公园应急避难场所", "容纳人数": 6000, "等级": "Ⅱ类"}),
        ({"type": "Polygon", "coordinates": [[[121.424, 28.671], [121.426, 28.671], [121.426, 28.673],
                                              [121.424, 28.673], [121.424, 28.671]]]},
         {"编号": "S-02", "名称": "区体育中心应急避难场所", "容纳人数": "8000"})])
    first = import_file(store, shelters, "shelters", actor="li")
    rows, ents = feature_rows(store), [e.model_dump(exclude={"updated_at"}) for e in store.entities(plugin="gis")]
    assert first.summary == {"entities": 2, "kinds": {"emergency_shelter": 2}, "id_field": "编号",
                             "name_field": "名称", "capacity": 14000}
    again = import_file(store, shelters, "shelters", actor="li")
    assert (again.revision, again.sha256, again.feature_count) == (2, first.sha256, 2)
    assert feature_rows(store) == rows
    assert [e.model_dump(exclude={"updated_at"}) for e in store.entities(plugin="gis")] == ents
    gym = store.entity("gis.shelters.S-02")
    assert gym.kind == "emergency_shelter" and gym.properties["capacity"] == 8000
    lon, lat = gym.geometry["coordinates"]
    assert 121.424 < lon < 121.426 and 28.671 < lat < 28.673  # the polygon's inside point
    assert counts(store)["gis_import"] == 1
    audit = [a for a in store.audit_log() if a.action == "gis.import"]
    assert [a.actor for a in audit] == ["li", "li"] and audit[0].old["sha256"] == first.sha256
    # a smaller file replaces the layer: the missing shelter's entity goes too
    one = write_geojson(tmp_path / "one.geojson", [(point(121.458, 28.676), {"编号": "S-01", "名称": "东山公园"})])
    import_file(store, one, "shelters")
    assert [e.id for e in store.entities(plugin="gis")] == ["gis.shelters.S-01"]
    assert len(feature_rows(store)) == 1


def test_shapefile_in_gbk_without_cpg_reads_chinese_names(store, tmp_path: Path) -> None:
    """ArcGIS and MapGIS exports are GBK, often without a .cpg: the text is still read right."""
    from pyogrio.raw import write
    shp_dir = tmp_path / "gbk"
    shp_dir.mkdir()
    write(str(shp_dir / "避难场所.shp"), shapely.to_wkb(np.array([shapely.Point(121.458, 28.676)], dtype=object)),
          [np.array(["东山公园应急避难场所"], dtype=object), np.array([6000])], ["名称", "容纳人数"],
          driver="ESRI Shapefile", geometry_type="Point", crs="EPSG:4490", encoding="GBK")
    (shp_dir / "避难场所.cpg").unlink()
    zipped = zip_shapefile(shp_dir / "避难场所.shp", tmp_path / "shelters.zip")
    result = import_file(store, zipped, "shelters")
    assert result.source_crs.startswith("EPSG:4490")
    (e,) = store.entities(kind="emergency_shelter")
    assert (e.name, e.properties["capacity"]) == ("东山公园应急避难场所", 6000)


# --------------------------------------------------------------------------- coordinate systems
def coastal_roads(n_max: int = 120) -> list[shapely.LineString]:
    """Roads 150 m inland along the real shore and the Jiao river's banks (WGS-84), from the base map."""
    import shapely.ops
    from shapely.geometry import box
    from core.geo.basemap import land_polygon
    from core.geo.projection import LocalEqualArea
    proj = LocalEqualArea(121.44, 28.67)
    land = land_polygon().intersection(box(121.36, 28.60, 121.56, 28.75))
    shore = shapely.intersection(proj.project(land).buffer(-150).boundary,
                                 proj.project(box(121.37, 28.61, 121.55, 28.74)))
    out = []
    for part in getattr(shore, "geoms", [shore]):
        for s in np.arange(0, part.length - 400, 400):
            out.append(proj.unproject(shapely.ops.substring(part, s, s + 400)))
    return out[:n_max]


def test_gcj02_file_is_warned_about_and_converted_with_the_option(store, tmp_path: Path) -> None:
    from core.geo.gcj02 import wgs84_to_gcj02_geometry
    wgs = coastal_roads()
    gcj = [wgs84_to_gcj02_geometry(g) for g in wgs]
    as_json = lambda gs: [(json.loads(shapely.to_geojson(g)), {"name": f"滨江路{i}"}) for i, g in enumerate(gs)]  # noqa
    gcj_file = write_geojson(tmp_path / "amap_export.geojson", as_json(gcj))
    wgs_file = write_geojson(tmp_path / "survey.geojson", as_json(wgs))

    warned = import_file(store, gcj_file, "roads")
    hint = [w for w in warned.warnings if "GCJ-02" in w]
    assert hint and re.search(r"looks like GCJ-02 \(~5\d\d m offset\).*re-import with --gcj02", hint[0])
    assert gis_import.import_row(store, "roads").warnings == warned.warnings  # stored with the import

    converted = import_file(store, gcj_file, "roads", gcj02=True)
    assert not [w for w in converted.warnings if "GCJ" in w] and converted.gcj02
    got = shapely.get_coordinates(shapely.from_geojson([json.dumps(f["geometry"])
                                                         for f in imported_features(store, "roads")]))
    assert np.abs(got - shapely.get_coordinates(np.array(wgs))).max() < 1e-7  # about a centimetre

    assert not [w for w in import_file(store, wgs_file, "roads").warnings if "GCJ" in w]
    wrong = import_file(store, wgs_file, "roads", gcj02=True)
    assert any("it may already be WGS-84: re-import without --gcj02" in w for w in wrong.warnings)


def test_gauss_kruger_and_web_mercator_files_land_at_the_right_lon_lat(store, tmp_path: Path) -> None:
    from pyproj import Transformer
    shelters = {"S1": (121.458, 28.676), "S2": (121.425, 28.672), "S3": (121.366, 28.734)}

    def projected(epsg: int) -> list:
        tr = Transformer.from_crs(4490, epsg, always_xy=True)
        return [shapely.Point(*tr.transform(*ll)) for ll in shelters.values()]
    # a surveyor's GeoPackage in CGCS2000 / 3-degree Gauss–Krüger CM 120E (x ≈ 640 km)
    gk = write_layer(tmp_path / "shelters_gk.gpkg", projected(4549),
                     {"bh": list(shelters), "mc": ["东山公园", "体育中心", "章安中学"], "rnrs": [6000, 8000, 2000]},
                     "EPSG:4549", "GPKG", "Point")
    result = import_file(store, gk, "shelters")
    assert result.source_crs == "EPSG:4549 (CGCS2000 / 3-degree Gauss-Kruger CM 120E)"
    for key, (lon, lat) in shelters.items():
        e = store.entity(f"gis.shelters.{key}")
        assert e.geometry["coordinates"] == pytest.approx([lon, lat], abs=1e-7)
    assert store.entity("gis.shelters.S1").properties["capacity"] == 6000
    # the same points with the zone number in front of x (EPSG:4528), as a GeoJSON without a CRS given --crs
    zone = write_geojson(tmp_path / "zone.geojson", [
        ({"type": "Point", "coordinates": [p.x, p.y]}, {"name": k}) for k, p in zip(shelters, projected(4528))])
    import_file(store, zone, "places", crs="EPSG:4528")
    for (lon, lat), e in zip(shelters.values(), sorted(store.entities(kind="place"), key=lambda e: e.name)):
        assert e.geometry["coordinates"] == pytest.approx([lon, lat], abs=1e-7)
    # Web Mercator (EPSG:3857), from a web map's tile coordinates
    merc = write_layer(tmp_path / "merc.gpkg", projected(3857), {"name": list(shelters)}, "EPSG:3857", "GPKG",
                       "Point")
    import_file(store, merc, "places")
    for key, (lon, lat) in shelters.items():
        assert store.entity(f"gis.places.{['S1', 'S2', 'S3'].index(key)}").geometry["coordinates"] == \
            pytest.approx([lon, lat], abs=1e-7)


def test_geotiff_dem_imports_and_reads_back(store, tmp_path: Path) -> None:
    import rasterio
    from pyproj import Transformer
    x0, y0 = Transformer.from_crs(4490, 4549, always_xy=True).transform(121.40, 28.70)
    rows, cols, cell = 40, 60, 30.0
    yy, xx = np.mgrid[0:rows, 0:cols]
    elev = (5.0 + 0.5 * xx + 2.0 * yy).astype("float32")  # rises to the south-east
    elev[0, 0] = -9999.0  # nodata
    path = tmp_path / "dem_gk.tif"
    with rasterio.open(path, "w", driver="GTiff", width=cols, height=rows, count=1, dtype="float32",
                       crs="EPSG:4549", transform=rasterio.Affine(cell, 0, x0, 0, -cell, y0), nodata=-9999.0) as dst:
        dst.write(elev, 1)
    result = import_file(store, path, "dem", actor="li")
    assert result.summary["cell_m"] == pytest.approx(30.0, rel=0.15)
    assert result.summary["min_m"] == pytest.approx(5.0, abs=1.5) and result.summary["max_m"] <= 5 + 29.5 + 78 + 1
    arr, (west, south, east, north) = imported_dem(store)
    assert arr.dtype == np.float32 and arr.shape[0] > 30 and arr.shape[1] > 45
    # the Gauss–Krüger grid is turned ~0.7° against the meridians here: lon/lat bounds hold it within a cell
    assert west == pytest.approx(121.40, abs=5e-4) and north == pytest.approx(28.70, abs=5e-4)
    assert east == pytest.approx(121.40 + cols * cell / 97_700, abs=5e-4) and south < north
    assert np.isnan(arr).any() and np.nanmax(arr) > np.nanmin(arr) + 50
    assert arr[-3, -3] > arr[2, 2]  # still rising to the south-east
    # an unset nodata value is refused with the cell
    bad = tmp_path / "srtm_void.tif"
    elev2 = np.full((10, 10), 12.0, dtype="float32")
    elev2[3, 4] = -32768.0
    with rasterio.open(bad, "w", driver="GTiff", width=10, height=10, count=1, dtype="float32", crs="EPSG:4326",
                       transform=rasterio.Affine(0.0003, 0, 121.40, 0, -0.0003, 28.70)) as dst:
        dst.write(elev2, 1)
    before = counts(store)
    with pytest.raises(GisImportError, match=r"srtm_void.tif: field 'band 1, row 3, column 4': -32768 m is not a "
                                             r"plausible elevation"):
        import_file(store, bad, "dem", display="srtm_void.tif")
    assert counts(store) == before and imported_dem(store)[0].shape == arr.shape


# --------------------------------------------------------------------------- command line
def twinboard(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "core.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=180)


def test_cli_imports_with_a_summary_and_exits_2_naming_the_feature(tmp_path: Path) -> None:
    from conftest import write_config
    cfg = str(write_config(tmp_path))
    osm = haimen_osm(tmp_path)
    res = twinboard("--config", cfg, "gis", "import", str(osm), "--as", "roads")
    assert res.returncode == 0, res.stderr
    assert f"imported {osm} as roads: 4 features" in res.stdout
    assert "road graph: 8 nodes, 7 edges, 1 connected piece" in res.stdout
    assert "warning: left out 1 OSM line without a highway tag" in res.stderr
    bad = write_geojson(tmp_path / "bad.geojson", [
        (line((121.40, 28.66), (121.41, 28.66)), {"speed_kmh": 40}),
        (line((121.41, 28.66), (121.42, 28.66)), {"speed_kmh": "fast"})])
    res = twinboard("--config", cfg, "gis", "import", str(bad), "--as", "roads")
    assert res.returncode == 2
    assert res.stderr.strip() == f"twinboard: {bad}: feature 1: field 'speed_kmh': 'fast' is not a number"
    res = twinboard("--config", cfg, "gis", "list")
    assert res.returncode == 0 and res.stdout.startswith("roads") and "haimen.osm" in res.stdout
    res = twinboard("--config", cfg, "gis", "import", str(osm), "--as", "roads", "--crs", "GCJ02")
    assert res.returncode == 2 and "GCJ-02 is an offset on WGS-84 lon/lat; import with --gcj02" in res.stderr


# --------------------------------------------------------------------------- admin upload
def test_admin_upload_for_a_manager_and_refused_for_a_viewer(app, tmp_path: Path) -> None:
    store = host_of(app).store
    data = haimen_osm(tmp_path).read_bytes()
    viewer = login(app, "viewer1", "viewer-pass-1")
    token = csrf_of(viewer.get("/login").get_data(as_text=True))
    resp = viewer.post("/admin/gis", data={"csrf_token": token, "layer": "roads",
                                           "file": (__import__("io").BytesIO(data), "海门路网.osm")},
                       content_type="multipart/form-data")
    assert resp.status_code == 403 and gis_import.imports(store) == []

    manager = login(app, "manager1", "manager-pass-1")
    page = manager.get("/admin/gis?lang=zh")
    assert page.status_code == 200 and "GIS 数据导入" in page.get_data(as_text=True)
    token = csrf_of(page.get_data(as_text=True))
    io = __import__("io")
    # without the CSRF token: refused, nothing stored
    resp = manager.post("/admin/gis", data={"layer": "roads", "file": (io.BytesIO(data), "海门路网.osm")},
                        content_type="multipart/form-data")
    assert resp.status_code == 400 and gis_import.imports(store) == []
    resp = manager.post("/admin/gis?lang=en", data={"csrf_token": token, "layer": "roads",
                                                    "file": (io.BytesIO(data), "海门路网.osm")},
                        content_type="multipart/form-data")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200, html
    assert "imported 海门路网.osm as roads: 4 features" in html and "road graph: 8 nodes" in html
    row = gis_import.import_row(store, "roads")
    assert (row.file_name, row.actor, row.feature_count) == ("海门路网.osm", "manager1", 4)
    assert places.road_network(spacing(app), store).graph.number_of_nodes() == 8

    # a bad file: the page names file, feature and field; the roads stay as they were
    bad = json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": line((121.4, 28.6), (121.5, 28.6)), "properties": {"speed_kmh": "fast"}}]})
    resp = manager.post("/admin/gis?lang=en", data={"csrf_token": token, "layer": "roads",
                                                    "file": (io.BytesIO(bad.encode()), "roads.geojson")},
                        content_type="multipart/form-data")
    assert resp.status_code == 400
    assert "roads.geojson: feature 0: field &#39;speed_kmh&#39;: &#39;fast&#39; is not a number" in \
        resp.get_data(as_text=True)
    assert gis_import.import_row(store, "roads").revision == 1

    # over the upload limit: 413 with the limit and the way around it; larger than the app's 256 kB is fine
    app.server.config["TWINBOARD_GIS_UPLOAD_MAX_BYTES"] = 2_000_000
    big = data + b"<!--" + b"x" * 600_000 + b"-->"
    resp = manager.post("/admin/gis?lang=en", data={"csrf_token": token, "layer": "roads",
                                                    "file": (io.BytesIO(big), "big.osm")},
                        content_type="multipart/form-data")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    app.server.config["TWINBOARD_GIS_UPLOAD_MAX_BYTES"] = 100_000
    resp = manager.post("/admin/gis?lang=en", data={"csrf_token": token, "layer": "roads",
                                                    "file": (io.BytesIO(big), "big.osm")},
                        content_type="multipart/form-data")
    assert resp.status_code == 413
    assert "larger than the limit of 0 MB" not in resp.get_data(as_text=True)
    assert "twinboard gis import FILE --as LAYER" in resp.get_data(as_text=True)
    assert gis_import.import_row(store, "roads").revision == 2

    # drop from the page
    resp = manager.post("/admin/gis?lang=en", data={"csrf_token": token, "drop": "roads"},
                        content_type="multipart/form-data")
    assert resp.status_code == 200 and gis_import.imports(store) == []
