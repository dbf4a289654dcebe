"""A DEM made ready to store (part of :mod:`core.geo.gis_import`): the ``dem`` layer.

:func:`prepare_dem` reads a one-band GeoTIFF (``core.geo.readers``), reprojects it to lon/lat
(CGCS2000 kept as it is, everything else to WGS-84), shifts it out of GCJ-02 on request, checks
that it holds plausible elevations (:data:`ELEVATION_RANGE`) and writes it again as a deflate
GeoTIFF for ``gis_raster``.
"""

from __future__ import annotations

import math
import warnings as warnings_module
from pathlib import Path

import numpy as np

from core.geo.gcj02 import gcj02_to_wgs84
from core.geo.gis_coordinates import coordinate_hint, far_from_district, resolve_crs
from core.geo.gis_store import PreparedLayer
from core.geo.readers import GisImportError, read_raster

#: Plausible elevations (m) in a DEM; anything outside is an error (usually an unset nodata value).
ELEVATION_RANGE = (-500.0, 9000.0)


def prepare_dem(path: Path, display: str, crs: str | None, gcj02: bool, max_bytes: int) -> PreparedLayer:
    """Read and check ``path`` as the DEM; raises :class:`GisImportError` (with the band, row and
    column of a bad cell)."""
    import rasterio
    from rasterio.crs import CRS as RioCRS
    from rasterio.io import MemoryFile
    from rasterio.transform import array_bounds
    from rasterio.warp import Resampling, calculate_default_transform, reproject

    r = read_raster(path, display, max_bytes=max_bytes)
    file_crs = r.crs.to_wkt() if r.crs else None
    tr, warnings = resolve_crs(file_crs, crs, display)
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
                                      + coordinate_hint(west, south, tr))
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
    far = far_from_district(np.array([west, east, (west + east) / 2]), np.array([south, north, (south + north) / 2]))
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
    return PreparedLayer(layer="dem", display=display, source_crs=tr.label, gcj02=gcj02, feature_count=1,
                         bounds=[round(west, 7), round(south, 7), round(east, 7), round(north, 7)],
                         warnings=warnings, summary=summary, raster=blob)
