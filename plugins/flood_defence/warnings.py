"""Water-level warnings by colour, and the host alert rule that raises them.

The rule (DOMAIN.md, one published provincial rule):

* **blue** (IV): nearing the warning level (警戒水位): within ``blue_margin_m`` below it;
* **yellow** (III): at or above the warning level;
* **orange** (II): at or above the guaranteed level (保证水位);
* **red** (I): at or above the historical maximum.

A station without a warning level or with thresholds out of order is an error (``ThresholdError``),
never a station silently without warnings. Readings flagged as spikes (a jump faster than
``max_rate_m_per_min`` from the last accepted value) do not raise or clear warnings.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.api import AlertDraft, Reading, Severity

COLORS = {Severity.IV: ("blue", "蓝色"), Severity.III: ("yellow", "黄色"),
          Severity.II: ("orange", "橙色"), Severity.I: ("red", "红色")}
#: the threshold named in the alert for each colour
CROSSED = {Severity.IV: ("nearing_warning", "接近警戒水位", "nearing warning level"),
           Severity.III: ("warning", "警戒水位", "warning level"),
           Severity.II: ("guaranteed", "保证水位", "guaranteed level"),
           Severity.I: ("historical_max", "历史最高水位", "historical maximum")}


class ThresholdError(ValueError):
    """A station's thresholds are missing or inconsistent."""


@dataclass(frozen=True)
class Thresholds:
    """A station's levels in metres (the same datum as its readings)."""

    warning: float
    guaranteed: float
    historical_max: float
    blue_margin: float = 0.3

    @classmethod
    def from_properties(cls, station_id: str, props: Mapping[str, Any], blue_margin: float = 0.3) -> Thresholds:
        """From twin properties ``warning_level``, ``guaranteed_level``, ``historical_max``."""
        missing = [k for k in ("warning_level", "guaranteed_level", "historical_max")
                   if props.get(k) is None]
        if missing:
            raise ThresholdError(f"station {station_id!r} has no {', '.join(missing)}: "
                                 "no warning can be computed for it")
        try:
            w, g, h = (float(props[k]) for k in ("warning_level", "guaranteed_level", "historical_max"))
        except (TypeError, ValueError) as exc:
            raise ThresholdError(f"station {station_id!r}: thresholds must be numbers ({exc})") from None
        if not (w <= g <= h) or any(math.isnan(x) for x in (w, g, h)):
            raise ThresholdError(f"station {station_id!r}: need warning_level ({w}) <= guaranteed_level ({g}) "
                                 f"<= historical_max ({h})")
        return cls(w, g, h, float(props.get("blue_margin", blue_margin)))

    def severity(self, level: float) -> Severity | None:
        """The warning colour of one water level, or None below blue."""
        if level is None or math.isnan(level):
            return None
        if level >= self.historical_max:
            return Severity.I
        if level >= self.guaranteed:
            return Severity.II
        if level >= self.warning:
            return Severity.III
        if level >= self.warning - self.blue_margin:
            return Severity.IV
        return None

    def limit(self, sev: Severity) -> float:
        return {Severity.I: self.historical_max, Severity.II: self.guaranteed, Severity.III: self.warning,
                Severity.IV: self.warning - self.blue_margin}[sev]


def classify(levels: np.ndarray, warning: np.ndarray, guaranteed: np.ndarray, hist_max: np.ndarray,
             blue_margin: np.ndarray | float = 0.3) -> np.ndarray:
    """Vectorised colours: 0 none, 4 blue, 3 yellow, 2 orange, 1 red (NaN levels: 0).

    ``levels`` is (stations, times); thresholds are per station (broadcast over times).
    """
    w = np.asarray(warning, dtype=float)[:, None]
    g = np.asarray(guaranteed, dtype=float)[:, None]
    h = np.asarray(hist_max, dtype=float)[:, None]
    b = np.asarray(blue_margin, dtype=float)
    b = b[:, None] if b.ndim else b
    lv = np.asarray(levels, dtype=float)
    out = np.zeros(lv.shape, dtype=np.int8)
    out[lv >= w - b] = 4
    out[lv >= w] = 3
    out[lv >= g] = 2
    out[lv >= h] = 1
    return out


def spike_mask(values: np.ndarray, times: np.ndarray, max_rate_per_min: float) -> np.ndarray:
    """True where a value jumps faster than ``max_rate_per_min`` from the previous accepted value
    and the next value does not confirm it (an isolated spike, not a real rise)."""
    v = np.asarray(values, dtype=float)
    t = np.asarray(times, dtype=float)
    n = len(v)
    bad = np.zeros(n, dtype=bool)
    if n < 2:
        return bad
    dt = np.maximum(np.diff(t) / 60.0, 1.0)
    rate_in = np.abs(np.diff(v)) / dt                       # i-1 -> i
    jump_in = np.concatenate([[False], rate_in > max_rate_per_min])
    jump_out = np.concatenate([rate_in > max_rate_per_min, [True]])  # i -> i+1 (unknown at end: suspect)
    bad = jump_in & jump_out
    return bad


class WaterLevelRule:
    """Host alert rule: one open warning per station, escalating blue → yellow → orange → red.

    ``stations`` maps entity id → (Thresholds, metric, name). Readings of other entities are ignored.
    """

    def __init__(self, rule_id: str, stations: Mapping[str, tuple[Thresholds, str, str]],
                 max_rate_m_per_min: float = 0.2, title_zh: str = "水位预警", title_en: str = "Water-level warning"
                 ) -> None:
        self.id = rule_id
        self.stations = dict(stations)
        self.max_rate = max_rate_m_per_min
        self.title_zh, self.title_en = title_zh, title_en
        self._last: dict[str, tuple[float, float]] = {}
        self._streak: dict[str, int] = {}
        self.rejected: list[Reading] = []

    def _accept(self, r: Reading) -> bool:
        """False for a spike: a jump faster than the plausible rate from the last accepted value."""
        if r.value is None or math.isnan(r.value):
            return False
        prev = self._last.get(r.entity_id)
        if prev is not None:
            pts, pv = prev
            if r.ts <= pts:
                return r.ts == pts and r.value == pv
            rate = abs(r.value - pv) / max((r.ts - pts) / 60.0, 1.0)  # per minute, at least over one
            if rate > self.max_rate and (r.ts - pts) < 1800:
                streak = self._streak.get(r.entity_id, 0) + 1
                self._streak[r.entity_id] = streak
                if streak < 3:  # a level that stays at the new value for 3 readings is real (a step)
                    self.rejected.append(r)
                    del self.rejected[:-100]
                    return False
        self._streak[r.entity_id] = 0
        self._last[r.entity_id] = (r.ts, r.value)
        return True

    def evaluate(self, readings: Sequence[Reading]) -> list[AlertDraft]:
        out: list[AlertDraft] = []
        self._ok: set[int] = set()
        for r in readings:
            st = self.stations.get(r.entity_id)
            if st is None or r.metric != st[1]:
                continue
            if not self._accept(r):
                continue
            self._ok.add(id(r))
            th, _, name = st
            sev = th.severity(r.value)
            if sev is None:
                continue
            key, zh, en = CROSSED[sev]
            colour = COLORS[sev][1]
            out.append(AlertDraft(self.id, r.entity_id, sev, f"{name}{colour}{self.title_zh}",
                                  f"{name} {r.value:.2f} m ≥ {zh} {th.limit(sev):.2f} m "
                                  f"({COLORS[sev][0]}: {en}) threshold={key}", r.value))
        return out

    def clears(self, reading: Reading) -> bool:
        """Back below the blue band (spikes never clear a warning)."""
        st = self.stations.get(reading.entity_id)
        if st is None or reading.metric != st[1] or id(reading) not in getattr(self, "_ok", ()):
            return False
        return st[0].severity(reading.value) is None


# -- rainstorm signals (气象灾害预警信号: 暴雨) ------------------------------------------------------

#: (severity, hours, mm): the rainstorm warning signal criteria by accumulated rain over a window
RAIN_SIGNALS: tuple[tuple[Severity, float, float], ...] = (
    (Severity.I, 3, 100.0), (Severity.II, 3, 50.0), (Severity.III, 6, 50.0), (Severity.IV, 12, 50.0))


def rain_signal(totals_mm: Mapping[float, float]) -> tuple[Severity, float, float] | None:
    """The most severe rainstorm signal met by accumulated totals {hours: mm}, as (severity, hours, mm)."""
    for sev, hours, mm in RAIN_SIGNALS:
        if totals_mm.get(hours, 0.0) >= mm:
            return sev, hours, mm
    return None


def evaluate_pass(levels: np.ndarray, times: np.ndarray, thresholds: Iterable[Thresholds],
                  max_rate_per_min: float = 0.2) -> np.ndarray:
    """One evaluation pass over many stations' series (stations × times): spikes masked, the worst
    colour per station over the window (0 none, 1 red .. 4 blue). Used by the benchmark and the panels."""
    th = list(thresholds)
    lv = np.asarray(levels, dtype=float).copy()
    t = np.asarray(times, dtype=float)
    dt = np.maximum(np.diff(t) / 60.0, 1.0)
    rate = np.abs(np.diff(lv, axis=1)) / dt
    jump = rate > max_rate_per_min
    spikes = np.zeros(lv.shape, dtype=bool)
    spikes[:, 1:-1] = jump[:, :-1] & jump[:, 1:]
    lv[spikes] = np.nan
    cls = classify(lv, np.array([x.warning for x in th]), np.array([x.guaranteed for x in th]),
                   np.array([x.historical_max for x in th]), np.array([x.blue_margin for x in th]))
    worst = np.where(cls == 0, 9, cls).min(axis=1)
    return np.where(worst == 9, 0, worst).astype(np.int8)
