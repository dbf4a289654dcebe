"""Benchmark (issue 16 §4): three twinboard instances on loopback, street → district → city; incident steps
written at the street are forwarded up, and the city is killed (SIGKILL) and started again in the middle.

    python bench/federation.py [--quick] [--events N]

Figures (the last stdout line is one JSON object):
- ``delivered_exactly_once``: the city's inbox holds every event the street produced, each once;
- ``federation_events_per_s``: events / (time from the first event written to the last one stored at the
  city, less the time the city was down: from the kill until it answered /api/health again);
- ``bare_events_per_s``: the same envelopes POSTed one by one (keep-alive) to a bare loopback HTTP server
  that only reads the body and answers 200;
- ``federation_ratio``: federation_events_per_s / bare_events_per_s (aim ≥ 0.3). The federation sends up to
  ``batch`` messages per signed request (docs/federation.md), a bare POST one.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from core.web.serve import free_port  # noqa: E402

SECRETS = {"FED_BENCH_STREET": "street-district-bench-secret", "FED_BENCH_CITY": "district-city-bench-secret"}
NAMES = {"street": "gucheng", "district": "linhai", "city": "taizhou"}


class Topology:
    """Three instances (run.py, one gunicorn worker each, no plugins) on free loopback ports."""

    def __init__(self, tmp: Path, retry_max_s: float = 1.0, batch: int = 100) -> None:
        self.tmp, self.retry_max_s, self.batch = tmp, retry_max_s, batch
        self.ports = {k: free_port() for k in NAMES}
        self.procs: dict[str, subprocess.Popen] = {}
        self.env = {**os.environ, **SECRETS}
        self.down_s = 0.0

    def url(self, which: str) -> str:
        return f"http://127.0.0.1:{self.ports[which]}"

    def db(self, which: str) -> Path:
        return self.tmp / which / "twin.sqlite"

    def _federation(self, which: str) -> dict[str, Any]:
        up = {"street": ("district", "FED_BENCH_STREET"), "district": ("city", "FED_BENCH_CITY")}
        down = {"district": ("street", "FED_BENCH_STREET"), "city": ("district", "FED_BENCH_CITY")}
        peers = []
        if which in up:
            other, env = up[which]
            peers.append({"name": NAMES[other], "url": self.url(other), "direction": "up", "level": other,
                          "secret_env": env})
        if which in down:
            other, env = down[which]
            peers.append({"name": NAMES[other], "direction": "down", "level": other, "secret_env": env})
        return {"level": which, "name": NAMES[which], "peers": peers, "retry_base_s": 0.1,
                "retry_max_s": self.retry_max_s, "batch": self.batch, "summary_interval_s": 0}

    def _spawn(self, which: str) -> None:
        d = self.tmp / which
        d.mkdir(parents=True, exist_ok=True)
        cfg = {"root": str(ROOT), "database_url": f"sqlite:///{self.db(which)}", "var_dir": str(d / "var"),
               "public_screens": True, "plugin_allowlist": [], "entry_points": False,
               "federation": self._federation(which)}
        path = d / "settings.yaml"
        path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
        with open(d / "server.log", "ab") as log:
            self.procs[which] = subprocess.Popen(
                [sys.executable, str(ROOT / "run.py"), "--config", str(path), "--port", str(self.ports[which])],
                cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True)

    def _wait_health(self, which: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.procs[which].poll() is not None:
                raise RuntimeError(f"{which} exited: {self.log(which)}")
            try:
                urllib.request.urlopen(self.url(which) + "/api/health", timeout=2).read()
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"{which} did not answer within {timeout} s: {self.log(which)}")

    def log(self, which: str) -> str:
        p = self.tmp / which / "server.log"
        return p.read_text(errors="replace")[-3000:] if p.exists() else ""

    def start(self) -> None:
        for which in ("city", "district", "street"):
            self._spawn(which)
        for which in ("city", "district", "street"):
            self._wait_health(which)

    def _kill(self, which: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs.get(which)
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)

    def restart_city(self, between: Callable[[], Any] | None = None) -> None:
        """Kill the city's whole process group (no clean shutdown), run ``between``, start it again."""
        t0 = time.monotonic()
        self._kill("city")
        if between is not None:
            between()
        time.sleep(0.5)  # the district finds it down and backs off
        self._spawn("city")
        self._wait_health("city")
        self.down_s += time.monotonic() - t0

    def stop(self) -> None:
        for which in list(self.procs):
            self._kill(which, signal.SIGTERM)

    def add_incident_events(self, n: int, start: int = 0) -> list[int]:
        """Write one incident and ``n`` timeline steps at the street (as command_center does); their ids."""
        with sqlite3.connect(self.db("street"), timeout=30) as conn:
            cur = conn.execute("INSERT INTO incident (kind, title, severity, state, geometry, properties, is_drill, "
                               "opened_at) VALUES ('fire', ?, 2, 'handling', ?, '{}', 0, ?)",
                               (f"古城街道火情 {start}", json.dumps({"type": "Point", "coordinates": [121.12, 28.85]}),
                                time.time()))
            inc = cur.lastrowid
            ids = []
            for i in range(start, start + n):
                c = conn.execute("INSERT INTO incident_event (incident_id, ts, actor, kind, message, data) "
                                 "VALUES (?, ?, 'bench', 'message', ?, '{}')", (inc, time.time(), f"现场进展 {i}"))
                ids.append(int(c.lastrowid))
        return ids

    def city_count(self) -> int:
        try:
            with sqlite3.connect(self.db("city"), timeout=30) as conn:
                return int(conn.execute("SELECT count(*) FROM federation_inbox").fetchone()[0])
        except sqlite3.OperationalError:
            return 0  # the city is being started again

    def wait_city(self, pred: Callable[[int], bool], timeout: float = 120) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            n = self.city_count()
            if pred(n):
                return n
            time.sleep(0.02)
        raise RuntimeError(f"the city holds {self.city_count()} messages after {timeout} s:\n"
                           f"district: {self.log('district')}\ncity: {self.log('city')}")

    def city_ids(self) -> list[str]:
        with sqlite3.connect(self.db("city"), timeout=30) as conn:
            return [r[0] for r in conn.execute("SELECT msg_id FROM federation_inbox")]

    def city_hops(self) -> set[str]:
        with sqlite3.connect(self.db("city"), timeout=30) as conn:
            return {json.dumps(json.loads(r[0]), ensure_ascii=False) for r in
                    conn.execute("SELECT DISTINCT via FROM federation_inbox")}


class _Bare(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go in two writes: no 40 ms delayed-ACK stall

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *_a: Any) -> None:
        return None


def bare_rate(bodies: list[bytes]) -> float:
    """POSTs per second of ``bodies``, one by one over a keep-alive connection, to a bare server in a
    separate process."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, __file__, "--bare-server", str(port)], cwd=ROOT)
    try:
        import requests
        s = requests.Session()
        for _ in range(200):
            try:
                s.post(f"http://127.0.0.1:{port}/", data=b"{}", timeout=2)
                break
            except requests.ConnectionError:
                time.sleep(0.05)
        t0 = time.perf_counter()
        for body in bodies:
            s.post(f"http://127.0.0.1:{port}/", data=body, headers={"Content-Type": "application/json"}, timeout=10)
        return len(bodies) / (time.perf_counter() - t0)
    finally:
        proc.terminate()
        proc.wait(10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run (fewer events)")
    parser.add_argument("--events", type=int, default=None, help="events forwarded up (default 1000; quick 200)")
    parser.add_argument("--bare-server", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.bare_server:
        srv = ThreadingHTTPServer(("127.0.0.1", args.bare_server), _Bare)
        signal.signal(signal.SIGTERM, lambda *_a: threading.Thread(target=srv.shutdown).start())
        srv.serve_forever()
        return 0
    import tempfile

    from core.runtime import federation_wire as wire
    n = args.events or (200 if args.quick else 1000)
    half = n // 2
    with tempfile.TemporaryDirectory(prefix="twinboard-fed-") as tmp:
        topo = Topology(Path(tmp))
        try:
            topo.start()
            t0 = time.monotonic()
            made = topo.add_incident_events(half)
            topo.wait_city(lambda c: c >= max(1, half // 2))
            topo.restart_city(between=lambda: made.extend(topo.add_incident_events(n - half, start=half)))
            topo.wait_city(lambda c: c >= n, timeout=300)
            elapsed = time.monotonic() - t0
            time.sleep(1.0)  # a duplicate still in flight would land now
            ids = topo.city_ids()
            with sqlite3.connect(topo.db("street"), timeout=30) as conn:
                sent = {r[0] for r in conn.execute("SELECT msg_id FROM federation_outbox")}
                bodies = [wire.encode([json.loads(r[0])]) for r in conn.execute("SELECT envelope FROM federation_outbox")]
            exactly_once = len(ids) == len(set(ids)) == n and set(ids) == sent and len(made) == n
        finally:
            topo.stop()
    rate = n / max(1e-6, elapsed - topo.down_s)
    bare = bare_rate(bodies)
    doc = {"events": n, "delivered_exactly_once": exactly_once, "federation_events_per_s": round(rate, 1),
           "bare_events_per_s": round(bare, 1), "federation_ratio": round(rate / bare, 3),
           "city_down_s": round(topo.down_s, 2), "wall_s": round(elapsed, 2), "batch": topo.batch}
    print(json.dumps(doc))
    return 0 if exactly_once else 1


if __name__ == "__main__":
    sys.exit(main())
