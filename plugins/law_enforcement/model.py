"""The plugin's records and how they are stored.

Storage follows enterprise_park's inspections: every record is a twin **entity** tagged with this
plugin (kinds ``le_unit``, ``le_inspector``, ``le_task``, ``le_record``) whose properties hold the
current state, and every change is written with its **audit entry in the same transaction**
(``Store.upsert(rows, audit=AuditEntry(...))``): the entity is the current view, the audit log the
history. No plugin tables, no migration. Ids are stable (derived from year, enterprise and sequence),
so the export is the same bytes for the same records.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from core.api import AuditEntry, Entity, Store

PLUGIN = "law_enforcement"
UNIT, INSPECTOR, TASK, RECORD = "le_unit", "le_inspector", "le_task", "le_record"
#: one writer at a time inside a process: read-modify-write of a task and its record stays whole
LOCK = threading.RLock()


class LawError(ValueError):
    """Bad input or a step the workflow does not allow; ``field`` names the form field."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(f"field '{field}': {message}" if field else message)
        self.field = field
        self.detail = message


def parse_date(value: Any, field: str) -> dt.date:
    """``YYYY-MM-DD`` (or a date) → date; LawError naming the field otherwise."""
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise LawError(f"{value!r} is not a date (YYYY-MM-DD)", field) from None


def month_end(year: int, month: int) -> dt.date:
    """The last day of a month."""
    nxt = dt.date(year + (month == 12), month % 12 + 1, 1)
    return nxt - dt.timedelta(days=1)


@dataclass
class Unit:
    """An enforcement unit: the district brigade (区执法大队) or a town's office (街道/镇应急管理所)."""

    id: str
    name: str
    name_en: str
    town: str
    district: bool = False
    lon: float | None = None
    lat: float | None = None
    equipment: dict[str, int] = field(default_factory=dict)
    demo: bool = False


@dataclass
class Inspector:
    """An enforcement officer with an enforcement certificate (执法证)."""

    id: str
    name: str
    unit: str
    cert_no: str = ""
    cert_expiry: str = ""          # YYYY-MM-DD; "" = no certificate
    capacity: int | None = None    # checks he can join a month (None: the settings' default)
    active: bool = True
    demo: bool = False

    def certified_on(self, day: dt.date) -> bool:
        """Holds a valid certificate on ``day``."""
        return bool(self.cert_no and self.cert_expiry) and dt.date.fromisoformat(self.cert_expiry) >= day


@dataclass
class Task:
    """One scheduled check: a plan task, one a manager added, or a follow-up (复查) of a rectification order."""

    id: str
    year: int
    enterprise: str
    enterprise_name: str
    town: str
    grade: str
    kind: str                      # plan | added | follow_up
    month: int
    due: str                       # YYYY-MM-DD
    inspectors: list[str] = field(default_factory=list)
    state: str = "planned"         # planned | done | cancelled
    record: str | None = None      # the record filed for it (plan/added) or the record it follows up
    result: str | None = None      # follow-up: rectified | not_rectified
    done_on: str | None = None
    note: str = ""
    adjusted: bool = False
    demo: bool = False

    def due_date(self) -> dt.date:
        return dt.date.fromisoformat(self.due)

    def overdue_days(self, today: dt.date, grace_days: float = 0.0) -> float:
        """Days past the due date (plus grace) while still planned; ≤ 0 otherwise."""
        if self.state != "planned":
            return -1.0
        return (today - self.due_date()).days - grace_days


@dataclass
class Record:
    """An inspection record (执法检查记录): findings, legal basis, measures, deadlines, its follow-ups."""

    id: str
    task: str
    year: int
    enterprise: str
    enterprise_name: str
    town: str
    date: str
    inspectors: list[str]
    findings: list[dict[str, Any]] = field(default_factory=list)
    measures: list[dict[str, Any]] = field(default_factory=list)
    state: str = "closed"          # rectifying | closed
    follow_ups: list[str] = field(default_factory=list)
    closed_on: str | None = None
    note: str = ""
    demo: bool = False

    def fine_total(self) -> int:
        return sum(int(m.get("amount") or 0) for m in self.measures if m.get("kind") == "fine")

    def has_order(self) -> bool:
        return any(m.get("kind") == "rectify_order" for m in self.measures)


_KIND = {Unit: UNIT, Inspector: INSPECTOR, Task: TASK, Record: RECORD}


def _load(cls: type, e: Entity) -> Any:
    p = dict(e.properties or {})
    names = {f.name for f in fields(cls)}
    vals = {k: v for k, v in p.items() if k in names}
    vals["id"] = e.id
    if "name" in names:
        vals["name"] = e.name
    if "name_en" in names:
        vals["name_en"] = e.name_en
    if cls is Unit and e.geometry and e.geometry.get("type") == "Point":
        vals["lon"], vals["lat"] = e.geometry["coordinates"][:2]
    return cls(**vals)


def to_entity(obj: Any) -> Entity:
    """The entity row of a unit, inspector, task or record."""
    props = asdict(obj)
    props.pop("id")
    name = props.pop("name", None) or getattr(obj, "enterprise_name", "") or obj.id
    name_en = props.pop("name_en", "")
    geometry = None
    if isinstance(obj, Unit):
        lon, lat = props.pop("lon"), props.pop("lat")
        if lon is not None and lat is not None:
            geometry = {"type": "Point", "coordinates": [lon, lat]}
    if isinstance(obj, Task):
        name = f"{obj.enterprise_name} {obj.year}-{obj.month:02d}"
    return Entity(id=obj.id, kind=_KIND[type(obj)], name=name, name_en=name_en, plugin=PLUGIN,
                  geometry=geometry, properties=props)


def units(store: Store) -> list[Unit]:
    return [_load(Unit, e) for e in store.entities(kind=UNIT, plugin=PLUGIN)]


def inspectors(store: Store) -> list[Inspector]:
    return [_load(Inspector, e) for e in store.entities(kind=INSPECTOR, plugin=PLUGIN)]


def tasks(store: Store, year: int | None = None) -> list[Task]:
    out = [_load(Task, e) for e in store.entities(kind=TASK, plugin=PLUGIN)]
    return [t for t in out if year is None or t.year == year]


def records(store: Store, year: int | None = None) -> list[Record]:
    out = [_load(Record, e) for e in store.entities(kind=RECORD, plugin=PLUGIN)]
    return [r for r in out if year is None or r.year == year]


def get(store: Store, cls: type, obj_id: str, field_name: str = "id") -> Any:
    """One unit/inspector/task/record by id; LawError naming the field when there is none."""
    e = store.entity(str(obj_id))
    if e is None or e.kind != _KIND[cls] or e.plugin != PLUGIN:
        raise LawError(f"no {_KIND[cls].removeprefix('le_')} {obj_id!r}", field_name)
    return _load(cls, e)


def save(store: Store, objs: Sequence[Any], actor: str, action: str, target: str, old: Any = None,
         new: Any = None) -> None:
    """Store ``objs`` and one audit entry in one transaction (all or nothing)."""
    store.upsert([to_entity(o) for o in objs],
                 audit=AuditEntry(actor=actor[:64], action=f"{PLUGIN}.{action}"[:64], target=target[:256],
                                  old=old, new=new))
