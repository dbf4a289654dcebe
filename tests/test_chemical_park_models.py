"""chemical_park 3D assets: the GLB and the 3D Tiles tileset the project makes, served offline."""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path

from core.plugins.testing import make_twin_app, render_panel, twin_store  # noqa: F401

from test_chemical_park_plume import load

ROOT = Path(__file__).resolve().parents[1]
gltf, twin = load("gltf"), load("twin")
MODELS = ROOT / "twin_models/chemical_park/models"


def parse_glb(data: bytes) -> tuple[dict, bytes]:
    magic, version, length = struct.unpack_from("<III", data, 0)
    assert magic == 0x46546C67 and version == 2 and length == len(data)
    jlen, jtype = struct.unpack_from("<II", data, 12)
    assert jtype == 0x4E4F534A
    doc = json.loads(data[20:20 + jlen])
    blen, btype = struct.unpack_from("<II", data, 20 + jlen)
    assert btype == 0x004E4942
    return doc, data[28 + jlen:28 + jlen + blen]


def check_glb(data: bytes) -> dict:
    doc, blob = parse_glb(data)
    assert doc["asset"]["version"] == "2.0"
    sizes = {5126: 4, 5125: 4}
    comps = {"VEC3": 3, "SCALAR": 1}
    for acc in doc["accessors"]:
        view = doc["bufferViews"][acc["bufferView"]]
        assert view["byteLength"] == acc["count"] * sizes[acc["componentType"]] * comps[acc["type"]]
        assert view["byteOffset"] + view["byteLength"] <= len(blob) and view["byteOffset"] % 4 == 0
    idx_view = doc["bufferViews"][doc["accessors"][2]["bufferView"]]
    idx = struct.unpack_from(f"<{doc['accessors'][2]['count']}I", blob, idx_view["byteOffset"])
    assert max(idx) < doc["accessors"][0]["count"] and len(idx) % 3 == 0
    return doc


def test_shipped_glb_is_valid_and_reproducible():
    data = (MODELS / "tank.glb").read_bytes()
    doc = check_glb(data)
    assert doc["accessors"][0]["max"][1] > 1.0            # roof above the 1 m wall
    fresh = gltf.glb(*gltf.cylinder(1.0, 1.0))      # same layout (bytes may differ in the last float bit)
    assert len(fresh) == len(data)
    assert parse_glb(fresh)[0]["accessors"][2] == doc["accessors"][2]


def test_shipped_tileset_and_b3dm():
    ts = json.loads((MODELS / "tiles/tileset.json").read_text(encoding="utf-8"))
    assert ts["asset"]["version"] == "1.0" and len(ts["root"]["transform"]) == 16
    x, y, z = ts["root"]["transform"][12:15]
    r = math.sqrt(x * x + y * y + z * z)
    assert 6.35e6 < r < 6.40e6                            # on the earth's surface
    lon = math.degrees(math.atan2(y, x))
    assert 121.47 < lon < 121.51                           # the park at 外沙/岩头
    tile = (MODELS / "tiles" / ts["root"]["content"]["uri"]).read_bytes()
    magic, version, total, ftj, ftb, btj, btb = struct.unpack_from("<4sIIIIII", tile, 0)
    assert magic == b"b3dm" and version == 1 and total == len(tile) and (28 + ftj) % 8 == 0
    check_glb(tile[28 + ftj + ftb + btj + btb:])


def test_enu_transform_is_orthonormal():
    m = gltf.enu_to_ecef(121.53, 28.71)
    cols = [m[0:3], m[4:7], m[8:11]]
    for i, a in enumerate(cols):
        for j, b in enumerate(cols):
            assert abs(sum(p * q for p, q in zip(a, b)) - (1.0 if i == j else 0.0)) < 1e-12


def test_scene_uses_the_models_and_the_route_serves_them(make_twin_app):
    app = make_twin_app(plugins_dir=ROOT / "plugins", plugin_allowlist=["chemical_park"], run_sources=False)
    deck = render_panel(app, "chemical_park.scene")
    layers = {layer["id"]: layer for layer in deck["layers"]}
    assert layers["cp-tank-models"]["@@type"] == "ScenegraphLayer"
    assert layers["cp-tank-models"]["scenegraph"] == "/plugins/chemical_park/models/tank.glb"
    assert layers["cp-oblique"]["data"] == "/plugins/chemical_park/models/tiles/tileset.json"
    client = app.server.test_client()
    assert client.get("/plugins/chemical_park/models/tank.glb").data == (MODELS / "tank.glb").read_bytes()
    assert client.get("/plugins/chemical_park/models/tiles/tileset.json").status_code == 200
    assert client.get("/plugins/chemical_park/models/../park.yaml").status_code == 404
    deck = render_panel(app, "chemical_park.scene", options={"models": False, "tileset": False})
    ids = {layer["id"] for layer in deck["layers"]}
    assert "cp-tank-models" not in ids and "cp-oblique" not in ids


def test_missing_model_file_is_a_twin_error(tmp_path):
    import pytest
    from core.api import ConfigError
    for name in ("park.geojson", "park.yaml"):
        (tmp_path / name).write_text((ROOT / "twin_models/chemical_park" / name).read_text(encoding="utf-8"),
                                     encoding="utf-8")
    text = (ROOT / "twin_models/chemical_park/operations.yaml").read_text(encoding="utf-8")
    (tmp_path / "operations.yaml").write_text(text.replace("models/tank.glb", "models/nope.glb"), encoding="utf-8")
    with pytest.raises(ConfigError, match="nope.glb"):
        twin.load_model((tmp_path / "park.geojson", tmp_path / "park.yaml", tmp_path / "operations.yaml"))
