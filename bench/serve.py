"""Serving capacity (issue #13): simulated walls replay a real Chromium session against gunicorn with 1 and
2 web processes and against the development server, in one run.

1. **Recording.** Headless Chromium shows the leaders' wall (``/playlist/leaders``: the playlist page, its
   long poll, and the district dashboard in its frame) for 20 s against the 1-process target. Every request
   is kept: method, path and query, the Dash callbacks' JSON (``outputs``, ``inputs``, ``state``), the
   headers they carry (``X-CSRFToken`` from the ``_csrf_token`` cookie). Each panel's cadence is its
   ``dcc.Interval`` in the page the recording received (checked against the measured gaps); the other
   repeating requests' cadence is measured. Cached in var/bench/serve_recording.json until the files
   that shape the mix change (``--rerecord`` records again).
2. **Replay.** A simulated wall is one cookie session (its CSRF token from its own page load) with at most
   6 connections, as Chromium has per host. It loads its two pages and their Dash layouts and initial
   callbacks once, then keeps up what the browser did: every panel callback at its cadence (deck panels
   send the ``have`` hashes of the scene their previous answers gave them, merged as assets/twinboard.js
   merges them, so the server answers with real patches), the mode badge's ``/api/wall``, the readiness
   probe and the playlist's long poll. Static files (cached by a browser after its first load) are not
   replayed. A panel whose previous answer is late skips the ticks it missed (counted) and its latency
   is taken from the tick it answers, so an overloaded server shows as late, not as idle.
3. **Targets**, each with a private SQLite database, settings file and signing key, the demo's plugins
   as ``make run`` has them (except that alerts do not switch the wall to incident mode: every target
   serves the same routine mix): (a) gunicorn, 1 web process + ``twinboard worker``; (b) gunicorn, 2 web
   processes + ``twinboard worker``, the same threads per process; events across processes by a private
   loopback Redis, as ``twinboard up`` does; (c) the development server (``serve --debug``: Werkzeug, one
   process that also runs the sources).

Figures (the last line is one JSON object):

- ``serve_scaling``: completed callbacks/s at saturation (walls replaying their mix back to back, no
  waits) with 2 web processes ÷ with 1;
- ``walls_per_core``: the most walls (at their real cadence) whose callback p95 stays ≤ 500 ms with 2
  web processes, with at most 1 % failed requests, ÷ ``os.cpu_count()``;
- ``p95_ms``: callback p95 at 50 walls, 2 web processes; ``devserver_p95_ms``: the same on the dev server.

Callback p95s count timed-out callbacks (and those still unanswered when a window ends) at their age.
Supporting keys: throughputs, the walls tried, errors, and the CPU each party used (the load generator
runs on the same cores as the servers and the worker).

    .venv/bin/python bench/serve.py              # 1½-2 minutes on 2 cores (+20 s when it records the mix)
    .venv/bin/python bench/serve.py --quick      # a smoke run for the tests (under a minute): few walls, short
                                                 # windows; its figures say nothing

Three real server starts (5-13 s each on 2 cores), the worker's start (its smoke detector loads, ~5 s at a
full core, overlapped with the clients' page loads) and windows long enough for a p95 set the time.
Another program busy on the machine shows as ``other_cpu_pct``; figures from such windows are low.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import heapq
import json
import os
import random
import secrets
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import psutil
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from liveserver import CHROME_ARGS, ROOT, Group  # noqa: E402

sys.path.insert(0, str(ROOT))
from core.web.serve import free_port  # noqa: E402

PAGE = "/playlist/leaders"
RECORDING = ROOT / "var" / "bench" / "serve_recording.json"
RECORDING_FORMAT = 1
#: what shapes the requests a wall makes; a change to any of them records the mix again
MIX_FILES = ("assets/twinboard.js", "config/dashboards/district.yaml", "config/playlists.yaml",
             "core/web/screen_callbacks.py", "core/web/pages.py", "core/web/app.py")
STATIC = ("/assets/", "/_dash-component-suites/", "/vendor/", "/_favicon.ico", "/favicon.ico")
DASH_CONFIG = ("/_dash-layout", "/_dash-dependencies")
CALLBACK = "/_dash-update-component"
CONNECTIONS_PER_WALL = 6          # Chromium's connections per host
CALLBACK_TIMEOUT_S = 15.0
LONGPOLL_TIMEOUT_S = 40.0
P95_LIMIT_MS = 500.0
STARVED = 1.15                    # a panel's timer ticked this much more often than Chromium sent: it lacked CPU
MIN_CADENCE_S = 0.25              # requests repeated faster than this are a burst at load, not a cadence
MAX_ERROR_SHARE = 0.01
WALL_LIMIT_S = 600.0              # no simulated wall lives longer, whatever happens to the run
REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"


def say(*parts: Any) -> None:
    print(*parts, flush=True)


def canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def id_key(cid: Any) -> str:
    """A component id as Dash names it in a callback's response: the id, or its sorted JSON."""
    return cid if isinstance(cid, str) else canonical(cid)


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(round(q * len(s) + 0.5)) - 1))]


# --------------------------------------------------------------------------------------------------- targets

def demo_settings(tmp: Path) -> Path:
    """The demo's settings (config/default.yaml) on a private database, var folder and signing key."""
    base = yaml.safe_load((ROOT / "config" / "default.yaml").read_text(encoding="utf-8")) or {}
    plugins = base.get("plugins") or {}
    cc = plugins.setdefault("command_center", {}).setdefault("settings", {})
    cc["auto_incident_severity"] = 0   # the wall stays in routine mode: every target serves the same mix
    cfg = {"root": str(ROOT), "database_url": f"sqlite:///{tmp / 'twin.sqlite'}", "var_dir": str(tmp / "var"),
           "public_screens": True, "entry_points": False, "default_dashboard": "district",
           "locale": base.get("locale", "zh_CN"), "secret_key": secrets.token_hex(32), "plugins": plugins}
    path = tmp / "settings.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    return path


class Target:
    """One server under test: started on a free port, stopped with everything it started."""

    def __init__(self, name: str, label: str, web: int, threads: int, debug: bool = False) -> None:
        self.name, self.label, self.web, self.threads, self.debug = name, label, web, threads, debug
        self.tmp = Path(tempfile.mkdtemp(prefix=f"tb-bench-serve-{name}-"))
        self.group: Group | None = None
        self.url = ""
        self.started_s = 0.0

    def cli(self, config: Path, *args: str) -> list[str]:
        return [sys.executable, "-m", "core.cli", "--config", str(config), *args]

    def start(self) -> "Target":
        t0 = time.monotonic()
        config = demo_settings(self.tmp)
        env = {"TWINBOARD_CONFIG": str(config), "PYTHONUNBUFFERED": "1"}
        redis_port = None
        if not self.debug:
            redis_port = free_port()
            env["TWINBOARD_REDIS_URL"] = f"redis://127.0.0.1:{redis_port}/0"
        self.group = Group(self.tmp / "logs", env)
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        if self.debug:
            self.group.spawn("web", self.cli(config, "serve", "--debug", "--port", str(port)))
            self.group.wait_health("web", self.url)
        else:
            self.group.spawn("redis", [REDIS, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
                                       "--appendonly", "no", "--dir", str(self.tmp)])
            self.group.wait_for_log("redis", "Ready to accept connections", 30)
            self.group.spawn("web", self.cli(config, "serve", "--role", "web", "--workers", str(self.web),
                                             "--threads", str(self.threads), "--port", str(port)))
            self.group.spawn("worker", self.cli(config, "worker"))
            self.group.wait_health("web", self.url, processes=self.web)
            self.group.wait_for_log("worker", "holds the sources lease")
        self.started_s = time.monotonic() - t0
        return self

    def stop(self) -> None:
        if self.group is not None:
            self.group.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def cpu(self) -> dict[str, dict[int, float]]:
        """CPU seconds so far of each process of each party (web, worker, redis)."""
        out: dict[str, dict[int, float]] = {}
        for name, procs in (self.group.trees() if self.group else {}).items():
            out[name] = {}
            for p in procs:
                try:
                    t = p.cpu_times()
                    out[name][p.pid] = t.user + t.system
                except psutil.NoSuchProcess:
                    pass
        return out


def party_cpu(target: "Target", party: str) -> float:
    return sum(target.cpu().get(party, {}).values())


async def quiet(target: "Target", party: str, limit: float, below: float = 0.5) -> float:
    """Seconds until ``party`` (the worker, or the dev server that runs the sources itself) uses under
    ``below`` of a core over a second: its sources' start (detector model, demo videos, history) is over."""
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    prev = party_cpu(target, party)
    while loop.time() - t0 < limit:
        await asyncio.sleep(1.0)
        cur = party_cpu(target, party)
        if cur - prev < below:
            break
        prev = cur
    return loop.time() - t0


class CpuMeter:
    """CPU used between start() and stop(): this process (the load generator), each target party, the machine."""

    def __init__(self, target: Target) -> None:
        self.target = target

    def start(self) -> None:
        self.t0, self.own0, self.parties0 = time.monotonic(), time.process_time(), self.target.cpu()
        self.machine0 = psutil.cpu_times()

    def stop(self) -> dict[str, Any]:
        dt = time.monotonic() - self.t0
        own = time.process_time() - self.own0
        parties = self.target.cpu()
        m1 = psutil.cpu_times()
        busy = lambda m: sum(m) - m.idle - getattr(m, "iowait", 0.0)  # noqa: E731
        cores = os.cpu_count() or 1
        used = {name: sum(v - self.parties0.get(name, {}).get(pid, 0.0) for pid, v in procs.items())
                for name, procs in parties.items()}
        machine = busy(m1) - busy(self.machine0)
        out = {"loadgen_cpu_pct": round(100 * own / dt, 1)}
        out.update({f"{name}_cpu_pct": round(100 * v / dt, 1) for name, v in used.items()})
        out["machine_busy_pct"] = round(100 * machine / (dt * cores), 1)   # of all cores
        out["other_cpu_pct"] = round(100 * max(0.0, machine - own - sum(used.values())) / dt, 1)
        return out


# ------------------------------------------------------------------------------------------------- recording

def mix_key() -> str:
    import dash
    h = hashlib.sha256(f"{RECORDING_FORMAT} {PAGE} dash {dash.__version__}".encode())
    for rel in MIX_FILES:
        h.update((ROOT / rel).read_bytes())
    return h.hexdigest()[:16]


def record(url: str, seconds: float) -> dict[str, Any]:
    """Chromium shows the wall for ``seconds``; every request it makes, with the layouts it received."""
    from playwright.sync_api import sync_playwright
    reqs: list[dict[str, Any]] = []
    by_req: dict[int, dict[str, Any]] = {}
    layout_responses: list[Any] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium",
                                     args=CHROME_ARGS)
        try:
            ctx = browser.new_context(viewport={"width": 1920, "height": 1080})
            t0 = time.monotonic()

            def on_request(r: Any) -> None:
                parts = urlsplit(r.url)
                if parts.hostname not in ("127.0.0.1", "localhost"):
                    return
                frame = ""
                try:
                    frame = urlsplit(r.frame.url)._replace(scheme="", netloc="").geturl()
                except Exception:  # noqa: BLE001 - a service worker's request has no frame
                    pass
                row = {"t": round(time.monotonic() - t0, 3), "method": r.method,
                       "url": parts._replace(scheme="", netloc="").geturl(), "frame": frame,
                       "nav": r.is_navigation_request(), "body": r.post_data,
                       "headers": {k: v for k, v in r.headers.items()
                                   if k in ("x-csrftoken", "content-type", "accept")},
                       "status": None}
                by_req[id(r)] = row
                reqs.append(row)

            def on_response(resp: Any) -> None:
                row = by_req.get(id(resp.request))
                if row is not None:
                    row["status"] = resp.status
                    if row["url"].startswith(CALLBACK) and '"tb-page"' in (row["body"] or ""):
                        layout_responses.append((row, resp))   # the page's layout: its dcc.Interval cadences

            ctx.on("request", on_request)
            ctx.on("response", on_response)
            page = ctx.new_page()
            page.goto(url + PAGE)
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                page.wait_for_timeout(min(1000.0, max(1.0, (end - time.monotonic()) * 1000)))
            cookies = sorted({c["name"] for c in ctx.cookies()})
            layouts = []
            for row, resp in layout_responses:
                try:
                    layouts.append({"frame": row["frame"], "body": resp.json()})
                except Exception:  # noqa: BLE001 - a response the page dropped
                    pass
        finally:
            browser.close()
    intervals = {}
    for lay in layouts:
        for props in _walk_intervals(lay["body"]):
            intervals[id_key(props["id"])] = props.get("interval")
    return {"format": RECORDING_FORMAT, "key": mix_key(), "page": PAGE, "seconds": seconds,
            "recorded_at": time.strftime("%Y-%m-%d %H:%M:%S"), "requests": reqs, "intervals": intervals,
            "cookies": cookies}


def _walk_intervals(obj: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    stack = [obj]
    while stack:
        o = stack.pop()
        if isinstance(o, dict):
            if o.get("type") == "Interval" and isinstance(o.get("props"), dict) and "id" in o["props"]:
                found.append(o["props"])
            stack.extend(o.values())
        elif isinstance(o, list):
            stack.extend(o)
    return found


def load_recording(min_seconds: float) -> dict[str, Any] | None:
    try:
        rec = json.loads(RECORDING.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if rec.get("format") != RECORDING_FORMAT or rec.get("key") != mix_key() or rec.get("seconds", 0) < min_seconds:
        return None
    return rec if derive_mix(rec).starved <= STARVED else None


# ------------------------------------------------------------------------------------------------------- mix

@dataclass
class Req:
    """One request of the mix: what to send, in which frame (page) of the wall."""
    key: str
    kind: str                      # callback | page | poll | longpoll
    method: str
    url: str
    frame: str
    body: dict[str, Any] | None = None
    interval_s: float | None = None
    interval_from: str = ""
    measured_s: float | None = None
    count: int = 0
    expected_ticks: float = 0.0


@dataclass
class Mix:
    startup: list[list[Req]]       # waves sent one after the other, the requests of a wave together
    streams: list[Req]             # repeated at their cadence
    longpoll: Req | None
    static: Counter = field(default_factory=Counter)
    seconds: float = 0.0
    callback_headers: list[str] = field(default_factory=list)
    cookies: list[str] = field(default_factory=list)
    initial_state: dict[tuple[str, str, str], Any] = field(default_factory=dict)

    @property
    def starved(self) -> float:
        """Ticks a panel's dcc.Interval should have made in the recording ÷ the callbacks Chromium sent (the
        worst panel; about 1 when on time). Well above 1: Chromium was short of CPU (another program was
        busy), so the cadences measured from the recording (the polls') are not the page's."""
        return max([int(s.expected_ticks) / max(1, s.count - 1) for s in self.streams
                    if s.interval_from == "layout" and s.expected_ticks >= 4], default=1.0)

    @property
    def callbacks_per_s(self) -> float:
        return sum(1 / s.interval_s for s in self.streams if s.kind == "callback")

    def per_minute(self) -> dict[str, float]:
        out = {s.key: round(60 / s.interval_s, 1) for s in self.streams}
        if self.longpoll is not None:
            out[self.longpoll.key] = round(60 / self.longpoll.interval_s, 1) if self.longpoll.interval_s else 0
        return out


def _callback_key(body: dict[str, Any]) -> tuple[str, str]:
    outs = body.get("outputs")
    outs = outs if isinstance(outs, list) else [outs]
    first = outs[0]["id"] if outs and isinstance(outs[0], dict) else body.get("output", "?")
    name = first.get("panel") or canonical(first) if isinstance(first, dict) else str(first)
    return "POST " + CALLBACK + " " + ",".join(f"{id_key(o['id'])}.{o['property']}" for o in outs), str(name)


def derive_mix(rec: dict[str, Any]) -> Mix:
    """Which of the recorded requests a wall sends once (startup) and which it repeats, at what cadence."""
    rows = rec["requests"]
    intervals: dict[str, float] = rec.get("intervals") or {}
    static: Counter = Counter()
    frames: list[str] = []
    per_frame: dict[str, dict[str, list[Any]]] = defaultdict(lambda: {"nav": [], "config": [], "once": [],
                                                                       "first": []})
    callbacks: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)   # by (frame, key)
    gets: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    longpoll: list[dict[str, Any]] = []
    initial_state: dict[tuple[str, str, str], Any] = {}
    for r in rows:
        path = urlsplit(r["url"]).path
        frame = r["url"] if r["nav"] else r["frame"]
        if path.startswith(STATIC):
            static[path if not path.startswith("/_dash-component-suites/") else "/_dash-component-suites/…"] += 1
            continue
        if frame not in frames:
            frames.append(frame)
        if r["nav"]:
            per_frame[frame]["nav"].append(Req("GET " + r["url"], "page", "GET", r["url"], frame))
        elif path in DASH_CONFIG:
            per_frame[frame]["config"].append(Req("GET " + path, "page", "GET", r["url"], frame))
        elif r["method"] == "POST" and path == CALLBACK:
            body = json.loads(r["body"])
            key, _name = _callback_key(body)
            callbacks[(frame, key)].append({**r, "frame": frame, "json": body})
        elif "wait" in dict(parse_qsl(urlsplit(r["url"]).query, keep_blank_values=True)):
            longpoll.append({**r, "frame": frame})
        else:  # the same URL again and again is a poll; a burst of URLs told apart by their query (map tiles) is not
            gets[(frame, f"{r['method']} {r['url']}")].append({**r, "frame": frame})
    streams: list[Req] = []

    def measured(times: list[float]) -> float | None:
        gaps = [b - a for a, b in zip(times, times[1:])]
        return statistics.median_high(gaps) if gaps else None   # the high median: a late timer, then a short gap

    for (_frame, key), calls in callbacks.items():
        first = calls[0]
        body = first["json"]
        tick = next((i for i in body.get("inputs", []) if i.get("property") == "n_intervals"), None)
        _, name = _callback_key(body)
        for s in body.get("state") or []:
            if "value" in s:
                initial_state[(first["frame"], id_key(s["id"]), s["property"])] = s["value"]
        every = intervals.get(id_key(tick["id"])) if tick else None
        meas = measured([c["t"] for c in calls])
        if tick is None and len(calls) == 1:
            per_frame[first["frame"]]["once"].append(Req(key, "callback", "POST", first["url"], first["frame"], body,
                                                         count=1))
            continue
        # the first call is the page's initial render (sent once); later ticks repeat at the Interval's cadence
        per_frame[first["frame"]]["first"].append(Req(key, "callback", "POST", first["url"], first["frame"], body,
                                                      count=1))
        tmpl = calls[-1]["json"] if len(calls) > 1 else dict(body, changedPropIds=[
            f"{id_key(tick['id'])}.n_intervals"], parsedChangedPropsIds=[tick["id"]])
        src = "layout" if every else ("measured" if meas else "")
        interval = every / 1000 if every else meas
        if interval and interval >= MIN_CADENCE_S:
            streams.append(Req(f"cb {name}", "callback", "POST", first["url"], first["frame"], tmpl,
                               interval, src, meas, len(calls), (rec["seconds"] - first["t"]) / interval))
    for (_frame, key), calls in gets.items():
        meas = measured([c["t"] for c in calls])
        if meas and meas >= MIN_CADENCE_S:
            streams.append(Req(key, "poll", calls[0]["method"], calls[0]["url"], calls[0]["frame"], None, meas,
                               "measured", meas, len(calls)))
        else:
            per_frame[calls[0]["frame"]]["once"].append(Req(key, "page", calls[0]["method"], calls[0]["url"],
                                                            calls[0]["frame"], count=1))
    lp = None
    if longpoll:
        url = longpoll[0]["url"]
        params = dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))
        try:
            wait = float(params["wait"])
        except ValueError:
            wait = None
        # answered at once the first time, then held up to ``wait`` s while the wall's mode stays the same
        lp = Req("GET " + urlsplit(url).path + "?" + "&".join(sorted(params)) + " (long poll)", "longpoll", "GET",
                 url, longpoll[0]["frame"], interval_s=wait, interval_from="wait", count=len(longpoll))
    startup: list[list[Req]] = []
    for frame in frames:
        f = per_frame[frame]
        for wave in (f["nav"], f["config"], *[[r] for r in f["once"]], f["first"]):
            if wave:
                startup.append(wave)
    cb_headers = sorted({h for r in rows if urlsplit(r["url"]).path == CALLBACK for h in r["headers"]})
    return Mix(startup, streams, lp, static=static, seconds=rec["seconds"], initial_state=initial_state,
               callback_headers=cb_headers, cookies=rec.get("cookies") or [])


# --------------------------------------------------------------------------------------------------- replay

class Stats:
    """Every request's outcome: (done at, kind, latency s, error or None); in-flight callbacks by token."""

    def __init__(self) -> None:
        self.rows: list[tuple[float, str, float, str | None]] = []
        self.inflight: dict[int, tuple[str, float]] = {}
        self.retries = 0
        self.missed: list[float] = []
        self._n = 0

    def begin(self, kind: str, scheduled: float) -> int:
        self._n += 1
        self.inflight[self._n] = (kind, scheduled)
        return self._n

    def end(self, token: int, done: float, err: str | None) -> None:
        kind, scheduled = self.inflight.pop(token)
        self.rows.append((done, kind, done - scheduled, err))

    def drop(self, token: int) -> None:
        self.inflight.pop(token, None)

    def window(self, t0: float, t1: float) -> dict[str, Any]:
        rows = [r for r in self.rows if t0 <= r[0] < t1]
        cb = [r for r in rows if r[1] == "callback"]
        lat = [r[2] for r in cb] + [t1 - s for k, s in self.inflight.values() if k == "callback" and s < t1]
        errs = Counter(f"{r[1]}: {r[3]}" for r in rows if r[3])
        ok = sum(1 for r in cb if r[3] is None)
        return {"seconds": round(t1 - t0, 2), "callbacks_ok": ok, "cb_per_s": round(ok / (t1 - t0), 1),
                "requests": len(rows), "p50_ms": _ms(pct(lat, 0.50)), "p95_ms": _ms(pct(lat, 0.95)),
                "max_ms": _ms(max(lat) if lat else None), "errors": sum(errs.values()), "error_kinds": dict(errs),
                "missed_ticks": sum(1 for t in self.missed if t0 <= t < t1),
                "unanswered_at_end": sum(1 for k, s in self.inflight.values() if k == "callback" and s < t1)}


def _ms(v: float | None) -> float | None:
    return None if v is None else round(v * 1000, 1)


def merged_have(have: Any, patch: Any) -> Any:
    """What assets/twinboard.js keeps in ``tb-have`` after merging ``patch`` (its mergePatch, hashes only)."""
    if not isinstance(patch, dict) or "order" not in patch:
        return have
    if patch.get("full"):
        have = {"props": None, "layers": {}}
    elif not isinstance(have, dict):
        return None
    held = have.get("layers") or {}
    hashes = {}
    for lid in patch["order"]:
        delta = (patch.get("deltas") or {}).get(lid)
        if lid in (patch.get("layers") or {}):
            pass
        elif delta:
            if held.get(lid) != delta.get("base"):
                return None
        elif lid not in held:
            return None
        hashes[lid] = (patch.get("hashes") or {}).get(lid) or held.get(lid)
    return {"props": patch.get("props_hash"), "layers": hashes}


class Wall:
    """One simulated wall screen: a cookie session, 6 connections, its pages' callbacks at their cadence."""

    def __init__(self, n: int, base: str, mix: Mix, stats: Stats) -> None:
        import httpx
        self.httpx = httpx
        self.n, self.base, self.mix, self.stats = n, base, mix, stats
        self.client = httpx.AsyncClient(
            base_url=base, headers={"User-Agent": "twinboard-bench-wall"}, timeout=CALLBACK_TIMEOUT_S,
            limits=httpx.Limits(max_connections=CONNECTIONS_PER_WALL, max_keepalive_connections=CONNECTIONS_PER_WALL))
        self.state = dict(mix.initial_state)
        self.ticks: Counter = Counter()
        self.tasks: list[asyncio.Task] = []
        self.ready = asyncio.Event()
        # the fleet cancels a wall when its window is over; this bounds every loop of it all the same
        self.deadline = asyncio.get_running_loop().time() + WALL_LIMIT_S

    # -- one request
    async def send(self, req: Req, scheduled: float | None = None, body: dict[str, Any] | None = None,
                   url: str | None = None, timeout: float | None = None) -> Any:
        loop = asyncio.get_running_loop()
        token = self.stats.begin(req.kind, scheduled if scheduled is not None else loop.time())
        headers = {"Referer": self.base + req.frame} if req.frame else {}
        content = None
        if body is not None:
            content = json.dumps(body).encode()
            headers.update({"Content-Type": "application/json", "Accept": "application/json",
                            "X-CSRFToken": self._cookie("_csrf_token")})
        err: str | None = None
        resp = None
        try:
            for attempt in (0, 1):
                try:
                    resp = await self.client.request(req.method, url or req.url, content=content, headers=headers,
                                                     timeout=timeout or CALLBACK_TIMEOUT_S)
                    break
                except (self.httpx.RemoteProtocolError, self.httpx.ReadError):
                    # a kept-alive connection the server closed (or reset) as the request went out, before any
                    # answer: browsers send such a request again once; counted apart, an error the second time
                    if attempt:
                        raise
                    self.stats.retries += 1
            assert resp is not None
            if not 200 <= resp.status_code < 300:
                err = f"HTTP {resp.status_code}"
        except asyncio.CancelledError:
            self.stats.drop(token)
            raise
        except self.httpx.TimeoutException:
            err = "timeout"
        except self.httpx.HTTPError as exc:
            err = type(exc).__name__
        self.stats.end(token, loop.time(), err)
        return None if err else resp

    def _cookie(self, name: str) -> str:
        for c in self.client.cookies.jar:
            if c.name == name:
                return c.value or ""
        return ""

    # -- Dash callbacks
    def callback_body(self, req: Req) -> dict[str, Any]:
        tmpl = req.body or {}
        body = dict(tmpl)
        inputs = []
        for i in tmpl.get("inputs") or []:
            if i.get("property") == "n_intervals":
                i = {**i, "value": self.ticks[req.key]}
            inputs.append(i)
        body["inputs"] = inputs
        state = []
        for s in tmpl.get("state") or []:
            v = self.state.get((req.frame, id_key(s["id"]), s["property"]))
            s = {k: x for k, x in s.items() if k != "value"}
            if v is not None:
                s["value"] = v
            state.append(s)
        if state:
            body["state"] = state
        return body

    def absorb(self, req: Req, resp: Any) -> None:
        """Keep what the page would: outputs that later calls send as state, and the deck scene's hashes."""
        if resp is None or resp.status_code == 204 or not resp.content:
            return
        try:
            doc = resp.json()
        except ValueError:
            return
        for part in ("response", "sideUpdate"):
            for cid, props in (doc.get(part) or {}).items():
                if not isinstance(props, dict):
                    continue
                for prop, value in props.items():
                    self.state[(req.frame, cid, prop)] = value
                    if prop == "data" and cid.startswith("{") and '"tb-deck"' in cid:
                        have_id = id_key({**json.loads(cid), "type": "tb-have"})
                        key = (req.frame, have_id, "data")
                        self.state[key] = merged_have(self.state.get(key), value)

    async def call(self, req: Req, scheduled: float | None = None) -> Any:
        if req.kind == "callback":
            resp = await self.send(req, scheduled, body=self.callback_body(req))
            self.absorb(req, resp)
            return resp
        return await self.send(req, scheduled)

    # -- the page's life
    async def startup(self) -> None:
        for wave in self.mix.startup:
            await asyncio.gather(*(self.call(r) for r in wave))
        self.ready.set()

    async def stream(self, req: Req, t0: float) -> None:
        loop = asyncio.get_running_loop()
        due = t0 + req.interval_s
        while due < self.deadline:
            now = loop.time()
            late = 0
            if now < due:
                await asyncio.sleep(due - now)
            else:
                late = int((now - due) // req.interval_s)
                if late:  # the browser's timer fired meanwhile; this request serves the newest tick
                    self.stats.missed.extend([now] * late)
                    due += late * req.interval_s
            self.ticks[req.key] += 1 + late
            await self.call(req, scheduled=due)
            due += req.interval_s

    async def longpoll(self) -> None:
        req = self.mix.longpoll
        if req is None:
            return
        parts = urlsplit(req.url)
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        since = ""
        while asyncio.get_running_loop().time() < self.deadline:
            resp = await self.send(req, url=parts.path + "?" + urlencode({**params, "since": since}),
                                   timeout=LONGPOLL_TIMEOUT_S)
            if resp is None:
                await asyncio.sleep(2.0)         # as the page does when the server is away
                continue
            try:
                st = resp.json()
                since = "" if st.get("since") is None else str(st["since"])
            except ValueError:
                pass
            await asyncio.sleep(0.05)

    async def live(self, delay: float) -> None:
        """Load the pages, then keep every stream going until cancelled."""
        await asyncio.sleep(delay)
        await self.startup()
        t0 = asyncio.get_running_loop().time()
        await asyncio.gather(self.longpoll(), *(self.stream(s, t0) for s in self.mix.streams))

    async def flat_out(self) -> None:
        """Saturation: the same mix in the same proportions, each request as soon as the last one answered."""
        await self.startup()
        lp = asyncio.ensure_future(self.longpoll())
        try:
            # each client at its own phase of the schedule, so that the clients together send the mix evenly
            heap = [(random.uniform(0, s.interval_s), i) for i, s in enumerate(self.mix.streams)]
            heapq.heapify(heap)
            while heap and asyncio.get_running_loop().time() < self.deadline:
                due, i = heapq.heappop(heap)
                s = self.mix.streams[i]
                self.ticks[s.key] += 1
                await self.call(s)
                heapq.heappush(heap, (due + s.interval_s, i))
        finally:
            lp.cancel()

    def start(self, coro: Any) -> None:
        self.tasks.append(asyncio.ensure_future(coro))

    async def stop(self) -> None:
        for t in self.tasks:
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.client.aclose()


class Fleet:
    """The walls against one target, grown and shrunk between measurement windows."""

    def __init__(self, target: Target, mix: Mix) -> None:
        self.target, self.mix, self.stats = target, mix, Stats()
        self.walls: list[Wall] = []
        self.made = 0

    def _new(self) -> Wall:
        self.made += 1
        return Wall(self.made, self.target.url, self.mix, self.stats)

    async def resize(self, n: int, stagger: float) -> None:
        while len(self.walls) > n:
            await self.walls.pop().stop()
        add = n - len(self.walls)
        for i in range(add):
            w = self._new()
            w.start(w.live(random.uniform(0, stagger) if add > 1 else 0.0))
            self.walls.append(w)

    async def stop(self) -> None:
        await asyncio.gather(*(w.stop() for w in self.walls), return_exceptions=True)
        self.walls = []

    async def measure(self, seconds: float) -> dict[str, Any]:
        meter = CpuMeter(self.target)
        loop = asyncio.get_running_loop()
        meter.start()
        t0 = loop.time()
        await asyncio.sleep(seconds)
        t1 = loop.time()
        return {**self.stats.window(t0, t1), **meter.stop()}

    async def saturate(self, clients: int, warm: float, seconds: float, windows: int,
                       quiet_limit: float) -> dict[str, Any]:
        """``clients`` flat out; the window of median throughput of ``windows`` windows (a burst of another
        program's work on this shared machine moves one window, not the figure)."""
        walls = [self._new() for _ in range(clients)]
        try:
            for w in walls:
                w.start(w.flat_out())
            # the clients load their pages while the worker's sources start; the window opens when both are done
            await asyncio.wait_for(asyncio.gather(*(w.ready.wait() for w in walls),
                                                  quiet(self.target, "worker", quiet_limit)), timeout=90)
            await asyncio.sleep(warm)
            rs = [await self.measure(seconds) for _ in range(windows)]
            mid = sorted(rs, key=lambda r: r["cb_per_s"])[len(rs) // 2]
            return {**mid, "windows_cb_per_s": [r["cb_per_s"] for r in rs],
                    "windows_other_cpu": [r["other_cpu_pct"] for r in rs]}
        finally:
            await asyncio.gather(*(w.stop() for w in walls), return_exceptions=True)

    async def drain(self, limit: float = 5.0) -> None:
        """Until the server answers a readiness probe quickly again (requests of stopped walls are served)."""
        import httpx
        loop = asyncio.get_running_loop()
        end = loop.time() + limit
        async with httpx.AsyncClient(base_url=self.target.url, timeout=5) as c:
            while loop.time() < end:
                t = loop.time()
                try:
                    await c.get("/api/health")
                    if loop.time() - t < 0.1:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.2)


# ---------------------------------------------------------------------------------------------------- phases

@dataclass
class Plan:
    walls: int
    sat_clients: int
    sat_warm: float
    sat_s: float
    sat_windows: int
    stagger: float
    settle: float
    window: float
    quiet_limit: float
    sweep_steps: int
    max_walls: int


T_START = time.monotonic()


def line(label: str, r: dict[str, Any]) -> str:
    cpu = " ".join(f"{k[:-8]} {v:.0f}%" for k, v in r.items() if k.endswith("_cpu_pct"))
    return (f"[{time.monotonic() - T_START:5.1f} s]   {label:<26} {r['cb_per_s']:6.1f} callbacks/s  "
            f"p50 {r['p50_ms']} ms  p95 {r['p95_ms']} ms  errors {r['errors']}  missed ticks {r['missed_ticks']}  "
            f"| CPU (% of a core): {cpu}  machine {r['machine_busy_pct']:.0f}%")


async def run_saturation(fleet: Fleet, plan: Plan) -> dict[str, Any]:
    r = await fleet.saturate(plan.sat_clients, plan.sat_warm, plan.sat_s, plan.sat_windows, plan.quiet_limit)
    say(line(f"saturation ({plan.sat_clients} flat out)", r) + f"  (median of {r['windows_cb_per_s']} callbacks/s)")
    await fleet.drain()
    return r


async def run_level(fleet: Fleet, plan: Plan, walls: int) -> dict[str, Any]:
    grow = walls > len(fleet.walls)
    await fleet.resize(walls, plan.stagger)
    if grow:
        loop = asyncio.get_running_loop()
        end = loop.time() + plan.stagger + 2.0
        await asyncio.sleep(plan.stagger)
        while loop.time() < end and not all(w.ready.is_set() for w in fleet.walls):
            await asyncio.sleep(0.1)
    else:
        await fleet.drain()
    await asyncio.sleep(plan.settle)
    r = await fleet.measure(plan.window)
    r["walls"] = walls
    say(line(f"{walls} walls", r))
    return r


def passes(r: dict[str, Any]) -> bool:
    return (r["p95_ms"] is not None and r["p95_ms"] <= P95_LIMIT_MS
            and r["errors"] <= MAX_ERROR_SHARE * max(1, r["requests"]))


async def drive(target: Target, mix: Mix, plan: Plan, saturation: bool, sweep: bool, at_walls: bool) -> dict[str, Any]:
    fleet = Fleet(target, mix)
    out: dict[str, Any] = {}
    try:
        if saturation:
            out["saturation"] = await run_saturation(fleet, plan)
        else:
            await quiet(target, "web", plan.quiet_limit)
        levels: list[dict[str, Any]] = []
        if sweep:
            # walls at their cadence, from a bit over half of what the saturation throughput could feed (about
            # where p95 reaches 500 ms on this app): up while p95 holds, down (by a quarter) until it holds
            est = out["saturation"]["cb_per_s"] / mix.callbacks_per_s
            step = max(1, round(est * 0.12))
            n = max(1, min(plan.max_walls, round(est * 0.55)))
            tried: dict[int, bool] = {}
            for i in range(plan.sweep_steps + 3):
                if i >= plan.sweep_steps and any(tried.values()):
                    break          # the extra steps are only for finding a first level that holds
                r = await run_level(fleet, plan, n)
                levels.append(r)
                tried[n] = passes(r)
                nxt = n + step if tried[n] else min(n - 1, round(n * 0.75))
                if nxt < 1 or nxt > plan.max_walls or nxt in tried or (not tried[n] and any(tried.values())):
                    break
                n = nxt
            out["estimate_walls"] = round(est, 1)
        if at_walls:
            at = next((r for r in levels if r["walls"] == plan.walls), None)
            if at is None:
                at = await run_level(fleet, plan, plan.walls)
                levels.append(at)
            out["at_walls"] = at
        out["levels"] = levels
    finally:
        await fleet.stop()
    out["retries"] = fleet.stats.retries
    out["errors_total"] = sum(1 for r in fleet.stats.rows if r[3])
    out["error_kinds_total"] = dict(Counter(f"{r[1]}: {r[3]}" for r in fleet.stats.rows if r[3]))
    out["requests_total"] = len(fleet.stats.rows)
    return out


# ------------------------------------------------------------------------------------------------------ main

def describe_mix(mix: Mix, cached: bool) -> None:
    say(f"request mix of one wall ({PAGE}, recorded {mix.seconds:.0f} s in Chromium{', cached' if cached else ''}):")
    for s in mix.streams:
        meas = f", measured {s.measured_s:.2f} s" if s.measured_s else ""
        src = {"layout": "its dcc.Interval in the page", "measured": "measured"}.get(s.interval_from, s.interval_from)
        say(f"  {60 / s.interval_s:6.1f}/min  {s.key}  (every {s.interval_s:g} s: {src}{meas}; "
            f"{s.count} in the recording)")
    if mix.longpoll is not None:
        say(f"  {60 / mix.longpoll.interval_s if mix.longpoll.interval_s else 0:6.1f}/min  {mix.longpoll.key}  "
            f"(held up to its wait; {mix.longpoll.count} in the recording)")
    once = [r for wave in mix.startup for r in wave]
    paths = Counter(f"{r.method} {urlsplit(r.url).path}" for r in once)
    say(f"  once per page load: {len(once)} requests: " + ", ".join(f"{n}× {p}" for p, n in paths.items()))
    say(f"  static files, not replayed (a browser caches them): {sum(mix.static.values())} requests "
        f"({len(mix.static)} paths)")
    say(f"  callbacks carry the headers {', '.join(mix.callback_headers)} (x-csrftoken: the _csrf_token cookie, "
        f"as Dash's renderer sends it) and the cookies {', '.join(mix.cookies)}")
    say(f"  = {mix.callbacks_per_s * 60:.0f} callbacks per minute per wall")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a smoke run (tests): few walls, short windows")
    ap.add_argument("--walls", type=int, default=None, help="walls for p95_ms and devserver_p95_ms (default 50)")
    ap.add_argument("--threads", type=int, default=128,
                    help="threads per gunicorn process (default 128: each wall holds one for its long poll)")
    ap.add_argument("--rerecord", action="store_true", help="record the mix in Chromium even if a recording is cached")
    ap.add_argument("--seed", type=int, default=13)
    a = ap.parse_args()
    random.seed(a.seed)
    t_start = T_START
    cores = os.cpu_count() or 1
    if a.quick:
        plan = Plan(walls=a.walls or 4, sat_clients=4, sat_warm=0.5, sat_s=1.5, sat_windows=1, stagger=0.5,
                    settle=0.5, window=1.5, quiet_limit=2.0, sweep_steps=1, max_walls=8)
        rec_s = 12.0
    else:
        plan = Plan(walls=a.walls or 50, sat_clients=16, sat_warm=0.5, sat_s=3.0, sat_windows=3, stagger=1.0,
                    settle=0.5, window=4.0, quiet_limit=12.0, sweep_steps=2, max_walls=200)
        rec_s = 20.0
    load = os.getloadavg()
    say(f"bench/serve.py: {cores} cores, load average {load[0]:.2f}; gunicorn gthread, {a.threads} threads per "
        f"process; walls: {CONNECTIONS_PER_WALL} connections each, callbacks time out after {CALLBACK_TIMEOUT_S:g} s")
    targets = [Target("gunicorn1", "gunicorn, 1 web process + worker", 1, a.threads),
               Target("gunicorn2", "gunicorn, 2 web processes + worker", 2, a.threads),
               Target("devserver", "development server (--debug)", 1, a.threads, debug=True)]
    results: dict[str, dict[str, Any]] = {}
    stoppers: list[threading.Thread] = []

    def _term(*_a: Any) -> None:
        raise SystemExit(143)
    signal.signal(signal.SIGTERM, _term)
    cached = False
    try:
        for i, t in enumerate(targets):
            say(f"[{time.monotonic() - t_start:5.1f} s] {t.label}: starting")
            t.start()   # while the previous target stops
            for s in stoppers:
                s.join()
            say(f"[{time.monotonic() - t_start:5.1f} s] {t.label}: up in {t.started_s:.1f} s at {t.url}")
            if i == 0:
                rec = None if a.rerecord else load_recording(rec_s)
                cached = rec is not None
                for attempt in range(1 if rec is not None or a.quick else 2):
                    if rec is None or attempt:
                        say(f"recording {PAGE} in Chromium for {rec_s:.0f} s …")
                        rec = record(t.url, rec_s)
                    mix = derive_mix(rec)
                    if mix.starved <= STARVED:
                        break
                    say(f"  Chromium was short of CPU while recording (a panel sent 1 of every {mix.starved:.1f} "
                        "requests its timer asked for; another program is busy)")
                if not cached and mix.starved <= STARVED:
                    RECORDING.parent.mkdir(parents=True, exist_ok=True)
                    RECORDING.write_text(json.dumps(rec, ensure_ascii=False), encoding="utf-8")
                elif not cached:
                    say("  warning: the polls' cadence measured from this recording is uncertain; it is not cached")
                bad = [r for r in rec["requests"] if r["status"] is not None and r["status"] >= 400]
                if bad:
                    say(f"  the recording saw {len(bad)} failed requests: {[(r['url'], r['status']) for r in bad][:5]}")
                describe_mix(mix, cached)
                if not mix.streams:
                    raise RuntimeError("the recording has no repeating requests: is the wall page broken?")
            results[t.name] = asyncio.run(drive(t, mix, plan, saturation=not t.debug, sweep=t.name == "gunicorn2",
                                                at_walls=t.name != "gunicorn1"))
            stopper = threading.Thread(target=t.stop)
            stopper.start()
            stoppers.append(stopper)
    finally:
        for s in stoppers:
            s.join()
        for t in targets:
            t.stop()
    g1, g2, dev = results["gunicorn1"], results["gunicorn2"], results["devserver"]
    x1, x2 = g1["saturation"]["cb_per_s"], g2["saturation"]["cb_per_s"]
    passing = [r["walls"] for r in g2["levels"] if passes(r)]
    failing = [r["walls"] for r in g2["levels"] if not passes(r) and r["walls"] > max(passing, default=0)]
    best = max(passing) if passing else 0
    phases = {f"{k} saturation": r["saturation"] for k, r in (("1proc", g1), ("2proc", g2))}
    phases.update({f"2proc {r['walls']} walls": r for r in g2["levels"]})
    phases["devserver"] = dev["at_walls"]
    # another program's CPU (a test run, a build) during a window: its figures are low by about that share
    disturbed = {k: r["other_cpu_pct"] for k, r in phases.items() if r.get("other_cpu_pct", 0) > 20}
    sat2 = g2["saturation"]
    errors = sum(r["errors_total"] for r in results.values())
    out = {
        "serve_scaling": round(x2 / x1, 2) if x1 else None,
        "walls_per_core": round(best / cores, 2),
        "p95_ms": g2["at_walls"]["p95_ms"],
        "devserver_p95_ms": dev["at_walls"]["p95_ms"],
        "cores": cores, "threads_per_process": a.threads, "quick": a.quick, "walls": plan.walls,
        "throughput_1proc_cb_per_s": x1, "throughput_2proc_cb_per_s": x2,
        "saturation_windows_cb_per_s": {"1proc": g1["saturation"]["windows_cb_per_s"],
                                        "2proc": g2["saturation"]["windows_cb_per_s"]},
        "walls_p95_le_500ms_2proc": best,
        "walls_first_failing_2proc": min(failing) if failing else None,   # None: best is only a lower bound
        "walls_tried_2proc": {r["walls"]: r["p95_ms"] for r in g2["levels"]},
        "cb_per_s_at_walls": {"2proc": g2["at_walls"]["cb_per_s"], "devserver": dev["at_walls"]["cb_per_s"]},
        "errors_at_walls": {"2proc": g2["at_walls"]["errors"], "devserver": dev["at_walls"]["errors"]},
        "p50_ms_at_walls": {"2proc": g2["at_walls"]["p50_ms"], "devserver": dev["at_walls"]["p50_ms"]},
        "cpu_pct_at_walls": {"2proc": {k: v for k, v in g2["at_walls"].items() if k.endswith("_pct")},
                             "devserver": {k: v for k, v in dev["at_walls"].items() if k.endswith("_pct")}},
        "cb_per_web_cpu_s_saturation": {k: round(100 * r["saturation"]["cb_per_s"] / r["saturation"]["web_cpu_pct"], 1)
                                        for k, r in (("1proc", g1), ("2proc", g2))
                                        if r["saturation"].get("web_cpu_pct")},
        "errors": errors,
        "errors_by_target": {k: v["error_kinds_total"] for k, v in results.items()},
        "requests": sum(r["requests_total"] for r in results.values()),
        "retried_keepalive_races": sum(r["retries"] for r in results.values()),
        "saturation_cpu_pct_of_a_core": {
            "1proc": {k: v for k, v in g1["saturation"].items() if k.endswith("_pct")},
            "2proc": {k: v for k, v in sat2.items() if k.endswith("_pct")}},
        "loadgen_cpu_share_2proc_saturation": round(sat2["loadgen_cpu_pct"] / (100 * cores), 3),
        "callbacks_per_min_per_wall": round(mix.callbacks_per_s * 60),
        "mix_per_min_per_wall": mix.per_minute(),
        "recording_s": mix.seconds, "recording_cached": cached,
        "recording_starved_ratio": round(mix.starved, 2),
        "load_average_start": round(load[0], 2),
        "other_programs_cpu_pct_where_over_20": disturbed,
        "seconds": round(time.monotonic() - t_start, 1),
    }
    say(f"serve_scaling {out['serve_scaling']} ({x2} ÷ {x1} callbacks/s); walls_per_core {out['walls_per_core']} "
        f"({best} walls with p95 ≤ {P95_LIMIT_MS:.0f} ms); p95 at {plan.walls} walls: "
        f"2 processes {out['p95_ms']} ms, "
        f"dev server {out['devserver_p95_ms']} ms; errors {errors}")
    if disturbed:
        say(f"other programs used CPU during {', '.join(f'{k} ({v:.0f}% of a core)' for k, v in disturbed.items())}: "
            "those figures are low by about that share")
    print(json.dumps(out, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
