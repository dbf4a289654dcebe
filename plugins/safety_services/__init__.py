"""safety_services: intermediary safety services (中介机构数字化安全服务, plan section 二.4).

Safety consultancies (agencies) with their qualifications and staff serve enterprises under contracts;
each service is recorded on a standard check-list with findings and photos and signed off by the
enterprise; signed findings join the enterprise's hazard loop through the bus (``HazardReported``);
regulators see coverage, findings, repeats, quality scores and copied-looking records. Agencies use
their own page (role ``agency``, scope ``agency:<id>``) and see only their own contracts.

One job per module: ``settings``, ``model`` (records as entities, audited writes), ``services`` (the
workflows: agencies, contracts, records, sign-off, findings → bus), ``photos``, ``analysis`` (the
regulator's figures, pure), ``checks`` (alerts), ``panels``, ``routes`` (pages and JSON API), ``demo``.
It imports only ``core.api``; it reads enterprises from the store and meets enterprise_park on the bus.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from core.api import EntityKind, PanelSpec, Reading, RouteSpec, SourceSpec, hookimpl

from . import checks, demo, panels, routes
from .settings import Settings

log = logging.getLogger(__name__)
_state: dict[str, Any] = {}


@hookimpl
def register_settings_model() -> type[Settings]:
    return Settings


@hookimpl
def register_entity_kinds() -> list[EntityKind]:
    return [EntityKind("ss_agency", "中介机构", "Safety agency", "#36c6ff"),
            EntityKind("ss_staff", "机构从业人员", "Agency staff", "#7fe0ff"),
            EntityKind("ss_contract", "安全服务合同", "Service contract", "#f6d33c"),
            EntityKind("ss_record", "安全服务记录", "Service record", "#2fd08a")]


def _seed(store: Any, settings: Settings) -> None:
    try:
        n = demo.seed(store, settings, _state.get("bus"))
    except Exception:                       # the demo must never take the plugin down
        log.exception("safety_services demo: seeding failed")
        return
    if n:
        log.info("safety_services demo: %d service records", n)


@hookimpl
def on_startup(store: Any, bus: Any, settings: Settings, role: str) -> None:
    _state["bus"] = bus
    routes.bind(_state)
    if role != "web" and settings.demo:
        _seed(store, settings)


class _Checks:
    """Source ``checks``: the qualification alerts' readings; the demo is seeded once enterprises appear."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.last_seed = 0.0

    def poll(self, ctx: Any) -> list[Reading]:
        if self.settings.demo and time.time() - self.last_seed > 300:
            self.last_seed = time.time()
            _seed(ctx.store, self.settings)
        return checks.readings(ctx.store)


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
