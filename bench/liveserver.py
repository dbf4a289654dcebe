"""What the browser benchmarks share: Chromium's flags and a twinboard server (run.py) on a free port."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from core.web.serve import free_port

ROOT = Path(__file__).resolve().parent.parent
#: Debian's Chromium, headless and quiet: nothing leaves the machine.
CHROME_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run"]


def serve(config: dict[str, Any], path: Path) -> tuple[subprocess.Popen, str]:
    """Write ``config`` to ``path``, start run.py with it and wait for /api/health; (process, base URL)."""
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(ROOT / "run.py"), "--config", str(path), "--port", str(port)],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            urllib.request.urlopen(url + "/api/health", timeout=2)
            return proc, url
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit("server did not start")


class Group:
    """Child processes each in their own session (process group), logging to files; ``stop()`` ends the
    groups (SIGTERM, then SIGKILL) and anything they started that outlived them."""

    def __init__(self, log_dir: Path, env: dict[str, str] | None = None) -> None:
        import os
        self.log_dir, self.env = log_dir, {**os.environ, **(env or {})}
        self.procs: dict[str, subprocess.Popen] = {}
        log_dir.mkdir(parents=True, exist_ok=True)

    def spawn(self, name: str, argv: list[str]) -> subprocess.Popen:
        with open(self.log_dir / f"{name}.log", "ab") as log:
            proc = subprocess.Popen(argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        self.procs[name] = proc
        return proc

    def log(self, name: str, tail: int = 3000) -> str:
        path = self.log_dir / f"{name}.log"
        return path.read_text(encoding="utf-8", errors="replace")[-tail:] if path.exists() else ""

    def wait_for_log(self, name: str, text: str, timeout: float = 90) -> None:
        """Until ``text`` is in the log of ``name``; RuntimeError with the log's tail otherwise."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log(name, 200_000):
                return
            if self.procs[name].poll() is not None:
                raise RuntimeError(f"{name} exited with {self.procs[name].returncode}:\n{self.log(name)}")
            time.sleep(0.2)
        raise RuntimeError(f"{name}: {text!r} not logged within {timeout} s:\n{self.log(name)}")

    def wait_health(self, name: str, url: str, processes: int = 1, timeout: float = 90) -> None:
        """Until ``processes`` distinct server processes have answered ``url``/api/health."""
        import json
        seen: set[Any] = set()
        deadline = time.monotonic() + timeout
        while len(seen) < processes:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name}: {processes} processes did not answer within {timeout} s:\n"
                                   f"{self.log(name)}")
            if self.procs[name].poll() is not None:
                raise RuntimeError(f"{name} exited with {self.procs[name].returncode}:\n{self.log(name)}")
            try:
                with urllib.request.urlopen(url + "/api/health", timeout=3) as resp:
                    seen.add(json.loads(resp.read()).get("process", "one"))
            except (OSError, ValueError):
                time.sleep(0.3)

    def trees(self) -> dict[str, list[Any]]:
        """Each child's process tree as psutil processes (its own first), for CPU accounting and stop()."""
        import psutil
        out: dict[str, list[Any]] = {}
        for name, proc in self.procs.items():
            try:
                p = psutil.Process(proc.pid)
                out[name] = [p] + p.children(recursive=True)
            except psutil.NoSuchProcess:
                out[name] = []
        return out

    def stop(self, timeout: float = 12.0) -> None:
        import os
        import signal

        import psutil
        trees = [p for ps in self.trees().values() for p in ps]
        for proc in reversed(list(self.procs.values())):
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + timeout
        for proc in self.procs.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for proc in self.procs.values():
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(5)
        # what the children started in sessions of their own (a broker, a helper) gets a moment to follow them;
        # is_running() also checks the start time, so a reused pid is never hit
        _gone, alive = psutil.wait_procs([p for p in trees if p.is_running()], timeout=2)
        for p in alive:
            try:
                if p.is_running():
                    p.kill()
            except psutil.NoSuchProcess:
                pass
