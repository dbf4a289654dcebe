"""The plugin's records and how they are stored.

Like law_enforcement and enterprise_park's inspections: every record is a twin **entity** tagged with
this plugin (kinds ``ss_agency``, ``ss_staff``, ``ss_contract``, ``ss_record``) whose properties hold
its current state, and every change is written with its **audit entry in the same transaction**
(``Store.upsert(rows, audit=AuditEntry(...))``). No plugin tables, no migration.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from core.api import RecordError, RecordKinds, Store, load_yaml, parse_iso_date

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


class ServiceError(RecordError):
    """Bad input or a step the workflow does not allow; ``field`` names the form field."""


class Refused(PermissionError):
    """The signed-in account may not act on this (another agency's contract or record)."""


def parse_date(value: Any, field_name: str) -> dt.date:
    """``YYYY-MM-DD`` (or a date) → date; ServiceError naming the field otherwise."""
    return parse_iso_date(value, field_name, ServiceError)


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


#: the records as twin entities; a contract or record is named by its enterprise
KINDS = RecordKinds(PLUGIN, {Agency: AGENCY, Staff: STAFF, Contract: CONTRACT, Record: RECORD}, ServiceError, "ss_",
                    ("enterprise_name",))
#: the entity row of an agency, staff member, contract or record; one by id (ServiceError naming the field when
#: there is none); records stored with one audit entry in one transaction (all or nothing)
to_entity, get, save = KINDS.to_entity, KINDS.get, KINDS.save


def agencies(store: Store) -> list[Agency]:
    return sorted(KINDS.load_all(store, Agency), key=lambda a: a.id)


def staff(store: Store, agency: str | None = None) -> list[Staff]:
    return sorted((s for s in KINDS.load_all(store, Staff) if agency is None or s.agency == agency),
                  key=lambda s: s.id)


def contracts(store: Store, agency: str | None = None) -> list[Contract]:
    return sorted((c for c in KINDS.load_all(store, Contract) if agency is None or c.agency == agency),
                  key=lambda c: c.id)


def records(store: Store, agency: str | None = None) -> list[Record]:
    return sorted((r for r in KINDS.load_all(store, Record) if agency is None or r.agency == agency),
                  key=lambda r: (r.date, r.id))


def next_id(store: Store, cls: type, prefix: str) -> str:
    """The next free ``<prefix><n:05d>`` (call under LOCK)."""
    taken = {e.id for e in store.entities(kind=KINDS.kinds[cls], plugin=PLUGIN)}
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
