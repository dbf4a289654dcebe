"""The plan in the store: generate it for a year, and a manager's adjustments (move, reassign, add,
cancel), each validated, stored whole and audited with old and new values."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from core.api import Store

from . import grading, planner
from .model import LOCK, Inspector, LawError, Task, Unit, get, inspectors, month_end, save, tasks, units

ACTIVE = ("planned", "done")


def plan_year(settings: Any, today: dt.date | None = None) -> int:
    return settings.plan_year or (today or dt.date.today()).year


def plan_inspectors(store: Store, settings: Any) -> list[planner.PlanInspector]:
    """Active inspectors as the planner sees them (town from their unit)."""
    us = {u.id: u for u in units(store)}
    out = []
    for i in inspectors(store):
        if not i.active:
            continue
        u = us.get(i.unit)
        expiry = dt.date.fromisoformat(i.cert_expiry) if i.cert_no and i.cert_expiry else None
        out.append(planner.PlanInspector(i.id, u.town if u else "", bool(u and u.district),
                                         int(i.capacity or settings.default_capacity), expiry))
    return out


def task_id(year: int, enterprise: str, seq: int | str) -> str:
    return f"le.task.{year}.{enterprise}.{seq}"


def generate_plan(store: Store, settings: Any, year: int, actor: str, *, replace: bool = False,
                  today: dt.date | None = None) -> planner.Plan:
    """Generate (or, with ``replace``, regenerate) ``year``'s plan from the store's enterprises and inspectors.

    A plan that has begun (a check done, a task adjusted by hand, a follow-up) is not regenerated: adjust it
    task by task. Old tasks the new plan does not have are cancelled, never deleted (the audit keeps them).
    """
    if not 2000 <= int(year) <= 2100:
        raise LawError(f"{year} is not a plan year (2000–2100)", "year")
    with LOCK:
        existing = [t for t in tasks(store, year) if t.state != "cancelled"]
        if existing and not replace:
            raise LawError(f"the {year} plan exists ({len(existing)} tasks); regenerate it with replace", "year")
        begun = [t for t in existing if t.state == "done" or t.adjusted or t.kind != "plan"]
        if begun:
            raise LawError(f"the {year} plan has begun ({len(begun)} tasks done, adjusted or followed up, e.g. "
                           f"{begun[0].id}); adjust it task by task instead of regenerating", "year")
        ents = grading.enterprises(store, settings.enterprise_kinds, today)
        if not ents:
            raise LawError(f"no enterprises of kinds {', '.join(settings.enterprise_kinds)} in the store", "year")
        pool = plan_inspectors(store, settings)
        plan = planner.generate(ents, pool, year, settings.frequency, settings.inspectors_per_task, settings.months)
        new = [Task(id=task_id(year, c.enterprise.id, c.seq), year=year, enterprise=c.enterprise.id,
                    enterprise_name=c.enterprise.name, town=c.enterprise.town, grade=c.enterprise.grade,
                    kind="plan", month=c.month, due=month_end(year, c.month).isoformat(),
                    inspectors=list(c.inspectors), demo=bool(settings.demo)) for c in plan.checks]
        ids = {t.id for t in new}
        gone = []
        for t in existing:
            if t.id not in ids:
                t.state, t.note = "cancelled", "replaced by a regenerated plan"
                gone.append(t)
        save(store, new + gone, actor, "plan.generate", f"plan:{year}",
             old={"tasks": len(existing)} if existing else None,
             new={"tasks": len(new), "cancelled": len(gone),
                  "shortfalls": [f"{s.enterprise.id}#{s.seq}: {s.reason}" for s in plan.shortfalls]})
        return plan


def load_by_month(all_tasks: Sequence[Task], exclude: str | None = None) -> dict[tuple[str, int, int], int]:
    """(inspector, year, month) → checks he joins (planned or done; cancelled ones free him)."""
    load: dict[tuple[str, int, int], int] = defaultdict(int)
    for t in all_tasks:
        if t.state in ACTIVE and t.id != exclude:
            y = t.due_date().year
            for i in t.inspectors:
                load[(i, y, t.month)] += 1
    return load


def check_team(store: Store, settings: Any, team: Sequence[str], year: int, month: int,
               exclude: str | None = None, field: str = "inspectors", on: dt.date | None = None) -> list[str]:
    """Validate a team for a check in (year, month): enough distinct, active, certified, with free capacity."""
    team = [str(i).strip() for i in team if str(i).strip()]
    if len(set(team)) != len(team):
        raise LawError("an inspector is named twice", field)
    if len(team) < settings.inspectors_per_task:
        raise LawError(f"a check needs at least {settings.inspectors_per_task} inspectors, got {len(team)}", field)
    end = on or month_end(year, month)
    load = load_by_month(tasks(store), exclude)
    for iid in team:
        insp: Inspector = get(store, Inspector, iid, field)
        if not insp.active:
            raise LawError(f"inspector {insp.name} ({iid}) is not active", field)
        if not insp.certified_on(end):
            raise LawError(f"inspector {insp.name} ({iid}) has no enforcement certificate valid on {end}"
                           + (f" (expires {insp.cert_expiry})" if insp.cert_expiry else ""), field)
        cap = int(insp.capacity or settings.default_capacity)
        if load[(iid, year, month)] >= cap:
            raise LawError(f"inspector {insp.name} ({iid}) already has {cap} checks in {year}-{month:02d} "
                           f"(capacity {cap})", field)
    return team


def _month(value: Any, field: str = "month") -> int:
    try:
        m = int(str(value).strip())
    except (TypeError, ValueError):
        raise LawError(f"{value!r} is not a month (1–12)", field) from None
    if not 1 <= m <= 12:
        raise LawError(f"{m} is not a month (1–12)", field)
    return m


def _planned(store: Store, tid: str) -> Task:
    t: Task = get(store, Task, tid, "task")
    if t.state != "planned":
        raise LawError(f"task {tid} is {t.state}; only planned tasks can be changed", "task")
    return t


def move_task(store: Store, settings: Any, tid: str, month: Any, actor: str) -> Task:
    """Move a planned task to another month of its year (its team must be free and certified then)."""
    m = _month(month)
    with LOCK:
        t = _planned(store, tid)
        if t.kind == "follow_up":
            raise LawError("a follow-up is due at its rectification deadline; it cannot be moved", "task")
        old = {"month": t.month, "due": t.due}
        check_team(store, settings, t.inspectors, t.year, m, exclude=t.id)
        t.month, t.due, t.adjusted = m, month_end(t.year, m).isoformat(), True
        save(store, [t], actor, "task.move", f"task:{t.id}", old, {"month": t.month, "due": t.due})
        return t


def reassign_task(store: Store, settings: Any, tid: str, team: Sequence[str], actor: str) -> Task:
    """Give a planned task another team."""
    with LOCK:
        t = _planned(store, tid)
        y = t.due_date().year
        new = check_team(store, settings, team, y, t.month, exclude=t.id)
        old = list(t.inspectors)
        t.inspectors, t.adjusted = new, True
        save(store, [t], actor, "task.reassign", f"task:{t.id}", {"inspectors": old}, {"inspectors": new})
        return t


def cancel_task(store: Store, tid: str, reason: str, actor: str) -> Task:
    """Cancel a planned task; the reason is required (企业关停, 合并检查 ...)."""
    reason = str(reason or "").strip()
    if not reason:
        raise LawError("give a reason for cancelling", "reason")
    if len(reason) > 500:
        raise LawError("at most 500 characters", "reason")
    with LOCK:
        t = _planned(store, tid)
        t.state, t.note, t.adjusted = "cancelled", reason, True
        save(store, [t], actor, "task.cancel", f"task:{t.id}", {"state": "planned"}, {"state": "cancelled",
                                                                                       "reason": reason})
        return t


def add_task(store: Store, settings: Any, year: Any, enterprise: str, month: Any, team: Sequence[str] | None,
             actor: str, today: dt.date | None = None) -> Task:
    """Add a check to ``year``'s plan (an extra check of an enterprise); without a team the plan's rules pick one."""
    try:
        y = int(str(year))
    except (TypeError, ValueError):
        raise LawError(f"{year!r} is not a year", "year") from None
    if not 2000 <= y <= 2100:
        raise LawError(f"{y} is not a plan year (2000–2100)", "year")
    m = _month(month)
    ents = {e.id: e for e in grading.enterprises(store, settings.enterprise_kinds, today)}
    ent = ents.get(str(enterprise or "").strip())
    if ent is None:
        raise LawError(f"no enterprise {enterprise!r} under the plan", "enterprise")
    with LOCK:
        if team:
            chosen = check_team(store, settings, team, y, m)
        else:
            flat = {(i, mm): n for (i, yy, mm), n in load_by_month(tasks(store)).items() if yy == y}
            free = planner.rank_inspectors(plan_inspectors(store, settings), ent.town, y, m, flat, {})
            if len(free) < settings.inspectors_per_task:
                raise LawError(f"no {settings.inspectors_per_task} certified inspectors are free in {y}-{m:02d}",
                               "month")
            chosen = [i.id for i in free[:settings.inspectors_per_task]]
        taken = {t.id for t in tasks(store, y)}
        n = 1
        while task_id(y, ent.id, f"x{n}") in taken:
            n += 1
        t = Task(id=task_id(y, ent.id, f"x{n}"), year=y, enterprise=ent.id, enterprise_name=ent.name,
                 town=ent.town, grade=ent.grade, kind="added", month=m, due=month_end(y, m).isoformat(),
                 inspectors=chosen, adjusted=True)
        save(store, [t], actor, "task.add", f"task:{t.id}", None,
             {"enterprise": ent.id, "month": m, "inspectors": chosen})
        return t


def update_inspector(store: Store, iid: str, values: dict[str, Any], actor: str) -> Inspector:
    """Renew a certificate or change an inspector's capacity/active flag (validated, audited)."""
    with LOCK:
        insp: Inspector = get(store, Inspector, iid, "inspector")
        old = {"cert_no": insp.cert_no, "cert_expiry": insp.cert_expiry, "capacity": insp.capacity,
               "active": insp.active}
        if "cert_no" in values:
            no = str(values["cert_no"] or "").strip()
            if not no or len(no) > 40:
                raise LawError("certificate number: 1–40 characters", "cert_no")
            insp.cert_no = no
        if "cert_expiry" in values:
            insp.cert_expiry = parse_expiry(values["cert_expiry"])
        if values.get("capacity") not in (None, ""):
            try:
                cap = int(str(values["capacity"]))
            except ValueError:
                raise LawError(f"{values['capacity']!r} is not a whole number", "capacity") from None
            if not 1 <= cap <= 60:
                raise LawError(f"{cap} checks a month is not in 1–60", "capacity")
            insp.capacity = cap
        if "active" in values:
            insp.active = str(values["active"]).lower() in ("1", "true", "on", "yes")
        new = {"cert_no": insp.cert_no, "cert_expiry": insp.cert_expiry, "capacity": insp.capacity,
               "active": insp.active}
        save(store, [insp], actor, "inspector.update", f"inspector:{iid}", old, new)
        return insp


def parse_expiry(value: Any) -> str:
    from .model import parse_date
    d = parse_date(value, "cert_expiry")
    if not 2000 <= d.year <= 2100:
        raise LawError(f"{d} is not a plausible expiry date", "cert_expiry")
    return d.isoformat()


def set_equipment(store: Store, settings: Any, unit_id: str, counts: dict[str, Any], actor: str) -> Unit:
    """Set a unit's equipment counts (keys from the required list; whole numbers ≥ 0)."""
    known = {e.key for e in settings.required_equipment}
    clean: dict[str, int] = {}
    for k, v in counts.items():
        if k not in known:
            raise LawError(f"unknown item (known: {', '.join(sorted(known))})", f"equipment.{k}")
        try:
            n = int(str(v).strip())
        except ValueError:
            raise LawError(f"{v!r} is not a whole number", f"equipment.{k}") from None
        if not 0 <= n <= 1000:
            raise LawError(f"{n} is not in 0–1000", f"equipment.{k}")
        clean[k] = n
    with LOCK:
        u: Unit = get(store, Unit, unit_id, "unit")
        old = dict(u.equipment)
        u.equipment = {**u.equipment, **clean}
        save(store, [u], actor, "equipment.update", f"unit:{unit_id}", old, dict(u.equipment))
        return u
