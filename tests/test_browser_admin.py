"""A manager at /admin in one browser while a kiosk wall in another shows the change without a reload."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import start_server
from core.data.store import open_store
from core.data.users import Users

pytestmark = pytest.mark.browser


def sign_in(context, url: str, name: str, password: str):
    page = context.new_page()
    page.goto(url + "/login?lang=en")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", password)
    page.click("#tb-login-submit")
    return page


def test_manager_changes_reach_the_kiosk_wall(tmp_path: Path, chromium) -> None:
    users = Users(open_store(f"sqlite:///{tmp_path / 'twin.sqlite'}"))
    users.add("manager1", "manager-pass-1", "manager", "test")
    users.add("leader1", "leader-pass-1", "viewer", "test")
    token = users.issue_kiosk_token("大厅主屏", "test")
    server = start_server(tmp_path, public_screens=False)
    wall_ctx, manager_ctx, viewer_ctx = (chromium.new_context(viewport={"width": 1920, "height": 1080})
                                         for _ in range(3))
    try:
        wall = wall_ctx.new_page()
        wall.goto(f"{server.url}/screen/demo?kiosk={token}")
        wall.wait_for_selector("[data-key=kpis] .tb-kpi-value", timeout=30000)
        wall.evaluate("() => { window.__noReload = true; }")

        admin = sign_in(manager_ctx, server.url, "manager1", "manager-pass-1")
        admin.goto(server.url + "/admin?lang=en")
        admin.click("#disable-demo_sensors")
        admin.wait_for_selector("#enable-demo_sensors")
        wall.wait_for_selector("[data-key=kpis].tb-panel-disabled .tb-error-card", timeout=15000)
        assert "停用" in wall.locator("[data-key=kpis] .tb-error-card").inner_text()

        admin.click("#enable-demo_sensors")
        admin.wait_for_selector("#disable-demo_sensors")
        wall.wait_for_selector("[data-key=kpis] .tb-kpi-value", timeout=15000)
        assert wall.locator("[data-key=kpis] .tb-error-card").count() == 0

        admin.click("#settings-demo_sensors")
        admin.fill("#f-interval_s", "0.01")
        admin.click("#tb-settings-save")
        assert "greater than or equal to 0.1" in admin.locator("[data-field=interval_s]").inner_text()
        admin.fill("#f-interval_s", "0.5")
        admin.click("#tb-settings-save")
        admin.wait_for_selector(".tb-flash-ok")
        assert server.health()["plugins"][1]["state"] == "enabled"
        admin.goto(server.url + "/admin/audit?lang=en")
        audit = admin.locator("#tb-audit").inner_text()
        assert "plugin.settings" in audit and "plugin.disable" in audit and "manager1" in audit
        assert wall.evaluate("() => window.__noReload") is True

        viewer = sign_in(viewer_ctx, server.url, "leader1", "leader-pass-1")
        viewer.goto(server.url + "/screen/demo")
        viewer.wait_for_selector(".tb-panel")
        resp = viewer.goto(server.url + "/admin")
        assert resp.status == 403
        resp = viewer.request.post(server.url + "/api/admin/plugins/demo_sensors", data={"enabled": False})
        assert resp.status in (400, 403)
        assert server.health()["plugins"][1]["state"] == "enabled"
    finally:
        for ctx in (wall_ctx, manager_ctx, viewer_ctx):
            ctx.close()
        server.proc.terminate()
        server.proc.wait(10)
