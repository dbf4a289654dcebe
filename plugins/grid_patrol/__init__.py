"""grid_patrol: grid management (网格化管理) over a demo twin of Jiaojiang's towns.

One job per module: ``model`` (the grid twin read from the store, check-lists), ``reports`` (check-ins
and hazard reports from the phone: validation, idempotency, store, bus, alerts), ``photos`` (checked,
stored and served photos), ``evacuation`` (避险转移 tasks and confirmations), ``coverage`` (who patrolled
what, from readings), ``panels`` (the big screen), ``routes`` (``/m/patrol`` and its API), ``demo``.
It imports only ``core.api``; it meets enterprise_park, flood_defence and command_center in the store
and on the bus.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from core.api import AlertRaised, EntityKind, PanelSpec, RouteSpec, SourceSpec, hookimpl

from . import demo, evacuation, panels, routes
from .model import TWIN_DIR, forget, load_twin
from .settings import GridSettings

log = logging.getLogger(__name__)
_state: dict[str, Any] = {}


@hookimpl
def register_settings_model() -> type[GridSettings]:
    return GridSettings


@hookimpl
def register_entity_kinds() -> list[EntityKind]:
    return [EntityKind("grid", "网格", "Grid", "#36c6ff"),
            EntityKind("grid_worker", "网格员", "Grid worker", "#7fe0ff"),
            EntityKind("patrol_point", "巡查点位", "Patrol point", "#f6d33c"),
            EntityKind("patrol_route", "巡查路线", "Patrol route", "#4678be"),
            EntityKind("patrol_checkin", "巡查签到", "Patrol check-in", "#2fd08a"),
            EntityKind("patrol_report", "网格隐患上报", "Grid hazard report", "#f5852a"),
            EntityKind("evac_task", "避险转移任务", "Evacuation task", "#e8363b")]


@hookimpl
def register_twin_models() -> list[Path]:
    return [TWIN_DIR / "grids.geojson"]


@hookimpl
def on_startup(store: Any, bus: Any, settings: GridSettings, role: str) -> None:
    _state["bus"] = bus
    routes.bind(_state)
    forget(store)                      # the twin was (re)loaded
    if role != "web" and settings.demo_history:
        n = demo.seed_history(store, load_twin(store))
        if n:
            log.info("grid_patrol demo: seeded %d patrol visits", n)


@hookimpl
def on_event(event: Any, store: Any, settings: GridSettings) -> None:
    # a warning (by default flood_defence's) pushes evacuation tasks to the grids near its place
    if isinstance(event, AlertRaised) and event.plugin in settings.evac_warning_plugins \
            and settings.evac_min_severity and event.severity <= settings.evac_min_severity:
        made = evacuation.push_for_warning(store, load_twin(store), event.alert_id, event.entity_id, event.severity,
                                           event.title, settings.evac_radius_km)
        if made:
            log.info("grid_patrol: %d evacuation tasks for alert %s (%s)", len(made), event.alert_id, event.title)


@hookimpl
def register_sources(settings: GridSettings) -> list[SourceSpec]:
    if not settings.demo_live:
        return []
    return [SourceSpec("demo_patrol", interval_s=settings.demo_step_s, poll=demo.DemoPatrol(settings, _state).poll)]


@hookimpl
def register_panels() -> list[PanelSpec]:
    return panels.specs()


@hookimpl
def register_routes(settings: GridSettings) -> list[RouteSpec]:
    return routes.specs(settings)
