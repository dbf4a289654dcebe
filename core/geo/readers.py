"""Reading GIS files for the import: vector formats through pyogrio (GDAL bundled), GeoTIFF through rasterio.

Vector formats: GeoJSON (``.geojson``/``.json``), a zipped Shapefile (``.zip`` holding one ``.shp``
with its ``.shx``/``.dbf``/``.prj``/``.cpg``; read in place through GDAL's ``/vsizip/``), a
Shapefile on disk (``.shp``), GeoPackage (``.gpkg``), OpenStreetMap XML (``.osm``) and PBF
(``.pbf``/``.osm.pbf``) through GDAL's OSM driver, and anything else GDAL reads (FlatGeobuf, KML...).
Rasters: GeoTIFF (``.tif``/``.tiff``).

Every problem is a :class:`GisImportError` that names the file (and, where it is about one feature,
the feature's index in the file, counted from 0, and the field).
"""

from __future__ import annotations

import os
import re
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import TwinboardError

#: Suffixes the admin upload accepts (the command line also passes anything else to GDAL).
VECTOR_SUFFIXES = (".geojson", ".json", ".zip", ".gpkg", ".osm", ".pbf", ".shp", ".fgb", ".kml")
RASTER_SUFFIXES = (".tif", ".tiff")
#: Formats with one layer (their layers are not listed first).
SINGLE_LAYER_SUFFIXES = (".geojson", ".json", ".zip", ".shp", ".fgb")
#: Which layer of an OpenStreetMap file (GDAL's OSM driver) each import layer reads.
OSM_LAYERS = {"roads": "lines", "boundary": "multipolygons", "places": "points", "shelters": "points",
              "resources": "points"}
#: Geometry types each import layer takes (Z/M variants included).
GEOMETRY_TYPES = {"roads": ("LineString", "MultiLineString"),
                  "boundary": ("Polygon", "MultiPolygon"),
                  "places": ("Point", "MultiPoint", "Polygon", "MultiPolygon"),
                  "shelters": ("Point", "MultiPoint", "Polygon", "MultiPolygon"),
                  "resources": ("Point", "MultiPoint", "Polygon", "MultiPolygon")}
#: A zip may expand to at most this many times the size limit (a zip bomb is refused before reading).
ZIP_EXPANSION = 8


class GisImportError(TwinboardError):
    """An import refused: ``file`` and, where known, ``feature`` (0-based index), ``fid`` and ``field``.

    Its text reads ``roads.geojson: feature 17: field 'speed_kmh': 'fast' is not a number``.
    """

    def __init__(self, file: str, message: str, *, feature: int | None = None, field: str | None = None,
                 fid: Any = None) -> None:
        self.file, self.feature, self.field, self.fid, self.reason = file, feature, field, fid, message
        parts = [file]
        if feature is not None:
            parts.append(f"feature {feature}" + (f" ({fid})" if fid not in (None, "") else ""))
        if field is not None:
            parts.append(f"field {field!r}")
        parts.append(message)
        super().__init__(": ".join(parts))


@dataclass
class VectorData:
    """One layer of a vector file as numpy arrays (pyogrio's raw read)."""

    display: str
    source: str
    layer_name: str
    driver: str
    #: the file's own coordinate system as GDAL reports it ("EPSG:4326", WKT...), None when it has none
    crs: str | None
    wkb: np.ndarray
    field_names: list[str]
    fields: list[np.ndarray]
    #: a label per feature for messages (OSM id, GeoPackage fid) where it differs from the index
    fids: np.ndarray | None = None
    encoding: str | None = None
    geometry_type: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.wkb)

    def column(self, name: str) -> np.ndarray | None:
        for n, col in zip(self.field_names, self.fields):
            if n == name:
                return col
        return None

    def fid_label(self, i: int) -> str | None:
        if self.fids is None:
            return None
        return f"{self.extra.get('fid_name', 'fid')} {self.fids[i]}"


def check_size(path: Path, display: str, max_bytes: int) -> int:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise GisImportError(display, f"cannot be read: {exc.strerror or exc}") from None
    if size > max_bytes:
        raise GisImportError(display, f"is {_mb(size)}, over the import limit of {_mb(max_bytes)}")
    if size == 0:
        raise GisImportError(display, "is empty")
    return size


def _mb(n: int) -> str:
    if n < 10_000:
        return f"{n:,} bytes"
    return f"{n / 1_000_000:.1f} MB" if n >= 100_000 else f"{n / 1000:.0f} kB"


def _zip_member(path: Path, display: str, max_bytes: int) -> tuple[str, str | None]:
    """The ``/vsizip/`` path of the one shapefile in a zip, and its encoding from a ``.cpg`` (or sniffed)."""
    try:
        with zipfile.ZipFile(path) as zf:
            infos = [i for i in zf.infolist() if not i.is_dir() and not i.filename.startswith("__MACOSX/")
                     and not Path(i.filename).name.startswith("._")]
            total = sum(i.file_size for i in infos)
            if total > max_bytes * ZIP_EXPANSION:
                raise GisImportError(display, f"expands to {_mb(total)}, over {ZIP_EXPANSION}× the import limit "
                                              f"of {_mb(max_bytes)}")
            names = [i.filename for i in infos]
            shps = [n for n in names if n.lower().endswith(".shp")]
            if not shps:
                shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "") if names else "nothing"
                raise GisImportError(display, f"the zip holds no .shp file (it holds: {shown}); "
                                              "zip the shapefile's .shp, .shx, .dbf, .prj and .cpg together")
            if len(shps) > 1:
                raise GisImportError(display, f"the zip holds {len(shps)} shapefiles ({', '.join(shps[:6])}): "
                                              "zip one shapefile per import")
            shp = shps[0]
            stem = shp[:-4]
            have = {n.lower() for n in names}
            missing = [ext for ext in (".shx", ".dbf") if f"{stem}{ext}".lower() not in have]
            if missing:
                raise GisImportError(display, f"{shp} comes without {', '.join(stem + e for e in missing)} "
                                              "(a shapefile needs .shp, .shx and .dbf; .prj gives its coordinate "
                                              "system, .cpg its text encoding)")
            encoding = None
            cpg = next((n for n in names if n.lower() == f"{stem}.cpg".lower()), None)
            if cpg is None:
                dbf = next(n for n in names if n.lower() == f"{stem}.dbf".lower())
                encoding = sniff_dbf_encoding(zf.read(dbf))
    except zipfile.BadZipFile as exc:
        raise GisImportError(display, f"is not a readable zip file: {exc}") from None
    except OSError as exc:
        raise GisImportError(display, f"cannot be read: {exc}") from None
    return f"/vsizip/{path.resolve()}/{shp}", encoding


def sniff_dbf_encoding(data: bytes) -> str | None:
    """The text encoding of a .dbf without a .cpg: None (let GDAL decide: its language driver byte, or
    UTF-8) unless the records are not UTF-8 but read as GBK — the usual encoding of Chinese desktop GIS
    exports (ArcGIS, MapGIS) — then "GBK"."""
    if len(data) < 32:
        return None
    ldid = data[29]
    if ldid not in (0,):
        return None  # GDAL maps a set language-driver byte itself (e.g. 0x4D = CP936)
    header_len = int.from_bytes(data[8:10], "little")
    body = data[header_len:header_len + 2_000_000]
    try:
        body.decode("utf-8")
        return None
    except UnicodeDecodeError as exc:
        if exc.start > len(body) - 4:  # cut in the middle of a character at our window's end
            return None
    try:
        body.decode("gbk")
        return "GBK"
    except UnicodeDecodeError:
        return None


def _layers(source: str, display: str) -> list[tuple[str, str]]:
    import pyogrio
    from pyogrio.errors import DataSourceError
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # read_vector reports them when it reads
            return [(str(n), str(t)) for n, t in pyogrio.list_layers(source)]
    except DataSourceError as exc:
        raise GisImportError(display, f"is not a GIS file GDAL can read: {_gdal_message(exc)}") from None
    except OSError as exc:
        raise GisImportError(display, f"cannot be read: {exc}") from None


def _gdal_message(exc: BaseException | str) -> str:
    text = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
    text = re.split(r"[.;] It might help", text)[0]  # GDAL's hint about driver prefixes
    # GDAL's messages repeat the (maybe temporary) path: the file is named by the caller already
    text = re.sub(r"'?(/vsizip/)?/[^ ']*'?", "the file", text)
    if "not recognized as being in a supported file format" in text:
        return "GDAL knows no format for it (or its suffix does not match its content)"
    if len(text) > 160 and ";" in text:  # GDAL's SQL and the like: keep the reason at the end
        text = text.rsplit(";", 1)[1].strip()
    return text


def _base_type(t: str) -> str:
    return t.replace(" Z", "").replace(" M", "").replace("25D", "").replace("3D ", "").strip()


def read_vector(path: Path, display: str, target: str, source_layer: str | None = None,
                max_bytes: int = 1 << 30) -> VectorData:
    """Read the features for import layer ``target`` (roads, boundary, places, shelters, resources)."""
    from pyogrio import raw
    from pyogrio.errors import DataLayerError, DataSourceError, FieldError, GeometryError

    check_size(path, display, max_bytes)
    name = path.name.lower()
    encoding: str | None = None
    if name.endswith(".zip"):
        source, encoding = _zip_member(path, display, max_bytes)
    else:
        source = str(path)
        if name.endswith(".shp"):
            for ext in (".shx", ".dbf"):
                if not path.with_suffix(ext).exists() and not path.with_suffix(ext.upper()).exists():
                    raise GisImportError(display, f"{path.with_suffix(ext).name} is missing beside it "
                                                  "(a shapefile needs .shp, .shx and .dbf)")
            if not path.with_suffix(".cpg").exists() and path.with_suffix(".dbf").exists():
                with open(path.with_suffix(".dbf"), "rb") as fh:
                    encoding = sniff_dbf_encoding(fh.read(2_100_000))
    is_osm = name.endswith((".osm", ".pbf"))
    single = name.endswith(SINGLE_LAYER_SUFFIXES) and source_layer is None
    # listing the layers of a GeoJSON file parses all of it: single-layer formats skip it
    layers = [] if single or (is_osm and source_layer is None) else _layers(source, display)
    if not layers and not single and not is_osm:
        raise GisImportError(display, "holds no vector layer")
    wanted = GEOMETRY_TYPES[target]
    if single:
        layer = None
    elif source_layer is not None:
        if source_layer not in [n for n, _ in layers]:
            raise GisImportError(display, f"has no layer {source_layer!r} (it has: "
                                          f"{', '.join(f'{n} ({t})' for n, t in layers)})")
        layer = source_layer
    elif is_osm:
        layer = OSM_LAYERS[target]
    elif len(layers) == 1:
        layer = layers[0][0]
    else:
        fits = [n for n, t in layers if _base_type(t) in wanted or t in ("Unknown", "Geometry", "GeometryCollection")]
        if len(fits) != 1:
            raise GisImportError(display, f"holds {len(layers)} layers ({', '.join(f'{n} ({t})' for n, t in layers)}): "
                                          "choose one with --layer")
        layer = fits[0]
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", RuntimeWarning)
            meta, fids, wkb, fields = raw.read(source, layer=layer, encoding=encoding, force_2d=True,
                                               return_fids=True, datetime_as_string=True)
    except (DataSourceError, DataLayerError) as exc:
        raise GisImportError(display, f"is not a GIS file GDAL can read: {_gdal_message(exc)}") from None
    except (FieldError, GeometryError) as exc:
        raise GisImportError(display, f"layer {layer!r} cannot be read: {_gdal_message(exc)}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise GisImportError(display, f"cannot be read: {exc}") from None
    if wkb is None:
        raise GisImportError(display, f"layer {layer!r} has no geometry column")
    names = [str(n) for n in meta["fields"]]
    fields = list(fields)
    driver = str(meta.get("driver") or "") or ("OSM" if is_osm else "GPKG" if name.endswith(".gpkg") else "")
    data = VectorData(display=display, source=source, layer_name=layer or "", driver=driver, crs=meta.get("crs"),
                      wkb=wkb, field_names=names, fields=fields, encoding=meta.get("encoding"),
                      geometry_type=str(meta.get("geometry_type") or ""))
    # what GDAL said while reading (repairs, skipped records...), for the import's warnings
    data.extra["gdal_warnings"] = list(dict.fromkeys(
        f"GDAL: {_gdal_message(w.message)}" for w in caught if issubclass(w.category, RuntimeWarning)))[:5]
    if is_osm or driver == "OSM":
        _osm_tags(data)
    elif fids is not None and len(fids) and driver == "GPKG":
        data.fids = np.asarray(fids)
    return data


_HSTORE = re.compile(r'"((?:[^"\\]|\\.)*)"=>"((?:[^"\\]|\\.)*)"')


def _unescape(s: str) -> str:
    return s.replace('\\"', '"').replace("\\\\", "\\") if "\\" in s else s


def _osm_tags(data: VectorData) -> None:
    """GDAL's OSM layers keep most tags in one ``other_tags`` hstore string: split it into columns
    (``oneway``, ``maxspeed``, ``bridge``, ``amenity``...), and label features by their OSM id."""
    data.extra["fid_name"] = "osm_id"
    osm_id = data.column("osm_id")
    if osm_id is None:
        osm_id = data.column("osm_way_id")
    if osm_id is not None:
        data.fids = np.asarray(osm_id, dtype=object)
    other = data.column("other_tags")
    if other is None:
        return
    keep = [(n, c) for n, c in zip(data.field_names, data.fields) if n != "other_tags"]
    extra: dict[str, list[Any]] = {}
    n = len(other)
    for i, s in enumerate(other):
        if not s:
            continue
        for k, v in _HSTORE.findall(s):
            k = _unescape(k)
            col = extra.get(k)
            if col is None:
                if any(k == name for name, _ in keep):
                    continue
                col = extra[k] = [None] * n
            col[i] = _unescape(v)
    data.field_names = [name for name, _ in keep] + list(extra)
    data.fields = [c for _, c in keep] + [np.array(v, dtype=object) for v in extra.values()]


# --------------------------------------------------------------------------- rasters
@dataclass
class RasterData:
    """A one-band raster read for the import: values (float32, NaN for no data), georeferencing, CRS."""

    display: str
    values: np.ndarray
    transform: Any
    crs: Any
    nodata: float | None
    driver: str


def read_raster(path: Path, display: str, max_bytes: int = 1 << 30, max_cells: int = 25_000_000) -> RasterData:
    """Band 1 of a GeoTIFF (or any raster GDAL reads) as float32 with NaN where there is no data."""
    import rasterio
    from rasterio.errors import RasterioError

    check_size(path, display, max_bytes)
    try:
        with rasterio.open(path) as src:
            if src.count < 1:
                raise GisImportError(display, "has no raster band")
            if src.width * src.height > max_cells:
                raise GisImportError(display, f"has {src.width} × {src.height} cells, more than {max_cells:,}: "
                                              "clip it to the district or resample it (e.g. gdalwarp -tr)")
            if src.transform.is_identity:
                raise GisImportError(display, "has no georeferencing (no geotransform): export it as a GeoTIFF")
            values = src.read(1, masked=True).astype("float32")
            arr = np.ma.filled(values, np.nan).astype("float32")
            return RasterData(display, arr, src.transform, src.crs, src.nodata, src.driver)
    except RasterioError as exc:
        raise GisImportError(display, f"is not a raster GDAL can read: {str(exc).splitlines()[0]}") from None
    except OSError as exc:
        raise GisImportError(display, f"cannot be read: {exc}") from None


def file_sha256(path: Path) -> str:
    import hashlib
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def display_name(path: Path | str) -> str:
    return os.fspath(path)
