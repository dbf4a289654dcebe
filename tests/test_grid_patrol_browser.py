"""A grid worker's patrol on the phone page in real Chromium at 390×844: sign in, check in with GPS at an
enterprise, the check-list, a photo; then, offline, a hazard report that waits in the phone's queue and is
sent once the network is back — once — and appears on the enterprise park's big screen."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from core.data.store import open_store
from core.data.users import Users
from tests.conftest import start_server

GRID = "gp.grid.xiachen-2"
CONFIG = {"plugin_allowlist": ["grid_patrol", "enterprise_park"],
          "plugins": {"enterprise_park": {"settings": {"demo_publisher": False,
                                                       "demo_inspections": False}},
                      "grid_patrol": {"settings": {"demo_live": False}}}}


@pytest.fixture
def server(tmp_path: Path):
    srv = start_server(tmp_path, **CONFIG)
    store = open_store(f"sqlite:///{tmp_path / 'twin.sqlite'}")
    Users(store).add("gw1", "password-1", "field", "test", scope=f"grid:{GRID}")
    srv.store = store
    yield srv
    srv.proc.terminate()
    srv.proc.wait(10)


def test_a_grid_worker_walks_a_patrol_to_a_hazard_on_the_enterprise_screen(server, chromium, tmp_path) -> None:
    photo = tmp_path / "site.jpg"
    buf = io.BytesIO()
    Image.new("RGB", (1200, 900), (120, 90, 60)).save(buf, "JPEG", quality=90)
    photo.write_bytes(buf.getvalue())
    ent = server.store.entity("ep.ent.hm-plastic")
    lon, lat = ent.geometry["coordinates"]
    ctx = chromium.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                               geolocation={"longitude": lon + 0.0002, "latitude": lat, "accuracy": 8},
                               permissions=["geolocation"], locale="zh-CN")
    page = ctx.new_page()
    try:
        page.goto(server.url + "/m/patrol")
        page.wait_for_url("**/login**")
        page.fill("input[name=username]", "gw1")
        page.fill("input[name=password]", "password-1")
        page.click("button[type=submit], input[type=submit]")
        page.wait_for_url("**/m/patrol")
        page.wait_for_selector("#points .pt")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390      # nothing wider than the phone
        # ① check in at the enterprise with the phone's GPS
        page.locator("#points .pt", has_text="海明塑料").click()
        page.click("#locate")
        page.wait_for_selector("#gps.ok")
        assert "定位成功" in page.inner_text("#gps")
        # ② the check-list: every item answered, one with an issue
        segs = page.locator("#items .seg")
        for i in range(segs.count()):
            segs.nth(i).locator("button[data-v=ok]").click()
        segs.nth(0).locator("button[data-v=issue]").click()
        page.set_input_files("#cphoto", str(photo))
        page.click("#csubmit")
        page.wait_for_function("() => document.getElementById('cmsg').textContent.includes('巡查记录已上传')", timeout=20000)
        chk = server.store.entities(kind="patrol_checkin")
        assert len(chk) == 1 and chk[0].properties["point"].startswith("gp.point.xiachen-2-")
        assert chk[0].properties["distance_m"] < 50 and chk[0].properties["photos"]
        # the issue was carried over to the report form; the network drops before it is sent
        page.click("nav.tabs button[data-tab=report]")
        assert page.input_value("#rpoint") == chk[0].properties["point"]
        page.select_option("#rcat", "escape")
        page.click("#rlevel button[data-v=major]")
        page.fill("#rdesc", "车间疏散通道被成品货架堵塞,消防门无法开启")
        page.set_input_files("#rphoto", str(photo))
        page.click("#rlocate")
        page.wait_for_selector("#rgps.ok")
        ctx.set_offline(True)
        page.click("#rsubmit")
        page.wait_for_function("() => document.getElementById('qcount').textContent === '1'", timeout=10000)
        page.wait_for_function("() => document.querySelector('#queue .q.waiting') !== null", timeout=10000)
        assert server.store.entities(kind="patrol_report") == [e for e in server.store.entities(kind="patrol_report")
                                                              if e.properties.get("demo")]
        ctx.set_offline(False)
        page.evaluate("dispatchEvent(new Event('online'))")
        page.wait_for_function("() => document.getElementById('qcount').textContent === '0'", timeout=30000)
        page.wait_for_function("() => document.getElementById('rmsg').textContent.includes('隐患已上报')", timeout=10000)
        mine = [e for e in server.store.entities(kind="patrol_report") if not e.properties.get("demo")]
        assert len(mine) == 1 and mine[0].properties["enterprise"] == "ep.ent.hm-plastic"
        loop = [i for i in server.store.entities(kind="inspection") if i.properties.get("ref") == mine[0].id]
        assert len(loop) == 1 and loop[0].properties["level"] == "major", "".join(server.log_tail)[-3000:]
        # the enterprise park's big screen shows the new hazard in its loop
        screen = chromium.new_page(viewport={"width": 1920, "height": 1080})
        try:
            screen.goto(server.url + "/screen/enterprise_park")
            screen.wait_for_function("() => document.body.innerText.includes('车间疏散通道被成品货架堵塞')", timeout=90000)
        finally:
            screen.close()
    finally:
        ctx.close()
