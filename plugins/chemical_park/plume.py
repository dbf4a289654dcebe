"""Gaussian plume for a continuous, neutrally buoyant release (the model ALOHA uses for light gases).

``plume`` is the model's one import (``from . import plume``; ``plume.Plume``, ``plume.chemical``…); it
re-exports four modules: ``chemicals`` (library, units, GB 18218 grade, ``PlumeError``), ``stability``
(Pasquill–Gifford class, Briggs σy σz), ``gaussian`` (the ``Plume`` equation, distances, outlines, grids)
and ``zones`` (AEGL threat zones, evacuation bearings). What they hold, and only this:

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

from .chemicals import (CHEMICALS, FLAMMABLES, MOLAR_VOLUME_L, Chemical, Flammable, PlumeError, chemical,
                        gb18218_grade, mg_m3_from_ppm, ppm_from_mg_m3, substance)
from .gaussian import EARTH_RADIUS_M, MAX_DISTANCE_M, MIN_WIND_MS, X_MIN_M, Plume
from .stability import (_BRIGGS, _PG_TABLE, INSOLATIONS, STABILITY_CLASSES, SURFACES, _check_finite, _coeffs,
                        insolation_from_sun, sigmas, solar_elevation_deg, stability_at, stability_class)
from .zones import COMPASS_EN, COMPASS_ZH, LEVELS, ThreatZone, compass, evacuation, threat_zones, zone_of

__all__ = [
    "CHEMICALS", "FLAMMABLES", "MOLAR_VOLUME_L", "Chemical", "Flammable", "PlumeError", "chemical",
    "gb18218_grade", "mg_m3_from_ppm", "ppm_from_mg_m3", "substance",
    "EARTH_RADIUS_M", "MAX_DISTANCE_M", "MIN_WIND_MS", "X_MIN_M", "Plume",
    "_BRIGGS", "_PG_TABLE", "INSOLATIONS", "STABILITY_CLASSES", "SURFACES", "_check_finite", "_coeffs",
    "insolation_from_sun", "sigmas", "solar_elevation_deg", "stability_at", "stability_class",
    "COMPASS_EN", "COMPASS_ZH", "LEVELS", "ThreatZone", "compass", "evacuation", "threat_zones", "zone_of",
]
