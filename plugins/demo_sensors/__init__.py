"""demo_sensors: the vendors' example plugin, proving the chain source → store → bus → panels."""

from __future__ import annotations

from pathlib import Path

from core.api import EntityKind, PanelSpec, Severity, SourceSpec, ThresholdRule, hookimpl

from . import panels
from .settings import DemoSettings
from .simulator import Simulator

TWIN_DIR = Path(__file__).resolve().parents[2] / "twin_models" / "demo_sensors"


@hookimpl
def register_settings_model() -> type[DemoSettings]:
    return DemoSettings


@hookimpl
def register_entity_kinds() -> list[EntityKind]:
    return [EntityKind("sensor", "传感器", "Sensor", "#36c6ff"), EntityKind("tank", "储罐", "Tank", "#7aa0c8"),
            EntityKind("building", "建筑", "Building", "#4678be")]


@hookimpl
def register_twin_models() -> list[Path]:
    return [TWIN_DIR / "boundary.geojson", TWIN_DIR / "site.yaml"]


@hookimpl
def register_sources(settings: DemoSettings) -> list[SourceSpec]:
    return [SourceSpec("simulator", interval_s=settings.interval_s, poll=Simulator(settings).poll)]


@hookimpl
def register_alert_rules(settings: DemoSettings) -> list[ThresholdRule]:
    limits = {Severity[level]: value for level, value in settings.gas_limits_ppm.items()}
    return [ThresholdRule("demo_sensors.gas_high", "gas_ppm", limits, "气体浓度超限", "Gas concentration high")]


@hookimpl
def register_panels() -> list[PanelSpec]:
    return [
        PanelSpec("demo_sensors.trend", "气体浓度趋势", "Gas trend", panels.trend, sources=("simulator",),
                  refresh_s=2, default_options={"metric": "gas_ppm", "minutes": 5}),
        PanelSpec("demo_sensors.map3d", "园区三维态势", "Park in 3D", panels.map3d, sources=("simulator",),
                  refresh_s=3, kind="deck", basemap=True),
        PanelSpec("demo_sensors.kpis", "实时指标", "Live figures", panels.kpis, sources=("simulator",), refresh_s=2),
    ]
