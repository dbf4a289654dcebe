"""The host's base map as deck.gl layers: land and sea, coast, the district and its neighbours, town names.

The geometry is not in the deck spec: each GeoJSON layer's ``data`` is a URL of ``/api/basemap`` for
one zoom level and kind (core/web/geo_api.py), so a browser downloads it once, caches it (the URL
carries the level's hash) and shares it between panels, and the layers' JSON never changes: the deck
patch sends them once per browser. The client (assets/twinboard.js, ``tbBasemap``) switches the URLs
to the level of the current zoom as a person zooms. Labels are a TextLayer with the bundled font.
"""

from __future__ import annotations

import hashlib
import inspect
import logging
import math
import time
import zlib
from functools import lru_cache
from typing import Any

import numpy as np

from core.geo import basemap as geo
from core.web.labels import text_layer

log = logging.getLogger(__name__)
ROUTE = "/api/basemap"
HILLSHADE_ROUTE = "/api/basemap/hillshade.png"
#: the deep navy sea (the map panel's background) and the rest of the dark big-screen palette
SEA = "#06162e"
STYLE: dict[str, dict[str, Any]] = {
    "land": {"getFillColor": [20, 40, 66, 255]},
    "district_land": {"getFillColor": [27, 56, 92, 255]},
    "neighbour_boundary": {"getLineColor": [96, 128, 168, 200], "getLineWidth": 1.2},
    "coastline": {"getLineColor": [70, 150, 210, 200], "getLineWidth": 1.2},
    "river": {"getLineColor": [40, 110, 190, 230], "getLineWidth": 1.5},
    "district_boundary": {"getLineColor": [79, 214, 255, 110], "getLineWidth": 1.2},
    "outline": {"getLineColor": [79, 214, 255, 255], "getLineWidth": 2.2},
}
#: the base map's layers, bottom to top: (layer id, base-map kind, draws fill, draws line)
LAYERS = (("tb-base-land", "land", True, False),
          ("tb-base-district", "district_land", True, False),
          ("tb-base-neighbours", "neighbour_boundary", False, True),
          ("tb-base-river", "river", False, True),
          ("tb-base-coast", "coastline", False, True),
          ("tb-base-sea-boundary", "district_boundary", False, True),    # the district's limits at sea, dim
          ("tb-base-outline", "district_land", False, True))             # its land, islands included, bright
LABEL_LAYER = "tb-base-labels"
NAME_LAYER = "tb-base-name"
#: below this zoom the town names would pile up: the district's name stands in for them
LABELS_MIN_ZOOM = 9.5
HILLSHADE_LAYER = "tb-base-hillshade"
#: water names (not in the data files): where a local looks for them
WATER_LABELS = ({"name_zh": "椒江", "name_en": "Jiao River", "lon": 121.392, "lat": 28.697},
                {"name_zh": "台州湾", "name_en": "Taizhou Bay", "lon": 121.64, "lat": 28.64},
                {"name_zh": "东海", "name_en": "East China Sea", "lon": 121.98, "lat": 28.62})


def level_key(level: dict[str, Any]) -> str:
    """A short version of one level's file (its sha256), for cache-busting URLs."""
    return str(level.get("sha256") or level["file"])[:12]


def layer_url(level: dict[str, Any], kind: str) -> str:
    """The ``/api/basemap`` URL of one kind at one level (long-cacheable: it names the version)."""
    return f"{ROUTE}?zoom={level['min_zoom']}&kind={kind}&v={level_key(level)}"


#: kinds the host derives from the files' kinds (``/api/basemap?kind=`` serves them too)
DERIVED_KINDS = {"district_land": "the district's land (district_boundary ∩ land): what the maps fill"}


def _present_kinds(level: dict[str, Any]) -> set[str]:
    fc = geo.load_basemap(level["min_zoom"])
    kinds = {f["properties"]["kind"] for f in fc["features"]}
    return kinds | ({"district_land"} if {"land", "district_boundary"} <= kinds else set())


def _rounded(coords: Any, digits: int) -> Any:
    if coords and isinstance(coords[0], (int, float)):
        return [round(float(c), digits) for c in coords]
    return [_rounded(c, digits) for c in coords]


@lru_cache(maxsize=8)
def derived_features(file: str, kind: str) -> tuple[dict[str, Any], ...]:
    """The features of a derived kind (``DERIVED_KINDS``) at one level (by its file)."""
    if kind != "district_land":
        raise KeyError(kind)
    import shapely
    from shapely.geometry import mapping, shape
    level = next(lv for lv in geo.basemap_levels() if lv["file"] == file)
    fc = geo.load_basemap(level["min_zoom"])
    parts = {k: [shape(f["geometry"]) for f in fc["features"] if f["properties"]["kind"] == k]
             for k in ("land", "district_boundary")}
    if not parts["land"] or not parts["district_boundary"]:
        return ()
    digits = int(level.get("decimals", 6))
    land = shapely.union_all(parts["land"]).buffer(0)
    district = shapely.union_all(parts["district_boundary"]).buffer(0)
    geom = shapely.set_precision(district.intersection(land), 10 ** -digits)
    g = mapping(geom)
    props = {"kind": "district_land", **{k: v for k, v in (geo.manifest().get("district") or {}).items()
                                         if k in ("adcode", "name_zh", "name_en")}}
    return ({"type": "Feature", "properties": props,
             "geometry": {"type": g["type"], "coordinates": _rounded(g["coordinates"], digits)}},)


#: flat layers on the ground draw in order and never hide what comes later (no z-fighting when tilted)
FLAT = {"depthWriteEnabled": False, "depthCompare": "always"}


def _geojson_layer(layer_id: str, url: str, kind: str, fill: bool, line: bool) -> dict[str, Any]:
    layer: dict[str, Any] = {"@@type": "GeoJsonLayer", "id": layer_id, "data": url, "pickable": False,
                             "filled": fill, "stroked": line, "pointType": "circle", "getPointRadius": 0,
                             "parameters": FLAT}
    style = STYLE["outline" if layer_id == "tb-base-outline" else kind]
    if fill:
        layer["getFillColor"] = style["getFillColor"]
    if line:
        layer.update(getLineColor=style["getLineColor"], getLineWidth=style["getLineWidth"],
                     lineWidthUnits="pixels", lineWidthMinPixels=1, lineJointRounded=True)
    return layer


def _labels(lang: str) -> list[dict[str, Any]]:
    name = "name_en" if lang == "en" else "name_zh"
    rows = [{"position": [t["lon"], t["lat"]], "text": t[name], "size": 20 if t.get("town_kind") == "town" else 19,
             "color": [236, 244, 255, 255]} for t in geo.town_labels()]
    for n in geo.neighbours():
        if n.get("label_lon") is not None:
            rows.append({"position": [n["label_lon"], n["label_lat"]], "text": n[name], "size": 18,
                         "color": [150, 176, 208, 235]})
    rows += [{"position": [w["lon"], w["lat"]], "text": w[name], "size": 17, "color": [96, 170, 230, 230]}
             for w in WATER_LABELS]
    return rows


@lru_cache(maxsize=64)
def _base_layers(level_index: int, shade: tuple[str, tuple[float, ...]] | None) -> tuple[dict[str, Any], ...]:
    level = geo.basemap_levels()[level_index]
    present = _present_kinds(level)
    out = []
    for layer_id, kind, fill, line in LAYERS:
        if kind in present:
            out.append(_geojson_layer(layer_id, layer_url(level, kind), kind, fill, line))
        if layer_id == "tb-base-district" and shade is not None:
            out.append({"@@type": "BitmapLayer", "id": HILLSHADE_LAYER, "image": f"{HILLSHADE_ROUTE}?v={shade[0]}",
                        "bounds": list(shade[1]), "opacity": 0.55, "pickable": False, "parameters": FLAT})
    return tuple(out)


@lru_cache(maxsize=4)
def _district_name(lang: str) -> list[dict[str, Any]]:
    district = geo.manifest().get("district") or {}
    mainland = max(geo.district_polygon().geoms, key=lambda g: g.area)
    pt = mainland.representative_point()
    return [{"position": [round(pt.x, 5), round(pt.y, 5)],
             "text": district.get("name_en" if lang == "en" else "name_zh", ""), "size": 18,
             "color": [236, 244, 255, 255]}]


def basemap_layers(zoom: float, lang: str = "zh", store: Any = None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(layers under a scene, label layers over it) of the base map for a view at ``zoom``; with the twin's
    ``store``, a hillshade of the DEM imported there.

    The same zoom level and language give identical JSON, so the deck patch sends them once.
    """
    levels = geo.basemap_levels()
    level = geo.level_for_zoom(zoom)
    index = next(i for i, lv in enumerate(levels) if lv["file"] == level["file"])
    shade = imported_hillshade(store) if store is not None else None
    under = [dict(layer) for layer in _base_layers(index, (shade[2], shade[1]) if shade else None)]
    far = zoom < LABELS_MIN_ZOOM
    return under, [text_layer(LABEL_LAYER, _labels(lang), size="@@=size", color="color", weight=700, visible=not far),
                   text_layer(NAME_LAYER, _district_name(lang), size="@@=size", color="color", weight=700,
                              visible=far)]


def client_basemap() -> dict[str, Any]:
    """What the browser needs as a person zooms (``tbBasemap``): the sea colour, each level's zoom range
    and URLs, and the zoom range in which each label layer shows."""
    levels = []
    for lv in geo.basemap_levels():
        present = _present_kinds(lv)
        levels.append({"min": lv["min_zoom"], "max": lv.get("max_zoom"),
                       "urls": {lid: layer_url(lv, kind) for lid, kind, _f, _l in LAYERS if kind in present}})
    return {"sea": SEA, "levels": levels,
            "zooms": {LABEL_LAYER: [LABELS_MIN_ZOOM, None], NAME_LAYER: [None, LABELS_MIN_ZOOM]}}


# --------------------------------------------------------------------------- hillshade
def imported_dem(store: Any) -> tuple[np.ndarray, tuple[float, float, float, float]] | None:
    """The DEM the bureau imported (``twinboard gis import FILE --as dem``) into ``store``: (heights in
    metres, rows north to south, and (west, south, east, north) in degrees), or None when none is.

    The hook point for the GIS import: it asks ``core.geo.gis_import.imported_dem`` when that exists.
    """
    try:
        from core.geo import gis_import  # type: ignore[attr-defined]
    except ImportError:
        return None
    fn = getattr(gis_import, "imported_dem", None)
    if fn is None:
        return None
    takes_store = any(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
                      for p in inspect.signature(fn).parameters.values())
    got = fn(store) if takes_store else fn()
    if got is None:
        return None
    heights, bounds = got[0], got[1]
    return np.asarray(heights, dtype=float), tuple(float(v) for v in bounds)  # type: ignore[return-value]


_shade_cache: dict[int, dict[str, Any]] = {}
#: how long a look for an imported DEM is trusted (every map render asks)
DEM_CHECK_S = 30.0


def imported_hillshade(store: Any) -> tuple[bytes, tuple[float, float, float, float], str] | None:
    """(PNG bytes, bounds, version) of the hillshade of the DEM imported into ``store``, or None;
    looked for at most every ``DEM_CHECK_S`` seconds and drawn once per DEM."""
    cache = _shade_cache.setdefault(id(store), {})
    now = time.monotonic()
    if now - cache.get("checked", -1e9) < DEM_CHECK_S:
        return cache.get("result")
    cache["checked"] = now
    try:
        dem = imported_dem(store)
    except Exception:  # noqa: BLE001 - a broken import must not take the maps down; the log says why
        log.exception("imported DEM unreadable; maps drawn without hillshade")
        dem = None
    if dem is None:
        cache["result"] = None
        return None
    heights, bounds = dem
    key = hashlib.blake2b(heights.tobytes() + repr(bounds).encode(), digest_size=8).hexdigest()
    if cache.get("key") != key:
        cache.update(key=key, png=hillshade_png(heights, bounds, land=geo.land_polygon()))
    cache["result"] = (cache["png"], bounds, key)
    return cache["result"]


def hillshade_png(heights: np.ndarray, bounds: tuple[float, float, float, float], azimuth: float = 315.0,
                  altitude: float = 45.0, max_px: int = 1024, land: Any = None) -> bytes:
    """A grey RGBA PNG of the DEM lit from the north-west: light slopes lighter, shade darker, flat
    ground and no-data transparent, to lay over the land at partial opacity; with ``land`` (a shapely
    geometry in lon/lat) nothing is drawn off it (the sea stays sea)."""
    z = np.asarray(heights, dtype=float)
    step = max(1, math.ceil(max(z.shape) / max_px))
    z = z[::step, ::step]
    valid = np.isfinite(z)
    if land is not None:
        import shapely
        w0, s0, e0, n0 = bounds
        lon = w0 + (np.arange(z.shape[1]) + 0.5) / z.shape[1] * (e0 - w0)
        lat = n0 - (np.arange(z.shape[0]) + 0.5) / z.shape[0] * (n0 - s0)
        gx, gy = np.meshgrid(lon, lat)
        valid &= shapely.contains_xy(land, gx, gy)
    z = np.where(valid, z, np.nanmin(z) if valid.any() else 0.0)
    w, s, e, n = bounds
    lat = math.radians((s + n) / 2)
    dx = (e - w) / max(z.shape[1] - 1, 1) * 111_320 * math.cos(lat)
    dy = (n - s) / max(z.shape[0] - 1, 1) * 110_540
    gy, gx = np.gradient(z, dy, dx)
    slope = np.arctan(np.hypot(gx, gy) * 2.0)          # ×2 vertical exaggeration: the district is low
    aspect = np.arctan2(-gx, gy)
    az, alt = math.radians(360 - azimuth + 90), math.radians(altitude)
    shade = np.sin(alt) * np.cos(slope) + np.cos(alt) * np.sin(slope) * np.cos(az - aspect)
    flat = np.sin(alt)
    light = np.clip((shade - flat) * 3.0, -1, 1)        # relative to flat ground
    rgba = np.zeros(z.shape + (4,), dtype=np.uint8)
    rgba[..., :3] = np.where(light[..., None] > 0, 235, 0).astype(np.uint8)
    rgba[..., 3] = (np.abs(light) * 200 * valid).astype(np.uint8)
    return _png(rgba)


def _png(rgba: np.ndarray) -> bytes:
    h, w = rgba.shape[:2]
    raw = b"".join(b"\x00" + rgba[y].tobytes() for y in range(h))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return (len(data).to_bytes(4, "big") + tag + data
                + (zlib.crc32(tag + data) & 0xFFFFFFFF).to_bytes(4, "big"))
    head = w.to_bytes(4, "big") + h.to_bytes(4, "big") + bytes([8, 6, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", head) + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")
