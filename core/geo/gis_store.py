"""The GIS import's tables (part of :mod:`core.geo.gis_import`): writing a layer, dropping it, reading it back.

A prepared layer (:class:`PreparedLayer`, made by ``core.geo.gis_vector`` or ``core.geo.gis_dem``)
is stored in one transaction that replaces the layer's ``gis_import`` row, its ``gis_feature`` rows
(ids ``LAYER_NUMBERS[layer] << 32 | index``, inserted in bulk), its entities (point layers) or its
``gis_raster`` (the DEM), and writes the audit entry. :func:`imported_features`,
:func:`imported_roads` and :func:`imported_dem` read a layer back (the last two cached per store
until the layer is imported again).
"""

from __future__ import annotations

import json
import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from sqlalchemy import delete, insert, select

from core.data import twin
from core.errors import TwinboardError
from core.geo.gis_roads import plain_linestrings
from core.geo.readers import GisImportError
from core.geo.roadgraph import RoadTopology, build_topology, topology_from_lines

LAYERS = ("roads", "boundary", "places", "shelters", "resources", "dem")
POINT_LAYERS = ("places", "shelters", "resources")
#: gis_feature.id = LAYER_NUMBERS[layer] << 32 | index: each layer one range of the primary key
LAYER_NUMBERS = {"roads": 1, "boundary": 2, "places": 3, "shelters": 4, "resources": 5, "dem": 6}
#: Entities made by the import carry this plugin name.
ENTITY_PLUGIN = "gis"
#: rows made and stored at a time
CHUNK_ROWS = 10_000
#: rows per INSERT statement on SQLite (fewer statement steps; 9 × 100 parameters stays under SQLite's limit)
ROWS_PER_STATEMENT = 100


@dataclass
class PreparedLayer:
    """A checked layer, ready to store: what the import row records and the rows to write."""

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


# --------------------------------------------------------------------------- storage
def _layer_range(layer: str) -> tuple[int, int]:
    base = LAYER_NUMBERS[layer] << 32
    return base, base + (1 << 32) - 1


def store_layer(store: Any, p: PreparedLayer, actor: str) -> int:
    """Store ``p`` in one transaction, replacing the layer's previous import; returns the new revision.
    Raises :class:`GisImportError` (nothing stored) when the database refuses it."""
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
    return revision


@dataclass
class PackedRows:
    """Rows grouped for multi-row INSERT statements: ``groups`` of ROWS_PER_STATEMENT rows (flattened)
    and the ``rest`` row by row."""

    groups: list[tuple]
    rest: list[tuple]

    def __len__(self) -> int:
        return len(self.groups) * ROWS_PER_STATEMENT + len(self.rest)


def pack_rows(rows: list[tuple]) -> PackedRows:
    """``rows`` grouped for SQLite's multi-row INSERT (done while the rows are made, off the transaction)."""
    k = ROWS_PER_STATEMENT
    full = len(rows) // k * k
    if full == 0:
        return PackedRows([], rows)
    width = len(rows[0]) * k
    flat = [v for r in rows[:full] for v in r]
    return PackedRows([tuple(flat[i:i + width]) for i in range(0, len(flat), width)], rows[full:])


def _bulk_insert(conn: Any, sql: str, rows: list[tuple] | PackedRows, pg: bool) -> None:
    """executemany of ``rows``; on SQLite many rows go in one INSERT ... VALUES (...), (...) statement."""
    if not isinstance(rows, PackedRows):
        if pg or len(rows) < 2 * ROWS_PER_STATEMENT:
            if rows:
                conn.exec_driver_sql(sql, rows)
            return
        rows = pack_rows(rows)
    if rows.groups:
        head, one = sql.split(" VALUES ")
        conn.exec_driver_sql(f"{head} VALUES {', '.join([one] * ROWS_PER_STATEMENT)}", rows.groups)
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


# --------------------------------------------------------------------------- reading back
def imports(store: Any) -> list[twin.GisImport]:
    """The current import of every layer that has one."""
    with store.session() as db:
        return list(db.scalars(select(twin.GisImport).order_by(twin.GisImport.layer)).all())


def import_row(store: Any, layer: str) -> twin.GisImport | None:
    """The current import of ``layer`` (its ``gis_import`` row), or None."""
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
        plain = plain_linestrings(wkb)
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
