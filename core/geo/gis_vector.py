"""A vector file made ready to store (part of :mod:`core.geo.gis_import`): every layer but the DEM.

:func:`prepare_vector` reads the file (``core.geo.readers``), picks an OSM file's features for the
layer, checks each geometry (readable, of the layer's type, not empty), converts the coordinates
to WGS-84 lon/lat (``core.geo.gis_coordinates``; GCJ-02 on request) and checks them, and builds
the ``gis_feature`` rows: roads with their columns and road graph (``core.geo.gis_roads``),
boundaries with name and kind, point layers with their entities (``core.geo.gis_points``).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from core.geo.gcj02 import gcj02_to_wgs84
from core.geo.gis_coordinates import coordinate_hint, far_from_district, gcj02_check, resolve_crs
from core.geo.gis_fields import NAME_FIELDS, field_text, find_field, properties_json
from core.geo.gis_points import OSM_RESOURCE_KINDS, point_entities
from core.geo.gis_roads import plain_linestrings, road_columns, road_summary, road_topology
from core.geo.gis_store import CHUNK_ROWS, LAYER_NUMBERS, PreparedLayer, pack_rows
from core.geo.readers import GisImportError, VectorData, read_vector


def prepare_vector(path: Path, display: str, layer: str, crs: str | None, gcj02: bool,
                   source_layer: str | None, max_bytes: int, multi_row: bool = False) -> PreparedLayer:
    """Read and check ``path`` as vector layer ``layer``; raises :class:`GisImportError` at the first
    bad feature. ``multi_row``: pack the rows for SQLite's multi-row INSERT."""
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
    tr, crs_warnings = resolve_crs(data.crs, crs, display)
    warnings += crs_warnings

    def err(i: int, message: str, fld: str | None = None) -> GisImportError:
        """An error about feature ``i`` (position in ``sel``)."""
        idx = int(sel[i])
        return GisImportError(display, message, feature=idx, field=fld, fid=data.fid_label(idx))

    # -- geometry: readable, of the layer's type, not empty ----------------------------------
    wkb = data.wkb[sel] if len(sel) != n_all else data.wkb
    # roads already in lon/lat: the vertices straight from the WKB (the topology needs no shapely objects)
    plain = plain_linestrings(wkb) if layer == "roads" and tr.identity and not gcj02 else None
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
                                f"from {tr.label}" + coordinate_hint(x, y, tr))
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
    far = far_from_district(lon, lat)
    if far:
        warnings.append(far)
    bounds = [round(float(lon.min()), 7), round(float(lat.min()), 7),
              round(float(lon.max()), 7), round(float(lat.max()), 7)]
    idx = sel.astype(np.int64)
    skip: set[str] = set()
    prepared = PreparedLayer(layer=layer, display=display, source_crs=tr.label, gcj02=gcj02, feature_count=len(sel),
                             bounds=bounds, warnings=warnings, summary={})
    if layer == "roads":
        # the graph's topology is worked out in a thread (numpy and the KD-tree leave the GIL) while the
        # attributes are encoded and the rows stored; the import row waits for it (PreparedLayer.finish)
        kind, name, speed, oneway, summary = road_columns(data, sel, err, warnings)
        # the name and class fields live in their own columns (verbatim): not repeated in properties
        skip = {summary["name_field"], summary["class_field"]} - {None}
        pool = ThreadPoolExecutor(1, thread_name_prefix="gis-topology")
        future = pool.submit(road_topology, geoms, idx, speed, kind, name, oneway,
                             (coords, cidx) if geoms is None else None)
        pool.shutdown(wait=False)
        prepared.finish = lambda: road_summary(future.result(), summary, warnings)
    base = LAYER_NUMBERS[layer] << 32
    ids = (base + idx).tolist()
    if layer in ("roads", "boundary"):
        if layer == "roads":
            speed_obj = speed.astype(object)
            speed_obj[np.isnan(speed)] = None
            columns = [kind.tolist(), name.tolist(), speed_obj.tolist(), oneway.tolist()]
            prepared.summary = summary
        else:
            name_col = find_field(data, NAME_FIELDS)
            names = [field_text(v) for v in name_col[1][sel]] if name_col else [""] * len(sel)
            kcol = find_field(data, ("boundary", "admin_level", "kind", "type", "类型"))
            kinds = [(field_text(v) or "boundary")[:64] for v in kcol[1][sel]] if kcol else ["boundary"] * len(sel)
            columns = [kinds, names, [None] * len(sel), [0] * len(sel)]
            area = float(sum(shapely.area(geoms)))  # degrees², for the record only
            prepared.summary = {"polygons": int(sum(shapely.get_num_geometries(geoms))), "area_deg2": round(area, 8)}
        skip = skip if layer == "roads" else set()
        wkb_list = wkb_out.tolist()
        idx_list = idx.tolist()

        def chunk(lo: int, hi: int) -> Any:
            props = properties_json(data, sel[lo:hi], skip)
            rows = list(zip(ids[lo:hi], idx_list[lo:hi], *(c[lo:hi] for c in columns),
                            wkb_list[lo:hi], props))
            return pack_rows(rows) if multi_row else rows
        # rows are made a chunk at a time as the store inserts them (less memory than all at once)
        prepared.rows = (chunk(lo, min(len(sel), lo + CHUNK_ROWS)) for lo in range(0, len(sel), CHUNK_ROWS))
    else:
        props = properties_json(data, sel)
        # a point is itself; a polygon (a shelter's area) or a multipoint is represented by a point inside it
        points = np.where(type_ids == 0, geoms, shapely.point_on_surface(geoms))
        kinds, entities, summary = point_entities(data, sel, layer, points, props, err, warnings, display)
        prepared.rows = [list(zip(ids, idx.tolist(), kinds, [e["name"] for e in entities],
                                  [None] * len(ids), [0] * len(ids), wkb_out.tolist(), props))]
        prepared.entities = entities
        prepared.summary = summary
    return prepared


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
