"""supplies: the emergency supplies platform (智慧应急物资管理平台, plan section 二.3).

Stores, items with reserve norms and batches with expiry; stock derived from RFID movements (gateway over MQTT
through the host's ingest, or HTTP), duplicate reads idempotent, unknown tags held for review; store
environment with threshold alerts; hosted stock (托管) with call-ups; the command centre's dispatches draw on
stock through the bus (``MaterialsDispatched``), drills never touch live stock. It imports no other plugin.

One job per module: ``settings``, ``model`` (records as entities, audited writes), ``ledger`` (stock from
movements, shortage alerts), ``rfid`` (gateway messages, review), ``dispatch`` (incidents draw on stock),
``env`` (environment readings and rules), ``hosted`` (托管), ``mqtt`` (the gateway source), ``demo``,
``panels``, ``routes`` (manager page and JSON API).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from core.api import EntityKind, MaterialsDispatched, PanelSpec, Reading, RouteSpec, SourceSpec, hookimpl

from . import demo, dispatch, env, ledger, panels, routes
from .mqtt import Gateway
from .settings import Settings

log = logging.getLogger(__name__)
#: the host's bus, handed over in on_startup (routes use the host's own)
_state: dict[str, Any] = {}


def bus() -> Any:
    return _state.get("bus")


@hookimpl
def register_settings_model() -> type[Settings]:
    return Settings


@hookimpl
def register_entity_kinds() -> list[EntityKind]:
    return [EntityKind("supply_store", "应急物资库", "Supplies store", "#c08cff"),
            EntityKind("supply_item", "物资品类", "Supply item", "#9fb4d6"),
            EntityKind("supply_batch", "物资批次", "Supply batch", "#9fb4d6"),
            EntityKind("supply_move", "出入库记录", "Stock movement", "#5f7ea8"),
            EntityKind("supply_stock", "物资库存", "Stock line", "#36c6ff"),
            EntityKind("supply_tag", "标签处理", "Tag decision", "#5f7ea8"),
            EntityKind("supply_hosted", "托管储备", "Hosted stock", "#f6d33c")]


@hookimpl
def on_startup(store: Any, bus: Any, settings: Settings, role: str) -> None:
    _state["bus"] = bus
    if role != "web":
        if settings.demo:
            demo.seed(store, bus)
        ledger.refresh(store, bus)   # the depots' counts follow the ledger again after a twin reload


@hookimpl
def on_event(event: Any, store: Any, settings: Settings) -> None:
    if isinstance(event, MaterialsDispatched):
        dispatch.on_dispatch(store, event, bus())


class _Environment:
    """Source ``environment``: the demo's store sensors, and now and then a demo gate read."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.sensors = env.DemoSensors(settings)
        self.gateway = demo.DemoGateway()
        self.last_gate = time.time()

    def poll(self, ctx: Any) -> list[Reading]:
        if self.settings.demo and time.time() - self.last_gate > 90:
            self.last_gate = time.time()
            self.gateway.step(ctx.store, bus())
        return self.sensors.poll(ctx)


@hookimpl
def register_sources(settings: Settings) -> list[SourceSpec]:
    out = []
    if settings.demo_env:
        out.append(SourceSpec("environment", interval_s=settings.env_interval_s, poll=_Environment(settings).poll))
    if settings.mqtt_port:
        out.append(SourceSpec("gateway", run=Gateway(settings, bus).run))
    return out


@hookimpl
def register_alert_rules(settings: Settings) -> list[Any]:
    return env.rules(settings)


@hookimpl
def register_panels() -> list[PanelSpec]:
    return panels.specs()


@hookimpl
def register_routes() -> list[RouteSpec]:
    return routes.routes()
