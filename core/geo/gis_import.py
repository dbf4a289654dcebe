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

The import is split by job; this module is the entry point and keeps every public name importable:

* ``core.geo.gis_vector``: reading and checking a vector file (OSM selection, geometry, coordinates)
* ``core.geo.gis_fields``: finding a file's attribute columns and reading them; properties as JSON
* ``core.geo.gis_coordinates``: the coordinate system to convert from; GCJ-02 and far-from-district checks
* ``core.geo.gis_roads``: road speeds, classes, one-way, and the road graph's topology
* ``core.geo.gis_points``: places, shelters and resources as entities
* ``core.geo.gis_dem``: the DEM
* ``core.geo.gis_store``: storing a layer, dropping it, reading it back
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.geo.gis_dem import prepare_dem
from core.geo.gis_store import (LAYERS, POINT_LAYERS, drop_layer, import_row, imported_dem, imported_features,
                                imported_roads, imports, store_layer)
from core.geo.gis_vector import prepare_vector
from core.geo.readers import GisImportError, file_sha256

# The public names of the parts, importable from here as they were before the import was split.
from core.geo.gis_coordinates import gcj02_check  # noqa: F401
from core.geo.gis_dem import ELEVATION_RANGE  # noqa: F401
from core.geo.gis_fields import (CAPACITY_FIELDS, CLASS_FIELDS, ID_FIELDS, KIND_FIELDS,  # noqa: F401
                                 MAXSPEED_FIELDS, NAME_EN_FIELDS, NAME_FIELDS, ONEWAY_FIELDS, SPEED_FIELDS)
from core.geo.gis_points import OSM_RESOURCE_KINDS, PLACE_KINDS, RESOURCE_KINDS  # noqa: F401
from core.geo.gis_roads import SPEED_RANGE  # noqa: F401
from core.geo.gis_store import ENTITY_PLUGIN, LAYER_NUMBERS  # noqa: F401

__all__ = ["LAYERS", "ImportResult", "GisImportError", "import_file", "imports", "import_row", "drop_layer",
           "imported_features", "imported_roads", "imported_dem", "MAX_IMPORT_BYTES"]

#: The command line's size limit (the admin upload has its own, smaller one).
MAX_IMPORT_BYTES = 2 << 30


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
        """The result as a plain, JSON-ready dict."""
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
            prepared = prepare_dem(path, display, crs, gcj02, max_bytes)
        else:
            prepared = prepare_vector(path, display, layer, crs, gcj02, source_layer, max_bytes,
                                      multi_row=store.engine.dialect.name == "sqlite")
        prepared.sha256 = digest.result() if digest is not None else ""
    revision = store_layer(store, prepared, actor)
    p = prepared
    return ImportResult(layer=p.layer, file_name=p.display, sha256=p.sha256, source_crs=p.source_crs,
                        gcj02=p.gcj02, feature_count=p.feature_count, bounds=p.bounds, warnings=p.warnings,
                        summary=p.summary, revision=revision, actor=actor, seconds=time.perf_counter() - t0)
