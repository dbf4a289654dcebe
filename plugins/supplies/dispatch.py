"""Incidents draw on stock: the command centre's ``MaterialsDispatched`` becomes a ``dispatch`` movement.

The two plugins meet on the bus and in the store only. A line names the command centre's depot; the store
whose ``depot`` is that entity (or the store itself) takes it. A re-delivered event has the same
``dispatch_id``, so its movements are stored once. A drill's lines are drill data: live stock stays.
"""

from __future__ import annotations

from typing import Any

from core.api import Entity, MaterialsDispatched, Store

from . import ledger
from .model import LOCK, MOVE, PLUGIN, stores


def on_dispatch(store: Store, event: MaterialsDispatched, bus: Any = None) -> list[str]:
    """Record the dispatch's lines that concern our stores; returns the new movement ids."""
    by_depot = {}
    for st in stores(store):
        by_depot[st.id] = st
        if st.depot:
            by_depot[st.depot] = st
    rows = []
    for n, line in enumerate(event.materials):
        st = by_depot.get(str(line.get("depot", "")))
        try:
            qty = int(line.get("count") or 0)
        except (TypeError, ValueError):
            qty = 0
        if st is None or qty <= 0:
            continue
        rows.append(Entity(id=ledger.move_id("dispatch", event.plugin, event.dispatch_id, n), kind=MOVE,
                           name=f"{'演练' if event.drill else '调度'} {line.get('name', line.get('sku'))} {qty}",
                           name_en=f"{'drill' if event.drill else 'dispatch'} {line.get('sku')} {qty}", plugin=PLUGIN,
                           properties={"kind": "dispatch", "store": st.id, "sku": str(line.get("sku", "")),
                                       "qty": qty, "ts": float(event.ts), "incident": event.incident_id,
                                       "drill": bool(event.drill), "dispatch_id": event.dispatch_id,
                                       "source": event.plugin, "actor": event.actor}))
    with LOCK:
        fresh = [r for r in rows if store.entity(r.id) is None]
        if fresh:
            store.upsert(fresh)
            ledger.refresh(store, bus)
    return [r.id for r in fresh]
