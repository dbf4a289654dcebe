"""Shared fixtures: a served twinboard in a subprocess, and a real headless Chromium."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections import deque
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from core.web.serve import free_port

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROME_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run"]


def wait_health(url: str, proc: subprocess.Popen, timeout: float = 60) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}: {proc.stdout.read() if proc.stdout else ''}")
        try:
            with urllib.request.urlopen(url + "/api/health", timeout=2) as resp:
                return json.loads(resp.read())
        except OSError:
            time.sleep(0.3)
    raise TimeoutError("server did not answer /api/health")


def write_config(tmp: Path, **extra: object) -> Path:
    """A settings file using the repo's plugins and dashboards but a private database."""
    cfg = {"root": str(ROOT), "database_url": f"sqlite:///{tmp / 'twin.sqlite'}", "var_dir": str(tmp / "var"),
           "public_screens": True, "plugin_allowlist": ["demo_sensors", "alerts"], **extra}
    path = tmp / "settings.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    return path


class Server:
    def __init__(self, url: str, proc: subprocess.Popen, config: Path) -> None:
        self.url, self.proc, self.config = url, proc, config
        # Read the server's log as it comes: a full pipe would block the server (a browser makes it log
        # every request, and the pipe holds 64 KiB: about two minutes of a busy screen).
        self.log_tail: deque[str] = deque(maxlen=400)
        if proc.stdout is not None:
            threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        for line in self.proc.stdout:  # type: ignore[union-attr]
            self.log_tail.append(line)

    def health(self) -> dict:
        with urllib.request.urlopen(self.url + "/api/health", timeout=5) as resp:
            return json.loads(resp.read())

    def stop(self, grace_s: float = 30) -> None:
        """SIGTERM, and SIGKILL if the server has not stopped within ``grace_s``."""
        self.proc.terminate()
        try:
            self.proc.wait(grace_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


def start_server(tmp: Path, env: dict | None = None, port: int | None = None, **extra: object) -> Server:
    port = port or free_port()
    config = write_config(tmp, **extra)
    proc = subprocess.Popen([sys.executable, str(ROOT / "run.py"), "--config", str(config), "--port", str(port)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, **(env or {})})
    url = f"http://127.0.0.1:{port}"
    wait_health(url, proc)
    return Server(url, proc, config)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Server]:
    """The demo twin served by ``run.py`` on a free port with a private database."""
    server = start_server(tmp_path)
    yield server
    server.proc.terminate()
    server.proc.wait(10)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[object]:
    """One private PostgreSQL cluster for the whole run (Debian's postgresql, loopback only)."""
    from pgcluster import PgCluster
    cluster = PgCluster()
    cluster.start()
    yield cluster
    cluster.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path):
    """The same store code on SQLite and on a real PostgreSQL server."""
    from core.data.store import open_store
    if request.param == "sqlite":
        yield open_store(f"sqlite:///{tmp_path / 'store.sqlite'}")
        return
    store = open_store(request.getfixturevalue("pg_cluster").new_database())
    yield store
    store.engine.dispose()


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    """Debian's Chromium driven by Playwright (no browser download)."""
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed: run `make test` (it installs Debian's chromium)")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROME_ARGS)
        yield browser
        browser.close()


@pytest.fixture(autouse=True)
def _own_false_sources(tmp_path: Path, monkeypatch) -> None:
    """Each test learns forest_fire's reviewed false alarms into its own file, never the checkout's var/."""
    monkeypatch.setenv("TWINBOARD_FALSE_SOURCES", str(tmp_path / "false_sources.json"))
