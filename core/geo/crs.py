"""Coordinate systems of imported GIS data, and their way to WGS-84 lon/lat (pyproj).

Everything twinboard stores is WGS-84 longitude/latitude (EPSG:4326). Imports may come in

* EPSG:4326 (WGS-84) or EPSG:4490 (CGCS2000, 国家2000): taken as they are;
* EPSG:3857 (Web Mercator) or UTM (EPSG:32651 for Jiaojiang): projected back to lon/lat;
* CGCS2000 Gauss–Krüger (高斯-克吕格), the grids of Chinese surveys:
    - 3-degree zones by central meridian, EPSG:4534–4554 (x without zone number), e.g.
      EPSG:4549 "CGCS2000 / 3-degree Gauss-Kruger CM 120E" — the zone of mainland Jiaojiang
      (118.5–121.5°E) — and EPSG:4550 (CM 123E) for the Dachen islands (大陈岛, about 121.9°E);
    - 3-degree zones with the zone number in front of x, EPSG:4513–4533 (EPSG:4528 is zone 40,
      x = 40 640 763 m for the district centre);
    - 6-degree zones: EPSG:4502–4512 by central meridian (EPSG:4510 is CM 123E) and
      EPSG:4491–4501 with the zone number (EPSG:4499 is zone 21);
* anything else pyproj knows (an EPSG code, WKT, a PROJ string, a shapefile's .prj).

CGCS2000 is treated as WGS-84. The two frames agree to a few centimetres at CGCS2000's epoch
(2000.0); the drift of the Eurasian plate since then adds well under a metre — far below what a
district map, a road graph or a shelter's position can show. (PROJ itself only has a "ballpark",
i.e. a null, transformation between them.) Older Chinese datums (Beijing 1954, Xian 1980) have no
precise public transformation to WGS-84: their imports work, with a warning that positions may be
off by tens of metres or more.

GCJ-02 (the "Mars" offset of Chinese web maps) is not a coordinate system: it is handled by
``core.geo.gcj02`` on lon/lat after this transformation (``--gcj02``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError, ProjError

#: Shorthands a GIS officer may type for --crs.
ALIASES = {
    "WGS84": "EPSG:4326", "WGS-84": "EPSG:4326", "WGS 84": "EPSG:4326",
    "CGCS2000": "EPSG:4490", "CGCS-2000": "EPSG:4490", "国家2000": "EPSG:4490", "2000": "EPSG:4490",
    "WEBMERCATOR": "EPSG:3857", "WEB MERCATOR": "EPSG:3857", "MERCATOR": "EPSG:3857",
}

#: The geodetic datums whose lon/lat are stored as they are (WGS-84 and CGCS2000).
_SAME_AS_WGS84 = ("World Geodetic System 1984", "China 2000", "China Geodetic Coordinate System 2000")


class CrsError(ValueError):
    """A coordinate system that cannot be used (unknown, or with no way to lon/lat)."""


@dataclass
class LonLatTransform:
    """How to get WGS-84 lon/lat from one source coordinate system."""

    crs: CRS
    #: "EPSG:4549 (CGCS2000 / 3-degree Gauss-Kruger CM 120E)"
    label: str
    #: (x, y) arrays → (lon, lat) arrays; None when the source already is lon/lat
    fn: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]] | None
    warnings: list[str] = field(default_factory=list)

    @property
    def identity(self) -> bool:
        return self.fn is None

    def __call__(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.fn is None:
            return np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        return self.fn(np.asarray(x, dtype=float), np.asarray(y, dtype=float))


def parse_crs(text: str) -> CRS:
    """A CRS from what a user typed: an alias, "EPSG:4549", "4549", WKT or a PROJ string."""
    raw = (text or "").strip()
    if not raw:
        raise CrsError("an empty coordinate system")
    if raw.upper().replace("_", "").replace("-", "") in ("GCJ02", "GCJ", "MARS"):
        raise CrsError(f"{raw!r} is not a coordinate system: GCJ-02 is an offset on WGS-84 lon/lat; "
                       "import with --gcj02 (and --crs EPSG:4326 if the file has no coordinate system)")
    if raw.isdigit():
        raw = f"EPSG:{raw}"
    raw = ALIASES.get(raw.upper(), raw)
    try:
        crs = CRS.from_user_input(raw)
    except CRSError as exc:
        raise CrsError(f"{text!r} is not a coordinate system pyproj knows "
                       f"(give e.g. EPSG:4326, EPSG:4490, EPSG:4549): {str(exc).splitlines()[0]}") from None
    return crs


def label(crs: CRS) -> str:
    """A short name: "EPSG:4549 (CGCS2000 / 3-degree Gauss-Kruger CM 120E)"."""
    code = crs.to_epsg(min_confidence=70)
    return f"EPSG:{code} ({crs.name})" if code else crs.name


def _datum_name(crs: CRS) -> str:
    geod = crs.geodetic_crs
    return geod.datum.name if geod is not None and geod.datum is not None else ""


def _is_lonlat_as_is(crs: CRS) -> bool:
    """Geographic degrees on WGS-84 or CGCS2000 with the Greenwich meridian: nothing to do but
    take x as longitude (pyproj's always_xy order)."""
    if not crs.is_geographic:
        return False
    if crs.prime_meridian is not None and abs(crs.prime_meridian.longitude) > 1e-12:
        return False
    units = {a.unit_name for a in crs.axis_info}
    return units <= {"degree"} and _datum_name(crs).startswith(_SAME_AS_WGS84)


def to_lonlat(crs: CRS) -> LonLatTransform:
    """The transformation from ``crs`` to WGS-84 lon/lat (CGCS2000 taken as WGS-84, see the module doc)."""
    if crs.is_compound or len(crs.axis_info) > 2:
        try:
            crs = crs.to_2d()
        except CRSError as exc:
            raise CrsError(f"{label(crs)} has no horizontal part: {exc}") from None
    name = label(crs)
    if _is_lonlat_as_is(crs):
        return LonLatTransform(crs, name, None)
    datum = _datum_name(crs)
    warnings: list[str] = []
    try:
        if datum.startswith(_SAME_AS_WGS84):
            # Unproject onto the CRS's own geographic system: CGCS2000 lon/lat are stored as WGS-84.
            target = crs.geodetic_crs
            tr = Transformer.from_crs(crs, target, always_xy=True)
        else:
            tr = Transformer.from_crs(crs, CRS.from_epsg(4326), always_xy=True)
            desc = tr.description or ""
            if "allpark" in desc or tr.accuracy < 0 or tr.accuracy > 5:
                acc = f"about {tr.accuracy:g} m" if tr.accuracy > 0 else "unknown accuracy"
                warnings.append(f"{name}: PROJ has no precise transformation from the {datum or 'source'} datum "
                                f"to WGS-84 ({acc}); positions may be off by tens of metres or more: "
                                "ask for the data in CGCS2000 (EPSG:4490 or its Gauss–Krüger zones)")
    except (CRSError, ProjError) as exc:
        raise CrsError(f"{name} cannot be converted to longitude/latitude: {str(exc).splitlines()[0]}") from None

    def fn(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lon, lat = tr.transform(x, y, errcheck=False)
        return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    return LonLatTransform(crs, name, fn, warnings)


def gauss_kruger_hint(x: float, y: float) -> str:
    """A guess of the CGCS2000 Gauss–Krüger system from one projected (x, y) in metres, or ""."""
    if not (2_000_000 <= abs(y) <= 6_500_000):
        return ""
    if 13_000_000 <= x < 24_000_000:  # 6-degree zone number in front of x
        zone = int(x // 1_000_000)
        return f"x {x:.0f} carries the 6-degree zone number {zone}: try --crs EPSG:{4491 + zone - 13}"
    if 25_000_000 <= x < 46_000_000:  # 3-degree zone number in front of x
        zone = int(x // 1_000_000)
        return f"x {x:.0f} carries the 3-degree zone number {zone}: try --crs EPSG:{4513 + zone - 25}"
    if 100_000 <= x <= 900_000:
        return ("x and y look like Gauss–Krüger metres without a zone number: for Jiaojiang try --crs EPSG:4549 "
                "(CGCS2000 3-degree CM 120E; EPSG:4550 for the Dachen islands) or EPSG:4510 (6-degree CM 123E)")
    return ""
