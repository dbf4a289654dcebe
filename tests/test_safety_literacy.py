"""safety_literacy (issue 15, section 3): imports with row-level errors and nothing partial stored,
idempotent re-import, file checks, the plan's KPIs, roles over real HTTP, the CLI, the demo, the panels."""

from __future__ import annotations

import datetime as dt
import io
import re
import threading
import zipfile
from pathlib import Path

import openpyxl
import pytest
import requests
import yaml
from werkzeug.serving import make_server

from core.api import Entity
from core.data.users import Users
from core.plugins.manager import import_plugin_submodule
from core.plugins.testing import panel_text, render_panel

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = "safety_literacy"
TODAY = dt.date(2026, 12, 4)
HEADER = "姓名,单位,类别,培训项目,学时,培训日期,有效期至,证书编号,备注\n"


def _mod(name: str):
    return import_plugin_submodule(ROOT / "plugins" / PLUGIN, name)


@pytest.fixture
def app(make_twin_app):
    """The plugin and the chemical park (its enterprises are high-risk), no demo records, screens need sign-in."""
    app = make_twin_app(builtin=True, plugin_allowlist=[PLUGIN, "chemical_park"], run_sources=False,
                        public_screens=False, plugin_config={PLUGIN: {"settings": {"demo_data": False}}})
    users = Users(app.server.config["TWINBOARD_HOST"].store)
    users.add("viewer1", "viewer-pass-1", "viewer", "test")
    users.add("manager1", "manager-pass-1", "manager", "test")
    return app


def store_of(app):
    return app.server.config["TWINBOARD_HOST"].store


def imp(app, data: bytes, name: str, dataset: str = "training", **kw):
    return _mod("importer").import_file(store_of(app), data, name, dataset, "tester", max_bytes=250_000,
                                        today=TODAY, **kw)


def stored(app, kind: str = "safety_literacy_training") -> list:
    return store_of(app).entities(kind=kind, plugin=PLUGIN)


def import_audits(app) -> list:
    return [a for a in store_of(app).audit_log() if a.action == f"{PLUGIN}.import"]


def refused(app, data: bytes, name: str, dataset: str = "training") -> list[str]:
    with pytest.raises(_mod("importer").ImportRefused) as info:
        imp(app, data, name, dataset)
    return info.value.errors


# -- CSV and xlsx: row-level errors, nothing stored ------------------------------------------------
def test_csv_errors_name_file_row_column_and_field_and_nothing_is_stored(app) -> None:
    csv_text = HEADER + (
        "王一,区应急管理局,干部轮训,集中轮训,24,2026-05-10,,,\n"              # row 2: fine
        "李二,区应急管理局,干部轮训,集中轮训,abc,2026-05-10,,,\n"            # row 3: hours not a number
        "张三,演示甲药业有限公司,主要负责人,,48,2026-03-01,,,\n"               # row 4: certificate, expiry missing
        "赵四,没有这家公司,一线员工,,8,2026-03-01,,,\n"                     # row 5: unit not an enterprise
        "钱五,区应急管理局,厨师培训,,8,2026-03-01,,,\n"                     # row 6: unknown category
        "孙六,区应急管理局,干部轮训,,8,2027-01-01,,,\n"                     # row 7: in the future
        "\"周\n七\",区应急管理局,干部轮训,,8,2026-13-01,,,\n"              # rows 8-9: one record over two lines
        "吴八,区应急管理局,干部轮训,,8,2026-03-01,,,=HYPERLINK(\"x\")\n")  # row 10: formula
    errors = refused(app, csv_text.encode("utf-8"), "bad.csv")
    text = "\n".join(errors)
    assert "bad.csv:3: field 'hours' (column '学时'): not a number: 'abc'" in text
    assert "bad.csv:4: field 'certificate' (column '证书编号'): required for 主要负责人" in text
    assert "bad.csv:4: field 'expiry' (column '有效期至'): required for 主要负责人" in text
    assert "bad.csv:5: field 'unit' (column '单位'): '没有这家公司' is not an enterprise of the twin" in text
    assert "bad.csv:6: field 'category' (column '类别'): unknown category '厨师培训'" in text
    assert "bad.csv:7: field 'date' (column '培训日期'): 2027-01-01 is in the future" in text
    assert "bad.csv:8: field 'date' (column '培训日期'): not a date: '2026-13-01'" in text
    assert "bad.csv:10: field 'note' (column '备注'):" in text and "formula" in text
    assert not any(e.startswith("bad.csv:2:") for e in errors)
    assert stored(app) == [] and import_audits(app) == []


def test_a_missing_column_and_a_file_in_gb18030(app) -> None:
    errors = refused(app, "姓名,单位,类别,培训日期\n王一,局,干部,2026-01-02\n".encode("gb18030"), "gbk.csv")
    assert errors == ["gbk.csv:1: field 'hours': no column for it (header one of: 学时, 培训学时, hours)"]
    ok = imp(app, (HEADER + "王一,区应急管理局,干部,集中轮训,24,2026/5/10,,,\n").encode("gb18030"), "gbk.csv")
    assert len(ok.added) == 1 and stored(app)[0].properties["date"] == "2026-05-10"


def _xlsx(rows: list[list], sheet: str = "培训记录") -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = sheet
    ws.append(["序号", "姓名", "单位", "类别", "学时", "培训日期", "有效期至", "证书编号"])
    for r in rows:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_xlsx_errors_name_sheet_row_and_column_letter_then_a_clean_file_is_stored(app) -> None:
    rows = [[1, "王一", "演示乙化工有限公司", "特种作业人员", 40, dt.date(2025, 6, 1), dt.date(2031, 6, 1), "TZ-001"],
            [2, "李二", "演示乙化工有限公司", "特种作业人员", 40, dt.date(2025, 6, 1), dt.date(2024, 6, 1), "TZ-002"],
            [3, "张三", "演示乙化工有限公司", "一线员工", "八", dt.date(2026, 2, 1), None, None],
            [4, "赵四", "演示乙化工有限公司", "特种作业人员", 40, dt.date(2025, 6, 1), dt.date(2031, 6, 1), "TZ-001"]]
    errors = refused(app, _xlsx(rows), "enterprise.xlsx")
    assert errors == [
        "enterprise.xlsx[培训记录]:3: field 'expiry' (column G '有效期至'): 2024-06-01 is before the training date 2025-06-01",
        "enterprise.xlsx[培训记录]:4: field 'hours' (column E '学时'): not a number: '八'",
        "enterprise.xlsx[培训记录]:5: field 'certificate': the same certificate as row 2 of this file"]
    assert stored(app) == [] and import_audits(app) == []
    rows[1][6], rows[2][4], rows[3][7] = dt.date(2028, 6, 1), 8, "TZ-004"
    result = imp(app, _xlsx(rows), "enterprise.xlsx")
    assert (len(result.added), result.ignored_columns) == (4, ["序号"])
    ent = {e.properties["person"]: e.properties for e in stored(app)}
    assert ent["王一"]["unit_id"] == "cp.ent.e2" and ent["王一"]["expiry"] == "2031-06-01"


# -- idempotent re-import ----------------------------------------------------------------------------
def test_reimport_stores_nothing_twice_and_updates_what_changed(app) -> None:
    body = (HEADER + "王一,区应急管理局,干部轮训,集中轮训,24,2026-05-10,,,\n"
                     "李二,椒江区执法大队,执法人员复训,执法复训,40,2026-06-01,2029-06-01,JF-1,\n"
                     "张三,演示甲药业有限公司,一线员工,岗前培训,8,2026-02-01,,,\n")
    first = imp(app, body.encode(), "a.csv")
    assert (len(first.added), len(first.updated), first.unchanged) == (3, 0, 0)
    again = imp(app, body.encode(), "a.csv")
    assert (len(again.added), len(again.updated), again.unchanged) == (0, 0, 3)
    # the same certificate under another file name, with corrected hours: updated, not doubled
    changed = imp(app, (HEADER + "李二,椒江区执法大队,执法人员复训,执法复训,48,2026-06-01,2029-06-01,JF-1,\n").encode(),
                  "b.csv")
    assert (len(changed.added), len(changed.updated)) == (0, 1)
    recs = stored(app)
    assert len(recs) == 3
    assert next(e for e in recs if e.properties["person"] == "李二").properties["hours"] == 48
    audits = import_audits(app)
    assert len(audits) == 3 and audits[0].new["changed"][changed.updated[0]]["hours"] == [40, 48]
    assert audits[0].actor == "tester" and audits[0].target == "file:b.csv"


# -- file type and size checks -------------------------------------------------------------------------
def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for k, v in members.items():
            z.writestr(k, v)
    return buf.getvalue()


@pytest.mark.parametrize("name,data,why", [
    ("x.xlsx", (HEADER + "a,b,干部,,1,2026-01-01,,,\n").encode(), "not an .xlsx workbook"),
    ("x.csv", _zip({"a.txt": b"hi"}), "a zip/Excel file named .csv"),
    ("x.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "old binary Excel file"),
    ("x.xlsm", _zip({"[Content_Types].xml": b"<x/>"}), "no .xls or macro-enabled .xlsm"),
    ("x.xlsx", _zip({"[Content_Types].xml": b"<x/>", "xl/workbook.xml": b"<x/>", "xl/vbaProject.bin": b"\0"}),
     "contains macros"),
    ("x.xlsx", _zip({"word/document.xml": b"<x/>"}), "not an Excel workbook"),
    ("x.csv", b"\x7fELF\x02\x01\x01\x00\x00\x00", "NUL bytes"),
    ("x.exe", b"MZ\x90\x00", "file type not accepted"),
    ("x.csv", b"", "the file is empty"),
    ("x.csv", b"a" * 250_001, "over the limit of 250,000 bytes"),
])
def test_files_are_type_checked_and_size_limited(app, name: str, data: bytes, why: str) -> None:
    errors = refused(app, data, name)
    assert len(errors) == 1 and why in errors[0] and errors[0].startswith(name), errors
    assert stored(app) == []


# -- KPIs ----------------------------------------------------------------------------------------------------
def test_kpis_against_rosters_and_the_enterprises_worker_counts(app) -> None:
    store = store_of(app)
    # one more high-risk enterprise, placed by "another plugin": a licence for hazardous chemicals, 4 workers
    store.upsert([Entity(id="other.ent.x", kind="sme_enterprise", name="测试危化经营部", plugin="other",
                         properties={"staff": 4, "permits": [{"type": "危险化学品经营许可证"}]}),
                  Entity(id="other.ent.y", kind="sme_enterprise", name="测试服装厂", plugin="other",
                         properties={"staff": 90, "permits": [{"type": "营业执照"}]})])
    imp(app, ("姓名,单位,类别\n王一,甲街道,干部\n李二,甲街道,干部\n张三,甲街道,干部\n赵四,执法大队,执法人员\n"
              "钱五,执法大队,执法人员\n").encode(), "roster.csv", "roster")
    imp(app, (HEADER + "王一,甲街道,干部轮训,,24,2026-05-10,,,\n"
                       "李二,甲街道,干部轮训,,24,2025-10-01,,,\n"          # older than the period: not counted
                       "赵四,执法大队,执法人员复训,,40,2024-06-01,2027-06-01,JF-9,\n"   # expiry still ahead: counted
                       "钱五,执法大队,执法人员复训,,40,2026-06-01,,,\n"
                       "甲,测试危化经营部,一线员工,,8,2026-01-10,,,\n"
                       "乙,测试危化经营部,一线员工,,8,2026-01-10,,,\n"
                       "丙,测试危化经营部,一线员工,,8,2026-01-10,,,\n"
                       "丁,测试危化经营部,一线员工,,8,2025-11-10,,,\n"     # too old
                       "戊,测试危化经营部,主要负责人,,48,2025-01-10,2028-01-10,ZF-1,\n"
                       "己,测试危化经营部,安全管理人员,,48,2023-01-10,2026-01-10,AG-1,\n"  # expired
                       "庚,测试服装厂,主要负责人,,48,2025-01-10,2028-01-10,ZF-2,\n").encode(), "t.csv")
    snap = _mod("kpis").compute(store, today=TODAY)
    assert (snap.participation["cadre"].done, snap.participation["cadre"].required) == (1, 3)
    assert (snap.participation["inspector"].done, snap.participation["inspector"].required) == (2, 2)
    assert snap.participation["grid_worker"].rate == 1.0          # nobody on that roster: nothing required
    ents = {e.id: e for e in snap.enterprises}
    assert "other.ent.y" not in ents                                 # not high-risk
    x = ents["other.ent.x"]
    assert (x.workers, x.trained, x.principal, x.safety_manager, x.expired) == (4, 3, True, False, 1)
    cp = {e.id: e.workers for e in snap.enterprises if e.id.startswith("cp.ent.")}
    fw = {e.id: e.workers for e in snap.enterprises if e.id.startswith("sl.fw.")}
    assert cp["cp.ent.e1"] == 260 and fw == {"sl.fw.hongjia": 28, "sl.fw.qiansuo": 14}
    workers = sum(cp.values()) + sum(fw.values()) + 4
    assert (snap.frontline.done, snap.frontline.required) == (3, workers)
    assert (snap.three_types.done, snap.three_types.required) == (2, 3)
    gaps = {(g.unit, g.target): g for g in snap.gaps}
    assert gaps[("甲街道", "cadre")].missing == ["张三", "李二"] and gaps[("甲街道", "cadre")].short == 2
    assert ("执法大队", "inspector") not in gaps
    assert gaps[("测试危化经营部", "frontline")].short == 1 and gaps[("测试危化经营部", "frontline")].missing == ["丁"]
    assert gaps[("测试危化经营部", "safety_manager")].missing == ["己"]
    assert gaps[("测试危化经营部", "certificates")].missing == ["己"]
    assert ("测试服装厂", "principal") not in gaps
    assert [r["person"] for r, left in snap.expiring] == ["己"]
    # a manager withdraws a record: it no longer counts, and the edit is audited
    rid = next(e.id for e in stored(app) if e.properties["person"] == "王一")
    _mod("edits").edit_record(store, rid, {"withdrawn": True}, "manager1", today=TODAY)
    assert _mod("kpis").compute(store, today=TODAY).participation["cadre"].done == 0
    audit = next(a for a in store.audit_log() if a.action == f"{PLUGIN}.edit")
    assert audit.target == f"training:{rid}" and audit.new == {"withdrawn": True} and audit.actor == "manager1"


def test_edits_are_checked_like_imports(app) -> None:
    imp(app, (HEADER + "王一,区应急管理局,干部轮训,,24,2026-05-10,,,\n").encode(), "a.csv")
    rid = stored(app)[0].id
    edit = _mod("edits").edit_record
    err = _mod("importer").ImportRefused
    with pytest.raises(err, match=r"field 'hours': -3 is outside 0.5..1000"):
        edit(store_of(app), rid, {"hours": "-3"}, "m", today=TODAY)
    with pytest.raises(err, match=r"field 'person': cannot be edited here"):
        edit(store_of(app), rid, {"person": "别人"}, "m", today=TODAY)
    with pytest.raises(err, match=r"field 'expiry': 2020-01-01 is before the training date"):
        edit(store_of(app), rid, {"expiry": "2020-01-01"}, "m", today=TODAY)
    assert stored(app)[0].properties["hours"] == 24
    edit(store_of(app), rid, {"hours": 32}, "m", today=TODAY)
    assert stored(app)[0].properties["hours"] == 32


# -- roles, over real HTTP -------------------------------------------------------------------------------
@pytest.fixture
def served(app):
    server = make_server("127.0.0.1", 0, app.server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(10)


def _session(url: str, user: str | None, password: str = "") -> tuple[requests.Session, str]:
    s = requests.Session()
    token = re.search(r'name="csrf_token" value="([^"]+)"', s.get(f"{url}/login").text).group(1)
    if user:
        r = s.post(f"{url}/login", data={"username": user, "password": password, "csrf_token": token},
                   allow_redirects=False)
        assert r.status_code == 302
        s.get(f"{url}/login")                 # signing in starts a new session: its CSRF token comes as a cookie
        token = s.cookies["_csrf_token"]
    return s, token


SL = "/plugins/safety_literacy"
GOOD = (HEADER + "王一,区应急管理局,干部轮训,集中轮训,24,2026-05-10,,,\n").encode()


def test_only_managers_import_or_edit_over_http(app, served) -> None:
    anon, anon_token = _session(served, None)
    viewer, viewer_token = _session(served, "viewer1", "viewer-pass-1")
    files = {"file": ("a.csv", GOOD, "text/csv")}
    for s, token in ((anon, anon_token), (viewer, viewer_token)):
        answers = [
            s.post(f"{served}{SL}/import", data={"dataset": "training"}, files=files, headers={"X-CSRFToken": token},
                   allow_redirects=False),
            s.post(f"{served}{SL}/upload", data={"dataset": "training", "csrf_token": token}, files=files,
                   allow_redirects=False),
            s.get(f"{served}{SL}/upload", allow_redirects=False),
            s.post(f"{served}{SL}/records/sl.tr.x", json={"hours": 1}, headers={"X-CSRFToken": token},
                   allow_redirects=False)]
        for r in answers:     # a stranger is sent to sign in (401 for JSON); a viewer is refused
            assert (r.status_code, r.headers.get("Location", "")[:6]) in ((302, "/login"), (401, ""), (403, "")), \
                r.status_code
            assert (r.status_code == 403) == (s is viewer)
    assert viewer.get(f"{served}{SL}/kpis").status_code == 200          # a viewer may read the figures
    assert anon.get(f"{served}{SL}/kpis", allow_redirects=False).status_code == 302   # screens need sign-in here
    assert stored(app) == []

    mgr, token = _session(served, "manager1", "manager-pass-1")
    assert mgr.post(f"{served}{SL}/import", data={"dataset": "training"}, files=files).status_code == 400  # no CSRF
    bad = mgr.post(f"{served}{SL}/import", data={"dataset": "training"}, headers={"X-CSRFToken": token},
                   files={"file": ("b.csv", GOOD.replace(b",24,", b",x,"), "text/csv")})
    assert bad.status_code == 400 and bad.json()["errors"] == [
        "b.csv:2: field 'hours' (column '学时'): not a number: 'x'"]
    assert stored(app) == []
    ok = mgr.post(f"{served}{SL}/import", data={"dataset": "training"}, headers={"X-CSRFToken": token}, files=files)
    assert ok.status_code == 200 and ok.json()["added"] == 1
    rid = stored(app)[0].id
    assert viewer.post(f"{served}{SL}/records/{rid}", json={"withdrawn": True},
                       headers={"X-CSRFToken": viewer_token}).status_code == 403
    r = mgr.post(f"{served}{SL}/records/{rid}", json={"hours": "x"}, headers={"X-CSRFToken": token})
    assert r.status_code == 400 and "field 'hours'" in r.json()["error"]
    assert mgr.post(f"{served}{SL}/records/{rid}", json={"hours": 30}, headers={"X-CSRFToken": token}).json()["hours"] == 30
    # the browser page: form with CSRF, errors listed, nothing stored on error
    page = mgr.get(f"{served}{SL}/upload")
    assert page.status_code == 200 and 'name="csrf_token"' in page.text
    form_token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    r = mgr.post(f"{served}{SL}/upload", data={"dataset": "roster", "csrf_token": form_token},
                 files={"file": ("r.csv", "姓名,单位,类别\n王一,局,厨师\n".encode(), "text/csv")})
    assert r.status_code == 400 and "r.csv:2: field &#39;role&#39; (column &#39;类别&#39;): unknown role" in r.text
    assert stored(app, "safety_literacy_roster") == []
    r = mgr.post(f"{served}{SL}/upload", data={"dataset": "roster", "csrf_token": form_token},
                 files={"file": ("r.csv", "姓名,单位,类别\n王一,局,干部\n".encode(), "text/csv")})
    assert r.status_code == 200 and 'id="sl-added">1<' in r.text and len(stored(app, "safety_literacy_roster")) == 1
    # over the host's request limit: refused before anything reads it
    big = mgr.post(f"{served}{SL}/import", data={"dataset": "training"}, headers={"X-CSRFToken": token},
                   files={"file": ("big.csv", b"a," * 200_000, "text/csv")})
    assert big.status_code == 413
    assert [a.actor for a in import_audits(app)] == ["manager1", "manager1"]


# -- the CLI --------------------------------------------------------------------------------------------------
def test_cli_import_refuses_with_every_error_then_imports(tmp_path, monkeypatch, capsys) -> None:
    from core.cli import main
    cfg = tmp_path / "settings.yaml"
    cfg.write_text(yaml.safe_dump({"root": str(ROOT), "database_url": f"sqlite:///{tmp_path / 'cli.sqlite'}",
                                   "var_dir": str(tmp_path / "var"), "plugin_allowlist": [PLUGIN]}), encoding="utf-8")
    monkeypatch.setenv("TWINBOARD_CONFIG", str(cfg))
    bad = tmp_path / "roster.csv"
    bad.write_text("姓名,单位,类别,在岗\n王一,局,干部,也许\n,局,干部,是\n", encoding="utf-8")
    assert main(["--config", str(cfg), "literacy", "import", str(bad), "--as", "roster"]) == 2
    err = capsys.readouterr().err
    assert "roster.csv:2: field 'active' (column '在岗'): '也许' is not 是/否" in err
    assert "roster.csv:3: field 'person' (column '姓名'): required, empty" in err and "nothing was stored" in err
    bad.write_text("姓名,单位,类别,在岗\n王一,局,干部,是\n李二,局,网格员,否\n", encoding="utf-8")
    assert main(["--config", str(cfg), "literacy", "import", str(bad), "--as", "roster"]) == 0
    assert "2 rows as roster: 2 added, 0 updated, 0 unchanged" in capsys.readouterr().out
    assert main(["--config", str(cfg), "literacy", "import", str(bad), "--as", "roster"]) == 0
    assert "0 added, 0 updated, 2 unchanged" in capsys.readouterr().out
    assert main(["--config", str(cfg), "literacy", "kpis"]) == 0
    assert "0/1" in capsys.readouterr().out      # one cadre in post, not trained; the grid worker left


# -- the demo and the screen ------------------------------------------------------------------------------------
def test_demo_loads_once_through_the_importer_and_every_panel_renders(make_twin_app) -> None:
    app = make_twin_app(builtin=True, plugin_allowlist=[PLUGIN, "chemical_park", "enterprise_park"], run_sources=False,
                        plugin_config={"enterprise_park": {"settings": {"demo_broker": False, "demo_inspections": False}}})
    store = store_of(app)
    counts = {k: len(stored(app, k)) for k in ("safety_literacy_training", "safety_literacy_roster",
                                                 "safety_literacy_outreach")}
    assert counts["safety_literacy_roster"] == 144 and counts["safety_literacy_training"] > 1000
    assert counts["safety_literacy_outreach"] > 100
    assert all(e.properties["demo"] and e.properties["note"] == "演示数据" for e in stored(app))
    files = sorted(a.target for a in import_audits(app))
    assert files == ["file:demo_outreach.xlsx", "file:demo_rosters.csv", "file:demo_training_enterprises.xlsx",
                     "file:demo_training_government.csv"]
    plugin = __import__("twinboard_plugins.safety_literacy", fromlist=["load_demo"])
    host = app.server.config["TWINBOARD_HOST"]
    assert plugin.load_demo(store, host.plugins.records[PLUGIN].settings) == {}      # loaded already: nothing again
    snap = _mod("kpis").compute(store)
    assert 0.8 < snap.frontline.rate < 1 and 0.8 < snap.participation["cadre"].rate < 1 and snap.gaps
    for lang in ("zh_CN", "en"):
        for panel in ("targets", "shortfall", "hours", "enterprises", "channels", "months", "expiring"):
            assert render_panel(app, f"{PLUGIN}.{panel}", locale=lang) is not None
        deck = render_panel(app, f"{PLUGIN}.bases_map", locale=lang)
        ids = [layer["id"] for layer in deck["layers"]]
        assert "sl-events" in ids and "sl-base-school" in ids and deck["tbLegend"]
    assert "干部轮训参与率" in str(render_panel(app, f"{PLUGIN}.targets"))


def test_bases_are_on_land_in_the_district_near_the_town_they_name() -> None:
    import math
    from core.geo.basemap import contains_district, is_on_land, town_labels
    doc = yaml.safe_load((ROOT / "plugins" / PLUGIN / "twin" / "bases.yaml").read_text(encoding="utf-8"))
    seats = {t["name_zh"]: (t["lon"], t["lat"]) for t in town_labels()}
    for e in doc["entities"]:
        assert is_on_land(e["lon"], e["lat"]) and contains_district(e["lon"], e["lat"]), e["id"]
        town = e["properties"]["town"]
        named = [t for t in seats if t in e["name"]]
        assert named in ([town], []), e["id"]       # a name that says a place says the town it is in
        lon, lat = seats[town]
        assert math.hypot((e["lon"] - lon) * 97.7, (e["lat"] - lat) * 111.2) < 3.0, e["id"]


def test_outreach_points_keep_their_coordinates_and_the_demo_ones_are_on_land(app) -> None:
    """The importer keeps a point's coordinates (it rounded them to 0.01°, ~1 km, and threw events into the
    estuary); every demo event lies on land in the district, as stored."""
    from core.geo.basemap import contains_district, is_on_land
    csv_text = ("渠道,活动名称,地点,对象,人数,日期,所属街道,经度,纬度\n"
                "进社区,燃气安全进社区,海门社区服务中心,社区居民,80,2026-11-02,海门,121.443176,28.684912\n")
    imp(app, csv_text.encode("utf-8"), "outreach.csv", "outreach")
    (ev,) = stored(app, "safety_literacy_outreach")
    assert ev.geometry["coordinates"][:2] == [121.443176, 28.684912]
    demo = ROOT / "plugins" / PLUGIN / "demo" / "demo_outreach.xlsx"
    store = store_of(app)
    imp(app, demo.read_bytes(), demo.name, "outreach")
    events = [e for e in store.entities(kind="safety_literacy_outreach", plugin=PLUGIN) if e.geometry]
    assert len(events) > 100
    off = [(e.id, e.geometry["coordinates"]) for e in events
           if not (is_on_land(*e.geometry["coordinates"][:2]) and contains_district(*e.geometry["coordinates"][:2]))]
    assert not off, off


# -- English screens (issue 19) ------------------------------------------------------------------------------


def test_government_units_read_in_english_by_their_kind() -> None:
    unit_en = _mod("records").unit_en
    assert unit_en("白云街道网格") == "Baiyun Subdistrict grid"
    assert unit_en("下陈街道应急管理办公室") == "Xiachen Subdistrict emergency office"
    assert unit_en("大陈镇安监站") == "Dachen Town safety station"
    assert unit_en("区应急管理局") == "District Emergency Management Bureau"
    assert unit_en("区应急管理局执法大队") == "District EM Bureau enforcement brigade"
    assert unit_en("某某塑料厂") == ""                  # not a government unit: the screen falls back to pinyin


def test_the_demo_shortfalls_read_in_english_on_an_english_screen(make_twin_app) -> None:
    """Issue 19: every unit short of a target (enterprises, street grids, street offices) is named in English
    on ``?lang=en`` (the enterprise's twin name_en, a government unit by its kind); Chinese stays Chinese."""
    from test_machine_text import english_problems, machine_text_problems
    app = make_twin_app(builtin=True, plugin_allowlist=[PLUGIN, "chemical_park", "enterprise_park"], run_sources=False,
                        plugin_config={"enterprise_park": {"settings": {"demo_broker": False, "demo_inspections": False}}})
    snap = _mod("kpis").compute(store_of(app))
    assert {g.target for g in snap.gaps} >= {"frontline", "cadre", "grid_worker"}
    assert all(g.unit_en for g in snap.gaps), [g.unit for g in snap.gaps if not g.unit_en]
    shown = {}
    for loc in ("zh_CN", "en"):
        originals: list[str] = []
        shown[loc] = panel_text(render_panel(app, f"{PLUGIN}.shortfall", {"limit": len(snap.gaps)}, locale=loc),
                                  originals)
        assert not originals and not machine_text_problems(shown[loc]), (originals, machine_text_problems(shown[loc]))
    assert not english_problems(shown["en"]), english_problems(shown["en"])
    assert "Baiyun Subdistrict grid" in shown["en"] and "Qiansuo fireworks depot (demo)" in shown["en"]
    assert "白云街道网格" in shown["zh_CN"] and "前所烟花爆竹配送站(演示)" in shown["zh_CN"]
