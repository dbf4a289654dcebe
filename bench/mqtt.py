"""MQTT ingest speed of the enterprise_park plugin: broker → validated → stored readings, 5,000 devices.

A private mosquitto on loopback. The ingest client (plugins/enterprise_park/mqtt_source.py, the
same code the plugin runs) first subscribes with a persistent QoS-1 session and goes away; the
5,000 devices then publish ``--rounds`` messages each (meters, electrical-fire monitors, gas and
smoke detectors); the client comes back and drains the queue: decode, validate, batch-store, then
PUBACK. The time from its start until every reading is stored gives messages (and readings) per
second. The same readings then go through the host's raw batched ``Store.ingest`` (fresh database,
batches of the mean size the MQTT client used) in the same run;
``mqtt_ratio`` = MQTT readings/s ÷ raw readings/s (wall clock). ``cpu_ratio`` compares the CPU time of
this process for the two (steadier on a busy machine, where wall clock swings with other load).
The last line printed is one JSON object.

    .venv/bin/python bench/mqtt.py [--devices 5000] [--rounds 4]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import paho.mqtt.client as mqtt  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402

from core.data.store import open_store  # noqa: E402
from plugins.enterprise_park.broker import Mosquitto  # noqa: E402
from plugins.enterprise_park.mqtt_source import MqttIngest  # noqa: E402
from plugins.enterprise_park.payloads import Decoder, Device, Rejected  # noqa: E402
from plugins.enterprise_park.publisher import DeviceSimulator  # noqa: E402

MIX = (("meter", 0.4), ("elec_fire", 0.3), ("gas", 0.15), ("smoke", 0.15))


def make_devices(n: int) -> list[Device]:
    out, i = [], 0
    for dtype, share in MIX:
        for _ in range(round(n * share)):
            out.append(Device(f"bench-{i:05d}", f"ep.dev.bench-{i:05d}", f"ep.park.p{i % 50:02d}", dtype))
            i += 1
    return out[:n]


def publish_all(port: int, messages: list[tuple[str, bytes]]) -> float:
    """Publish with QoS 1 and wait for every PUBACK; returns seconds."""
    done = threading.Event()
    acked = [0]

    def on_publish(_c, _u, _mid, _rc, _p):
        acked[0] += 1
        if acked[0] >= len(messages):
            done.set()
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-publisher", protocol=mqtt.MQTTv5)
    c.max_inflight_messages_set(2000)
    c.max_queued_messages_set(0)
    c.on_publish = on_publish
    c.connect("127.0.0.1", port)
    t0 = time.perf_counter()
    for i, (topic, payload) in enumerate(messages):      # no network thread: publish() writes directly
        c.publish(topic, payload, qos=1)
        if i % 200 == 199:
            c.loop(0)
    deadline = time.time() + 120
    while not done.is_set() and time.time() < deadline:
        c.loop(0.05)
    dt = time.perf_counter() - t0
    c.disconnect()
    return dt


def _cpu_of(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def _wait(pred, timeout: float) -> None:
    deadline = time.time() + timeout
    while not pred() and time.time() < deadline:
        time.sleep(0.01)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", type=int, default=5000)
    ap.add_argument("--rounds", type=int, default=4, help="messages per device")
    ap.add_argument("--protocol", default="5", choices=("5", "3.1.1"))
    ap.add_argument("--flush-s", type=float, default=0.5, help="idle wake-up of the ingest client")
    ap.add_argument("--linger-s", type=float, default=0.1, help="how long the ingest client gathers a burst")
    ap.add_argument("--batch", type=int, default=20000, help="most messages the ingest client stores per batch")
    args = ap.parse_args(argv)
    devices = make_devices(args.devices)
    registry = {d.device_id: d for d in devices}
    sim = DeviceSimulator(devices, seed=1)
    now = time.time()
    messages = [m for k in range(args.rounds) for m in sim.messages(now - 60 * (args.rounds - k))]
    decoder = Decoder(registry)
    expected = []
    for topic, payload in messages:
        r = decoder.decode(topic, payload)
        assert not isinstance(r, Rejected), r
        expected.extend(r)

    tmp = Path(tempfile.mkdtemp(prefix="tb-bench-mqtt-"))
    broker = Mosquitto(persistence=False).start()
    try:
        store = open_store(f"sqlite:///{tmp / 'mqtt.sqlite'}")
        ingest = MqttIngest(host="127.0.0.1", port=broker.port, devices=registry, client_id="bench-ingest",
                            protocol=args.protocol, flush_s=args.flush_s, linger_s=args.linger_s,
                            batch_max=args.batch)
        batches: list[int] = []

        def store_batch(readings):
            batches.append(len(readings))
            return store.ingest(readings)
        # 1. subscribe once (persistent session), then go away
        stop = threading.Event()
        t = threading.Thread(target=ingest.run_with, args=(store.ingest, stop))
        t.start()
        _wait(lambda: ingest.stats.connected, 10)
        time.sleep(0.3)
        stop.set()
        t.join()
        # 2. the devices publish while the client is away (the broker queues for the session)
        pub_s = publish_all(broker.port, messages)
        # 3. the client comes back and drains the broker into the store
        stop = threading.Event()
        c0 = time.process_time()
        b0 = _cpu_of(broker.proc.pid)
        t0 = time.perf_counter()
        t = threading.Thread(target=ingest.run_with, args=(store_batch, stop))
        t.start()
        _wait(lambda: ingest.stats.readings_stored >= len(expected), 120)
        mqtt_s = time.perf_counter() - t0
        mqtt_cpu = time.process_time() - c0
        broker_cpu = _cpu_of(broker.proc.pid) - b0
        stop.set()
        t.join()
        stored = store.reading_count()
    finally:
        broker.stop()

    # the raw side gets the same batch size the MQTT client ended up using (mean readings per ingest call)
    raw_batch = max(1, round(sum(batches) / max(1, len(batches))))
    raw_store = open_store(f"sqlite:///{tmp / 'raw.sqlite'}")
    c0 = time.process_time()
    t0 = time.perf_counter()
    for i in range(0, len(expected), raw_batch):
        raw_store.ingest(expected[i:i + raw_batch])
    raw_s = time.perf_counter() - t0
    raw_cpu = time.process_time() - c0
    raw_ok = raw_store.reading_count() == len(expected)
    shutil.rmtree(tmp, ignore_errors=True)

    n_msg, n_read = len(messages), len(expected)
    result = {
        "bench": "mqtt", "devices": args.devices, "messages": n_msg, "readings": n_read,
        "stored": stored, "complete": stored == n_read and raw_ok,
        "publish_msgs_per_s": round(n_msg / pub_s),
        "mqtt_msgs_per_s": round(n_msg / mqtt_s), "mqtt_readings_per_s": round(n_read / mqtt_s),
        "raw_readings_per_s": round(n_read / raw_s),
        "mqtt_s": round(mqtt_s, 2), "mqtt_cpu_s": round(mqtt_cpu, 2), "broker_cpu_s": round(broker_cpu, 2), "raw_s": round(raw_s, 2),
        "raw_cpu_s": round(raw_cpu, 2), "batches": len(batches), "batch_readings": raw_batch,
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "cpu_ratio": round(raw_cpu / mqtt_cpu, 3) if mqtt_cpu else None,
        "mqtt_ratio": round(raw_s / mqtt_s, 3),
        "malformed": ingest.stats.malformed, "unknown": ingest.stats.unknown,
        "duplicates": ingest.stats.duplicates,
    }
    print(f"{n_msg} messages ({n_read} readings) from {args.devices} devices: MQTT {n_msg / mqtt_s:,.0f} msg/s "
          f"= {n_read / mqtt_s:,.0f} readings/s; raw Store.ingest {n_read / raw_s:,.0f} readings/s")
    print(json.dumps(result))
    return 0 if result["complete"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
