"""The plugin's records and how they are stored.

Like law_enforcement and enterprise_park's inspections: every record is a twin **entity** tagged with
this plugin (kinds ``ss_agency``, ``ss_staff``, ``ss_contract``, ``ss_record``) whose properties hold
its current state, and every change is written with its **audit entry in the same transaction**
(``Store.upsert(rows, audit=AuditEntry(...))``). No plugin tables, no migration.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from functools import lru_cache
from pathlib import Path
from typing import Any

from core.api import AuditEntry, Entity, Store, load_yaml

PLUGIN = "safety_services"
AGENCY, STAFF, CONTRACT, RECORD = "ss_agency", "ss_staff", "ss_contract", "ss_record"
#: one writer at a time inside a process: sequence numbers and read-modify-write stay whole
LOCK = threading.RLock()
CHECKLIST_FILE = Path(__file__).with_name("checklists.yaml")
#: staff titles (执业资格) an agency's people may hold
TITLES = {"reg_engineer": ("注册安全工程师", "Registered safety engineer"),
          "assessor": ("安全评价师", "Safety assessor"),
          "trainer": ("安全培训教师", "Safety trainer"),
          "technician": ("技术人员", "Technician")}
#: qualification kinds (资质) an agency may hold
QUALIFICATIONS = {"assessment": ("安全评价机构资质", "Safety assessment licence"),
                  "consulting": ("安全生产技术服务", "Safety consulting"),
                  "training": ("安全培训机构", "Safety training provider")}


class ServiceError(ValueError):
    """Bad input or a step the workflow does not allow; ``field`` names the form field."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(f"field '{field}': {message}" if field else message)
        self.field = field
        self.detail = message


class Refused(PermissionError):
    """The signed-in account may not act on this (another agency's contract or record)."""


def parse_date(value: Any, field_name: str) -> dt.date:
    """``YYYY-MM-DD`` (or a date) → date; ServiceError naming the field otherwise."""
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise ServiceError(f"{value!r} is not a date (YYYY-MM-DD)", field_name) from None


@lru_cache(maxsize=1)
def services() -> dict[str, dict[str, Any]]:
    """Service types: key → {zh, en, items: [{key, zh, en}]} (checklists.yaml)."""
    return dict(load_yaml(CHECKLIST_FILE).data["services"])


def item_text(key: str, lang: str = "zh") -> str:
    for s in services().values():
        for it in s["items"]:
            if it["key"] == key:
                return it["en" if lang == "en" else "zh"]
    return key


@dataclass
class Agency:
    """A safety consultancy (中介机构) with its qualifications (资质: kind, number, expiry)."""

    id: str
    name: str
    name_en: str = ""
    uscc: str = ""
    phone: str = ""
    qualifications: list[dict[str, Any]] = field(default_factory=list)
    demo: bool = False

    def valid_on(self, day: dt.date) -> list[dict[str, Any]]:
        return [q for q in self.qualifications if dt.date.fromisoformat(q["expiry"]) >= day]


@dataclass
class Staff:
    """One of an agency's people, with title (注册安全工程师…) and certificate."""

    id: str
    name: str
    agency: str
    title: str
    cert_no: str = ""
    cert_expiry: str = ""
    active: bool = True
    demo: bool = False


@dataclass
class Contract:
    """A service contract between an agency and an enterprise, for some service types and a period.

    ``code_hash``/``code_salt``: the enterprise's sign-off code (only its hash), issued to the enterprise."""

    id: str
    agency: str
    enterprise: str
    enterprise_name: str
    services: list[str]
    start: str
    end: str
    state: str = "active"            # active | terminated
    code_hash: str = ""
    code_salt: str = ""
    demo: bool = False

    def active_on(self, day: dt.date) -> bool:
        return self.state == "active" and dt.date.fromisoformat(self.start) <= day <= dt.date.fromisoformat(self.end)


@dataclass
class Record:
    """A service record (服务记录): the check-list answered, findings with photos, the enterprise's sign-off."""

    id: str
    contract: str
    agency: str
    enterprise: str
    enterprise_name: str
    service: str
    date: str
    staff: list[str]
    items: list[dict[str, Any]]          # {key, result: ok|finding|na, note, level, photos}
    summary: str = ""
    state: str = "submitted"             # submitted | signed | rejected
    filed_by: str = ""
    signer: str = ""
    signed_on: str = ""
    sign_comment: str = ""
    attempts: int = 0
    demo: bool = False

    def findings(self) -> list[dict[str, Any]]:
        return [i for i in self.items if i.get("result") == "finding"]


_KIND = {Agency: AGENCY, Staff: STAFF, Contract: CONTRACT, Record: RECORD}


def _load(cls: type, e: Entity) -> Any:
    names = {f.name for f in fields(cls)}
    vals = {k: v for k, v in (e.properties or {}).items() if k in names}
    vals["id"] = e.id
    if "name" in names:
        vals["name"] = e.name
    if "name_en" in names:
        vals["name_en"] = e.name_en
    return cls(**vals)


def to_entity(obj: Any) -> Entity:
    """The entity row of an agency, staff member, contract or record."""
    props = asdict(obj)
    props.pop("id")
    name = props.pop("name", None) or getattr(obj, "enterprise_name", "") or obj.id
    name_en = props.pop("name_en", "")
    return Entity(id=obj.id, kind=_KIND[type(obj)], name=name, name_en=name_en, plugin=PLUGIN, properties=props)


def agencies(store: Store) -> list[Agency]:
    return sorted((_load(Agency, e) for e in store.entities(kind=AGENCY, plugin=PLUGIN)), key=lambda a: a.id)


def staff(store: Store, agency: str | None = None) -> list[Staff]:
    out = [_load(Staff, e) for e in store.entities(kind=STAFF, plugin=PLUGIN)]
    return sorted((s for s in out if agency is None or s.agency == agency), key=lambda s: s.id)


def contracts(store: Store, agency: str | None = None) -> list[Contract]:
    out = [_load(Contract, e) for e in store.entities(kind=CONTRACT, plugin=PLUGIN)]
    return sorted((c for c in out if agency is None or c.agency == agency), key=lambda c: c.id)


def records(store: Store, agency: str | None = None) -> list[Record]:
    out = [_load(Record, e) for e in store.entities(kind=RECORD, plugin=PLUGIN)]
    return sorted((r for r in out if agency is None or r.agency == agency), key=lambda r: (r.date, r.id))


def get(store: Store, cls: type, obj_id: str, field_name: str = "id") -> Any:
    """One agency/staff/contract/record by id; ServiceError naming the field when there is none."""
    e = store.entity(str(obj_id))
    if e is None or e.kind != _KIND[cls] or e.plugin != PLUGIN:
        raise ServiceError(f"no {_KIND[cls].removeprefix('ss_')} {obj_id!r}", field_name)
    return _load(cls, e)


def next_id(store: Store, cls: type, prefix: str) -> str:
    """The next free ``<prefix><n:05d>`` (call under LOCK)."""
    taken = {e.id for e in store.entities(kind=_KIND[cls], plugin=PLUGIN)}
    n = len(taken) + 1
    while f"{prefix}{n:05d}" in taken:
        n += 1
    return f"{prefix}{n:05d}"


def public(obj: Any) -> dict[str, Any]:
    """A record/contract as JSON for the API (never the sign-off code's hash)."""
    d = asdict(obj)
    d.pop("code_hash", None)
    d.pop("code_salt", None)
    return d


def save(store: Store, objs: Sequence[Any], actor: str, action: str, target: str, old: Any = None,
         new: Any = None) -> None:
    """Store ``objs`` and one audit entry in one transaction (all or nothing)."""
    store.upsert([to_entity(o) for o in objs],
                 audit=AuditEntry(actor=actor[:64], action=f"{PLUGIN}.{action}"[:64], target=target[:256],
                                  old=old, new=new))
