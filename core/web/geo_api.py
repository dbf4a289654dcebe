"""The read API for integrators (and the walls' base-map layers): ``/api/basemap`` and ``/api/entities``.

Both follow the screens' sign-in rule (core.web.auth.SCREEN_PREFIXES). ``/api/basemap`` answers
gzip when the client accepts it, with an ETag; a URL with ``v`` (the level's version, as the maps'
layers use) may be cached for a day.
"""

from __future__ import annotations

import gzip
import json
import math
from functools import lru_cache
from typing import Any

import flask
from shapely.geometry import shape

from core.geo import basemap as geo
from core.web.basemap_layers import (DERIVED_KINDS, HILLSHADE_ROUTE, ROUTE, derived_features, imported_hillshade,
                                     level_key)

ENTITIES_ROUTE = "/api/entities"


class BadRequest(ValueError):
    """A query parameter is wrong; the message says which and why."""


@lru_cache(maxsize=64)
def _basemap_body(file: str, kinds: tuple[str, ...]) -> tuple[bytes, bytes, str]:
    level = next(lv for lv in geo.basemap_levels() if lv["file"] == file)
    fc = geo.load_basemap(level["min_zoom"])
    feats = [f for f in fc["features"] if not kinds or f["properties"]["kind"] in kinds]
    feats += [f for k in kinds if k in DERIVED_KINDS for f in derived_features(file, k)]
    doc = {"type": "FeatureCollection", "name": geo.manifest().get("name", "basemap"),
           "zoom": {"min": level["min_zoom"], "max": level.get("max_zoom")}, "bbox": list(geo.basemap_bbox()),
           "features": feats}
    body = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    etag = f'"{level_key(level)}-{"+".join(kinds) or "all"}"'
    return body, gzip.compress(body, 6, mtime=0), etag


def basemap_response(zoom_arg: str | None, kind_arg: str | None, versioned: bool) -> flask.Response:
    """The base map at a zoom (default: full detail), optionally only some kinds, gzip when accepted."""
    if zoom_arg in (None, ""):
        level = geo.basemap_levels()[-1]
    else:
        try:
            zoom = float(zoom_arg)
        except ValueError:
            raise BadRequest(f"zoom must be a number, got {zoom_arg!r}") from None
        if not math.isfinite(zoom) or not 0 <= zoom <= 24:
            raise BadRequest(f"zoom must be between 0 and 24, got {zoom_arg!r}")
        level = geo.level_for_zoom(zoom)
    kinds: tuple[str, ...] = ()
    if kind_arg:
        wanted = tuple(sorted({k.strip() for k in kind_arg.split(",") if k.strip()}))
        known = set(geo.KINDS) | set(DERIVED_KINDS)
        unknown = [k for k in wanted if k not in known]
        if unknown:
            raise BadRequest(f"kind {', '.join(unknown)} unknown; one or more of {', '.join(sorted(known))}")
        kinds = wanted
    body, packed, etag = _basemap_body(level["file"], kinds)
    if flask.request.if_none_match.contains(etag.strip('"')):
        resp = flask.Response(status=304)
    elif "gzip" in flask.request.headers.get("Accept-Encoding", ""):
        resp = flask.Response(packed, mimetype="application/geo+json")
        resp.headers["Content-Encoding"] = "gzip"
    else:
        resp = flask.Response(body, mimetype="application/geo+json")
    resp.headers["ETag"] = etag
    resp.headers["Vary"] = "Accept-Encoding"
    # signed-in data: private caches only; a versioned URL names one file, so it may be kept
    resp.headers["Cache-Control"] = "private, max-age=86400" if versioned else "private, no-cache"
    return resp


def parse_bbox(raw: str) -> tuple[float, float, float, float]:
    """``minlon,minlat,maxlon,maxlat`` in degrees; BadRequest says what is wrong."""
    parts = raw.split(",")
    if len(parts) != 4:
        raise BadRequest(f"bbox must be minlon,minlat,maxlon,maxlat (4 numbers), got {len(parts)} value(s): {raw!r}")
    try:
        w, s, e, n = (float(p) for p in parts)
    except ValueError:
        raise BadRequest(f"bbox must be 4 numbers minlon,minlat,maxlon,maxlat, got {raw!r}") from None
    if not all(math.isfinite(v) for v in (w, s, e, n)):
        raise BadRequest(f"bbox values must be finite, got {raw!r}")
    if not (-180 <= w <= 180 and -180 <= e <= 180 and -90 <= s <= 90 and -90 <= n <= 90):
        raise BadRequest(f"bbox out of range (lon -180..180, lat -90..90): {raw!r}")
    if w > e or s > n:
        raise BadRequest(f"bbox needs minlon <= maxlon and minlat <= maxlat, got {raw!r}")
    return w, s, e, n


def entity_point(geometry: dict[str, Any] | None) -> tuple[float, float] | None:
    """(lon, lat) of an entity: its point, or a point inside its shape (None without geometry)."""
    if not geometry or not geometry.get("type"):
        return None
    try:
        if geometry["type"] == "Point":
            lon, lat = geometry["coordinates"][:2]
            return float(lon), float(lat)
        g = shape(geometry)
        p = g.representative_point() if g.geom_type in ("Polygon", "MultiPolygon") else g.centroid
        return (float(p.x), float(p.y)) if not p.is_empty else None
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def entities_doc(store: Any, kind_arg: str | None, bbox_arg: str | None) -> list[dict[str, Any]]:
    """The entities of the given kinds (comma list) inside the bbox, as the API answers them."""
    kinds = [k.strip() for k in (kind_arg or "").split(",") if k.strip()]
    bbox = parse_bbox(bbox_arg) if bbox_arg not in (None, "") else None
    rows = [e for k in kinds for e in store.entities(kind=k)] if kinds else store.entities()
    out = []
    for e in rows:
        pt = entity_point(e.geometry)
        if bbox is not None and (pt is None or not (bbox[0] <= pt[0] <= bbox[2] and bbox[1] <= pt[1] <= bbox[3])):
            continue
        out.append({"id": e.id, "kind": e.kind, "name": e.name, "name_en": e.name_en or None,
                    "lon": pt[0] if pt else None, "lat": pt[1] if pt else None,
                    "plugin": e.plugin or None, "properties": e.properties or {}})
    out.sort(key=lambda d: d["id"])
    return out


def register_geo_api(server: flask.Flask, host: Any) -> None:
    """Mount ``/api/basemap``, its hillshade image and ``/api/entities`` on ``server``."""

    @server.get(ROUTE)
    def _basemap() -> Any:
        """The base map as GeoJSON: ``?zoom=`` picks the level (default full detail), ``?kind=`` filters."""
        args = flask.request.args
        try:
            return basemap_response(args.get("zoom"), args.get("kind"), bool(args.get("v")))
        except BadRequest as exc:
            return flask.jsonify({"error": str(exc)}), 400
        except geo.BasemapError as exc:
            return flask.jsonify({"error": f"base map unavailable: {exc}"}), 503

    @server.get(HILLSHADE_ROUTE)
    def _hillshade() -> Any:
        shade = imported_hillshade(host.store)
        if shade is None:
            return flask.jsonify({"error": "no DEM imported (twinboard gis import FILE --as dem)"}), 404
        resp = flask.Response(shade[0], mimetype="image/png")
        resp.headers["Cache-Control"] = "private, max-age=86400"
        return resp

    @server.get(ENTITIES_ROUTE)
    def _entities() -> Any:
        """Twin entities: ``?kind=a,b`` and ``?bbox=minlon,minlat,maxlon,maxlat`` filter them."""
        args = flask.request.args
        try:
            return flask.jsonify(entities_doc(host.store, args.get("kind"), args.get("bbox")))
        except BadRequest as exc:
            return flask.jsonify({"error": str(exc)}), 400
