"""enterprise_park risk model (issue 18, item 1): a newly found open hazard or a new alarm never lowers an
enterprise's risk score, and only real inspections (file records, walk-rounds) count as inspections."""

from __future__ import annotations

import datetime as dt
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.api import AlertDraft, Entity, Severity
from core.plugins.testing import twin_store  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from plugins.enterprise_park import inspections, risk  # noqa: E402

DAY = 86400.0
NOW = dt.datetime(2026, 12, 4, 10, 0).timestamp()


def _enterprise(store, ent_id: str, **props) -> None:
    store.upsert([Entity(id=ent_id, site_id=None, kind="sme_enterprise", name=ent_id, name_en="", plugin="enterprise_park",
                         geometry={"type": "Point", "coordinates": [121.4, 28.7]},
                         properties={"park": "ep.park.x", "industry": "机械", "contacts": [{"name": "甲"}],
                                     "safety_officer": {"name": "乙"}, **props}, updated_at=NOW)])


def _score(store, ent_id: str, now: float = NOW) -> risk.RiskScore:
    return risk.snapshot(store, now=now, ttl_s=0).scores[ent_id]


def _close_all(store) -> None:
    for insp in inspections.all_inspections(store):
        for action in ("assign", "submit", "approve"):
            inspections.transition(store, insp.id, action, "街道安监站", photos=["photos/fixed.jpg"] * (action == "submit"),
                                   now=NOW + 3600)


def _factor(sc: risk.RiskScore, key: str) -> float:
    return next(f.points for f in sc.factors if f.key == key)


def test_first_walk_round_hazard_raises_the_score_29_case(twin_store):
    """The reported case: 0 → 1 open general hazard took 29 down to 23 (the age factor, 10, was reset)."""
    _enterprise(twin_store, "ep.ent.a",
                hazardous_chemicals=[{"name": "液化石油气", "critical_t": 10, "max_stock_t": 0.7, "use": "储存"}],
                permits=[{"name": "危化品经营许可", "valid_until": "2026-01-01"},
                         {"name": "排污许可", "valid_until": "2025-06-30"}],
                inspection_history=[{"date": "2026-05-01", "inspector": "街道安监站", "result": "合格"}])
    before = _score(twin_store, "ep.ent.a")
    assert before.total == 29 and _factor(before, "inspection_age") == 10
    inspections.create(twin_store, enterprise_id="ep.ent.a", title="消防通道堵塞", responsible="乙",
                       deadline=NOW + 3 * DAY, actor="园区安全员", now=NOW)
    after = _score(twin_store, "ep.ent.a")
    assert after.total == 33 > before.total
    assert _factor(after, "open_hazards") == 4 and _factor(after, "inspection_age") == 10
    # once the hazard is closed (销号) the walk-round counts for the age: then the score may fall
    _close_all(twin_store)
    closed = _score(twin_store, "ep.ent.a", NOW + 7200)
    assert _factor(closed, "open_hazards") == 0 and _factor(closed, "inspection_age") == 0 and closed.total == 19


def test_ai_patrol_hazard_raises_the_score_and_is_not_an_inspection(twin_store):
    """The reported case: last inspected in 2022, one AI-patrol hazard found today: 10 went down to 4."""
    _enterprise(twin_store, "ep.ent.b",
                inspection_history=[{"date": "2022-03-15", "inspector": "街道安监站", "result": "合格"}])
    before = _score(twin_store, "ep.ent.b")
    assert before.total == 10
    assert risk.snapshot(twin_store, now=NOW, ttl_s=0).kpis()["risk_control_enterprises"] == 0.0
    inspections.create(twin_store, enterprise_id="ep.ent.b", title="AI巡查确认:未佩戴安全帽", responsible="乙",
                       deadline=NOW + 3 * DAY, actor="值班员", source="ai_patrol", now=NOW)
    after = _score(twin_store, "ep.ent.b")
    assert after.total == 14 and _factor(after, "inspection_age") == 10
    snap = risk.snapshot(twin_store, now=NOW, ttl_s=0)
    # an AI finding is not a visit: the enterprise is still not "inspected in the last 90 days"
    assert snap.kpis()["risk_control_enterprises"] == 0.0
    # even once closed, an AI finding does not reset the inspection age
    _close_all(twin_store)
    assert _factor(_score(twin_store, "ep.ent.b", NOW + 7200), "inspection_age") == 10


def test_walk_round_counts_as_inspection_for_the_kpi(twin_store):
    _enterprise(twin_store, "ep.ent.c",
                inspection_history=[{"date": "2022-03-15", "inspector": "街道安监站", "result": "合格"}])
    assert risk.snapshot(twin_store, now=NOW, ttl_s=0).kpis()["risk_control_enterprises"] == 0.0
    inspections.create(twin_store, enterprise_id="ep.ent.c", title="配电箱未上锁", responsible="乙",
                       deadline=NOW + 3 * DAY, actor="园区安全员", source="inspection", now=NOW - DAY)
    assert risk.snapshot(twin_store, now=NOW, ttl_s=0).kpis()["risk_control_enterprises"] == 1.0


def test_alarm_through_the_store_raises_the_score(twin_store):
    _enterprise(twin_store, "ep.ent.d")
    before = _score(twin_store, "ep.ent.d").total
    twin_store.raise_alert(AlertDraft("enterprise_park.gas", "ep.ent.d", Severity.II, "可燃气体报警"), "enterprise_park")
    assert _score(twin_store, "ep.ent.d", time.time()).total == before + 4


# -- property: for any enterprise, a new open hazard or a new alarm never lowers the score --------------------
dates = st.integers(0, 6 * 365).map(lambda d: (dt.date(2021, 1, 1) + dt.timedelta(days=d)).isoformat())
chemicals = st.lists(st.fixed_dictionaries({
    "critical_t": st.one_of(st.none(), st.sampled_from([1, 5, 10, 50, 200])),
    "max_stock_t": st.floats(0, 100), "use": st.sampled_from(["储存", "使用"])}), max_size=4)
enterprise_props = st.fixed_dictionaries({
    "hazardous_chemicals": chemicals,
    "permits": st.lists(st.fixed_dictionaries({"valid_until": dates}), max_size=3),
    "inspection_history": st.lists(st.fixed_dictionaries({"date": dates}), max_size=3)})
hazards = st.builds(
    lambda ago, days, level, state, source, esc: inspections.Inspection(
        id="h", enterprise="e", park="p", title="t", level=level, state=state, responsible="r",
        deadline=NOW - ago * DAY + days * DAY, found_at=NOW - ago * DAY, found_by="x", source=source, escalation=esc),
    st.floats(0, 1500), st.floats(0, 30), st.sampled_from(["general", "major"]),
    st.sampled_from(inspections.STATES), st.sampled_from(["inspection", "ai_patrol"]), st.integers(0, 3))
open_hazards = hazards.filter(lambda h: h.state != "closed")
alarms = st.builds(lambda sev, ago: SimpleNamespace(severity=sev, opened_at=NOW - ago * DAY),
                   st.integers(1, 4), st.floats(0, 60))


@settings(max_examples=300, deadline=None)
@given(enterprise_props, st.lists(hazards, max_size=8), st.lists(alarms, max_size=8),
       st.one_of(open_hazards, alarms))
def test_adding_an_open_hazard_or_an_alarm_never_lowers_the_score(props, insps, alerts, added):
    ent = SimpleNamespace(id="e", name="E", properties=props)
    before = risk.score(ent, insps, alerts, NOW)
    if isinstance(added, inspections.Inspection):
        after = risk.score(ent, [*insps, added], alerts, NOW)
    else:
        after = risk.score(ent, insps, [*alerts, added], NOW)
    assert after.total >= before.total, (before.factors, after.factors)
    assert after.total == pytest.approx(min(100, sum(f.points for f in after.factors)), abs=0.05)
