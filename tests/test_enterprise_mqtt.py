"""enterprise_park MQTT ingest against a real mosquitto: validation, counters, QoS-1 redelivery,
persistent sessions, broker restarts, and the plugin end to end through the host."""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from core.plugins.testing import make_twin_app, render_panel, twin_store  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from plugins.enterprise_park.broker import Mosquitto, find_mosquitto  # noqa: E402
from plugins.enterprise_park.mqtt_source import MqttIngest  # noqa: E402
from plugins.enterprise_park.twin import devices_from_files  # noqa: E402

PREFIX = "twinboard/ep"


@pytest.fixture
def broker(tmp_path):
    """A private mosquitto on a free loopback port with persistence in a temp folder; stopped after."""
    try:
        find_mosquitto()
    except Exception as exc:  # noqa: BLE001
        pytest.skip(str(exc))
    b = Mosquitto(workdir=tmp_path / "mosquitto", persistence=True)
    b.workdir.mkdir()
    b.start()
    yield b
    b.stop()


def _wait(pred, timeout=15.0, step=0.02):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(step)
    return pred()


class _Pub:
    """A tiny QoS-1 publisher that waits for each PUBACK."""

    def __init__(self, port: int):
        self.c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"test-pub-{port}-{time.time_ns()}",
                             protocol=mqtt.MQTTv5)
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()

    def send(self, topic: str, payload, qos: int = 1) -> None:
        if not isinstance(payload, bytes | bytearray):
            payload = json.dumps(payload).encode()
        self.c.publish(topic, payload, qos=qos).wait_for_publish(10)

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


def _registry():
    return {d.device_id: d for d in devices_from_files()}


def _topic(device_id: str) -> str:
    d = _registry()[device_id]
    return f"{PREFIX}/{d.park.rsplit('.', 1)[-1]}/{d.device_type}/{d.device_id}/data"


class _Runner:
    """Runs an MqttIngest loop in a thread against a store (or any ingest function)."""

    def __init__(self, port: int, ingest, client_id: str = "test-ingest", **kw):
        self.ing = MqttIngest(host="127.0.0.1", port=port, devices=_registry(), client_id=client_id,
                              backoff=(1, 2), **kw)
        self.stop_ev = threading.Event()
        self.error: BaseException | None = None

        def target():
            try:
                self.ing.run_with(ingest, self.stop_ev)
            except BaseException as exc:  # noqa: BLE001
                self.error = exc
        self.t = threading.Thread(target=target, daemon=True)
        self.t.start()
        assert _wait(lambda: self.ing.stats.connected or self.error is not None), "ingest did not connect"
        time.sleep(0.2)        # SUBACK

    def stop(self):
        self.stop_ev.set()
        self.t.join(10)


def test_valid_messages_become_readings_and_bad_ones_are_counted_and_logged(broker, twin_store, caplog):
    caplog.set_level(logging.WARNING)
    run = _Runner(broker.port, twin_store.ingest)
    pub = _Pub(broker.port)
    now = round(time.time(), 3)
    good = [
        (_topic("jk-sewing-em1"), {"ts": now, "power_kw": 42.5, "energy_kwh": 1234.5, "voltage_v": 229.9, "current_a": 68.1}),
        (_topic("jk-sewing-ef1"), {"ts": now, "residual_ma": 45.0, "cable_temp_c": 36.5}),
        (_topic("jk-sewing-gd1"), {"ts": now, "gas_lel_pct": 1.5}),
        (_topic("jk-sewing-sd1"), {"ts": now, "alarm": False, "battery_pct": 88}),
    ]
    bad = [
        ("malformed", _topic("jk-sewing-ef1"), b"{not json"),
        ("malformed", _topic("jk-sewing-ef1"), {"ts": now + 1, "residual_ma": 45.0, "cable_temp_c": "hot"}),
        ("malformed", _topic("jk-sewing-ef1"), b'{"ts": %f, "residual_ma": NaN, "cable_temp_c": 30}' % (now + 2)),
        ("malformed", _topic("jk-sewing-ef1"), {"ts": now + 3, "residual_ma": -5, "cable_temp_c": 30}),
        ("malformed", _topic("jk-sewing-sd1"), {"ts": now + 4, "alarm": 1}),
        ("malformed", _topic("jk-sewing-gd1"), {"ts": now + 5, "gas_lel_pct": 1.0, "extra": 1}),
        ("malformed", _topic("jk-sewing-gd1"), {"ts": now + 86400, "gas_lel_pct": 1.0}),
        ("oversized", _topic("jk-sewing-gd1"), b'{"ts": %f, "gas_lel_pct": 1, "pad": "%s"}' % (now, b"x" * 5000)),
        ("unknown", f"{PREFIX}/xiachen/gas/nobody-99/data", {"ts": now, "gas_lel_pct": 1.0}),
        ("unknown", f"{PREFIX}/sanjia/gas/jk-sewing-gd1/data", {"ts": now, "gas_lel_pct": 1.0}),
        ("unknown", f"{PREFIX}/xiachen/meter/jk-sewing-gd1/data", {"ts": now, "power_kw": 1, "energy_kwh": 1}),
    ]
    for topic, payload in good[:2]:
        pub.send(topic, payload)
    for _, topic, payload in bad:
        pub.send(topic, payload)
    for topic, payload in good[2:]:
        pub.send(topic, payload)
    total = len(good) + len(bad)
    assert _wait(lambda: run.ing.stats.messages >= total and run.ing.stats.readings_stored >= 9)
    time.sleep(0.3)
    run.stop()
    pub.close()
    st = run.ing.stats
    assert run.error is None
    assert (st.malformed, st.oversized, st.unknown) == (7, 1, 3)
    assert st.accepted == 4 and st.readings_stored == 4 + 2 + 1 + 2
    assert twin_store.reading_count() == 9
    values = {(lv.entity_id, lv.metric): lv.value for lv in twin_store.latest()}
    assert values[("ep.dev.jk-sewing-ef1", "cable_temp_c")] == 36.5
    assert values[("ep.dev.jk-sewing-sd1", "smoke_alarm")] == 0.0
    assert all(lv.ts == now for lv in twin_store.latest())          # no bad message wrote anything
    logged = caplog.text
    assert "nobody-99" in logged and "oversized message on topic" in logged
    assert f"malformed message on topic {_topic('jk-sewing-ef1')}" in logged
    assert [r[2] for r in st.recent_rejections][-1] == _topic("jk-sewing-ef1")


def test_qos1_redelivery_of_the_same_reading_is_stored_once(broker, twin_store):
    run = _Runner(broker.port, twin_store.ingest)
    pub = _Pub(broker.port)
    msg = {"ts": round(time.time(), 3), "gas_lel_pct": 2.25}
    for _ in range(3):                     # a device (or broker) re-sending the same message
        pub.send(_topic("jj-autoparts-gd1"), msg)
    assert _wait(lambda: run.ing.stats.messages >= 3)
    time.sleep(0.3)
    run.stop()
    pub.close()
    assert twin_store.reading_count() == 1
    assert run.ing.stats.readings_stored == 1 and run.ing.stats.duplicates == 2


def test_unacknowledged_message_is_redelivered_after_a_failed_store_and_stored_once(broker, twin_store):
    """Manual PUBACK after commit: a store failure leaves the message with the broker, which redelivers it."""
    calls = []

    def failing(readings):
        calls.append(len(readings))
        raise RuntimeError("database is locked")
    run = _Runner(broker.port, failing, client_id="test-redeliver")
    pub = _Pub(broker.port)
    msg = {"ts": round(time.time(), 3), "residual_ma": 12.0, "cable_temp_c": 31.0}
    pub.send(_topic("hy-pump-ef1"), msg)
    assert _wait(lambda: run.error is not None)
    run.stop()
    assert calls and twin_store.reading_count() == 0
    # the supervisor would restart the source: a new client with the same id resumes the session
    run2 = _Runner(broker.port, twin_store.ingest, client_id="test-redeliver")
    assert _wait(lambda: twin_store.reading_count() == 2)
    pub.send(_topic("hy-pump-ef1"), msg)    # and a genuine re-send still writes nothing twice
    assert _wait(lambda: run2.ing.stats.messages >= 2)
    time.sleep(0.3)
    run2.stop()
    pub.close()
    assert twin_store.reading_count() == 2


def test_reconnects_after_broker_restart_and_keeps_the_session(broker, twin_store):
    run = _Runner(broker.port, twin_store.ingest, client_id="test-restart")
    pub = _Pub(broker.port)
    t = round(time.time(), 3)
    pub.send(_topic("mh-toilet-em1"), {"ts": t, "power_kw": 10.0, "energy_kwh": 100.0})
    assert _wait(lambda: twin_store.reading_count() == 2)
    pub.close()
    broker.restart()                       # SIGTERM (persistence saved), start on the same port
    assert _wait(lambda: run.ing.stats.connects >= 2, timeout=20), "did not reconnect"
    assert run.ing.stats.disconnects >= 1
    pub = _Pub(broker.port)
    pub.send(_topic("mh-toilet-em1"), {"ts": t + 2, "power_kw": 11.0, "energy_kwh": 100.1})
    pub.send(_topic("mh-toilet-em1"), {"ts": t, "power_kw": 10.0, "energy_kwh": 100.0})   # redelivered old one
    assert _wait(lambda: run.ing.stats.messages >= 3)
    time.sleep(0.3)
    assert twin_store.reading_count() == 4
    # away while the devices keep publishing: the persistent session queues for us
    run.stop()
    pub.send(_topic("mh-toilet-em1"), {"ts": t + 4, "power_kw": 12.0, "energy_kwh": 100.2})
    pub.close()
    broker.restart()                       # even across a broker restart (persistence file)
    run = _Runner(broker.port, twin_store.ingest, client_id="test-restart")
    assert _wait(lambda: twin_store.reading_count() == 6), "queued message not delivered after reconnect"
    run.stop()
    assert twin_store.reading_count() == 6


def test_source_survives_garbage_flood_without_crashing(broker, twin_store):
    run = _Runner(broker.port, twin_store.ingest)
    pub = _Pub(broker.port)
    for i in range(200):
        pub.c.publish(f"{PREFIX}/x{i % 7}/gas/rogue-{i}/data", b"\x00\xff" * (i % 50), qos=1)
    pub.c.publish(f"{PREFIX}/a/b", b"{}", qos=1)                         # not even the topic shape
    pub.send(_topic("tz-mould-ef1"), {"ts": round(time.time(), 3), "residual_ma": 20, "cable_temp_c": 30})
    assert _wait(lambda: twin_store.reading_count() == 2)
    run.stop()
    pub.close()
    assert run.error is None and run.ing.stats.unknown >= 200


# -- the plugin through the host ------------------------------------------------------------------
def plugin_app(make_twin_app, allow=("enterprise_park",), run_sources=True, **settings):
    """The repository's enterprise_park folder plugin in a host, with these plugin settings (saved as a
    manager would, before the host starts)."""
    base = {"demo_broker": False, "demo_inspections": False, "publish_interval_s": 0.5, "demo_faults": False}
    base.update(settings)
    app = make_twin_app(plugins_dir=ROOT / "plugins", plugin_allowlist=list(allow), start=False,
                        run_sources=run_sources)
    host = app.server.config["TWINBOARD_HOST"]
    host.store.set_plugin_settings("enterprise_park", base, "test")
    host.start()
    return app


def test_plugin_end_to_end_publisher_to_panels(make_twin_app, broker):
    app = plugin_app(make_twin_app, broker_port=broker.port, client_id="test-e2e")
    host = app.server.config["TWINBOARD_HOST"]
    rec = host.plugins.records["enterprise_park"]
    assert rec.status.value == "enabled", rec.error
    devices = host.store.entities(kind="iot_device", plugin="enterprise_park")
    assert _wait(lambda: len({lv.entity_id for lv in host.store.latest(entity_ids=[d.id for d in devices])})
                 == len(devices), timeout=30), "not every demo device reported over MQTT"
    for pid in ("kpis", "ranking", "enterprise", "inspections", "devices", "review"):
        out = str(render_panel(app, f"enterprise_park.{pid}"))
        assert "Traceback" not in out
    assert "MQTT" in str(render_panel(app, "enterprise_park.devices", locale="en"))
    deck = render_panel(app, "enterprise_park.map")
    assert deck["mapProvider"] is None if "mapProvider" in deck else True
    assert {layer["id"] for layer in deck["layers"]} >= {"parks", "blocks", "enterprises", "devices"}
    kpis = str(render_panel(app, "enterprise_park.kpis", locale="en"))
    assert "Star parks digitally supervised" in kpis and "100" in kpis      # every device reporting


def test_demo_broker_missing_mosquitto_fails_only_this_plugin(make_twin_app, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    app = plugin_app(make_twin_app, allow=("enterprise_park", "alerts"), demo_broker=True,
                     mosquitto_path="/nonexistent/mosquitto")
    host = app.server.config["TWINBOARD_HOST"]
    rec = host.plugins.records["enterprise_park"]
    assert rec.status.value == "failed"
    assert "mosquitto not found" in rec.error and "demo_broker: false" in rec.error
    assert host.plugins.records["alerts"].status.value == "enabled"


def test_demo_broker_starts_a_private_mosquitto(make_twin_app):
    try:
        find_mosquitto()
    except Exception as exc:  # noqa: BLE001
        pytest.skip(str(exc))
    app = plugin_app(make_twin_app, demo_broker=True, client_id="test-demo-broker")
    host = app.server.config["TWINBOARD_HOST"]
    assert host.plugins.records["enterprise_park"].status.value == "enabled"
    mod = sys.modules["twinboard_plugins.enterprise_park.broker"]
    port = mod.demo_broker_port()
    assert port and _wait(lambda: host.store.reading_count() > 0, timeout=30)
    host.stop()
    assert mod.demo_broker_port() is None


def test_demo_broker_never_outlives_a_killed_host(tmp_path):
    """A host killed without cleanup (SIGKILL) takes its demo mosquitto with it within seconds."""
    import socket
    import subprocess
    try:
        find_mosquitto()
    except Exception as exc:  # noqa: BLE001
        pytest.skip(str(exc))
    code = ("import sys, time; sys.path.insert(0, %r); from plugins.enterprise_park.broker import ensure_demo_broker;"
            " print(ensure_demo_broker(), flush=True); time.sleep(60)" % str(ROOT))
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    port = int(child.stdout.readline())
    with socket.create_connection(("127.0.0.1", port), timeout=2):
        pass
    child.kill()
    child.wait()

    def down():
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return False
        except OSError:
            return True
    assert _wait(down, timeout=10)


def test_source_thread_decodes_stores_then_acknowledges_per_connection():
    """Without a broker: what the network thread queues is decoded on the source thread, stored in one call,
    and only then acknowledged, and only to the connection that delivered it; a failed store acks nothing."""
    reg = _registry()
    ing = MqttIngest(host="127.0.0.1", port=1, devices=reg, client_id="unit", linger_s=2.0, idle_s=0.01,
                     batch_max=1000)
    ing._refresh_registry()
    acked: list[list[int]] = []
    order: list[str] = []

    class Client:
        def ack_many(self, mids):
            order.append("ack")
            acked.append(list(mids))
    ing.client = Client()
    now = round(time.time(), 3)
    good = json.dumps({"ts": now, "gas_lel_pct": 1.5}).encode()
    ing._generation = 1
    ing._on_messages([_topic("jk-sewing-gd1").encode(), b"twinboard/ep/x/gas/nobody/data"], [good, good], [1, 2])
    ing._generation = 2                                           # reconnected: mids 1 and 2 belong to the old link
    other = _topic("jj-autoparts-gd1").encode()
    ing._on_messages([other, other], [good, good], [1])           # the second one came with QoS 0
    stored: list = []

    def ingest(readings):
        order.append("store")
        stored.extend(readings)
        return len(readings)
    t0 = time.monotonic()
    batch = ing._gather()
    assert time.monotonic() - t0 < 1.0                           # the burst went quiet: no full linger
    assert ing._store(batch, ingest) == 4 and order == ["store", "ack"]
    assert [(r.entity_id, r.metric, r.value) for r in stored] == [("ep.dev.jk-sewing-gd1", "gas_lel_pct", 1.5),
                                                                  ("ep.dev.jj-autoparts-gd1", "gas_lel_pct", 1.5),
                                                                  ("ep.dev.jj-autoparts-gd1", "gas_lel_pct", 1.5)]
    assert acked == [[1]]                                         # QoS 1 of the current connection only
    assert ing.stats.unknown == 1 and ing.stats.accepted == 3 and ing.stats.messages == 4

    ing._on_messages([_topic("jk-sewing-gd1").encode()], [good], [7])

    def failing(readings):
        raise RuntimeError("database is locked")
    with pytest.raises(RuntimeError):
        ing._store(ing._gather(), failing)
    assert acked == [[1]]                                         # nothing acknowledged: the broker redelivers

    ing.batch_max = 2                                             # a batch never takes more reads than batch_max
    for mid in (8, 9, 10):
        ing._on_messages([_topic("jk-sewing-gd1").encode()], [good], [mid])
    assert ing._gather().messages == 2 and ing._gather().messages == 1
