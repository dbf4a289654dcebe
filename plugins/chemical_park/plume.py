"""Gaussian plume for a continuous, neutrally buoyant release (the model ALOHA uses for light gases).

What is here, and only this:

* a small chemical library: molecular weight, 60-minute AEGL-1/2/3 (US EPA final values, ppm),
  GB 18218-2018 critical quantity and correction factor β (for the major-hazard-source grade);
* Pasquill–Gifford stability class from the 10 m wind speed and daytime insolation or night
  cloud cover (Turner's table), insolation from the solar elevation;
* Briggs (1973) dispersion coefficients σy, σz for open country ("rural") and cities ("urban");
* the plume equation with ground reflection,

      C(x, y, z) = Q / (2π u σy σz) · exp(−y²/2σy²) · [exp(−(z−H)²/2σz²) + exp(−(z+H)²/2σz²)]

  whose ground-level centreline for a ground release (y = z = H = 0) is C = Q / (π u σy σz);
* threat zones: the farthest downwind distance where the concentration reaches each Level of
  Concern (AEGL-3 red, AEGL-2 orange, AEGL-1 yellow), the zone outlines on the map and the
  zone a point lies in.

Limits (stated on the dashboard too): flat terrain, neutrally buoyant gas (chlorine, for one,
is heavier than air and needs a dense-gas model near the source), steady release and steady
wind, no chemical reactions or deposition, Briggs curves fitted for 100 m–10 km, no result
for wind below 1 m/s (calm) or beyond 10 km.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

#: molar volume of an ideal gas at 25 °C and 1 atm (L/mol): ppm = mg/m³ · 24.45 / MW
MOLAR_VOLUME_L = 24.45
#: Gaussian plume results are not given beyond this distance (Briggs' fit; ALOHA's cap too)
MAX_DISTANCE_M = 10_000.0
#: below this 10 m wind speed the plume model does not apply (calm, meandering)
MIN_WIND_MS = 1.0
#: the equation is not evaluated closer than this downwind (a point source is singular there): 0 is returned
X_MIN_M = 1.0
EARTH_RADIUS_M = 6_371_008.8


class PlumeError(ValueError):
    """Input the model cannot use (unknown chemical, calm wind, NaN, ...): say so, draw nothing."""


@dataclass(frozen=True)
class Chemical:
    key: str
    name_zh: str
    name_en: str
    formula: str
    mw: float                       # g/mol
    aegl: tuple[float, float, float]  # 60-min AEGL-1, AEGL-2, AEGL-3 (ppm)
    critical_t: float               # GB 18218-2018 critical quantity (t)
    beta: float                     # GB 18218-2018 correction factor β
    liquid_density: float           # kg/m³, stored liquid (for tank levels)

    @property
    def heavier_than_air(self) -> bool:
        return self.mw > 28.97

    def name(self, lang: str) -> str:
        return self.name_en if lang == "en" else self.name_zh


#: AEGL values: US EPA final AEGLs, 60-minute exposure (ppm), as listed in issue 5.
CHEMICALS: dict[str, Chemical] = {c.key: c for c in (
    Chemical("chlorine", "氯气", "Chlorine", "Cl2", 70.90, (0.50, 2.0, 20.0), 5, 4, 1410),
    Chemical("ammonia", "氨", "Ammonia", "NH3", 17.03, (30.0, 160.0, 1100.0), 10, 2, 682),
    Chemical("hydrogen_sulfide", "硫化氢", "Hydrogen sulfide", "H2S", 34.08, (0.51, 27.0, 50.0), 5, 5, 993),
    Chemical("hydrogen_chloride", "氯化氢", "Hydrogen chloride", "HCl", 36.46, (1.8, 22.0, 100.0), 20, 3, 1190),
    Chemical("hydrogen_fluoride", "氟化氢", "Hydrogen fluoride", "HF", 20.01, (1.0, 24.0, 44.0), 1, 5, 990),
    Chemical("sulfur_dioxide", "二氧化硫", "Sulfur dioxide", "SO2", 64.07, (0.20, 0.75, 30.0), 20, 2, 1460),
)}


def chemical(key: str) -> Chemical:
    """The library entry, or PlumeError naming the chemicals the model knows."""
    try:
        return CHEMICALS[key]
    except KeyError:
        raise PlumeError(f"unknown chemical {key!r}; the library has {', '.join(sorted(CHEMICALS))}") from None


def ppm_from_mg_m3(c_mg_m3: Any, mw: float) -> Any:
    return c_mg_m3 * MOLAR_VOLUME_L / mw


def mg_m3_from_ppm(ppm: Any, mw: float) -> Any:
    return ppm * mw / MOLAR_VOLUME_L


# -- Pasquill–Gifford stability -------------------------------------------------------------
INSOLATIONS = ("strong", "moderate", "slight")
# Turner (1970) / Pasquill: rows by 10 m wind speed (upper bound, m/s); columns strong, moderate,
# slight insolation by day, then night with ≥4/8 cloud, night with ≤3/8 cloud.  Intermediate
# classes ("A–B") resolve to the more stable one: longer zones, the cautious choice.
_PG_TABLE: tuple[tuple[float, tuple[str, str, str, str, str]], ...] = (
    (2.0, ("A", "B", "B", "E", "F")),        # A, A–B, B, E, F
    (3.0, ("B", "B", "C", "E", "F")),        # A–B, B, C, E, F
    (5.0, ("B", "C", "C", "D", "E")),        # B, B–C, C, D, E
    (6.0, ("C", "D", "D", "D", "D")),        # C, C–D, D, D, D
    (math.inf, ("C", "D", "D", "D", "D")),   # C, D, D, D, D
)


def stability_class(wind_ms: float, *, daytime: bool, insolation: str = "moderate",
                    cloud_oktas: float = 0.0) -> str:
    """Pasquill–Gifford class A (very unstable) … F (stable); overcast (8/8) is always D."""
    _check_finite(wind_ms=wind_ms, cloud_oktas=cloud_oktas)
    if wind_ms < 0:
        raise PlumeError(f"wind speed must be ≥ 0 m/s, got {wind_ms}")
    if not 0 <= cloud_oktas <= 8:
        raise PlumeError(f"cloud cover must be 0–8 oktas, got {cloud_oktas}")
    if cloud_oktas >= 8:
        return "D"
    row = next(cols for upper, cols in _PG_TABLE if wind_ms < upper)
    if daytime:
        if insolation not in INSOLATIONS:
            raise PlumeError(f"insolation must be one of {INSOLATIONS}, got {insolation!r}")
        return row[INSOLATIONS.index(insolation)]
    return row[3] if cloud_oktas >= 4 else row[4]


def solar_elevation_deg(ts: float, lon: float, lat: float) -> float:
    """Approximate solar elevation (±1–2°): declination and hour angle, no equation of time."""
    days = ts / 86400.0
    doy = (days % 365.2422) + 1
    decl = math.radians(23.44) * math.sin(2 * math.pi * (284 + doy) / 365.0)
    solar_hours = ((ts % 86400.0) / 3600.0 + lon / 15.0) % 24.0
    h = math.radians(15.0 * (solar_hours - 12.0))
    phi = math.radians(lat)
    s = math.sin(phi) * math.sin(decl) + math.cos(phi) * math.cos(decl) * math.cos(h)
    return math.degrees(math.asin(max(-1.0, min(1.0, s))))


def insolation_from_sun(elevation_deg: float, cloud_oktas: float) -> str | None:
    """Strong (>60°), moderate (35–60°), slight (≤35°); more than 4/8 cloud lowers it a step; None at night."""
    if elevation_deg <= 0:
        return None
    idx = 0 if elevation_deg > 60 else 1 if elevation_deg > 35 else 2
    if cloud_oktas > 4:
        idx = min(idx + 1, 2)
    return INSOLATIONS[idx]


def stability_at(ts: float, lon: float, lat: float, wind_ms: float, cloud_oktas: float) -> str:
    """Stability class for a time and place from the sun's height and the cloud cover."""
    ins = insolation_from_sun(solar_elevation_deg(ts, lon, lat), cloud_oktas)
    return stability_class(wind_ms, daytime=ins is not None, insolation=ins or "moderate",
                           cloud_oktas=cloud_oktas)


# -- Briggs dispersion coefficients ----------------------------------------------------------
# σy = a·x·(1 + b·x)^-0.5 ;  σz = c·x·(1 + d·x)^e   (x in m, 100 m – 10 km)
_BRIGGS: dict[str, dict[str, tuple[float, float, float, float, float]]] = {
    "rural": {
        "A": (0.22, 0.0001, 0.20, 0.0, 0.0),
        "B": (0.16, 0.0001, 0.12, 0.0, 0.0),
        "C": (0.11, 0.0001, 0.08, 0.0002, -0.5),
        "D": (0.08, 0.0001, 0.06, 0.0015, -0.5),
        "E": (0.06, 0.0001, 0.03, 0.0003, -1.0),
        "F": (0.04, 0.0001, 0.016, 0.0003, -1.0),
    },
    "urban": {
        "A": (0.32, 0.0004, 0.24, 0.001, 0.5),
        "B": (0.32, 0.0004, 0.24, 0.001, 0.5),
        "C": (0.22, 0.0004, 0.20, 0.0, 0.0),
        "D": (0.16, 0.0004, 0.14, 0.0003, -0.5),
        "E": (0.11, 0.0004, 0.08, 0.0015, -0.5),
        "F": (0.11, 0.0004, 0.08, 0.0015, -0.5),
    },
}
SURFACES = tuple(_BRIGGS)
STABILITY_CLASSES = ("A", "B", "C", "D", "E", "F")


def _coeffs(stability: str, surface: str) -> tuple[float, float, float, float, float]:
    if surface not in _BRIGGS:
        raise PlumeError(f"surface must be one of {SURFACES}, got {surface!r}")
    if stability not in _BRIGGS[surface]:
        raise PlumeError(f"stability class must be one of {STABILITY_CLASSES}, got {stability!r}")
    return _BRIGGS[surface][stability]


def sigmas(x: Any, stability: str, surface: str = "rural") -> tuple[Any, Any]:
    """(σy, σz) in metres at downwind distance x (m); scalars or arrays."""
    a, b, c, d, e = _coeffs(stability, surface)
    x = np.asarray(x, dtype=float)
    sy = a * x / np.sqrt(1.0 + b * x)
    sz = c * x * (1.0 + d * x) ** e if d else c * x
    return sy, sz


# -- the plume ----------------------------------------------------------------------------
def _check_finite(**values: float) -> None:
    for name, v in values.items():
        if v is None or not math.isfinite(float(v)):
            raise PlumeError(f"{name} is missing or not a number ({v!r})")


@dataclass(frozen=True)
class Plume:
    """A steady continuous release under a steady wind.

    ``rate_kg_s`` is the release rate Q, ``height_m`` the release height H, ``wind_ms`` the
    10 m wind speed u, ``wind_from_deg`` where the wind blows FROM (meteorological, 0 = north),
    ``receptor_m`` the height z at which people breathe the gas (ALOHA's default: ground).
    """

    chemical: Chemical
    rate_kg_s: float
    wind_ms: float
    wind_from_deg: float
    stability: str
    surface: str = "rural"
    height_m: float = 0.0
    receptor_m: float = 0.0
    lon: float = 0.0
    lat: float = 0.0

    def __post_init__(self) -> None:
        _check_finite(rate_kg_s=self.rate_kg_s, wind_ms=self.wind_ms, wind_from_deg=self.wind_from_deg,
                      height_m=self.height_m, receptor_m=self.receptor_m, lon=self.lon, lat=self.lat)
        if self.rate_kg_s <= 0:
            raise PlumeError(f"release rate must be > 0 kg/s, got {self.rate_kg_s}")
        if self.wind_ms < MIN_WIND_MS:
            raise PlumeError(f"wind {self.wind_ms:.2f} m/s is below {MIN_WIND_MS} m/s: "
                             "calm air, the Gaussian plume does not apply")
        if self.wind_ms > 60:
            raise PlumeError(f"wind {self.wind_ms} m/s is out of physical range")
        if self.height_m < 0 or self.receptor_m < 0:
            raise PlumeError("release and receptor heights must be ≥ 0 m")
        _coeffs(self.stability, self.surface)

    # -- concentrations in the plume's own frame (x downwind, y crosswind, z up) --------
    def concentration_g_m3(self, x: Any, y: Any = 0.0, z: float | None = None) -> Any:
        """The plume equation with ground reflection; 0 upwind and within ``X_MIN_M`` of the source."""
        z = self.receptor_m if z is None else z
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        xp = np.where(x >= X_MIN_M, x, X_MIN_M)
        sy, sz = sigmas(xp, self.stability, self.surface)
        q = self.rate_kg_s * 1000.0
        h = self.height_m
        c = (q / (2 * np.pi * self.wind_ms * sy * sz) * np.exp(-y * y / (2 * sy * sy))
             * (np.exp(-(z - h) ** 2 / (2 * sz * sz)) + np.exp(-(z + h) ** 2 / (2 * sz * sz))))
        return np.where(x >= X_MIN_M, c, 0.0)

    def ppm(self, x: Any, y: Any = 0.0, z: float | None = None) -> Any:
        return ppm_from_mg_m3(self.concentration_g_m3(x, y, z) * 1000.0, self.chemical.mw)

    def centreline_ppm(self, x: Any) -> Any:
        return self.ppm(x, 0.0)

    # -- threat distances and zones ----------------------------------------------------------
    def threat_distance(self, loc_ppm: float, x_max: float = MAX_DISTANCE_M) -> tuple[float, bool]:
        """(farthest downwind distance in m where the ground centreline reaches ``loc_ppm``, capped).

        0 when it is never reached; ``capped`` True when it is still reached at ``x_max``.
        """
        xs = np.geomspace(1.0, x_max, 1200)
        cs = self.centreline_ppm(xs)
        above = np.nonzero(cs >= loc_ppm)[0]
        if above.size == 0:
            return 0.0, False
        i = int(above[-1])
        if i == xs.size - 1:
            return float(x_max), True
        lo, hi = float(xs[i]), float(xs[i + 1])
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            if float(self.centreline_ppm(mid)) >= loc_ppm:
                lo = mid
            else:
                hi = mid
        return 0.5 * (lo + hi), False

    def zone_outline_xy(self, loc_ppm: float, n: int = 90) -> list[tuple[float, float]]:
        """The zone where C ≥ ``loc_ppm`` as a closed ring of (x downwind, y crosswind) metres."""
        dist, _ = self.threat_distance(loc_ppm)
        if dist <= 0:
            return []
        xs = np.geomspace(max(dist * 1e-3, X_MIN_M), dist, n)
        cl = self.centreline_ppm(xs)
        sy, _ = sigmas(xs, self.stability, self.surface)
        ratio = np.where(cl > loc_ppm, cl / loc_ppm, 1.0)
        w = sy * np.sqrt(2 * np.log(ratio))
        keep = cl >= loc_ppm
        xs, w = xs[keep], w[keep]
        if xs.size == 0:
            return []
        upper = [(float(x), float(v)) for x, v in zip(xs, w)] + [(dist, 0.0)]
        lower = [(float(x), -float(v)) for x, v in zip(xs[::-1], w[::-1])]
        ring = [(float(xs[0]), 0.0)] + upper + lower + [(float(xs[0]), 0.0)]
        return ring

    # -- geography ------------------------------------------------------------------------
    @property
    def toward_deg(self) -> float:
        """Bearing the plume travels toward (downwind)."""
        return (self.wind_from_deg + 180.0) % 360.0

    def to_lonlat(self, x: Any, y: Any) -> tuple[Any, Any]:
        """Plume frame (x downwind, y to the right of the plume) to lon/lat around the source."""
        t = math.radians(self.toward_deg)
        east = np.asarray(x) * math.sin(t) + np.asarray(y) * math.cos(t)
        north = np.asarray(x) * math.cos(t) - np.asarray(y) * math.sin(t)
        lat = self.lat + np.degrees(north / EARTH_RADIUS_M)
        lon = self.lon + np.degrees(east / (EARTH_RADIUS_M * math.cos(math.radians(self.lat))))
        return lon, lat

    def to_xy(self, lon: Any, lat: Any) -> tuple[Any, Any]:
        """lon/lat to the plume frame (x downwind, y to the right)."""
        t = math.radians(self.toward_deg)
        east = np.radians(np.asarray(lon, dtype=float) - self.lon) * EARTH_RADIUS_M * math.cos(math.radians(self.lat))
        north = np.radians(np.asarray(lat, dtype=float) - self.lat) * EARTH_RADIUS_M
        x = east * math.sin(t) + north * math.cos(t)
        y = east * math.cos(t) - north * math.sin(t)
        return x, y

    def ppm_at(self, lon: Any, lat: Any) -> Any:
        """Ground concentration (ppm) at map points."""
        x, y = self.to_xy(lon, lat)
        return self.ppm(x, y)

    def ppm_grid(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Ground concentration on a large grid: one exp per point, in place (see bench/chemical_park.py)."""
        a, b, c, d, e = _coeffs(self.stability, self.surface)
        t = math.radians(self.toward_deg)
        kx = EARTH_RADIUS_M * math.cos(math.radians(self.lat)) * math.pi / 180.0
        ky = EARTH_RADIUS_M * math.pi / 180.0
        east = (lon - self.lon) * kx
        north = (lat - self.lat) * ky
        x = east * math.sin(t)
        x += north * math.cos(t)
        y = east
        y *= math.cos(t)
        north *= math.sin(t)
        y -= north
        up = x >= X_MIN_M
        np.maximum(x, X_MIN_M, out=x)
        sy2 = (a * a) * x * x / (1.0 + b * x)          # σy²
        sz = c * x * (1.0 + d * x) ** e if d else c * x
        h, z = self.height_m, self.receptor_m
        q = self.rate_kg_s * 1000.0
        k = q / (2 * math.pi * self.wind_ms) * 1000.0 * MOLAR_VOLUME_L / self.chemical.mw
        # exponent: −y²/2σy² − (z−H)²/2σz²  (+ the reflected term as a factor where z = 0)
        y *= y
        y /= sy2
        y *= -0.5
        sz2 = sz * sz
        if z == 0.0:
            y -= (h * h / 2) / sz2
            np.exp(y, out=y)
            y *= 2 * k
        else:
            ex = np.exp(y - (z - h) ** 2 / (2 * sz2)) + np.exp(y - (z + h) ** 2 / (2 * sz2))
            y = ex * k
        y /= np.sqrt(sy2) * sz
        y[~up] = 0.0
        return y


    def ppm_on_axes(self, lons: np.ndarray, lats: np.ndarray, k_sigma: float = 8.0) -> np.ndarray:
        """Ground concentration (ppm) on the grid ``lats × lons`` (1-D ascending axes), shape (len(lats), len(lons)).

        Only points in the downwind wedge |y| < k_sigma·a·x are computed (a·x bounds σy); outside it
        the plume is below exp(−k_sigma²/2) (1e-14 at 8σ) of its centreline and the grid holds 0.
        Row intervals of the wedge are solved analytically, so the work scales with the wedge, not the grid.
        """
        lons = np.asarray(lons, dtype=float)
        lats = np.asarray(lats, dtype=float)
        a, b, c, d, e = _coeffs(self.stability, self.surface)
        t = math.radians(self.toward_deg)
        st, ct = math.sin(t), math.cos(t)
        kx = EARTH_RADIUS_M * math.cos(math.radians(self.lat)) * math.pi / 180.0
        ky = EARTH_RADIUS_M * math.pi / 180.0
        # x = ax·lon + bx_j,  y = ay·lon + by_j  along row j
        ax, ay = kx * st, kx * ct
        north = (lats - self.lat) * ky
        bx = -self.lon * kx * st + north * ct
        by = -self.lon * kx * ct - north * st
        kk = k_sigma * a
        # row interval of lon where x > 0, y − kk·x < 0 and −y − kk·x < 0 (three half-lines in lon)
        lo = np.full(lats.shape, -np.inf)
        hi = np.full(lats.shape, np.inf)
        for coef, off in ((ax, bx), (-(ay - kk * ax), -(by - kk * bx)), (ay + kk * ax, by + kk * bx)):
            if abs(coef) < 1e-12:
                bad = off <= 0
                hi = np.where(bad, -np.inf, hi)
                continue
            bound = -off / coef                     # coef·lon + off > 0
            if coef > 0:
                lo = np.maximum(lo, bound)
            else:
                hi = np.minimum(hi, bound)
        i0 = np.searchsorted(lons, lo, side="right")
        i1 = np.searchsorted(lons, hi, side="left")
        counts = np.maximum(i1 - i0, 0)
        out = np.zeros((lats.size, lons.size))
        total = int(counts.sum())
        if total == 0:
            return out
        first = np.cumsum(counts) - counts              # where each row's run starts in the flat subset
        cols = np.arange(total)
        cols += np.repeat(i0 - first, counts)           # column index of every computed point
        lon_c = lons[cols]
        x = lon_c * ax
        x += np.repeat(bx, counts)
        y = lon_c * ay
        y += np.repeat(by, counts)
        flat = cols + np.repeat(np.arange(lats.size) * lons.size, counts)
        upwind = x < X_MIN_M                    # upwind, or at the singular source point
        np.maximum(x, 1e-9, out=x)
        vals = self._ground_ppm_xy(x, y, a, b, c, d, e)
        vals[upwind] = 0.0
        out.reshape(-1)[flat] = vals
        return out

    def _ground_ppm_xy(self, x: np.ndarray, y: np.ndarray, a: float, b: float, c: float, d: float,
                       e: float) -> np.ndarray:
        """The plume equation at ground level (z = receptor height 0) for x > 0, few array passes; y is overwritten."""
        q = self.rate_kg_s * 1000.0
        k = q / (math.pi * self.wind_ms) * 1000.0 * MOLAR_VOLUME_L / self.chemical.mw  # 2·Q/(2π u) → ppm
        fy = 1.0 + b * x                       # σy² = a²x²/fy
        x2 = x * x
        if d == 0.0:
            fz = None                          # σz² = c²x²
        elif e == -0.5:
            fz = 1.0 + d * x                   # σz² = c²x²/fz
        elif e == -1.0:
            fz = 1.0 + d * x
            fz *= fz
        else:                                  # e = +0.5: σz² = c²x²·(1+dx)
            fz = 1.0 / (1.0 + d * x)
        # exponent: −y²/(2σy²) − H²/(2σz²) = −(y²·fy/(2a²) + H²·fz/(2c²)) / x²
        y *= y
        y *= fy
        y *= -0.5 / (a * a)
        h = self.height_m
        if h:
            y -= (h * h / (2 * c * c)) * (fz if fz is not None else 1.0)
        y /= x2
        np.exp(y, out=y)
        # prefactor k/(σy σz) = k·sqrt(fy·fz)/(a c x²)
        if fz is not None:
            fy *= fz
        np.sqrt(fy, out=fy)
        fy /= x2
        y *= fy
        y *= k / (a * c)
        if self.receptor_m:
            raise PlumeError("the fast grid is for ground-level receptors; use ppm_at for a raised receptor")
        return y

LEVELS = (("AEGL-3", 2, (232, 54, 59)), ("AEGL-2", 1, (245, 133, 42)), ("AEGL-1", 0, (246, 211, 60)))


@dataclass(frozen=True)
class ThreatZone:
    level: str           # "AEGL-3" red, "AEGL-2" orange, "AEGL-1" yellow
    loc_ppm: float
    distance_m: float
    capped: bool
    color: tuple[int, int, int]
    ring_lonlat: list[list[float]]


def threat_zones(plume: Plume, n: int = 90) -> list[ThreatZone]:
    """The three AEGL zones, most severe first (red, orange, yellow), with map outlines."""
    out = []
    for level, idx, color in LEVELS:
        loc = plume.chemical.aegl[idx]
        dist, capped = plume.threat_distance(loc)
        ring = plume.zone_outline_xy(loc, n) if dist > 0 else []
        if ring:
            xs, ys = zip(*ring)
            lon, lat = plume.to_lonlat(np.array(xs), np.array(ys))
            ring_ll = [[float(a), float(b)] for a, b in zip(lon, lat)]
        else:
            ring_ll = []
        out.append(ThreatZone(level, loc, dist, capped, color, ring_ll))
    return out


def zone_of(plume: Plume, lon: float, lat: float) -> str | None:
    """The most severe AEGL level reached at a point, or None."""
    c = float(plume.ppm_at(lon, lat))
    for level, idx, _ in LEVELS:
        if c >= plume.chemical.aegl[idx]:
            return level
    return None


COMPASS_ZH = ("北", "东北", "东", "东南", "南", "西南", "西", "西北")
COMPASS_EN = ("N", "NE", "E", "SE", "S", "SW", "W", "NW")


def compass(bearing_deg: float, lang: str = "zh") -> str:
    names = COMPASS_EN if lang == "en" else COMPASS_ZH
    return names[int(((bearing_deg % 360) + 22.5) // 45) % 8]


def evacuation(plume: Plume, lon: float | None = None, lat: float | None = None) -> dict[str, float]:
    """Bearings: upwind (toward the source's wind), both crosswind directions, and the better crosswind
    one for a point (away from the plume axis on its own side)."""
    up = plume.wind_from_deg % 360
    right = (plume.toward_deg + 90) % 360
    left = (plume.toward_deg - 90) % 360
    out = {"upwind": up, "crosswind_right": right, "crosswind_left": left, "crosswind": right}
    if lon is not None and lat is not None:
        _, y = plume.to_xy(lon, lat)
        out["crosswind"] = right if float(y) >= 0 else left
    return out


def gb18218_grade(inventory_t: Sequence[tuple[str, float]], people_500m: int) -> tuple[float, str]:
    """GB 18218-2018 major hazard source: R = α Σ βᵢ qᵢ/Qᵢ and its grade 一级 (R≥100) … 四级 (R<10).

    ``inventory_t`` pairs chemical keys with stored tonnes; α from the people within 500 m.
    """
    alpha = 2.0 if people_500m >= 100 else 1.5 if people_500m >= 50 else 1.2 if people_500m >= 30 \
        else 1.0 if people_500m >= 1 else 0.5
    r = alpha * sum(chemical(k).beta * q / chemical(k).critical_t for k, q in inventory_t)
    grade = "一级" if r >= 100 else "二级" if r >= 50 else "三级" if r >= 10 else "四级"
    return r, grade


@dataclass(frozen=True)
class Flammable:
    key: str
    name_zh: str
    name_en: str
    mw: float
    lel_vol_pct: float      # lower explosive limit, % by volume
    liquid_density: float   # kg/m³
    critical_t: float       # GB 18218-2018 critical quantity (t)
    beta: float = 1.0       # correction factor assumed 1 for these liquids

    def name(self, lang: str) -> str:
        return self.name_en if lang == "en" else self.name_zh


#: flammable liquids the park stores: no toxic threat zones (fire and explosion models are not included)
FLAMMABLES: dict[str, Flammable] = {f.key: f for f in (
    Flammable("methanol", "甲醇", "Methanol", 32.04, 6.0, 791, 500),
    Flammable("toluene", "甲苯", "Toluene", 92.14, 1.1, 867, 500),
)}


def substance(key: str) -> Chemical | Flammable:
    """A toxic chemical or a flammable liquid from the library, or PlumeError."""
    if key in FLAMMABLES:
        return FLAMMABLES[key]
    try:
        return chemical(key)
    except PlumeError:
        known = sorted(CHEMICALS) + sorted(FLAMMABLES)
        raise PlumeError(f"unknown substance {key!r}; the library has {', '.join(known)}") from None
