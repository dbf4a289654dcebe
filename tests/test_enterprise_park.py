"""enterprise_park without a broker: twin files, payload schemas, the hazard loop, AI review, alarm rules,
risk scores and KPIs, panels and the dashboard layout."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from core.api import Reading, Severity
from core.web.dashboards import load_dashboard
from core.plugins.testing import make_twin_app, panel_text, render_panel, twin_store  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from plugins.enterprise_park import ai_patrol, inspections, risk  # noqa: E402
from plugins.enterprise_park.payloads import Decoder, Device, Rejected  # noqa: E402
from plugins.enterprise_park.rules import RateRule, rules  # noqa: E402
from plugins.enterprise_park.twin import devices_from_files, twin_files  # noqa: E402


def plugin_app(make_twin_app, **settings):
    base = {"demo_broker": False, "demo_publisher": False, "demo_inspections": False}
    base.update(settings)
    app = make_twin_app(plugins_dir=ROOT / "plugins", plugin_allowlist=["enterprise_park", "alerts"], start=False,
                        run_sources=False)
    host = app.server.config["TWINBOARD_HOST"]
    host.store.set_plugin_settings("enterprise_park", base, "test")
    host.start()
    assert host.plugins.records["enterprise_park"].status.value == "enabled", host.plugins.records["enterprise_park"].error
    return app, host


# -- twin ------------------------------------------------------------------------------------------
def test_demo_twin_is_marked_and_every_enterprise_has_a_file_and_devices():
    files = twin_files()
    assert files[0].name == "parks.yaml" and len(files) >= 9
    for f in files:
        assert "DEMO DATA" in f.read_text(encoding="utf-8").splitlines()[0]
    devs = devices_from_files()
    assert {d.device_type for d in devs} == {"meter", "elec_fire", "gas", "smoke"}
    assert len({d.device_id for d in devs}) == len(devs)


def test_twin_loads_with_files_permits_chemicals_and_history(make_twin_app):
    _, host = plugin_app(make_twin_app)
    ents = host.store.entities(kind="sme_enterprise", plugin="enterprise_park")
    assert len(ents) == 10
    for e in ents:
        p = e.properties
        for key in ("industry", "staff", "hazardous_chemicals", "permits", "contacts", "inspection_history", "park"):
            assert key in p, (e.id, key)
    parks = host.store.entities(kind="sme_park", plugin="enterprise_park")
    assert sorted(int(p.properties["star_rating"]) for p in parks) == [0, 2, 3, 4]


# -- payloads ----------------------------------------------------------------------------------------
@pytest.fixture
def decoder():
    return Decoder({"m1": Device("m1", "ep.dev.m1", "ep.park.xiachen", "meter"),
                    "s1": Device("s1", "ep.dev.s1", "ep.park.xiachen", "smoke")}, max_bytes=256)


@pytest.mark.parametrize("payload, kind, where", [
    (b'{"ts": %(t)f, "power_kw": true, "energy_kwh": 1}', "malformed", "power_kw"),
    (b'{"ts": %(t)f, "power_kw": "12", "energy_kwh": 1}', "malformed", "power_kw"),
    (b'{"ts": %(t)f, "power_kw": 1e9, "energy_kwh": 1}', "malformed", "power_kw"),
    (b'{"ts": %(t)f, "energy_kwh": 1}', "malformed", "power_kw"),
    (b'{"ts": %(t)f, "power_kw": 1, "energy_kwh": 1, "x": 2}', "malformed", "x"),
    (b'[1, 2]', "malformed", "payload"),
    (b'{"ts": 1000, "power_kw": 1, "energy_kwh": 1}', "malformed", "timestamp"),
    (b'{"ts": %(t)f, "power_kw": 1, "energy_kwh": 1, "voltage_v": 230, "current_a": 1, "seq": 1, "zz": "' + b"x" * 300 + b'"}',
     "oversized", "bytes"),
])
def test_decoder_rejects_with_reason(decoder, payload, kind, where):
    t = time.time()
    r = decoder.decode("twinboard/ep/xiachen/meter/m1/data", payload % {b"t": t} if b"%(t)" in payload else payload)
    assert isinstance(r, Rejected) and r.kind == kind and where in r.reason, r


def test_decoder_accepts_ints_and_optional_fields(decoder):
    t = time.time()
    r = decoder.decode("twinboard/ep/xiachen/meter/m1/data", b'{"ts": %f, "power_kw": 12, "energy_kwh": 3.5}' % t)
    assert [(x.metric, x.value, x.unit) for x in r] == [("power_kw", 12.0, "kW"), ("energy_kwh", 3.5, "kWh")]
    r = decoder.decode("twinboard/ep/xiachen/smoke/s1/data", b'{"ts": %f, "alarm": true}' % t)
    assert [(x.entity_id, x.metric, x.value) for x in r] == [("ep.dev.s1", "smoke_alarm", 1.0)]
    assert isinstance(decoder.decode("other/xiachen/smoke/s1/data", b"{}"), Rejected)


def test_batch_decoding_gives_exactly_what_one_by_one_decoding_gives(decoder):
    """The ingest hot path (decode_batch on raw topic bytes, cached routes) against decode(), message by
    message, over good and bad messages mixed: the same readings in order, the same rejections."""
    t = time.time()
    meter, smoke = "twinboard/ep/xiachen/meter/m1/data", "twinboard/ep/xiachen/smoke/s1/data"
    msgs = [(meter, b'{"ts": %f, "power_kw": 12, "energy_kwh": 3.5, "voltage_v": 230}' % t),
            (smoke, b'{"ts": %f, "alarm": false, "battery_pct": 80}' % t),
            (meter, b'{"ts": %f, "power_kw": "12", "energy_kwh": 1}' % t),                 # malformed
            (smoke, b'{"ts": %f, "alarm": true, "pad": "%s"}' % (t, b"x" * 300)),          # oversized
            ("twinboard/ep/xiachen/gas/nobody/data", b'{"ts": %f, "gas_lel_pct": 1}' % t),  # unknown
            (meter, b'{"ts": 1000, "power_kw": 1, "energy_kwh": 1}'),                       # too old
            (meter, b'{"ts": %f, "power_kw": NaN, "energy_kwh": 1}' % t),                   # NaN
            (smoke, b'{"ts": %f, "alarm": true}' % (t + 1)),
            (meter, b'{"ts": %f, "power_kw": 13, "energy_kwh": 3.6}' % (t + 1))]
    items = [(topic.encode(), payload) for topic, payload in msgs]
    items.insert(4, (b"twinboard/ep/\xff/meter/m1/data", b"{}"))                           # topic not UTF-8
    for _ in range(2):                                                                      # cold, then cached routes
        out: list = []
        rejected = dict(decoder.decode_batch([tp for tp, _ in items], [pl for _, pl in items], t, out))
        expected, kinds = [], {}
        for i, (topic, payload) in enumerate(items):
            try:
                r = decoder.decode(topic.decode(), payload, now=t)
            except UnicodeDecodeError:
                r = Rejected("malformed", repr(topic), "topic is not UTF-8")
            if isinstance(r, Rejected):
                kinds[i] = (r.kind, r.reason)
            else:
                expected.extend(r)
        assert out == expected and len(out) == 3 + 2 + 1 + 2
        assert {i: (r.kind, r.reason) for i, r in rejected.items()} == kinds
        assert sorted(r.kind for r in rejected.values()) == ["malformed"] * 4 + ["oversized", "unknown"]


# -- hazard loop --------------------------------------------------------------------------------------
def test_hazard_loop_with_audit_photos_and_wrong_steps(make_twin_app):
    _, host = plugin_app(make_twin_app)
    st = host.store
    now = time.time()
    i = inspections.create(st, enterprise_id="ep.ent.hm-plastic", title="配电柜柜前堆物", responsible="吴芳",
                           deadline=now + 86400, actor="园区安全员", photos=["photos/a.jpg"])
    assert i.state == "found" and i.park == "ep.park.xiachen"
    with pytest.raises(inspections.InspectionError, match="cannot 'approve'"):
        inspections.transition(st, i.id, "approve", "x")
    inspections.transition(st, i.id, "assign", "园区安全员", note="限期一天")
    with pytest.raises(inspections.InspectionError, match="photo"):
        inspections.transition(st, i.id, "submit", "企业")
    with pytest.raises(inspections.InspectionError, match="relative image path"):
        inspections.transition(st, i.id, "submit", "企业", photos=["../../etc/passwd"])
    inspections.transition(st, i.id, "submit", "企业", photos=["photos/b.jpg"])
    with pytest.raises(inspections.InspectionError, match="note"):
        inspections.transition(st, i.id, "reject", "街道")
    inspections.transition(st, i.id, "reject", "街道", note="照片不清")
    inspections.transition(st, i.id, "submit", "企业", photos=["photos/c.jpg"])
    done = inspections.transition(st, i.id, "approve", "街道安监站", note="销号")
    assert done.state == "closed" and done.closed_at and done.rectify_photos == ["photos/b.jpg", "photos/c.jpg"]
    with pytest.raises(inspections.InspectionError, match="closed"):
        inspections.transition(st, i.id, "assign", "x")
    trail = [(a.action, a.old, (a.new or {}).get("state")) for a in reversed(st.audit_log())
             if a.target == f"inspection:{i.id}"]
    assert trail == [("enterprise_park.inspection.found", None, "found"),
                     ("enterprise_park.inspection.assign", "found", "rectifying"),
                     ("enterprise_park.inspection.submit", "rectifying", "reviewing"),
                     ("enterprise_park.inspection.reject", "reviewing", "rectifying"),
                     ("enterprise_park.inspection.submit", "rectifying", "reviewing"),
                     ("enterprise_park.inspection.approve", "reviewing", "closed")]
    assert [h["state"] for h in inspections.get(st, i.id).history][-1] == "closed"


def test_overdue_hazard_escalates_and_raises_then_clears_an_alert(make_twin_app):
    _, host = plugin_app(make_twin_app)
    st = host.store
    now = time.time()
    i = inspections.create(st, enterprise_id="ep.ent.qs-recycle", title="电线私拉乱接", responsible="徐斌",
                           deadline=now - 4 * 86400, actor="街道", now=now - 6 * 86400)
    inspections.transition(st, i.id, "assign", "街道", now=now - 5 * 86400)
    up = inspections.escalate_overdue(st, now)
    assert [x.escalation for x in up] == [2]                     # 4 days overdue: the street office
    assert inspections.escalate_overdue(st, now) == []           # audited once per level
    assert any(a.action == "enterprise_park.inspection.escalated" and a.new["to"] == "街道" for a in st.audit_log())
    host.ingest("enterprise_park", "inspections", inspections.overdue_readings(inspections.all_inspections(st), now))
    alert = next(a for a in st.alerts() if a.entity_id == i.id)
    assert alert.rule_id == "enterprise_park.hazard_overdue" and alert.severity == Severity.III
    assert inspections.escalate_overdue(st, now + 4 * 86400)[0].escalation == 3
    inspections.transition(st, i.id, "submit", "企业", photos=["photos/ok.jpg"], now=now + 4 * 86400)
    host.ingest("enterprise_park", "inspections",
                inspections.overdue_readings(inspections.all_inspections(st), now + 4 * 86400 + 1))
    assert not [a for a in st.alerts() if a.entity_id == i.id]
    stats = inspections.statistics(inspections.all_inspections(st), now)
    assert stats["ep.park.qiansuo"]["reviewing"] == 1


def test_demo_seed_and_demo_loop_walk_the_whole_cycle(make_twin_app):
    _, host = plugin_app(make_twin_app, demo_inspections=True)
    st = host.store
    seeded = inspections.all_inspections(st)
    assert {i.state for i in seeded} == set(inspections.STATES)
    assert sum(i.is_overdue(time.time()) for i in seeded) >= 2
    loop = inspections.DemoLoop()
    steps = [loop.step(st) for _ in range(7)]      # the first cycle also shows a failed review
    assert [s.split()[1] for s in steps] == ["found", "assign", "submit", "reject", "submit", "approve", "found"]


# -- AI patrol -------------------------------------------------------------------------------------
def test_ai_detection_waits_for_a_person_then_becomes_an_inspection(make_twin_app):
    _, host = plugin_app(make_twin_app)
    st = host.store
    ev = {"camera_id": "ep.cam.xiachen.gate", "kind": "blocked_exit", "confidence": 0.81, "ts": time.time(),
          "enterprise_id": "ep.ent.tz-mould", "snapshot": "snapshots/1.jpg", "detector": "test"}
    a = ai_patrol.handle_detection(st, ev)
    assert a.state == "open" and ai_patrol.PENDING_MARK in a.title and a.severity == Severity.III
    assert [x.id for x in ai_patrol.pending(st)] == [a.id]
    assert ai_patrol.handle_detection(st, ev | {"confidence": 0.2}) is None
    with pytest.raises(ai_patrol.DetectionError, match="kind"):
        ai_patrol.handle_detection(st, ev | {"kind": "ufo"})
    out = ai_patrol.review(st, a.id, "值班员", confirmed=True, note="确认")
    assert ai_patrol.pending(st) == []
    insp = inspections.get(st, out["inspection"])
    assert insp.source == "ai_patrol" and insp.enterprise == "ep.ent.tz-mould" and insp.state == "found"
    b = ai_patrol.handle_detection(st, ev | {"kind": "smoke_fire", "enterprise_id": None})
    assert b.entity_id == "ep.cam.xiachen.gate"
    ai_patrol.review(st, b.id, "值班员", confirmed=False, note="误报:蒸汽")
    assert b.id not in [x.id for x in st.alerts()]
    actions = [x.action for x in st.audit_log()]
    for act in ("detected", "confirmed", "rejected"):
        assert f"enterprise_park.ai_patrol.{act}" in actions
    with pytest.raises(ai_patrol.DetectionError):
        ai_patrol.review(st, b.id, "x", confirmed=True)


# -- rules -----------------------------------------------------------------------------------------
def test_threshold_and_rate_rules_through_the_host(make_twin_app):
    _, host = plugin_app(make_twin_app)
    t = time.time() - 300
    dev = "ep.dev.hm-plastic-ef1"
    host.ingest("enterprise_park", "mqtt", [Reading(dev, "cable_temp_c", t, 35.0, "°C")])
    host.ingest("enterprise_park", "mqtt", [Reading(dev, "cable_temp_c", t + 30, 41.0, "°C")])   # +12 °C/min
    rules_hit = {a.rule_id: a.severity for a in host.store.alerts() if a.entity_id == dev}
    assert rules_hit == {"enterprise_park.cable_temp_rise": Severity.II}
    host.ingest("enterprise_park", "mqtt", [Reading(dev, "cable_temp_c", t + 60, 72.0, "°C"),
                                            Reading(dev, "residual_ma", t + 60, 520.0, "mA")])
    rules_hit = {a.rule_id: a.severity for a in host.store.alerts() if a.entity_id == dev}
    assert rules_hit["enterprise_park.cable_temp"] == Severity.II
    assert rules_hit["enterprise_park.residual_current"] == Severity.II
    host.ingest("enterprise_park", "mqtt", [Reading(dev, "cable_temp_c", t + 120, 40.0, "°C"),
                                            Reading(dev, "cable_temp_c", t + 180, 39.0, "°C"),
                                            Reading(dev, "residual_ma", t + 180, 30.0, "mA")])
    assert not [a for a in host.store.alerts() if a.entity_id == dev]
    # other plugins' entities are not this plugin's business
    host.ingest("x", "y", [Reading("demo.gas.t1", "gas_lel_pct", t, 80.0, "%LEL")])
    assert not [a for a in host.store.alerts() if a.entity_id == "demo.gas.t1"]


def test_rate_rule_ignores_noise_and_gaps():
    r = RateRule("t.rise", "gas_lel_pct", {Severity.III: 5.0}, "z", "e")
    assert r.evaluate([Reading("ep.dev.a", "gas_lel_pct", 0, 0.0)]) == []
    assert r.evaluate([Reading("ep.dev.a", "gas_lel_pct", 2, 3.0)]) == []        # too close: no rate yet
    assert r.evaluate([Reading("ep.dev.a", "gas_lel_pct", 5000, 30.0)]) == []    # a gap: start again
    assert len(r.evaluate([Reading("ep.dev.a", "gas_lel_pct", 5030, 34.0)])) == 1
    assert {x.id for x in rules()} >= {"enterprise_park.gas", "enterprise_park.smoke", "enterprise_park.hazard_overdue"}


# -- risk and KPIs ------------------------------------------------------------------------------------
def test_risk_score_is_the_sum_of_explained_factors_and_ranks_parks(make_twin_app):
    _, host = plugin_app(make_twin_app, demo_inspections=True)
    snap = risk.snapshot(host.store, ttl_s=0)
    for s in snap.scores.values():
        assert s.total == pytest.approx(min(100, sum(f.points for f in s.factors)), abs=0.05)
        assert {f.key for f in s.factors} == {"chemicals", "open_hazards", "overdue", "alarms", "inspection_age",
                                             "permits"}
    jj, textile = snap.scores["ep.ent.jj-autoparts"], snap.scores["ep.ent.mh-toilet"]
    assert jj.total > textile.total                       # LPG stored + an overdue major hazard
    ranking = snap.park_ranking()
    assert [round(v, 1) for _, v, _ in ranking] == sorted((round(v, 1) for _, v, _ in ranking), reverse=True)
    before = snap.scores["ep.ent.hy-pump"].total
    host.ingest("enterprise_park", "mqtt", [Reading("ep.dev.hy-pump-gd1", "gas_lel_pct", time.time(), 60.0, "%LEL")])
    after = risk.snapshot(host.store, ttl_s=0).scores["ep.ent.hy-pump"]
    assert after.total == before + 6 and next(f for f in after.factors if f.key == "alarms").detail == "1"


def test_kpis_digital_supervision_and_risk_control_coverage(make_twin_app):
    _, host = plugin_app(make_twin_app)
    k = risk.snapshot(host.store, ttl_s=0).kpis()
    assert k["star_parks"] == 3 and k["digital_coverage"] == 0.0 and k["devices_online"] == 0
    now = time.time()
    star = {p.id for p in host.store.entities(kind="sme_park") if p.properties["star_rating"] >= 1}
    readings = [Reading(d.id, "battery_pct", now, 90.0, "%") for d in host.store.entities(kind="iot_device")
                if d.properties["park"] in star and d.properties["device_type"] == "smoke"]
    host.ingest("enterprise_park", "mqtt", readings)
    k = risk.snapshot(host.store, ttl_s=0).kpis()
    assert k["digital_coverage"] == 1.0 and k["devices_online"] == len(readings)
    # the village cluster's workshops were last inspected in spring: risk control not yet covered there
    assert 0 < k["risk_control_coverage"] < 1 and k["risk_control_enterprises"] == 0.8


# -- panels and dashboard --------------------------------------------------------------------------------
def test_every_panel_renders_in_both_languages(make_twin_app):
    app, host = plugin_app(make_twin_app, demo_inspections=True)
    ai_patrol.handle_detection(host.store, {"camera_id": "ep.cam.sanjia.gate", "kind": "no_helmet", "confidence": 0.9,
                                            "ts": time.time(), "enterprise_id": "ep.ent.hy-pump"})
    host.ingest("enterprise_park", "mqtt", [Reading("ep.dev.jj-autoparts-gd1", "gas_lel_pct", time.time(), 30.0, "%LEL")])
    for loc in ("zh_CN", "en"):
        for pid in ("kpis", "ranking", "enterprise", "inspections", "devices", "review"):
            render_panel(app, f"enterprise_park.{pid}", locale=loc)
    assert "超期隐患" in str(render_panel(app, "enterprise_park.inspections"))
    assert "AI待复核" in str(render_panel(app, "enterprise_park.review"))
    assert "Why this score" in str(render_panel(app, "enterprise_park.enterprise", {"enterprise": "ep.ent.sj-pharma"},
                                                locale="en"))
    deck = render_panel(app, "enterprise_park.map")
    assert deck["initialViewState"]["latitude"] == pytest.approx(28.668)


def test_dashboard_fits_the_canvas_below_the_title_bar():
    d = load_dashboard(ROOT / "config" / "dashboards" / "enterprise_park.yaml")
    assert (d.canvas.width, d.canvas.height) == (1920, 1080)
    boxes = [(p.x, p.y, p.x + p.w, p.y + p.h) for p in d.panels]
    for x0, y0, x1, y1 in boxes:
        assert y0 >= 88 and x1 <= 1920 and y1 <= 1080
    for i, a in enumerate(boxes):                       # no overlaps
        for b in boxes[i + 1:]:
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], (a, b)
    assert {p.panel for p in d.panels} >= {"enterprise_park.map", "enterprise_park.kpis", "enterprise_park.devices"}


def test_a_reported_hazard_is_found_by_its_ref_and_taken_once(any_store) -> None:
    """Store.entities(where=...) compares a property in the database (SQLite and PostgreSQL); the park finds
    the hazard a report opened by that, takes a re-delivered report once, numbers new hazards after the
    ones already stored, and writes each hazard with its audit entry."""
    from core.api import Entity, HazardReported
    from plugins.enterprise_park import field_reports
    store = any_store
    store.upsert([Entity(id="ep.ent.t1", site_id=None, kind="sme_enterprise", name="测试企业", plugin="enterprise_park",
                         geometry={"type": "Point", "coordinates": [121.44, 28.68]},
                         properties={"park": "p1", "safety_officer": {"name": "王强"}})])
    now = time.time()
    for k in range(5):
        inspections.create(store, enterprise_id="ep.ent.t1", title=f"隐患{k}", responsible="王强",
                           deadline=now + 86400, actor="t", now=now, ref=f"gp.rpt.r{k}" if k % 2 else "")
    assert [i.title for i in inspections.by_ref(store, "gp.rpt.r3")] == ["隐患3"]
    assert inspections.by_ref(store, "gp.rpt.none") == [] and inspections.by_ref(store, "") == []
    assert [e.name for e in store.entities(kind="inspection", where={"ref": "gp.rpt.r1"})] == ["隐患1"]
    with pytest.raises(TypeError):
        store.entities(kind="inspection", where={"ref": 3})
    inspections._last_no.clear()          # a new process: numbering goes on after what is stored
    ev = HazardReported(plugin="grid_patrol", report_id="gp.rpt.new", entity_id="ep.ent.t1", category="fire",
                        level="major", title="消防通道堵塞", description="d", lon=121.44, lat=28.68,
                        photos=("/plugins/grid_patrol/photos/g/a.jpg",), reporter="gw1")
    got = field_reports.take(store, ev, now=now)
    assert got is not None and got.ref == "gp.rpt.new" and got.level == "major"
    assert got.id.endswith("-6") and len({i.id for i in inspections.all_inspections(store)}) == 6
    assert field_reports.take(store, ev, now=now) is None              # re-delivered: not a second hazard
    assert [i.id for i in inspections.by_ref(store, "gp.rpt.new")] == [got.id]
    assert store.entity(got.id).geometry == {"type": "Point", "coordinates": [121.44, 28.68]}
    found = [a for a in store.audit_log() if a.target == f"inspection:{got.id}"]
    assert [a.action for a in found] == ["enterprise_park.inspection.found"]


# -- English screens (issue 19) ------------------------------------------------------------------------


def test_demo_panels_read_in_english_and_show_no_machine_text(make_twin_app):
    """Every text of the park brain's panels on an English screen is English for the demo (names, roles,
    industries, chemicals, permits, hazard titles, file records, alert titles); no id shows on any screen.
    A detection from a camera the park does not know shows the camera's name (another plugin's twin)."""
    from test_machine_text import english_problems, machine_text_problems
    from core.api import Entity
    app, host = plugin_app(make_twin_app, demo_inspections=True)
    st, now = host.store, time.time()
    st.upsert([Entity(id="forest_fire.cam_fengshan", site_id=None, kind="camera", name="凤山云台(演示)",
                      name_en="Fengshan PTZ (demo)", plugin="forest_fire", geometry=None, properties={})])
    for cam in ("forest_fire.cam_fengshan@west", "other_plugin.cam_gone"):   # one view of a camera known elsewhere,
        ai_patrol.handle_detection(st, {"camera_id": cam, "kind": "smoke_fire", "confidence": 0.8, "ts": now},
                                   assigned=False)                           # a camera known nowhere
    fengshan = next(a for a in st.alerts() if a.entity_id == "forest_fire.cam_fengshan@west")
    assert fengshan.message_en.startswith("Fengshan PTZ (demo): ") and fengshan.message.startswith("凤山云台(演示) ")
    ai_patrol.handle_detection(st, {"camera_id": "ep.cam.xiachen.gate", "kind": "no_helmet", "confidence": 0.9,
                                    "ts": now, "enterprise_id": "ep.ent.xl-crafts"})
    inspections.DemoLoop().step(st, now)                                  # a live hazard: the "latest" line
    inspections.escalate_overdue(st, now)
    host.ingest("enterprise_park", "inspections", inspections.overdue_readings(inspections.all_inspections(st), now))
    dev = "ep.dev.sj-pharma-ef1"
    host.ingest("enterprise_park", "mqtt", [Reading(dev, "cable_temp_c", now - 60, 30.0, "°C")])
    host.ingest("enterprise_park", "mqtt", [Reading(dev, "cable_temp_c", now - 30, 36.0, "°C")])
    overdue = [a for a in st.alerts() if a.rule_id == "enterprise_park.hazard_overdue"]
    assert overdue and any(a.rule_id == "enterprise_park.cable_temp_rise" for a in st.alerts())
    for a in overdue:                       # what the district's alarm list and the interconnection screen show
        assert not english_problems(f"{a.title_en}\n{a.message_en}"), a
        assert st.entity(a.entity_id).name_en, a.entity_id
    renders = [(pid, {}) for pid in ("kpis", "ranking", "inspections", "devices", "review")]
    renders += [("enterprise", {"enterprise": e.id}) for e in st.entities(kind="sme_enterprise", plugin="enterprise_park")]
    problems = []
    for pid, opts in renders:
        for loc in ("zh_CN", "en"):
            originals: list[str] = []
            text = panel_text(render_panel(app, f"enterprise_park.{pid}", opts, locale=loc), originals)
            problems += [f"{pid} {opts} {loc}: {p}" for p in machine_text_problems(text)]
            if loc == "en":
                problems += [f"{pid} {opts}: {p}" for p in english_problems(text)]
                problems += [f"{pid} {opts}: demo text marked as a person's original: {o}" for o in originals]
            if pid == "review":
                assert ("Fengshan PTZ (demo)" if loc == "en" else "凤山云台(演示)") in text
                assert ("Unregistered camera" if loc == "en" else "未登记摄像机") in text
    assert not problems, "\n".join(problems)
    # a person's own text (a hazard typed in, no English form) shows as the marked original, never as pinyin
    i = inspections.create(st, enterprise_id="ep.ent.hm-plastic", title="仓库门口堆放纸箱", responsible="吴芳",
                           deadline=now - 86400, actor="manager1", now=now - 2 * 86400)
    sys.modules["twinboard_plugins.enterprise_park.risk"]._cache.clear()     # the host's copy of the module
    originals = []
    text = panel_text(render_panel(app, "enterprise_park.inspections", {"limit": 9}, locale="en"), originals)
    assert "仓库门口堆放纸箱" in originals and not english_problems(text) and i.title_en == ""
