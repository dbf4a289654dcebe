"""Inspection records (执法检查记录) and their follow-ups (复查) until the rectification is closed.

Filing a record completes its task. A record has findings (type, description, legal basis, level) and
measures: ``rectify_now`` (当场整改), ``rectify_order`` (责令限期整改, with a deadline), ``fine`` (罚款,
yuan, capped by the penalty article of the finding's type) and ``suspend`` (责令停产停业整顿). A record
with a rectification order stays ``rectifying`` and gets a follow-up task due at the (latest) deadline,
with the same inspectors; the follow-up's result is ``rectified`` (the record closes) or
``not_rectified`` (a new deadline and a new follow-up, optionally a fine). Everything is validated
before anything is stored, then stored in one transaction with its audit entry.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from core.api import Store, load_yaml

from .model import LOCK, LawError, Record, Task, get, parse_date, save
from .plans import check_team

CATALOG_FILE = Path(__file__).with_name("legal_basis.yaml")
MEASURES = {"rectify_now": ("当场整改", "Rectified on the spot"),
            "rectify_order": ("责令限期整改", "Rectification order"),
            "fine": ("罚款", "Fine"), "suspend": ("责令停产停业整顿", "Suspension order")}
LEVELS = {"general": ("一般隐患", "General"), "major": ("重大隐患", "Major")}
_BASIS = re.compile(r"^《[^》]{2,60}》.{0,40}第[一二三四五六七八九十百零〇0-9]+条")
MAX_DEADLINE_DAYS = 180


@lru_cache(maxsize=1)
def catalog() -> dict[str, dict[str, Any]]:
    """Finding types: key → {zh, en, basis, penalty, fine_max} (legal_basis.yaml)."""
    doc = load_yaml(CATALOG_FILE)
    return dict(doc.data["types"])


def record_id(task_id: str) -> str:
    return "le.rec." + task_id.removeprefix("le.task.")


def _text(v: Any, field: str, max_len: int, required: bool = True) -> str:
    s = str(v if v is not None else "").strip()
    if required and not s:
        raise LawError("required", field)
    if len(s) > max_len:
        raise LawError(f"at most {max_len} characters (got {len(s)})", field)
    return s


def basis_ok(text: str) -> bool:
    """A legal basis names a law in 《》 and an article (第…条)."""
    return bool(_BASIS.match(text))


def _findings(raw: Any) -> list[dict[str, Any]]:
    if raw in (None, ""):
        return []
    if not isinstance(raw, list):
        raise LawError("must be a list", "findings")
    cat = catalog()
    out = []
    for i, f in enumerate(raw):
        where = f"findings[{i}]"
        if not isinstance(f, dict):
            raise LawError("must be an object", where)
        kind = str(f.get("type") or "").strip()
        if kind not in cat:
            raise LawError(f"unknown type {kind!r} (known: {', '.join(cat)})", f"{where}.type")
        basis = _text(f.get("legal_basis") or cat[kind]["basis"], f"{where}.legal_basis", 200)
        if not basis_ok(basis):
            raise LawError(f"{basis!r} must name a law in 《》 and an article, e.g. {cat[kind]['basis']}",
                           f"{where}.legal_basis")
        level = str(f.get("level") or "general")
        if level not in LEVELS:
            raise LawError(f"{level!r} is not one of {', '.join(LEVELS)}", f"{where}.level")
        out.append({"type": kind, "description": _text(f.get("description"), f"{where}.description", 500),
                    "legal_basis": basis, "level": level})
    return out


def _measures(raw: Any, findings: list[dict[str, Any]], day: dt.date, prefix: str = "measures"
              ) -> list[dict[str, Any]]:
    if raw in (None, ""):
        raw = []
    if not isinstance(raw, list):
        raise LawError("must be a list", prefix)
    cat = catalog()
    out = []
    for i, m in enumerate(raw):
        where = f"{prefix}[{i}]"
        if not isinstance(m, dict):
            raise LawError("must be an object", where)
        kind = str(m.get("kind") or "").strip()
        if kind not in MEASURES:
            raise LawError(f"unknown measure {kind!r} (known: {', '.join(MEASURES)})", f"{where}.kind")
        item: dict[str, Any] = {"kind": kind}
        if kind == "rectify_order":
            d = parse_date(m.get("deadline"), f"{where}.deadline")
            if not day < d <= day + dt.timedelta(days=MAX_DEADLINE_DAYS):
                raise LawError(f"{d} must be after the inspection ({day}) and within {MAX_DEADLINE_DAYS} days",
                               f"{where}.deadline")
            item["deadline"] = d.isoformat()
        if kind == "fine":
            try:
                amount = int(str(m.get("amount")).strip())
            except (TypeError, ValueError):
                raise LawError(f"{m.get('amount')!r} is not a whole number of yuan", f"{where}.amount") from None
            if amount <= 0:
                raise LawError("a fine must be more than 0 yuan", f"{where}.amount")
            try:
                fi = int(m.get("finding", 0))
                finding = findings[fi]
            except (TypeError, ValueError, IndexError):
                raise LawError(f"names no finding of this record (0–{len(findings) - 1})", f"{where}.finding") from None
            rule = cat[finding["type"]]
            if amount > int(rule["fine_max"]):
                raise LawError(f"{amount} yuan exceeds the maximum of {rule['fine_max']} yuan under {rule['penalty']}",
                               f"{where}.amount")
            item.update(amount=amount, finding=fi, basis=str(m.get("basis") or rule["penalty"]).strip())
            if not basis_ok(item["basis"]):
                raise LawError(f"{item['basis']!r} must name a law in 《》 and an article", f"{where}.basis")
        out.append(item)
    return out


def file_record(store: Store, settings: Any, tid: str, body: dict[str, Any], actor: str,
                today: dt.date | None = None) -> Record:
    """File the record of a planned check (plan or added task); the task is done, a follow-up is scheduled."""
    today = today or dt.date.today()
    with LOCK:
        task: Task = get(store, Task, tid, "task")
        if task.kind == "follow_up":
            raise LawError("a follow-up takes a follow-up result, not a new record", "task")
        if task.state != "planned":
            raise LawError(f"task {tid} is {task.state}", "task")
        day = parse_date(body.get("date") or today.isoformat(), "date")
        if day > today:
            raise LawError(f"{day} is in the future", "date")
        if day.year != task.year:
            raise LawError(f"{day} is not in the plan year {task.year}", "date")
        team = body.get("inspectors") or task.inspectors
        team = [team] if isinstance(team, str) else list(team)
        team = check_team(store, settings, team, day.year, day.month, exclude=task.id, on=day)
        findings = _findings(body.get("findings"))
        measures = _measures(body.get("measures"), findings, day)
        if findings and not measures:
            raise LawError("findings need at least one measure (e.g. rectify_now)", "measures")
        if measures and not findings:
            raise LawError("measures need a finding they answer", "findings")
        orders = [m for m in measures if m["kind"] == "rectify_order"]
        rec = Record(id=record_id(task.id), task=task.id, year=task.year, enterprise=task.enterprise,
                     enterprise_name=task.enterprise_name, town=task.town, date=day.isoformat(), inspectors=team,
                     findings=findings, measures=measures, state="rectifying" if orders else "closed",
                     closed_on=None if orders else day.isoformat(), note=_text(body.get("note"), "note", 1000, False),
                     demo=bool(body.get("demo")))
        rows: list[Any] = [rec]
        if orders:
            deadline = max(dt.date.fromisoformat(m["deadline"]) for m in orders)
            rows.append(_follow_up(rec, task, deadline, team, 1))
        task.state, task.done_on, task.record = "done", day.isoformat(), rec.id
        rows.append(task)
        save(store, rows, actor, "record.file", f"record:{rec.id}", {"task": "planned"},
             {"findings": len(findings), "measures": [m["kind"] for m in measures], "state": rec.state})
        return rec


def _follow_up(rec: Record, task: Task, deadline: dt.date, team: list[str], n: int) -> Task:
    fid = f"le.fu.{rec.id.removeprefix('le.rec.')}.{n}"
    rec.follow_ups.append(fid)
    return Task(id=fid, year=deadline.year, enterprise=rec.enterprise, enterprise_name=rec.enterprise_name,
                town=rec.town, grade=task.grade, kind="follow_up", month=deadline.month, due=deadline.isoformat(),
                inspectors=list(team), record=rec.id, demo=rec.demo)


def follow_up(store: Store, settings: Any, tid: str, body: dict[str, Any], actor: str,
              today: dt.date | None = None) -> Record:
    """Record a follow-up check: ``rectified`` closes the record, ``not_rectified`` sets a new deadline."""
    today = today or dt.date.today()
    with LOCK:
        task: Task = get(store, Task, tid, "task")
        if task.kind != "follow_up":
            raise LawError("not a follow-up task; file a record instead", "task")
        if task.state != "planned":
            raise LawError(f"task {tid} is {task.state}", "task")
        rec: Record = get(store, Record, task.record or "", "task")
        result = str(body.get("result") or "").strip()
        if result not in ("rectified", "not_rectified"):
            raise LawError(f"{result!r} must be 'rectified' or 'not_rectified'", "result")
        day = parse_date(body.get("date") or today.isoformat(), "date")
        if day > today:
            raise LawError(f"{day} is in the future", "date")
        if day < dt.date.fromisoformat(rec.date):
            raise LawError(f"{day} is before the inspection ({rec.date})", "date")
        team = body.get("inspectors") or task.inspectors
        team = [team] if isinstance(team, str) else list(team)
        team = check_team(store, settings, team, day.year, day.month, exclude=task.id, on=day)
        note = _text(body.get("note"), "note", 1000, False)
        rows: list[Any] = []
        extra = _measures(body.get("measures"), rec.findings, day) if result == "not_rectified" else []
        if any(m["kind"] == "rectify_order" for m in extra):
            raise LawError("give the new deadline as 'deadline', not as a rectify_order", "measures")
        if result == "not_rectified":
            deadline = parse_date(body.get("deadline"), "deadline")
            if not day < deadline <= day + dt.timedelta(days=MAX_DEADLINE_DAYS):
                raise LawError(f"{deadline} must be after the follow-up ({day}) and within {MAX_DEADLINE_DAYS} days",
                               "deadline")
            rec.measures.extend(extra + [{"kind": "rectify_order", "deadline": deadline.isoformat()}])
            rows.append(_follow_up(rec, task, deadline, team, len(rec.follow_ups) + 1))
        else:
            rec.state, rec.closed_on = "closed", day.isoformat()
        task.state, task.done_on, task.result, task.note, task.inspectors = "done", day.isoformat(), result, note, team
        rows += [rec, task]
        save(store, rows, actor, f"follow_up.{result}", f"record:{rec.id}", {"state": "rectifying"},
             {"state": rec.state, "task": task.id, "note": note})
        return rec
