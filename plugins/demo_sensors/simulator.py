"""A simulated source: every sensor entity of the demo twin random-walks around its base value.

The detector marked ``leak: true`` sees a leak episode every ``leak_period_s``: the
value ramps past the alarm limits and falls back, so the alert path is exercised.
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
        now = time.time()
        out = []
        for entity_id, props in self.sensors:
            base, noise = float(props.get("base", 0)), float(props.get("noise", 1))
            prev = self.state.get(entity_id, base)
            value = prev + 0.3 * (base - prev) + self.rng.gauss(0, noise * 0.5)
            self.state[entity_id] = value
            if props.get("leak"):
                value += 70 * self.leak_factor(now)
            out.append(Reading(entity_id, props["metric"], now, round(max(value, 0.0), 3), props.get("unit", "")))
        return out
