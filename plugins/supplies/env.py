"""Store environment (库房环境): temperature, humidity, water leak and door sensors → readings → alerts.

Readings of a store (entity = the store): ``temperature`` (°C), ``humidity`` (%), ``leak`` (0/1), ``door``
(0/1), plus two derived for the rules: ``humidity_watch`` (the humidity, only for a store that holds a
humidity-sensitive category: medicines, tents) and ``door_after_hours`` (1 when the door is open outside the
working hours). The host's alerting opens and closes the alerts (zh/en titles).
"""

from __future__ import annotations

import datetime as dt
import math
import time
from typing import Any

from core.api import Reading, Severity, Store, ThresholdRule

from .model import PLUGIN, STOCK, SupplyError, stores

FIELDS = {"temperature": "°C", "humidity": "%", "leak": "", "door": ""}


def sensitive_stores(store: Store, settings: Any) -> set[str]:
    """Stores holding a humidity-sensitive category now."""
    cats = set(settings.humid_categories)
    return {e.properties["store"] for e in store.entities(kind=STOCK, plugin=PLUGIN)
            if e.properties.get("category") in cats and int(e.properties.get("qty", 0)) > 0}


def readings(store_id: str, values: dict[str, Any], ts: float, settings: Any, sensitive: set[str]) -> list[Reading]:
    """Readings of one sensor message; SupplyError names a bad field."""
    out = []
    for key, unit in FIELDS.items():
        if values.get(key) is None:
            continue
        try:
            v = float(values[key])
        except (TypeError, ValueError):
            raise SupplyError(f"{values[key]!r} is not a number", key) from None
        if not math.isfinite(v) or (key in ("leak", "door") and v not in (0.0, 1.0)) or \
                (key == "humidity" and not 0 <= v <= 100) or (key == "temperature" and not -40 <= v <= 80):
            raise SupplyError(f"{values[key]!r} is out of range", key)
        out.append(Reading(store_id, key, ts, v, unit))
        if key == "humidity" and store_id in sensitive:
            out.append(Reading(store_id, "humidity_watch", ts, v, "%"))
        if key == "door":
            hour = dt.datetime.fromtimestamp(ts).hour
            after = v >= 1 and not settings.open_hour <= hour < settings.close_hour
            out.append(Reading(store_id, "door_after_hours", ts, 1.0 if after else 0.0, ""))
    if not out:
        raise SupplyError(f"no sensor value (one of {', '.join(FIELDS)})", None)
    return out


def rules(settings: Any) -> list[ThresholdRule]:
    return [
        ThresholdRule(f"{PLUGIN}.humidity", "humidity_watch", {Severity.III: settings.humidity_limit},
                      "库房湿度超标(药品/帐篷)", "Store humidity too high (medicines/tents)",
                      message_zh="{entity} 湿度 {value:.0f}%,超过 {limit:g}%", metric_zh="湿度", metric_en="humidity",
                      message_en="{entity}: humidity {value:.0f}% above {limit:g}%"),
        ThresholdRule(f"{PLUGIN}.leak", "leak", {Severity.II: 1.0}, "库房漏水", "Water leak in store",
                      message_zh="{entity} 漏水传感器报警", message_en="{entity}: water leak sensor triggered"),
        ThresholdRule(f"{PLUGIN}.door", "door_after_hours", {Severity.III: 1.0}, "非工作时间库门开启",
                      "Store door open outside working hours", message_zh="{entity} 库门在非工作时间开启",
                      message_en="{entity}: door open outside working hours"),
        ThresholdRule(f"{PLUGIN}.temperature", "temperature", {Severity.IV: settings.temperature_limit},
                      "库房温度过高", "Store temperature too high", message_zh="{entity} 温度 {value:.1f}°C",
                      message_en="{entity}: {value:.1f} °C"),
    ]


class DemoSensors:
    """Source ``environment``: simulated sensors. Slow daily swings; the Zhang'an store by the river is damp."""

    def __init__(self, settings: Any) -> None:
        self.settings = settings

    def poll(self, ctx: Any) -> list[Reading]:
        now = time.time()
        sens = sensitive_stores(ctx.store, self.settings)
        out: list[Reading] = []
        day = (now % 86400) / 86400
        for n, st in enumerate(stores(ctx.store)):
            damp = 8.0 if "zhangan" in st.id else 0.0
            hum = 58 + damp + 4 * math.sin(2 * math.pi * (day + n / 7)) + 2 * math.sin(now / 97 + n)
            temp = 22 + 5 * math.sin(2 * math.pi * (day - 0.3)) + n * 0.4
            hour = dt.datetime.fromtimestamp(now).hour
            door = 1.0 if self.settings.open_hour + 1 <= hour < self.settings.open_hour + 2 and n % 2 == 0 else 0.0
            out += readings(st.id, {"temperature": round(temp, 1), "humidity": round(hum, 1), "leak": 0,
                                    "door": door}, now, self.settings, sens)
        return out
