"""safety_services (中介机构): contracts and records validated (field named, nothing stored), the enterprise's
sign-off, findings into enterprise_park's hazard loop over the bus, the quality score, copied and repeat
detection, photos checked by content, the agency scope and role refusals over real HTTP, panels."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import sys
import time
import types
from pathlib import Path

import pytest
import requests
from PIL import Image

from core.api import HazardReported
from core.data.store import open_store
from core.data.users import UserError, Users
from core.plugins.manager import import_plugin_submodule
from core.plugins.testing import make_twin_app, panel_text, render_panel  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]
PLUGIN_DIR = ROOT / "plugins" / "safety_services"


def _ss(module: str) -> types.ModuleType:
    return import_plugin_submodule(PLUGIN_DIR, module)


model, sv, analysis, settings_mod = (_ss(m) for m in ("model", "services", "analysis", "settings"))
ServiceError = model.ServiceError
TODAY = dt.date.today()
QUIET = {"enterprise_park": {"settings": {"demo_broker": False, "demo_publisher": False, "demo_inspections": False}},
         "safety_services": {"settings": {"demo": False}}}
ENT, ENT2 = "ep.ent.hm-plastic", "ep.ent.hy-pump"
HC = [it["key"] for it in model.services()["hazard_check"]["items"]]


def jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (180, 60, 40)).save(buf, "JPEG")
    return buf.getvalue()


@pytest.fixture
def app(make_twin_app):
    return make_twin_app(plugins_dir=ROOT / "plugins", dashboards_dir=ROOT / "config" / "dashboards",
                         plugin_allowlist=["safety_services", "enterprise_park"], run_sources=False,
                         plugin_config=QUIET)


def host(app):
    return app.server.config["TWINBOARD_HOST"]


def settings(app):
    return host(app).plugins.records["safety_services"].settings


def agency(store, key: str = "anheng", quals=(("consulting", 400), ("assessment", 400))) -> tuple[str, str]:
    a = sv.add_agency(store, {"key": key, "name": f"{key}安全咨询有限公司", "qualifications": [
        {"kind": k, "no": f"Q-{k}", "expiry": (TODAY + dt.timedelta(days=d)).isoformat()} for k, d in quals]}, "boss")
    s = sv.add_staff(store, a.id, {"name": "陈工", "title": "reg_engineer", "cert_no": "RSE-1"}, "boss")
    return a.id, s.id


def contract(app, agency_id: str, ent: str = ENT, kinds=("hazard_check",)):
    return sv.add_contract(host(app).store, settings(app), {
        "agency": agency_id, "enterprise": ent, "services": list(kinds),
        "start": (TODAY - dt.timedelta(days=200)).isoformat(), "end": (TODAY + dt.timedelta(days=200)).isoformat()},
        "boss")


def items(**found: str) -> dict:
    return {k: ({"result": "finding", "note": found[k], "level": "general"} if k in found else {"result": "ok"})
            for k in HC}


def record_body(cid: str, staff: str, days_ago: int = 1, **found: str) -> dict:
    return {"contract": cid, "service": "hazard_check", "date": (TODAY - dt.timedelta(days=days_ago)).isoformat(),
            "staff": [staff], "items": items(**found)}


def file(app, body: dict, scope=None, uploads=None):
    return sv.file_record(host(app).store, settings(app), body, "agency1", scope,
                          Path(host(app).settings.path(host(app).settings.var_dir)) / "ss", uploads)


# -- validation ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("change, field", [
    ({"agency": "ss.agency.nobody"}, "agency"),
    ({"enterprise": "ep.ent.nowhere"}, "enterprise"),
    ({"services": []}, "services"),
    ({"services": ["astrology"]}, "services"),
    ({"services": ["training"]}, "services"),            # the agency holds no training qualification
    ({"end": "2020-01-01"}, "end"),
    ({"start": "01.02.2026"}, "start"),
])
def test_a_bad_contract_names_its_field_and_stores_nothing(app, change, field) -> None:
    st = host(app).store
    aid, _ = agency(st)
    body = {"agency": aid, "enterprise": ENT, "services": ["hazard_check"], "start": TODAY.isoformat(),
            "end": (TODAY + dt.timedelta(days=365)).isoformat(), **change}
    before = len(st.audit_log(1000))
    with pytest.raises(ServiceError) as err:
        sv.add_contract(st, settings(app), body, "boss")
    assert err.value.field == field, str(err.value)
    assert model.contracts(st) == [] and len(st.audit_log(1000)) == before


@pytest.mark.parametrize("change, field", [
    (lambda b: b.update(contract="ss.con.99999"), "contract"),
    (lambda b: b.update(service="assessment"), "service"),
    (lambda b: b.update(date=(TODAY + dt.timedelta(days=3)).isoformat()), "date"),
    (lambda b: b.update(date=(TODAY - dt.timedelta(days=400)).isoformat()), "date"),
    (lambda b: b.update(staff=[]), "staff"),
    (lambda b: b.update(staff=["ss.staff.other.00001"]), "staff"),
    (lambda b: b["items"].pop("hc_fire"), "items.hc_fire.result"),
    (lambda b: b["items"].update(hc_fire={"result": "maybe"}), "items.hc_fire.result"),
    (lambda b: b["items"].update(hc_fire={"result": "finding", "note": ""}), "items.hc_fire.note"),
    (lambda b: b["items"].update(hc_fire={"result": "finding", "note": "灭火器过期", "level": "huge"}),
     "items.hc_fire.level"),
    (lambda b: b["items"].update(as_layout={"result": "ok"}), "items.as_layout"),
])
def test_a_bad_record_names_its_field_and_stores_nothing(app, change, field) -> None:
    st = host(app).store
    aid, staff = agency(st)
    c, _ = contract(app, aid)
    body = record_body(c.id, staff, hc_exits="仓库出口堆放纸箱,通道堵塞")
    change(body)
    before = len(st.audit_log(1000))
    with pytest.raises(ServiceError) as err:
        file(app, body)
    assert err.value.field == field, str(err.value)
    assert model.records(st) == [] and len(st.audit_log(1000)) == before


def test_photos_are_checked_by_content_and_a_bad_one_stores_nothing(app) -> None:
    st = host(app).store
    aid, staff = agency(st)
    c, _ = contract(app, aid)
    body = record_body(c.id, staff, hc_exits="仓库出口堆放纸箱,通道堵塞")
    for uploads, field in (({"hc_exits": [b"<html><script>alert(1)</script>"]}, "photos.hc_exits"),
                           ({"hc_exits": [jpeg()[:200]]}, "photos.hc_exits"),
                           ({"hc_fire": [jpeg()]}, "photos.hc_fire")):        # an item without a finding
        with pytest.raises(ServiceError) as err:
            file(app, body, uploads=uploads)
        assert err.value.field == field
    assert model.records(st) == [] and not (Path(host(app).settings.path(host(app).settings.var_dir)) / "ss").exists()
    r = file(app, body, uploads={"hc_exits": [jpeg()]})
    photo = r.findings()[0]["photos"][0]
    assert re.fullmatch(r"/plugins/safety_services/photos/ss\.rec\.00001/[0-9a-f]{32}\.jpg", photo)


# -- sign-off and the hazard loop ------------------------------------------------------------------------------------
def test_sign_off_with_the_enterprise_code_sends_findings_into_the_hazard_loop(app) -> None:
    h = host(app)
    st, s = h.store, settings(app)
    aid, staff = agency(st)
    c, code = contract(app, aid)
    assert code not in json.dumps([e.properties for e in st.entities(kind="ss_contract")], ensure_ascii=False)
    r = file(app, record_body(c.id, staff, hc_exits="仓库出口堆放纸箱,通道堵塞", hc_fire="两具灭火器压力不足"))
    assert r.state == "submitted" and not st.entities(kind="inspection")
    sign = {"code": "WRONG123", "signer": "赵磊", "decision": "accept"}
    with pytest.raises(ServiceError) as err:
        sv.sign_off(st, s, h.bus, r.id, sign, "agency1", None)
    assert err.value.field == "code" and model.get(st, model.Record, r.id).attempts == 1
    assert any(e.action == "safety_services.signoff.wrong_code" for e in st.audit_log(20))
    with pytest.raises(ServiceError) as err:
        sv.sign_off(st, s, h.bus, r.id, {**sign, "code": code, "decision": "reject"}, "agency1", None)
    assert err.value.field == "comment"                      # a rejection needs its reason
    done = sv.sign_off(st, s, h.bus, r.id, {**sign, "code": code.lower()[:4] + "-" + code.lower()[4:]}, "agency1", None)
    assert (done.state, done.signer) == ("signed", "赵磊")
    loop = {e.properties["ref"]: e.properties for e in st.entities(kind="inspection")}
    assert set(loop) == {f"{r.id}.hc_exits", f"{r.id}.hc_fire"}
    assert loop[f"{r.id}.hc_exits"]["source"] == "safety_services" and loop[f"{r.id}.hc_exits"]["enterprise"] == ENT
    assert loop[f"{r.id}.hc_exits"]["state"] == "found"
    with pytest.raises(ServiceError, match="signed already"):
        sv.sign_off(st, s, h.bus, r.id, {**sign, "code": code}, "agency1", None)
    # the same finding re-delivered on the bus opens nothing twice
    h.bus.publish(HazardReported(plugin="safety_services", report_id=f"{r.id}.hc_exits", entity_id=ENT, title="x"))
    assert len(st.entities(kind="inspection")) == 2


def test_wrong_codes_lock_a_record_until_a_new_code_is_issued(app) -> None:
    h = host(app)
    st, s = h.store, settings(app)
    aid, staff = agency(st)
    c, code = contract(app, aid)
    r = file(app, record_body(c.id, staff))
    for _ in range(s.max_signoff_attempts):
        with pytest.raises(ServiceError):
            sv.sign_off(st, s, h.bus, r.id, {"code": "AAAA2222", "signer": "x", "decision": "accept"}, "a", None)
    with pytest.raises(ServiceError, match="locked"):
        sv.sign_off(st, s, h.bus, r.id, {"code": code, "signer": "x", "decision": "accept"}, "a", None)
    new = sv.reissue_code(st, c.id, "boss")
    with pytest.raises(ServiceError, match="wrong"):
        sv.sign_off(st, s, h.bus, r.id, {"code": code, "signer": "x", "decision": "accept"}, "a", None)
    assert sv.sign_off(st, s, h.bus, r.id, {"code": new, "signer": "x", "decision": "accept"}, "a", None).state == "signed"


# -- analysis ------------------------------------------------------------------------------------------------------
def rec(rid: str, agency_id: str, ent: str, name: str, notes: dict[str, str], state: str = "signed",
        date: str = "2026-03-01", photos: bool = False, contract_id: str = "c1") -> model.Record:
    its = [{"key": k, "result": "finding" if k in notes else "ok", "note": notes.get(k, ""), "level": "general",
            "photos": ["/p.jpg"] if photos and k in notes else []} for k in HC]
    return model.Record(id=rid, contract=contract_id, agency=agency_id, enterprise=ent, enterprise_name=name,
                        service="hazard_check", date=date, staff=["s"], items=its, state=state)


def test_copied_records_are_found_across_enterprises_and_near_duplicates_count() -> None:
    a = rec("r1", "A", "e1", "海明塑料制品有限公司", {"hc_exits": "海明塑料仓库东侧安全出口堆放纸箱,通道宽度不足1米",
                                                    "hc_fire": "二楼车间两具灭火器压力不足"})
    b = rec("r2", "A", "e2", "海跃泵业有限公司", {"hc_exits": "海跃泵业仓库东侧安全出口堆放纸箱,通道宽度不足2米。",
                                               "hc_fire": "二楼车间两具灭火器压力不足!"})
    near = rec("r3", "B", "e3", "星蓝工艺品有限公司", {"hc_exits": "星蓝工艺仓库东侧安全出口堆放纸箱,通道宽度不足一米",
                                                   "hc_fire": "二楼车间两具灭火器压力不足"})
    other = rec("r4", "B", "e4", "美华智能卫浴有限公司", {"hc_gas": "研发楼可燃气体报警器两台故障未修复",
                                                     "hc_storage": "危化品暂存间甲醇与盐酸混存未隔离"})
    same_ent = rec("r5", "A", "e1", "海明塑料制品有限公司", a.items[0] and {"hc_exits": a.items[0]["note"],
                                                                      "hc_fire": "二楼车间两具灭火器压力不足"})
    pairs = analysis.copied([a, b, near, other, same_ent], 0.8, 20)
    got = {(p.a, p.b): p.similarity for p in pairs}
    assert got[("r1", "r2")] == 1.0                     # names, digits and punctuation aside: identical
    assert 0.8 <= got[("r1", "r3")] < 1.0               # one word differs
    assert not any("r4" in k for k in got)
    assert ("r1", "r5") not in got                      # the same enterprise twice is no copy
    assert analysis.copied([a, b], 0.8, 200) == []       # too short to judge


def test_quality_score_weighs_the_documented_factors() -> None:
    today = dt.date(2026, 6, 1)
    A = model.Agency(id="A", name="甲", qualifications=[{"kind": "consulting", "no": "1", "expiry": "2027-01-01"},
                                                        {"kind": "training", "no": "2", "expiry": "2026-01-01"}])
    B = model.Agency(id="B", name="乙", qualifications=[{"kind": "consulting", "no": "3", "expiry": "2027-01-01"}])
    cons = [model.Contract(id="c1", agency="A", enterprise="e1", enterprise_name="x", services=["hazard_check", "training"],
                           start="2026-01-01", end="2027-01-01"),
            model.Contract(id="c2", agency="B", enterprise="e2", enterprise_name="y", services=["hazard_check"],
                           start="2026-05-20", end="2027-01-01")]            # too young to judge delivery
    recs = [rec("r1", "A", "e1", "x", {"hc_exits": "出口堵塞了一半"}, photos=True),
            rec("r2", "A", "e1", "x", {"hc_fire": "灭火器过期两具"}, state="rejected"),
            rec("r3", "A", "e1", "x", {"hc_gas": "报警器故障"}, photos=False),
            rec("r4", "B", "e2", "y", {}, contract_id="c2")]
    w = settings_mod.Settings().weights
    pairs = [analysis.CopiedPair("r3", "rX", "hazard_check", 1.0, ("A", "Z"), ("x", "z"))]
    q = {x.agency: x for x in analysis.quality([A, B], cons, recs, pairs, w, today)}
    fa = q["A"].factors
    assert fa == {"signed": 2 / 3, "original": 2 / 3, "delivered": 0.5, "evidence": 0.5, "qualified": 0.5}
    assert q["A"].score == round(100 * sum(w[k] * v for k, v in fa.items()), 1)
    assert q["B"].factors["delivered"] is None and q["B"].score == 100.0   # no data counts as full
    assert [x.agency for x in analysis.quality([A, B], cons, recs, pairs, w, today)] == ["B", "A"]
    with pytest.raises(ValueError, match="sum to 1"):
        settings_mod.Settings(weights={**w, "signed": 0.9})


def test_repeat_findings_are_found_and_not_fixed_until_the_loop_closes() -> None:
    r1 = rec("r1", "A", "e1", "x", {"hc_exits": "出口堵塞"}, date="2026-01-10")
    r2 = rec("r2", "A", "e1", "x", {"hc_exits": "出口再次堵塞", "hc_fire": "灭火器"}, date="2026-04-10")
    r3 = rec("r3", "A", "e2", "y", {"hc_exits": "出口堵塞"}, date="2026-04-10")
    reps = analysis.repeats([r1, r2, r3], {"r2.hc_exits": "rectifying"})
    assert [(x.enterprise, x.item, x.times, x.first, x.last, x.fixed) for x in reps] == [
        ("e1", "hc_exits", 2, "2026-01-10", "2026-04-10", False)]
    assert analysis.repeats([r1, r2, r3], {"r2.hc_exits": "closed"})[0].fixed


# -- the demo and the panels -------------------------------------------------------------------------------------------
def test_demo_and_every_panel_in_both_languages(make_twin_app) -> None:
    app = make_twin_app(plugins_dir=ROOT / "plugins", plugin_allowlist=["safety_services", "enterprise_park"],
                        run_sources=False, plugin_config={"enterprise_park": QUIET["enterprise_park"]})
    st = host(app).store
    assert all(a.demo and "演示" in a.name for a in model.agencies(st)) and len(model.agencies(st)) == 4
    assert any(e.properties.get("ref", "").startswith("ss.rec.") for e in st.entities(kind="inspection"))
    for pid in sorted(p for p in host(app).all_panels() if p.startswith("safety_services.")):
        for locale in ("zh_CN", "en"):
            out = json.dumps(render_panel(app, pid, locale=locale), default=str, ensure_ascii=False)
            assert "Traceback" not in out
    assert "100%" in str(render_panel(app, "safety_services.copied"))             # the copied demo pair
    assert "×2" in str(render_panel(app, "safety_services.repeats"))              # the repeated demo finding
    assert "Signed" in str(render_panel(app, "safety_services.quality", locale="en"))
    assert "已过期" in str(render_panel(app, "safety_services.qualifications"))


# -- English screens (issue 19) -------------------------------------------------------------------------------------


def test_the_demo_findings_read_in_english_and_a_real_one_shows_as_the_original(make_twin_app) -> None:
    """Issue 19: the demo's copied-looking pair shows its findings in English on ``?lang=en`` (the demo records
    carry ``note_en``); an agency's own finding without an English form shows as written, marked as the
    original; one with ``note_en`` shows that. Chinese screens show the notes as written."""
    from test_machine_text import english_problems, machine_text_problems
    app = make_twin_app(plugins_dir=ROOT / "plugins", plugin_allowlist=["safety_services", "enterprise_park"],
                        run_sources=False, plugin_config={"enterprise_park": QUIET["enterprise_park"]})
    shown = {}
    for loc in ("zh_CN", "en"):
        originals: list[str] = []
        shown[loc] = panel_text(render_panel(app, "safety_services.copied", {"limit": 5}, locale=loc), originals)
        assert not originals and not machine_text_problems(shown[loc]), (originals, machine_text_problems(shown[loc]))
    assert not english_problems(shown["en"]), english_problems(shown["en"])
    assert "Punch press guard missing; no two-hand control" in shown["en"] and "1 look-alike pair " in shown["en"]
    assert "冲床防护罩缺失,未设双手操作按钮" in shown["zh_CN"]


def test_an_agencys_finding_without_english_shows_as_the_marked_original(app) -> None:
    from test_machine_text import english_problems
    st = host(app).store
    aid, staff = agency(st)
    note = "仓库出口堆放纸箱,疏散通道被堵塞,消防通道不畅"
    for ent in (ENT, ENT2):
        c, _ = contract(app, aid, ent)
        body = record_body(c.id, staff, hc_exits=note)
        if ent == ENT2:                  # the same finding, this time with its English form
            body["items"]["hc_exits"]["note_en"] = "Cartons at the store's exit; escape route blocked"
        file(app, body)
    assert [f.get("note_en") for r in model.records(st) for f in r.findings()] == \
        [None, "Cartons at the store's exit; escape route blocked"]
    originals: list[str] = []
    text = panel_text(render_panel(app, "safety_services.copied", locale="en"), originals)
    assert originals == [note] and "Cartons at the store's exit; escape route blocked" in text
    assert not english_problems(text)
    body = record_body(c.id, staff, hc_exits=note)
    body["items"]["hc_exits"]["note_en"] = "x" * 501
    with pytest.raises(ServiceError) as err:
        file(app, body)
    assert err.value.field == "items.hc_exits.note_en"


# -- roles and the agency scope ------------------------------------------------------------------------------------
def test_agency_role_needs_an_agency_scope_and_the_cli_sets_it(tmp_path, monkeypatch, capsys) -> None:
    import yaml
    from core.cli import main
    st = open_store(f"sqlite:///{tmp_path / 't.sqlite'}")
    u = Users(st)
    with pytest.raises(UserError, match="needs a scope 'agency:<id>'"):
        u.add("ag", "password-1", "agency", "t")
    with pytest.raises(UserError, match="takes a 'agency:' scope"):
        u.add("ag", "password-1", "agency", "t", scope="grid:x")
    cfg = tmp_path / "s.yaml"
    cfg.write_text(yaml.safe_dump({"root": str(ROOT), "database_url": f"sqlite:///{tmp_path / 't.sqlite'}",
                                   "var_dir": str(tmp_path / "var")}), encoding="utf-8")
    monkeypatch.setattr("sys.stdin", io.StringIO("password-1\n"))
    assert main(["--config", str(cfg), "user", "add", "ag1", "--role", "agency", "--scope", "agency:ss.agency.anheng",
                 "--password-stdin"]) == 0
    assert main(["--config", str(cfg), "user", "list"]) == 0
    assert "agency  agency:ss.agency.anheng" in capsys.readouterr().out


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_an_agency_is_refused_outside_its_contracts_over_real_http(tmp_path) -> None:
    """A served host: an agency sees and acts on its own contracts only; every refusal is audited."""
    sys.path.insert(0, str(Path(__file__).parent))
    from conftest import start_server
    server = start_server(tmp_path, plugin_allowlist=["safety_services", "enterprise_park"], public_screens=False,
                          plugins={"enterprise_park": {"settings": {"demo_publisher": False, "demo_inspections": False}},
                                   "safety_services": {"settings": {"demo": False}}})
    B = server.url + "/plugins/safety_services"
    try:
        st = open_store(f"sqlite:///{tmp_path / 'twin.sqlite'}")
        users = Users(st)
        users.add("ag1", "password-1", "agency", "t", scope="agency:ss.agency.anheng")
        users.add("ag9", "password-1", "agency", "t", scope="agency:ss.agency.ghost")
        users.add("view", "password-1", "viewer", "t")
        users.add("boss", "password-1", "manager", "t")
        aid, staff = agency(st, "anheng")
        oid, ostaff = agency(st, "other")
        s = settings_mod.Settings()
        span = {"start": (TODAY - dt.timedelta(days=30)).isoformat(), "end": (TODAY + dt.timedelta(days=300)).isoformat()}
        mine, code = sv.add_contract(st, s, {"agency": aid, "enterprise": ENT, "services": ["hazard_check"], **span}, "boss")
        theirs, _ = sv.add_contract(st, s, {"agency": oid, "enterprise": ENT2, "services": ["hazard_check"], **span}, "boss")
        their_rec = sv.file_record(st, s, record_body(theirs.id, ostaff, hc_exits="别家企业的出口堵塞问题"), "x", None, None)

        def session(name: str) -> tuple[requests.Session, str]:
            sess = requests.Session()
            token = csrf_of(sess.get(server.url + "/login", timeout=10).text)
            r = sess.post(server.url + "/login", data={"username": name, "password": "password-1", "csrf_token": token},
                          allow_redirects=False, timeout=10)
            assert r.status_code == 302
            return sess, sess.cookies.get("_csrf_token") or token

        ag, tok = session("ag1")
        h = {"X-CSRFToken": tok}
        home = ag.get(server.url + "/", allow_redirects=False, timeout=10)
        assert home.status_code == 302 and home.headers["Location"].endswith("/plugins/safety_services/agency")
        page = ag.get(B + "/agency", timeout=10)
        assert page.status_code == 200 and mine.id in page.text and theirs.id not in page.text
        assert [c["id"] for c in ag.get(B + "/api/contracts", timeout=10).json()] == [mine.id]
        # a record on its own contract, with a photo checked by content, over HTTP
        body = record_body(mine.id, staff, hc_exits="仓库出口堆放纸箱,通道堵塞")
        form = {"contract": mine.id, "service": "hazard_check", "date": body["date"], "staff": staff,
                **{f"item.{k}": v["result"] for k, v in body["items"].items()}, "note.hc_exits": "仓库出口堆放纸箱,通道堵塞"}
        bad = ag.post(B + "/api/records", data=form, files={"photo.hc_exits": ("a.jpg", b"GIF89a-not-a-jpeg")},
                      headers={**h, "Accept": "application/json"}, allow_redirects=False, timeout=10)
        assert bad.status_code == 302 and len(model.records(st)) == 1       # a form: back to the page, nothing stored
        r = ag.post(B + "/api/records", json=body, headers=h, timeout=10)
        assert r.status_code == 201, r.text
        rid = r.json()["id"]
        ok = ag.post(B + "/api/records", data=form, files={"photo.hc_exits": ("x.png", jpeg())}, headers=h,
                     allow_redirects=False, timeout=10)
        assert ok.status_code == 302 and len(model.records(st)) == 3
        photo = model.records(st)[-1].findings()[0]["photos"][0]
        got = ag.get(server.url + photo, timeout=10)
        assert got.status_code == 200 and got.headers["Content-Type"] == "image/jpeg"
        assert got.headers["X-Content-Type-Options"] == "nosniff" and "sandbox" in got.headers["Content-Security-Policy"]
        assert ag.get(B + "/api/records/" + rid, timeout=10).json()["contract"] == mine.id
        sign = ag.post(B + f"/api/records/{rid}/signoff", json={"code": code, "signer": "赵磊", "decision": "accept"},
                       headers=h, timeout=10)
        assert sign.status_code == 200 and sign.json()["state"] == "signed"
        # the finding reaches enterprise_park's loop through the bus (in the process that runs on_event)
        for _ in range(100):
            if any(e.properties.get("ref") == f"{rid}.hc_exits" for e in st.entities(kind="inspection")):
                break
            time.sleep(0.2)
        assert any(e.properties.get("ref") == f"{rid}.hc_exits" for e in st.entities(kind="inspection")), \
            "".join(server.log_tail)[-3000:]
        # outside its contracts: 403, audited, nothing stored
        before = len(model.records(st))
        refused = [
            ag.get(B + f"/api/records/{their_rec.id}", timeout=10),
            ag.post(B + "/api/records", json=record_body(theirs.id, ostaff, hc_exits="冒充别家机构填报的问题"),
                    headers=h, timeout=10),
            ag.post(B + f"/api/records/{their_rec.id}/signoff", json={"code": "X", "signer": "x", "decision": "accept"},
                    headers=h, timeout=10),
            ag.post(B + "/api/contracts", json={"agency": aid, "enterprise": ENT2, "services": ["hazard_check"], **span},
                    headers=h, timeout=10),
            ag.get(B + "/api/analysis", timeout=10),
            ag.get(server.url + "/screen/safety_services", timeout=10),
            ag.get(server.url + "/plugins/enterprise_park/mqtt/stats", timeout=10),
            ag.get(B + "/agency?agency=" + oid, timeout=10),
        ]
        assert [r.status_code for r in refused[:-1]] == [403] * 7
        assert theirs.id not in refused[-1].text and mine.id in refused[-1].text   # ?agency= cannot widen the scope
        assert len(model.records(st)) == before and len(model.contracts(st)) == 2
        audit = [e for e in st.audit_log(300) if e.action == "access.refused" and e.actor == "ag1"]
        assert len(audit) >= 7
        assert {f"path:/plugins/safety_services/api/records/{their_rec.id}", "path:/screen/safety_services"} <= {
            e.target for e in audit}
        # an agency account whose agency does not exist is refused everywhere
        ghost, gt = session("ag9")
        assert ghost.get(B + "/api/contracts", timeout=10).status_code == 403
        # viewers read and change nothing; managers add contracts and get the code once
        view, vt = session("view")
        assert view.get(B + "/api/analysis", timeout=10).json()["coverage"]["covered"] == 2
        assert view.post(B + "/api/contracts", json={"agency": aid, "enterprise": ENT2, "services": ["hazard_check"],
                                                     **span}, headers={"X-CSRFToken": vt}, timeout=10).status_code == 403
        boss, bt = session("boss")
        r = boss.post(B + "/api/contracts", json={"agency": aid, "enterprise": ENT2, "services": ["hazard_check"],
                                                  **span}, headers={"X-CSRFToken": bt}, timeout=10)
        assert r.status_code == 200 and re.fullmatch(r"[A-Z2-9]{8}", r.json()["signoff_code"])
        assert "code_hash" not in r.json()
        bad = boss.post(B + "/api/contracts", json={"agency": aid, "enterprise": ENT2, "services": ["x"], **span},
                        headers={"X-CSRFToken": bt}, timeout=10)
        assert bad.status_code == 400 and bad.json()["field"] == "services"
    finally:
        server.proc.terminate()
        server.proc.wait(10)
