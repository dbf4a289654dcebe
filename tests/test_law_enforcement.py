"""law_enforcement: plan generation (frequency by grade, capacity, certificates, determinism), a manager's
adjustments, inspection records and follow-ups until closed, the 互联网+监管 export (layout, idempotent,
validated), certificate / overdue / behind-plan alerts through the host, panels, and roles over real HTTP."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import random
import re
import types
from pathlib import Path

import pytest
import requests

from core.api import Entity, Reading
from core.data.store import open_store
from core.data.users import Users
from core.plugins.manager import import_plugin_submodule
from core.plugins.testing import render_panel

ROOT = Path(__file__).resolve().parents[1]
PLUGIN_DIR = ROOT / "plugins" / "law_enforcement"


def _le(module: str) -> types.ModuleType:
    return import_plugin_submodule(PLUGIN_DIR, module)


model, grading, planner, plans, records, export, checks, settings_mod = (
    _le(m) for m in ("model", "grading", "planner", "plans", "records", "export", "checks", "settings"))
LawError = model.LawError
TODAY = dt.date(2026, 6, 15)
YEAR = 2026


# -- the planner as a pure function ------------------------------------------------------------------------
def ent(i: int, grade: str, town: str = "haimen") -> grading.PlanEnterprise:
    return grading.PlanEnterprise(f"e{i:02d}", f"企业{i}", f"E{i}", town, grade, "official", None)


def insp(name: str, town: str = "haimen", cap: int = 10, expiry: dt.date | None = dt.date(2030, 1, 1),
         district: bool = False) -> planner.PlanInspector:
    return planner.PlanInspector(name, town, district, cap, expiry)


FREQ = {"A": 4, "B": 3, "C": 2, "D": 1}
MONTHS = list(range(1, 13))


def test_higher_risk_gets_more_checks_spread_over_the_year() -> None:
    ents = [ent(1, "A"), ent(2, "B"), ent(3, "C"), ent(4, "D"), ent(5, "A")]
    plan = planner.generate(ents, [insp(f"i{k}") for k in range(4)], YEAR, FREQ, 2, MONTHS)
    assert not plan.shortfalls
    per = {e.id: sorted(c.month for c in plan.checks if c.enterprise.id == e.id) for e in ents}
    assert {e: len(m) for e, m in per.items()} == {"e01": 4, "e02": 3, "e03": 2, "e04": 1, "e05": 4}
    # one check in each window: quarters for A, thirds for B, halves for C
    assert [(m - 1) // 3 for m in per["e01"]] == [0, 1, 2, 3]
    assert [(m - 1) // 4 for m in per["e02"]] == [0, 1, 2]
    assert [(m - 1) // 6 for m in per["e03"]] == [0, 1]
    assert all(len(set(c.inspectors)) == 2 for c in plan.checks)
    # a grade of zero checks gives none; months left out of the plan are never used
    plan = planner.generate(ents, [insp("i1"), insp("i2")], YEAR, {**FREQ, "D": 0}, 2, [3, 4, 5, 6, 9, 10, 11, 12])
    assert all(c.enterprise.id != "e04" for c in plan.checks)
    assert {c.month for c in plan.checks} <= {3, 4, 5, 6, 9, 10, 11, 12}


def test_capacity_and_certificates_are_respected_and_the_rest_is_a_shortfall() -> None:
    ents = [ent(i, "A", "xiachen" if i % 2 else "sanjia") for i in range(10)]
    team = [insp("x1", "xiachen", 1), insp("x2", "xiachen", 1), insp("s1", "sanjia", 1),
            insp("d1", "haimen", 1, district=True), insp("late", "sanjia", 2, expiry=dt.date(YEAR, 6, 10)),
            insp("none", "sanjia", 5, expiry=None)]
    plan = planner.generate(ents, team, YEAR, FREQ, 2, MONTHS)
    caps = {i.id: i.capacity for i in team}
    load: dict[tuple[str, int], int] = {}
    for c in plan.checks:
        for i in c.inspectors:
            load[(i, c.month)] = load.get((i, c.month), 0) + 1
    assert load == plan.load and all(n <= caps[i] for (i, _), n in load.items())
    assert not any("none" in c.inspectors for c in plan.checks)                      # no certificate
    assert all(c.month <= 5 for c in plan.checks if "late" in c.inspectors)          # expires 10 June
    # 40 checks asked; room for 3 a month to May and 2 after: the rest are shortfalls, not overbooking
    assert len(plan.checks) == 5 * 3 + 7 * 2 and len(plan.shortfalls) == 40 - len(plan.checks)
    assert "no 2 certified inspectors with free capacity" in plan.shortfalls[0].reason
    # the enterprise's own town first: with room everywhere, a xiachen check gets xiachen's inspectors
    roomy = [insp("x1", "xiachen"), insp("x2", "xiachen"), insp("s1", "sanjia"), insp("s2", "sanjia")]
    plan = planner.generate([ent(1, "D", "xiachen"), ent(2, "D", "sanjia")], roomy, YEAR, FREQ, 2, MONTHS)
    assert {c.enterprise.town: set(c.inspectors) for c in plan.checks} == {"xiachen": {"x1", "x2"},
                                                                           "sanjia": {"s1", "s2"}}


def test_the_plan_is_deterministic() -> None:
    ents = [ent(i, "ABCD"[i % 4], ("haimen", "sanjia", "xiachen")[i % 3]) for i in range(30)]
    team = [insp(f"i{k}", ("haimen", "sanjia", "xiachen")[k % 3], 2 + k % 3) for k in range(9)]
    first = planner.generate(ents, team, YEAR, FREQ, 2, MONTHS)
    rnd = random.Random(7)
    for _ in range(3):
        e2, t2 = ents[:], team[:]
        rnd.shuffle(e2)
        rnd.shuffle(t2)
        again = planner.generate(e2, t2, YEAR, FREQ, 2, MONTHS)
        assert again.checks == first.checks and again.shortfalls == first.shortfalls


# -- the plan in a real store --------------------------------------------------------------------------------
def settings(**kw):
    return settings_mod.Settings(demo=False, **kw)


def seed(store, *, with_enterprises: bool = True) -> None:
    """Units, inspectors and enterprises graded four ways (official grade, score reading, hazard source, file)."""
    rows = [model.to_entity(u) for u in (
        model.Unit("le.unit.district", "区执法大队", "District", "haimen", True, 121.42, 28.67, {"vehicle": 2}),
        model.Unit("le.unit.sanjia", "三甲街道应急管理所", "Sanjia", "sanjia", False, 121.5, 28.66,
                   {"vehicle": 0, "recorder": 1}))]
    rows += [model.to_entity(i) for i in (
        model.Inspector("le.insp.a", "甲", "le.unit.sanjia", "C-A", "2030-01-01", 4),
        model.Inspector("le.insp.b", "乙", "le.unit.sanjia", "C-B", "2030-01-01", 4),
        model.Inspector("le.insp.c", "丙", "le.unit.district", "C-C", "2030-01-01", 4),
        model.Inspector("le.insp.x", "丁", "le.unit.district", "C-X", (TODAY + dt.timedelta(days=20)).isoformat(), 4),
        model.Inspector("le.insp.n", "戊", "le.unit.sanjia", "", "", 4))]
    if with_enterprises:
        rows += [Entity(id="t.ent.official", kind="sme_enterprise", name="官方甲级", plugin="other",
                        geometry={"type": "Point", "coordinates": [121.50, 28.66]},
                        properties={"risk_grade": "重大", "uscc": "91331002MA2AAAAA1X"}),
                 Entity(id="t.ent.score", kind="sme_enterprise", name="评分企业", plugin="other",
                        geometry={"type": "Point", "coordinates": [121.505, 28.655]}, properties={"street": "三甲街道"}),
                 Entity(id="t.ent.chem", kind="enterprise", name="重大危险源企业", plugin="other",
                        geometry={"type": "Point", "coordinates": [121.49, 28.66]}, properties={}),
                 Entity(id="t.hs", kind="hazard_source", name="液氯单元", plugin="other",
                        properties={"grade": "二级", "enterprise": "t.ent.chem"}),
                 Entity(id="t.ent.file", kind="sme_enterprise", name="档案企业", plugin="other",
                        geometry={"type": "Point", "coordinates": [121.51, 28.66]}, properties={})]
    store.upsert(rows)
    if with_enterprises:
        store.ingest([Reading("t.ent.score", "risk_score", 1.0, 35.0)])


@pytest.fixture
def store(tmp_path):
    s = open_store(f"sqlite:///{tmp_path / 'le.sqlite'}")
    seed(s)
    return s


def test_grades_and_towns_are_read_through_the_store(store) -> None:
    got = {e.id: (e.grade, e.grade_source, e.town) for e in grading.enterprises(store, ["sme_enterprise", "enterprise"],
                                                                                  TODAY)}
    assert got == {"t.ent.official": ("A", "official", "sanjia"), "t.ent.score": ("B", "score", "sanjia"),
                   "t.ent.chem": ("A", "hazard_source", "sanjia"), "t.ent.file": ("D", "file", "sanjia")}
    assert [grading.normalise_grade(v) for v in ("A", "较大", "yellow", "低风险", "x")] == ["A", "B", "C", "D", None]


def test_generate_plan_in_the_store_audited_and_refused_twice(store) -> None:
    s = settings()
    plan = plans.generate_plan(store, s, YEAR, "boss", today=TODAY)
    ts = model.tasks(store, YEAR)
    by = {}
    for t in ts:
        by[t.enterprise] = by.get(t.enterprise, 0) + 1
    assert by == {"t.ent.official": 4, "t.ent.chem": 4, "t.ent.score": 3, "t.ent.file": 1}
    assert len(ts) == len(plan.checks) == 12 and not plan.shortfalls
    assert all(t.due == model.month_end(YEAR, t.month).isoformat() for t in ts)
    assert not any("le.insp.n" in t.inspectors for t in ts)              # never the uncertified one
    audit = [a for a in store.audit_log() if a.action == "law_enforcement.plan.generate"]
    assert len(audit) == 1 and audit[0].actor == "boss" and audit[0].new["tasks"] == 12
    with pytest.raises(LawError, match="exists") as err:
        plans.generate_plan(store, s, YEAR, "boss", today=TODAY)
    assert err.value.field == "year"
    plans.generate_plan(store, s, YEAR, "boss", replace=True, today=TODAY)   # not begun: may be replaced
    records.file_record(store, s, ts[0].id, {"date": TODAY.isoformat()}, "boss", today=TODAY)
    with pytest.raises(LawError, match="has begun"):
        plans.generate_plan(store, s, YEAR, "boss", replace=True, today=TODAY)


def test_manager_adjustments_are_validated_and_audited(store) -> None:
    s = settings()
    plans.generate_plan(store, s, YEAR, "boss", today=TODAY)
    t = next(t for t in model.tasks(store, YEAR) if t.enterprise == "t.ent.file")
    n_audit = len(store.audit_log())
    for bad, field in (("13", "month"), ("x", "month")):
        with pytest.raises(LawError) as err:
            plans.move_task(store, s, t.id, bad, "boss")
        assert err.value.field == field
    # le.insp.x's certificate ends in July: he cannot be moved into August with the task
    if "le.insp.x" in t.inspectors:
        with pytest.raises(LawError, match="no enforcement certificate valid"):
            plans.move_task(store, s, t.id, 8, "boss")
    with pytest.raises(LawError, match="at least 2 inspectors") as err:
        plans.reassign_task(store, s, t.id, ["le.insp.a"], "boss")
    assert err.value.field == "inspectors"
    with pytest.raises(LawError, match="no enforcement certificate"):
        plans.reassign_task(store, s, t.id, ["le.insp.a", "le.insp.n"], "boss")
    with pytest.raises(LawError, match="no inspector 'le.insp.zz'"):
        plans.reassign_task(store, s, t.id, ["le.insp.a", "le.insp.zz"], "boss")
    with pytest.raises(LawError, match="reason"):
        plans.cancel_task(store, t.id, "  ", "boss")
    assert len(store.audit_log()) == n_audit and model.get(store, model.Task, t.id) == t   # nothing stored
    moved = plans.reassign_task(store, s, t.id, ["le.insp.a", "le.insp.b"], "boss")
    moved = plans.move_task(store, s, t.id, 5, "boss")
    assert moved.month == 5 and moved.due == "2026-05-31" and moved.adjusted
    # capacity: a, b have 4 checks a month; fill May and the fifth is refused
    for _ in range(10):
        try:
            plans.add_task(store, s, YEAR, "t.ent.file", 5, ["le.insp.a", "le.insp.b"], "boss")
        except LawError as exc:
            assert "capacity 4" in str(exc) and exc.field == "inspectors"
            break
    else:
        pytest.fail("capacity was never reached")
    may = [x for x in model.tasks(store, YEAR) if x.month == 5 and x.state != "cancelled" and "le.insp.a" in x.inspectors]
    assert len(may) == 4
    added = plans.add_task(store, s, YEAR, "t.ent.score", 9, None, "boss")          # team picked by the rules
    assert added.kind == "added" and len(added.inspectors) == 2
    gone = plans.cancel_task(store, added.id, "企业已关停", "boss")
    assert gone.state == "cancelled"
    actions = [a.action.removeprefix("law_enforcement.") for a in reversed(store.audit_log())]
    assert actions[-2:] == ["task.add", "task.cancel"] and "task.move" in actions and "task.reassign" in actions
    move = next(a for a in store.audit_log() if a.action.endswith("task.move"))
    assert move.old["month"] != 5 and move.new == {"month": 5, "due": "2026-05-31"}


# -- records and follow-ups ----------------------------------------------------------------------------------
def _first_task(store, s, enterprise: str = "t.ent.official"):
    plans.generate_plan(store, s, YEAR, "boss", today=TODAY)
    return next(t for t in sorted(model.tasks(store, YEAR), key=lambda t: t.month) if t.enterprise == enterprise)


def test_record_with_an_order_is_followed_up_until_closed(store) -> None:
    s = settings()
    t = _first_task(store, s)
    body = {"date": "2026-02-10", "findings": [
        {"type": "hazmat_storage", "description": "甲醇与盐酸混存", "level": "major"},
        {"type": "evacuation", "description": "安全出口堵塞",
         "legal_basis": "《中华人民共和国安全生产法》第四十二条第一款"}],
        "measures": [{"kind": "rectify_now"}, {"kind": "rectify_order", "deadline": "2026-02-25"},
                     {"kind": "fine", "amount": 20000, "finding": 0}]}
    rec = records.file_record(store, s, t.id, body, "insp1", today=TODAY)
    assert rec.state == "rectifying" and rec.fine_total() == 20000 and rec.closed_on is None
    assert rec.findings[0]["legal_basis"] == "《中华人民共和国安全生产法》第三十九条"           # the type's default
    assert rec.measures[2]["basis"] == "《中华人民共和国安全生产法》第一百零一条"
    done = model.get(store, model.Task, t.id)
    assert done.state == "done" and done.record == rec.id
    fu = model.get(store, model.Task, rec.follow_ups[0])
    assert fu.kind == "follow_up" and fu.due == "2026-02-25" and fu.inspectors == t.inspectors
    with pytest.raises(LawError, match="must be 'rectified' or 'not_rectified'"):
        records.follow_up(store, s, fu.id, {"result": "maybe", "date": "2026-02-24"}, "insp1", today=TODAY)
    with pytest.raises(LawError) as err:
        records.follow_up(store, s, fu.id, {"result": "not_rectified", "date": "2026-02-24"}, "insp1", today=TODAY)
    assert err.value.field == "deadline"
    rec = records.follow_up(store, s, fu.id, {"result": "not_rectified", "date": "2026-02-24",
                                              "deadline": "2026-03-10", "note": "未整改"}, "insp1", today=TODAY)
    assert rec.state == "rectifying" and len(rec.follow_ups) == 2
    fu2 = model.get(store, model.Task, rec.follow_ups[1])
    assert fu2.due == "2026-03-10" and model.get(store, model.Task, fu.id).result == "not_rectified"
    rec = records.follow_up(store, s, fu2.id, {"result": "rectified", "date": "2026-03-09"}, "insp1", today=TODAY)
    assert rec.state == "closed" and rec.closed_on == "2026-03-09"
    with pytest.raises(LawError, match="is done"):
        records.follow_up(store, s, fu2.id, {"result": "rectified", "date": "2026-03-09"}, "insp1", today=TODAY)
    actions = [a.action for a in store.audit_log() if a.target == f"record:{rec.id}"]
    assert actions == ["law_enforcement.follow_up.rectified", "law_enforcement.follow_up.not_rectified",
                       "law_enforcement.record.file"]


@pytest.mark.parametrize("change, field, message", [
    ({"findings": [{"type": "nope", "description": "x"}]}, "findings[0].type", "unknown type"),
    ({"findings": [{"type": "training", "description": ""}]}, "findings[0].description", "required"),
    ({"findings": [{"type": "training", "description": "x", "legal_basis": "安全生产法"}]},
     "findings[0].legal_basis", "must name a law"),
    ({"measures": [{"kind": "fine", "amount": 60000, "finding": 0}]}, "measures[0].amount",
     "exceeds the maximum of 50000 yuan"),
    ({"measures": [{"kind": "rectify_order", "deadline": "2026-01-01"}]}, "measures[0].deadline", "must be after"),
    ({"measures": [{"kind": "rectify_order", "deadline": "soon"}]}, "measures[0].deadline", "not a date"),
    ({"measures": []}, "measures", "need at least one measure"),
    ({"date": "2027-01-05"}, "date", "in the future"),
    ({"inspectors": ["le.insp.a", "le.insp.n"]}, "inspectors", "no enforcement certificate"),
])
def test_a_bad_record_names_its_field_and_stores_nothing(store, change, field, message) -> None:
    s = settings()
    t = _first_task(store, s)
    before = (store.audit_log(limit=1000), model.tasks(store), model.records(store))
    body = {"date": "2026-02-10", "findings": [{"type": "evacuation", "description": "出口堵塞"}],
            "measures": [{"kind": "rectify_now"}], **change}
    with pytest.raises(LawError, match=message) as err:
        records.file_record(store, s, t.id, body, "insp1", today=TODAY)
    assert err.value.field == field and str(err.value).startswith(f"field '{field}'")
    assert (store.audit_log(limit=1000), model.tasks(store), model.records(store)) == before


# -- the export ------------------------------------------------------------------------------------------------
def _worked_store(path: Path):
    """A store with a plan, one record with an order followed up and one clean record (same steps each time)."""
    st = open_store(f"sqlite:///{path}")
    seed(st)
    s = settings()
    plans.generate_plan(st, s, YEAR, "boss", today=TODAY)
    ts = sorted(model.tasks(st, YEAR), key=lambda t: (t.month, t.id))
    rec = records.file_record(st, s, ts[0].id, {"date": "2026-01-20", "findings": [
        {"type": "training", "description": "新员工未培训"}], "measures": [
        {"kind": "rectify_order", "deadline": "2026-02-05"}, {"kind": "fine", "amount": 5000, "finding": 0}]},
        "boss", today=TODAY)
    records.follow_up(st, s, rec.follow_ups[0], {"result": "rectified", "date": "2026-02-04"}, "boss", today=TODAY)
    records.file_record(st, s, ts[1].id, {"date": "2026-02-03"}, "boss", today=TODAY)
    return st, s


def test_export_layout_is_documented_and_idempotent(tmp_path) -> None:
    st, s = _worked_store(tmp_path / "a.sqlite")
    first = export.files(st, s, YEAR)
    assert sorted(first) == ["findings.csv", "hlwjg-2026.json", "measures.csv", "plan.csv", "records.csv"]
    assert export.files(st, s, YEAR) == first                              # same store: same bytes
    other, _ = _worked_store(tmp_path / "b.sqlite")
    assert export.files(other, s, YEAR) == first                           # same input elsewhere: same bytes
    doc = json.loads(first["hlwjg-2026.json"])
    assert list(doc) == ["format", "version", "region_code", "year", "counts", "plan", "records"]
    assert doc["format"] == "twinboard.law_enforcement.hlwjg" and doc["version"] == 1 and doc["region_code"] == "331002"
    assert doc["counts"] == {"tasks": 13, "records": 2, "findings": 1, "fines_cny": 5000}
    assert [t["task_id"] for t in doc["plan"]] == sorted(t["task_id"] for t in doc["plan"])
    rec = next(r for r in doc["records"] if r["findings"])
    uscc = {"t.ent.official": "91331002MA2AAAAA1X"}.get(rec["enterprise_id"], "")
    assert rec["state"] == "closed" and rec["closed_date"] == "2026-02-04" and rec["uscc"] == uscc
    assert rec["findings"][0] == {"finding_id": rec["record_id"] + ".f1", "type": "training",
                                  "type_name": "安全生产教育培训", "description": "新员工未培训",
                                  "legal_basis": "《中华人民共和国安全生产法》第二十八条", "level": "general"}
    assert rec["measures"][1]["amount_cny"] == 5000 and rec["measures"][1]["finding_id"] == rec["record_id"] + ".f1"
    assert all(i["cert_no"] for i in rec["inspectors"])
    plan_rows = list(csv.DictReader(io.StringIO(first["plan.csv"].decode("utf-8-sig"))))
    assert tuple(plan_rows[0]) == export.PLAN_COLUMNS and len(plan_rows) == 13
    assert first["plan.csv"].startswith("\ufeff".encode()) and b"\r" not in first["plan.csv"]
    meas = list(csv.DictReader(io.StringIO(first["measures.csv"].decode("utf-8-sig"))))
    assert [m["kind"] for m in meas] == ["rectify_order", "fine"] and tuple(meas[0]) == export.MEASURE_COLUMNS
    # the shipped JSON Schema is the model's, and the README documents every field of the layout
    assert json.loads((PLUGIN_DIR / "export.schema.json").read_text(encoding="utf-8")) == export.json_schema()
    readme = (PLUGIN_DIR / "README.md").read_text(encoding="utf-8")
    for col in set(export.PLAN_COLUMNS + export.RECORD_COLUMNS + export.FINDING_COLUMNS + export.MEASURE_COLUMNS):
        assert f"`{col}`" in readme, col
    paths = export.write(st, s, YEAR, tmp_path / "out")
    assert {p.name: p.read_bytes() for p in paths.values()} == first


def test_an_invalid_export_names_row_and_field_and_writes_nothing(tmp_path) -> None:
    st, s = _worked_store(tmp_path / "a.sqlite")
    rec = next(r for r in model.records(st, YEAR) if r.findings)
    rec.findings[0]["legal_basis"] = "见有关规定"            # damaged outside the forms
    row = sorted(r.id for r in model.records(st, YEAR)).index(rec.id)
    st.upsert([model.to_entity(rec)])
    with pytest.raises(export.ExportError) as err:
        export.write(st, s, YEAR, tmp_path / "out")
    msg = str(err.value)
    assert f"records[{row}] ({rec.id}).findings[0].legal_basis" in msg and "nothing written" in msg
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*"))


# -- alerts through the host -----------------------------------------------------------------------------------
@pytest.fixture
def app(make_twin_app):
    app = make_twin_app(builtin=True, plugin_allowlist=["law_enforcement", "alerts"], run_sources=False,
                        public_screens=False, start=False)
    host = app.server.config["TWINBOARD_HOST"]
    host.store.set_plugin_settings("law_enforcement", {"demo": False}, "test")
    seed(host.store)
    host.start()
    assert host.plugins.records["law_enforcement"].status.value == "enabled", host.plugins.records["law_enforcement"].error
    users = Users(host.store)
    users.add("viewer1", "viewer-pass-1", "viewer", "test")
    users.add("manager1", "manager-pass-1", "manager", "test")
    return app


def host_of(app):
    return app.server.config["TWINBOARD_HOST"]


def le_alerts(store):
    return {(a.rule_id.removeprefix("law_enforcement."), a.entity_id): a for a in store.alerts(limit=500)
            if a.plugin == "law_enforcement"}


def test_certificate_overdue_and_behind_plan_alerts_open_and_close(app) -> None:
    host = host_of(app)
    st, s = host.store, host.plugins.records["law_enforcement"].settings
    plans.generate_plan(st, s, YEAR, "boss", today=TODAY)
    host.ingest("law_enforcement", "checks", checks.readings(st, s, TODAY))
    got = le_alerts(st)
    cert = got[("cert_expiry", "le.insp.x")]                     # expires in 20 days
    assert cert.severity == 3 and cert.title == "执法证60天内到期" and cert.title_en.startswith("Enforcement certificate")
    assert ("cert_expiry", "le.insp.a") not in got and ("cert_expiry", "le.insp.n") not in got
    late = sorted((t for t in model.tasks(st, YEAR) if t.due_date() < TODAY), key=lambda t: (t.due, t.id))
    assert late and {k[1] for k in got if k[0] == "task_overdue"} == {t.id for t in late}
    assert {k[1] for k in got if k[0] == "plan_behind"} == {t.enterprise for t in late}
    # a certificate expired yesterday is level II
    host.ingest("law_enforcement", "checks", checks.readings(st, s, TODAY + dt.timedelta(days=21)))
    assert le_alerts(st)[("cert_expiry", "le.insp.x")].severity == 2
    # renewed, the check done: their alerts close
    plans.update_inspector(st, "le.insp.x", {"cert_expiry": "2029-12-31"}, "boss")
    for t in late:
        records.file_record(st, s, t.id, {"date": TODAY.isoformat()}, "boss", today=TODAY)
    host.ingest("law_enforcement", "checks", checks.readings(st, s, TODAY + dt.timedelta(days=22)))
    left = le_alerts(st)
    assert ("cert_expiry", "le.insp.x") not in left
    assert not {k for k in left if k[1] in {t.id for t in late} or k[0] == "plan_behind"
                and k[1] in {t.enterprise for t in late}}
    with pytest.raises(LawError) as err:
        plans.update_inspector(st, "le.insp.x", {"cert_expiry": "31.12.2029"}, "boss")
    assert err.value.field == "cert_expiry"


def test_every_panel_renders_in_both_languages(app) -> None:
    host = host_of(app)
    st, s = host.store, host.plugins.records["law_enforcement"].settings
    plans.update_inspector(st, "le.insp.x", {"cert_expiry": (dt.date.today() + dt.timedelta(days=400)).isoformat()}, "t")
    plans.generate_plan(st, s, dt.date.today().year, "boss")
    for pid in sorted(p for p in host.all_panels() if p.startswith("law_enforcement.")):
        for locale in ("zh_CN", "en"):
            out = json.dumps(render_panel(app, pid, locale=locale), default=str, ensure_ascii=False)
            assert "Traceback" not in out
    eq = json.dumps(render_panel(app, "law_enforcement.equipment"), default=str, ensure_ascii=False)
    assert "0/1" in eq and "1/3" in eq          # sanjia: no vehicle (needs 1); 1 recorder for 3 inspectors
    cert = json.dumps(render_panel(app, "law_enforcement.certified"), default=str, ensure_ascii=False)
    assert "未取得执法证" in cert and "80" in cert   # 4 of 5 active inspectors certified


# -- routes: roles, forms, bad input ---------------------------------------------------------------------------
def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def login(app, name: str, password: str):
    client = app.server.test_client()
    token = csrf_of(client.get("/login").get_data(as_text=True))
    assert client.post("/login", data={"username": name, "password": password, "csrf_token": token}).status_code == 302
    return client, token


LE = "/plugins/law_enforcement"


def test_manager_page_forms_and_json_api(app) -> None:
    host = host_of(app)
    client, _ = login(app, "manager1", "manager-pass-1")
    year = dt.date.today().year
    plans.update_inspector(host.store, "le.insp.x", {"cert_expiry": "2099-01-01"}, "t")
    page = client.get(f"{LE}/manage").get_data(as_text=True)
    token = csrf_of(page)
    h = {"X-CSRFToken": token}
    assert client.post(f"{LE}/plan/generate", json={"year": "20x6"}, headers=h).get_json()["field"] == "year"
    resp = client.post(f"{LE}/plan/generate", data={"year": str(year), "csrf_token": token})
    assert resp.status_code == 302 and "/manage" in resp.headers["Location"]
    page = client.get(f"{LE}/manage").get_data(as_text=True)
    ts = model.tasks(host.store, year)
    assert len(ts) == 12 and all(t.id in page for t in ts)
    t = ts[0]
    bad = client.post(f"{LE}/tasks/{t.id}/move", data={"month": "13", "csrf_token": token})
    assert bad.status_code == 302
    assert "field &#39;month&#39;: 13 is not a month" in client.get(f"{LE}/manage").get_data(as_text=True)
    r = client.post(f"{LE}/tasks/{t.id}/record", data={
        "csrf_token": token, "date": dt.date.today().isoformat(), "inspectors": ",".join(t.inspectors),
        "finding_type": "evacuation", "finding_description": "疏散通道堆放杂物", "finding_level": "general",
        "measure_kind": ["rectify_order"], "deadline": (dt.date.today() + dt.timedelta(days=10)).isoformat()})
    assert r.status_code == 302
    assert model.records(host.store), re.findall(r'tb-flash-error">([^<]*)', client.get(f"{LE}/manage").get_data(as_text=True))
    rec = model.records(host.store)[0]
    assert rec.findings[0]["legal_basis"] == "《中华人民共和国安全生产法》第四十二条" and rec.state == "rectifying"
    assert client.get(f"{LE}/records/{rec.id}").get_json()["task"] == t.id
    file = client.get(f"{LE}/enterprises/{t.enterprise}").get_json()
    assert file["records"][0]["id"] == rec.id and file["grade"] == t.grade and "file" in file
    page = client.get(f"{LE}/manage?enterprise={t.enterprise}").get_data(as_text=True)
    assert "一企一档" in page and "疏散通道堆放杂物" in page
    j = client.post(f"{LE}/units/le.unit.sanjia/equipment", json={"equipment": {"vehicle": "-1"}}, headers=h)
    assert j.status_code == 400 and j.get_json()["field"] == "equipment.vehicle"
    assert client.post(f"{LE}/units/le.unit.sanjia/equipment", json={"equipment": {"vehicle": 1}},
                       headers=h).get_json()["equipment"]["vehicle"] == 1
    assert client.get(f"{LE}/export/{year}.json").get_json()["counts"]["records"] == 1
    assert client.get(f"{LE}/export/{year}/plan.csv").data.decode("utf-8-sig").startswith("task_id,kind,")
    assert client.get(f"{LE}/export/{year}/secrets.csv").status_code == 404
    assert client.post(f"{LE}/tasks", data=b"[1,2", headers={**h, "Content-Type": "application/json"}).status_code == 400


def test_viewer_cannot_change_anything_over_real_http(tmp_path) -> None:
    """A served host (run.py, gunicorn): viewers and strangers are refused every change; a manager is not."""
    import sys
    sys.path.insert(0, str(Path(__file__).parent))
    from conftest import start_server
    server = start_server(tmp_path, plugin_allowlist=["law_enforcement"], public_screens=False,
                          plugins={"law_enforcement": {"settings": {"demo": False}}})
    try:
        st = open_store(f"sqlite:///{tmp_path / 'twin.sqlite'}")
        users = Users(st)
        users.add("viewer1", "viewer-pass-1", "viewer", "test")
        users.add("manager1", "manager-pass-1", "manager", "test")
        seed(st)
        year = dt.date.today().year

        def session(name: str | None, password: str = "") -> tuple[requests.Session, str]:
            s = requests.Session()
            token = csrf_of(s.get(server.url + "/login", timeout=10).text)
            if name:
                r = s.post(server.url + "/login", data={"username": name, "password": password, "csrf_token": token},
                           allow_redirects=False, timeout=10)
                assert r.status_code == 302
            return s, s.cookies.get("_csrf_token") or token

        anon, viewer, manager = session(None), session("viewer1", "viewer-pass-1"), session("manager1", "manager-pass-1")
        changes = [("plan/generate", {"year": year}), ("tasks", {"year": year, "enterprise": "t.ent.file", "month": 5}),
                   (f"tasks/le.task.{year}.t.ent.file.1/cancel", {"reason": "x"}),
                   ("inspectors/le.insp.a", {"cert_expiry": "2031-01-01"}),
                   ("units/le.unit.sanjia/equipment", {"equipment": {"vehicle": 3}}), (f"export/{year}", {})]
        before = (len(model.tasks(st)), st.audit_log(limit=1000))
        for s, token in (anon, viewer):
            for path, body in changes:
                r = s.post(f"{server.url}{LE}/{path}", json=body, headers={"X-CSRFToken": token},
                           allow_redirects=False, timeout=10)
                assert r.status_code in (302, 401, 403), (path, r.status_code)
            assert s.get(f"{server.url}{LE}/manage", allow_redirects=False, timeout=10).status_code in (302, 401, 403)
            assert s.get(f"{server.url}{LE}/export/{year}.json", allow_redirects=False,
                         timeout=10).status_code in (302, 401, 403)
        assert (len(model.tasks(st)), st.audit_log(limit=1000)) == before
        assert viewer[0].get(f"{server.url}{LE}/plan/{year}", timeout=10).status_code == 200   # viewers may read
        s, token = manager
        r = s.post(f"{server.url}{LE}/inspectors/le.insp.a", json={"cert_expiry": "2031-01-01"},
                   headers={"X-CSRFToken": token}, timeout=10)
        assert r.status_code == 200 and r.json()["cert_expiry"] == "2031-01-01"
        assert s.post(f"{server.url}{LE}/inspectors/le.insp.a", json={"cert_expiry": "2031-01-01"},
                      timeout=10).status_code == 400                                            # no CSRF token
        entry = next(a for a in st.audit_log() if a.action == "law_enforcement.inspector.update")
        assert entry.actor == "manager1" and entry.new["cert_expiry"] == "2031-01-01"
    finally:
        server.proc.terminate()
        server.proc.wait(10)
