"""IoT alarm rules: thresholds per metric and rate-of-rise rules, limited to this plugin's devices.

Limits are demo defaults in the range vendors and standards use (GB 14287 electrical-fire monitors
alarm on residual current from 300 mA and on cable temperature set between 55 and 140 °C; gas
detectors have a low alarm at 10–25 %LEL and a high alarm at 50 %LEL). Inspections that pass their
deadline report ``overdue_days`` readings: the escalation rule turns them into alerts.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from core.api import AlertDraft, Reading, Severity, ThresholdRule

DEV = "ep.dev."
INSP = "ep.insp."


@dataclass
class RateRule:
    """Alert when a metric rises faster than ``limits`` (units per minute) between two readings.

    Readings closer than ``min_dt_s`` are compared with the last one at least that far back, so
    noise on fast devices does not trip it. Clears when the rate falls below ``clear_ratio`` of the
    lowest limit.
    """

    id: str
    metric: str
    limits: dict[Severity, float]
    title_zh: str
    title_en: str
    #: the metric's label and unit in the messages ("可燃气体浓度", "%LEL")
    metric_zh: str = ""
    metric_en: str = ""
    unit: str = ""
    entity_prefix: str = DEV
    min_dt_s: float = 20.0
    max_dt_s: float = 600.0
    clear_ratio: float = 0.5
    _last: dict[str, tuple[float, float]] = field(default_factory=dict, repr=False)
    _rate: dict[str, float] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _update(self, r: Reading) -> float | None:
        prev = self._last.get(r.entity_id)
        if prev is None or r.ts - prev[0] > self.max_dt_s or r.ts < prev[0]:
            self._last[r.entity_id] = (r.ts, r.value)
            self._rate.pop(r.entity_id, None)
            return None
        dt = r.ts - prev[0]
        if dt < self.min_dt_s:
            return self._rate.get(r.entity_id)
        rate = (r.value - prev[1]) / dt * 60.0
        self._last[r.entity_id] = (r.ts, r.value)
        self._rate[r.entity_id] = rate
        return rate

    def evaluate(self, readings: Sequence[Reading]) -> list[AlertDraft]:
        out = []
        ordered = sorted(self.limits.items(), key=lambda kv: kv[0])
        with self._lock:
            for r in sorted((r for r in readings if r.metric == self.metric
                             and r.entity_id.startswith(self.entity_prefix)), key=lambda r: r.ts):
                rate = self._update(r)
                if rate is None:
                    continue
                for sev, limit in ordered:
                    if rate >= limit:
                        u = self.unit
                        out.append(AlertDraft(
                            self.id, r.entity_id, sev, self.title_zh,
                            f"{self.metric_zh}每分钟上升 {rate:.1f}{u}，超过限值 {limit:g}{u}/分钟，当前 {r.value:g}{u}",
                            round(rate, 2), title_en=self.title_en,
                            message_en=f"{self.metric_en} rising {rate:.1f} {u}/min, over the limit {limit:g} {u}/min;"
                                       f" now {r.value:g} {u}".replace(" /", "/")))
                        break
        return out

    def clears(self, reading: Reading) -> bool:
        with self._lock:
            rate = self._rate.get(reading.entity_id)
        return rate is not None and rate < min(self.limits.values()) * self.clear_ratio


def rules() -> list:
    S = Severity
    return [
        ThresholdRule("enterprise_park.residual_current", "residual_ma", {S.III: 300, S.II: 500, S.I: 800},
                      "剩余电流超限", "Residual current high", entity_prefix=DEV,
                      metric_zh="剩余电流", metric_en="residual current"),
        ThresholdRule("enterprise_park.cable_temp", "cable_temp_c", {S.III: 60, S.II: 70, S.I: 85},
                      "线缆温度超限", "Cable temperature high", entity_prefix=DEV,
                      metric_zh="线缆温度", metric_en="cable temperature"),
        ThresholdRule("enterprise_park.gas", "gas_lel_pct", {S.III: 10, S.II: 25, S.I: 50},
                      "可燃气体浓度超限", "Combustible gas high", entity_prefix=DEV,
                      metric_zh="可燃气体浓度", metric_en="combustible gas"),
        ThresholdRule("enterprise_park.smoke", "smoke_alarm", {S.II: 1}, "烟感报警", "Smoke alarm",
                      entity_prefix=DEV, message_zh="{entity} 烟感探测器报警", message_en="{entity}: smoke detector alarm"),
        ThresholdRule("enterprise_park.battery", "battery_pct", {S.IV: 15}, "烟感电池电量低",
                      "Smoke detector battery low", below=True, entity_prefix=DEV,
                      metric_zh="电池电量", metric_en="battery"),
        RateRule("enterprise_park.cable_temp_rise", "cable_temp_c", {S.III: 5.0, S.II: 10.0},
                 "线缆温度快速上升", "Cable temperature rising fast", "线缆温度", "Cable temperature", "°C"),
        RateRule("enterprise_park.gas_rise", "gas_lel_pct", {S.III: 5.0, S.II: 10.0},
                 "可燃气体浓度快速上升", "Combustible gas rising fast", "可燃气体浓度", "Combustible gas", "%LEL"),
        ThresholdRule("enterprise_park.hazard_overdue", "overdue_days", {S.IV: 0.0001, S.III: 3, S.II: 7},
                      "隐患整改超期", "Hazard rectification overdue", entity_prefix=INSP,
                      message_zh="{entity} 整改已超期 {value:.1f} 天", message_en="{entity}: rectification {value:.1f} days overdue"),
    ]
