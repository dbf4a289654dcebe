"""example_weather: a third-party twinboard plugin shipped as an installable package.

The host loads it from the ``twinboard.plugins`` entry point and reads ``plugin.toml``
beside this file. It simulates weather masts (wind speed and direction, air
temperature), offers the panel ``example_weather.now`` showing the latest values, and
puts its masts on the district one map (``register_map_layers``) with their readings.
"""

from __future__ import annotations

import math
import random
import time
from typing import Any

from dash import html

from core.api import EntityKind, MapLayerSpec, PanelContext, PanelSpec, Reading, SourceContext, SourceSpec, hookimpl

DEFAULT_STATION = "example_weather.mast"
#: where the masts stand: the configured ``station`` first (Jiaojiang's city centre), then three more
MASTS = (("", "椒江城区气象站", "Jiaojiang city mast", 121.425, 28.66),
         (".zhangan", "章安气象站", "Zhang'an mast", 121.37, 28.725),
         (".xiachen", "下陈气象站", "Xiachen mast", 121.47, 28.615),
         (".dachen", "大陈岛气象站", "Dachen Island mast", 121.885, 28.45))
METRICS = ("wind_ms", "wind_dir_deg", "temperature_c")
_POINTS_ZH = ("北", "东北", "东", "东南", "南", "西南", "西", "西北")
_POINTS_EN = ("N", "NE", "E", "SE", "S", "SW", "W", "NW")


def _station(settings: Any) -> str:
    # No settings model: the host passes plugin.toml [settings] (+ config overrides) as a dict.
    return str((settings or {}).get("station", DEFAULT_STATION))


def mast_ids(settings: Any) -> list[str]:
    """The entity ids of the masts, in the order of ``MASTS``."""
    station = _station(settings)
    return [station + suffix for suffix, *_ in MASTS]


class WeatherSimulator:
    """Random-walk wind and a daily temperature curve per mast; one poll returns one reading per metric
    and mast (the configured ``station`` and the masts beside it)."""

    def __init__(self, seed: int | None = None) -> None:
        self.rng = random.Random(seed)
        self.state: dict[str, list[float]] = {}

    def poll(self, ctx: SourceContext) -> list[Reading]:
        now = time.time()
        hour = time.localtime(now).tm_hour + time.localtime(now).tm_min / 60
        out = []
        for i, station in enumerate(mast_ids(ctx.settings)):
            wind, direction = self.state.setdefault(station, [4.0 + i, 135.0])
            wind = min(max(wind + self.rng.gauss(0, 0.4) + 0.1 * (4.0 + i - wind), 0.0), 30.0)
            direction = (direction + self.rng.gauss(0, 8)) % 360
            self.state[station] = [wind, direction]
            temperature = 18 - 0.5 * i + 6 * math.sin((hour - 9) / 24 * 2 * math.pi) + self.rng.gauss(0, 0.2)
            out += [Reading(station, "wind_ms", now, round(wind, 2), "m/s"),
                    Reading(station, "wind_dir_deg", now, round(direction, 1), "°"),
                    Reading(station, "temperature_c", now, round(temperature, 2), "°C")]
        return out


def mast_rows(ctx: PanelContext) -> list[dict[str, Any]]:
    """The masts on the district one map: where they stand, their newest wind and temperature."""
    ids = mast_ids(ctx.settings)
    latest = {(lv.entity_id, lv.metric): lv.value for lv in ctx.store.latest(entity_ids=ids)}
    return [{"id": mid, "name": en if ctx.lang == "en" else zh, "lon": lon, "lat": lat,
             "wind_ms": latest.get((mid, "wind_ms")), "temperature_c": latest.get((mid, "temperature_c"))}
            for mid, (_suffix, zh, en, lon, lat) in zip(ids, MASTS)]


def now_panel(ctx: PanelContext) -> Any:
    """Wind speed with a direction arrow, and air temperature, from the newest readings."""
    station = ctx.options.get("station") or _station(ctx.settings)
    latest = {lv.metric: lv for lv in ctx.store.latest(entity_ids=[station]) if lv.metric in METRICS}
    if not latest:
        return html.Div(ctx.text("暂无气象数据", "No weather data yet"), className="tb-empty")
    ctx.data_time = max(lv.ts for lv in latest.values())

    def kpi(label: str, value: str, unit: str, extra: Any = None) -> html.Div:
        return html.Div(className="tb-kpi", children=[
            html.Div([extra, html.Span(value, className="tb-kpi-value"), html.Span(unit, className="tb-kpi-unit")]),
            html.Div(label, className="tb-kpi-label")])

    wind, direction, temp = (latest.get(m) for m in METRICS)
    arrow = None
    wind_label = ctx.text("风速", "Wind")
    if direction is not None:
        # The arrow points where the wind blows to (meteorological direction + 180°).
        arrow = html.Span("↑", className="tb-wind-arrow", style={
            "display": "inline-block", "marginRight": "8px",
            "transform": f"rotate({(direction.value + 180) % 360:.0f}deg)"})
        points = _POINTS_EN if ctx.lang == "en" else _POINTS_ZH
        point = points[int((direction.value + 22.5) // 45) % 8]
        wind_label = ctx.text(f"风速 · {point}风", f"Wind · from {point}")
    return html.Div(className="tb-kpis", children=[
        kpi(wind_label, f"{wind.value:.1f}" if wind else "–", "m/s", arrow),
        kpi(ctx.text("气温", "Temperature"), f"{temp.value:.1f}" if temp else "–", "°C"),
    ])


@hookimpl
def register_entity_kinds() -> list[EntityKind]:
    return [EntityKind("weather_mast", "气象站", "Weather mast", "#7fe0ff")]


@hookimpl
def register_sources(settings: dict[str, Any]) -> list[SourceSpec]:
    return [SourceSpec("simulator", interval_s=float(settings.get("interval_s", 2.0)),
                       poll=WeatherSimulator().poll)]


@hookimpl
def register_map_layers() -> list[MapLayerSpec]:
    # One line on the district one map: a legend chip "气象站 4" and a tooltip with the readings.
    return [MapLayerSpec("example_weather.masts", "气象站", "Weather masts", color="#7fe0ff", rows=mast_rows,
                         tooltip_zh="风速 {wind_ms:.1f} m/s · 气温 {temperature_c:.1f} °C",
                         tooltip_en="wind {wind_ms:.1f} m/s · {temperature_c:.1f} °C", labels=True)]


@hookimpl
def register_panels() -> list[PanelSpec]:
    return [PanelSpec("example_weather.now", "实时气象", "Weather now", now_panel,
                      sources=("simulator",), refresh_s=2)]
