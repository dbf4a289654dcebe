"""A simulated source: every sensor entity of the demo twin random-walks around its base value.

The detector marked ``leak: true`` sees a leak episode every ``leak_period_s``: the
value ramps past the alarm limits and falls back, so the alert path is exercised.

Tank temperature and pressure are physical curves, not noise: the tank's temperature follows the day
(warmest at 15:00 Beijing time, ``diurnal_k`` kelvin either side of ``base``) on a simulated clock that runs
``demo_speed`` times faster than real time, and a liquefied gas's pressure follows its temperature
(Clausius-Clapeyron: d ln p / dT = ``dlnp_dt``, about 0.033 /K for ammonia near 20 °C). The transmitters
add a small reading-to-reading noise (2 % of the sensor's ``noise``).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Iterable

from core.api import Reading, SourceContext

from .settings import DemoSettings


class Simulator:
    """Stateful poll function for the runtime."""

    def __init__(self, settings: DemoSettings) -> None:
        self.settings = settings
        self.rng = random.Random(settings.seed)
        self.sensors: list[tuple[str, dict]] = []
        self.state: dict[str, float] = {}
        self.t0 = time.time()

    def sim_time(self, now: float) -> float:
        """The simulated clock: ``demo_speed`` times faster than real time from the source's start."""
        return self.t0 + (now - self.t0) * self.settings.demo_speed

    def diurnal_k(self, now: float, amplitude: float) -> float:
        """The tank's temperature offset (K) at simulated time: a sine over the day, warmest at 15:00 BJT."""
        hour = ((self.sim_time(now) + 8 * 3600) % 86400) / 3600.0
        return amplitude * math.sin(2 * math.pi * (hour - 9.0) / 24.0)

    def leak_factor(self, now: float) -> float:
        """0 → 1 → 0 over the last quarter of each leak period (a smooth episode)."""
        period = self.settings.leak_period_s
        phase = ((now - self.t0) % period) / period
        if phase < 0.7:
            return 0.0
        return math.sin((phase - 0.7) / 0.3 * math.pi)

    def poll(self, ctx: SourceContext) -> Iterable[Reading]:
        if not self.sensors:
            self.sensors = [(e.id, e.properties) for e in ctx.store.entities(kind="sensor", plugin=ctx.plugin)]
        return self.readings(time.time())

    def readings(self, now: float) -> list[Reading]:
        """One reading per sensor at ``now`` (real time)."""
        out = []
        for entity_id, props in self.sensors:
            base, noise = float(props.get("base", 0)), float(props.get("noise", 1))
            metric = props.get("metric")
            if metric in ("temperature_c", "pressure_kpa"):
                dk = self.diurnal_k(now, float(props.get("diurnal_k", 3.0)))
                value = base + dk if metric == "temperature_c" else base * math.exp(float(props.get("dlnp_dt", 0.033)) * dk)
                value += self.rng.gauss(0, noise * 0.02)   # a transmitter's reading-to-reading noise
            else:
                prev = self.state.get(entity_id, base)
                value = prev + 0.3 * (base - prev) + self.rng.gauss(0, noise * 0.5)
                self.state[entity_id] = value
            if props.get("leak"):
                value += 70 * self.leak_factor(now)
            out.append(Reading(entity_id, props["metric"], now, round(max(value, 0.0), 3), props.get("unit", "")))
        return out
