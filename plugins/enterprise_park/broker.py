"""A private mosquitto on loopback: for ``demo_broker: true``, the tests and the benchmark.

Never the system service: a temp folder holds its config (``listener <port> 127.0.0.1``,
anonymous access, optional persistence) and its log; ``stop()`` terminates it and removes
the folder unless asked to keep it (a restart on the same port and folder keeps sessions).
"""

from __future__ import annotations

import atexit
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

DEFAULT_MOSQUITTO = "/usr/sbin/mosquitto"


class BrokerError(RuntimeError):
    """mosquitto is missing or would not start."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def find_mosquitto(path: str = DEFAULT_MOSQUITTO) -> str:
    """The mosquitto executable, or BrokerError saying how to get one."""
    found = path if os.path.isfile(path) and os.access(path, os.X_OK) else shutil.which("mosquitto")
    if not found:
        raise BrokerError(f"mosquitto not found (looked for {path} and on PATH): install the Debian package "
                          "'mosquitto', or set demo_broker: false and broker_host/broker_port to your MQTT broker")
    return found


class Mosquitto:
    """One private broker process on 127.0.0.1."""

    def __init__(self, port: int = 0, *, persistence: bool = True, executable: str = DEFAULT_MOSQUITTO,
                 workdir: Path | None = None, watch_parent: bool = False) -> None:
        self.executable = find_mosquitto(executable)
        self.port = port or free_port()
        self.persistence = persistence
        self._own_dir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="tb-mosquitto-"))
        self.proc: subprocess.Popen[bytes] | None = None
        #: run mosquitto under a tiny shell that stops it when this process dies without cleaning up
        #: (SIGKILL, SIGTERM without atexit): a demo broker never outlives the host that started it
        self.watch_parent = watch_parent

    @property
    def conf(self) -> Path:
        return self.workdir / "mosquitto.conf"

    def start(self, timeout: float = 10.0) -> Mosquitto:
        # as root, mosquitto would switch to user "mosquitto", which cannot write to our temp folder
        lines = [f"user {pwd.getpwuid(os.getuid()).pw_name}", f"listener {self.port} 127.0.0.1", "allow_anonymous true",
                 "max_queued_messages 0", "max_inflight_messages 0", "set_tcp_nodelay true", "message_size_limit 262144",
                 f"log_dest file {self.workdir / 'mosquitto.log'}", "log_type error", "log_type warning"]
        if self.persistence:
            lines += ["persistence true", f"persistence_location {self.workdir}/", "autosave_interval 60"]
        self.conf.write_text("\n".join(lines) + "\n", encoding="utf-8")
        cmd = [self.executable, "-c", str(self.conf)]
        if self.watch_parent:
            cleanup = f'; rm -rf "{self.workdir}"' if self._own_dir else ""
            cmd = ["/bin/sh", "-c", '"$0" -c "$1" & m=$!; while kill -0 "$2" 2>/dev/null && kill -0 $m 2>/dev/null; '
                   'do sleep 1; done; kill $m 2>/dev/null; wait $m' + cleanup,
                   self.executable, str(self.conf), str(os.getpid())]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     start_new_session=True)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                err = (self.proc.stderr.read() if self.proc.stderr else b"").decode(errors="replace").strip()
                raise BrokerError(f"mosquitto exited with code {self.proc.returncode} on port {self.port}: {err}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise BrokerError(f"mosquitto did not listen on 127.0.0.1:{self.port} within {timeout:.0f}s")

    def stop(self, *, keep_dir: bool = False) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            try:                           # SIGTERM to its own process group (mosquitto and any watcher):
                os.killpg(proc.pid, signal.SIGTERM)   # mosquitto saves its persistence file and exits
            except ProcessLookupError:
                pass
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        if proc is not None and proc.stderr:
            proc.stderr.close()
        if not keep_dir and self._own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def restart(self) -> None:
        """Stop and start again on the same port and folder (persisted sessions survive)."""
        self.stop(keep_dir=True)
        self.start()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


_demo: Mosquitto | None = None
_demo_lock = threading.Lock()


def ensure_demo_broker(port: int = 0, executable: str = DEFAULT_MOSQUITTO) -> int:
    """Start (once per process) the demo broker; returns its port. BrokerError when mosquitto is missing."""
    global _demo
    with _demo_lock:
        if _demo is None or not _demo.running:
            old = _demo
            _demo = Mosquitto(port or (old.port if old else 0), executable=executable,
                              workdir=old.workdir if old else None, watch_parent=True)
            _demo._own_dir = True
            _demo.start()
        return _demo.port


def demo_broker_port() -> int | None:
    with _demo_lock:
        return _demo.port if _demo is not None and _demo.running else None


def stop_demo_broker() -> None:
    global _demo
    with _demo_lock:
        if _demo is not None:
            _demo.stop()
        _demo = None


atexit.register(stop_demo_broker)
