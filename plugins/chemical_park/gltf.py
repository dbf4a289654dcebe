"""Small offline 3D assets the project makes itself: a tank as a glTF binary (GLB) and a one-tile
3D Tiles tileset (b3dm) of the tank farm, written with numpy and struct only (no extra dependency).

``build_assets(...)`` writes ``tank.glb`` and ``tiles/tileset.json`` + ``tiles/park.b3dm`` (the park's
buildings as one tile: a stand-in for the oblique-photography model the plan asks for);
the plugin serves the folder at ``/plugins/chemical_park/models/...`` so the scene's
ScenegraphLayer and Tile3DLayer load them with no network. A twin entity of kind
``scene_model`` names a file (``format: gltf`` or ``3dtiles``) to draw.
"""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path

import numpy as np

WGS84_A = 6_378_137.0
WGS84_E2 = 6.69437999014e-3


def cylinder(radius: float = 0.5, height: float = 1.0, n: int = 32, dome: float = 0.12) -> tuple[np.ndarray, ...]:
    """A closed cylinder on z = 0 … height with a shallow cone roof: (positions, normals, indices), Y up."""
    ang = np.linspace(0, 2 * np.pi, n, endpoint=False)
    cx, cz = np.cos(ang) * radius, np.sin(ang) * radius
    pos, nor, idx = [], [], []

    def add(p, q):
        pos.append(p)
        nor.append(q)
        return len(pos) - 1
    for i in range(n):                       # wall: two vertices per column, outward normals
        j = (i + 1) % n
        a0 = add((cx[i], 0, cz[i]), (math.cos(ang[i]), 0, math.sin(ang[i])))
        a1 = add((cx[i], height, cz[i]), (math.cos(ang[i]), 0, math.sin(ang[i])))
        b0 = add((cx[j], 0, cz[j]), (math.cos(ang[j]), 0, math.sin(ang[j])))
        b1 = add((cx[j], height, cz[j]), (math.cos(ang[j]), 0, math.sin(ang[j])))
        idx += [a0, a1, b1, a0, b1, b0]
    apex = add((0, height * (1 + dome), 0), (0, 1, 0))
    for i in range(n):                       # roof cone
        j = (i + 1) % n
        a = add((cx[i], height, cz[i]), (0, 1, 0))
        b = add((cx[j], height, cz[j]), (0, 1, 0))
        idx += [a, apex, b]
    return (np.asarray(pos, np.float32), np.asarray(nor, np.float32), np.asarray(idx, np.uint32))


def _pad(b: bytes, fill: bytes = b"\x00", to: int = 4) -> bytes:
    return b + fill * ((-len(b)) % to)


def glb(positions: np.ndarray, normals: np.ndarray, indices: np.ndarray,
        color: tuple[float, float, float, float] = (0.75, 0.82, 0.9, 1.0)) -> bytes:
    """One mesh, one PBR material, as a GLB (glTF 2.0 binary)."""
    bins = [positions.tobytes(), normals.tobytes(), indices.tobytes()]
    offsets, blob = [], b""
    for b in bins:
        offsets.append(len(blob))
        blob += _pad(b)
    gltf = {
        "asset": {"version": "2.0", "generator": "twinboard chemical_park (demo)"},
        "scene": 0, "scenes": [{"nodes": [0]}], "nodes": [{"mesh": 0}],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0, "NORMAL": 1}, "indices": 2, "material": 0}]}],
        "materials": [{"pbrMetallicRoughness": {"baseColorFactor": list(color), "metallicFactor": 0.6,
                                                "roughnessFactor": 0.4}}],
        "buffers": [{"byteLength": len(blob)}],
        "bufferViews": [{"buffer": 0, "byteOffset": offsets[0], "byteLength": len(bins[0]), "target": 34962},
                        {"buffer": 0, "byteOffset": offsets[1], "byteLength": len(bins[1]), "target": 34962},
                        {"buffer": 0, "byteOffset": offsets[2], "byteLength": len(bins[2]), "target": 34963}],
        "accessors": [
            {"bufferView": 0, "componentType": 5126, "count": len(positions), "type": "VEC3",
             "min": positions.min(axis=0).tolist(), "max": positions.max(axis=0).tolist()},
            {"bufferView": 1, "componentType": 5126, "count": len(normals), "type": "VEC3"},
            {"bufferView": 2, "componentType": 5125, "count": len(indices), "type": "SCALAR"}],
    }
    js = _pad(json.dumps(gltf, separators=(",", ":")).encode(), b" ")
    body = struct.pack("<II", len(js), 0x4E4F534A) + js + struct.pack("<II", len(blob), 0x004E4942) + blob
    return struct.pack("<III", 0x46546C67, 2, 12 + len(body)) + body


def b3dm(glb_bytes: bytes) -> bytes:
    """Wrap a GLB as a Batched 3D Model tile (3D Tiles 1.0), no batch table."""
    header_len = 28
    ft = json.dumps({"BATCH_LENGTH": 0}).encode()
    ft += b" " * ((-(header_len + len(ft))) % 8)        # the body after the header starts 8-byte aligned
    total = header_len + len(ft) + len(glb_bytes)
    return struct.pack("<4sIIIIII", b"b3dm", 1, total, len(ft), 0, 0, 0) + ft + glb_bytes


def enu_to_ecef(lon: float, lat: float, h: float = 0.0) -> list[float]:
    """Column-major 4×4 transform from a local east-north-up frame at (lon, lat, h) to ECEF (3D Tiles)."""
    lo, la = math.radians(lon), math.radians(lat)
    n = WGS84_A / math.sqrt(1 - WGS84_E2 * math.sin(la) ** 2)
    x = (n + h) * math.cos(la) * math.cos(lo)
    y = (n + h) * math.cos(la) * math.sin(lo)
    z = (n * (1 - WGS84_E2) + h) * math.sin(la)
    east = (-math.sin(lo), math.cos(lo), 0.0)
    north = (-math.sin(la) * math.cos(lo), -math.sin(la) * math.sin(lo), math.cos(la))
    up = (math.cos(la) * math.cos(lo), math.cos(la) * math.sin(lo), math.sin(la))
    return [*east, 0.0, *north, 0.0, *up, 0.0, x, y, z, 1.0]


def extrude_mesh(polys: list[tuple[list[tuple[float, float]], float]]) -> tuple[np.ndarray, ...]:
    """Convex footprints (east, north metres, open ring) extruded to their heights, glTF Y-up frame."""
    pos, nor, idx = [], [], []
    for ring, h in polys:
        pts = ring[:-1] if ring[0] == ring[-1] else ring
        k = len(pts)
        area = sum(pts[i][0] * pts[(i + 1) % k][1] - pts[(i + 1) % k][0] * pts[i][1] for i in range(k))
        if area < 0:
            pts = pts[::-1]
        for i in range(k):                   # walls
            (x0, y0), (x1, y1) = pts[i], pts[(i + 1) % k]
            ln = math.hypot(x1 - x0, y1 - y0) or 1.0
            nx, ny = (y1 - y0) / ln, -(x1 - x0) / ln
            b = len(pos)
            for x, y, z in ((x0, y0, 0), (x1, y1, 0), (x1, y1, h), (x0, y0, h)):
                pos.append((x, z, -y))
                nor.append((nx, 0, -ny))
            idx += [b, b + 1, b + 2, b, b + 2, b + 3]
        b = len(pos)                         # roof (fan)
        for x, y in pts:
            pos.append((x, h, -y))
            nor.append((0, 1, 0))
        for i in range(1, k - 1):
            idx += [b, b + i, b + i + 1]
    return np.asarray(pos, np.float32), np.asarray(nor, np.float32), np.asarray(idx, np.uint32)


def build_assets(folder: Path, center: tuple[float, float],
                 buildings_ll: list[tuple[list[tuple[float, float]], float]]) -> list[Path]:
    """Write tank.glb (a unit tank: radius 1 m, height 1 m) and a one-tile 3D Tiles tileset whose b3dm
    holds the given building footprints (lon/lat rings) extruded to their heights."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tiles").mkdir(exist_ok=True)
    out = [folder / "tank.glb", folder / "tiles" / "park.b3dm", folder / "tiles" / "tileset.json"]
    out[0].write_bytes(glb(*cylinder(1.0, 1.0)))
    lon0, lat0 = center
    kx = 111_320.0 * math.cos(math.radians(lat0))
    local = [([((lo - lon0) * kx, (la - lat0) * 110_574.0) for lo, la in ring], h) for ring, h in buildings_ll]
    out[1].write_bytes(b3dm(glb(*extrude_mesh(local), color=(0.62, 0.70, 0.78, 1.0))))
    half = max(max(abs(x), abs(y)) for ring, _ in local for x, y in ring) + 10
    top = max(h for _, h in local)
    tileset = {"asset": {"version": "1.0", "tilesetVersion": "demo"}, "geometricError": 200,
               "root": {"transform": enu_to_ecef(lon0, lat0),
                        "boundingVolume": {"box": [0, 0, top / 2, half, 0, 0, 0, half, 0, 0, 0, top / 2]},
                        "geometricError": 0, "refine": "ADD", "content": {"uri": "park.b3dm"}},
               "extras": {"note": "DEMO: a one-tile oblique-photography stand-in made by twinboard"}}
    out[2].write_text(json.dumps(tileset, indent=1) + "\n", encoding="utf-8")
    return out


if __name__ == "__main__":  # pragma: no cover - rebuilds the shipped assets after park.yaml moved or changed
    import yaml
    twin = Path(__file__).resolve().parents[2] / "twin_models" / "chemical_park"
    park = yaml.safe_load((twin / "park.yaml").read_text(encoding="utf-8"))
    footprints = [([tuple(c) for c in e["geometry"]["coordinates"][0]], float(e["properties"]["height_m"]))
                  for e in park["entities"] if e["kind"] == "building"]
    for written in build_assets(twin / "models", (park["site"]["lon"], park["site"]["lat"]), footprints):
        print(written)
