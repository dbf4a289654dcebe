"""Sign-in, roles, CSRF, kiosk tokens, the admin pages and API, and hostile input against them."""

from __future__ import annotations

import json
import re

import pytest

from core.plugins.manager import PluginStatus
from core.data.users import Users


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


@pytest.fixture
def app(make_twin_app):
    app = make_twin_app(builtin=True, plugin_allowlist=["demo_sensors", "alerts"], public_screens=False)
    users = Users(app.server.config["TWINBOARD_HOST"].store)
    users.add("viewer1", "viewer-pass-1", "viewer", "test")
    users.add("manager1", "manager-pass-1", "manager", "test")
    users.add("admin1", "admin-pass-1", "admin", "test")
    return app


def login(app, name: str, password: str):
    client = app.server.test_client()
    token = csrf_of(client.get("/login").get_data(as_text=True))
    resp = client.post("/login", data={"username": name, "password": password, "csrf_token": token})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    return client


def page_token(client, path: str = "/admin") -> str:
    return csrf_of(client.get(path).get_data(as_text=True))


def host_of(app):
    return app.server.config["TWINBOARD_HOST"]


ADMIN_ROUTES = [("get", "/admin"), ("get", "/admin/audit"), ("get", "/admin/kiosk"), ("get", "/admin/dashboards"),
                ("get", "/admin/plugins/demo_sensors/settings"), ("post", "/admin/plugins/demo_sensors/enabled"),
                ("post", "/admin/plugins/demo_sensors/settings"), ("post", "/admin/kiosk"),
                ("post", "/api/admin/plugins/demo_sensors"), ("post", "/api/admin/alerts/1"),
                ("get", "/admin/users"), ("post", "/admin/users")]


@pytest.mark.parametrize("method,path", ADMIN_ROUTES)
def test_unauthenticated_requests_change_nothing(app, method: str, path: str) -> None:
    client = app.server.test_client()
    resp = getattr(client, method)(path, data={"enabled": "0", "label": "x"})
    assert resp.status_code in (302, 400, 401)
    if resp.status_code == 302:
        assert resp.headers["Location"].startswith("/login")
    assert host_of(app).plugins.records["demo_sensors"].status == PluginStatus.ENABLED
    assert Users(host_of(app).store).kiosk_tokens() == []


@pytest.mark.parametrize("method,path", ADMIN_ROUTES)
def test_viewer_is_refused_everywhere_in_admin(app, method: str, path: str) -> None:
    client = login(app, "viewer1", "viewer-pass-1")
    token = csrf_of(client.get("/login").get_data(as_text=True))
    resp = getattr(client, method)(path, data={"enabled": "0", "csrf_token": token},
                                   headers={"X-CSRFToken": token})
    assert resp.status_code == 403
    assert host_of(app).plugins.records["demo_sensors"].status == PluginStatus.ENABLED


def test_viewer_sees_screens_and_anonymous_is_sent_to_login(app) -> None:
    assert app.server.test_client().get("/screen/demo").headers["Location"].startswith("/login")
    assert login(app, "viewer1", "viewer-pass-1").get("/screen/demo").status_code == 200


def test_wrong_password_and_injection_do_not_sign_in(app) -> None:
    client = app.server.test_client()
    token = csrf_of(client.get("/login").get_data(as_text=True))
    for name, pw in (("manager1", "nope"), ("manager1' OR '1'='1", "x' OR '1'='1"), ("", "")):
        resp = client.post("/login", data={"username": name, "password": pw, "csrf_token": token})
        assert resp.status_code == 401
    assert client.get("/admin").status_code == 302


def test_login_needs_csrf_token(app) -> None:
    client = app.server.test_client()
    resp = client.post("/login", data={"username": "manager1", "password": "manager-pass-1"})
    assert resp.status_code == 400 and "CSRF" in resp.get_data(as_text=True)


def test_open_redirect_is_refused(app) -> None:
    client = app.server.test_client()
    token = csrf_of(client.get("/login").get_data(as_text=True))
    resp = client.post("/login?next=//evil.example/x", data={"username": "manager1", "password": "manager-pass-1",
                                                            "csrf_token": token})
    assert resp.headers["Location"] == "/"


def test_manager_disables_and_enables_a_plugin(app) -> None:
    client = login(app, "manager1", "manager-pass-1")
    token = page_token(client)
    assert client.post("/admin/plugins/demo_sensors/enabled", data={"enabled": "0"}).status_code == 400  # no CSRF
    assert host_of(app).plugins.records["demo_sensors"].status == PluginStatus.ENABLED
    resp = client.post("/admin/plugins/demo_sensors/enabled", data={"enabled": "0", "csrf_token": token})
    assert resp.status_code == 302
    assert host_of(app).plugins.records["demo_sensors"].status == PluginStatus.DISABLED
    assert host_of(app).runtime.heartbeats("demo_sensors") == {}
    client.post("/admin/plugins/demo_sensors/enabled", data={"enabled": "1", "csrf_token": token})
    assert host_of(app).plugins.records["demo_sensors"].status == PluginStatus.ENABLED
    audit = client.get("/admin/audit").get_data(as_text=True)
    assert "plugin.disable" in audit and "plugin.enable" in audit and "manager1" in audit


def test_settings_form_validates_and_keeps_old_values(app) -> None:
    client = login(app, "manager1", "manager-pass-1")
    page = client.get("/admin/plugins/demo_sensors/settings").get_data(as_text=True)
    assert 'name="interval_s"' in page and 'name="gas_limits_ppm"' in page
    token = csrf_of(page)
    form = {"csrf_token": token, "interval_s": "0.01", "leak_period_s": "90", "seed": "7",
            "gas_limits_ppm": '{"III": 25, "II": 35, "I": 50}', "demo_speed": "60"}
    resp = client.post("/admin/plugins/demo_sensors/settings", data=form)
    assert resp.status_code == 400
    body = resp.get_data(as_text=True)
    assert 'data-field="interval_s"' in body and "greater than or equal to 0.1" in body
    assert host_of(app).plugins.records["demo_sensors"].settings.interval_s == 1.0
    resp = client.post("/admin/plugins/demo_sensors/settings", data={**form, "gas_limits_ppm": "{broken"})
    assert resp.status_code == 400 and "not valid JSON" in resp.get_data(as_text=True)
    resp = client.post("/admin/plugins/demo_sensors/settings", data={**form, "interval_s": "2.5"})
    assert resp.status_code == 302
    assert host_of(app).plugins.records["demo_sensors"].settings.interval_s == 2.5
    assert host_of(app).store.plugin_state("demo_sensors").settings["interval_s"] == 2.5


def test_json_api_rejects_bad_payloads_and_stays_up(app) -> None:
    client = login(app, "manager1", "manager-pass-1")
    h = {"X-CSRFToken": page_token(client), "Content-Type": "application/json"}
    assert client.post("/api/admin/plugins/demo_sensors", data="{not json", headers=h).status_code == 400
    assert client.post("/api/admin/plugins/demo_sensors", data="[1,2]", headers=h).status_code == 400
    assert client.post("/api/admin/plugins/demo_sensors", data=json.dumps({"enabled": "no"}),
                       headers=h).status_code == 422
    resp = client.post("/api/admin/plugins/demo_sensors", data=json.dumps({"settings": {"intervall_s": 2}}),
                       headers=h)
    assert resp.status_code == 422 and resp.get_json()["fields"] == {"intervall_s": "unknown field (check the spelling)"}
    big = json.dumps({"settings": {"x": "a" * 400_000}})
    assert client.post("/api/admin/plugins/demo_sensors", data=big, headers=h).status_code == 413
    resp = client.post("/api/admin/plugins/nosuch", data=json.dumps({"enabled": False}), headers=h)
    assert resp.status_code == 404
    resp = client.post("/api/admin/plugins/demo_sensors", data=json.dumps({"settings": {"interval_s": -1}}),
                       headers=h)
    assert resp.status_code == 422 and "interval_s" in resp.get_json()["fields"]
    resp = client.post("/api/admin/plugins/demo_sensors", data=json.dumps({"enabled": False}), headers=h)
    assert resp.get_json() == {"name": "demo_sensors", "state": "disabled"}
    assert client.get("/api/health").status_code == 200


def test_script_injection_is_stored_and_shown_escaped(app) -> None:
    client = login(app, "manager1", "manager-pass-1")
    evil = "<script>alert('x')</script>'; DROP TABLE audit; --"
    client.post("/admin/kiosk", data={"label": evil, "csrf_token": page_token(client, "/admin/kiosk")})
    page = client.get("/admin/kiosk").get_data(as_text=True)
    assert "<script>alert" not in page and "&lt;script&gt;alert(" in page
    assert Users(host_of(app).store).kiosk_tokens()[0].label == evil
    assert "kiosk.issue" in client.get("/admin/audit").get_data(as_text=True)  # audit table still there


def test_kiosk_token_opens_screens_only_until_revoked(app) -> None:
    manager = login(app, "manager1", "manager-pass-1")
    resp = manager.post("/admin/kiosk", data={"label": "大厅主屏", "csrf_token": page_token(manager, "/admin/kiosk")})
    token = re.search(r'id="tb-new-token">[^<]*<code>([A-Za-z0-9_-]+)</code>', resp.get_data(as_text=True)).group(1)
    wall = app.server.test_client()
    assert wall.get(f"/screen/demo?kiosk={token}").status_code == 200
    assert wall.get("/screen/demo").status_code == 200  # the session remembers the token
    assert wall.get("/admin").status_code == 403
    assert wall.get("/screen/demo?kiosk=forged").status_code == 302
    [row] = Users(host_of(app).store).kiosk_tokens()
    manager.post("/admin/kiosk", data={"revoke": str(row.id), "csrf_token": page_token(manager, "/admin/kiosk")})
    assert wall.get("/screen/demo").status_code in (302, 401)


def test_only_admins_manage_users(app) -> None:
    manager = login(app, "manager1", "manager-pass-1")
    assert manager.get("/admin/users").status_code == 403
    admin = login(app, "admin1", "admin-pass-1")
    token = page_token(admin, "/admin/users")
    admin.post("/admin/users", data={"action": "role", "username": "viewer1", "role": "manager", "csrf_token": token})
    assert {u.username: u.role for u in Users(host_of(app).store).all()}["viewer1"] == "manager"


def test_user_cli(tmp_path) -> None:
    import subprocess
    import sys
    from conftest import ROOT, write_config
    cfg = write_config(tmp_path)
    run = lambda *a, inp=None: subprocess.run([sys.executable, "-m", "core.cli", "--config", str(cfg), "user", *a],  # noqa: E731
                                              cwd=ROOT, input=inp, capture_output=True, text=True, timeout=120)
    assert run("add", "zhang", "--role", "admin", "--password-stdin", inp="long-enough-1\n").returncode == 0
    bad = run("add", "li", "--password-stdin", inp="short\n")
    assert bad.returncode == 2 and "at least 8 characters" in bad.stderr
    assert run("role", "zhang", "manager").returncode == 0
    assert "zhang" in run("list").stdout and "manager" in run("list").stdout


def test_manager_acknowledges_and_closes_an_alert(app) -> None:
    from core.plugins.contributions import AlertDraft, Severity
    host = host_of(app)
    alert, _ = host.store.raise_alert(AlertDraft("r", "demo.gas.t1", Severity.II, "气体超限"), "demo_sensors")
    viewer = login(app, "viewer1", "viewer-pass-1")
    h = {"X-CSRFToken": csrf_of(viewer.get("/login").get_data(as_text=True)), "Content-Type": "application/json"}
    assert viewer.post(f"/api/admin/alerts/{alert.id}", data='{"state": "acknowledged"}', headers=h).status_code == 403
    manager = login(app, "manager1", "manager-pass-1")
    h = {"X-CSRFToken": page_token(manager), "Content-Type": "application/json"}
    assert manager.post(f"/api/admin/alerts/{alert.id}", data='{"state": "gone"}', headers=h).status_code == 422
    resp = manager.post(f"/api/admin/alerts/{alert.id}", data='{"state": "acknowledged"}', headers=h)
    assert resp.get_json() == {"id": alert.id, "state": "acknowledged"}
    assert host.store.alerts()[0].acknowledged_by == "manager1"
    assert manager.post("/api/admin/alerts/99999", data='{"state": "closed"}', headers=h).status_code == 404
