"""MQTT ingest speed of the enterprise_park plugin: broker → validated → stored readings, 5,000 devices.

A private mosquitto on loopback. The ingest client (plugins/enterprise_park/mqtt_source.py, the
same code the plugin runs) first subscribes with a persistent QoS-1 session and goes away; the
5,000 devices then publish ``--messages`` messages each (meters, electrical-fire monitors, gas and
smoke detectors); the client comes back and drains the queue: decode, validate, batch-store, then
PUBACK. The time from its start until every reading is stored gives messages (and readings) per
second. The same readings then go through the host's raw batched ``Store.ingest`` (fresh database,
batches of the mean size the MQTT client used) in the same round. That is one round; there are
``--rounds`` of them (fresh stores each, one broker and one persistent session throughout).

``mqtt_ratio`` = MQTT readings/s ÷ raw readings/s (wall clock), the median over the rounds, with its
spread ``mqtt_ratio_min`` / ``mqtt_ratio_max`` and every round's in ``mqtt_ratios`` (aim: median ≥ 0.5).
``cpu_ratio`` (median, min, max) compares the CPU time of this process for the two (steadier on a busy
machine, where wall clock swings with other load). ``complete``: every round stored every reading, on
both sides. Other figures are medians over the rounds; ``--quick`` (500 devices, 2 messages, 3 rounds)
is a smoke run whose figures say little.
The last line printed is one JSON object.

    .venv/bin/python bench/mqtt.py [--quick] [--devices 5000] [--messages 4] [--rounds 9]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import statistics
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
        time.sleep(0.001)          # fine-grained: a coarse poll would add up to its period to the MQTT time


def _median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def expected_readings(registry: dict[str, Device], messages: list[tuple[str, bytes]]) -> list:
    """The readings the messages carry, decoded one by one with the plugin's Decoder (all must be valid)."""
    decoder, out = Decoder(registry), []
    for topic, payload in messages:
        r = decoder.decode(topic, payload)
        assert not isinstance(r, Rejected), r
        out.extend(r)
    return out


def measure_round(broker: Mosquitto, registry: dict[str, Device], messages: list[tuple[str, bytes]],
                  n_expected: int, tmp: Path, args: argparse.Namespace) -> dict[str, float | int | bool]:
    """One round: the devices publish while the ingest client is away, it comes back and drains the broker
    into a fresh store; then the same readings through raw ``Store.ingest`` into another fresh store.

    Each side starts from a collected heap (``gc.collect()``), so neither pays the cyclic collector for
    garbage the other side or the publisher left; the raw side's readings are made only for the raw side
    (outside its timing), so the MQTT side does not carry them either. Each still pays for its own."""
    tmp.mkdir()
    store = open_store(f"sqlite:///{tmp / 'mqtt.sqlite'}")
    # the same client id every round: its persistent session (subscribed in main) queues this round's messages
    ingest = MqttIngest(host="127.0.0.1", port=broker.port, devices=registry, client_id="bench-ingest",
                        protocol=args.protocol, flush_s=args.flush_s, linger_s=args.linger_s,
                        batch_max=args.batch)
    batches: list[int] = []

    def store_batch(readings):
        batches.append(len(readings))
        return store.ingest(readings)
    # 1. the devices publish while the client is away (the broker queues for the session)
    pub_s = publish_all(broker.port, messages)
    # 2. the client comes back and drains the broker into the store
    stop = threading.Event()
    gc.collect()
    c0 = time.process_time()
    b0 = _cpu_of(broker.proc.pid)
    t0 = time.perf_counter()
    t = threading.Thread(target=ingest.run_with, args=(store_batch, stop))
    t.start()
    _wait(lambda: ingest.stats.readings_stored >= n_expected, 120)
    mqtt_s = time.perf_counter() - t0
    mqtt_cpu = time.process_time() - c0
    broker_cpu = _cpu_of(broker.proc.pid) - b0
    stop.set()
    t.join()
    stored = store.reading_count()
    store.engine.dispose()

    # 3. the raw side gets the batch size the MQTT client ended up using (mean readings per ingest call)
    raw_batch = max(1, round(sum(batches) / max(1, len(batches))))
    raw_store = open_store(f"sqlite:///{tmp / 'raw.sqlite'}")
    expected = expected_readings(registry, messages)
    gc.collect()
    c0 = time.process_time()
    t0 = time.perf_counter()
    for i in range(0, len(expected), raw_batch):
        raw_store.ingest(expected[i:i + raw_batch])
    raw_s = time.perf_counter() - t0
    raw_cpu = time.process_time() - c0
    raw_ok = raw_store.reading_count() == len(expected)
    raw_store.engine.dispose()
    shutil.rmtree(tmp, ignore_errors=True)
    del expected
    n_msg, n_read = len(messages), n_expected
    return {"mqtt_ratio": raw_s / mqtt_s, "cpu_ratio": raw_cpu / mqtt_cpu if mqtt_cpu else float("nan"),
            "mqtt_s": mqtt_s, "raw_s": raw_s, "mqtt_cpu_s": mqtt_cpu, "raw_cpu_s": raw_cpu,
            "broker_cpu_s": broker_cpu, "publish_msgs_per_s": n_msg / pub_s,
            "mqtt_msgs_per_s": n_msg / mqtt_s, "mqtt_readings_per_s": n_read / mqtt_s,
            "raw_readings_per_s": n_read / raw_s, "batches": len(batches), "batch_readings": raw_batch,
            "stored": stored, "complete": stored == n_read and raw_ok,
            "malformed": ingest.stats.malformed, "unknown": ingest.stats.unknown,
            "duplicates": ingest.stats.duplicates}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", type=int, default=5000)
    ap.add_argument("--messages", type=int, default=4, help="messages per device and round")
    ap.add_argument("--rounds", type=int, default=9, help="measured rounds (figures: median, min, max)")
    ap.add_argument("--quick", action="store_true", help="500 devices, 2 messages each, 3 rounds (seconds)")
    ap.add_argument("--protocol", default="5", choices=("5", "3.1.1"))
    ap.add_argument("--flush-s", type=float, default=0.5, help="idle wake-up of the ingest client")
    ap.add_argument("--linger-s", type=float, default=0.1, help="how long the ingest client gathers a burst")
    ap.add_argument("--batch", type=int, default=20000, help="most messages the ingest client stores per batch")
    args = ap.parse_args(argv)
    if args.quick:
        args.devices, args.messages, args.rounds = min(args.devices, 500), min(args.messages, 2), min(args.rounds, 3)
    if args.rounds < 1 or args.devices < 1 or args.messages < 1:
        ap.error("--rounds, --devices and --messages must be at least 1")
    devices = make_devices(args.devices)
    registry = {d.device_id: d for d in devices}
    sim = DeviceSimulator(devices, seed=1)
    now = time.time()
    messages = [m for k in range(args.messages) for m in sim.messages(now - 60 * (args.messages - k))]
    n_expected = len(expected_readings(registry, messages))

    tmp = Path(tempfile.mkdtemp(prefix="tb-bench-mqtt-"))
    broker = Mosquitto(persistence=False).start()
    rounds: list[dict] = []
    try:
        # subscribe once (persistent session), then go away: every round's messages queue for it
        store = open_store(f"sqlite:///{tmp / 'subscribe.sqlite'}")
        ingest = MqttIngest(host="127.0.0.1", port=broker.port, devices=registry, client_id="bench-ingest",
                            protocol=args.protocol)
        stop = threading.Event()
        t = threading.Thread(target=ingest.run_with, args=(store.ingest, stop))
        t.start()
        _wait(lambda: ingest.stats.connected, 10)
        time.sleep(0.3)
        stop.set()
        t.join()
        store.engine.dispose()
        for k in range(args.rounds):
            rounds.append(measure_round(broker, registry, messages, n_expected, tmp / f"round{k}", args))
            print(f"round {k + 1}/{args.rounds}: mqtt_ratio {rounds[-1]['mqtt_ratio']:.3f} "
                  f"(cpu_ratio {rounds[-1]['cpu_ratio']:.3f}, {rounds[-1]['batches']} batches)", flush=True)
    finally:
        broker.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    def med(key: str, nd: int = 3) -> float:
        return round(_median([r[key] for r in rounds]), nd)
    ratios = [r["mqtt_ratio"] for r in rounds]
    n_msg, n_read = len(messages), n_expected
    result = {
        "bench": "mqtt", "devices": args.devices, "messages": n_msg, "readings": n_read, "quick": args.quick,
        "stored": min(r["stored"] for r in rounds), "complete": all(r["complete"] for r in rounds),
        "rounds": len(rounds),
        "mqtt_ratio": round(_median(ratios), 3), "mqtt_ratio_min": round(min(ratios), 3),
        "mqtt_ratio_max": round(max(ratios), 3), "mqtt_ratios": [round(x, 3) for x in ratios],
        "cpu_ratio": med("cpu_ratio"),
        "cpu_ratio_min": round(min(r["cpu_ratio"] for r in rounds), 3),
        "cpu_ratio_max": round(max(r["cpu_ratio"] for r in rounds), 3),
        "publish_msgs_per_s": round(med("publish_msgs_per_s")),
        "mqtt_msgs_per_s": round(med("mqtt_msgs_per_s")), "mqtt_readings_per_s": round(med("mqtt_readings_per_s")),
        "raw_readings_per_s": round(med("raw_readings_per_s")),
        "mqtt_s": med("mqtt_s"), "mqtt_cpu_s": med("mqtt_cpu_s"), "broker_cpu_s": med("broker_cpu_s"),
        "raw_s": med("raw_s"), "raw_cpu_s": med("raw_cpu_s"), "batches": med("batches", 1),
        "batch_readings": round(med("batch_readings")),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "malformed": sum(r["malformed"] for r in rounds), "unknown": sum(r["unknown"] for r in rounds),
        "duplicates": sum(r["duplicates"] for r in rounds),
    }
    print(f"{n_msg} messages ({n_read} readings) from {args.devices} devices, {len(rounds)} rounds: MQTT "
          f"{result['mqtt_msgs_per_s']:,} msg/s = {result['mqtt_readings_per_s']:,} readings/s; raw Store.ingest "
          f"{result['raw_readings_per_s']:,} readings/s (medians); mqtt_ratio {result['mqtt_ratio']} "
          f"[{result['mqtt_ratio_min']}, {result['mqtt_ratio_max']}]")
    print(json.dumps(result))
    return 0 if result["complete"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
