"""RFID gateway messages (MQTT or HTTP) → movements, idempotent; unknown tags held for a manager's review.

A gateway message (JSON), the same on both transports::

    {"store": "sp.store.district", "gateway": "gw-01", "event": "in" | "out" | "count",
     "count_id": "2024-06-01-a",                       # count only, optional: the count's stable id
     "reads": [{"id": "r-000123", "epc": "3034F1A2000000000000012A", "ts": 1717200000.5}, ...]}

``id`` (the reader's read id) makes a re-sent read a duplicate; without it the key is EPC + event + time. A
count is one movement: every EPC the reader saw in the store. The whole message is checked first: an error
names the field (``reads[3].epc``) and nothing of the message is stored.
"""

from __future__ import annotations

import math
import time
from typing import Any

from core.api import Entity, Store

from . import ledger
from .model import EPC_RE, LOCK, MOVE, PLUGIN, STORE, TAG, SupplyError, batches, save

EVENTS = ("in", "out", "count")
MAX_READS = 5000


def _ts(value: Any, field: str, now: float) -> float:
    if value is None:
        return now
    try:
        ts = float(value)
    except (TypeError, ValueError):
        raise SupplyError(f"{value!r} is not a time (epoch seconds)", field) from None
    if not math.isfinite(ts) or ts < 946684800 or ts > now + 86400:
        raise SupplyError(f"{value!r} is not a plausible time (epoch seconds, 2000 .. tomorrow)", field)
    return ts


def parse(store: Store, msg: Any, *, store_id: str | None = None, now: float | None = None) -> list[Entity]:
    """Check a gateway message and return its movement entities (nothing stored yet)."""
    now = now or time.time()
    if not isinstance(msg, dict):
        raise SupplyError("a gateway message is a JSON object", None)
    sid = str(msg.get("store") or store_id or "").strip()
    if store_id and msg.get("store") and msg["store"] != store_id:
        raise SupplyError(f"{msg['store']!r} differs from the topic's store {store_id!r}", "store")
    st = store.entity(sid) if sid else None
    if st is None or st.kind != STORE or st.plugin != PLUGIN:
        raise SupplyError(f"no store {sid!r}" if sid else "is required", "store")
    event = msg.get("event")
    if event not in EVENTS:
        raise SupplyError(f"{event!r} is not one of {', '.join(EVENTS)}", "event")
    reads = msg.get("reads")
    if not isinstance(reads, list) or (not reads and event != "count"):
        raise SupplyError("must be a non-empty list of reads", "reads")
    if len(reads) > MAX_READS:
        raise SupplyError(f"{len(reads)} reads in one message; at most {MAX_READS}", "reads")
    gateway = str(msg.get("gateway") or "")[:64]
    parsed = []
    for n, r in enumerate(reads):
        where = f"reads[{n}]"
        if not isinstance(r, dict):
            raise SupplyError("a read is an object with epc (and id, ts)", where)
        epc = str(r.get("epc") or "").strip().upper()
        if not EPC_RE.match(epc):
            raise SupplyError(f"{r.get('epc')!r} is not an EPC (8–32 hex digits)", f"{where}.epc")
        rid = r.get("id")
        if rid is not None and (not isinstance(rid, (str, int)) or not str(rid).strip() or len(str(rid)) > 64):
            raise SupplyError(f"{rid!r} is not a read id (text of 1–64 characters)", f"{where}.id")
        parsed.append((epc, None if rid is None else str(rid), _ts(r.get("ts"), f"{where}.ts", now)))
    base = {"store": sid, "gateway": gateway}
    if event == "count":
        ts = _ts(msg.get("ts"), "ts", now) if msg.get("ts") is not None else max((p[2] for p in parsed), default=now)
        cid = str(msg.get("count_id") or "").strip()[:64]
        epcs = sorted({p[0] for p in parsed})
        mid = ledger.move_id(sid, "count", cid) if cid else ledger.move_id(sid, "count", ts, *epcs)
        return [Entity(id=mid, kind=MOVE, name=f"盘点 {len(epcs)}", name_en=f"count {len(epcs)}", plugin=PLUGIN,
                       properties={**base, "kind": "count", "epcs": epcs, "ts": ts, "count_id": cid})]
    out: dict[str, Entity] = {}
    for epc, rid, ts in parsed:
        mid = ledger.move_id(sid, event, "id", rid) if rid else ledger.move_id(sid, event, epc, round(ts, 3))
        out[mid] = Entity(id=mid, kind=MOVE, name=f"{event} {epc}", name_en=f"{event} {epc}", plugin=PLUGIN,
                          properties={**base, "kind": event, "epc": epc, "ts": ts, "read_id": rid})
    return list(out.values())


def receive(store: Store, msg: Any, bus: Any = None, *, store_id: str | None = None, source: str = "http",
            now: float | None = None) -> dict[str, Any]:
    """Store a gateway message's new movements and refresh the stock. Returns what happened to its reads."""
    rows = parse(store, msg, store_id=store_id, now=now)
    with LOCK:
        fresh = [r for r in rows if store.entity(r.id) is None]
        for r in fresh:
            r.properties = {**r.properties, "source": source}
        if fresh:
            store.upsert(fresh)
        d = ledger.refresh(store, bus)
    epcs = {e for r in fresh for e in ([r.properties["epc"]] if "epc" in r.properties else r.properties["epcs"])}
    held = sorted(e for e in epcs if e in d.unknown)
    reads = len(msg.get("reads", []))
    return {"store": rows[0].properties["store"], "event": msg.get("event"), "reads": reads,
            "movements": len(fresh), "duplicates": len(rows) - len(fresh), "held": held}


# -- the review of unknown tags ---------------------------------------------------------------------------------
def review(store: Store) -> list[dict[str, Any]]:
    """Unknown tags waiting for a decision, most reads first."""
    d, *_ = ledger.current(store)
    return sorted(d.unknown.values(), key=lambda r: (-r["reads"], r["epc"]))


def _pending(store: Store, epc: str) -> dict[str, Any]:
    epc = str(epc or "").strip().upper()
    row = next((r for r in review(store) if r["epc"] == epc), None)
    if row is None:
        raise SupplyError(f"{epc!r} is not an unknown tag waiting for review", "epc")
    return row


def assign(store: Store, epc: str, batch_id: str, actor: str, bus: Any = None) -> dict[str, Any]:
    """Assign an unknown tag to a batch: its held reads now count (audited)."""
    with LOCK:
        row = _pending(store, epc)
        b = ledger.batch_of(store, str(batch_id or ""))
        if b is None:
            raise SupplyError(f"no batch {batch_id!r}", "batch")
        b.tags = sorted({*b.tags, row["epc"]})
        save(store, [b], actor, "tag.assign", f"tag:{row['epc']}", {"reads": row["reads"], "store": row["store"]},
             {"batch": b.id, "item": b.item})
        ledger.refresh(store, bus)
    return {"epc": row["epc"], "batch": b.id, "reads": row["reads"]}


def discard(store: Store, epc: str, actor: str, reason: str = "") -> dict[str, Any]:
    """Discard an unknown tag (a foreign tag, a test tag): it leaves the review list (audited)."""
    with LOCK:
        row = _pending(store, epc)
        ent = Entity(id=f"sp.tag.{row['epc']}", kind=TAG, name=row["epc"], plugin=PLUGIN,
                     properties={"epc": row["epc"], "state": "discarded", "reason": str(reason)[:200],
                                 "reads": row["reads"], "by": actor[:64], "at": time.time()})
        save(store, [ent], actor, "tag.discard", f"tag:{row['epc']}", {"reads": row["reads"]},
             {"state": "discarded", "reason": str(reason)[:200]})
    return {"epc": row["epc"], "state": "discarded"}


def batch_ids(store: Store) -> list[str]:
    return [b.id for b in batches(store)]
