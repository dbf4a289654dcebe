"""law_enforcement: the enforcement team's work (执法队伍规范化, plan section 七.1).

An annual enforcement plan generated from the enterprises' risk grades and the inspectors' capacity,
adjusted by managers; inspection records with findings, legal basis, measures and follow-ups until the
rectification is closed; the 互联网+监管 export; inspectors' certificates and the units' equipment
against the required list; alerts for certificates, overdue checks and enterprises behind their plan.
It reads the enterprises (and their files, 一企一档) from the shared store; it imports no other plugin.

One job per module: ``settings``, ``model`` (records as entities, audited writes), ``grading``
(enterprises, grade, town), ``planner`` (the plan as a pure function), ``plans`` (plan in the store and a
manager's changes), ``records`` (records and follow-ups), ``export`` (互联网+监管), ``checks`` (alerts),
``panels``, ``routes`` (manager page and JSON API), ``demo`` (demo data).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Any

from core.api import EntityKind, PanelSpec, Reading, RouteSpec, SourceSpec, hookimpl

from . import checks, demo, panels, routes
from .settings import Settings

log = logging.getLogger(__name__)


@hookimpl
def register_settings_model() -> type[Settings]:
    return Settings


@hookimpl
def register_entity_kinds() -> list[EntityKind]:
    return [EntityKind("le_unit", "执法单位", "Enforcement unit", "#36c6ff"),
            EntityKind("le_inspector", "执法人员", "Inspector", "#7fe0ff"),
            EntityKind("le_task", "执法检查任务", "Enforcement check", "#f6d33c"),
            EntityKind("le_record", "执法检查记录", "Inspection record", "#2fd08a")]


@hookimpl
def on_startup(store: Any, settings: Settings, role: str) -> None:
    if role != "web" and settings.demo:
        today = dt.date.today()
        demo.seed_units(store, today)
        demo.seed_plan(store, settings, today)


class _Checks:
    """Source ``checks``: the alerts' readings; in the demo it also seeds the plan once enterprises appear."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.last_seed = 0.0

    def poll(self, ctx: Any) -> list[Reading]:
        today = dt.date.today()
        if self.settings.demo and time.time() - self.last_seed > 300:
            self.last_seed = time.time()
            demo.seed_units(ctx.store, today)
            demo.seed_plan(ctx.store, self.settings, today)
        return checks.readings(ctx.store, self.settings, today)


@hookimpl
def register_sources(settings: Settings) -> list[SourceSpec]:
    return [SourceSpec("checks", interval_s=settings.check_interval_s, poll=_Checks(settings).poll)]


@hookimpl
def register_alert_rules(settings: Settings) -> list[Any]:
    return checks.rules(settings)


@hookimpl
def register_panels() -> list[PanelSpec]:
    return panels.specs()


@hookimpl
def register_routes() -> list[RouteSpec]:
    return routes.routes()
