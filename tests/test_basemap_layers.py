"""The host base map on every deck map panel, Chinese labels, plugins' layers on the one map, the read API."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pytest

from core.api import MapLayerSpec, PanelSpec, hookimpl, text_layer
from core.data.twin import Entity
from core.data.users import Users
from core.geo import basemap as geo
from core.plugins.manager import PluginStatus
from core.plugins.testing import dashboard, make_manifest, plugin_module, render_callback
from core.web import basemap_layers as bl
from core.web.deckpatch import apply_patch, spec_of
from core.web.labels import FONT_FAMILY, declutter, screen_xy

ROOT = Path(__file__).resolve().parent.parent
BUILTIN = ["demo_sensors", "alerts", "command_center", "chemical_park", "flood_defence", "enterprise_park",
           "forest_fire"]
BASE_IDS = {"tb-base-land", "tb-base-district", "tb-base-coast", "tb-base-outline", "tb-base-labels"}


def _builtin_app(make_twin_app, **extra):
    return make_twin_app(builtin=True, plugin_allowlist=BUILTIN, run_sources=False, **extra)


def _deck_panels(host) -> list[str]:
    return sorted(pid for pid, spec in host.all_panels().items() if spec.kind == "deck")


def test_every_builtin_map_panel_stands_on_the_basemap(make_twin_app) -> None:
    probe = _builtin_app(make_twin_app)
    panels = _deck_panels(probe.server.config["TWINBOARD_HOST"])
    assert {"command_center.one_map", "command_center.incident_map", "chemical_park.scene", "flood_defence.typhoon_map",
            "flood_defence.inundation3d", "enterprise_park.map", "forest_fire.map3d"} <= set(panels)
    board = dashboard("maps", *[{"key": f"m{i}", "panel": pid, "x": 0, "y": 0, "w": 920, "h": 700}
                                for i, pid in enumerate(panels)])
    app = _builtin_app(make_twin_app, dashboards=[board])
    host = app.server.config["TWINBOARD_HOST"]
    assert all(host.plugins.records[n].status == PluginStatus.ENABLED for n in BUILTIN), \
        {n: host.plugins.records[n].error for n in BUILTIN}
    client = app.server.test_client()
    for i, pid in enumerate(panels):
        assert host.all_panels()[pid].basemap, f"{pid} does not ask for the base map"
        parts, _ = render_callback(client, app, "maps", f"m{i}")
        deck = parts["deck"]
        ids = deck["order"]
        assert BASE_IDS <= set(ids), f"{pid}: {ids}"
        assert ids[0] == "tb-base-land" and ids[-1] in ("tb-base-labels", "tb-base-name"), f"{pid}: {ids}"
        land = deck["layers"]["tb-base-land"]
        level = geo.level_for_zoom(deck["props"]["initialViewState"]["zoom"])
        assert land["data"] == bl.layer_url(level, "land"), pid          # the level of the panel's zoom
        assert deck["props"]["tbBasemap"]["levels"][0]["urls"]["tb-base-land"].startswith("/api/basemap?")


def test_static_basemap_layers_are_sent_once(make_twin_app) -> None:
    board = dashboard("d", {"key": "map", "panel": "command_center.one_map", "x": 0, "y": 0, "w": 920, "h": 700})
    app = make_twin_app(builtin=True, plugin_allowlist=["command_center", "alerts"], run_sources=False,
                        dashboards=[board])
    client = app.server.test_client()
    first, _ = render_callback(client, app, "d", "map")
    patch = first["deck"]
    assert patch["full"] and {"tb-base-land", "tb-base-labels"} <= set(patch["layers"])
    state = apply_patch(None, patch)
    for tick in (2, 3):
        again, _ = render_callback(client, app, "d", "map", have=state["have"], tick=tick)
        nxt = again.get("deck")
        if nxt is None:               # nothing changed at all
            continue
        sent = set(nxt["layers"]) | set(nxt["deltas"])
        assert not {lid for lid in sent if lid.startswith("tb-base-")}, sent
        state = apply_patch(state, nxt)
    assert "tb-base-coast" in {layer["id"] for layer in spec_of(state)["layers"]}


def test_basemap_layers_name_a_level_and_switch_by_zoom() -> None:
    far, far_labels = bl.basemap_layers(8.5)
    near, near_labels = bl.basemap_layers(13.2)
    assert far[0]["data"] != near[0]["data"] and "zoom=0" in far[0]["data"] and "zoom=12" in near[0]["data"]
    assert bl.basemap_layers(11.3) == bl.basemap_layers(11.3)              # identical JSON: sent once
    assert [lay["visible"] for lay in far_labels] == [False, True]          # far out: the district's name only
    assert [lay["visible"] for lay in near_labels] == [True, False]
    client = bl.client_basemap()
    assert [lv["min"] for lv in client["levels"]] == [lv["min_zoom"] for lv in geo.basemap_levels()]
    assert client["zooms"]["tb-base-labels"] == [bl.LABELS_MIN_ZOOM, None]


# -- Chinese labels ---------------------------------------------------------------------------------
def _font_family() -> str:
    css = (ROOT / "assets" / "fonts.css").read_text(encoding="utf-8")
    families = set(re.findall(r'font-family:\s*"([^"]+)"', css))
    assert len(families) == 1
    return families.pop()


def _font_chars() -> set[str]:
    from fontTools.ttLib import TTFont
    cmap: set[int] = set()
    for face in ("Regular", "Bold"):
        font = TTFont(ROOT / "assets" / "fonts" / f"NotoSansSC-{face}.subset.woff2")
        cmap = set(font.getBestCmap()) if not cmap else cmap & set(font.getBestCmap())
    return {chr(c) for c in cmap}


def test_text_layer_labels_use_the_bundled_font_and_their_own_characters(make_twin_app) -> None:
    assert FONT_FAMILY == _font_family()
    board = dashboard("d", {"key": "map", "panel": "command_center.one_map", "x": 0, "y": 0, "w": 920, "h": 700},
                      {"key": "inc", "panel": "command_center.incident_map", "x": 0, "y": 0, "w": 920, "h": 700})
    app = make_twin_app(builtin=True, plugin_allowlist=["command_center", "alerts"], run_sources=False,
                        dashboards=[board])
    client = app.server.test_client()
    font = _font_chars()
    seen_text: set[str] = set()
    for key in ("map", "inc"):
        deck = render_callback(client, app, "d", key)[0]["deck"]
        texts = [layer for layer in deck["layers"].values() if layer["@@type"] == "TextLayer"]
        assert texts, key
        for layer in texts:
            assert layer["fontFamily"] == FONT_FAMILY and isinstance(layer["characterSet"], list), layer["id"]
            chars = {ch for row in layer["data"] for ch in row["text"]}
            assert chars <= set(layer["characterSet"]), (layer["id"], chars - set(layer["characterSet"]))
            assert chars <= font, f"{layer['id']}: not in the bundled font: {chars - font}"
            seen_text |= {row["text"] for row in layer["data"]}
    towns = {t["name_zh"] for t in geo.town_labels()}
    assert towns == {"葭沚", "海门", "白云", "洪家", "下陈", "前所", "章安", "三甲", "大陈"} and towns <= seen_text
    assert {"黄岩区", "路桥区", "临海市"} <= seen_text


def test_text_layer_is_plain_deck_json() -> None:
    layer = text_layer("t", [{"position": [121.4, 28.6], "text": "椒江 Jiao"}], size=20)
    assert layer["characterSet"] == sorted(set("椒江 Jiao")) and layer["fontFamily"] == FONT_FAMILY
    assert layer["getText"] == "@@=text" and layer["parameters"]["depthCompare"] == "always"


def test_declutter_keeps_town_names_and_drops_what_would_cover_them() -> None:
    view = {"longitude": 121.45, "latitude": 28.67, "zoom": 11.3, "pitch": 40, "bearing": 0}
    assert screen_xy(121.45, 28.67, view, 654) == (0.0, 0.0)
    assert screen_xy(121.36, 28.73, view, 654) == pytest.approx((-278.0, -161.9), abs=0.2)   # deck.gl's own
    towns = text_layer("tb-base-labels", [{"position": [121.432, 28.6815], "text": "海门"}])
    mine = text_layer("mine", [{"position": [121.4321, 28.6815], "text": "海门消防站"},
                               {"position": [121.40, 28.60], "text": "远处"}])
    out = declutter([towns, mine], ["tb-base-labels"], view, 654)
    assert [r["text"] for r in out[1]["data"]] == ["远处"] and out[0] is towns and len(out) == 2
    # a label above its point that would cover a town's name goes below the point when there is room
    above = text_layer("inc", [{"position": [121.432, 28.6790], "text": "事故"}], offset=(0, -20), baseline="bottom")
    out = declutter([towns, above], ["tb-base-labels"], view, 654)
    assert out[1]["data"] == [] and out[2]["id"] == "inc~below" and out[2]["getPixelOffset"] == [0, 20]
    assert out[2]["getAlignmentBaseline"] == "top" and out[2]["data"][0]["text"] == "事故"


# -- plugins' layers on the one map ------------------------------------------------------------------
def _vendor(rows=None, layer=None, **kw):
    spec = MapLayerSpec("vendor.trucks", "危化品车辆", "Hazmat trucks", color="#ff8800",
                        rows=rows, layer=layer, tooltip_zh="{cargo} · {speed:.0f} km/h", **kw)

    @hookimpl
    def register_map_layers(settings):
        return [spec]
    return plugin_module("vendor", register_map_layers=register_map_layers)


def _one_map_app(make_twin_app, mod):
    board = dashboard("d", {"key": "map", "panel": "command_center.one_map", "x": 0, "y": 0, "w": 920, "h": 700})
    return make_twin_app(builtin=True, plugin_allowlist=["command_center", "alerts", "vendor"], run_sources=False,
                         plugins=[(mod, make_manifest("vendor"))], dashboards=[board])


def test_register_map_layers(make_twin_app) -> None:
    rows = lambda ctx: [{"id": "t1", "name": "浙J·A1234", "lon": 121.43, "lat": 28.66, "cargo": "液氯", "speed": 41.6},  # noqa: E731
                        {"id": "t2", "name": "浙J·B5678", "lon": 121.46, "lat": 28.64, "cargo": "甲醇"}]
    app = _one_map_app(make_twin_app, _vendor(rows=rows, labels=True))
    deck = render_callback(app.server.test_client(), app, "d", "map")[0]["deck"]
    order = deck["order"]
    layer = deck["layers"]["vendor.trucks"]
    assert layer["@@type"] == "ScatterplotLayer" and layer["pickable"]
    assert [r["name"] for r in layer["data"]] == ["浙J·A1234", "浙J·B5678"]
    assert layer["data"][0]["info"] == "液氯 · 42 km/h" and layer["data"][1]["info"] == "甲醇 · – km/h"
    assert layer["data"][0]["color"] == [255, 136, 0, 235] and layer["data"][0]["id"] == "t1"
    # above the base map, below the one map's own layers; its names among the labels on top
    assert order.index("tb-base-outline") < order.index("vendor.trucks") < order.index("roads")
    assert order.index("vendor.trucks.labels") > order.index("incidents")
    chip = next(c for c in deck["props"]["tbLegend"] if "vendor.trucks" in c["ids"])
    assert chip == {"ids": ["vendor.trucks", "vendor.trucks.labels"], "label": "危化品车辆 2", "color": [255, 136, 0]}
    assert "{name}" in deck["props"]["tooltip"]["text"] and "{info}" in deck["props"]["tooltip"]["text"]
    en = render_callback(app.server.test_client(), app, "d", "map", locale="en")[0]["deck"]
    assert any(c["label"] == "Hazmat trucks 2" for c in en["props"]["tbLegend"])


def test_register_map_layers_takes_a_deck_layer(make_twin_app) -> None:
    import pydeck as pdk
    layer = lambda ctx: pdk.Layer("PathLayer", data=[{"path": [[121.4, 28.6], [121.5, 28.7]]}],  # noqa: E731
                                  get_path="path", get_color=[255, 136, 0])
    app = _one_map_app(make_twin_app, _vendor(layer=layer))
    deck = render_callback(app.server.test_client(), app, "d", "map")[0]["deck"]
    assert deck["layers"]["vendor.trucks"]["@@type"] == "PathLayer"
    assert {"ids": ["vendor.trucks"], "label": "危化品车辆", "color": [255, 136, 0]} in deck["props"]["tbLegend"]


def test_register_map_layers_faults_stay_with_the_plugin(make_twin_app) -> None:
    def broken(ctx):
        raise RuntimeError("feed down")
    app = _one_map_app(make_twin_app, _vendor(rows=broken))
    deck = render_callback(app.server.test_client(), app, "d", "map")[0]["deck"]
    host = app.server.config["TWINBOARD_HOST"]
    assert "vendor.trucks" not in deck["order"] and "tb-base-land" in deck["order"] and "incidents" in deck["order"]
    rec = host.plugins.records["vendor"]
    assert rec.status == PluginStatus.FAILED and "map layer vendor.trucks raised RuntimeError: feed down" in rec.error


def test_register_map_layers_needs_the_plugin_prefix(make_twin_app) -> None:
    @hookimpl
    def register_map_layers():
        return [MapLayerSpec("trucks", "车", "Trucks", rows=lambda ctx: [])]
    app = _one_map_app(make_twin_app, plugin_module("vendor", register_map_layers=register_map_layers))
    render_callback(app.server.test_client(), app, "d", "map")
    rec = app.server.config["TWINBOARD_HOST"].plugins.records["vendor"]
    assert rec.status == PluginStatus.FAILED and "whose id starts with 'vendor.'" in rec.error


def test_map_layer_spec_needs_rows_or_layer() -> None:
    with pytest.raises(ValueError, match="exactly one of rows= or layer="):
        MapLayerSpec("v.x", "x", "x")


def test_vendor_deck_panel_turns_the_basemap_on_with_one_flag(make_twin_app) -> None:
    import pydeck as pdk

    def render(ctx):
        return pdk.Deck(layers=[], initial_view_state=pdk.ViewState(longitude=121.43, latitude=28.66, zoom=14),
                        map_provider=None)

    @hookimpl
    def register_panels():
        return [PanelSpec("vendor.map", "地图", "Map", render, kind="deck", basemap=True)]
    board = dashboard("d", {"key": "m", "panel": "vendor.map", "x": 0, "y": 0, "w": 600, "h": 400})
    app = make_twin_app(plugins=[(plugin_module("vendor", register_panels=register_panels), make_manifest("vendor"))],
                        dashboards=[board])
    deck = render_callback(app.server.test_client(), app, "d", "m")[0]["deck"]
    assert deck["order"][0] == "tb-base-land" and "zoom=12" in deck["layers"]["tb-base-land"]["data"]


# -- the read API ------------------------------------------------------------------------------------
def test_api_basemap(make_twin_app) -> None:
    app = make_twin_app()
    client = app.server.test_client()
    resp = client.get("/api/basemap")
    doc = resp.get_json()
    assert resp.status_code == 200 and doc["type"] == "FeatureCollection" and resp.mimetype == "application/geo+json"
    district = [f for f in doc["features"] if f["properties"]["kind"] == "district_boundary"]
    assert len(district) == 1 and district[0]["geometry"]["type"] in ("Polygon", "MultiPolygon")
    assert {f["properties"]["kind"] for f in doc["features"]} >= {"land", "coastline", "neighbour_boundary",
                                                                  "town_label"}
    assert doc["zoom"]["min"] == geo.basemap_levels()[-1]["min_zoom"]                     # full detail by default
    coarse = client.get("/api/basemap?zoom=9").get_json()
    assert coarse["zoom"] == {"min": 0, "max": 9} and len(json.dumps(coarse)) < len(json.dumps(doc))
    only = client.get("/api/basemap?zoom=11&kind=district_boundary,district_land").get_json()
    assert sorted(f["properties"]["kind"] for f in only["features"]) == ["district_boundary", "district_land"]
    packed = client.get("/api/basemap?zoom=11&kind=land", headers={"Accept-Encoding": "gzip"})
    assert packed.headers["Content-Encoding"] == "gzip" and json.loads(gzip.decompress(packed.data))["features"]
    etag = packed.headers["ETag"]
    assert client.get("/api/basemap?zoom=11&kind=land", headers={"If-None-Match": etag}).status_code == 304
    for bad, msg in (("zoom=near", "zoom must be a number"), ("zoom=99", "between 0 and 24"),
                     ("kind=lakes", "kind lakes unknown")):
        resp = client.get(f"/api/basemap?{bad}")
        assert resp.status_code == 400 and msg in resp.get_json()["error"], bad


def _entity(eid: str, kind: str, name: str, geometry: dict | None, **props) -> Entity:
    return Entity(id=eid, kind=kind, name=name, geometry=geometry, properties=props)


def test_api_entities(make_twin_app) -> None:
    app = make_twin_app()
    store = app.server.config["TWINBOARD_HOST"].store
    store.upsert([
        _entity("t.a", "shelter", "海门避难所", {"type": "Point", "coordinates": [121.43, 28.68]}, capacity=800),
        _entity("t.b", "shelter", "大陈避难所", {"type": "Point", "coordinates": [121.89, 28.45]}),
        _entity("t.c", "material_depot", "物资库", {"type": "Point", "coordinates": [121.44, 28.66]}),
        _entity("t.d", "park", "园区", {"type": "Polygon", "coordinates": [[[121.40, 28.60], [121.42, 28.60],
                                                                        [121.42, 28.62], [121.40, 28.62],
                                                                        [121.40, 28.60]]]}),
        _entity("t.e", "shelter", "无位置", None)])
    client = app.server.test_client()
    every = client.get("/api/entities").get_json()
    assert [e["id"] for e in every] == ["t.a", "t.b", "t.c", "t.d", "t.e"]
    first = every[0]
    assert first == {"id": "t.a", "kind": "shelter", "name": "海门避难所", "name_en": None, "lon": 121.43, "lat": 28.68,
                     "plugin": None, "properties": {"capacity": 800}}
    park = next(e for e in every if e["id"] == "t.d")
    assert 121.40 < park["lon"] < 121.42 and 28.60 < park["lat"] < 28.62
    assert [e["id"] for e in client.get("/api/entities?kind=shelter").get_json()] == ["t.a", "t.b", "t.e"]
    assert [e["id"] for e in client.get("/api/entities?kind=shelter,material_depot&bbox=121.3,28.6,121.5,28.7")
            .get_json()] == ["t.a", "t.c"]
    assert [e["id"] for e in client.get("/api/entities?bbox=121.39,28.59,121.43,28.63").get_json()] == ["t.d"]
    for bad, msg in (("1,2,3", "4 numbers"), ("a,b,c,d", "4 numbers"), ("121.5,28.6,121.3,28.7", "minlon <= maxlon"),
                     ("121,28,200,29", "out of range"), ("nan,28,121,29", "finite")):
        resp = client.get(f"/api/entities?bbox={bad}")
        assert resp.status_code == 400 and msg in resp.get_json()["error"] and "bbox" in resp.get_json()["error"], bad


def test_read_api_follows_the_screens_sign_in(make_twin_app) -> None:
    app = make_twin_app(public_screens=False)
    users = Users(app.server.config["TWINBOARD_HOST"].store)
    users.add("viewer1", "viewer-pass-1", "viewer", "t")
    client = app.server.test_client()
    for path in ("/api/basemap", "/api/entities", "/api/basemap?zoom=10&kind=land&v=x"):
        resp = client.get(path)
        assert resp.status_code == 401 and resp.get_json()["error"] == "sign in to see the screens", path
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post("/login", data={"username": "viewer1", "password": "viewer-pass-1",
                                       "csrf_token": token}).status_code == 302
    assert client.get("/api/basemap?zoom=10").status_code == 200
    assert client.get("/api/entities").status_code == 200
    kiosk = app.server.test_client()                    # a wall's kiosk token opens them too
    assert kiosk.get(f"/api/basemap?zoom=8&kiosk={users.issue_kiosk_token('wall-1', 't')}").status_code == 200


def test_hillshade_hook_point_and_image(make_twin_app) -> None:
    import numpy as np
    store = make_twin_app().server.config["TWINBOARD_HOST"].store
    assert bl.imported_dem(store) is None and bl.imported_hillshade(store) is None     # no DEM imported here
    yy, xx = np.mgrid[0:60, 0:80]
    hill = 300 * np.exp(-((xx - 40) ** 2 + (yy - 30) ** 2) / 200.0)
    hill[:5, :5] = np.nan                                                               # no data: transparent
    png = bl.hillshade_png(hill, (121.3, 28.6, 121.5, 28.7))
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and b"IHDR" in png[:20]
    assert int.from_bytes(png[16:20], "big") == 80 and int.from_bytes(png[20:24], "big") == 60


def test_demo_store_entities_api_on_the_real_district(make_twin_app) -> None:
    app = make_twin_app(builtin=True, plugin_allowlist=["command_center", "alerts"], run_sources=False)
    client = app.server.test_client()
    w, s, e, n = geo.district_polygon().bounds
    stations = client.get(f"/api/entities?kind=fire_rescue_station&bbox={w},{s},{e},{n}").get_json()
    assert stations and all(x["kind"] == "fire_rescue_station" and x["lon"] is not None for x in stations)


def test_hillshade_of_an_imported_dem_lies_on_the_land(make_twin_app, monkeypatch) -> None:
    import sys
    import types

    import numpy as np
    import core.geo
    yy, xx = np.mgrid[0:50, 0:60]
    fake = types.ModuleType("core.geo.gis_import")
    fake.imported_dem = lambda store: (200 * np.exp(-((xx - 30) ** 2 + (yy - 25) ** 2) / 150.0),
                                       (121.35, 28.60, 121.50, 28.72))
    monkeypatch.setitem(sys.modules, "core.geo.gis_import", fake)
    monkeypatch.setattr(core.geo, "gis_import", fake, raising=False)
    monkeypatch.setattr(bl, "_shade_cache", {})
    board = dashboard("d", {"key": "map", "panel": "command_center.one_map", "x": 0, "y": 0, "w": 920, "h": 700})
    app = make_twin_app(builtin=True, plugin_allowlist=["command_center", "alerts"], run_sources=False,
                        dashboards=[board])
    client = app.server.test_client()
    deck = render_callback(client, app, "d", "map")[0]["deck"]
    order = deck["order"]
    shade = deck["layers"]["tb-base-hillshade"]
    assert order.index("tb-base-district") < order.index("tb-base-hillshade") < order.index("tb-base-coast")
    assert shade["@@type"] == "BitmapLayer" and shade["bounds"] == [121.35, 28.60, 121.50, 28.72]
    png = client.get(shade["image"])
    assert png.status_code == 200 and png.mimetype == "image/png" and png.data.startswith(b"\x89PNG")
