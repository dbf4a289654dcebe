"""Press releases (command_center, 新闻发布): draft → review → publish by different people over HTTP, the audit
trail, immutability at the database, corrections, drills never public, the public /press pages and the Atom
feed (parsed with xml.etree), bad input naming the field, the incident report; and the host's
``RouteSpec(public=True)``."""

from __future__ import annotations

import re
import types
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from core.api import RouteSpec
from core.data.users import Users
from core.plugins.manager import import_plugin_submodule

ROOT = Path(__file__).resolve().parents[1]
PLUGIN_DIR = ROOT / "plugins" / "command_center"
CC = "/plugins/command_center"
ATOM = "{http://www.w3.org/2005/Atom}"


def _cc(module: str) -> types.ModuleType:
    return import_plugin_submodule(PLUGIN_DIR, module)


incidents, press, report = (_cc(m) for m in ("incidents", "press", "report"))


@pytest.fixture
def app(make_twin_app, tmp_path):
    app = make_twin_app(builtin=True, plugin_allowlist=["command_center"], run_sources=False, public_screens=False)
    host = app.server.config["TWINBOARD_HOST"]
    host.update_settings("command_center", {"simulate": False, "outbox": str(tmp_path / "outbox.jsonl"),
                                            "reports_dir": str(tmp_path / "reports")}, "test")
    users = Users(host.store)
    for name, role in (("drafter", "manager"), ("editor", "manager"), ("chief", "admin"), ("watcher", "viewer")):
        users.add(name, f"{name}-pass-1", role, "test")
    return app


def store_of(app):
    return app.server.config["TWINBOARD_HOST"].store


def login(app, name: str):
    client = app.server.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    resp = client.post("/login", data={"username": name, "password": f"{name}-pass-1", "csrf_token": token})
    assert resp.status_code == 302
    # a new session after sign-in: its token is the cookie the host sets for Dash pages
    client.environ_base["HTTP_X_CSRFTOKEN"] = client.get_cookie("_csrf_token").value
    return client


def open_incident(app, drill: bool = False):
    return incidents.open_incident(store_of(app), "duty", kind="fire", title="化工厂仓库火灾", lon=121.45, lat=28.675,
                                   place="椒江区海门街道", description="仓库起火, 现场有浓烟。", is_drill=drill)


def fields(client, incident_id: int, **changes):
    """The pre-filled fields of a new release for the incident (from the API), with changes."""
    resp = client.get(f"{CC}/press/prefill/{incident_id}")
    assert resp.status_code == 200
    return {**resp.get_json(), "deaths": 0, "injuries": 2, "missing": 1, **changes}


def draft(client, incident_id: int, **changes) -> dict:
    resp = client.post(f"{CC}/press", json=fields(client, incident_id, **changes))
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_json()


def through(app, incident_id: int, **changes) -> int:
    """A release drafted by ``drafter``, reviewed by ``editor`` and published by ``chief``: its number."""
    d, e, c = login(app, "drafter"), login(app, "editor"), login(app, "chief")
    number = draft(d, incident_id, **changes)["number"]
    assert e.post(f"{CC}/press/{number}/review", json={"approve": True}).status_code == 200
    resp = c.post(f"{CC}/press/{number}/publish")
    assert resp.status_code == 200 and resp.get_json()["state"] == "published"
    return number


def feed_of(client) -> ET.Element:
    resp = client.get("/press/feed.atom")
    assert resp.status_code == 200 and resp.mimetype == "application/atom+xml"
    return ET.fromstring(resp.get_data())


# -- the host's public routes ------------------------------------------------------------------------
def test_a_public_route_is_get_only_on_a_path_the_host_does_not_own() -> None:
    RouteSpec("press/<int:n>", lambda n: "", public=True)
    with pytest.raises(ValueError, match=r"public route 'press'.*GET only"):
        RouteSpec("press", lambda: "", methods=("POST",), public=True)
    for rule in ("admin/press", "api/x", "plugins/x", "m/x", "_dash-layout", "<name>", "screen/x"):
        with pytest.raises(ValueError, match="first segment"):
            RouteSpec(rule, lambda **kw: "", public=True)
    with pytest.raises(ValueError, match="role"):
        RouteSpec("press", lambda: "", role="manager", public=True)


def test_public_pages_need_no_sign_in_set_no_cookie_and_are_read_only(app) -> None:
    anon = app.server.test_client()
    resp = anon.get("/press")
    assert resp.status_code == 200 and "新闻发布" in resp.get_data(as_text=True)
    assert "Set-Cookie" not in resp.headers                       # no session, no CSRF cookie
    assert 'lang="zh-CN"' in resp.get_data(as_text=True)          # Chinese first
    assert "http" not in re.sub(r'href="/[^"]*"', "", resp.get_data(as_text=True)).split("<style>")[0]
    assert anon.post("/press").status_code == 405                 # read-only, and no CSRF needed to be told so
    assert anon.get("/press/feed.atom").status_code == 200
    # the managers' page and API stay behind sign-in; the screens too
    assert anon.get(f"{CC}/press").status_code in (302, 401)
    assert anon.get("/plugins/command_center/press/feed.atom").status_code in (302, 401, 404)
    assert login(app, "watcher").get(f"{CC}/press").status_code == 403
    # a disabled plugin's public pages are gone at once
    host = app.server.config["TWINBOARD_HOST"]
    host.set_enabled("command_center", False, "test")
    assert anon.get("/press").status_code in (302, 401, 404)        # an unknown path: the host asks for sign-in
    host.set_enabled("command_center", True, "test")
    assert anon.get("/press").status_code == 200


# -- the workflow -----------------------------------------------------------------------------------------
def test_draft_review_publish_by_different_people_every_step_audited(app) -> None:
    store = store_of(app)
    inc = open_incident(app)
    incidents.assess(store, inc.id, "duty", 3, "过火面积约 200 平方米")
    d, e, c = login(app, "drafter"), login(app, "editor"), login(app, "chief")
    pre = d.get(f"{CC}/press/prefill/{inc.id}").get_json()
    assert "化工厂仓库火灾" in pre["title"] and "椒江区海门街道" in pre["facts"] and "200 平方米" in pre["facts"]
    assert pre["hotline"] == "12345" and pre["occurred_at"] == inc.properties["reported_at"]
    rel = draft(d, inc.id)
    n = rel["number"]
    assert rel["state"] == "draft" and rel["drafted_by"] == "drafter" and rel["incident_id"] == inc.id
    # the drafter may not approve, reject or publish their own draft
    for path, body in ((f"{CC}/press/{n}/review", {"approve": True}), (f"{CC}/press/{n}/review",
                                                                          {"approve": False, "reason": "x"}),
                       (f"{CC}/press/{n}/publish", {})):
        resp = d.post(path, json=body)
        assert resp.status_code == 403 and "separation of duties" in resp.get_json()["error"]
    assert press.get(store, n).properties["state"] == "draft"
    # not published before review; a rejection needs its reason
    assert e.post(f"{CC}/press/{n}/publish").status_code == 409
    resp = e.post(f"{CC}/press/{n}/review", json={"approve": False})
    assert resp.status_code == 400 and resp.get_json()["field"] == "reason"
    resp = e.post(f"{CC}/press/{n}/review", json={"approve": False, "reason": "伤亡人数待核实"})
    assert resp.get_json()["state"] == "rejected" and resp.get_json()["rejections"][0]["reason"] == "伤亡人数待核实"
    # only the drafter revises it; then another person approves and publishes
    assert e.post(f"{CC}/press/{n}/edit", json=fields(e, inc.id)).status_code == 403
    resp = d.post(f"{CC}/press/{n}/edit", json=fields(d, inc.id, injuries=3))
    assert resp.get_json()["state"] == "draft" and resp.get_json()["injuries"] == 3
    assert e.post(f"{CC}/press/{n}/review", json={"approve": True}).get_json()["state"] == "reviewed"
    assert d.post(f"{CC}/press/{n}/publish").status_code == 403
    resp = c.post(f"{CC}/press/{n}/publish")
    assert resp.status_code == 200 and resp.get_json()["published_by"] == "chief"
    assert resp.get_json()["reviewed_by"] == "editor"
    trail = [(a.actor, a.action) for a in reversed(store.audit_log()) if a.target == f"press:{n}"]
    assert trail == [("drafter", "press.draft"), ("drafter", "press.refused"), ("drafter", "press.refused"),
                     ("drafter", "press.refused"), ("editor", "press.reject"), ("editor", "press.refused"),
                     ("drafter", "press.edit"), ("editor", "press.review"), ("drafter", "press.refused"),
                     ("chief", "press.publish")]
    assert [ev.kind for ev in incidents.timeline(store, inc.id)][-1] == "press"
    # the console links to the managers' page, which shows the release
    page = c.get(f"{CC}/press").get_data(as_text=True)
    assert f'id="pr-row-{n}"' in page and "已发布" in page
    assert f"{CC}/press" in c.get(f"{CC}/console").get_data(as_text=True)


def test_a_published_release_never_changes_not_even_behind_the_workflow(app) -> None:
    store = store_of(app)
    inc = open_incident(app)
    n = through(app, inc.id)
    before = press.get(store, n).properties
    d = login(app, "drafter")
    resp = d.post(f"{CC}/press/{n}/edit", json=fields(d, inc.id, deaths=5))
    assert resp.status_code == 409 and "correction" in resp.get_json()["error"]
    assert login(app, "editor").post(f"{CC}/press/{n}/review", json={"approve": False, "reason": "x"}).status_code == 409
    # the store itself refuses: an upsert, raw SQL, a delete
    ent = press.get(store, n)
    ent.properties = {**ent.properties, "deaths": 5}
    with pytest.raises(DBAPIError, match="press_release_immutable"):
        store.upsert([ent])
    with pytest.raises(DBAPIError, match="press_release_immutable"):
        with store.engine.begin() as conn:
            conn.execute(text("UPDATE entity SET name = 'x' WHERE id = :i"), {"i": f"cc.press.{n}"})
    with pytest.raises(DBAPIError, match="press_release_immutable"):
        with store.engine.begin() as conn:
            conn.execute(text("DELETE FROM entity WHERE id = :i"), {"i": f"cc.press.{n}"})
    assert press.get(store, n).properties == before
    # ...but only published releases: a draft is still edited through the store
    m = draft(d, inc.id)["number"]
    row = press.get(store, m)
    row.properties = {**row.properties, "place": "别处"}
    store.upsert([row])
    assert press.get(store, m).properties["place"] == "别处"


def test_a_correction_is_a_new_release_linked_both_ways(app) -> None:
    store = store_of(app)
    inc = open_incident(app)
    first = through(app, inc.id)
    d = login(app, "drafter")
    unpublished = draft(d, inc.id)["number"]
    resp = d.post(f"{CC}/press", json={**fields(d, inc.id), "corrects": unpublished})
    assert resp.status_code == 400 and resp.get_json()["field"] == "corrects"
    other = open_incident(app)
    resp = d.post(f"{CC}/press", json={**fields(d, other.id), "corrects": first})
    assert resp.status_code == 400 and resp.get_json()["field"] == "corrects"
    fix = through(app, inc.id, corrects=first, injuries=4, title="更正：关于化工厂仓库火灾的情况通报")
    assert press.get(store, fix).properties["corrects"] == first
    assert press.get(store, first).properties["injuries"] == 2          # the original is untouched
    anon = app.server.test_client()
    original = anon.get(f"/press/{first}").get_data(as_text=True)
    assert 'id="pr-corrected-by"' in original and f'href="/press/{fix}"' in original
    correction = anon.get(f"/press/{fix}").get_data(as_text=True)
    assert 'id="pr-corrects"' in correction and f'href="/press/{first}"' in correction
    entries = {e.find(f"{ATOM}link[@rel='alternate']").get("href").rsplit("/", 1)[1]: e
               for e in feed_of(anon).findall(f"{ATOM}entry")}
    related = lambda e: [x.get("href").rsplit("/", 1)[1] for x in e.findall(f"{ATOM}link[@rel='related']")]  # noqa: E731
    assert related(entries[str(fix)]) == [str(first)] and related(entries[str(first)]) == [str(fix)]
    assert f"更正第 {first} 号" in entries[str(fix)].find(f"{ATOM}content").text
    assert f"已被第 {fix} 号" in entries[str(first)].find(f"{ATOM}content").text


# -- what the public sees ----------------------------------------------------------------------------
def test_press_lists_only_published_releases_and_the_feed_is_valid_atom(app) -> None:
    store = store_of(app)
    inc = open_incident(app)
    published = through(app, inc.id, title="关于海门街道仓库火灾的情况通报 <b>&", title_en="Warehouse fire in Haimen")
    d, e = login(app, "drafter"), login(app, "editor")
    hidden_draft = draft(d, inc.id, title="草稿不应公开")["number"]
    hidden_reviewed = draft(d, inc.id, title="审核稿不应公开")["number"]
    e.post(f"{CC}/press/{hidden_reviewed}/review", json={"approve": True})
    anon = app.server.test_client()
    page = anon.get("/press").get_data(as_text=True)
    assert f'id="pr-item-{published}"' in page and "&lt;b&gt;&amp;" in page        # escaped
    assert "草稿不应公开" not in page and "审核稿不应公开" not in page
    for n in (hidden_draft, hidden_reviewed, 9999):
        resp = anon.get(f"/press/{n}")
        assert resp.status_code == 404 and "不应公开" not in resp.get_data(as_text=True)
    one = anon.get(f"/press/{published}")
    body = one.get_data(as_text=True)
    assert one.status_code == 200 and 'name="viewport"' in body
    assert re.search(r'id="pr-casualties">\s*<div><b>0</b>死亡</div>\s*<div><b>2</b>受伤</div>\s*<div><b>1</b>失联', body)
    assert "12345" in body and "椒江区海门街道" in body
    assert "Warehouse fire in Haimen" in anon.get(f"/press/{published}?lang=en").get_data(as_text=True)

    root = feed_of(anon)
    assert root.tag == f"{ATOM}feed"
    for tag in ("id", "title", "updated", "author/" + ATOM + "name"):
        assert (root.find(ATOM + tag).text or "").strip(), tag
    assert root.find(f"{ATOM}link[@rel='self']").get("href").endswith("/press/feed.atom")
    entries = root.findall(f"{ATOM}entry")
    assert len(entries) == 1
    entry = entries[0]
    assert entry.find(f"{ATOM}id").text.startswith("urn:uuid:")
    assert entry.find(f"{ATOM}title").text == f"第 {published} 号 关于海门街道仓库火灾的情况通报 <b>&"
    assert entry.find(f"{ATOM}link[@rel='alternate']").get("href").endswith(f"/press/{published}")
    assert entry.find(f"{ATOM}author/{ATOM}name").text == "台州市椒江区应急管理局"
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", entry.find(f"{ATOM}updated").text)
    content = entry.find(f"{ATOM}content").text
    assert "死亡 0 人，受伤 2 人，失联 1 人" in content and "咨询热线：12345" in content
    # the feed's id stays the same while releases are added (readers keep their place)
    feed_id = root.find(f"{ATOM}id").text
    later = through(app, inc.id)
    again = feed_of(anon)
    assert again.find(f"{ATOM}id").text == feed_id and len(again.findall(f"{ATOM}entry")) == 2
    assert [x.find(f"{ATOM}link").get("href").rsplit("/", 1)[1] for x in again.findall(f"{ATOM}entry")] == \
        [str(later), str(published)]
    assert store.entity(f"cc.press.{published}").properties["state"] == "published"


def test_a_drill_release_is_marked_and_never_public(app) -> None:
    inc = open_incident(app, drill=True)
    n = through(app, inc.id, title="关于演练火灾的情况通报")
    rel = press.get(store_of(app), n).properties
    assert rel["is_drill"] and rel["title"].startswith("【演练】") and rel["state"] == "published"
    anon = app.server.test_client()
    assert anon.get(f"/press/{n}").status_code == 404
    assert "演练" not in anon.get("/press").get_data(as_text=True)
    assert feed_of(anon).findall(f"{ATOM}entry") == []
    page = login(app, "drafter").get(f"{CC}/press?incident={inc.id}").get_data(as_text=True)
    assert 'id="pr-drill-mark"' in page
    audit = [a for a in store_of(app).audit_log() if a.action == "press.publish" and a.target == f"press:{n}"]
    assert audit[0].new["public"] is False


@pytest.mark.parametrize("field, value, message", [
    ("deaths", "-1", "whole number"), ("injuries", "two", "whole number"), ("missing", None, "required"),
    ("facts", "   ", "required"), ("measures", "", "required"), ("title", "x" * 201, "longer than 200"),
    ("hotline", "call us", "not a telephone number"), ("occurred_at", "yesterday", "not a time"),
    ("occurred_at", "1970-01-01 08:00", "between the years"), ("incident_id", "abc", "incident number"),
    ("incident_id", 99999, "no incident"), ("facts_en", ["a"], "must be text")])
def test_bad_input_is_refused_naming_the_field_and_nothing_is_stored(app, field, value, message) -> None:
    store = store_of(app)
    inc = open_incident(app)
    d = login(app, "drafter")
    body = {**fields(d, inc.id), field: value}
    resp = d.post(f"{CC}/press", json=body)
    assert resp.status_code in (400, 404)
    doc = resp.get_json()
    assert doc["field"] == field and message in doc["error"] and doc["error"].startswith(field)
    assert press.releases(store) == [] and not [a for a in store.audit_log() if a.action.startswith("press.")]


def test_a_form_post_from_the_managers_page_comes_back_with_the_error(app) -> None:
    inc = open_incident(app)
    d = login(app, "drafter")
    page = d.get(f"{CC}/press?incident={inc.id}").get_data(as_text=True)
    assert 'id="pr-form"' in page and "化工厂仓库火灾" in page
    form = {**{k: ("" if v is None else v) for k, v in fields(d, inc.id).items()}, "occurred_at": "2024-05-01T10:30",
            "deaths": "x", "csrf_token": d.environ_base["HTTP_X_CSRFTOKEN"]}
    resp = d.post(f"{CC}/press", data=form, follow_redirects=True)
    assert "deaths: must be a whole number" in resp.get_data(as_text=True)
    form["deaths"] = "0"
    resp = d.post(f"{CC}/press", data=form, follow_redirects=True)
    assert "草稿已保存" in resp.get_data(as_text=True)
    rel = press.releases(store_of(app))[0].properties
    assert rel["occurred_at"] > 0 and rel["deaths"] == 0


def test_the_incident_report_lists_its_releases(app) -> None:
    store = store_of(app)
    inc = open_incident(app)
    n = through(app, inc.id)
    draft(login(app, "drafter"), inc.id, title="尚未审核的稿件")
    incidents.close(store, inc.id, "duty", "火已扑灭")
    data = report.collect(store, inc.id)
    assert [r.properties["number"] for r in data["releases"]] == [n, n + 1]
    page = report.render_html(data, b"")
    section = page.split('id="report-releases"')[1].split("</table>")[0]
    assert f"第 {n} 号" in section and "已发布" in section and "尚未审核的稿件" in section and "草稿" in section
    assert "drafter / editor / chief" in section


def test_the_database_refuses_changes_to_a_published_release_on_sqlite_and_postgresql(any_store) -> None:
    store = any_store
    press.install_guard(store)
    press.install_guard(store)                                  # idempotent: every start runs it
    inc = incidents.open_incident(store, "duty", kind="flood", title="内涝", lon=121.43, lat=28.68)
    body = {**press.prefill(store, inc.id), "injuries": 1}
    n = press.draft(store, "a", inc.id, body).properties["number"]
    with pytest.raises(press.PressError, match="separation of duties"):
        press.publish(store, n, "a")
    press.review(store, n, "b", approve=True)
    published = press.publish(store, n, "b")
    assert published.properties["state"] == "published"
    with pytest.raises(press.PressError, match="cannot be changed") as refused:
        press.edit(store, n, "a", body)
    assert refused.value.status == 409
    row = press.get(store, n)
    row.properties = {**row.properties, "deaths": 9}
    with pytest.raises(DBAPIError, match="press_release_immutable"):
        store.upsert([row])
    for sql in ("UPDATE entity SET name = 'x' WHERE id = :i", "DELETE FROM entity WHERE id = :i"):
        with pytest.raises(DBAPIError, match="press_release_immutable"):
            with store.engine.begin() as conn:
                conn.execute(text(sql), {"i": f"cc.press.{n}"})
    assert press.get(store, n).properties == published.properties
    other = press.draft(store, "a", inc.id, body).properties["number"]       # drafts stay editable
    assert press.edit(store, other, "a", {**body, "deaths": 1}).properties["deaths"] == 1
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM entity WHERE id = :i"), {"i": f"cc.press.{other}"})
    with pytest.raises(press.PressError, match="no press release"):
        press.get(store, other)
