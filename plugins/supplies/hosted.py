"""Hosted stock (托管): supplies an enterprise or supplier holds for the district under agreement.

A manager requests a call-up (调用: quantity, the incident it is for); the holder's delivery is confirmed
(by the manager on the holder's word, or the holder's account): the held quantity falls and the time from
request to confirmation is compared with the agreed call-up time. Every step is audited.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from core.api import Store

from .model import LOCK, Hosted, SupplyError, get, parse_date, save


def _qty(value: Any, field: str, most: int) -> int:
    try:
        n = int(str(value).strip())
    except (TypeError, ValueError):
        raise SupplyError(f"{value!r} is not a whole number", field) from None
    if not 1 <= n <= most:
        raise SupplyError(f"{n} is not in 1..{most}", field)
    return n


def request_callup(store: Store, hosted_id: str, body: dict[str, Any], actor: str,
                   now: float | None = None) -> dict[str, Any]:
    """A call-up request: {"quantity", "incident" (optional), "note"}."""
    with LOCK:
        h: Hosted = get(store, Hosted, hosted_id, "hosted")
        if dt.date.fromisoformat(h.contract_end) < dt.date.today():
            raise SupplyError(f"the agreement {h.contract_no} ended on {h.contract_end}", "hosted")
        open_qty = sum(c["quantity"] for c in h.callups if c["state"] == "requested")
        qty = _qty(body.get("quantity"), "quantity", max(h.quantity - open_qty, 0))
        call = {"id": f"{h.id}.c{len(h.callups) + 1}", "quantity": qty, "state": "requested",
                "incident": str(body.get("incident") or "")[:40], "note": str(body.get("note") or "")[:200],
                "requested_by": actor[:64], "requested_at": now or time.time()}
        h.callups = [*h.callups, call]
        save(store, [h], actor, "hosted.callup", f"hosted:{h.id}", None, call)
    return call


def confirm_callup(store: Store, hosted_id: str, callup_id: str, actor: str,
                   now: float | None = None) -> dict[str, Any]:
    """The holder delivered: the call-up is confirmed, the held quantity falls."""
    with LOCK:
        h: Hosted = get(store, Hosted, hosted_id, "hosted")
        call = next((c for c in h.callups if c["id"] == callup_id), None)
        if call is None:
            raise SupplyError(f"no call-up {callup_id!r} of {h.id}", "callup")
        if call["state"] != "requested":
            raise SupplyError(f"call-up {callup_id} is already {call['state']}", "callup")
        if call["quantity"] > h.quantity:
            raise SupplyError(f"only {h.quantity} held, the call-up asks {call['quantity']}", "callup")
        at = now or time.time()
        hours = (at - float(call["requested_at"])) / 3600
        done = {**call, "state": "confirmed", "confirmed_by": actor[:64], "confirmed_at": at,
                "hours": round(hours, 2), "on_time": hours <= h.callup_hours}
        h.callups = [done if c["id"] == callup_id else c for c in h.callups]
        old = h.quantity
        h.quantity -= call["quantity"]
        save(store, [h], actor, "hosted.confirm", f"hosted:{h.id}", {"quantity": old, "state": "requested"},
             {"quantity": h.quantity, "callup": done})
    return done


def record_check(store: Store, hosted_id: str, body: dict[str, Any], actor: str) -> Hosted:
    """A check at the holder (查验): its date and, optionally, the quantity found."""
    with LOCK:
        h: Hosted = get(store, Hosted, hosted_id, "hosted")
        day = parse_date(body.get("date") or dt.date.today().isoformat(), "date")
        if day > dt.date.today():
            raise SupplyError(f"{day} is in the future", "date")
        old = {"last_check": h.last_check, "quantity": h.quantity}
        h.last_check = day.isoformat()
        if body.get("quantity") not in (None, ""):
            h.quantity = _qty(body["quantity"], "quantity", 10**9)
        save(store, [h], actor, "hosted.check", f"hosted:{h.id}", old,
             {"last_check": h.last_check, "quantity": h.quantity})
    return h
