"""The demo storm: a simulated source of water levels, tide levels and rain for every station of the twin.

One clock: the scenario runs ``demo_speed`` times faster than real time (the screens say so, 演示 ×N), and
everything follows it: the tide, rain amounts, river responses, the typhoon's track (``cycle_hours``) and
the transfers. On its first poll the source back-fills ``backfill_h`` hours of calm, light-rain history
(5-minute readings, real time). From then on a storm cycle of ``storm_period_s`` seconds repeats: a surge at
the river mouth and sea wall as the typhoon comes ashore (the cycle's middle) and a rain band that fills the
inland rivers. The tide is the semidiurnal M2 tide (12.42 h of simulated time), continuous from the history
through every cycle, with its high water on the first cycle's surge. Tide stations cross blue, yellow and
then orange; inland rivers follow the rain. The phase of the cycle is published as the reading
``fd.scenario/phase`` and the cycle's number as ``fd.scenario/cycle``, so panels (the typhoon's position,
the transfers, which start again with each cycle) follow the same clock.

Injected faults, so the screen shows them: one isolated spike on the Jiazhi station (flagged, not a
warning) and a 3-minute gap on the Zhang'an station in every cycle.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Iterable
from typing import Any

from core.api import Reading, SourceContext

from .stations import stations_from_entities

TIDE_PERIOD_S = 12.42 * 3600
SCENARIO_ID = "fd.scenario"


def surge(p: float, peak: float) -> float:
    return peak * math.exp(-((p - 0.5) / 0.16) ** 2)


def rain_rate_mm_h(p: float, peak: float = 70.0) -> float:
    """Rain intensity in the live storm at phase p (scenario mm per scenario hour)."""
    return 3.0 + peak * math.exp(-((p - 0.42) / 0.14) ** 2)


class StormSimulator:
    """Stateful poll function (one instance per source)."""

    def __init__(self, settings: Any, t0: float | None = None) -> None:
        self.s = settings
        self.rng = random.Random(settings.seed)
        self.t0 = t0
        self.last_t: float | None = None
        self.stations: list[Any] = []
        self.r_eff: dict[str, float] = {}

    # -- clocks --------------------------------------------------------------------------------
    def phase(self, t: float) -> float:
        return ((t - (self.t0 or t)) % self.s.storm_period_s) / self.s.storm_period_s

    def sim_time(self, t: float) -> float:
        """Simulated time: real time in the history, ``demo_speed`` times faster from ``t0`` on."""
        if self.t0 is None or t < self.t0:
            return t
        return self.t0 + (t - self.t0) * self.s.demo_speed

    def cycle(self, t: float) -> int:
        """The number of the storm cycle running at ``t`` (0 for the first)."""
        return int((t - (self.t0 or t)) // self.s.storm_period_s)

    def _tide(self, st: Any, t: float) -> float:
        props = st.properties
        mean, amp = float(props.get("mean_level", 0.3)), float(props.get("tide_amp", 2.4))
        # the M2 tide on the simulated clock, high water at the first cycle's surge peak (phase 0.5)
        high_water = (self.t0 or t) + 0.5 * self.s.storm_period_s * self.s.demo_speed
        level = mean + amp * math.cos(2 * math.pi * (self.sim_time(t) - high_water) / TIDE_PERIOD_S)
        if self.t0 is None or t < self.t0:
            return level
        return level + surge(self.phase(t), float(props.get("surge_peak", 3.0)))

    def _rain(self, st: Any, t: float, dt: float) -> float:
        factor = float(st.properties.get("rain_factor", 1.0))
        if t < (self.t0 or 0):
            hours_before = (self.t0 - t) / 3600.0
            rate = max(0.0, 2.8 - 0.1 * hours_before + self.rng.gauss(0, 0.4))
            return round(rate * factor * dt / 3600.0, 2)
        rate = rain_rate_mm_h(self.phase(t), self.s.storm_rain_peak_mm_h) * (1 + self.rng.gauss(0, 0.08))
        return round(max(rate, 0.0) * factor * dt * self.s.demo_speed / 3600.0, 2)

    def _level(self, st: Any, t: float, dt: float, rain_mm: float) -> float:
        props = st.properties
        live = self.t0 is not None and t >= self.t0
        ds = dt * (self.s.demo_speed if live else 1.0)
        tau = 3 * 3600.0
        prev = self.r_eff.get(st.id, 0.0)
        self.r_eff[st.id] = prev * math.exp(-ds / tau) + rain_mm
        return float(props.get("base_level", 2.3)) + float(props.get("rain_gain", 0.01)) * self.r_eff[st.id]

    # -- readings ---------------------------------------------------------------------------------
    def readings_at(self, t: float, dt: float) -> list[Reading]:
        out: list[Reading] = []
        rain_by_town: dict[str, float] = {}
        for st in self.stations:
            if st.type == "rain":
                mm = self._rain(st, t, dt)
                rain_by_town[st.properties.get("town", "")] = mm
                out.append(Reading(st.id, st.metric, t, mm, "mm"))
        mean_rain = sum(rain_by_town.values()) / max(len(rain_by_town), 1)
        p = self.phase(t) if self.t0 is not None and t >= self.t0 else None
        for st in self.stations:
            if st.type == "tide":
                v = self._tide(st, t) + self.rng.gauss(0, 0.02)
            elif st.type == "water_level":
                v = self._level(st, t, dt, mean_rain) + self.rng.gauss(0, 0.01)
                if p is not None and st.id.endswith("jiazhi_river") and abs(p - 0.2) * self.s.storm_period_s < dt / 2:
                    v += 2.5                                   # injected spike (a sensor glitch)
                if p is not None and st.id.endswith("zhangan_river") and 0.60 <= p < 0.60 + 180 / self.s.storm_period_s:
                    continue                                   # injected gap (a telemetry outage)
            else:
                continue
            out.append(Reading(st.id, st.metric, t, round(v, 3), "m"))
        if p is not None:
            out.append(Reading(SCENARIO_ID, "phase", t, round(p, 5), ""))
            out.append(Reading(SCENARIO_ID, "cycle", t, float(self.cycle(t)), ""))
        return out

    def backfill(self, now: float) -> list[Reading]:
        """``backfill_h`` hours of history before ``now`` at 5-minute steps."""
        out: list[Reading] = []
        step = 300.0
        n = int(self.s.backfill_h * 3600 / step)
        for k in range(n, 0, -1):
            out.extend(self.readings_at(now - k * step, step))
        return out

    def poll(self, ctx: SourceContext) -> Iterable[Reading]:
        now = time.time()
        if not self.stations:
            self.stations = stations_from_entities(ctx.store.entities(kind="station", plugin=ctx.plugin))
        if self.t0 is None:
            self.t0 = now
            out = self.backfill(now)
            self.last_t = now
            return out + self.readings_at(now, self.s.interval_s)
        dt = now - (self.last_t or now - self.s.interval_s)
        self.last_t = now
        return self.readings_at(now, max(dt, 0.1))
