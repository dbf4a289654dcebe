"""chemical_park: the Waisha-Yantou chemical park twin (demo data) — hazard sources, live sensors,
toxic-release threat zones from a Gaussian plume under the live wind, in 3D.

Modules, one job each: ``plume`` (the dispersion model: ``chemicals``, ``stability``, ``gaussian`` and
``zones``, re-exported), ``twin`` (the park's typed, validated twin), ``scenario`` (scenario files),
``simulator`` (the demo source), ``rules`` (alarm rules), ``threat`` (the live situation), ``scene``
(the pydeck scene), ``camera`` (where the scene's camera flies: a clicked entity, an alarm),
``panels`` (the dashboard panels).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

import flask

from core.api import EntityKind, PanelSpec, RouteSpec, SourceSpec, hookimpl

from . import panels
from .closed import vehicle_rules
from .rules import rules
from .scenario import load_scenario, scenario_path
from .simulator import Simulator
from .twin import TWIN_DIR, TWIN_FILES, load_model


class Settings(BaseModel):
    """How the chemical-park plugin simulates and models."""

    interval_s: float = Field(2.0, ge=0.2, le=60, description="seconds between simulated readings")
    scenario: str = Field("leak_chlorine", description="scenario file in twin_models/chemical_park/scenarios/")
    simulate: bool = Field(True, description="run the scenario simulator (off when real sensors feed the store)")
    surface: Literal["rural", "urban"] = Field("rural", description="dispersion coefficients: open country or urban")
    stability: Literal["auto", "A", "B", "C", "D", "E", "F"] = Field(
        "auto", description="Pasquill-Gifford class; auto: from wind, sun elevation and cloud cover")
    default_cloud_oktas: float = Field(4.0, ge=0, le=8, description="cloud cover used when the mast sends none")
    wind_avg_s: float = Field(120.0, ge=0, le=3600,
                              description="threat zones use the wind averaged over this many seconds (0: newest reading)")
    stale_after_s: float = Field(30.0, ge=2, le=3600, description="wind/source readings older than this are ignored")
    seed: int = Field(7, description="random seed of the simulator")


@hookimpl
def register_settings_model() -> type[Settings]:
    return Settings


@hookimpl
def register_entity_kinds() -> list[EntityKind]:
    return [EntityKind("enterprise", "企业", "Enterprise", "#6ea8e6"),
            EntityKind("pipe_rack", "管廊", "Pipe rack", "#aabed7"),
            EntityKind("gate", "门岗", "Gate", "#36c6ff"),
            EntityKind("hazmat_parking", "危化品停车场", "Hazmat parking", "#f5a03c"),
            EntityKind("medical_station", "医疗救护站", "Medical station", "#3cdc78"),
            EntityKind("fire_station", "消防站", "Fire station", "#ff503c"),
            EntityKind("sensitive_target", "敏感目标", "Sensitive target", "#e678ff"),
            EntityKind("hazard_source", "重大危险源", "Major hazard source", "#e8363b"),
            EntityKind("gas_detector", "气体探测器", "Gas detector", "#36c6ff"),
            EntityKind("process_sensor", "工艺传感器", "Process sensor", "#7fe0ff"),
            EntityKind("weather_station", "气象站", "Weather station", "#ffffff"),
            EntityKind("fence", "封闭围栏", "Fence", "#36e6ff"),
            EntityKind("hazmat_route", "危化品规划路线", "Hazmat route", "#f5a03c"),
            EntityKind("hazmat_vehicle", "危化品运输车", "Hazmat vehicle", "#ffb000"),
            EntityKind("closed_zone", "封闭区域", "Closed zone", "#e8363b"),
            EntityKind("loading_bay", "装卸台", "Loading bay", "#f5a03c"),
            EntityKind("supervisor", "安全监管人员", "Supervisor", "#7fe0ff"),
            EntityKind("rescue_team", "救援队伍", "Rescue team", "#3cdc78"),
            EntityKind("work_permit", "特殊作业", "Work permit", "#b070ff"),
            EntityKind("hidden_hazard", "隐患", "Hidden hazard", "#f6d33c"),
            EntityKind("scene_model", "三维模型", "3D model", "#9fb6cc")]


@hookimpl
def register_twin_models() -> list[Path]:
    load_model(TWIN_FILES)          # the plugin's own checks first: a wrong field fails it with file and field
    return list(TWIN_FILES)


@hookimpl
def register_sources(settings: Settings) -> list[SourceSpec]:
    if not settings.simulate:
        return []
    model = load_model(TWIN_FILES)
    scenario = load_scenario(scenario_path(settings.scenario), model)
    sim = Simulator(model, scenario, seed=settings.seed, surface=settings.surface, stability=settings.stability)
    return [SourceSpec("simulator", interval_s=settings.interval_s, poll=sim.poll)]


@hookimpl
def register_alert_rules() -> list:
    model = load_model(TWIN_FILES)
    return rules(model) + vehicle_rules(model)


def _model_file(name: str):
    """glTF / 3D Tiles files of the twin, served offline to the scene (GET /plugins/chemical_park/models/...)."""
    return flask.send_from_directory(TWIN_DIR / "models", name, max_age=3600)


@hookimpl
def register_routes() -> list[RouteSpec]:
    return [RouteSpec("models/<path:name>", _model_file, endpoint="chemical_park_models")]


@hookimpl
def register_panels() -> list[PanelSpec]:
    src = ("simulator",)
    return [
        PanelSpec("chemical_park.scene", "园区三维态势", "Park in 3D", panels.park_scene, sources=src, refresh_s=3,
                  kind="deck", follows_selection=True, basemap=True,
                  default_options={"tank_scale": 4.0, "fly_to_alarm": True, "pitch": 50, "bearing": -12, "labels": True}),
        PanelSpec("chemical_park.threat", "有毒气体威胁区", "Toxic threat zones", panels.threat_summary, sources=src,
                  refresh_s=3),
        PanelSpec("chemical_park.receptor", "目标点浓度变化", "Concentration at a point", panels.receptor, sources=src,
                  refresh_s=5, follows_selection=True,
                  default_options={"target": "cp.target.waisha", "minutes": 30, "follow_selection": True}),
        PanelSpec("chemical_park.hazards", "重大危险源", "Major hazard sources", panels.hazards, sources=src,
                  refresh_s=5),
        PanelSpec("chemical_park.kpis", "园区实时指标", "Park figures", panels.kpis, sources=src, refresh_s=3),
        PanelSpec("chemical_park.integration", "五个一体化", "Five integrations", panels.integration, sources=src,
                  refresh_s=5),
        PanelSpec("chemical_park.closed", "封闭化管理", "Closed-park control", panels.closed_park, sources=src,
                  refresh_s=3),
    ]
