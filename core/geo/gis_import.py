"""Import the bureau's own GIS data into the twin: roads, boundaries, places, shelters, resources, a DEM.

One path for the command line (``twinboard gis import FILE --as roads``), the admin upload
(``/admin/gis``) and code (:func:`import_file`)::

    result = import_file(store, "roads.gpkg", "roads", crs=None, gcj02=False, actor="li")

* **Formats** (``core.geo.readers``): GeoJSON, zipped Shapefile, GeoPackage, OSM XML/PBF, anything
  else GDAL reads; GeoTIFF for ``dem``.
* **Coordinate systems** (``core.geo.crs``): the file's own, or ``crs=`` (``--crs``) to override or to
  supply a missing one; everything is stored as WGS-84 lon/lat (CGCS2000 taken as WGS-84). A file
  with no coordinate system and no ``--crs`` is refused.
* **GCJ-02**: ``gcj02=True`` converts from the offset datum of Chinese web maps. Without it the
  import compares the data with the base map's coastline: when undoing the GCJ-02 offset (about
  540 m here) makes clearly more of it fit the land than leaving it, or than any other shift of the
  same size, the import warns ("looks like GCJ-02 ... re-import with --gcj02"). The same check warns
  when ``--gcj02`` was given to data that was WGS-84 already.
* **Errors** name the file, the feature (its index in the file, from 0; the OSM id or GeoPackage fid
  beside it) and the field; nothing is stored unless the whole file is good.
* **Storage**: one transaction replaces the layer's ``gis_import`` row, its ``gis_feature`` rows and
  (places, shelters, resources) its twin entities (``plugin="gis"``, ids ``gis.<layer>.<id>``), and
  writes the audit entry. Importing the same file again gives the same rows.

Layers:

==========  ==============================  ===================================================
layer       geometry                        becomes
==========  ==============================  ===================================================
roads       (Multi)LineString               ``gis_feature`` rows and the road graph of the
                                            15-minute circle (``core.geo.roadgraph``)
boundary    (Multi)Polygon                  ``gis_feature`` rows
places      Point (or polygon: its inside   entities, kind from a ``kind``/``类型`` field
            point)                          (default ``place``)
shelters    Point / polygon                 entities of kind ``emergency_shelter`` with
                                            ``capacity``
resources   Point / polygon                 entities, kind from a ``kind``/``类型`` field
                                            (:data:`RESOURCE_KINDS`)
dem         GeoTIFF, one band, metres       ``gis_raster`` (deflate GeoTIFF in lon/lat);
                                            :func:`imported_dem` reads it back
==========  ==============================  ===================================================
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
import warnings as warnings_module
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from json.encoder import encode_basestring
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
from sqlalchemy import delete, insert, select

from core.data import twin
from core.errors import TwinboardError
from core.geo.gcj02 import gcj02_to_wgs84, wgs84_to_gcj02

if TYPE_CHECKING:
    from core.geo.crs import LonLatTransform
from core.geo.readers import GisImportError, VectorData, file_sha256, read_raster, read_vector
from core.geo.roadgraph import (DEFAULT_SPEED_KMH, HIGHWAY_SPEEDS, NOT_FOR_VEHICLES, RoadTopology, build_topology,
                                normalise_class, parse_maxspeed, parse_oneway, topology_from_lines)

__all__ = ["LAYERS", "ImportResult", "GisImportError", "import_file", "imports", "import_row", "drop_layer",
           "imported_features", "imported_roads", "imported_dem", "MAX_IMPORT_BYTES"]

LAYERS = ("roads", "boundary", "places", "shelters", "resources", "dem")
POINT_LAYERS = ("places", "shelters", "resources")
#: gis_feature.id = LAYER_NUMBERS[layer] << 32 | index: each layer one range of the primary key
LAYER_NUMBERS = {"roads": 1, "boundary": 2, "places": 3, "shelters": 4, "resources": 5, "dem": 6}
#: The command line's size limit (the admin upload has its own, smaller one).
MAX_IMPORT_BYTES = 2 << 30
#: Entities made by the import carry this plugin name.
ENTITY_PLUGIN = "gis"
#: Speeds (km/h) a speed_kmh field may give.
SPEED_RANGE = (1.0, 200.0)
#: Plausible elevations (m) in a DEM; anything outside is an error (usually an unset nodata value).
ELEVATION_RANGE = (-500.0, 9000.0)

# Field names the import looks for, in order (compared in lower case).
NAME_FIELDS = ("name", "name_zh", "名称", "mc", "dlmc", "road_name", "roadname", "title", "场所名称")
NAME_EN_FIELDS = ("name_en", "ename", "英文名", "英文名称")
ID_FIELDS = ("id", "code", "编号", "编码", "bh", "代码", "dm", "uid", "osm_id")
KIND_FIELDS = ("kind", "type", "类型", "类别", "lx", "lb")
CAPACITY_FIELDS = ("capacity", "容纳人数", "可容纳人数", "rnrs", "people", "人数")
SPEED_FIELDS = ("speed_kmh", "speed_km_h", "speedkmh", "速度", "通行速度", "行车速度")
MAXSPEED_FIELDS = ("maxspeed", "max_speed", "限速")
CLASS_FIELDS = ("highway", "fclass", "road_class", "roadclass", "class", "道路等级", "公路等级", "等级", "dldj", "gldj")
ONEWAY_FIELDS = ("oneway", "one_way", "单行", "单向")

#: Entity kinds a ``resources`` file may name (as they are, or in Chinese).
RESOURCE_KINDS: dict[str, str] = {
    "emergency_team": "emergency_team", "micro_station": "micro_station",
    "fire_rescue_station": "fire_rescue_station", "fire_station": "fire_rescue_station",
    "material_depot": "material_depot", "medical_point": "medical_point", "emergency_shelter": "emergency_shelter",
    "key_camera": "key_camera",
    "消防站": "fire_rescue_station", "消防救援站": "fire_rescue_station", "微型消防站": "micro_station",
    "微型救援站": "micro_station", "救援队": "emergency_team", "救援队伍": "emergency_team",
    "专业救援队伍": "emergency_team", "应急救援队": "emergency_team", "物资库": "material_depot",
    "物资储备库": "material_depot", "应急物资库": "material_depot", "仓库": "material_depot",
    "医院": "medical_point", "医疗点": "medical_point", "医疗救治点": "medical_point", "急救站": "medical_point",
    "卫生院": "medical_point", "避难场所": "emergency_shelter", "应急避难场所": "emergency_shelter",
    "监控": "key_camera", "摄像头": "key_camera", "重点监控": "key_camera",
}
#: OpenStreetMap amenity/emergency values that are emergency resources, to entity kinds.
OSM_RESOURCE_KINDS = {"fire_station": "fire_rescue_station", "hospital": "medical_point", "clinic": "medical_point",
                      "ambulance_station": "medical_point", "emergency_ward": "medical_point"}
#: Chinese place types to entity kinds; other ``kind`` words (a-z, 0-9, _) are taken as they are.
PLACE_KINDS = {"村": "village", "村庄": "village", "行政村": "village", "自然村": "village", "社区": "community",
               "学校": "school", "医院": "hospital", "企业": "enterprise", "风险点": "risk_point",
               "危险源": "hazard_source", "重大危险源": "hazard_source"}
_WORD = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


@dataclass
class ImportResult:
    """What an import stored and found."""

    layer: str
    file_name: str
    sha256: str
    source_crs: str
    gcj02: bool
    feature_count: int
    bounds: list[float] | None
    warnings: list[str]
    summary: dict[str, Any]
    revision: int
    actor: str
    seconds: float = 0.0

    def lines(self) -> list[str]:
        """The human summary the command line prints and the admin page shows."""
        s = self.summary
        head = f"imported {self.file_name} as {self.layer}: {self.feature_count:,} feature" + \
               ("s" if self.feature_count != 1 else "")
        if self.layer == "dem":
            head = f"imported {self.file_name} as dem: {s['width']} × {s['height']} cells"
        out = [head + f" in {self.seconds:.2f} s (revision {self.revision})",
               f"  coordinate system: {self.source_crs}" + (", converted from GCJ-02" if self.gcj02 else "")
               + " → WGS-84 lon/lat"]
        if self.bounds:
            w, so, e, n = self.bounds
            out.append(f"  bounds: {w:.5f}–{e:.5f}°E, {so:.5f}–{n:.5f}°N")
        if self.layer == "roads":
            out.append(f"  road graph: {s['nodes']:,} nodes, {s['edges']:,} edges, {s['components']:,} connected "
                       f"piece{'s' if s['components'] != 1 else ''} (largest {s['largest_component']:,} nodes); "
                       f"{s['drivable']:,} of {self.feature_count:,} features drivable")
        elif self.layer in POINT_LAYERS:
            kinds = ", ".join(f"{k} {n}" for k, n in sorted(s.get("kinds", {}).items()))
            out.append(f"  entities: {s['entities']:,} ({kinds})")
        elif self.layer == "dem":
            out.append(f"  elevation {s['min_m']:.1f}–{s['max_m']:.1f} m, cell about {s['cell_m']:.1f} m, "
                       f"{s['nodata_share'] * 100:.1f} % without data")
        out += [f"warning: {w}" for w in self.warnings]
        return out

    def as_dict(self) -> dict[str, Any]:
        return {"layer": self.layer, "file_name": self.file_name, "sha256": self.sha256,
                "source_crs": self.source_crs, "gcj02": self.gcj02, "feature_count": self.feature_count,
                "bounds": self.bounds, "warnings": self.warnings, "summary": self.summary,
                "revision": self.revision, "actor": self.actor, "seconds": round(self.seconds, 3)}


# =========================================================================== import
def import_file(store: Any, path: str | Path, layer: str, *, crs: str | None = None, gcj02: bool = False,
                actor: str = "cli", display: str | None = None, source_layer: str | None = None,
                max_bytes: int = MAX_IMPORT_BYTES) -> ImportResult:
    """Validate ``path`` as import layer ``layer`` and store it, replacing the layer's previous import.

    ``crs`` overrides or supplies the file's coordinate system; ``gcj02`` converts from GCJ-02;
    ``display`` is the file name used in messages (default: ``path`` as given); ``source_layer``
    picks a layer of a multi-layer file (GeoPackage). Raises :class:`GisImportError` (nothing stored).
    """
    t0 = time.perf_counter()
    path = Path(path)
    display = display or str(path)
    if layer not in LAYERS:
        raise GisImportError(display, f"--as {layer!r}: the layer must be one of {', '.join(LAYERS)}")
    with ThreadPoolExecutor(1, thread_name_prefix="gis-sha256") as pool:
        digest = pool.submit(file_sha256, path) if path.is_file() else None  # hashlib leaves the GIL
        if layer == "dem":
            prepared = _prepare_dem(path, display, crs, gcj02, max_bytes)
        else:
            prepared = _prepare_vector(path, display, layer, crs, gcj02, source_layer, max_bytes,
                                       multi_row=store.engine.dialect.name == "sqlite")
        prepared.sha256 = digest.result() if digest is not None else ""
    result = _store(store, prepared, actor)
    result.seconds = time.perf_counter() - t0
    return result


@dataclass
class _Prepared:
    layer: str
    display: str
    source_crs: str
    gcj02: bool
    feature_count: int
    bounds: list[float] | None
    warnings: list[str]
    summary: dict[str, Any]
    #: gis_feature rows, in chunks (a list of lists, or a generator of them)
    rows: Any = field(default_factory=list)
    entities: list[dict[str, Any]] = field(default_factory=list)
    raster: bytes | None = None
    sha256: str = ""
    #: work that may still run (the road topology): called before the import row is written
    finish: Any = None


def _resolve_crs(file_crs: str | None, override: str | None, display: str) -> tuple[LonLatTransform, list[str]]:
    from core.geo.crs import CrsError, parse_crs, to_lonlat  # pyproj, only when importing
    warnings: list[str] = []
    try:
        if override:
            src = parse_crs(override)
            if file_crs:
                try:
                    own = parse_crs(file_crs)
                    if not own.equals(src, ignore_axis_order=True):
                        warnings.append(f"the file says its coordinate system is {_short(own)}; --crs {override} "
                                        "was used instead")
                except CrsError:
                    pass
        elif file_crs:
            src = parse_crs(file_crs)
        else:
            raise GisImportError(display, "has no coordinate system (no .prj, no CRS in the file): give it with "
                                          "--crs, e.g. --crs EPSG:4326 for WGS-84 lon/lat, EPSG:4490 for CGCS2000, "
                                          "EPSG:4549 for CGCS2000 3-degree Gauss–Krüger CM 120E")
        tr = to_lonlat(src)
    except CrsError as exc:
        raise GisImportError(display, f"coordinate system: {exc}") from None
    return tr, warnings + tr.warnings


def _short(crs: Any) -> str:
    from core.geo.crs import label
    return label(crs)


def _find(data: VectorData, candidates: tuple[str, ...]) -> tuple[str, np.ndarray] | None:
    lower = {n.lower(): (n, c) for n, c in reversed(list(zip(data.field_names, data.fields)))}
    for cand in candidates:
        hit = lower.get(cand.lower())
        if hit is not None:
            return hit
    return None


def _text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and not math.isfinite(v):
        return ""
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    return str(v).strip()


def _prepare_vector(path: Path, display: str, layer: str, crs: str | None, gcj02: bool,
                    source_layer: str | None, max_bytes: int, multi_row: bool = False) -> _Prepared:
    data = read_vector(path, display, layer, source_layer=source_layer, max_bytes=max_bytes)
    n_all = len(data)
    sel = np.arange(n_all)
    warnings: list[str] = list(data.extra.get("gdal_warnings", []))
    if data.driver == "OSM":
        sel, note = _osm_selection(data, layer)
        if note:
            warnings.append(note)
    if len(sel) == 0:
        what = {"roads": "roads (lines with a highway tag)", "boundary": "boundaries",
                }.get(layer, f"{layer} (named points)" if data.driver == "OSM" else layer)
        raise GisImportError(display, f"holds no {what}" + (f" in layer {data.layer_name!r}" if data.layer_name else ""))
    tr, crs_warnings = _resolve_crs(data.crs, crs, display)
    warnings += crs_warnings

    def err(i: int, message: str, fld: str | None = None) -> GisImportError:
        """An error about feature ``i`` (position in ``sel``)."""
        idx = int(sel[i])
        return GisImportError(display, message, feature=idx, field=fld, fid=data.fid_label(idx))

    # -- geometry: readable, of the layer's type, not empty ----------------------------------
    wkb = data.wkb[sel] if len(sel) != n_all else data.wkb
    # roads already in lon/lat: the vertices straight from the WKB (the topology needs no shapely objects)
    plain = _plain_linestrings(wkb) if layer == "roads" and tr.identity and not gcj02 else None
    if plain is not None:
        geoms = type_ids = None
        coords, cidx, n_vertices = plain
        empty = np.flatnonzero(n_vertices == 0)
        if len(empty):
            raise err(int(empty[0]), "its geometry is empty")
        lonely = np.flatnonzero(n_vertices == 1)
        if len(lonely):
            raise err(int(lonely[0]), "its line has a single point (a line needs two)")
    else:
        geoms = shapely.from_wkb(wkb, on_invalid="ignore")
        bad = np.flatnonzero(shapely.is_missing(geoms))
        if len(bad):
            i = int(bad[0])
            raise err(i, "has no geometry" if wkb[i] is None else
                      "its geometry cannot be read (broken, or a curve type: convert curves to lines)")
        allowed = {"roads": (1, 5), "boundary": (3, 6)}.get(layer, (0, 4, 3, 6))
        type_ids = shapely.get_type_id(geoms)
        wrong = np.flatnonzero(~np.isin(type_ids, allowed))
        if len(wrong):
            i = int(wrong[0])
            names = {1: "LineString or MultiLineString", 3: "Polygon or MultiPolygon"}
            want = names.get(allowed[0], "Point (or a polygon: its inside point is used)")
            raise err(i, f"its geometry is a {geoms[i].geom_type}; --as {layer} takes {want}")
        empty = np.flatnonzero(shapely.is_empty(geoms))
        if len(empty):
            raise err(int(empty[0]), "its geometry is empty")
        coords, cidx = shapely.get_coordinates(geoms, return_index=True)
    # -- coordinates: to WGS-84 lon/lat, checked -----------------------------------------------
    lon, lat = tr(coords[:, 0], coords[:, 1])
    bad_c = ~(np.isfinite(lon) & np.isfinite(lat) & (np.abs(lon) <= 180.0) & (np.abs(lat) <= 90.0))
    if bad_c.any():
        k = int(np.flatnonzero(bad_c)[0])
        x, y = float(coords[k, 0]), float(coords[k, 1])
        raise err(int(cidx[k]), f"coordinates ({x:.6g}, {y:.6g}) are not longitude/latitude after converting "
                                f"from {tr.label}" + _coordinate_hint(x, y, tr))
    if 70 <= np.median(lat) <= 140 and 0 < np.median(lon) < 60:
        warnings.append("longitude and latitude look swapped (x ≈ 28, y ≈ 121): check the file's axis order")
    if gcj02:
        lon, lat = gcj02_to_wgs84(lon, lat)
    changed = gcj02 or not tr.identity
    if changed:
        geoms = shapely.set_coordinates(geoms.copy(), np.column_stack([lon, lat]))
        wkb_out = shapely.to_wkb(geoms)
    else:
        wkb_out = wkb
    check = gcj02_check(lon, lat, converted=gcj02)
    if check:
        warnings.append(check)
    far = _far_from_district(lon, lat)
    if far:
        warnings.append(far)
    bounds = [round(float(lon.min()), 7), round(float(lat.min()), 7),
              round(float(lon.max()), 7), round(float(lat.max()), 7)]
    idx = sel.astype(np.int64)
    skip: set[str] = set()
    prepared = _Prepared(layer=layer, display=display, source_crs=tr.label, gcj02=gcj02, feature_count=len(sel),
                         bounds=bounds, warnings=warnings, summary={})
    if layer == "roads":
        # the graph's topology is worked out in a thread (numpy and the KD-tree leave the GIL) while the
        # attributes are encoded and the rows stored; the import row waits for it (_Prepared.finish)
        kind, name, speed, oneway, summary = _roads(data, sel, err, warnings)
        # the name and class fields live in their own columns (verbatim): not repeated in properties
        skip = {summary["name_field"], summary["class_field"]} - {None}
        pool = ThreadPoolExecutor(1, thread_name_prefix="gis-topology")
        future = pool.submit(_road_topology, geoms, idx, speed, kind, name, oneway,
                             (coords, cidx) if geoms is None else None)
        pool.shutdown(wait=False)
        prepared.finish = lambda: _road_summary(future.result(), summary, warnings)
    base = LAYER_NUMBERS[layer] << 32
    ids = (base + idx).tolist()
    if layer in ("roads", "boundary"):
        if layer == "roads":
            speed_obj = speed.astype(object)
            speed_obj[np.isnan(speed)] = None
            columns = [kind.tolist(), name.tolist(), speed_obj.tolist(), oneway.tolist()]
            prepared.summary = summary
        else:
            name_col = _find(data, NAME_FIELDS)
            names = [_text(v) for v in name_col[1][sel]] if name_col else [""] * len(sel)
            kcol = _find(data, ("boundary", "admin_level", "kind", "type", "类型"))
            kinds = [(_text(v) or "boundary")[:64] for v in kcol[1][sel]] if kcol else ["boundary"] * len(sel)
            columns = [kinds, names, [None] * len(sel), [0] * len(sel)]
            area = float(sum(shapely.area(geoms)))  # degrees², for the record only
            prepared.summary = {"polygons": int(sum(shapely.get_num_geometries(geoms))), "area_deg2": round(area, 8)}
        skip = skip if layer == "roads" else set()
        wkb_list = wkb_out.tolist()
        idx_list = idx.tolist()

        def chunk(lo: int, hi: int) -> Any:
            props = _properties_json(data, sel[lo:hi], skip)
            rows = list(zip(ids[lo:hi], idx_list[lo:hi], *(c[lo:hi] for c in columns),
                            wkb_list[lo:hi], props))
            return _pack(rows) if multi_row else rows
        # rows are made a chunk at a time as the store inserts them (less memory than all at once)
        prepared.rows = (chunk(lo, min(len(sel), lo + _CHUNK)) for lo in range(0, len(sel), _CHUNK))
    else:
        props = _properties_json(data, sel)
        # a point is itself; a polygon (a shelter's area) or a multipoint is represented by a point inside it
        points = np.where(type_ids == 0, geoms, shapely.point_on_surface(geoms))
        kinds, entities, summary = _points(data, sel, layer, points, props, err, warnings, display)
        prepared.rows = [list(zip(ids, idx.tolist(), kinds, [e["name"] for e in entities],
                                  [None] * len(ids), [0] * len(ids), wkb_out.tolist(), props))]
        prepared.entities = entities
        prepared.summary = summary
    return prepared


def _coordinate_hint(x: float, y: float, tr: LonLatTransform) -> str:
    from core.geo.crs import gauss_kruger_hint
    hint = gauss_kruger_hint(x, y)
    if hint:
        return f"; {hint}"
    if tr.crs.is_geographic and (abs(x) > 180 or abs(y) > 90):
        return "; the numbers look like metres, not degrees: give the file's projected system with --crs"
    return "; check the coordinate system (--crs)"


def _osm_selection(data: VectorData, layer: str) -> tuple[np.ndarray, str]:
    """Which features of an OSM layer are this import's: ways with a highway tag for roads,
    boundary multipolygons, named points."""
    n = len(data)
    if layer == "roads":
        col = data.column("highway")
        keep = np.array([v is not None for v in col]) if col is not None else np.zeros(n, bool)
        what = ("line without a highway tag", "lines without a highway tag", " (waterways, railways, barriers...)")
    elif layer == "boundary":
        keep = np.zeros(n, bool)
        for name in ("boundary", "admin_level"):
            col = data.column(name)
            if col is not None:
                keep |= np.array([v is not None for v in col])
        what = ("area that is not a boundary", "areas that are not boundaries", "")
    else:
        col = data.column("name")
        keep = np.array([bool(v) for v in col]) if col is not None else np.zeros(n, bool)
        tags = {k: data.column(k) for k in ("place", "amenity", "emergency")}
        tags = {k: (c.tolist() if c is not None else [None] * n) for k, c in tags.items()}
        if layer == "places":
            match = [v is not None for v in tags["place"]]
            what = ("point without a name or a place tag", "points without a name or a place tag", "")
        elif layer == "shelters":
            match = [a == "shelter" or e == "assembly_point" for a, e in zip(tags["amenity"], tags["emergency"])]
            what = ("point that is not a named shelter", "points that are not named shelters",
                    " (amenity=shelter, emergency=assembly_point)")
        else:
            kinds = [OSM_RESOURCE_KINDS.get(a or "") or OSM_RESOURCE_KINDS.get(e or "")
                     for a, e in zip(tags["amenity"], tags["emergency"])]
            match = [k is not None for k in kinds]
            # the resource kind as a column the import reads (kind fields come first)
            data.field_names.insert(0, "kind")
            data.fields.insert(0, np.array(kinds, dtype=object))
            what = ("point that is not a named emergency resource", "points that are not named emergency resources",
                    " (fire stations, hospitals...)")
        keep &= np.array(match, dtype=bool)
    sel = np.flatnonzero(keep)
    dropped = n - len(sel)
    if not dropped:
        return sel, ""
    return sel, f"left out {dropped:,} OSM {what[0] if dropped == 1 else what[1]}{what[2]}"


def _mapped(col: np.ndarray, fn: Any) -> list[Any]:
    """``fn`` of every value of a column, computed once per distinct value."""
    values = col.tolist()
    try:
        memo = {v: fn(v) for v in set(values)}
    except TypeError:  # an unhashable value
        return [fn(v) for v in values]
    return [memo[v] for v in values]


def _texts(col: np.ndarray) -> list[str]:
    return [v.strip() if type(v) is str else _text(v) for v in col.tolist()]


def _number(v: Any) -> float | None:
    """A float from a field value; None for null/empty; ValueError for text that is no number."""
    if v is None:
        return None
    if isinstance(v, (bool, np.bool_)):
        raise ValueError
    if isinstance(v, (int, float, np.integer, np.floating)):
        f = float(v)
        return None if math.isnan(f) else f
    text = str(v).strip()
    if not text:
        return None
    return float(text.replace(",", ""))


def _roads(data: VectorData, sel: np.ndarray, err: Any, warnings: list[str]):
    n = len(sel)
    speed_col = _find(data, SPEED_FIELDS)
    speed = np.full(n, np.nan)
    if speed_col is not None:
        fname, col = speed_col
        vals = col[sel]
        if vals.dtype.kind in "fiu":
            speed = vals.astype(float)
            bad = np.flatnonzero(np.isfinite(speed) & ((speed < SPEED_RANGE[0]) | (speed > SPEED_RANGE[1])))
            if len(bad):
                i = int(bad[0])
                raise err(i, f"{speed[i]:g} km/h is not a travel speed (give {SPEED_RANGE[0]:g} to "
                             f"{SPEED_RANGE[1]:g})", fname)
        else:
            for i, v in enumerate(vals.tolist()):
                try:
                    f = _number(v)
                except ValueError:
                    raise err(i, f"{v!r} is not a number", fname) from None
                if f is None:
                    continue
                if not SPEED_RANGE[0] <= f <= SPEED_RANGE[1]:
                    raise err(i, f"{f:g} km/h is not a travel speed (give {SPEED_RANGE[0]:g} to "
                                 f"{SPEED_RANGE[1]:g})", fname)
                speed[i] = f
    class_col = _find(data, CLASS_FIELDS)
    # per distinct class value: the text as stored (verbatim) and the default speed (NaN: not for vehicles)
    if class_col is not None:
        values = class_col[1][sel].tolist()
        words = {v: (_text(v)[:64], normalise_class(v) or "") for v in set(values)}
        raw = np.array([words[v][0] for v in values], dtype=object)
        distinct = list(words.values())
        index = {v: i for i, v in enumerate(words)}
        which = np.fromiter((index[v] for v in values), dtype=np.int64, count=n)
    else:
        raw = np.full(n, "", dtype=object)
        distinct, which = [("", "")], np.zeros(n, dtype=np.int64)
    base = np.array([np.nan if w in NOT_FOR_VEHICLES else HIGHWAY_SPEEDS.get(w, DEFAULT_SPEED_KMH)
                     for _, w in distinct])[which]
    max_col = _find(data, MAXSPEED_FIELDS)
    if max_col is not None:  # an OSM maxspeed lowers the class's speed, never raises it
        cap = np.array(_mapped(max_col[1][sel], parse_maxspeed), dtype=float)
        base = np.where(np.isfinite(cap), np.fmin(base, cap), base)
    oneway_col = _find(data, ONEWAY_FIELDS)
    if oneway_col is None:
        oneway = np.zeros(n, np.int8)
    elif oneway_col[1].dtype.kind in "iuf":
        oneway = np.sign(np.nan_to_num(oneway_col[1][sel].astype(float))).astype(np.int8)
    else:
        oneway = np.array(_mapped(oneway_col[1][sel], parse_oneway), dtype=np.int8)
    name_col = _find(data, NAME_FIELDS)
    name = np.array([v if type(v) is str else _text(v) for v in name_col[1][sel].tolist()], dtype=object) \
        if name_col else np.full(n, "", object)
    need = np.isnan(speed)
    out = np.where(need, base, speed)
    # what the warnings count: roads with no class, classes without a default speed, ways not for vehicles
    used = np.bincount(which[need], minlength=len(distinct))
    not_for_vehicles = int(sum(c for (_, w), c in zip(distinct, used) if w in NOT_FOR_VEHICLES))
    defaulted = int(sum(c for (_, w), c in zip(distinct, used) if not w))
    unknown_classes = {t or w: int(c) for (t, w), c in zip(distinct, used)
                       if c and w and w not in NOT_FOR_VEHICLES and w not in HIGHWAY_SPEEDS}
    if defaulted:
        warnings.append(f"{defaulted:,} roads have neither a speed_kmh field nor a road class: "
                        f"{DEFAULT_SPEED_KMH:g} km/h assumed")
    if unknown_classes:
        shown = ", ".join(f"{k!r} ×{c}" for k, c in sorted(unknown_classes.items(), key=lambda x: -x[1])[:6])
        warnings.append(f"road classes without a default speed ({shown}): {DEFAULT_SPEED_KMH:g} km/h assumed")
    drivable = int(np.isfinite(out).sum())
    summary = {"drivable": drivable, "not_for_vehicles": not_for_vehicles,
               "speed_field": speed_col[0] if speed_col else None,
               "class_field": class_col[0] if class_col else None,
               "name_field": name_col[0] if name_col else None,
               "oneway_field": oneway_col[0] if oneway_col else None}
    if drivable == 0:
        raise GisImportError(data.display, "holds no road for vehicles (every line is a footway, cycleway, ...)")
    # the class is stored as the file gives it (OSM word, Geofabrik fclass, 道路等级); the graph normalises it
    return raw, name, out, oneway, summary


def _road_summary(topo: RoadTopology, summary: dict[str, Any], warnings: list[str]) -> None:
    n_comp, largest = topo.components()
    summary.update(nodes=topo.n_nodes, edges=topo.n_edges, components=n_comp, largest_component=largest,
                   length_km=round(float(topo.length_m.sum()) / 1000.0, 3), degenerate=topo.degenerate)
    if topo.n_nodes and largest < 0.9 * topo.n_nodes:
        warnings.append(f"the road graph falls into {n_comp:,} pieces; the largest holds {largest:,} of "
                        f"{topo.n_nodes:,} nodes (roads that should meet may not share a vertex)")


def _road_topology(geoms: np.ndarray | None, idx: np.ndarray, speed: np.ndarray, kind: np.ndarray,
                   name: np.ndarray, oneway: np.ndarray, vertices: tuple | None = None) -> RoadTopology:
    drive = np.isfinite(speed)
    if geoms is None:  # plain LineStrings: their vertices and the feature each belongs to
        coords, line = vertices
        keep = drive[line]
        renumber = np.cumsum(drive) - 1
        return topology_from_lines(coords[keep], renumber[line[keep]], idx[drive], speed[drive], kind[drive],
                                   name[drive], oneway[drive])
    return build_topology(geoms[drive], idx[drive], speed[drive], kind[drive], name[drive], oneway[drive])


def _plain_linestrings(wkb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(vertices N×2, the feature of each, vertices per feature) when every WKB is a 2D little-endian
    LineString — what GDAL hands over for a road layer — else None (shapely reads the rest)."""
    n = len(wkb)
    if n == 0:
        return None
    try:
        lens = np.fromiter(map(len, wkb), dtype=np.int64, count=n)
        buf = np.frombuffer(b"".join(wkb), dtype=np.uint8)
    except TypeError:  # a feature without geometry
        return None
    if (lens < 9).any():
        return None
    starts = np.zeros(n, dtype=np.int64)
    np.cumsum(lens[:-1], out=starts[1:])
    head = buf[starts[:, None] + np.arange(9)]
    if not (head[:, 0] == 1).all():  # byte order: little endian
        return None
    gtype = head[:, 1:5].copy().view("<u4").ravel()
    count = head[:, 5:9].copy().view("<u4").ravel().astype(np.int64)
    if not (gtype == 2).all() or not (lens == 9 + 16 * count).all():  # 2 = LineString (2D, ISO)
        return None
    body = np.ones(len(buf), dtype=bool)
    body[(starts[:, None] + np.arange(9)).ravel()] = False
    coords = buf[body].view("<f8").reshape(-1, 2)
    return coords, np.repeat(np.arange(n), count), count


def _points(data: VectorData, sel: np.ndarray, layer: str, points: np.ndarray, props: list[str], err: Any,
            warnings: list[str], display: str):
    n = len(sel)
    name_col = _find(data, NAME_FIELDS)
    if name_col is None:
        raise GisImportError(display, f"has no name field (one of: {', '.join(NAME_FIELDS[:4])}): "
                                      f"every one of the {layer} needs a name")
    fname, names_raw = name_col
    names = [_text(v) for v in names_raw[sel]]
    for i, nm in enumerate(names):
        if not nm:
            raise err(i, f"is empty: every one of the {layer} needs a name", fname)
    en_col = _find(data, NAME_EN_FIELDS)
    names_en = [_text(v) for v in en_col[1][sel]] if en_col else [""] * n
    id_col = _find(data, ID_FIELDS)
    keys: list[str] = []
    if id_col is not None:
        seen: dict[str, int] = {}
        for i, v in enumerate(id_col[1][sel].tolist()):
            key = _text(v)
            if not key:
                raise err(i, "is empty: give every feature an id, or leave the field out", id_col[0])
            if len(key) > 96:
                raise err(i, f"{key[:20]!r}... is longer than 96 characters", id_col[0])
            if key in seen:
                raise err(i, f"{key!r} repeats feature {int(sel[seen[key]])}", id_col[0])
            seen[key] = i
            keys.append(key)
    else:
        keys = [str(int(j)) for j in sel]
    kind_col = _find(data, KIND_FIELDS)
    kinds: list[str] = []
    if layer == "shelters":
        kinds = ["emergency_shelter"] * n
    elif layer == "resources":
        if kind_col is None:
            kinds = ["material_depot"] * n
            warnings.append("no kind/类型 field: every resource imported as material_depot (give a kind: "
                            + ", ".join(sorted({v for v in RESOURCE_KINDS.values()})) + ")")
        else:
            for i, v in enumerate(kind_col[1][sel].tolist()):
                t = _text(v)
                k = RESOURCE_KINDS.get(t) or RESOURCE_KINDS.get(t.lower())
                if k is None:
                    raise err(i, f"{t!r} is not a resource kind (one of: "
                                 + ", ".join(sorted(set(RESOURCE_KINDS.values()))) + ", or 消防站, 物资库, 救援队伍, "
                                 "医疗点...)", kind_col[0])
                kinds.append(k)
    else:
        for v in (kind_col[1][sel].tolist() if kind_col else [None] * n):
            t = _text(v)
            kinds.append(PLACE_KINDS.get(t) or (t.lower() if _WORD.match(t.lower()) else "place"))
    capacity: list[int | None] = [None] * n
    if layer == "shelters":
        cap_col = _find(data, CAPACITY_FIELDS)
        if cap_col is None:
            warnings.append(f"no capacity field (one of: {', '.join(CAPACITY_FIELDS[:3])}): shelters imported "
                            "without capacity")
        else:
            for i, v in enumerate(cap_col[1][sel].tolist()):
                try:
                    f = _number(v)
                except ValueError:
                    raise err(i, f"{v!r} is not a number of people", cap_col[0]) from None
                if f is None:
                    continue
                if f < 0 or not math.isfinite(f):
                    raise err(i, f"{f:g} people: a capacity must be 0 or more", cap_col[0])
                capacity[i] = int(round(f))
    xy = shapely.get_coordinates(points)
    entities = []
    counts: dict[str, int] = {}
    for i in range(n):
        p = json.loads(props[i])
        p.update(gis_layer=layer, gis_index=int(sel[i]))
        if capacity[i] is not None:
            p["capacity"] = capacity[i]
        entities.append({"id": f"gis.{layer}.{keys[i]}", "site_id": None, "kind": kinds[i], "name": names[i],
                         "name_en": names_en[i], "plugin": ENTITY_PLUGIN,
                         "geometry": {"type": "Point", "coordinates": [round(float(xy[i, 0]), 7),
                                                                       round(float(xy[i, 1]), 7)]},
                         "properties": p, "updated_at": time.time()})
        counts[kinds[i]] = counts.get(kinds[i], 0) + 1
    summary = {"entities": n, "kinds": counts, "id_field": id_col[0] if id_col else None,
               "name_field": fname}
    if layer == "shelters":
        summary["capacity"] = int(sum(c for c in capacity if c))
    return kinds, entities, summary


# --------------------------------------------------------------------------- attributes
def _json_fragments(name: str, col: np.ndarray) -> list[str]:
    """``,"name":value`` per feature (an empty string for null), built a column at a time."""
    key = "," + encode_basestring(name) + ":"
    kind = col.dtype.kind
    if kind == "f":
        finite = np.isfinite(col).tolist()
        return [key + repr(v) if ok else "" for v, ok in zip(col.tolist(), finite)]
    if kind in "iu":
        return [key + str(v) for v in col.tolist()]
    if kind == "b":
        return [key + ("true" if v else "false") for v in col.tolist()]
    if kind in "US":
        col = col.astype(object)
    out = []
    for v in col.tolist():
        t = type(v)
        if t is str:
            out.append(key + encode_basestring(v))
        elif v is None:
            out.append("")
        elif t is bool:
            out.append(key + ("true" if v else "false"))
        elif t is int:
            out.append(key + str(v))
        elif t is float:
            out.append(key + repr(v) if math.isfinite(v) else "")
        elif isinstance(v, (bytes, bytearray)):
            out.append("")
        else:
            out.append(key + json.dumps(v, ensure_ascii=False, default=str))
    return out


def _properties_json(data: VectorData, sel: np.ndarray, skip: Any = ()) -> list[str]:
    """Each feature's attributes as a JSON object text (nulls and the ``skip`` fields left out)."""
    whole = len(sel) == len(data)
    cols = [_json_fragments(n, c if whole else c[sel]) for n, c in zip(data.field_names, data.fields)
            if n not in skip]
    if not cols:
        return ["{}"] * len(sel)
    return ["{" + r[1:] + "}" for r in map("".join, zip(*cols))]


# --------------------------------------------------------------------------- checks
def gcj02_check(lon: np.ndarray, lat: np.ndarray, converted: bool = False, sample: int = 4000) -> str | None:
    """A warning when the data fits the base map's land clearly better shifted by the GCJ-02 offset.

    Without ``converted``: data that fits far better with the offset undone looks like GCJ-02. With
    it (after ``--gcj02``): data that fits far better with the conversion undone was WGS-84 already.
    The offset must beat not only the data as it is but every shift of the same length in other
    directions (45° and more away), so a coast that moved (reclaimed land) is not taken for it.
    """
    try:
        from core.geo.basemap import basemap_bbox, land_polygon
        land = land_polygon()
        west, south, east, north = basemap_bbox()
    except Exception:  # no base map: nothing to compare with
        return None
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    inside = (lon > west + 0.02) & (lon < east - 0.02) & (lat > south + 0.02) & (lat < north - 0.02)
    idx = np.flatnonzero(inside)
    if len(idx) < 20:
        return None
    if len(idx) > sample:
        idx = np.sort(np.random.default_rng(0).choice(idx, sample, replace=False))
    x, y = lon[idx], lat[idx]
    cx, cy = float(np.median(x)), float(np.median(y))
    gx, gy = wgs84_to_gcj02(cx, cy)
    dx, dy = float(gx) - cx, float(gy) - cy  # the GCJ-02 offset here, degrees
    if dx == 0 and dy == 0:
        return None
    sx, sy = (dx, dy) if converted else (-dx, -dy)  # the shift that would fix the suspected mistake
    kx = 111_320.0 * math.cos(math.radians(cy))
    mx, my = sx * kx, sy * 110_540.0
    dist = math.hypot(mx, my)
    ang = math.atan2(my, mx)

    def off_land(ox: float, oy: float) -> int:
        return int((~shapely.contains_xy(land, x + ox, y + oy)).sum())

    n0 = off_land(0.0, 0.0)
    n_fix = off_land(sx, sy)
    controls = []
    for deg in (45, 90, 135, 180, 225, 270, 315):
        a = ang + math.radians(deg)
        controls.append(off_land(dist * math.cos(a) / kx, dist * math.sin(a) / 110_540.0))
    total = len(idx)
    if n0 >= max(5, 0.02 * total) and n_fix <= 0.5 * n0 and n_fix < min(controls):
        if converted:
            return (f"with --gcj02 the data fits the coastline worse than without: {n0} of {total} sampled points "
                    f"fall in the sea or the river, {n_fix} without the conversion; it may already be WGS-84: "
                    "re-import without --gcj02")
        return (f"looks like GCJ-02 (~{dist:.0f} m offset): {n0} of {total} sampled points fall in the sea or the "
                f"river, {n_fix} after converting GCJ-02 → WGS-84; re-import with --gcj02")
    return None


def _far_from_district(lon: np.ndarray, lat: np.ndarray) -> str | None:
    try:
        from core.geo.basemap import basemap_bbox
        west, south, east, north = basemap_bbox()
    except Exception:
        return None
    inside = (lon >= west) & (lon <= east) & (lat >= south) & (lat <= north)
    if inside.any():
        return None
    return (f"no point lies in the base map's area ({west:g}–{east:g}°E, {south:g}–{north:g}°N): the data is "
            f"around {float(np.median(lon)):.4f}°E, {float(np.median(lat)):.4f}°N; check the coordinate system")


# --------------------------------------------------------------------------- DEM
def _prepare_dem(path: Path, display: str, crs: str | None, gcj02: bool, max_bytes: int) -> _Prepared:
    import rasterio
    from rasterio.crs import CRS as RioCRS
    from rasterio.io import MemoryFile
    from rasterio.transform import array_bounds
    from rasterio.warp import Resampling, calculate_default_transform, reproject

    r = read_raster(path, display, max_bytes=max_bytes)
    file_crs = r.crs.to_wkt() if r.crs else None
    tr, warnings = _resolve_crs(file_crs, crs, display)
    src_crs = RioCRS.from_wkt(tr.crs.to_wkt())
    values, transform = r.values, r.transform
    height, width = values.shape
    if not tr.identity:
        target = tr.crs.geodetic_crs if tr.crs.geodetic_crs is not None else None
        dst = RioCRS.from_wkt(target.to_wkt()) if target is not None and "China 2000" in (target.datum.name or "") \
            else RioCRS.from_epsg(4326)
        west, south, east, north = array_bounds(height, width, transform)
        with warnings_module.catch_warnings():
            # rasterio 1.4 multiplies affine matrices with "*", which affine 3 deprecates: not ours to fix
            warnings_module.simplefilter("ignore", PendingDeprecationWarning)
            try:
                dst_tr, w2, h2 = calculate_default_transform(src_crs, dst, width, height, west, south, east, north)
            except Exception as exc:  # rasterio raises CRSError / CPLE_* for unusable systems
                raise GisImportError(display, f"cannot be reprojected from {tr.label} to lon/lat: {exc}") from None
            out = np.full((h2, w2), np.nan, dtype="float32")
            reproject(values, out, src_transform=transform, src_crs=src_crs, dst_transform=dst_tr, dst_crs=dst,
                      src_nodata=np.nan, dst_nodata=np.nan, resampling=Resampling.bilinear)
        values, transform = out, dst_tr
        height, width = values.shape
    west, south, east, north = array_bounds(height, width, transform)
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        raise GisImportError(display, f"its extent ({west:.6g}, {south:.6g}, {east:.6g}, {north:.6g}) is not "
                                      f"longitude/latitude after converting from {tr.label}"
                                      + _coordinate_hint(west, south, tr))
    if gcj02:
        cx, cy = (west + east) / 2, (south + north) / 2
        wx, wy = gcj02_to_wgs84(cx, cy)
        ox, oy = float(wx) - cx, float(wy) - cy
        transform = rasterio.Affine(transform.a, transform.b, transform.c + ox, transform.d, transform.e,
                                    transform.f + oy)
        west, south, east, north = west + ox, south + oy, east + ox, north + oy
    finite = np.isfinite(values)
    if not finite.any():
        raise GisImportError(display, "band 1 holds no data (every cell is nodata)")
    lo, hi = ELEVATION_RANGE
    bad = finite & ((values < lo) | (values > hi))
    if bad.any():
        row, col = (int(v) for v in np.argwhere(bad)[0])
        raise GisImportError(display, f"{float(values[row, col]):g} m is not a plausible elevation (is the file's "
                                      "nodata value set?)", field=f"band 1, row {row}, column {col}")
    far = _far_from_district(np.array([west, east, (west + east) / 2]), np.array([south, north, (south + north) / 2]))
    if far:
        warnings.append(far)
    with MemoryFile() as mem:
        with mem.open(driver="GTiff", width=width, height=height, count=1, dtype="float32", crs="EPSG:4326",
                      transform=transform, nodata=float("nan"), compress="deflate", predictor=3,
                      tiled=width >= 256 and height >= 256) as dst:
            dst.write(values.astype("float32"), 1)
        blob = mem.read()
    cell_m = abs(transform.a) * 111_320.0 * math.cos(math.radians((south + north) / 2))
    summary = {"width": int(width), "height": int(height), "res_deg": [abs(transform.a), abs(transform.e)],
               "cell_m": round(cell_m, 2), "min_m": round(float(np.nanmin(values)), 2),
               "max_m": round(float(np.nanmax(values)), 2),
               "nodata_share": round(1.0 - float(finite.mean()), 4), "bytes": len(blob),
               "source_cells": [int(r.values.shape[1]), int(r.values.shape[0])]}
    return _Prepared(layer="dem", display=display, source_crs=tr.label, gcj02=gcj02, feature_count=1,
                     bounds=[round(west, 7), round(south, 7), round(east, 7), round(north, 7)],
                     warnings=warnings, summary=summary, raster=blob)


# --------------------------------------------------------------------------- storage
def _layer_range(layer: str) -> tuple[int, int]:
    base = LAYER_NUMBERS[layer] << 32
    return base, base + (1 << 32) - 1


def _store(store: Any, p: _Prepared, actor: str) -> ImportResult:
    from sqlalchemy.exc import IntegrityError, SQLAlchemyError
    F, I, E, R, A = (twin.GisFeature.__table__, twin.GisImport.__table__, twin.Entity.__table__,
                     twin.GisRaster.__table__, twin.AuditEntry.__table__)
    engine = store.engine
    pg = engine.dialect.name == "postgresql"
    ph = "%s" if engine.dialect.paramstyle in ("format", "pyformat") else "?"
    # the layer is one of LAYERS (checked on entry): written into the statement, one parameter less a row
    assert p.layer in LAYERS
    sql = (f"INSERT INTO gis_feature (id, layer, idx, kind, name, speed_kmh, oneway, geometry, properties) "
           f"VALUES ({ph}, '{p.layer}', {', '.join([ph] * 6)}, {ph + '::json' if pg else ph})")
    lo, hi = _layer_range(p.layer)
    now = time.time()
    try:
        with engine.begin() as conn:
            if pg:  # one import of a layer at a time across processes
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({0x67697300 + LAYER_NUMBERS[p.layer]})")
            old = conn.execute(select(I).where(I.c.layer == p.layer)).mappings().first()
            conn.execute(delete(F).where(F.c.id.between(lo, hi)))
            for rows in p.rows:
                _bulk_insert(conn, sql, rows, pg)
            if p.finish is not None:
                p.finish()
            if p.layer in POINT_LAYERS:
                conn.execute(delete(E).where(E.c.plugin == ENTITY_PLUGIN,
                                             E.c.id.startswith(f"gis.{p.layer}.", autoescape=True)))
                if p.entities:
                    conn.execute(insert(E), p.entities)
            if p.raster is not None:
                conn.execute(delete(R).where(R.c.layer == p.layer))
                conn.execute(insert(R).values(layer=p.layer, data=p.raster))
            revision = (int(old["revision"]) + 1) if old else 1
            conn.execute(delete(I).where(I.c.layer == p.layer))
            conn.execute(insert(I).values(layer=p.layer, revision=revision, file_name=p.display[:256],
                                          sha256=p.sha256, source_crs=p.source_crs[:256], gcj02=p.gcj02,
                                          feature_count=p.feature_count, bounds=p.bounds, warnings=p.warnings,
                                          summary=p.summary, imported_at=now, actor=actor[:64]))
            before = ({"file": old["file_name"], "sha256": old["sha256"], "features": old["feature_count"]}
                      if old else None)
            conn.execute(insert(A).values(ts=now, actor=actor[:64], action="gis.import", target=f"gis:{p.layer}",
                                          old=before, new={"file": p.display, "sha256": p.sha256,
                                                           "features": p.feature_count, "crs": p.source_crs,
                                                           "gcj02": p.gcj02, "warnings": len(p.warnings)}))
    except IntegrityError as exc:
        raise GisImportError(p.display, f"could not be stored (another import of {p.layer} at the same time?): "
                                        f"{str(exc.orig).splitlines()[0]}") from None
    except SQLAlchemyError as exc:
        raise GisImportError(p.display, f"could not be stored: {str(exc).splitlines()[0]}") from None
    return ImportResult(layer=p.layer, file_name=p.display, sha256=p.sha256, source_crs=p.source_crs,
                        gcj02=p.gcj02, feature_count=p.feature_count, bounds=p.bounds, warnings=p.warnings,
                        summary=p.summary, revision=revision, actor=actor)


#: rows made and stored at a time
_CHUNK = 10_000
#: rows per INSERT statement on SQLite (fewer statement steps; 9 × 100 parameters stays under SQLite's limit)
_ROWS_PER_STATEMENT = 100


@dataclass
class _Packed:
    """Rows grouped for multi-row INSERT statements: ``groups`` of _ROWS_PER_STATEMENT rows (flattened)
    and the ``rest`` row by row."""

    groups: list[tuple]
    rest: list[tuple]

    def __len__(self) -> int:
        return len(self.groups) * _ROWS_PER_STATEMENT + len(self.rest)


def _pack(rows: list[tuple]) -> _Packed:
    k = _ROWS_PER_STATEMENT
    full = len(rows) // k * k
    if full == 0:
        return _Packed([], rows)
    width = len(rows[0]) * k
    flat = [v for r in rows[:full] for v in r]
    return _Packed([tuple(flat[i:i + width]) for i in range(0, len(flat), width)], rows[full:])


def _bulk_insert(conn: Any, sql: str, rows: list[tuple] | _Packed, pg: bool) -> None:
    """executemany of ``rows``; on SQLite many rows go in one INSERT ... VALUES (...), (...) statement."""
    if not isinstance(rows, _Packed):
        if pg or len(rows) < 2 * _ROWS_PER_STATEMENT:
            if rows:
                conn.exec_driver_sql(sql, rows)
            return
        rows = _pack(rows)
    if rows.groups:
        head, one = sql.split(" VALUES ")
        conn.exec_driver_sql(f"{head} VALUES {', '.join([one] * _ROWS_PER_STATEMENT)}", rows.groups)
    if rows.rest:
        conn.exec_driver_sql(sql, rows.rest)


def drop_layer(store: Any, layer: str, actor: str = "cli") -> bool:
    """Remove a layer's import (features, entities, raster), audited. False when there was none."""
    if layer not in LAYERS:
        raise TwinboardError(f"gis drop: the layer must be one of {', '.join(LAYERS)}, not {layer!r}")
    F, I, E, R, A = (twin.GisFeature.__table__, twin.GisImport.__table__, twin.Entity.__table__,
                     twin.GisRaster.__table__, twin.AuditEntry.__table__)
    lo, hi = _layer_range(layer)
    with store.engine.begin() as conn:
        old = conn.execute(select(I).where(I.c.layer == layer)).mappings().first()
        if old is None:
            return False
        conn.execute(delete(F).where(F.c.id.between(lo, hi)))
        conn.execute(delete(E).where(E.c.plugin == ENTITY_PLUGIN, E.c.id.startswith(f"gis.{layer}.", autoescape=True)))
        conn.execute(delete(R).where(R.c.layer == layer))
        conn.execute(delete(I).where(I.c.layer == layer))
        conn.execute(insert(A).values(ts=time.time(), actor=actor[:64], action="gis.drop", target=f"gis:{layer}",
                                      old={"file": old["file_name"], "sha256": old["sha256"],
                                           "features": old["feature_count"]}, new=None))
    return True


# =========================================================================== reading back
def imports(store: Any) -> list[twin.GisImport]:
    """The current import of every layer that has one."""
    with store.session() as db:
        return list(db.scalars(select(twin.GisImport).order_by(twin.GisImport.layer)).all())


def import_row(store: Any, layer: str) -> twin.GisImport | None:
    with store.session() as db:
        return db.get(twin.GisImport, layer)


def _stamp(store: Any, layer: str) -> tuple | None:
    I = twin.GisImport.__table__
    with store.engine.connect() as conn:
        row = conn.execute(select(I.c.revision, I.c.imported_at, I.c.sha256).where(I.c.layer == layer)).first()
    return (layer, *row) if row else None


def imported_features(store: Any, layer: str) -> list[dict[str, Any]]:
    """A layer's features as GeoJSON Feature dicts (WGS-84), in file order; [] when not imported."""
    F = twin.GisFeature.__table__
    lo, hi = _layer_range(layer)
    with store.engine.connect() as conn:
        rows = conn.execute(select(F.c.idx, F.c.kind, F.c.name, F.c.speed_kmh, F.c.geometry, F.c.properties)
                            .where(F.c.id.between(lo, hi)).order_by(F.c.id)).all()
    if not rows:
        return []
    geoms = shapely.to_geojson(shapely.from_wkb([r.geometry for r in rows]))
    summary = (import_row(store, layer).summary or {}) if layer == "roads" else {}
    name_field, class_field = summary.get("name_field"), summary.get("class_field")
    out = []
    for r, g in zip(rows, geoms):
        props = dict(r.properties or {})
        if name_field and r.name:
            props[name_field] = r.name
        if class_field and r.kind:
            props[class_field] = r.kind
        props.update(gis_index=r.idx, gis_kind=r.kind)
        if r.speed_kmh is not None:
            props["speed_kmh"] = r.speed_kmh
        out.append({"type": "Feature", "id": r.idx, "geometry": json.loads(g), "properties": props})
    return out


_cache_lock = threading.Lock()
_road_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_dem_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def imported_roads(store: Any) -> RoadTopology | None:
    """The imported road network's topology (nodes, edges, speeds), or None when no roads were imported.

    Cached per store until the roads are imported again (``RoadTopology.stamp`` changes).
    """
    stamp = _stamp(store, "roads")
    if stamp is None:
        return None
    with _cache_lock:
        hit = _road_cache.get(store)
        if hit is not None and hit.stamp == stamp:
            return hit
    F = twin.GisFeature.__table__
    lo, hi = _layer_range("roads")
    with store.engine.connect() as conn:
        rows = conn.execute(select(F.c.idx, F.c.kind, F.c.name, F.c.speed_kmh, F.c.oneway, F.c.geometry)
                            .where(F.c.id.between(lo, hi), F.c.speed_kmh.is_not(None)).order_by(F.c.id)).all()
    if rows:
        idx, kind, name, speed, oneway, geom = (list(c) for c in zip(*rows))
        wkb = np.empty(len(geom), dtype=object)
        wkb[:] = [bytes(g) for g in geom]
        args = (np.array(idx, dtype=np.int64), np.array(speed, dtype=float), np.array(kind, dtype=object),
                np.array(name, dtype=object), np.array(oneway, dtype=np.int8))
        plain = _plain_linestrings(wkb)
        topo = topology_from_lines(plain[0], plain[1], *args) if plain is not None \
            else build_topology(shapely.from_wkb(wkb), *args)
    else:
        topo = build_topology(np.zeros(0, object), np.zeros(0, np.int64), np.zeros(0), np.zeros(0, object),
                              np.zeros(0, object), np.zeros(0, np.int8))
    topo.stamp = stamp
    with _cache_lock:
        _road_cache[store] = topo
    return topo


def imported_dem(store: Any) -> tuple[np.ndarray, tuple[float, float, float, float]] | None:
    """The imported DEM as (elevations in metres, float32, north row first, NaN for no data;
    (west, south, east, north) in WGS-84 degrees), or None when no DEM was imported. Cached."""
    stamp = _stamp(store, "dem")
    if stamp is None:
        return None
    with _cache_lock:
        hit = _dem_cache.get(store)
        if hit is not None and hit[0] == stamp:
            return hit[1]
    from rasterio.io import MemoryFile
    from rasterio.transform import array_bounds
    R = twin.GisRaster.__table__
    with store.engine.connect() as conn:
        blob = conn.execute(select(R.c.data).where(R.c.layer == "dem")).scalar()
    if blob is None:
        return None
    with MemoryFile(bytes(blob)) as mem, mem.open() as src:
        arr = src.read(1).astype("float32")
        bounds = tuple(float(b) for b in array_bounds(src.height, src.width, src.transform))
    value = (arr, bounds)
    with _cache_lock:
        _dem_cache[store] = (stamp, value)
    return value  # type: ignore[return-value]
