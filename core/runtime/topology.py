"""``twinboard up``: the whole multi-process topology on one machine, for demos and tests.

It starts a loopback Redis when the topology needs one and none is configured (events across
processes on SQLite, a task broker for helper processes), then runs under honcho's process manager:

- ``web``: gunicorn with ``--web`` processes, role ``web``;
- ``worker.1`` … ``worker.N``: ``twinboard worker`` (one active, the others standing by);
- ``<kind>.1`` … for each helper process kind a plugin registers (``register_processes``), e.g.
  ``--video 2`` for forest_fire's Celery video workers.

Ctrl-C (or SIGTERM) stops them all; if one of them exits, honcho stops the rest.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from core.errors import ConfigError, TwinboardError


def start_loopback_redis(port: int, log_dir: Path) -> subprocess.Popen:
    """A private redis-server on 127.0.0.1:``port`` (no persistence), answered PING before returning."""
    exe = shutil.which("redis-server") or ("/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None)
    if exe is None:
        raise ConfigError("the topology needs Redis and TWINBOARD_REDIS_URL is not set, but redis-server is not "
                          "installed: install Debian's redis-server (make test does), or set TWINBOARD_REDIS_URL")
    log_dir.mkdir(parents=True, exist_ok=True)
    log = open(log_dir / "redis.log", "ab")  # noqa: SIM115 - lives as long as the server
    proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--daemonize", "no"], stdout=log, stderr=subprocess.STDOUT,
                            # its own session: Ctrl-C reaches the terminal's process group, and Redis must
                            # outlive the processes that flush their last events to it; it is stopped last
                            start_new_session=True)
    import redis
    client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.5)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ConfigError(f"redis-server on 127.0.0.1:{port} exited with {proc.returncode} "
                              f"(see {log_dir / 'redis.log'}); pass --redis-port")
        try:
            client.ping()
            return proc
        except redis.ConnectionError:
            time.sleep(0.1)
    proc.terminate()
    raise ConfigError(f"redis-server on 127.0.0.1:{port} did not answer within 15 s")


def plan(args: argparse.Namespace, settings: Any, env: dict[str, str]) -> tuple[list[tuple[str, str]], bool, bool]:
    """([(name, shell command)], needs Redis for events, needs a task broker) for ``twinboard up``."""
    kinds: dict[str, Any] = getattr(args, "process_kinds", {}) or {}
    counts = {k: int(getattr(args, f"proc_{k}", 0) or 0) for k in kinds}
    if args.web < 1:
        raise ConfigError(f"--web must be at least 1, got {args.web}")
    if args.worker < 0 or any(n < 0 for n in counts.values()):
        raise ConfigError("process counts cannot be negative")
    py = shlex.quote(sys.executable)
    procs = [("web", f"{py} -m core.cli serve --role web --workers {args.web} --threads {args.threads} "
                     f"--host {shlex.quote(args.host)} --port {args.port}")]
    procs += [(f"worker.{i}", f"{py} -m core.cli worker") for i in range(1, args.worker + 1)]
    for kind, n in counts.items():
        for i in range(1, n + 1):
            argv = [a.replace("{index}", str(i)) for a in kinds[kind].argv]
            procs.append((f"{kind}.{i}", shlex.join(argv)))
    postgres = settings.url.startswith("postgresql")
    needs_events = not postgres and not settings.redis_url
    needs_broker = any(counts[k] > 0 and kinds[k].needs_broker for k in counts) and not env.get("TWINBOARD_BROKER_URL")
    return procs, needs_events, needs_broker


def run_topology(args: argparse.Namespace) -> int:
    """Start everything, wait for Ctrl-C, stop everything; one message and exit 2 on a wrong setting."""
    from honcho.manager import Manager

    from core.settings import load_settings
    from core.web.serve import free_port, port_in_use
    env = dict(os.environ)
    if args.config:
        env["TWINBOARD_CONFIG"] = str(Path(args.config).resolve())
    redis_proc = None
    try:
        settings = load_settings(args.config)
        procs, needs_events, needs_broker = plan(args, settings, env)
        if port_in_use(args.host, args.port):
            raise ConfigError(f"port {args.port} on {args.host} is already in use; stop the other server or pass --port")
        if needs_events or needs_broker:
            port = args.redis_port or free_port()
            redis_proc = start_loopback_redis(port, settings.path(settings.var_dir))
            if needs_events:
                env["TWINBOARD_REDIS_URL"] = f"redis://127.0.0.1:{port}/0"
            if needs_broker:
                env["TWINBOARD_BROKER_URL"] = f"redis://127.0.0.1:{port}/1"
            print(f"twinboard up: Redis on 127.0.0.1:{port} (loopback, no persistence)", flush=True)
        if args.worker == 0:
            print("twinboard up: --worker 0: no process runs the sources; screens show stale data", flush=True)
        manager = Manager()
        for name, cmd in procs:
            manager.add_process(name, cmd, env=env, cwd=str(settings.root))
        print(f"twinboard up: http://{args.host}:{args.port}/screen/{settings.default_dashboard} — "
              f"{', '.join(n for n, _ in procs)}; Ctrl-C stops them all", flush=True)
        manager.loop()
        return int(manager.returncode or 0)
    except TwinboardError as exc:
        print(f"twinboard: {exc}", file=sys.stderr)
        return 2
    finally:
        if redis_proc is not None:
            redis_proc.terminate()
            try:
                redis_proc.wait(5)
            except subprocess.TimeoutExpired:
                redis_proc.kill()
