"""Water-level warnings by colour, and the host alert rule that raises them.

The rule (DOMAIN.md, one published provincial rule):

* **blue** (IV): nearing the warning level (警戒水位): within ``blue_margin_m`` below it;
* **yellow** (III): at or above the warning level;
* **orange** (II): at or above the guaranteed level (保证水位);
* **red** (I): at or above the historical maximum.

A station without a warning level or with thresholds out of order is an error (``ThresholdError``),
never a station silently without warnings; so is a negative ``blue_margin`` (it would switch blue off).

Readings pass one spike filter (:class:`SpikeFilter`) before they raise or clear a warning; the live
rule (:class:`WaterLevelRule`), the vectorised pass (:func:`evaluate_pass`) and the hydrograph's spike
marks (``stations.clean_series``) all use it, so they agree reading by reading:

* a reading is accepted at once when it is within ``max_rate_m_per_min`` × minutes (at least one
  minute) of what the last accepted reading predicts: the same level, or the level continued at the
  rate of the last accepted step (so a consistent fast rise, once seen, is accepted every reading);
* any other reading is held: it is accepted only when **3 readings in a row agree** with each other in
  the same sense (each one holds the previous one's level or continues its rate): a new level that
  holds (a step) or a new fast trend. All the held readings are then accepted, in order, so a colour
  crossed while they were held (blue on a fast rise) is still raised;
* a held reading that does not agree with the ones before it starts a new run of its own, and a
  reading back near the accepted level ends the run: isolated spikes of 1 or 2 readings, and
  inconsistent jumps (7.5 → 2.0 → 9.0 m), are never accepted, and the good reading after them is.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.api import AlertDraft, Reading, Severity, name_en

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

    def __post_init__(self) -> None:
        try:
            b = float(self.blue_margin)
        except (TypeError, ValueError):
            raise ThresholdError(f"blue_margin must be a number of metres, got {self.blue_margin!r}") from None
        if not math.isfinite(b) or b < 0:
            raise ThresholdError(f"blue_margin must be a finite number of metres >= 0, got {self.blue_margin!r} "
                                 "(a negative margin would switch the blue warning off)")

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
        margin = props.get("blue_margin", blue_margin)
        try:
            return cls(w, g, h, float(margin))
        except (TypeError, ValueError) as exc:
            where = "property blue_margin" if "blue_margin" in props else "setting blue_margin_m"
            raise ThresholdError(f"station {station_id!r}: {where}: {str(exc).removeprefix('blue_margin ')}") from None

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


class SpikeFilter:
    """The water-level spike filter (rules in the module docstring), for ``n`` series at once.

    Each :meth:`push` gives every series at most one new reading (NaN: none) with a caller's integer
    ``tag``; it returns which of them were accepted now and the tags of held readings that the new one
    confirmed (accepted now too, older than it). The live rule runs one filter per station, the
    vectorised pass one filter over all stations, column by column; the code is the same.
    Spikes are judged per series in time order: a reading older than the newest seen is not accepted.
    """

    CONFIRM = 3  #: readings in a row that must agree before a jump is accepted

    def __init__(self, n: int, max_rate_per_min: float) -> None:
        rate = float(max_rate_per_min)
        if not math.isfinite(rate) or rate <= 0:
            raise ValueError(f"max_rate_m_per_min must be > 0, got {max_rate_per_min!r}")
        self.rate, self.n = rate, int(n)
        k = self.CONFIRM - 1
        self.a_t = np.full(n, np.nan)          # last accepted reading: time, value, rate (m per minute)
        self.a_v = np.full(n, np.nan)
        self.a_s = np.zeros(n)
        self.c_n = np.zeros(n, dtype=np.int64)  # held readings waiting for confirmation
        self.c_t = np.full((n, k), np.nan)
        self.c_v = np.full((n, k), np.nan)
        self.c_tag = np.full((n, k), -1, dtype=np.int64)
        self.c_s = np.zeros(n)                 # rate of the last held step

    def _near(self, v: np.ndarray, t: np.ndarray, pt: np.ndarray, pv: np.ndarray, ps: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
        """(agrees, minutes): v at t holds pv or continues from pv at rate ps, within the plausible rate."""
        with np.errstate(invalid="ignore"):
            dtm = np.maximum((t - pt) / 60.0, 1.0)  # at least one minute: 5-s sensor noise is not a spike
            tol = self.rate * dtm
            ok = (np.abs(v - pv) <= tol) | (np.abs(v - (pv + ps * dtm)) <= tol)
        return ok, dtm

    def push(self, t: np.ndarray | float, v: np.ndarray | float, tag: np.ndarray | int
             ) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
        """Feed one reading per series; returns (accepted now (n,), (rows, tags) of the held readings
        accepted now, oldest first within a row)."""
        n = self.n
        t = np.broadcast_to(np.asarray(t, dtype=float), (n,))
        v = np.broadcast_to(np.asarray(v, dtype=float), (n,))
        tag = np.broadcast_to(np.asarray(tag, dtype=np.int64), (n,))
        rows = np.arange(n)
        valid = np.isfinite(v) & np.isfinite(t)
        first = valid & np.isnan(self.a_t)
        held = self.c_n > 0
        last = np.maximum(self.c_n - 1, 0)
        lt, lv = self.c_t[rows, last], self.c_v[rows, last]
        newest = np.where(held, np.fmax(self.a_t, lt), self.a_t)
        with np.errstate(invalid="ignore"):
            dup = valid & (t == self.a_t) & (v == self.a_v)   # the same reading delivered again
            later = valid & ~first & (t > newest)
        near_a, dta = self._near(v, t, self.a_t, self.a_v, self.a_s)
        ok_a = later & near_a
        agrees, dtc = self._near(v, t, lt, lv, self.c_s)
        cons = later & ~ok_a & held & agrees
        confirm = cons & (self.c_n + 1 >= self.CONFIRM)
        grow = cons & ~confirm
        restart = later & ~ok_a & ~cons
        released = confirm[:, None] & (np.arange(self.c_tag.shape[1])[None, :] < self.c_n[:, None])
        out_rows, out_tags = np.nonzero(released)[0], self.c_tag[released]   # row-major: oldest first per row
        # the new accepted level and its rate
        take = first | ok_a | confirm
        rate_now = np.where(ok_a, (v - self.a_v) / dta, np.where(confirm, (v - lv) / dtc, 0.0))
        self.a_s = np.where(take, np.nan_to_num(rate_now), self.a_s)
        self.a_t = np.where(take, t, self.a_t)
        self.a_v = np.where(take, v, self.a_v)
        # the held run: grows, restarts with this reading, or ends
        slot = np.where(restart, 0, self.c_n)
        put = grow | restart
        if put.any():
            r, c = rows[put], slot[put]
            self.c_t[r, c], self.c_v[r, c], self.c_tag[r, c] = t[put], v[put], tag[put]
        self.c_s = np.where(grow, (v - lv) / dtc, np.where(restart, (v - self.a_v) / dta, self.c_s))
        self.c_n = np.where(take, 0, np.where(restart, 1, np.where(grow, self.c_n + 1, self.c_n)))
        return first | dup | ok_a | confirm, (out_rows, out_tags)

    def pending_tags(self) -> set[int]:
        """Tags of the readings held now (not accepted yet, may still be confirmed)."""
        k = np.arange(self.c_tag.shape[1])[None, :] < self.c_n[:, None]
        return set(self.c_tag[k].tolist())


def accepted_mask(values: np.ndarray, times: np.ndarray, max_rate_per_min: float) -> np.ndarray:
    """Which readings of one series (1-D) or many (series × times, same or per-series times) the
    :class:`SpikeFilter` accepts, in time order. Held readings still unconfirmed at the end are not.

    Exact shortcut: while every reading agrees with the one before it (each accepted at once), the
    filter's state is known without running it, so it only runs, column by column, over the series
    and the stretch of time from their first disagreeing reading until they are plain again.
    """
    v = np.asarray(values, dtype=float)
    one = v.ndim == 1
    v = v[None, :] if one else v
    tt = np.asarray(times, dtype=float)
    shared = tt.ndim == 1                         # one time axis for all series (the usual case): 1-D sums
    t = np.broadcast_to(tt, v.shape)
    n, m = v.shape
    rate = SpikeFilter(0, max_rate_per_min).rate  # checks the rate
    mask = np.zeros(v.shape, dtype=bool)
    if m == 0:
        return mask[0] if one else mask
    # the filter's own test, reading j against reading j-1 as if all before were accepted at once
    dt = np.diff(tt) if shared else np.diff(t, axis=1)
    dtm = np.maximum(dt / 60.0, 1.0)
    tol = rate * dtm
    with np.errstate(invalid="ignore"):
        d = np.diff(v, axis=1)
        slope = np.zeros(v.shape)
        np.divide(d, dtm, out=slope[:, 1:])
        step = np.abs(d) <= tol
        step |= np.abs(v[:, 1:] - (v[:, :-1] + slope[:, :-1] * dtm)) <= tol   # as SpikeFilter._near, to the bit
    step &= np.isfinite(v[:, 1:])
    step &= dt > 0
    step = np.concatenate([np.isfinite(v[:, :1]) & np.isfinite(t[:, :1]), step], axis=1)
    start = np.argmin(step, axis=1)               # first reading that is not plain (0 when all are)
    dirty = ~step[np.arange(n), start]
    start = np.where(dirty, start, m)
    mask[:] = np.arange(m)[None, :] < start[:, None]
    rows = np.nonzero(dirty)[0]
    if rows.size == 0:
        return mask[0] if one else mask
    plain_from = np.flip(np.logical_and.accumulate(np.flip(step[rows], axis=1), axis=1), axis=1)  # plain from j on
    v, t, slope, start = v[rows], t[rows], slope[rows], start[rows]
    flt = SpikeFilter(rows.size, max_rate_per_min)
    active = np.zeros(rows.size, dtype=bool)
    idx = np.arange(rows.size)
    for j in range(int(start.min()), m):
        enter = start == j
        if enter.any():                          # the state after plain readings 0..j-1
            active |= enter
            if j > 0:
                flt.a_t[enter], flt.a_v[enter], flt.a_s[enter] = t[enter, j - 1], v[enter, j - 1], slope[enter, j - 1]
        if not active.any():
            if not (start > j).any():
                break
            continue
        ok, (r, tags) = flt.push(np.where(active, t[:, j], np.nan), np.where(active, v[:, j], np.nan), j)
        mask[rows[ok & active], j] = True
        if r.size:
            mask[rows[r], tags] = True
        if j + 1 < m:   # plain again: accepted at once, nothing held, and the same rate as the shortcut's
            done = (active & ok & (flt.c_n == 0) & (flt.a_t == t[:, j]) & (flt.a_v == v[:, j])
                    & (flt.a_s == slope[:, j]) & plain_from[:, j + 1])
            if done.any():
                for i in idx[done]:
                    mask[rows[i], j + 1:] = True
                active &= ~done
    return mask[0] if one else mask


class WaterLevelRule:
    """Host alert rule: one open warning per station, escalating blue → yellow → orange → red.

    ``stations`` maps entity id → (Thresholds, metric, name). Readings of other entities are ignored.
    Readings go through one :class:`SpikeFilter` per station; held readings that a later one confirms
    are evaluated then, in order (so a colour crossed while they were held is not skipped).
    ``rejected`` keeps the last 100 readings not accepted (a held reading leaves it once confirmed).
    """

    def __init__(self, rule_id: str, stations: Mapping[str, tuple[Thresholds, str, str]],
                 max_rate_m_per_min: float = 0.2, title_zh: str = "水位预警", title_en: str = "Water-level warning"
                 ) -> None:
        self.id = rule_id
        self.stations = dict(stations)
        self.max_rate = max_rate_m_per_min
        SpikeFilter(0, max_rate_m_per_min)   # a bad rate is an error now, not at the first reading
        self.title_zh, self.title_en = title_zh, title_en
        self._filters: dict[str, SpikeFilter] = {}
        self._held: dict[str, dict[int, Reading]] = {}
        self._seq = 0
        self._ok: set[int] = set()
        self.rejected: list[Reading] = []

    def _accept(self, r: Reading) -> list[Reading]:
        """The readings this one lets through, oldest first: held ones it confirms, then itself if accepted."""
        flt = self._filters.get(r.entity_id)
        if flt is None:
            flt = self._filters[r.entity_id] = SpikeFilter(1, self.max_rate)
        held = self._held.setdefault(r.entity_id, {})
        self._seq += 1
        value = float("nan") if r.value is None else r.value
        ok, (_, tags) = flt.push(r.ts, value, self._seq)
        out = [held[int(k)] for k in tags if int(k) in held]
        if out:
            ids = {id(x) for x in out}
            self.rejected = [x for x in self.rejected if id(x) not in ids]
        if bool(ok[0]):
            out.append(r)
        else:
            self.rejected.append(r)
            del self.rejected[:-100]
            held[self._seq] = r
        waiting = flt.pending_tags()
        for k in [k for k in held if k not in waiting]:
            del held[k]
        return out

    def evaluate(self, readings: Sequence[Reading]) -> list[AlertDraft]:
        out: list[AlertDraft] = []
        self._ok = set()
        for r in readings:
            st = self.stations.get(r.entity_id)
            if st is None or r.metric != st[1]:
                continue
            for x in self._accept(r):
                self._ok.add(id(x))
                draft = self._draft(x, st[0], st[2])
                if draft is not None:
                    out.append(draft)
        return out

    def _draft(self, r: Reading, th: Thresholds, name: str) -> AlertDraft | None:
        sev = th.severity(r.value)
        if sev is None:
            return None
        key, zh, en = CROSSED[sev]
        colour = COLORS[sev][1]
        name_e = name_en(name)
        return AlertDraft(self.id, r.entity_id, sev, f"{name}{colour}{self.title_zh}",
                          f"{name} {r.value:.2f} m ≥ {zh} {th.limit(sev):.2f} m", r.value,
                          details={"threshold": key},  # for programs; people read the words
                          title_en=f"{name_e}: {COLORS[sev][0]} {self.title_en.lower()}",
                          message_en=f"{name_e} {r.value:.2f} m ≥ {en} {th.limit(sev):.2f} m")

    def clears(self, reading: Reading) -> bool:
        """Back below the blue band (spikes never clear a warning)."""
        st = self.stations.get(reading.entity_id)
        if st is None or reading.metric != st[1] or id(reading) not in self._ok:
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
    """One evaluation pass over many stations' series (stations × times): the readings the live rule's
    :class:`SpikeFilter` would not accept masked, the worst colour per station over the window
    (0 none, 1 red .. 4 blue). Used by the benchmark (``bench/flood.py``); the hydrograph panel marks
    the same filter's rejects as spikes (``stations.clean_series``)."""
    th = list(thresholds)
    lv = np.asarray(levels, dtype=float)
    lv = np.where(accepted_mask(lv, times, max_rate_per_min), lv, np.nan)
    cls = classify(lv, np.array([x.warning for x in th]), np.array([x.guaranteed for x in th]),
                   np.array([x.historical_max for x in th]), np.array([x.blue_margin for x in th]))
    worst = np.where(cls == 0, 9, cls).min(axis=1)
    return np.where(worst == 9, 0, worst).astype(np.int8)
