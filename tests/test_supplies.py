"""supplies (智慧应急物资): stock derived from RFID movements (real mosquitto and the HTTP gateway), duplicates
idempotent, unknown tags held and reviewed, the command centre's dispatch lowering stock through the host's bus
(a drill never does), environment alerts, hosted call-ups, role refusals."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from core.api import AlertRaised
from core.data.users import Users
from core.plugins.manager import import_plugin_submodule
from core.plugins.testing import make_twin_app, render_panel, twin_store  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]
SP = "/plugins/supplies"


def _sp(module: str):
    return import_plugin_submodule(ROOT / "plugins" / "supplies", module)


def _cc(module: str):
    return import_plugin_submodule(ROOT / "plugins" / "command_center", module)


ledger, demo, model = _sp("ledger"), _sp("demo"), _sp("model")


def _wait(pred, timeout=20.0, step=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(step)
    return pred()


def start(make_twin_app, run_sources=False, **settings):
    app = make_twin_app(builtin=True, plugin_allowlist=["supplies", "command_center", "alerts"],
                        run_sources=run_sources, public_screens=False, start=False)
    host = app.server.config["TWINBOARD_HOST"]
    host.store.set_plugin_settings("supplies", {"demo": True, "demo_env": False, **settings}, "test")
    host.store.set_plugin_settings("command_center", {"simulate": False}, "test")
    host.start()
    rec = host.plugins.records["supplies"]
    assert rec.status.value == "enabled", rec.error
    users = Users(host.store)
    users.add("viewer1", "viewer-pass-1", "viewer", "test")
    users.add("manager1", "manager-pass-1", "manager", "test")
    return app, host


@pytest.fixture
def app(make_twin_app):
    return start(make_twin_app)


def qty(store, store_id: str, sku: str) -> int:
    e = store.entity(ledger.stock_id(store_id, f"sp.item.{sku}"))
    return int(e.properties["qty"]) if e else 0


def shortage(store, store_id: str, sku: str):
    sid = ledger.stock_id(store_id, f"sp.item.{sku}")
    return next((a for a in store.alerts(limit=500) if a.rule_id == "supplies.shortage" and a.entity_id == sid), None)


def depot_count(store, depot: str, sku: str) -> int:
    return next(i["count"] for i in store.entity(depot).properties["items"] if i["sku"] == sku)


def moves(store) -> int:
    return len(store.entities(kind="supply_move", plugin="supplies"))


# -- the ledger as a pure function ----------------------------------------------------------------------------
def test_stock_is_replayed_from_movements_counts_and_dispatches_are_not_taken_twice() -> None:
    Entity = model.Entity
    b = model.Batch("sp.batch.x", "sp.item.suit", "X", "2024-01-01", None, "AAAA", per_tag=2)
    it = model.Item("sp.item.suit", "防化服", "Suits", "suit", "chemical", "套")

    def mv(i, kind, ts, **p):
        return Entity(id=f"m{i}", kind="supply_move", name="", plugin="supplies",
                      properties={"kind": kind, "store": "s1", "ts": ts, **p})
    ms = [mv(1, "in", 1, epc="AAAA01"), mv(2, "in", 2, epc="AAAA02"), mv(3, "in", 3, epc="AAAA02"),   # repeat read
          mv(4, "in", 4, epc="AAAA03"), mv(5, "in", 5, epc="BBBB01"),                                # unknown tag
          mv(6, "dispatch", 6, sku="suit", qty=2), mv(7, "out", 7, epc="AAAA01"),                    # gate read of it
          mv(8, "count", 8, epcs=["AAAA02", "BBBB01"]),                                              # AAAA03 missing
          mv(9, "dispatch", 9, sku="suit", qty=1, drill=True)]
    d = ledger.derive(ms, [b], [it])
    assert d.stock[("s1", "sp.item.suit")] == 2          # 3 tags × 2 − dispatch 2 (its out read free) − 1 tag missing
    assert d.unknown["BBBB01"]["reads"] == 2 and d.drill[("s1", "sp.item.suit")] == 1
    assert [e["kind"] for e in d.effects] == ["in", "in", "in", "dispatch", "count_missing", "drill"]


# -- RFID over a real mosquitto -------------------------------------------------------------------------------
@pytest.fixture
def broker(tmp_path):
    """A private mosquitto on a free loopback port (enterprise_park's helper), stopped after."""
    broker_mod = import_plugin_submodule(ROOT / "plugins" / "enterprise_park", "broker")
    try:
        broker_mod.find_mosquitto()
    except Exception as exc:  # noqa: BLE001
        pytest.skip(str(exc))
    b = broker_mod.Mosquitto(workdir=tmp_path / "mosquitto", persistence=False)
    b.workdir.mkdir()
    b.start()
    yield b
    b.stop()


def test_rfid_reads_through_a_real_mosquitto(make_twin_app, broker, caplog) -> None:
    _, host = start(make_twin_app, run_sources=True, mqtt_port=broker.port, client_id="test-supplies")
    st = host.store
    pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"gw-{time.time_ns()}")
    pub.connect("127.0.0.1", broker.port)
    pub.loop_start()
    try:
        def send(topic, payload):
            body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            pub.publish(f"twinboard/supplies/{topic}", body, qos=1).wait_for_publish(10)
        before = qty(st, "sp.store.district", "tent")
        out = {"gateway": "gw-01", "event": "out",
               "reads": [{"id": "gw01-77", "epc": demo.tag("T2023A", 1)}]}
        # the source subscribes after connecting: send until the first read is taken
        assert _wait(lambda: (send("sp.store.district/rfid", out), time.sleep(0.2),
                              qty(st, "sp.store.district", "tent") == before - 10)[-1], timeout=30)
        n = moves(st)
        send("sp.store.district/rfid", out)                                   # the same read again
        send("sp.store.district/rfid", {"event": "in", "reads": [{"id": "gw01-78", "epc": "E2801160600002084F3C1AAA"}]})
        send("sp.store.district/rfid", b"{not json")
        send("sp.store.nowhere/rfid", out)
        assert _wait(lambda: any(r["epc"] == "E2801160600002084F3C1AAA" for r in _sp("rfid").review(st)))
        assert qty(st, "sp.store.district", "tent") == before - 10 and moves(st) == n + 1
        assert _wait(lambda: "no store 'sp.store.nowhere'" in caplog.text and "not JSON" in caplog.text)
        # the store's sensors through the same broker, into the host's ingest and alert rules
        send("sp.store.district/env", {"temperature": 24.0, "humidity": 76.0, "leak": 0, "door": 0})
        assert _wait(lambda: any(a.rule_id == "supplies.humidity" and a.entity_id == "sp.store.district"
                                 for a in st.alerts(limit=200)))
    finally:
        pub.disconnect()
        pub.loop_stop()


# -- HTTP gateway, roles ---------------------------------------------------------------------------------------
def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def login(app, name: str | None, password: str = ""):
    client = app.server.test_client()
    token = csrf_of(client.get("/login").get_data(as_text=True))
    if name:
        r = client.post("/login", data={"username": name, "password": password, "csrf_token": token})
        assert r.status_code == 302
        client.get(f"{SP}/stock.json")          # the signed-in session's token comes back as a cookie
        token = client.get_cookie("_csrf_token").value
    return client, token


def test_http_gateway_idempotent_with_bad_input_named_and_nothing_stored(app) -> None:
    app, host = app
    st = host.store
    c, token = login(app, "manager1", "manager-pass-1")
    h = {"X-CSRFToken": token}
    n, before = moves(st), qty(st, "sp.store.chem", "suit")
    bad = {"store": "sp.store.chem", "event": "out", "reads": [{"id": "r1", "epc": demo.tag("C2022A", 1)},
                                                               {"id": "r2", "epc": "XYZ"}]}
    r = c.post(f"{SP}/gateway/reads", json=bad, headers=h)
    assert r.status_code == 400 and r.json["field"] == "reads[1].epc" and "EPC" in r.json["error"]
    for body, field in ((dict(bad, event="sideways"), "event"), (dict(bad, store="sp.store.x"), "store"),
                        (dict(bad, reads=[{"epc": demo.tag("C2022A", 1), "ts": "yesterday"}]), "reads[0].ts"),
                        (dict(bad, reads=[]), "reads")):
        r = c.post(f"{SP}/gateway/reads", json=body, headers=h)
        assert r.status_code == 400 and r.json["field"] == field, (field, r.json)
    assert moves(st) == n and qty(st, "sp.store.chem", "suit") == before
    good = dict(bad, reads=bad["reads"][:1])
    r = c.post(f"{SP}/gateway/reads", json=good, headers=h)
    assert r.status_code == 200 and r.json["movements"] == 1 and r.json["duplicates"] == 0
    r = c.post(f"{SP}/gateway/reads", json=good, headers=h)
    assert r.json["movements"] == 0 and r.json["duplicates"] == 1
    assert qty(st, "sp.store.chem", "suit") == before - 1 == depot_count(st, "cc.depot.chem", "suit")
    assert shortage(st, "sp.store.chem", "suit") is not None                      # 39 < norm 40
    # an inventory count that finds the suit back on the shelf
    seen = [{"epc": demo.tag("C2022A", i)} for i in range(1, 41)]
    r = c.post(f"{SP}/gateway/reads", json={"store": "sp.store.chem", "event": "count", "count_id": "c1",
                                            "reads": seen}, headers=h)
    assert r.status_code == 200 and qty(st, "sp.store.chem", "suit") == 40
    assert shortage(st, "sp.store.chem", "suit") is None


def test_roles_are_refused_and_csrf_is_required(app) -> None:
    app, host = app
    body = {"store": "sp.store.chem", "event": "in", "reads": [{"epc": "AAAABBBBCCCC"}]}
    anon, t0 = login(app, None)
    viewer, t1 = login(app, "viewer1", "viewer-pass-1")
    for client, token, code in ((anon, t0, 401), (viewer, t1, 403)):
        for path, b in (("gateway/reads", body), ("hosted/sp.hosted.waisha-chem/callup", {"quantity": 1}),
                        ("review/E2801160600002084F3C1A77/discard", {})):
            r = client.post(f"{SP}/{path}", json=b, headers={"X-CSRFToken": token})
            assert r.status_code == code, (path, r.status_code)
        assert client.get(f"{SP}/manage").status_code in ((302, 401) if code == 401 else (403,))  # 302: to sign-in
    assert viewer.get(f"{SP}/stock.json").status_code == 200
    manager, _ = login(app, "manager1", "manager-pass-1")
    assert manager.post(f"{SP}/gateway/reads", json=body).status_code == 400        # no CSRF header
    assert not any(a.action.startswith("supplies.hosted") for a in host.store.audit_log(limit=500))


# -- incidents draw on stock through the bus ---------------------------------------------------------------------
def test_dispatch_lowers_stock_and_raises_a_shortage_alert_through_the_bus(app) -> None:
    _, host = app
    st, incidents = host.store, _cc("incidents")
    raised = []
    host.bus.subscribe(AlertRaised, lambda e: raised.append(e) if e.plugin == "supplies" else None)
    assert qty(st, "sp.store.chem", "suit") == 40 and shortage(st, "sp.store.chem", "suit") is None
    inc = incidents.open_incident(st, "duty1", kind="chemical_leak", title="储罐泄漏", lon=121.47, lat=28.66)
    incidents.dispatch(st, inc.id, "duty1", [], [{"depot": "cc.depot.chem", "sku": "suit", "count": 25}], bus=host.bus)
    assert qty(st, "sp.store.chem", "suit") == 15 == depot_count(st, "cc.depot.chem", "suit")
    alert = shortage(st, "sp.store.chem", "suit")
    assert alert is not None and alert.severity == 2 and alert.title == "重型防化服库存低于储备定额"
    assert alert.title_en == "Gas-tight suits below reserve norm" and "15" in alert.message
    assert any(e.rule_id == "supplies.shortage" for e in raised)
    mv = [m for m in st.entities(kind="supply_move", plugin="supplies") if m.properties["kind"] == "dispatch"]
    assert len(mv) == 1 and mv[0].properties["incident"] == inc.id and mv[0].properties["qty"] == 25
    # the same event delivered again is one movement; the tags of the suits leaving at the gate take nothing more
    ev = next(e for e in host.bus.since(0) if e.topic == "MaterialsDispatched")
    host.bus.publish(ev)
    out = [{"epc": demo.tag("C2022A", i)} for i in range(1, 26)]
    _sp("rfid").receive(st, {"store": "sp.store.chem", "event": "out", "reads": out}, host.bus)
    assert qty(st, "sp.store.chem", "suit") == 15
    with pytest.raises(incidents.IncidentError, match="count must be"):      # the depot checks the derived stock
        incidents.dispatch(st, inc.id, "duty1", [], [{"depot": "cc.depot.chem", "sku": "suit", "count": 16}],
                           bus=host.bus)


def test_a_drill_dispatch_leaves_live_stock_alone(app) -> None:
    _, host = app
    st, incidents = host.store, _cc("incidents")
    inc = incidents.open_incident(st, "duty1", kind="chemical_leak", title="危化品泄漏演练", lon=121.47, lat=28.66,
                                  is_drill=True)
    incidents.dispatch(st, inc.id, "duty1", [], [{"depot": "cc.depot.chem", "sku": "suit", "count": 8}], bus=host.bus)
    assert qty(st, "sp.store.chem", "suit") == 40 == depot_count(st, "cc.depot.chem", "suit")
    line = st.entity(ledger.stock_id("sp.store.chem", "sp.item.suit"))
    assert line.properties["drill_used"] == 8 and shortage(st, "sp.store.chem", "suit") is None


# -- environment, review, hosted ----------------------------------------------------------------------------------
def test_environment_thresholds_raise_bilingual_alerts(app) -> None:
    app, host = app
    c, token = login(app, "manager1", "manager-pass-1")
    h = {"X-CSRFToken": token}
    night = time.mktime(time.strptime(time.strftime("%Y-%m-%d") + " 23:30", "%Y-%m-%d %H:%M"))
    day = night - 12 * 3600
    assert c.post(f"{SP}/gateway/env", json={"store": "sp.store.district", "humidity": 75, "ts": day},
                  headers=h).status_code == 200
    assert c.post(f"{SP}/gateway/env", json={"store": "sp.store.chem", "humidity": 90, "ts": day},
                  headers=h).status_code == 200            # no medicines or tents there
    assert c.post(f"{SP}/gateway/env", json={"store": "sp.store.xiachen", "leak": 1, "door": 1, "ts": night},
                  headers=h).status_code == 200
    assert c.post(f"{SP}/gateway/env", json={"store": "sp.store.zhangan", "door": 1, "ts": day},
                  headers=h).status_code == 200            # open during working hours
    r = c.post(f"{SP}/gateway/env", json={"store": "sp.store.xiachen", "humidity": 120}, headers=h)
    assert r.status_code == 400 and r.json["field"] == "humidity"
    got = {(a.rule_id, a.entity_id): a for a in host.store.alerts(limit=500) if a.plugin == "supplies"}
    hum = got[("supplies.humidity", "sp.store.district")]
    assert hum.title == "库房湿度超标(药品/帐篷)" and hum.title_en.startswith("Store humidity") and "75" in hum.message
    assert ("supplies.humidity", "sp.store.chem") not in got
    assert got[("supplies.leak", "sp.store.xiachen")].severity == 2
    assert ("supplies.door", "sp.store.xiachen") in got and ("supplies.door", "sp.store.zhangan") not in got


def test_unknown_tags_are_reviewed_and_audited(app) -> None:
    app, host = app
    st = host.store
    c, token = login(app, "manager1", "manager-pass-1")
    h = {"X-CSRFToken": token}
    held = c.get(f"{SP}/review.json").json
    assert [r["epc"] for r in held] == ["E2801160600002084F3C1A77"]            # the demo's foreign tag
    c.post(f"{SP}/gateway/reads", json={"store": "sp.store.zhangan", "event": "in",
                                        "reads": [{"id": "x1", "epc": "E2801160600002084F3C1A78"}]}, headers=h)
    before = qty(st, "sp.store.zhangan", "medkit")
    r = c.post(f"{SP}/review/E2801160600002084F3C1A77/assign", json={"batch": "sp.batch.nope"}, headers=h)
    assert r.status_code == 400 and r.json["field"] == "batch"
    r = c.post(f"{SP}/review/E2801160600002084F3C1A77/assign", json={"batch": "sp.batch.M2024A"}, headers=h)
    assert r.status_code == 200 and qty(st, "sp.store.zhangan", "medkit") == before + 20
    r = c.post(f"{SP}/review/E2801160600002084F3C1A78/discard", json={"reason": "外来标签"}, headers=h)
    assert r.status_code == 200 and c.get(f"{SP}/review.json").json == []
    assert c.post(f"{SP}/review/E2801160600002084F3C1A78/discard", json={}, headers=h).status_code == 400
    acts = {a.action: a for a in st.audit_log(limit=500)}
    assert acts["supplies.tag.assign"].actor == "manager1" and acts["supplies.tag.discard"].new["reason"] == "外来标签"


def test_hosted_call_up_request_and_confirmation(app) -> None:
    app, host = app
    c, token = login(app, "manager1", "manager-pass-1")
    h = {"X-CSRFToken": token}
    base = f"{SP}/hosted/sp.hosted.waisha-chem"
    r = c.post(f"{base}/callup", json={"quantity": 31}, headers=h)
    assert r.status_code == 400 and r.json["field"] == "quantity"
    r = c.post(f"{base}/callup", json={"quantity": 12, "incident": "7"}, headers=h)
    assert r.status_code == 200 and r.json["state"] == "requested"
    cid = r.json["id"]
    r = c.post(f"{base}/callup", json={"quantity": 19}, headers=h)             # 30 held, 12 already called up
    assert r.status_code == 400 and "1..18" in r.json["error"]
    r = c.post(f"{base}/callups/{cid}/confirm", headers=h)
    assert r.status_code == 200 and r.json["state"] == "confirmed" and r.json["on_time"] is True
    assert c.post(f"{base}/callups/{cid}/confirm", headers=h).status_code == 400
    held = next(x for x in c.get(f"{SP}/hosted.json").json if x["id"] == "sp.hosted.waisha-chem")
    assert held["quantity"] == 18
    acts = [a.action for a in host.store.audit_log(limit=500)]
    assert "supplies.hosted.callup" in acts and "supplies.hosted.confirm" in acts
    page = c.get(f"{SP}/manage?lang=en").get_data(as_text=True)
    assert "Waisha chemical firm" in page and cid in page


def test_every_panel_renders_in_both_languages(app) -> None:
    app, host = app
    for pid in sorted(p for p in host.all_panels() if p.startswith("supplies.")):
        for locale in ("zh_CN", "en"):
            out = json.dumps(render_panel(app, pid, locale=locale), default=str, ensure_ascii=False)
            assert "Traceback" not in out
    assert "方便食品" in json.dumps(render_panel(app, "supplies.stock"), default=str, ensure_ascii=False)
    deck = render_panel(app, "supplies.map")
    assert {layer["id"] for layer in deck["layers"]} >= {"sp-stores", "sp-hosted"}


def test_the_command_centre_alone_takes_no_stock_for_a_drill(twin_store) -> None:
    """Issue 19: a drill lowered 重型防化服 stock. Without supplies, the depot's count stays for a drill too."""
    incidents = _cc("incidents")
    twin_store.upsert([model.Entity(id="cc.depot.chem", kind="material_depot", name="化工园区应急物资库",
                                    geometry={"type": "Point", "coordinates": [121.471, 28.655]},
                                    properties={"items": [{"sku": "suit", "name": "重型防化服", "count": 40,
                                                           "unit": "套"}]})])
    drill = incidents.open_incident(twin_store, "d", kind="chemical_leak", title="演练", lon=121.47, lat=28.66,
                                    is_drill=True)
    incidents.dispatch(twin_store, drill.id, "d", [], [{"depot": "cc.depot.chem", "sku": "suit", "count": 8}])
    assert depot_count(twin_store, "cc.depot.chem", "suit") == 40
    real = incidents.open_incident(twin_store, "d", kind="chemical_leak", title="泄漏", lon=121.47, lat=28.66)
    incidents.dispatch(twin_store, real.id, "d", [], [{"depot": "cc.depot.chem", "sku": "suit", "count": 8}])
    assert depot_count(twin_store, "cc.depot.chem", "suit") == 32


@pytest.mark.browser
def test_the_english_stock_table_fits_its_panel_in_chromium(tmp_path, chromium) -> None:
    """The wall audit found the English stock table 7 px wider than its panel (``clipped x 465>458``): fixed
    columns keep it inside, a cut name ends in an ellipsis with its full text as a title, no text under the
    wall minimum. Measured the way tests/test_wall_audit.py measures every screen."""
    from conftest import start_server
    from wall_measure import MEASURE, settle
    from core.api import WALL_FIGURE_MIN_PX, WALL_TEXT_MIN_PX
    server = start_server(tmp_path, plugin_allowlist=["supplies", "alerts"])
    ctx = chromium.new_context(viewport={"width": 1920, "height": 1080})
    try:
        for lang in ("en", "zh"):
            page = ctx.new_page()
            page.goto(f"{server.url}/screen/supplies?lang={lang}")
            settle(page)
            page.wait_for_selector("[data-panel='supplies.stock'] tbody tr")
            m = page.evaluate(MEASURE, [WALL_TEXT_MIN_PX, WALL_FIGURE_MIN_PX])
            mine = [x for x in m["clipped"] + m["small"] if "supplies.stock" in x]
            assert not mine, (lang, mine)
            body = page.evaluate("() => { const b = document.querySelector(\"[data-panel='supplies.stock'] .tb-panel-body\");"
                                 " return [b.scrollWidth, b.clientWidth, b.querySelectorAll('tbody tr').length]; }")
            assert body[0] <= body[1] and body[2] >= 10, (lang, body)
            page.close()
    finally:
        ctx.close()
        server.proc.terminate()
        server.proc.wait(20)
