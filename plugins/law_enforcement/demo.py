"""Demo only: units, inspectors and equipment (demo/units.yaml), this year's plan and records for the
months gone by — some clean, some rectified on the spot, some with orders followed up, a few checks and
one follow-up left overdue so the alerts have something to say. Seeded once, when the store has none."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

from core.api import Store, load_yaml

from . import plans, records
from .model import Inspector, LawError, Unit, save, tasks, units

log = logging.getLogger(__name__)
DEMO_FILE = Path(__file__).with_name("demo") / "units.yaml"
ACTOR = "demo:区执法大队"

FINDINGS = (  # (type, description, level, measures as (kind, days or amount))
    ("evacuation", "车间安全出口被成品堆放堵塞", "general", (("rectify_now", 0),)),
    ("hazmat_storage", "危化品暂存间甲醇与盐酸混存,未分区隔离", "major", (("rectify_order", 15), ("fine", 20000))),
    ("safety_equipment", "可燃气体报警器未定期检测,一台故障", "general", (("rectify_order", 10),)),
    ("training", "新入职员工未经三级安全教育上岗", "general", (("rectify_order", 20),)),
    ("special_operators", "电焊作业人员未持特种作业操作证", "major", (("rectify_order", 7), ("fine", 30000))),
    ("hazard_control", "隐患排查台账缺失,上次隐患未闭环", "general", (("rectify_now", 0),)),
    ("responsibility", "全员安全生产责任制未覆盖车间班组", "general", (("rectify_order", 30),)),
)


def seed_units(store: Store, today: dt.date) -> int:
    """Units and inspectors from the demo file, when the store has none."""
    if units(store):
        return 0
    doc = load_yaml(DEMO_FILE).data
    rows: list[Any] = [Unit(**u, demo=True) for u in doc["units"]]
    for i in doc["inspectors"]:
        i = dict(i)
        days = i.pop("cert_expiry_in_days", None)
        expiry = (today + dt.timedelta(days=int(days))).isoformat() if days is not None else ""
        rows.append(Inspector(**i, cert_expiry=expiry if i.get("cert_no") else "", demo=True))
    save(store, rows, ACTOR, "demo.seed", "units", None, {"units": len(doc["units"]),
                                                          "inspectors": len(doc["inspectors"])})
    return len(rows)


def seed_plan(store: Store, settings: Any, today: dt.date) -> int:
    """This year's plan and the records of the checks already due, when the year has no tasks."""
    year = plans.plan_year(settings, today)
    if tasks(store, year):
        return 0
    try:
        plans.generate_plan(store, settings, year, ACTOR, today=today)
    except LawError as exc:          # no enterprises yet (their plugin is disabled): try again later
        log.info("law_enforcement demo: no plan yet: %s", exc)
        return 0
    done = 0
    for n, t in enumerate(sorted(tasks(store, year), key=lambda t: (t.month, t.id))):
        end = dt.date.fromisoformat(t.due)
        if end >= today or ((today - end).days < 45 and n % 3 == 1):   # not due, or lately due and left overdue
            continue
        day = min(end, dt.date(year, t.month, 4 + (n * 5) % 22))
        kind, text, level, measures = FINDINGS[n % len(FINDINGS)]
        clean = n % 4 == 3
        body = {"date": day.isoformat(), "demo": True,
                "findings": [] if clean else [{"type": kind, "description": text, "level": level}],
                "measures": [] if clean else [
                    {"kind": k, "deadline": (day + dt.timedelta(days=v)).isoformat()} if k == "rectify_order"
                    else {"kind": k, "amount": v, "finding": 0} if k == "fine" else {"kind": k}
                    for k, v in measures]}
        try:
            rec = records.file_record(store, settings, t.id, body, ACTOR, today=today)
        except LawError as exc:
            log.warning("law_enforcement demo: record of %s not filed: %s", t.id, exc)
            continue
        done += 1
        k = 0
        while rec.state != "closed" and k < 4:      # follow-ups done, except those due in the last weeks
            ftask = next(x for x in tasks(store) if x.id == rec.follow_ups[-1])
            due = dt.date.fromisoformat(ftask.due)
            if (today - due).days < 20 - 10 * (n % 2):
                break
            fday = due - dt.timedelta(days=1)
            result = "not_rectified" if n % 7 == 2 and k == 0 else "rectified"
            fbody = {"date": fday.isoformat(), "result": result,
                     "note": "复查:整改到位" if result == "rectified" else "复查:未整改到位,再次责令限期整改",
                     "deadline": (fday + dt.timedelta(days=10)).isoformat()}
            try:
                rec = records.follow_up(store, settings, ftask.id, fbody, ACTOR, today=today)
            except LawError:     # the team is fully booked that month: the first days of the next one
                fday = dt.date(due.year + due.month // 12, due.month % 12 + 1, 3)
                fbody.update(date=fday.isoformat(), deadline=(fday + dt.timedelta(days=10)).isoformat())
                try:
                    rec = records.follow_up(store, settings, ftask.id, fbody, ACTOR, today=today)
                except LawError as exc:
                    log.info("law_enforcement demo: follow-up %s not recorded: %s", ftask.id, exc)
                    break
            k += 1
    return done
