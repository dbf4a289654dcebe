"""Evacuation (避险转移) tasks for the workers of the grids in a warning area, and their confirmations.

A campaign is pushed either by a warning on the bus (an ``AlertRaised`` of a warning plugin, by default
flood_defence, at ``evac_min_severity`` or worse: the grids with people at risk within ``evac_radius_km``
of the warning's place) or by a manager (chosen towns or grids). Each grid gets one task entity
``gp.evac.<campaign>.<grid>`` with its households and people at risk; pushing again is idempotent.

A worker confirms on the phone how many households and people of the grid have moved so far (a running
total, so a re-sent or corrected confirmation never double-counts; each confirmation carries its
idempotency key). The task, its audit entry and the readings ``evac_households``/``evac_people`` of the
grid are stored; and for a grid that holds one of the flood plan's villages (``flood_village``) the sum
over the campaign's grids of that village goes to the store as the village's ``transferred`` reading,
which flood_defence's transfer figures read (no import: the store is the meeting point).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any

from shapely.geometry import Point, shape

from core.api import AuditEntry, Bus, Entity, Reading, Store

from .model import PLUGIN, Grid, Twin
from .reports import FieldError, Forbidden, Who, _key, _publish_readings, _text

KIND = "evac_task"
_lock = threading.Lock()


def tasks(store: Store, grid: str | None = None, open_only: bool = False) -> list[Entity]:
    """Evacuation tasks (of one grid), newest campaign first."""
    out = []
    for e in store.entities(kind=KIND, plugin=PLUGIN):
        p = e.properties or {}
        if grid is not None and p.get("grid") != grid:
            continue
        if open_only and p.get("state") == "done":
            continue
        out.append(e)
    return sorted(out, key=lambda e: (-float(e.properties.get("pushed_at", 0)), e.id))


def grids_near(twin: Twin, lon: float, lat: float, radius_km: float) -> list[Grid]:
    """Grids with people at risk whose area comes within ``radius_km`` of a point."""
    here = Point(lon, lat)
    deg = radius_km / 100.0   # ~1.1 km per 0.01° here; a little generous in longitude
    out = []
    for g in twin.grids.values():
        if g.households <= 0 or not g.geometry:
            continue
        if shape(g.geometry).distance(here) <= deg:
            out.append(g)
    return out


def push(store: Store, twin: Twin, grids: Iterable[Grid], campaign: str, reason: str, actor: str,
         source: str, now: float | None = None) -> list[Entity]:
    """One task per grid of the campaign (existing ones are kept); all stored with one audit entry."""
    now = time.time() if now is None else now
    rows = []
    with _lock:
        for g in grids:
            tid = f"gp.evac.{campaign}.{g.id}"
            if store.entity(tid) is not None:
                continue
            props = {"campaign": campaign, "grid": g.id, "town": g.town, "workers": list(g.workers),
                     "reason": reason, "source": source, "pushed_at": now, "pushed_by": actor,
                     "households_target": g.households, "people_target": g.people, "households_moved": 0,
                     "people_moved": 0, "state": "pushed", "confirmations": [], "flood_village": g.flood_village}
            rows.append(Entity(id=tid, site_id=None, kind=KIND, name=f"避险转移:{g.name}", name_en=f"Evacuation: {g.name_en}",
                               plugin=PLUGIN, geometry={"type": "Point", "coordinates": list(g.office)},
                               properties=props, updated_at=now))
        if rows:
            store.upsert(rows, audit=AuditEntry(actor=actor, action="grid_patrol.evacuation.push",
                                                target=f"campaign:{campaign}",
                                                new={"reason": reason, "source": source,
                                                     "grids": [r.properties["grid"] for r in rows]}))
    return rows


def push_for_warning(store: Store, twin: Twin, alert_id: int, entity_id: str, severity: int, title: str,
                     radius_km: float) -> list[Entity]:
    """Tasks for the grids near the place of a warning (its entity's point); [] when it has no place."""
    ent = store.entity(entity_id) if entity_id else None
    geom = (ent.geometry or {}) if ent is not None else {}
    if geom.get("type") != "Point":
        return []
    lon, lat = geom["coordinates"][:2]
    near = grids_near(twin, float(lon), float(lat), radius_km)
    return push(store, twin, near, f"w{alert_id}", f"{title}(预警等级 {severity})", "system", f"alert:{alert_id}")


def push_by_manager(store: Store, twin: Twin, who: Who, form: Mapping[str, Any],
                    now: float | None = None) -> dict[str, Any]:
    """A manager pushes a campaign to chosen towns and/or grids (with people at risk)."""
    if who.grid is not None:
        raise Forbidden("only a manager pushes evacuation tasks")
    reason = _text(form, "reason", required=True, max_len=200, min_len=2)
    towns = [str(t) for t in (form.get("towns") or [])]
    grid_ids = [str(g) for g in (form.get("grids") or [])]
    known_towns = {g.town for g in twin.grids.values()}
    for t in towns:
        if t not in known_towns:
            raise FieldError("towns", f"no town {t!r} (known: {', '.join(sorted(known_towns))})")
    for gid in grid_ids:
        if gid not in twin.grids:
            raise FieldError("grids", f"no grid {gid!r}")
    chosen = [g for g in twin.grids.values() if (g.town in towns or g.id in grid_ids) and g.households > 0]
    if not chosen:
        raise FieldError("towns", "choose towns or grids with people at risk")
    key = _key(form)
    rows = push(store, twin, chosen, f"m{key}", reason, who.user, "manager", now)
    return {"campaign": f"m{key}", "created": [r.id for r in rows], "grids": [g.id for g in chosen]}


def _count(form: Mapping[str, Any], name: str) -> int:
    raw = str(form.get(name, "")).strip()
    if not raw:
        raise FieldError(name, "required")
    try:
        n = int(raw)
    except ValueError:
        raise FieldError(name, f"a whole number, not {raw[:20]!r}") from None
    if not 0 <= n <= 100_000:
        raise FieldError(name, "between 0 and 100000")
    return n


def confirm(store: Store, bus: Bus | None, twin: Twin, who: Who, task_id: str, form: Mapping[str, Any],
            now: float | None = None) -> dict[str, Any]:
    """A worker's running total of households and people moved for one task; the task as a dict."""
    now = time.time() if now is None else now
    key = _key(form)
    with _lock:
        ent = store.entity(task_id)
        if ent is None or ent.kind != KIND:
            raise FieldError("task", f"no evacuation task {task_id!r}")
        p = dict(ent.properties or {})
        if not who.may(p.get("grid", "")):
            raise Forbidden(f"{who.user} may act on grid {who.grid} only")
        if any(c.get("key") == key for c in p.get("confirmations", [])):
            return _out(ent, duplicate=True)
        households, people = _count(form, "households"), _count(form, "people")
        if people < households:
            raise FieldError("people", f"fewer people ({people}) than households ({households})")
        note = _text(form, "note", max_len=200)
        old = {"households_moved": p["households_moved"], "people_moved": p["people_moved"], "state": p["state"]}
        p["households_moved"], p["people_moved"] = households, people
        p["state"] = "done" if households >= p["households_target"] else "moving"
        p["confirmed_at"], p["confirmed_by"] = now, who.user
        p["confirmations"] = (p.get("confirmations", []) + [{"key": key, "ts": now, "by": who.user, "households": households,
                                                               "people": people, "note": note}])[-30:]
        ent = Entity(id=ent.id, site_id=ent.site_id, kind=KIND, name=ent.name, name_en=ent.name_en, plugin=PLUGIN,
                     geometry=ent.geometry, properties=p, updated_at=now)
        store.upsert([ent], audit=AuditEntry(actor=who.user, action="grid_patrol.evacuation.confirm",
                                             target=f"evac:{task_id}", old=old,
                                             new={"households_moved": households, "people_moved": people,
                                                  "state": p["state"], "note": note}))
    readings = [Reading(p["grid"], "evac_households", now, float(households), "户"),
                Reading(p["grid"], "evac_people", now, float(people), "人")]
    village = p.get("flood_village")
    if village:
        total = sum(int(t.properties.get("people_moved", 0)) for t in store.entities(kind=KIND, plugin=PLUGIN)
                    if t.properties.get("campaign") == p["campaign"] and t.properties.get("flood_village") == village)
        readings.append(Reading(village, "transferred", now, float(total), "人"))
    _publish_readings(store, bus, readings, "evacuation")
    return _out(ent, duplicate=False)


def _out(e: Entity, duplicate: bool) -> dict[str, Any]:
    p = e.properties
    return {"id": e.id, "grid": p["grid"], "campaign": p["campaign"], "state": p["state"], "reason": p["reason"],
            "households_target": p["households_target"], "people_target": p["people_target"],
            "households_moved": p["households_moved"], "people_moved": p["people_moved"], "duplicate": duplicate}


def as_dict(e: Entity) -> dict[str, Any]:
    return _out(e, duplicate=False) | {"name": e.name, "pushed_at": e.properties.get("pushed_at")}
