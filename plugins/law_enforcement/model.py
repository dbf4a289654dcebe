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
from dataclasses import dataclass, field
from typing import Any

from core.api import RecordError, RecordKinds, Store, parse_iso_date

PLUGIN = "law_enforcement"
UNIT, INSPECTOR, TASK, RECORD = "le_unit", "le_inspector", "le_task", "le_record"
#: one writer at a time inside a process: read-modify-write of a task and its record stays whole
LOCK = threading.RLock()


class LawError(RecordError):
    """Bad input or a step the workflow does not allow; ``field`` names the form field."""


def parse_date(value: Any, field: str) -> dt.date:
    """``YYYY-MM-DD`` (or a date) → date; LawError naming the field otherwise."""
    return parse_iso_date(value, field, LawError)


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


def _task_name(obj: Any) -> str | None:
    return f"{obj.enterprise_name} {obj.year}-{obj.month:02d}" if isinstance(obj, Task) else None


#: the records as twin entities: a unit's lon/lat is its Point, a task is named ``<enterprise> <year>-<month>``,
#: a record by its enterprise
KINDS = RecordKinds(PLUGIN, {Unit: UNIT, Inspector: INSPECTOR, Task: TASK, Record: RECORD}, LawError, "le_",
                    ("enterprise_name",), _task_name)
#: the entity row of a unit, inspector, task or record; one by id (LawError naming the field when there is
#: none); records stored with one audit entry in one transaction (all or nothing)
to_entity, get, save = KINDS.to_entity, KINDS.get, KINDS.save


def units(store: Store) -> list[Unit]:
    return KINDS.load_all(store, Unit)


def inspectors(store: Store) -> list[Inspector]:
    return KINDS.load_all(store, Inspector)


def tasks(store: Store, year: int | None = None) -> list[Task]:
    return [t for t in KINDS.load_all(store, Task) if year is None or t.year == year]


def records(store: Store, year: int | None = None) -> list[Record]:
    return [r for r in KINDS.load_all(store, Record) if year is None or r.year == year]
