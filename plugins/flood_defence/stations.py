"""Stations of the twin (water level, tide, rain), series quality, rainfall totals and short-term forecasts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .warnings import Thresholds, ThresholdError, accepted_mask

#: the metric each station type reports
METRICS = {"water_level": ("water_level_m", "m"), "tide": ("tide_level_m", "m"), "rain": ("rain_mm", "mm")}
FORECAST_SUFFIX = "_fcst"  # an external forecast series is ingested as metric + "_fcst" with future timestamps


@dataclass(frozen=True)
class Station:
    id: str
    name: str
    name_en: str
    type: str
    metric: str
    unit: str
    lon: float
    lat: float
    thresholds: Thresholds | None
    threshold_error: str | None
    properties: dict[str, Any]

    def label(self, lang: str) -> str:
        return (self.name_en or self.name) if lang == "en" else self.name


def stations_from_entities(entities: Sequence[Any], blue_margin: float = 0.3) -> list[Station]:
    """Stations (kind ``station``) with their thresholds; a level station without thresholds keeps
    ``thresholds=None`` and says why in ``threshold_error`` (shown on screen, no warning computed)."""
    out = []
    for e in entities:
        if e.kind != "station":
            continue
        props = dict(e.properties or {})
        stype = props.get("station_type", "water_level")
        if stype not in METRICS:
            raise ValueError(f"station {e.id!r}: station_type must be one of {sorted(METRICS)}, got {stype!r}")
        metric, unit = METRICS[stype]
        th, err = None, None
        if stype in ("water_level", "tide"):
            try:
                th = Thresholds.from_properties(e.id, props, blue_margin)
            except ThresholdError as exc:
                err = str(exc)
        lon, lat = (e.geometry or {}).get("coordinates", [None, None])[:2]
        out.append(Station(e.id, e.name, e.name_en, stype, metric, unit, lon, lat, th, err, props))
    return out


# -- series quality --------------------------------------------------------------------------------

@dataclass
class CleanSeries:
    """A series prepared for plotting: gaps as None (lines break), spikes removed and listed."""

    times: list[float]
    values: list[float | None]
    spikes: list[tuple[float, float]]
    gaps: list[tuple[float, float]]


def clean_series(points: Sequence[tuple[float, float]], interval_s: float, max_rate_per_min: float,
                 gap_factor: float = 2.5) -> CleanSeries:
    """Flag gaps (no reading for more than ``gap_factor`` usual intervals) and spikes.

    A spike is a reading the warning rule's spike filter (``warnings.SpikeFilter``) does not accept:
    a jump faster than ``max_rate_per_min`` that 3 agreeing readings have not confirmed (so the last
    one or two readings of a jump stay marked until they are). It is listed in ``spikes`` and not
    plotted as real. Gaps get a None so plotly breaks the line.
    """
    times: list[float] = []
    values: list[float | None] = []
    spikes: list[tuple[float, float]] = []
    gaps: list[tuple[float, float]] = []
    if not points:
        return CleanSeries(times, values, spikes, gaps)
    t = np.array([p[0] for p in points], dtype=float)
    v = np.array([p[1] for p in points], dtype=float)
    bad = ~np.isfinite(v) | ~accepted_mask(v, t, max_rate_per_min)
    prev_t = None
    recent: list[float] = []   # the last few intervals: the cadence may change (5-min history, 5-s live)
    for ti, vi, b in zip(t, v, bad):
        if prev_t is not None:
            dt = ti - prev_t
            usual = float(np.median(recent)) if recent else dt   # the first interval sets the cadence
            if dt > gap_factor * max(usual, interval_s):
                gaps.append((float(prev_t), float(ti)))
                times.append(float((prev_t + ti) / 2))
                values.append(None)
            else:
                recent.append(dt)
                del recent[:-5]
        if b:
            if np.isfinite(vi):
                spikes.append((float(ti), float(vi)))
            continue
        times.append(float(ti))
        values.append(float(vi))
        prev_t = ti
    return CleanSeries(times, values, spikes, gaps)


# -- rainfall ---------------------------------------------------------------------------------------

def rain_totals(points: Sequence[tuple[float, float]], now: float,
                windows_h: Sequence[float] = (1, 3, 6, 24)) -> dict[float, float]:
    """Accumulated rain (mm) over the last hours from interval rain readings (mm per reading)."""
    if not points:
        return {h: 0.0 for h in windows_h}
    t = np.array([p[0] for p in points], dtype=float)
    v = np.nan_to_num(np.array([p[1] for p in points], dtype=float), nan=0.0)
    v = np.clip(v, 0.0, None)
    return {h: round(float(v[(t > now - h * 3600) & (t <= now)].sum()), 1) for h in windows_h}


# -- short-term forecast ----------------------------------------------------------------------------

@dataclass
class Forecast:
    times: list[float]
    values: list[float]
    rate_per_h: float
    source: str  # "trend" or "external"


def trend_forecast(points: Sequence[tuple[float, float]], horizon_s: float = 3600, fit_s: float = 1800,
                   step_s: float = 300, damping: float = 0.5) -> Forecast | None:
    """Linear trend over the last ``fit_s`` seconds, extrapolated ``horizon_s`` ahead.

    The slope decays (``damping`` per horizon) so a steep rise is not projected without end.
    None when fewer than 3 points are in the fit window.
    """
    if len(points) < 3:
        return None
    t = np.array([p[0] for p in points], dtype=float)
    v = np.array([p[1] for p in points], dtype=float)
    ok = np.isfinite(v) & (t >= t[-1] - fit_s)
    if ok.sum() < 3:
        return None
    tt, vv = t[ok], v[ok]
    slope, intercept = np.polyfit(tt - tt[-1], vv, 1)
    last = intercept
    steps = np.arange(step_s, horizon_s + 1e-9, step_s)
    k = -np.log(max(damping, 1e-6)) / horizon_s
    # integral of slope * exp(-k s) ds from 0 to step
    rise = slope * (1 - np.exp(-k * steps)) / k if k > 0 else slope * steps
    return Forecast([float(tt[-1] + s) for s in steps], [float(last + r) for r in rise],
                    float(slope * 3600), "trend")


def blend_external(trend: Forecast | None, external: Sequence[tuple[float, float]], now: float) -> Forecast | None:
    """Prefer an ingested external forecast (future timestamps) when one is given."""
    future = [(t, v) for t, v in external if t > now]
    if future:
        ts = [t for t, _ in future]
        vs = [v for _, v in future]
        rate = (vs[-1] - vs[0]) / max((ts[-1] - ts[0]) / 3600, 1e-9) if len(vs) > 1 else 0.0
        return Forecast(ts, vs, rate, "external")
    return trend
