"""The workflows: agencies and staff, contracts (with the enterprise's sign-off code), service records on
the standard check-list, and the enterprise's sign-off, after which findings join the enterprise's
hazard loop through the bus.

Every step validates all of its input first (a :class:`ServiceError` names the field) and then stores
its rows with one audit entry in one transaction, so nothing is ever half stored. An agency account
acts only on its own contracts and records (:class:`Refused`).

**Sign-off.** Each contract has a sign-off code (8 characters) that the bureau's manager issues with the
contract **to the enterprise**, never to the agency; only its salted SHA-256 is stored. After a service
the agency files its record (``submitted``); the enterprise's safety officer reads it on the agency's
page on site and enters the code with his name and decision: ``accept`` → ``signed`` (the findings go to
the enterprise's hazard loop) or ``reject`` with a reason → ``rejected`` (the agency files a corrected
record). A wrong code is counted and audited; after ``max_signoff_attempts`` the record is locked until
the manager issues a new code.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from pathlib import Path
from typing import Any

from core.api import CheckedPhoto, HazardReported, PhotoError, Store, check_photo

from .model import (LOCK, PLUGIN, QUALIFICATIONS, TITLES, Agency, Contract, Record, Refused, ServiceError, Staff,
                    agencies, get, next_id, parse_date, save, services)
from .photos import PHOTOS

#: which qualification (资质) a service type needs
NEEDS = {"assessment": "assessment", "hazard_check": "consulting", "emergency_plan": "consulting",
         "training": "training"}
RESULTS = ("ok", "finding", "na")
LEVELS = {"general": ("一般隐患", "General"), "major": ("重大隐患", "Major")}
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_KEY_RE = re.compile(r"^[a-z][a-z0-9_-]{1,40}$")
MAX_CONTRACT_DAYS = 3 * 366


def _text(v: Any, field: str, max_len: int, required: bool = True, min_len: int = 1) -> str:
    s = str(v if v is not None else "").strip()
    if required and not s:
        raise ServiceError("required", field)
    if s and len(s) < min_len:
        raise ServiceError(f"at least {min_len} characters", field)
    if len(s) > max_len:
        raise ServiceError(f"at most {max_len} characters (got {len(s)})", field)
    return s


def _list(v: Any) -> list[str]:
    items = [v] if isinstance(v, str) else list(v or [])
    return [x.strip() for item in items for x in str(item).replace("，", ",").split(",") if x.strip()]


# -- agencies and staff -------------------------------------------------------------------------------------
def add_agency(store: Store, body: dict[str, Any], actor: str) -> Agency:
    """A new agency: ``key`` (its id is ``ss.agency.<key>``), name, qualifications [{kind, no, expiry}]."""
    key = _text(body.get("key"), "key", 40)
    if not _KEY_RE.match(key):
        raise ServiceError("lower-case letters, digits, _ or -, starting with a letter", "key")
    quals = []
    for i, q in enumerate(body.get("qualifications") or []):
        where = f"qualifications[{i}]"
        if not isinstance(q, dict):
            raise ServiceError("must be an object", where)
        kind = str(q.get("kind") or "")
        if kind not in QUALIFICATIONS:
            raise ServiceError(f"{kind!r} is not one of {', '.join(QUALIFICATIONS)}", f"{where}.kind")
        quals.append({"kind": kind, "no": _text(q.get("no"), f"{where}.no", 60),
                      "expiry": parse_date(q.get("expiry"), f"{where}.expiry").isoformat()})
    if not quals:
        raise ServiceError("an agency needs at least one qualification (资质)", "qualifications")
    a = Agency(id=f"ss.agency.{key}", name=_text(body.get("name"), "name", 80),
               name_en=_text(body.get("name_en"), "name_en", 120, False), uscc=_text(body.get("uscc"), "uscc", 30, False),
               phone=_text(body.get("phone"), "phone", 40, False), qualifications=quals, demo=bool(body.get("demo")))
    with LOCK:
        if store.entity(a.id) is not None:
            raise ServiceError(f"{a.id} exists already", "key")
        save(store, [a], actor, "agency.add", f"agency:{a.id}", None, {"name": a.name, "qualifications": quals})
    return a


def add_staff(store: Store, agency_id: str, body: dict[str, Any], actor: str) -> Staff:
    """A person of an agency with title (注册安全工程师…) and certificate."""
    with LOCK:
        a: Agency = get(store, Agency, agency_id, "agency")
        title = str(body.get("title") or "")
        if title not in TITLES:
            raise ServiceError(f"{title!r} is not one of {', '.join(TITLES)}", "title")
        expiry = body.get("cert_expiry")
        s = Staff(id=next_id(store, Staff, f"ss.staff.{a.id.removeprefix('ss.agency.')}."),
                  name=_text(body.get("name"), "name", 40), agency=a.id, title=title,
                  cert_no=_text(body.get("cert_no"), "cert_no", 60, title == "reg_engineer"),
                  cert_expiry=parse_date(expiry, "cert_expiry").isoformat() if expiry else "",
                  demo=bool(body.get("demo")))
        save(store, [s], actor, "staff.add", f"staff:{s.id}", None, {"agency": a.id, "title": title})
    return s


# -- contracts ------------------------------------------------------------------------------------------------
def _code_hash(code: str, salt: str) -> str:
    return hashlib.sha256((salt + code).encode()).hexdigest()


def new_code() -> tuple[str, str, str]:
    """A fresh sign-off code, its salt and hash."""
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))
    salt = secrets.token_hex(8)
    return code, salt, _code_hash(code, salt)


def enterprise(store: Store, settings: Any, enterprise_id: str, field: str = "enterprise") -> Any:
    """An enterprise entity (of ``enterprise_kinds``, any plugin) read through the store."""
    e = store.entity(str(enterprise_id or ""))
    if e is None or e.kind not in settings.enterprise_kinds:
        raise ServiceError(f"no enterprise {enterprise_id!r}", field)
    return e


def add_contract(store: Store, settings: Any, body: dict[str, Any], actor: str,
                 today: dt.date | None = None) -> tuple[Contract, str]:
    """A service contract; returns it with the enterprise's sign-off code (shown once, only its hash kept)."""
    today = today or dt.date.today()
    with LOCK:
        a: Agency = get(store, Agency, str(body.get("agency") or ""), "agency")
        ent = enterprise(store, settings, str(body.get("enterprise") or ""))
        kinds = _list(body.get("services"))
        if not kinds:
            raise ServiceError("name at least one service", "services")
        for k in kinds:
            if k not in services():
                raise ServiceError(f"{k!r} is not one of {', '.join(services())}", "services")
        start = parse_date(body.get("start") or today.isoformat(), "start")
        end = parse_date(body.get("end"), "end")
        if not start < end <= start + dt.timedelta(days=MAX_CONTRACT_DAYS):
            raise ServiceError(f"{end} must be after the start ({start}) and within three years", "end")
        valid = {q["kind"] for q in a.valid_on(start)}
        for k in kinds:
            if NEEDS[k] not in valid:
                raise ServiceError(f"{a.name} holds no valid {QUALIFICATIONS[NEEDS[k]][0]} on {start} for "
                                   f"{services()[k]['zh']}", "services")
        code, salt, digest = new_code()
        c = Contract(id=next_id(store, Contract, "ss.con."), agency=a.id, enterprise=ent.id, enterprise_name=ent.name,
                     services=list(dict.fromkeys(kinds)), start=start.isoformat(), end=end.isoformat(),
                     code_hash=digest, code_salt=salt, demo=bool(body.get("demo")))
        save(store, [c], actor, "contract.add", f"contract:{c.id}", None,
             {"agency": a.id, "enterprise": ent.id, "services": c.services, "start": c.start, "end": c.end})
    return c, code


def reissue_code(store: Store, contract_id: str, actor: str) -> str:
    """A new sign-off code for a contract; records locked by wrong codes are open for sign-off again."""
    from .model import records
    with LOCK:
        c: Contract = get(store, Contract, contract_id, "contract")
        code, c.code_salt, c.code_hash = new_code()
        rows: list[Any] = [c]
        for r in records(store, c.agency):
            if r.contract == c.id and r.state == "submitted" and r.attempts:
                r.attempts = 0
                rows.append(r)
        save(store, rows, actor, "contract.code", f"contract:{c.id}", None, {"reopened": len(rows) - 1})
    return code


# -- records --------------------------------------------------------------------------------------------------
def _own(contract: Contract, agency_scope: str | None) -> None:
    if agency_scope is not None and contract.agency != agency_scope:
        raise Refused(f"contract {contract.id} is not one of your agency's contracts")


def _items(service: str, raw: Any) -> list[dict[str, Any]]:
    if not isinstance(raw, dict):
        raise ServiceError("must be an object: item key → {result, note, level}", "items")
    known = [it["key"] for it in services()[service]["items"]]
    extra = sorted(set(raw) - set(known))
    if extra:
        raise ServiceError(f"{extra[0]!r} is not on the {services()[service]['zh']} check-list", f"items.{extra[0]}")
    out = []
    for key in known:
        where = f"items.{key}"
        v = raw.get(key)
        if not isinstance(v, dict):
            raise ServiceError("not answered (ok, finding or na)", f"{where}.result")
        result = str(v.get("result") or "")
        if result not in RESULTS:
            raise ServiceError(f"{result!r} is not one of {', '.join(RESULTS)}", f"{where}.result")
        item: dict[str, Any] = {"key": key, "result": result,
                                "note": _text(v.get("note"), f"{where}.note", 500, result == "finding",
                                              4 if result == "finding" else 1), "photos": []}
        if result == "finding":
            level = str(v.get("level") or "general")
            if level not in LEVELS:
                raise ServiceError(f"{level!r} is not one of {', '.join(LEVELS)}", f"{where}.level")
            item["level"] = level
            # the finding in English too, when the agency writes one (shown on English screens; without
            # it they show the note as written, marked as the original)
            note_en = _text(v.get("note_en"), f"{where}.note_en", 500, required=False)
            if note_en:
                item["note_en"] = note_en
        out.append(item)
    return out


def file_record(store: Store, settings: Any, body: dict[str, Any], actor: str, agency_scope: str | None,
                photo_root: Path | None, uploads: dict[str, list[bytes]] | None = None,
                today: dt.date | None = None) -> Record:
    """File a service record on the contract's check-list; photos (``uploads``: item key → files) go with
    findings. ``agency_scope``: the signed-in agency (None for a manager)."""
    today = today or dt.date.today()
    uploads = uploads or {}
    with LOCK:
        c: Contract = get(store, Contract, str(body.get("contract") or ""), "contract")
        _own(c, agency_scope)
        service = str(body.get("service") or "")
        if service not in c.services:
            raise ServiceError(f"{service!r} is not a service of contract {c.id} ({', '.join(c.services)})", "service")
        day = parse_date(body.get("date") or today.isoformat(), "date")
        if day > today:
            raise ServiceError(f"{day} is in the future", "date")
        if not c.active_on(day):
            raise ServiceError(f"contract {c.id} is not in force on {day} ({c.start}–{c.end}, {c.state})", "date")
        from .model import staff as staff_of
        people = {s.id: s for s in staff_of(store, c.agency) if s.active}
        team = _list(body.get("staff"))
        if not team:
            raise ServiceError("name the agency's people who did the service", "staff")
        for s in team:
            if s not in people:
                raise ServiceError(f"{s!r} is not an active person of {c.agency}", "staff")
        items = _items(service, body.get("items"))
        by_key = {i["key"]: i for i in items}
        checked: list[tuple[dict[str, Any], CheckedPhoto]] = []
        if uploads and photo_root is None:
            raise ServiceError("photos cannot be stored here", "photos")
        for key, files in uploads.items():
            if key not in by_key:
                raise ServiceError("a photo for an item not on the check-list", f"photos.{key}")
            if by_key[key]["result"] != "finding":
                raise ServiceError("photos go with findings only", f"photos.{key}")
            if len(files) > 4:
                raise ServiceError("at most 4 photos per finding", f"photos.{key}")
            for data in files:
                try:
                    photo = check_photo(data, settings.photo_max_bytes, settings.photo_max_pixels)
                    checked.append((by_key[key], photo))
                except PhotoError as exc:
                    raise ServiceError(str(exc), f"photos.{key}") from None
        summary = _text(body.get("summary"), "summary", 1000, False)
        rid = next_id(store, Record, "ss.rec.")
        written = []
        try:
            for item, photo in checked:
                name = PHOTOS.save(photo_root, rid, photo)  # type: ignore[arg-type]
                written.append(name)
                item["photos"].append(PHOTOS.url(rid, name))
            rec = Record(id=rid, contract=c.id, agency=c.agency, enterprise=c.enterprise,
                         enterprise_name=c.enterprise_name, service=service, date=day.isoformat(), staff=team,
                         items=items, summary=summary, filed_by=actor, demo=bool(body.get("demo")))
            save(store, [rec], actor, "record.file", f"record:{rid}", None,
                 {"contract": c.id, "service": service, "findings": len(rec.findings()), "photos": len(written)})
        except BaseException:
            for name in written:
                PHOTOS.remove(photo_root, rid, name)  # type: ignore[arg-type]
            raise
        return rec


def sign_off(store: Store, settings: Any, bus: Any, record_id: str, body: dict[str, Any], actor: str,
             agency_scope: str | None, today: dt.date | None = None) -> Record:
    """The enterprise's sign-off with its code: ``accept`` (findings → hazard loop) or ``reject`` (reason)."""
    today = today or dt.date.today()
    with LOCK:
        r: Record = get(store, Record, record_id, "record")
        c: Contract = get(store, Contract, r.contract, "contract")
        _own(c, agency_scope)
        if r.state != "submitted":
            raise ServiceError(f"record {r.id} is {r.state} already", "record")
        if r.attempts >= settings.max_signoff_attempts:
            raise ServiceError(f"locked after {r.attempts} wrong codes: the bureau must issue the enterprise a new code",
                               "code")
        decision = str(body.get("decision") or "")
        if decision not in ("accept", "reject"):
            raise ServiceError(f"{decision!r} must be 'accept' or 'reject'", "decision")
        signer = _text(body.get("signer"), "signer", 40)
        comment = _text(body.get("comment"), "comment", 500, decision == "reject")
        code = re.sub(r"[\s-]", "", str(body.get("code") or "")).upper()
        if not code:
            raise ServiceError("required", "code")
        if not hmac.compare_digest(_code_hash(code, c.code_salt), c.code_hash):
            r.attempts += 1
            save(store, [r], actor, "signoff.wrong_code", f"record:{r.id}", None,
                 {"attempts": r.attempts, "signer": signer})
            raise ServiceError(f"wrong sign-off code ({r.attempts} of {settings.max_signoff_attempts} tries)", "code")
        r.state = "signed" if decision == "accept" else "rejected"
        r.signer, r.signed_on, r.sign_comment = signer, today.isoformat(), comment
        save(store, [r], actor, f"signoff.{decision}", f"record:{r.id}", {"state": "submitted"},
             {"state": r.state, "signer": signer, "comment": comment})
    if r.state == "signed":
        publish_findings(store, bus, r)
    return r


def publish_findings(store: Store, bus: Any, r: Record) -> int:
    """Each finding of a signed record → ``HazardReported`` on the bus (report id ``<record>.<item>``, so a
    re-delivery opens nothing twice); the enterprise's plugin takes it into its hazard loop."""
    if bus is None:
        return 0
    names = {a.id: a.name for a in agencies(store)}
    svc = services()[r.service]
    from .model import item_text
    for f in r.findings():
        bus.publish(HazardReported(
            plugin=PLUGIN, report_id=f"{r.id}.{f['key']}", entity_id=r.enterprise, category=r.service,
            level=f.get("level", "general"), title=f"{svc['zh']}发现:{f['note']}"[:80], description=f"{item_text(f['key'])}:{f['note']}",
            photos=tuple(f.get("photos") or ()), reporter=names.get(r.agency, r.agency)))
    return len(r.findings())
