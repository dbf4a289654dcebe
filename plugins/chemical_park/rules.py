"""Alert rules over the park's sensors, with each sensor's own limits from the twin.

* ``chemical_park.limit``: high (高报, Ⅲ) and high-high (高高报, Ⅱ) limits; a gas detector at the top of
  its range (saturated: the true value is unknown and higher) is Ⅰ.
* ``chemical_park.rate``: rate of change over the last ``window_s`` seconds beyond the sensor's
  ``roc_per_min`` (either direction: a falling pressure or level is a leak sign) is Ⅲ.
* ``chemical_park.fault``: a value that is NaN or outside the sensor's physical range is Ⅳ
  "sensor fault"; such a value is never judged against the limits.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Sequence

from core.api import AlertDraft, Reading, Severity

from .twin import ParkModel

LEVEL_TEXT = {"gas_ppm": ("有毒气体", "Toxic gas"), "lel_pct": ("可燃气体", "Flammable gas"),
              "level_pct": ("液位", "Level"), "pressure_kpa": ("压力", "Pressure"),
              "temperature_c": ("温度", "Temperature")}


def _ok(r: Reading, props: dict) -> bool:
    lo, hi = props["range"]
    return math.isfinite(r.value) and lo <= r.value <= hi


class _SensorRule:
    id = ""

    def __init__(self, model: ParkModel) -> None:
        self.sensors = {s.id: s.props for s in model.sensors}

    def _mine(self, readings: Sequence[Reading]):
        for r in readings:
            props = self.sensors.get(r.entity_id)
            if props is not None and r.metric == props["metric"]:
                yield r, props


class LimitRule(_SensorRule):
    id = "chemical_park.limit"

    def evaluate(self, readings: Sequence[Reading]) -> list[AlertDraft]:
        out = []
        for r, p in self._mine(readings):
            if not _ok(r, p):
                continue
            zh, en = LEVEL_TEXT[p["metric"]]
            unit = p.get("unit", "")
            v = f"{r.value:g}"
            if p["metric"] in ("gas_ppm", "lel_pct") and r.value >= p["range"][1]:
                top = f"{p['range'][1]:g}"
                out.append(AlertDraft(self.id, r.entity_id, Severity.I, f"{zh}超限",
                                      f"超量程: {v}{unit} ≥ 量程上限 {top}{unit}", r.value, title_en=f"{en} over limit",
                                      message_en=f"Over range: {v} {unit} ≥ the top of the range {top} {unit}"))
            elif r.value >= p["hihi"]:
                out.append(AlertDraft(self.id, r.entity_id, Severity.II, f"{zh}超限",
                                      f"高高报: {v}{unit} ≥ {p['hihi']:g}{unit}", r.value, title_en=f"{en} over limit",
                                      message_en=f"High-high alarm: {v} {unit} ≥ {p['hihi']:g} {unit}"))
            elif r.value >= p["hi"]:
                out.append(AlertDraft(self.id, r.entity_id, Severity.III, f"{zh}超限",
                                      f"高报: {v}{unit} ≥ {p['hi']:g}{unit}", r.value, title_en=f"{en} over limit",
                                      message_en=f"High alarm: {v} {unit} ≥ {p['hi']:g} {unit}"))
        return out

    def clears(self, r: Reading) -> bool:
        p = self.sensors.get(r.entity_id)
        return p is not None and r.metric == p["metric"] and _ok(r, p) and r.value < 0.95 * p["hi"]


class RateRule(_SensorRule):
    id = "chemical_park.rate"

    def __init__(self, model: ParkModel, window_s: float = 60.0, min_span_s: float = 15.0) -> None:
        super().__init__(model)
        self.window_s, self.min_span_s = window_s, min_span_s
        self.history: dict[str, deque[tuple[float, float]]] = {}
        self.rates: dict[str, float] = {}
        self._lock = threading.Lock()

    def rate(self, entity_id: str) -> float | None:
        return self.rates.get(entity_id)

    def evaluate(self, readings: Sequence[Reading]) -> list[AlertDraft]:
        out = []
        with self._lock:
            for r, p in self._mine(readings):
                if not _ok(r, p) or not p.get("roc_per_min"):
                    continue
                h = self.history.setdefault(r.entity_id, deque())
                if h and r.ts < h[-1][0]:
                    h.clear()                     # time went backwards: start over
                h.append((r.ts, r.value))
                while h and h[0][0] < r.ts - self.window_s:
                    h.popleft()
                span = h[-1][0] - h[0][0]
                if span < self.min_span_s:
                    continue
                per_min = (h[-1][1] - h[0][1]) / span * 60.0
                self.rates[r.entity_id] = per_min
                if abs(per_min) > p["roc_per_min"]:
                    zh, en = LEVEL_TEXT[p["metric"]]
                    word, word_en = ("骤升", "Rising") if per_min > 0 else ("骤降", "Falling")
                    u, lim = p.get("unit", ""), f"{p['roc_per_min']:g}"
                    out.append(AlertDraft(self.id, r.entity_id, Severity.III, f"{zh}变化速率超限",
                                          f"{word} 每分钟 {per_min:+.3g}{u}，限值 ±{lim}{u}/分钟",
                                          per_min, title_en=f"{en} changing too fast",
                                          message_en=f"{word_en} {per_min:+.3g} {u}/min, limit ±{lim} {u}/min"
                                          .replace(" /", "/")))
        return out

    def clears(self, r: Reading) -> bool:
        p = self.sensors.get(r.entity_id)
        if p is None or r.metric != p["metric"] or not p.get("roc_per_min"):
            return False
        rate = self.rates.get(r.entity_id)
        return rate is not None and abs(rate) < 0.5 * p["roc_per_min"]


class FaultRule(_SensorRule):
    id = "chemical_park.fault"

    def evaluate(self, readings: Sequence[Reading]) -> list[AlertDraft]:
        out = []
        for r, p in self._mine(readings):
            if not _ok(r, p):
                lo, hi = p["range"]
                zh, en = LEVEL_TEXT[p["metric"]]
                u = p.get("unit", "")
                shown = f"{r.value:g}{u}" if math.isfinite(r.value) else "非数值"
                shown_en = f"{r.value:g} {u}" if math.isfinite(r.value) else "not a number"
                out.append(AlertDraft(self.id, r.entity_id, Severity.IV, "传感器数据异常",
                                      f"{zh}读数 {shown}，超出物理量程 {lo:g}–{hi:g}{u}", None,
                                      title_en="Sensor fault",
                                      message_en=f"{en} reading {shown_en}, outside the physical range {lo:g}–{hi:g} {u}"))
        return out

    def clears(self, r: Reading) -> bool:
        p = self.sensors.get(r.entity_id)
        return p is not None and r.metric == p["metric"] and _ok(r, p)


def rules(model: ParkModel) -> list[_SensorRule]:
    return [LimitRule(model), RateRule(model), FaultRule(model)]
