"""grid_patrol (网格化管理): the twin, check-ins and reports through the real routes, the field role, photos,
the enterprise hazard loop, alerts → incidents, evacuation tasks feeding the flood transfers, panels."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from PIL import Image

from core.api import AlertRaised, HazardReported
from core.data.users import UserError, Users
from core.plugins.testing import make_twin_app, panel_text, render_panel  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]
GRID = "gp.grid.xiachen-2"          # an enterprise grid: 海明塑料 and two more park enterprises are its points
OTHER = "gp.grid.haimen-1"
QUIET = {"enterprise_park": {"settings": {"demo_broker": False, "demo_publisher": False, "demo_inspections": False}},
         "grid_patrol": {"settings": {"demo_history": False, "demo_live": False}},
         "command_center": {"settings": {"auto_incident_plugins": ["grid_patrol"], "switch_wall": False}}}


def jpeg(size: tuple[int, int] = (640, 480), quality: int = 85) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (180, 60, 40)).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


@pytest.fixture
def app(make_twin_app):
    return make_twin_app(plugins_dir=ROOT / "plugins", dashboards_dir=ROOT / "config" / "dashboards",
                         plugin_allowlist=["grid_patrol", "enterprise_park", "command_center", "flood_defence"],
                         run_sources=False, plugin_config=QUIET)


def host(app):
    return app.server.config["TWINBOARD_HOST"]


def login(app, name: str, password: str = "password-1"):
    c = app.server.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").get_data(as_text=True)).group(1)
    assert c.post("/login", data={"username": name, "password": password, "csrf_token": token}).status_code == 302
    return c


def users(app) -> Users:
    u = Users(host(app).store)
    u.add("gw1", "password-1", "field", "test", scope=f"grid:{GRID}")
    u.add("mgr", "password-1", "manager", "test")
    u.add("view", "password-1", "viewer", "test")
    return u


def post(c, path: str, data: dict, photo: bytes | None = None):
    body = dict(data)
    if photo is not None:
        body["photo"] = (io.BytesIO(photo), "photo.jpg")
    return c.post("/plugins/grid_patrol/api/" + path, data=body, headers={"X-CSRFToken": c.get_cookie("_csrf_token").value})


def me(c, grid: str | None = None) -> dict:
    r = c.get("/plugins/grid_patrol/api/me" + (f"?grid={grid}" if grid else ""))
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.get_json()


def entities(app, kind: str) -> list:
    return host(app).store.entities(kind=kind)


# -- the twin --------------------------------------------------------------------------------------------
def test_demo_twin_has_grids_in_every_town_with_workers_points_routes_and_checklists(app) -> None:
    from core.plugins.manager import import_plugin_submodule
    model = import_plugin_submodule(ROOT / "plugins" / "grid_patrol", "model")
    twin = model.load_twin(host(app).store)
    towns = {g.town for g in twin.grids.values()}
    assert towns == {"haimen", "baiyun", "jiazhi", "hongjia", "xiachen", "qiansuo", "zhangan", "sanjia", "dachen"}
    assert {g.type for g in twin.grids.values()} == {"enterprise", "residential", "hillside", "riverside"}
    for g in twin.grids.values():
        assert g.workers and g.workers[0] in twin.workers and len(g.points) >= 4 and twin.routes[g.id]
        assert all(twin.points[p].grid == g.id for p in g.points)
        assert model.checklists()[g.type]
    ent_points = {p.enterprise for p in twin.points.values() if p.enterprise}
    assert ent_points == {e.id for e in host(app).store.entities(kind="sme_enterprise")}
    assert all((e.properties or {}).get("demo") for e in host(app).store.entities(plugin="grid_patrol"))


def test_a_bad_checklist_file_names_file_line_and_field(tmp_path) -> None:
    from core.api import ConfigError
    from core.plugins.manager import import_plugin_submodule
    model = import_plugin_submodule(ROOT / "plugins" / "grid_patrol", "model")
    bad = tmp_path / "checklists.yaml"
    bad.write_text("enterprise:\n  - {key: ok_key, zh: 好, en: Good}\nresidential:\n  - {key: Bad Key, zh: x, en: y}\n"
                   "hillside: []\nriverside: []\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        model.checklists(bad)
    assert "checklists.yaml" in str(err.value) and ":4" in str(err.value) and "residential.0.key" in str(err.value)


# -- check-in and report through the real routes ------------------------------------------------------------
def test_checkin_is_stored_once_and_counts_for_coverage(app) -> None:
    users(app)
    c = login(app, "gw1")
    m = me(c)
    assert m["grid"]["id"] == GRID and m["fixed_grid"] and "grids" not in m
    p = m["points"][0]
    form = {"key": "chk-00000001", "point": p["id"], "lon": p["lon"] + 0.0003, "lat": p["lat"],
            "checklist": json.dumps({i["key"]: "ok" for i in m["checklist"]} | {m["checklist"][1]["key"]: "issue"})}
    first = post(c, "checkins", form, jpeg())
    assert first.status_code == 201, first.get_data(as_text=True)
    again = post(c, "checkins", form, jpeg())          # the phone re-sends after a lost answer
    assert again.status_code == 200 and again.get_json()["duplicate"] is True
    assert again.get_json()["id"] == first.get_json()["id"]
    rec = entities(app, "patrol_checkin")
    assert len(rec) == 1 and rec[0].properties["issues"] == [m["checklist"][1]["key"]]
    assert 25 < rec[0].properties["distance_m"] < 35 and rec[0].properties["offsite"] is False
    assert [e.action for e in host(app).store.audit_log(50)].count("grid_patrol.checkin") == 1
    assert me(c)["points"][0]["visited_today"] is True
    kpis = str(render_panel(app, "grid_patrol.kpis"))
    n_points = sum(len(e.properties["points"]) for e in entities(app, "grid"))
    assert f"'/{n_points}'" in kpis


def test_report_at_an_enterprise_joins_the_park_loop_raises_an_alert_and_opens_an_incident(app) -> None:
    users(app)
    c = login(app, "gw1")
    p = next(p for p in me(c)["points"] if p["enterprise"] == "ep.ent.hm-plastic")
    form = {"key": "rpt-00000001", "point": p["id"], "category": "fire", "level": "urgent", "manual": "1",
            "description": "仓库堆放纸箱,消防通道堵塞"}
    r = post(c, "reports", form, jpeg())
    assert r.status_code == 201, r.get_data(as_text=True)
    assert post(c, "reports", form, jpeg()).get_json()["duplicate"] is True
    loop = [i for i in entities(app, "inspection") if i.properties.get("ref") == "gp.rpt.rpt-00000001"]
    assert len(loop) == 1
    insp = loop[0].properties
    assert insp["enterprise"] == "ep.ent.hm-plastic" and insp["state"] == "found" and insp["level"] == "major"
    assert insp["source"] == "grid_patrol" and insp["found_by"] == "gw1"
    assert c.get("/plugins/grid_patrol/api/reports/gp.rpt.rpt-00000001").get_json()["loop"] == [loop[0].id]
    # the same report delivered again on the bus (another process's relay) opens no second hazard
    host(app).bus.publish(HazardReported(plugin="grid_patrol", report_id="gp.rpt.rpt-00000001",
                                         entity_id="ep.ent.hm-plastic", title="again", level="major"))
    assert len([i for i in entities(app, "inspection") if i.properties.get("ref") == "gp.rpt.rpt-00000001"]) == 1
    alerts = [a for a in host(app).store.alerts() if a.rule_id == "grid_patrol.hazard"]
    assert [(a.entity_id, a.severity) for a in alerts] == [("gp.rpt.rpt-00000001", 1)]
    assert alerts[0].incident_id is not None           # command_center opened an incident from the alert
    assert "仓库堆放纸箱" in str(render_panel(app, "enterprise_park.inspections"))


def test_a_general_report_elsewhere_raises_no_alert_and_opens_no_park_hazard(app) -> None:
    users(app)
    c = login(app, "gw1")
    r = post(c, "reports", {"key": "rpt-00000002", "category": "electrical", "description": "路灯电线裸露",
                            "manual": "1"}, jpeg())
    assert r.status_code == 201 and r.get_json()["enterprise"] is None
    assert not [a for a in host(app).store.alerts() if a.rule_id == "grid_patrol.hazard"]
    assert not [i for i in entities(app, "inspection") if i.properties.get("ref")]
    assert "路灯电线裸露" in str(render_panel(app, "grid_patrol.reports"))
    assert "用电安全" in str(render_panel(app, "grid_patrol.categories"))


@pytest.mark.parametrize("change, field", [
    ({"category": "volcano"}, "category"), ({"level": "apocalyptic"}, "level"), ({"description": "x"}, "description"),
    ({"point": "gp.point.haimen-1-1"}, "point"), ({"manual": "0"}, "lon"), ({"manual": "0", "lon": "abc", "lat": "28.6"}, "lon"),
    ({"manual": "0", "lon": "116.4", "lat": "39.9"}, "lon"), ({"key": "short"}, "key"), ({"photo": None}, "photo"),
])
def test_bad_report_names_the_field_and_stores_nothing(app, change, field) -> None:
    users(app)
    c = login(app, "gw1")
    form = {"key": "rpt-00000003", "category": "gas", "level": "general", "description": "燃气软管老化", "manual": "1"}
    photo = jpeg()
    if "photo" in change:
        photo = None
        change = {}
    r = post(c, "reports", {**form, **change}, photo)
    assert r.status_code == 400 and r.get_json()["field"] == field, r.get_data(as_text=True)
    assert entities(app, "patrol_report") == []
    photos = Path(host(app).settings.path(host(app).settings.var_dir)) / "grid_patrol" / "photos"
    assert not photos.exists() or not any(photos.rglob("*.jpg"))


def test_bad_checkin_names_the_unanswered_item(app) -> None:
    users(app)
    c = login(app, "gw1")
    m = me(c)
    ans = {i["key"]: "ok" for i in m["checklist"][1:]}
    r = post(c, "checkins", {"key": "chk-00000002", "point": m["points"][0]["id"], "manual": "1",
                             "checklist": json.dumps(ans)})
    assert r.status_code == 400 and r.get_json()["field"] == f"checklist.{m['checklist'][0]['key']}"
    r = post(c, "checkins", {"key": "chk-00000002", "point": m["points"][0]["id"], "manual": "1",
                             "checklist": json.dumps(ans | {m["checklist"][0]["key"]: "ok", "made_up": "ok"})})
    assert r.status_code == 400 and r.get_json()["field"] == "checklist.made_up"
    assert entities(app, "patrol_checkin") == [] and host(app).store.latest(metric="visited") == []


# -- photos ------------------------------------------------------------------------------------------------
def test_photos_are_limited_by_size_and_checked_by_content(make_twin_app) -> None:
    app = make_twin_app(plugins_dir=ROOT / "plugins", plugin_allowlist=["grid_patrol"], run_sources=False,
                        plugin_config={"grid_patrol": {"settings": {"demo_history": False, "demo_live": False,
                                                                    "photo_max_bytes": 64 * 1024}}})
    users(app)
    c = login(app, "gw1")
    form = {"category": "fire", "description": "电动车楼道充电", "manual": "1"}
    noise = Image.effect_noise((420, 420), 100).convert("RGB")
    big = io.BytesIO()
    noise.save(big, "JPEG", quality=95)
    assert len(big.getvalue()) > 64 * 1024
    cases = [(big.getvalue(), "MB; at most"),
             (b"<html><script>alert(1)</script></html>", "not a JPEG, PNG or WebP"),
             (b"\xff\xd8\xff\xe0" + b"\x00" * 4000, "damaged or not a picture"),
             (b"GIF89a" + b"\x00" * 100, "not a JPEG, PNG or WebP")]
    bomb = io.BytesIO()
    Image.new("1", (20000, 20000)).save(bomb, "PNG")
    cases.append((bomb.getvalue(), "megapixels"))
    for n, (data, why) in enumerate(cases):
        r = post(c, "reports", {**form, "key": f"photo-case-{n}"}, data)
        assert r.status_code == 400 and r.get_json()["field"] == "photo" and why in r.get_json()["error"], (n, r.get_json())
    assert entities(app, "patrol_report") == []
    png = io.BytesIO()
    Image.new("RGB", (64, 48), (0, 128, 255)).save(png, "PNG")
    ok = post(c, "reports", {**form, "key": "photo-case-ok"}, png.getvalue())
    assert ok.status_code == 201
    url = ok.get_json()["photos"][0]
    assert url.endswith(".png")
    got = c.get(url)
    assert got.status_code == 200 and got.mimetype == "image/png" and got.data == png.getvalue()
    assert got.headers["X-Content-Type-Options"] == "nosniff" and "sandbox" in got.headers["Content-Security-Policy"]
    assert got.headers["Content-Disposition"].startswith("inline")
    for bad in ("../../secret_key", "..%2F..%2Fsecret_key", "x.html", url.rsplit("/", 1)[1].replace(".png", ".html")):
        assert c.get(f"/plugins/grid_patrol/photos/{GRID}/{bad}").status_code == 404
    assert c.get(url.replace(GRID, OTHER)).status_code == 403          # a field user sees its own grid's photos only


def test_an_upload_over_the_route_limit_gets_413(app) -> None:
    users(app)
    c = login(app, "gw1")
    r = post(c, "reports", {"key": "too-big-0001", "category": "fire", "description": "超大文件", "manual": "1"},
             b"\xff\xd8\xff" + b"\x00" * (6 * 1024 * 1024))
    assert r.status_code == 413 and r.get_json()["limit_bytes"] == 5 * 1024 * 1024 + 512 * 1024
    assert entities(app, "patrol_report") == []


# -- roles ----------------------------------------------------------------------------------------------------
def test_field_user_is_refused_everywhere_but_its_own_grid_and_every_refusal_is_audited(app) -> None:
    users(app)
    c = login(app, "gw1")
    home = c.get("/")
    assert home.status_code == 302 and home.headers["Location"].endswith("/m/patrol")
    assert c.get("/m/patrol").status_code == 200
    refused = ["/screen/grid_patrol", "/screen/enterprise_park", "/admin", "/admin/users", "/api/entities",
               "/api/alerts", "/plugins/enterprise_park/mqtt/stats", f"/plugins/grid_patrol/api/me?grid={OTHER}"]
    for path in refused:
        assert c.get(path).status_code == 403, path
    assert c.post("/_dash-update-component", json={}).status_code in (400, 403)
    assert post(c, "reports", {"key": "rpt-other-01", "grid": OTHER, "category": "fire", "description": "别的网格",
                               "manual": "1"}, jpeg()).status_code == 403
    assert post(c, "evacuations", {"key": "push-000001", "reason": "演练", "towns": "xiachen"}).status_code == 403
    audit = [e for e in host(app).store.audit_log(200) if e.action == "access.refused" and e.actor == "gw1"]
    assert len(audit) >= len(refused) + 2
    assert {e.target.split("?")[0] for e in audit} >= {f"path:{p.split('?')[0]}" for p in refused}
    assert entities(app, "patrol_report") == []


def test_managers_see_every_grid_and_viewers_may_not_submit(app) -> None:
    users(app)
    mgr = login(app, "mgr")
    m = me(mgr, OTHER)
    assert m["grid"]["id"] == OTHER and len(m["grids"]) == len(entities(app, "grid"))
    r = post(mgr, "reports", {"key": "rpt-mgr-0001", "grid": OTHER, "category": "flood", "description": "排水口堵塞",
                              "manual": "1"}, jpeg())
    assert r.status_code == 201
    view = login(app, "view")
    assert me(view, GRID)["grid"]["id"] == GRID
    assert post(view, "reports", {"key": "rpt-view-001", "grid": GRID, "category": "flood", "description": "排水口堵塞",
                                  "manual": "1"}, jpeg()).status_code == 403
    anon = app.server.test_client()
    assert anon.get("/m/patrol").status_code == 302            # to the sign-in page


def test_scoped_roles_need_their_kind_of_scope(app) -> None:
    u = Users(host(app).store)
    with pytest.raises(UserError, match="needs a scope 'grid:<id>'"):
        u.add("gw2", "password-1", "field", "t")
    with pytest.raises(UserError, match="takes a 'grid:' scope"):
        u.add("gw2", "password-1", "field", "t", scope="town:haimen")
    with pytest.raises(UserError, match="takes no scope"):
        u.add("gw2", "password-1", "manager", "t", scope="grid:x")
    u.add("gw2", "password-1", "viewer", "t")
    u.set_role("gw2", "field", "admin1", scope=f"grid:{OTHER}")
    got = next(x for x in u.all() if x.username == "gw2")
    assert (got.role, got.scope) == ("field", f"grid:{OTHER}")
    u.set_role("gw2", "manager", "admin1")
    got = next(x for x in u.all() if x.username == "gw2")
    assert (got.role, got.scope) == ("manager", None)
    roles = [(e.old, e.new) for e in host(app).store.audit_log(20) if e.action == "user.role"]
    assert roles[:2] == [({"role": "field", "scope": f"grid:{OTHER}"}, "manager"),
                         ("viewer", {"role": "field", "scope": f"grid:{OTHER}"})]


def test_cli_adds_and_sets_a_field_user_with_a_scope(tmp_path, monkeypatch, capsys) -> None:
    import yaml
    from core.cli import main
    cfg = tmp_path / "s.yaml"
    cfg.write_text(yaml.safe_dump({"root": str(ROOT), "database_url": f"sqlite:///{tmp_path / 't.sqlite'}",
                                   "var_dir": str(tmp_path / "var")}), encoding="utf-8")
    monkeypatch.setattr("sys.stdin", io.StringIO("password-1\n"))
    assert main(["--config", str(cfg), "user", "add", "gw9", "--role", "field", "--scope", f"grid:{GRID}",
                 "--password-stdin"]) == 0
    assert main(["--config", str(cfg), "user", "set-role", "gw9", "field", "--scope", f"grid:{OTHER}"]) == 0
    assert main(["--config", str(cfg), "user", "list"]) == 0
    assert f"field  grid:{OTHER}" in capsys.readouterr().out
    assert main(["--config", str(cfg), "user", "set-role", "gw9", "field"]) != 0


def test_admin_users_page_sets_a_scope(app) -> None:
    u = Users(host(app).store)
    u.add("boss", "password-1", "admin", "t")
    c = login(app, "boss")
    token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/admin/users").get_data(as_text=True)).group(1)
    c.post("/admin/users", data={"csrf_token": token, "action": "add", "username": "gw5", "password": "password-1",
                                 "role": "field", "scope": f"grid:{GRID}"})
    c.post("/admin/users", data={"csrf_token": token, "action": "add", "username": "gw6", "password": "password-1",
                                 "role": "field", "scope": ""})
    page = c.get("/admin/users").get_data(as_text=True)
    assert f"grid:{GRID}" in page and "needs a scope" in page
    assert {x.username: x.scope for x in u.all()}.get("gw5") == f"grid:{GRID}" and "gw6" not in {x.username for x in u.all()}


# -- evacuation ----------------------------------------------------------------------------------------------
def test_a_flood_warning_pushes_tasks_and_confirmations_feed_the_flood_transfers(app) -> None:
    users(app)
    h = host(app)
    grid = h.store.entity("gp.grid.sanjia-1")
    village = grid.properties["flood_village"]
    station = next(e for e in h.store.entities(kind="station") if "sanjia" in e.id)
    h.bus.publish(AlertRaised(alert_id=777, plugin="flood_defence", rule_id="flood_defence.water_level",
                              entity_id=station.id, severity=2, title="三甲潮位站橙色水位预警"))
    tasks = {t.properties["grid"]: t for t in entities(app, "evac_task")}
    assert "gp.grid.sanjia-1" in tasks and all(t.properties["campaign"] == "w777" for t in tasks.values())
    h.bus.publish(AlertRaised(alert_id=777, plugin="flood_defence", rule_id="flood_defence.water_level",
                              entity_id=station.id, severity=1, title="escalated"))
    assert len(entities(app, "evac_task")) == len(tasks)                 # the same warning: no new tasks
    Users(h.store).add("gw3", "password-1", "field", "t", scope="grid:gp.grid.sanjia-1")
    c = login(app, "gw3")
    task = next(t for t in me(c)["tasks"] if t["grid"] == "gp.grid.sanjia-1")
    url = f"evacuations/{task['id']}/confirm"
    assert post(c, url, {"key": "evac-000001", "households": "30", "people": "20"}).get_json()["field"] == "people"
    r = post(c, url, {"key": "evac-000002", "households": "30", "people": "81"})
    assert r.status_code == 200 and r.get_json()["households_moved"] == 30
    assert post(c, url, {"key": "evac-000002", "households": "30", "people": "81"}).get_json()["duplicate"] is True
    r = post(c, url, {"key": "evac-000003", "households": "52", "people": "140"})      # the running total
    assert r.get_json()["people_moved"] == 140
    assert {lv.value for lv in h.store.latest(entity_ids=[village], metric="transferred")} == {140.0}
    assert {lv.value for lv in h.store.latest(entity_ids=["gp.grid.sanjia-1"], metric="evac_households")} == {52.0}
    flood = render_panel(app, "flood_defence.transfers", options={"show": "villages", "villages": 30, "progress": 0})
    name = h.store.entity(village).name
    assert re.search(name + r".*?140/", str(flood)), str(flood)[:2000]
    other = next(t for t in entities(app, "evac_task") if t.properties["grid"] != "gp.grid.sanjia-1")
    assert post(c, f"evacuations/{other.id}/confirm", {"key": "evac-000004", "households": "1", "people": "1"}
                ).status_code == 403
    assert "52" in str(render_panel(app, "grid_patrol.evacuation"))


def test_a_manager_pushes_evacuation_tasks_to_towns(app) -> None:
    users(app)
    c = login(app, "mgr")
    h = {"X-CSRFToken": c.get_cookie("_csrf_token").value}
    bad = c.post("/plugins/grid_patrol/api/evacuations", json={"key": "push-000001", "reason": "台风", "towns": ["atlantis"]},
                 headers=h)
    assert bad.status_code == 400 and bad.get_json()["field"] == "towns" and entities(app, "evac_task") == []
    r = c.post("/plugins/grid_patrol/api/evacuations", json={"key": "push-000001", "reason": "台风“海葵”转移",
                                                             "towns": ["sanjia", "dachen"]}, headers=h)
    assert r.status_code == 201
    grids = {t.properties["grid"] for t in entities(app, "evac_task")}
    assert grids and all(g.startswith(("gp.grid.sanjia", "gp.grid.dachen")) for g in grids)
    assert any(e.action == "grid_patrol.evacuation.push" for e in host(app).store.audit_log(20))


# -- panels ----------------------------------------------------------------------------------------------------
def test_every_panel_renders_in_both_languages_with_the_demo_history(make_twin_app) -> None:
    app = make_twin_app(plugins_dir=ROOT / "plugins", plugin_allowlist=["grid_patrol"], run_sources=False)
    assert host(app).store.latest(metric="visited")
    ids = [p for p in host(app).all_panels() if p.startswith("grid_patrol.")]
    assert len(ids) == 8
    for pid in ids:
        for locale in ("zh_CN", "en"):
            out = render_panel(app, pid, locale=locale)
            assert out is not None
    deck = render_panel(app, "grid_patrol.map")
    grids = next(layer for layer in deck["layers"] if layer["id"] == "gp-grids")
    assert len(grids["data"]["features"]) == len(host(app).store.entities(kind="grid"))
    assert "Covered today" in str(render_panel(app, "grid_patrol.kpis", locale="en"))
    assert "三甲街道" in str(render_panel(app, "grid_patrol.coverage"))


# -- English screens (issue 19) -----------------------------------------------------------------------------------


def test_the_demo_reports_read_in_english_on_an_english_screen(make_twin_app) -> None:
    """Issue 19: the demo's reports carry their description in English (``description_en``): the latest
    reports and the map's report tooltips read in English on ``?lang=en``, in Chinese as written otherwise."""
    from test_machine_text import english_problems, machine_text_problems
    app = make_twin_app(plugins_dir=ROOT / "plugins", plugin_allowlist=["grid_patrol"], run_sources=False,
                        plugin_config={"grid_patrol": {"settings": {"demo_live": False}}})
    n = len(entities(app, "patrol_report"))
    assert n >= 10
    shown = {}
    for loc in ("zh_CN", "en"):
        originals: list[str] = []
        shown[loc] = panel_text(render_panel(app, "grid_patrol.reports", {"limit": n}, locale=loc), originals)
        assert not originals and not machine_text_problems(shown[loc]), (originals, machine_text_problems(shown[loc]))
    assert not english_problems(shown["en"]), english_problems(shown["en"])
    assert "Fire safety: E-bike charging in a stairwell" in shown["en"]
    assert "消防安全:电动车在楼道内充电" in shown["zh_CN"]
    reps = next(layer for layer in render_panel(app, "grid_patrol.map", locale="en")["layers"]
                if layer["id"] == "gp-reports")["data"]
    assert reps and not english_problems("\n".join(f"{r['name']}: {r['info']}" for r in reps))


def test_a_workers_own_report_shows_as_the_original_and_its_alert_reads_in_english(app) -> None:
    """A real report has no English form: English screens show its description as written, marked as the
    original; the alert it raises names level and category in English and leaves the Chinese text out."""
    from test_machine_text import english_problems
    users(app)
    c = login(app, "gw1")
    desc = "配电房屋顶漏水,电缆沟积水"
    r = post(c, "reports", {"key": "rpt-00000009", "category": "electrical", "level": "major", "manual": "1",
                            "description": desc}, jpeg())
    assert r.status_code == 201, r.get_data(as_text=True)
    (alert,) = [a for a in host(app).store.alerts() if a.rule_id == "grid_patrol.hazard"]
    assert alert.title_en == "Major: Grid report · Electrical" and desc in alert.title
    assert alert.message_en == "see the report's description and photo · reported by gw1"
    assert not english_problems(f"{alert.title_en}\n{alert.message_en}")
    originals: list[str] = []
    text = panel_text(render_panel(app, "grid_patrol.reports", locale="en"), originals)
    assert originals == [desc] and "Electrical: ‹original›" in text and not english_problems(text)
