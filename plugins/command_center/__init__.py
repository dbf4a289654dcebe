"""command_center: the emergency command "one map" (一张图) and the leaders' wall.

Resources and rescue forces on one map with what the domain plugins publish; incidents from intake
to review with a "who did what when" timeline and an evaluation report (HTML, PDF); the 15-minute
rapid response circle over a road graph; warning publication through pluggable channels; press
releases (新闻发布: draft → review → publish by different people, public /press and Atom feed); drills;
routine ↔ incident mode of the leaders' wall. It reads other plugins' entities from the shared
store and their alerts from the bus; it never imports them.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from core.api import AlertRaised, EntityKind, PanelSpec, SourceSpec, hookimpl

from . import imported_roads, panels, press, report, routes, switching
from .settings import CommandSettings
from .tracker import TeamTracker

PLUGIN = "command_center"
TWIN_DIR = Path(__file__).resolve().parents[2] / "twin_models" / PLUGIN
_state: dict[str, Any] = {}


@hookimpl
def register_settings_model() -> type[CommandSettings]:
    return CommandSettings


@hookimpl
def register_entity_kinds() -> list[EntityKind]:
    return [EntityKind("emergency_team", "专业救援队伍", "Professional rescue team", "#3cdc78"),
            EntityKind("micro_station", "微型救援站", "Micro rescue station", "#78f0aa"),
            EntityKind("fire_rescue_station", "消防救援站", "Fire and rescue station", "#ff503c"),
            EntityKind("material_depot", "应急物资库", "Emergency material store", "#c08cff"),
            EntityKind("emergency_shelter", "应急避难场所", "Emergency shelter", "#2fd08a"),
            EntityKind("medical_point", "医疗救治点", "Medical point", "#ffffff"),
            EntityKind("key_camera", "重点监控", "Key camera", "#4cc3ff"),
            EntityKind("department", "部门", "Department", "#9fb6cc")]


@hookimpl
def register_twin_models() -> list[Path]:
    return [TWIN_DIR / "resources.yaml"]


@hookimpl
def register_sources(settings: CommandSettings) -> list[SourceSpec]:
    if not settings.simulate:
        return []
    return [SourceSpec("tracker", interval_s=settings.interval_s, poll=TeamTracker(settings).poll)]


@hookimpl
def register_routes() -> list:
    return routes.routes()


@hookimpl
def on_startup(store: Any, bus: Any, settings: CommandSettings) -> None:
    _state.update(bus=bus)
    imported_roads.use_store(store)  # the circle reads imported roads outside a request too (the worker)
    press.install_guard(store)  # published press releases are refused any change by the database itself
    # The report's PDF font is unpacked once per checkout; do it now, off the request path.
    threading.Thread(target=report.warm_fonts, name="cc-fonts", daemon=True).start()


@hookimpl
def on_event(event: Any, store: Any, settings: CommandSettings) -> None:
    if isinstance(event, AlertRaised):
        switching.on_alert(store, _state.get("bus"), settings, event.alert_id, event.severity)


@hookimpl
def register_panels() -> list[PanelSpec]:
    src = ("tracker",)
    P = PLUGIN
    return [
        PanelSpec(f"{P}.one_map", "应急一张图", "Emergency one map", panels.one_map, refresh_s=5, kind="deck",
                  basemap=True, map_layers=True),
        PanelSpec(f"{P}.headline", "全区态势", "District at a glance", panels.headline, refresh_s=5),
        PanelSpec(f"{P}.resources", "应急资源", "Emergency resources", panels.resources, sources=src, refresh_s=10,
                  stale_after_s=180),
        PanelSpec(f"{P}.circle", "15分钟快速响应救援圈", "15-minute response circle", panels.circle_panel, refresh_s=30),
        PanelSpec(f"{P}.incident", "当前事件", "Current incident", panels.incident_card, refresh_s=2),
        PanelSpec(f"{P}.timeline", "处置时间线", "Incident timeline", panels.incident_timeline, refresh_s=2),
        PanelSpec(f"{P}.soonest", "最快到达与周边", "Soonest teams and surroundings", panels.soonest_teams, refresh_s=5),
        PanelSpec(f"{P}.incident_map", "事件现场", "Incident scene", panels.incident_map, refresh_s=3, kind="deck",
                  basemap=True),
        PanelSpec(f"{P}.warnings", "预警发布", "Warnings published", panels.warnings_panel, refresh_s=5),
        PanelSpec(f"{P}.incidents", "事件列表", "Incidents", panels.incidents_list, refresh_s=5),
    ]
