"""Issue 19: the duty console sends a stranger to sign in and back (10); closing an incident that skipped
研判 or 调度 needs a reason, kept on the timeline, in the audit and in the report (11); the drill report
states the demo's time scale and is marked as a drill (6)."""

from __future__ import annotations

import re
import types
from pathlib import Path

import pytest

from core.data.users import Users
from core.plugins.manager import import_plugin_submodule

PLUGIN_DIR = Path(__file__).resolve().parents[1] / "plugins" / "command_center"
CC = "/plugins/command_center"
incidents, report = (import_plugin_submodule(PLUGIN_DIR, m) for m in ("incidents", "report"))


@pytest.fixture
def app(make_twin_app, tmp_path):
    cc = {"outbox": str(tmp_path / "outbox.jsonl"), "reports_dir": str(tmp_path / "reports")}
    # screens open to all (the wall's default): the console still needs a signed-in manager
    app = make_twin_app(builtin=True, plugin_allowlist=["command_center", "alerts"], run_sources=False,
                        public_screens=True, plugin_config={"command_center": {"settings": cc}})
    users = Users(app.server.config["TWINBOARD_HOST"].store)
    users.add("viewer1", "viewer-pass-1", "viewer", "test")
    users.add("manager1", "manager-pass-1", "manager", "test")
    return app


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def sign_in(client, name: str, password: str, url: str = "/login"):
    token = csrf_of(client.get(url).get_data(as_text=True))
    return client.post(url, data={"username": name, "password": password, "csrf_token": token})


# -- 10: sign in and come back -----------------------------------------------------------------------
def test_the_console_sends_a_stranger_to_sign_in_and_back(app) -> None:
    client = app.server.test_client()
    resp = client.get(f"{CC}/console?lang=en")
    assert resp.status_code == 302, resp.get_data(as_text=True)
    target = resp.headers["Location"]
    assert target.startswith("/login?next=") and "Forbidden" not in resp.get_data(as_text=True)
    assert "/plugins/command_center/console" in target
    back = sign_in(client, "manager1", "manager-pass-1", target)
    assert back.status_code == 302 and back.headers["Location"] == f"{CC}/console?lang=en"
    assert client.get(back.headers["Location"]).status_code == 200


def test_a_script_without_a_session_gets_401_json_and_a_viewer_still_403(app) -> None:
    anon = app.server.test_client()
    resp = anon.get(f"{CC}/console", headers={"Accept": "application/json"}, json={})
    assert resp.status_code == 401 and "sign in" in resp.get_json()["error"]
    viewer = app.server.test_client()
    sign_in(viewer, "viewer1", "viewer-pass-1")
    assert viewer.get(f"{CC}/console").status_code == 403


@pytest.mark.parametrize("bad", ["//evil.example/x", "/\\evil.example/x", "https://evil.example/", "javascript:x",
                                 "/%0d%0aSet-Cookie:x"])
def test_only_a_local_path_is_followed_after_sign_in(app, bad: str) -> None:
    client = app.server.test_client()
    token = csrf_of(client.get("/login").get_data(as_text=True))
    resp = client.post("/login", query_string={"next": bad},
                       data={"username": "manager1", "password": "manager-pass-1", "csrf_token": token})
    assert resp.status_code == 302
    location = resp.headers["Location"]
    assert location == "/" or (location.startswith("/") and not location.startswith(("//", "/\\"))
                               and "\n" not in location and "\r" not in location)


# -- 11: closing without 研判 / 调度 ---------------------------------------------------------------------
def manager(app):
    client = app.server.test_client()
    sign_in(client, "manager1", "manager-pass-1")
    return client, {"X-CSRFToken": csrf_of(client.get(f"{CC}/console").get_data(as_text=True))}


def test_closing_a_level_one_incident_from_intake_needs_a_reason_kept_everywhere(app) -> None:
    host = app.server.config["TWINBOARD_HOST"]
    client, h = manager(app)
    inc = client.post(f"{CC}/incidents", json={"kind": "fire", "title": "仓库火灾", "severity": 1,
                                               "lon": 121.45, "lat": 28.67}, headers=h).get_json()
    page = client.get(f"{CC}/console").get_data(as_text=True)
    assert 'name="reason"' in page and "未经研判、调度即结案的理由" in page
    audits = len(host.store.audit_log(limit=10000))
    refused = client.post(f"{CC}/incidents/{inc['id']}/close", json={"text": "已处理"}, headers=h)
    assert refused.status_code == 400
    assert "assessment" in refused.get_json()["error"] and "reason" in refused.get_json()["error"]
    assert incidents.get(host.store, inc["id"]).state == "intake"          # nothing changed
    assert len(host.store.audit_log(limit=10000)) == audits

    reason = "现场核实为误报, 无需研判和调度"
    ok = client.post(f"{CC}/incidents/{inc['id']}/close", json={"text": "已处理", "reason": reason}, headers=h)
    assert ok.status_code == 200, ok.get_data(as_text=True)
    last = incidents.timeline(host.store, inc["id"])[-1]
    assert last.kind == "closed" and reason in last.message and "未经研判、调度即结案" in last.message
    assert last.data["close_skipped"] == {"steps": ["assessment", "dispatch"], "reason": reason}
    entry = next(a for a in host.store.audit_log(limit=10000) if a.action == "incident.close_skipped")
    assert entry.target == f"incident:{inc['id']}" and entry.new["reason"] == reason and entry.actor == "manager1"

    assert client.post(f"{CC}/incidents/{inc['id']}/report", headers=h).status_code == 200
    html = client.get(f"{CC}/incidents/{inc['id']}/report.html").get_data(as_text=True)
    assert "结案说明" in html and reason in html and "未经研判、调度即结案" in html
    assert client.get(f"{CC}/incidents/{inc['id']}/report.pdf").data.startswith(b"%PDF")


def test_a_minor_incident_closes_without_a_reason_but_the_skip_is_recorded(app) -> None:
    host = app.server.config["TWINBOARD_HOST"]
    client, h = manager(app)
    inc = client.post(f"{CC}/incidents", json={"kind": "other", "title": "误报核实", "severity": 4,
                                               "lon": 121.45, "lat": 28.67}, headers=h).get_json()
    assert 'name="reason"' not in client.get(f"{CC}/console").get_data(as_text=True)
    assert client.post(f"{CC}/incidents/{inc['id']}/close", json={"text": "误报"}, headers=h).status_code == 200
    last = incidents.timeline(host.store, inc["id"])[-1]
    assert "未经研判、调度即结案" in last.message and last.data["close_skipped"]["steps"] == ["assessment", "dispatch"]
    assert report.collect(host.store, inc["id"])["close_note"].startswith("未经研判、调度即结案")


def test_an_incident_through_assessment_and_dispatch_closes_without_a_reason(app) -> None:
    host = app.server.config["TWINBOARD_HOST"]
    client, h = manager(app)
    inc = client.post(f"{CC}/incidents", json={"kind": "fire", "title": "火情", "severity": 2,
                                               "lon": 121.45, "lat": 28.67}, headers=h).get_json()
    assert client.post(f"{CC}/incidents/{inc['id']}/assess", json={"severity": 2, "text": "明火"},
                       headers=h).status_code == 200
    # assessed but not dispatched: still a reason
    assert client.post(f"{CC}/incidents/{inc['id']}/close", json={"text": "x"}, headers=h).status_code == 400
    team = client.get(f"{CC}/incidents/{inc['id']}/candidates").get_json()[0]["id"]
    assert client.post(f"{CC}/incidents/{inc['id']}/dispatch", json={"teams": [team]}, headers=h).status_code == 200
    assert client.post(f"{CC}/incidents/{inc['id']}/close", json={"text": "扑灭"}, headers=h).status_code == 200
    closed = incidents.get(host.store, inc["id"])
    assert closed.state == "closed" and "close_skipped" not in closed.properties
    assert report.collect(host.store, inc["id"])["close_note"] == ""


# -- 6: the report states the demo's time scale ----------------------------------------------------
def test_report_times_are_converted_back_from_the_demo_time_scale() -> None:
    inc = types.SimpleNamespace(properties={"drill_speed": 20})
    tracked = [types.SimpleNamespace(actor="team:cc.team.hazmat", data={"team": "cc.team.hazmat"})]
    by_hand = [types.SimpleNamespace(actor="manager1", data={"team": "cc.team.hazmat"})]
    scales = report.time_scales(inc, tracked, speedup=10)
    assert scales == {"workflow": 20.0, "travel": 10.0}
    assert report.time_scales(inc, by_hand, speedup=10)["travel"] == 1.0  # a person's record is real time
    real = report.real_times({"intake_to_dispatch_s": 3.0, "dispatch_to_arrival_s": 29.1,
                              "intake_to_arrival_s": 32.1, "intake_to_close_s": 12.0}, scales)
    assert real == pytest.approx({"intake_to_dispatch_s": 60.0, "dispatch_to_arrival_s": 291.0,
                                  "intake_to_arrival_s": 351.0, "intake_to_close_s": 240.0})
    note = report.scale_note(scales)
    assert "演示时间倍率 ×10" in note and "×10 换算" in note and "演练按 ×20" in note
    assert report._fmt_scaled(29.1, 291.0) == "29 秒(折合 4 分 51 秒)"
    assert report.scale_note({"workflow": 1.0, "travel": 1.0}) == ""


def test_a_drill_report_is_watermarked_and_says_its_time_scale(app) -> None:
    host = app.server.config["TWINBOARD_HOST"]
    store = host.store
    inc = incidents.open_incident(store, "d", kind="fire", title="演练火情", lon=121.45, lat=28.67, is_drill=True)
    incidents.assess(store, inc.id, "d", 2, "明火")
    net = import_plugin_submodule(PLUGIN_DIR, "places").road_network(380.0)
    plan = import_plugin_submodule(PLUGIN_DIR, "dispatching").plan
    team = import_plugin_submodule(PLUGIN_DIR, "dispatching").candidates(store, net, inc)[0]["id"]
    incidents.dispatch(store, inc.id, "d", plan(store, net, inc, [team]))
    incidents.arrive(store, inc.id, team)                       # as the tracker records it ("team:<id>")
    incidents.close(store, inc.id, "d", "扑灭")
    out = report.write_report(store, inc.id, net, Path(host.plugins.records["command_center"].settings.reports_dir),
                              "d", speedup=10)
    html = out["html"].read_text(encoding="utf-8")
    assert 'class="watermark"' in html and "演练 DRILL" in html and "演示时间倍率 ×10" in html
    assert "#f6d33c" not in html                                # no bright yellow fill
    assert out["pdf"].read_bytes().startswith(b"%PDF")
