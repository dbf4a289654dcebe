"""Stock is derived from the movements, never typed in.

``derive`` replays the ledger (``supply_move`` entities) in time order as a pure function:

* ``in`` (a tag read at a store's gate): the tag is in that store; its batch gains ``per_tag`` units. A tag
  already there is a repeat read and changes nothing (readers report a tag many times a second).
* ``out``: a tag in the store leaves; its units leave unless a dispatch already took them (see below).
* ``count`` (an inventory count, 盘点: every tag the reader saw in the store): tags the ledger has in the
  store but the count did not see left (盘亏), tags seen but not there arrived (盘盈).
* ``dispatch`` (command_center sent materials to an incident): the count leaves at once, first-expiry-first-out
  over the batches; the tags of those units are expected at the gate (``pending``), so their ``out`` reads
  later take nothing twice. A dispatch of a **drill** is recorded as drill use and leaves live stock alone.

An EPC no batch claims is **held for review**: counted, listed, changing nothing until a manager assigns it
to a batch (the replay then includes its reads) or discards it. ``refresh`` writes the derived stock as
``supply_stock`` entities, opens and closes shortage alerts (stock below the reserve norm), and writes the
live stock into the command centre's depot entities so its dispatch form checks against it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from core.api import AlertClosed, AlertDraft, AlertRaised, Entity, Severity, Store

from .model import BATCH, LOCK, MOVE, PLUGIN, STOCK, TAG, Batch, Item, SupplyStore, batches, items, load, stores

SHORTAGE = f"{PLUGIN}.shortage"


def move_id(*parts: Any) -> str:
    """A stable id for a movement: the same read (or dispatch line) always gets the same id."""
    return "sp.mv." + hashlib.sha1("|".join(str(p) for p in parts).encode()).hexdigest()[:20]


def stock_id(store_id: str, item_id: str) -> str:
    return f"sp.stock.{store_id.removeprefix('sp.store.')}.{item_id.removeprefix('sp.item.')}"


@dataclass
class Derived:
    """What the replay yields."""

    stock: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))      # (store, item)
    by_batch: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))   # (store, batch)
    drill: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))      # (store, item)
    unknown: dict[str, dict[str, Any]] = field(default_factory=dict)                        # epc → review row
    effects: list[dict[str, Any]] = field(default_factory=list)   # each applied change: ts, store, item, delta, kind
    shortfalls: list[dict[str, Any]] = field(default_factory=list)
    tags_at: dict[str, str] = field(default_factory=dict)


class TagIndex:
    """EPC → batch: a batch's assigned tags first, then the longest EPC prefix."""

    def __init__(self, all_batches: list[Batch]) -> None:
        self.exact = {t: b for b in all_batches for t in b.tags}
        self.prefixes = sorted(((b.epc_prefix, b) for b in all_batches if b.epc_prefix), key=lambda p: -len(p[0]))

    def batch(self, epc: str) -> Batch | None:
        hit = self.exact.get(epc)
        if hit is not None:
            return hit
        return next((b for p, b in self.prefixes if epc.startswith(p)), None)


def derive(moves: list[Entity], all_batches: list[Batch], all_items: list[Item],
           discarded: set[str] = frozenset()) -> Derived:  # type: ignore[assignment]
    """Replay ``moves`` (oldest first) into stock per store and item; see the module's docstring."""
    d = Derived()
    idx = TagIndex(all_batches)
    by_sku = {i.sku: i for i in all_items}
    batch_of_item: dict[str, list[Batch]] = defaultdict(list)
    for b in all_batches:
        batch_of_item[b.item].append(b)
    pending: dict[tuple[str, str], int] = defaultdict(int)

    def add(store: str, b: Batch, qty: int, ts: float, kind: str, ref: str) -> None:
        d.by_batch[(store, b.id)] += qty
        d.stock[(store, b.item)] += qty
        d.effects.append({"ts": ts, "store": store, "item": b.item, "delta": qty, "kind": kind, "ref": ref})

    def take(store: str, b: Batch, qty: int, ts: float, kind: str, ref: str) -> None:
        covered = min(pending[(store, b.id)], qty)
        pending[(store, b.id)] -= covered
        if qty - covered:
            add(store, b, -(qty - covered), ts, kind, ref)

    def arrive(epc: str, store: str, b: Batch, ts: float, kind: str, ref: str) -> None:
        here = d.tags_at.get(epc)
        if here == store:
            return
        if here is not None:  # moved between stores without an out read: it left the other one
            take(here, b, b.per_tag, ts, "transfer", ref)
        d.tags_at[epc] = store
        add(store, b, b.per_tag, ts, kind, ref)

    def hold(epc: str, store: str, ts: float, event: str) -> None:
        if epc in discarded:
            return
        row = d.unknown.setdefault(epc, {"epc": epc, "store": store, "reads": 0, "first": ts, "last": ts,
                                         "event": event})
        row.update(reads=row["reads"] + 1, last=max(row["last"], ts), store=store, event=event)

    for m in sorted(moves, key=lambda e: (float(e.properties.get("ts", 0)), e.id)):
        p = m.properties
        kind, store, ts = p.get("kind"), p.get("store", ""), float(p.get("ts", 0))
        if kind in ("in", "out"):
            epc = p["epc"]
            b = idx.batch(epc)
            if b is None:
                hold(epc, store, ts, kind)
            elif kind == "in":
                arrive(epc, store, b, ts, "in", m.id)
            elif d.tags_at.get(epc) == store:
                del d.tags_at[epc]
                take(store, b, b.per_tag, ts, "out", m.id)
        elif kind == "count":
            seen = set()
            for epc in p.get("epcs", []):
                b = idx.batch(epc)
                if b is None:
                    hold(epc, store, ts, "count")
                    continue
                seen.add(epc)
                arrive(epc, store, b, ts, "count_found", m.id)
            for epc, at in list(d.tags_at.items()):
                if at == store and epc not in seen:
                    b = idx.batch(epc)
                    del d.tags_at[epc]
                    if b is not None:
                        take(store, b, b.per_tag, ts, "count_missing", m.id)
        elif kind == "dispatch":
            item = by_sku.get(p.get("sku", ""))
            if item is None:
                continue
            qty = int(p.get("qty", 0))
            if p.get("drill"):
                d.drill[(store, item.id)] += qty
                d.effects.append({"ts": ts, "store": store, "item": item.id, "delta": 0, "kind": "drill",
                                  "ref": m.id, "drill_qty": qty})
                continue
            left = qty
            for b in sorted(batch_of_item[item.id], key=lambda b: (b.expiry or "9999", b.id)):  # FEFO
                have = d.by_batch.get((store, b.id), 0)
                use = min(have, left)
                if use > 0:
                    add(store, b, -use, ts, "dispatch", m.id)
                    pending[(store, b.id)] += use
                    left -= use
                if not left:
                    break
            if left:
                d.shortfalls.append({"move": m.id, "store": store, "item": item.id, "missing": left})
    return d


def discarded_tags(store: Store) -> set[str]:
    return {e.properties.get("epc", "") for e in store.entities(kind=TAG, plugin=PLUGIN)
            if e.properties.get("state") == "discarded"}


def current(store: Store) -> tuple[Derived, list[SupplyStore], list[Item], list[Batch]]:
    """The replay of everything stored, with the records it used."""
    s, i, b = stores(store), items(store), batches(store)
    return derive(store.entities(kind=MOVE, plugin=PLUGIN), b, i, discarded_tags(store)), s, i, b


def refresh(store: Store, bus: Any = None, now: float | None = None) -> Derived:
    """Write the derived stock (``supply_stock``), open/close shortage alerts, mirror to the depots."""
    now = now or time.time()
    with LOCK:
        d, all_stores, all_items, _ = current(store)
        old = {e.id: e for e in store.entities(kind=STOCK, plugin=PLUGIN)}
        rows: list[Entity] = []
        short: dict[str, tuple[Item, SupplyStore, int, int]] = {}
        for st in all_stores:
            for it in all_items:
                norm = int(it.norms.get(st.id, 0))
                qty = int(d.stock.get((st.id, it.id), 0))
                drill = int(d.drill.get((st.id, it.id), 0))
                if not norm and not qty and not drill and stock_id(st.id, it.id) not in old:
                    continue
                sid = stock_id(st.id, it.id)
                props = {"store": st.id, "item": it.id, "sku": it.sku, "qty": qty, "norm": norm, "drill_used": drill,
                         "unit": it.unit, "category": it.category}
                prev = old.get(sid)
                if prev is None or {k: prev.properties.get(k) for k in props} != props:
                    rows.append(Entity(id=sid, kind=STOCK, name=f"{st.name}·{it.name}",
                                       name_en=f"{st.name_en} · {it.name_en}", plugin=PLUGIN, properties=props,
                                       geometry={"type": "Point", "coordinates": [st.lon, st.lat]}))
                if norm and qty < norm:
                    short[sid] = (it, st, qty, norm)
        if rows:
            store.upsert(rows)
        _alerts(store, bus, short, old)
        _mirror(store, d, all_stores, all_items, now)
        return d


def _alerts(store: Store, bus: Any, short: dict[str, tuple[Item, SupplyStore, int, int]],
            old: dict[str, Entity]) -> None:
    for sid, (it, st, qty, norm) in short.items():
        sev = Severity.II if qty <= norm // 2 else Severity.III
        draft = AlertDraft(SHORTAGE, sid, sev, f"{it.name}库存低于储备定额",
                           f"{st.name} 现有 {qty}{it.unit},定额 {norm}{it.unit},缺 {norm - qty}{it.unit}", float(qty),
                           details={"store": st.id, "item": it.id, "qty": qty, "norm": norm},
                           title_en=f"{it.name_en} below reserve norm",
                           message_en=f"{st.name_en}: {qty} {it.unit} in stock, norm {norm}, short {norm - qty}")
        alert, changed = store.raise_alert(draft, PLUGIN)
        if changed and bus is not None:
            bus.publish(AlertRaised(alert_id=alert.id or 0, plugin=PLUGIN, rule_id=SHORTAGE, entity_id=sid,
                                    severity=int(sev), title=draft.title))
    open_ids = {a.entity_id for a in store.alerts(limit=100000) if a.rule_id == SHORTAGE}
    for sid in open_ids - set(short):
        for alert_id in store.close_alerts_for(SHORTAGE, sid):
            if bus is not None:
                bus.publish(AlertClosed(alert_id=alert_id, actor=PLUGIN))


def _mirror(store: Store, d: Derived, all_stores: list[SupplyStore], all_items: list[Item], now: float) -> None:
    """The command centre's depots show (and check dispatches against) the live stock derived here."""
    by_sku = {i.sku: i for i in all_items}
    rows = []
    for st in all_stores:
        depot = store.entity(st.depot) if st.depot else None
        if depot is None:
            continue
        its = [dict(x) for x in depot.properties.get("items", [])]
        changed = False
        for x in its:
            item = by_sku.get(x.get("sku"))
            if item is not None and int(x.get("count", 0)) != d.stock.get((st.id, item.id), 0):
                x["count"], changed = int(d.stock.get((st.id, item.id), 0)), True
        if changed:
            depot.properties = {**depot.properties, "items": its, "stock_from": PLUGIN}
            depot.updated_at = now
            rows.append(depot)
    if rows:
        store.upsert(rows)


def expiring(all_batches: list[Batch], d: Derived, today: dt.date, within_days: int) -> list[dict[str, Any]]:
    """Batches in stock that expire within ``within_days`` (or have expired), soonest first."""
    out = []
    for b in all_batches:
        days = b.expires_in(today)
        if days is None or days > within_days:
            continue
        for (st, bid), qty in d.by_batch.items():
            if bid == b.id and qty > 0:
                out.append({"batch": b, "store": st, "qty": qty, "days": days})
    return sorted(out, key=lambda r: (r["days"], r["batch"].id))


def stock_rows(store: Store) -> list[Entity]:
    """The derived stock entities (what panels read)."""
    return sorted(store.entities(kind=STOCK, plugin=PLUGIN), key=lambda e: e.id)


def batch_of(store: Store, batch_id: str) -> Batch | None:
    e = store.entity(batch_id)
    return load(Batch, e) if e is not None and e.kind == BATCH and e.plugin == PLUGIN else None
