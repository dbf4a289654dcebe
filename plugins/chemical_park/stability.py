"""Pasquill–Gifford stability classes and Briggs (1973) dispersion coefficients σy, σz.

The class comes from the 10 m wind speed and the daytime insolation (from the sun's elevation and
the cloud cover) or the night's cloud cover (Turner's table); σy, σz for open country ("rural")
and cities ("urban"), fitted for 100 m – 10 km.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .chemicals import PlumeError


def _check_finite(**values: float) -> None:
    for name, v in values.items():
        if v is None or not math.isfinite(float(v)):
            raise PlumeError(f"{name} is missing or not a number ({v!r})")


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
