"""Lookout cameras as twin entities: placement, view cones, bearings, coverage of the forests.

A camera entity (kind ``camera``) carries in its properties::

    height_m: 18            # mast height above ground (informational, shown in tooltips)
    elevation_m: 320        # ground elevation of the hilltop (3D map)
    bearing_deg: 75         # centre of the view, clockwise from north
    fov_deg: 60             # horizontal field of view
    range_m: 9000           # how far smoke can be seen
    spectrum: visible       # visible | ir
    mount: fixed            # fixed | ptz
    poses:                  # ptz only: each named pose is its own camera for detection
      - {name: east, title: 东向, bearing_deg: 80, fov_deg: 50, stream: "demo://plume_east"}
    stream: "demo://clean_north"   # video file, folder, rtsp://, http(s):// stream or snapshot URL
    interval_s: 5           # seconds between analysed frames
    masks: [[[0, 0.8], [0.3, 0.8], [0.3, 1], [0, 1]]]   # occlusion polygons, frame fractions (x, y)

A PTZ camera becomes one :class:`Camera` per pose, id ``<entity id>@<pose>``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

EARTH_R = 6_371_008.8


@dataclass(frozen=True)
class Camera:
    """One analysable view: a fixed camera, or one pose of a PTZ camera."""

    id: str
    entity_id: str
    name: str
    name_en: str
    lon: float
    lat: float
    bearing_deg: float
    fov_deg: float
    range_m: float
    height_m: float = 10.0
    elevation_m: float = 0.0
    spectrum: str = "visible"
    mount: str = "fixed"
    pose: str | None = None
    pose_title: str | None = None   # the pose's Chinese name, e.g. 西向
    stream: str = ""
    interval_s: float = 5.0
    masks: tuple[tuple[tuple[float, float], ...], ...] = field(default_factory=tuple)

    @property
    def is_ir(self) -> bool:
        return self.spectrum.lower() in ("ir", "infrared", "thermal")

    def label(self, lang: str = "zh") -> str:
        base = (self.name_en or self.name) if lang == "en" else self.name
        if not self.pose:
            return base
        return f"{base} · {self.pose if lang == 'en' else (self.pose_title or self.pose)}"

    def bearing_of(self, x_frac: float) -> float:
        """Compass bearing of a point at ``x_frac`` (0 = left edge, 1 = right edge) of the frame."""
        return (self.bearing_deg + (x_frac - 0.5) * self.fov_deg) % 360.0


def _masks(raw: Any) -> tuple[tuple[tuple[float, float], ...], ...]:
    out = []
    for poly in raw or []:
        pts = tuple((float(p[0]), float(p[1])) for p in poly)
        if len(pts) >= 3:
            out.append(pts)
    return tuple(out)


def cameras_from_entities(entities: Iterable[Any], default_interval_s: float = 5.0) -> list[Camera]:
    """Every camera entity (kind ``camera``) as cameras; a PTZ camera as one camera per pose."""
    cams: list[Camera] = []
    for e in entities:
        if getattr(e, "kind", None) != "camera" or not e.geometry:
            continue
        lon, lat = e.geometry["coordinates"][:2]
        p = dict(e.properties or {})
        base = dict(entity_id=e.id, name=e.name, name_en=e.name_en or "", lon=float(lon), lat=float(lat),
                    bearing_deg=float(p.get("bearing_deg", 0.0)), fov_deg=float(p.get("fov_deg", 60.0)),
                    range_m=float(p.get("range_m", 8000.0)), height_m=float(p.get("height_m", 10.0)),
                    elevation_m=float(p.get("elevation_m", 0.0)), spectrum=str(p.get("spectrum", "visible")),
                    mount=str(p.get("mount", "fixed")), stream=str(p.get("stream", "")),
                    interval_s=float(p.get("interval_s", default_interval_s)), masks=_masks(p.get("masks")))
        poses = p.get("poses") or []
        if base["mount"] == "ptz" and poses:
            for pose in poses:
                kw = dict(base)
                kw.update(id=f"{e.id}@{pose['name']}", pose=str(pose["name"]),
                          pose_title=str(pose["title"]) if pose.get("title") else None)
                for key in ("bearing_deg", "fov_deg", "range_m", "interval_s"):
                    if key in pose:
                        kw[key] = float(pose[key])
                if "stream" in pose:
                    kw["stream"] = str(pose["stream"])
                if "masks" in pose:
                    kw["masks"] = _masks(pose["masks"])
                cams.append(Camera(**kw))
        else:
            cams.append(Camera(id=e.id, **base))
    return cams


# ------------------------------------------------------------------------------ geometry
def to_local(lon: float, lat: float, lon0: float, lat0: float) -> tuple[float, float]:
    """Metres east/north of (lon0, lat0): an equirectangular projection, fine over a county."""
    x = math.radians(lon - lon0) * EARTH_R * math.cos(math.radians(lat0))
    y = math.radians(lat - lat0) * EARTH_R
    return x, y


def from_local(x: float, y: float, lon0: float, lat0: float) -> tuple[float, float]:
    lon = lon0 + math.degrees(x / (EARTH_R * math.cos(math.radians(lat0))))
    lat = lat0 + math.degrees(y / EARTH_R)
    return lon, lat


def destination(lon: float, lat: float, bearing_deg: float, dist_m: float) -> tuple[float, float]:
    b = math.radians(bearing_deg)
    return from_local(dist_m * math.sin(b), dist_m * math.cos(b), lon, lat)


def view_cone(cam: Camera, steps: int = 24) -> list[tuple[float, float]]:
    """The camera's view as a closed lon/lat ring: apex at the camera, arc at its range."""
    ring = [(cam.lon, cam.lat)]
    half = cam.fov_deg / 2
    for i in range(steps + 1):
        b = cam.bearing_deg - half + cam.fov_deg * i / steps
        ring.append(destination(cam.lon, cam.lat, b, cam.range_m))
    ring.append((cam.lon, cam.lat))
    return ring


def intersect_bearings(a: Camera, bearing_a: float, b: Camera, bearing_b: float) -> tuple[float, float] | None:
    """Where the rays from two cameras along the given bearings cross (lon, lat), or None.

    None when the rays are (nearly) parallel, cross behind a camera, or beyond either camera's range.
    """
    lon0, lat0 = a.lon, a.lat
    ax, ay = 0.0, 0.0
    bx, by = to_local(b.lon, b.lat, lon0, lat0)
    da = (math.sin(math.radians(bearing_a)), math.cos(math.radians(bearing_a)))
    db = (math.sin(math.radians(bearing_b)), math.cos(math.radians(bearing_b)))
    den = da[0] * db[1] - da[1] * db[0]
    if abs(den) < math.sin(math.radians(3)):  # under 3 degrees apart: no usable fix
        return None
    # a + t*da = b + s*db
    t = ((bx - ax) * db[1] - (by - ay) * db[0]) / den
    s = ((bx - ax) * da[1] - (by - ay) * da[0]) / den
    if t <= 0 or s <= 0 or t > a.range_m * 1.1 or s > b.range_m * 1.1:
        return None
    return from_local(ax + t * da[0], ay + t * da[1], lon0, lat0)


def coverage(forests: Sequence[dict[str, Any]], cameras: Sequence[Camera]) -> dict[str, float]:
    """Share of the forest area inside at least one camera's view cone (the plan's 100% target).

    ``forests`` are GeoJSON geometries (Polygon/MultiPolygon, lon/lat). Areas are computed in a
    local metric projection. Returns ``{"share": 0..1, "forest_km2": ..., "covered_km2": ...}``.
    """
    import numpy as np
    import shapely
    from shapely.geometry import Polygon, shape
    from shapely.ops import unary_union

    if not forests:
        return {"share": 0.0, "forest_km2": 0.0, "covered_km2": 0.0}
    geoms = [shape(g) for g in forests]
    c = unary_union(geoms).centroid
    lon0, lat0 = c.x, c.y
    kx = math.radians(1) * EARTH_R * math.cos(math.radians(lat0))
    ky = math.radians(1) * EARTH_R

    def proj(xy: np.ndarray) -> np.ndarray:
        return np.column_stack([(xy[:, 0] - lon0) * kx, (xy[:, 1] - lat0) * ky])

    forest = unary_union([shapely.transform(g, proj).buffer(0) for g in geoms])
    cones = [Polygon([to_local(lo, la, lon0, lat0) for lo, la in view_cone(cam, 48)]).buffer(0) for cam in cameras]
    seen = unary_union(cones) if cones else None
    covered = forest.intersection(seen).area if seen is not None else 0.0
    total = forest.area
    return {"share": (covered / total) if total else 0.0, "forest_km2": total / 1e6, "covered_km2": covered / 1e6}
