"""The Gaussian plume of a steady, continuous, neutrally buoyant release under a steady wind.

    C(x, y, z) = Q / (2π u σy σz) · exp(−y²/2σy²) · [exp(−(z−H)²/2σz²) + exp(−(z+H)²/2σz²)]

with ground reflection; its ground-level centreline for a ground release is C = Q / (π u σy σz).
``Plume`` evaluates it in its own frame (x downwind, y crosswind), on lon/lat points and grids,
and finds how far downwind a level of concern reaches and the outline of that zone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .chemicals import MOLAR_VOLUME_L, Chemical, PlumeError, ppm_from_mg_m3
from .stability import _check_finite, _coeffs, sigmas

#: Gaussian plume results are not given beyond this distance (Briggs' fit; ALOHA's cap too)
MAX_DISTANCE_M = 10_000.0
#: below this 10 m wind speed the plume model does not apply (calm, meandering)
MIN_WIND_MS = 1.0
#: the equation is not evaluated closer than this downwind (a point source is singular there): 0 is returned
X_MIN_M = 1.0
EARTH_RADIUS_M = 6_371_008.8


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
