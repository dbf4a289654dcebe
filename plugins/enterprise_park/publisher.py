"""Demo publisher: simulates the demo parks' devices and publishes their telemetry over MQTT.

Runs as the plugin's ``publisher`` source when ``demo_publisher: true``, or on its own::

    .venv/bin/python -m plugins.enterprise_park.publisher --port 1883 --interval 2

Values random-walk around plausible levels; a few devices play episodes so the alarm rules
fire: a cable overheating in 海明塑料 (threshold + rate rule), an LPG leak in 江嘉汽摩配件,
a short smoke alarm in 星蓝工艺品. With ``faults`` it also sends, once a minute, a malformed,
an oversized and an unknown-device message, to show the counters working.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import random
import threading
import time
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from .payloads import Device
from .twin import devices_from_files, park_short, topic_for

log = logging.getLogger(__name__)

EPISODES = {  # device id → (kind, period s, duration s)
    "hm-plastic-ef1": ("overheat", 300.0, 90.0),
    "jj-autoparts-gd1": ("leak", 420.0, 75.0),
    "xl-crafts-sd1": ("smoke", 600.0, 12.0),
}


class DeviceSimulator:
    """Stateful telemetry for a list of devices; ``messages(now)`` gives (topic, payload) pairs."""

    def __init__(self, devices: list[Device], prefix: str = "twinboard/ep", seed: int = 7,
                 faults: bool = False, t0: float | None = None) -> None:
        self.devices, self.prefix, self.faults = devices, prefix, faults
        self.rng = random.Random(seed)
        self.t0 = time.time() if t0 is None else t0
        self.state: dict[str, dict[str, float]] = {}
        self.seq = 0
        self._last_fault = self.t0

    def _episode(self, dev: Device, now: float) -> float:
        """0 → 1 → 0 while the device's episode runs (starting 40 s after t0, then every period)."""
        ep = EPISODES.get(dev.device_id)
        if not ep:
            return 0.0
        _, period, dur = ep
        phase = (now - self.t0 - 40.0) % period
        return math.sin(phase / dur * math.pi) if 0 <= phase < dur and now - self.t0 >= 40 else 0.0

    def payload(self, dev: Device, now: float) -> dict[str, Any]:
        r, s = self.rng, self.state.setdefault(dev.device_id, {})
        self.seq += 1
        ts = round(now, 3)
        if dev.device_type == "meter":
            hour = time.localtime(now).tm_hour + time.localtime(now).tm_min / 60
            day = 0.35 + 0.65 * max(0.0, math.sin((hour - 6) / 13 * math.pi)) if 6 <= hour <= 19 else 0.3
            base = s.setdefault("base", r.uniform(30, 90))
            p = max(0.5, base * day + r.gauss(0, 2))
            s["energy"] = s.get("energy", r.uniform(1e4, 9e4)) + p * 2 / 3600
            v = 230 + r.gauss(0, 1.5)
            return {"ts": ts, "seq": self.seq, "power_kw": round(p, 2), "energy_kwh": round(s["energy"], 2),
                    "voltage_v": round(v, 1), "current_a": round(p * 1000 / (3 ** 0.5 * 400 * 0.9), 1)}
        if dev.device_type == "elec_fire":
            s["res"] = min(250.0, max(5.0, s.get("res", r.uniform(20, 80)) + r.gauss(0, 3)))
            s["temp"] = min(55.0, max(22.0, s.get("temp", r.uniform(28, 38)) + r.gauss(0, 0.3)))
            k = self._episode(dev, now)
            return {"ts": ts, "residual_ma": round(s["res"] + 380 * k, 1), "cable_temp_c": round(s["temp"] + 48 * k, 1)}
        if dev.device_type == "gas":
            s["lel"] = min(4.0, max(0.0, s.get("lel", 0.5) + r.gauss(0, 0.2)))
            return {"ts": ts, "gas_lel_pct": round(s["lel"] + 30 * self._episode(dev, now), 2)}
        k = self._episode(dev, now)
        s["bat"] = max(5.0, s.get("bat", r.uniform(40, 100)) - 0.001)
        return {"ts": ts, "alarm": k > 0.3, "obscuration_db_m": round(0.02 + 2.5 * k + abs(r.gauss(0, 0.01)), 3),
                "battery_pct": round(s["bat"], 1)}

    def messages(self, now: float | None = None) -> list[tuple[str, bytes]]:
        now = time.time() if now is None else now
        out = [(topic_for(self.prefix, d), json.dumps(self.payload(d, now), separators=(",", ":")).encode())
               for d in self.devices]
        if self.faults and now - self._last_fault >= 60 and self.devices:
            self._last_fault = now
            d = self.devices[0]
            p = park_short(d.park)
            out += [(topic_for(self.prefix, d), b'{"ts": "yesterday", "power_kw": "a lot"}'),
                    (f"{self.prefix}/{p}/meter/rogue-9999/data", json.dumps({"ts": now, "power_kw": 1.0,
                                                                              "energy_kwh": 1.0}).encode()),
                    (topic_for(self.prefix, d), b'{"ts": %.3f, "pad": "%s"}' % (now, b"x" * 4096))]
        return out


class Publisher:
    """An MQTT client publishing the simulator's messages every ``interval_s`` (QoS 1)."""

    def __init__(self, host: str, port: int | Any, devices: list[Device], *, prefix: str = "twinboard/ep",
                 interval_s: float = 2.0, seed: int = 7, faults: bool = False, qos: int = 1,
                 client_id: str = "twinboard-ep-demo-publisher") -> None:
        self.host, self._port, self.interval_s, self.qos = host, port, interval_s, qos
        self.sim = DeviceSimulator(devices, prefix, seed, faults)
        self.client_id = client_id
        self.published = 0

    def run_with(self, stopping: threading.Event, heartbeat: Any = lambda: None) -> None:
        port = self._port() if callable(self._port) else self._port
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=mqtt.MQTTv5)
        client.reconnect_delay_set(1, 30)
        client.max_queued_messages_set(20000)
        client.connect_async(self.host, port, keepalive=20)
        client.loop_start()
        try:
            while not stopping.is_set():
                if client.is_connected():
                    for topic, payload in self.sim.messages():
                        client.publish(topic, payload, qos=self.qos)
                        self.published += 1
                heartbeat()
                if stopping.wait(self.interval_s):
                    break
        finally:
            client.disconnect()
            client.loop_stop()

    def run(self, ctx: Any) -> None:
        self.run_with(ctx.stopping, ctx.heartbeat)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Publish simulated telemetry of the demo parks' devices over MQTT.")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=1883)
    ap.add_argument("--prefix", default="twinboard/ep")
    ap.add_argument("--interval", type=float, default=2.0)
    ap.add_argument("--faults", action="store_true", help="also send malformed/oversized/unknown messages")
    ap.add_argument("--seconds", type=float, default=0, help="stop after this many seconds (0: run until Ctrl-C)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    stop = threading.Event()
    if args.seconds:
        threading.Timer(args.seconds, stop.set).start()
    pub = Publisher(args.host, args.port, devices_from_files(), prefix=args.prefix, interval_s=args.interval,
                    faults=args.faults)
    try:
        pub.run_with(stop)
    except KeyboardInterrupt:
        stop.set()
    print(f"published {pub.published} messages")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
