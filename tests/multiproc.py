"""The multi-process topology for tests: real gunicorn web processes and `twinboard worker` processes
on one private database, with a test plugin whose source resumes from the store and raises alerts.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from pathlib import Path
from typing import Any

import yaml

from core.web.serve import free_port

ROOT = Path(__file__).resolve().parent.parent
REDIS = shutil.which("redis-server") or ("/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None)

PULSE_TOML = """\
name = "pulse"
version = "0.1.0"
api_version = ">=1.0,<2"
description = "Test plugin: a counter source that resumes from the store, an alert on a trigger file, a label panel."
panels = ["pulse.label"]

[title]
zh = "脉冲"
en = "Pulse"
"""

PULSE_INIT = '''\
"""pulse: the multi-process tests' plugin."""

import time
from pathlib import Path

from dash import html
from pydantic import BaseModel

from core.api import Entity, PanelSpec, Reading, Severity, SourceSpec, ThresholdRule, hookimpl


class PulseSettings(BaseModel):
    label: str = "初始标签"
    trigger_file: str = ""


@hookimpl
def register_settings_model():
    return PulseSettings


@hookimpl
def on_startup(store, role):
    if role != "web":
        store.upsert([Entity(id="pulse.station", kind="pulse_station", name="脉冲站", plugin="pulse",
                             geometry={"type": "Point", "coordinates": [121.44, 28.67]})])


def _counter(ctx):
    """One reading per wall-clock second; on start it resumes after the newest stored second, so the
    worker that takes over fills in what the one that died did not write."""
    while not ctx.stopping.is_set():
        now = int(time.time())
        newest = ctx.store.series("pulse.meter", "count", limit=1)
        start = int(newest[-1][0]) + 1 if newest else now
        start = max(start, now - 300)
        batch = [Reading("pulse.meter", "count", float(t), float(t % 1000)) for t in range(start, now + 1)]
        trigger = ctx.settings.trigger_file
        if trigger and Path(trigger).exists():
            batch.append(Reading("pulse.station", "level", time.time(), 100.0))
        if batch:
            ctx.ingest(batch)
        else:
            ctx.heartbeat()
        ctx.sleep(0.25)


@hookimpl
def register_sources(settings):
    return [SourceSpec("counter", run=_counter)]


@hookimpl
def register_alert_rules():
    return [ThresholdRule("pulse.level_high", "level", {Severity.I: 50.0}, "脉冲站水位超限", "Pulse level high")]


@hookimpl
def register_panels():
    return [PanelSpec("pulse.label", "标签", "Label", lambda ctx: html.Div(ctx.settings.label, className="pulse-label"),
                      sources=("counter",), refresh_s=1)]
'''

DASHBOARD = """\
uid: pulse
title: {zh: 脉冲测试, en: Pulse test}
canvas: {width: 1920, height: 1080}
theme: dark
refresh_s: 1
panels:
  - {key: label, panel: pulse.label, x: 20, y: 104, w: 600, h: 300}
"""

INCIDENT = """\
uid: incident
title: {zh: 突发事件应急处置, en: Incident response}
canvas: {width: 1920, height: 1080}
theme: dark
refresh_s: 2
panels:
  - {key: card, panel: command_center.incident, x: 20, y: 104, w: 600, h: 400}
"""

PLAYLISTS = """\
playlists:
  - uid: leaders
    title: {zh: 领导指挥大屏, en: "Leaders' wall"}
    wall: leaders
    incident_dashboard: incident
    items:
      - {dashboard: pulse, seconds: 600}
"""


def write_topology_config(tmp: Path, database_url: str) -> Path:
    """A settings file: the pulse and command_center plugins, private dashboards, ``database_url``."""
    plugins = tmp / "plugins"
    (plugins / "pulse").mkdir(parents=True)
    (plugins / "pulse" / "plugin.toml").write_text(PULSE_TOML, encoding="utf-8")
    (plugins / "pulse" / "__init__.py").write_text(PULSE_INIT, encoding="utf-8")
    (plugins / "command_center").symlink_to(ROOT / "plugins" / "command_center")
    boards = tmp / "dashboards"
    boards.mkdir()
    (boards / "pulse.yaml").write_text(DASHBOARD, encoding="utf-8")
    (boards / "incident.yaml").write_text(INCIDENT, encoding="utf-8")
    (tmp / "playlists.yaml").write_text(PLAYLISTS, encoding="utf-8")
    cfg = {"root": str(ROOT), "database_url": database_url, "var_dir": str(tmp / "var"), "public_screens": True,
           "plugins_dir": str(plugins), "dashboards_dir": str(boards), "playlists_file": str(tmp / "playlists.yaml"),
           "default_dashboard": "pulse", "entry_points": False,
           "plugins": {"pulse": {"settings": {"trigger_file": str(tmp / "trigger")}},
                       "command_center": {"settings": {"auto_incident_plugins": ["pulse"]}}}}
    path = tmp / "settings.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    return path


class Proc:
    """A child process whose output is kept (the last lines) and searchable."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        self.name = name
        self.proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, start_new_session=True)
        self.lines: deque[str] = deque(maxlen=3000)
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        for line in self.proc.stdout:  # type: ignore[union-attr]
            self.lines.append(line)

    def log(self) -> str:
        return "".join(self.lines)

    def wait_for(self, text: str, timeout: float = 60) -> float:
        """Seconds until ``text`` appears in the output (TimeoutError with the output otherwise)."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            if text in self.log():
                return time.monotonic() - start
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.log()[-4000:]}")
            time.sleep(0.1)
        raise TimeoutError(f"{self.name}: {text!r} not seen within {timeout} s:\n{self.log()[-4000:]}")

    def signal(self, sig: int) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.signal(signal.SIGKILL)
                self.proc.wait(5)


class Topology:
    """Web processes (gunicorn) and workers over one database; ``stop()`` ends them all."""

    def __init__(self, config: Path, env: dict[str, str] | None = None) -> None:
        self.config = config
        self.env = {**os.environ, "TWINBOARD_CONFIG": str(config), **(env or {})}
        self.procs: list[Proc] = []

    def cli(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "core.cli", "--config", str(self.config), *args]

    def web(self, workers: int = 2, threads: int = 8) -> str:
        """Start gunicorn (role web) with ``workers`` processes; its base URL once it answers."""
        port = free_port()
        proc = Proc(f"web:{port}", self.cli("serve", "--role", "web", "--workers", str(workers), "--threads",
                                            str(threads), "--port", str(port)), self.env)
        self.procs.append(proc)
        url = f"http://127.0.0.1:{port}"
        seen: set[str] = set()
        deadline = time.monotonic() + 120
        while len(seen) < workers:  # every web process is up and has loaded its plugins
            if time.monotonic() > deadline:
                raise TimeoutError(f"web processes did not all answer:\n{proc.log()[-4000:]}")
            if proc.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {proc.proc.returncode}:\n{proc.log()[-4000:]}")
            try:
                seen.add(get_json(url + "/api/health", timeout=3)["process"])
            except (OSError, ValueError):
                time.sleep(0.3)
        return url

    def worker(self, ttl_s: float = 6.0) -> Proc:
        proc = Proc(f"worker{len(self.procs)}", self.cli("worker", "--lease-ttl", str(ttl_s)), self.env)
        self.procs.append(proc)
        return proc

    def stop(self) -> None:
        for p in reversed(self.procs):
            p.stop()


def get_json(url: str, timeout: float = 5) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return json.loads(resp.read())


def get_status(url: str, timeout: float = 5) -> tuple[int, Any]:
    """(status, JSON body) also for 4xx/5xx answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def start_redis(tmp: Path, port: int | None = None) -> tuple[subprocess.Popen, int]:
    """A private redis-server on loopback (no persistence); answers PING before returning."""
    import redis
    port = port or free_port()
    proc = subprocess.Popen([REDIS, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(tmp)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis(port=port, socket_connect_timeout=0.5)
    for _ in range(150):
        try:
            client.ping()
            return proc, port
        except redis.ConnectionError:
            time.sleep(0.1)
    proc.kill()
    raise TimeoutError("redis-server did not answer")


def wait_until(cond: Any, timeout: float, what: str, step: float = 0.1) -> float:
    """Seconds until ``cond()`` is truthy; AssertionError naming ``what`` otherwise."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if cond():
            return time.monotonic() - start
        time.sleep(step)
    raise AssertionError(f"{what}: not within {timeout} s")
