"""Serve the app on gunicorn (threaded workers): the checks a newcomer needs first, one message on failure.

``twinboard serve`` runs the app under gunicorn's ``gthread`` workers: a master that keeps the
listening socket, forks N worker processes and replaces them one by one on SIGHUP (a rolling
restart without a refused connection), each worker answering on T threads. Threads suit this app:
walls hold long polls and Dash callbacks wait on the database, both I/O, and the host's state (plugin
manager, caches, the relay's listener) is per process, built once after the fork.

- one worker (the ``make run`` default): the embedded one-process twin, role ``"all"``: it serves
  and runs every source;
- several workers: each is a ``"web"`` host; sources run in ``twinboard worker``.

Werkzeug's development server stays only behind ``--debug``.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

from core.errors import ConfigError, TwinboardError

log = logging.getLogger("twinboard")

DEFAULT_THREADS = 64  # a wall holds one for its long poll (up to 25 s)


def port_in_use(host: str, port: int) -> bool:
    """True when something already listens on (host, port)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that nothing listens on now, chosen by the OS (for a server started next)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def cap_malloc_arenas(arenas: int = 2) -> bool:
    """Let glibc keep at most ``arenas`` malloc arenas (M_ARENA_MAX); True when set.

    The threaded server answers each browser connection in its own thread, and glibc gives threads
    their own arenas (up to eight per core), each keeping the pages its large, short-lived
    responses (a trend's figure) once needed: a wall's server RSS then creeps up for hours. Two
    arenas keep it flat at no measurable cost. ``MALLOC_ARENA_MAX`` in the environment wins.
    """
    if not sys.platform.startswith("linux") or os.environ.get("MALLOC_ARENA_MAX"):
        return False
    try:
        libc = ctypes.CDLL(None)
        return bool(libc.mallopt(-8, arenas))  # -8: M_ARENA_MAX in glibc's malloc.h
    except (OSError, AttributeError):  # not glibc (musl has no mallopt arenas)
        return False


def preflight(config: Path | None, role: str) -> Any:
    """Check what every process will need, once, in the master: settings, database (migrated to head),
    the event transport and the signing key. Raises TwinboardError naming the setting."""
    from core.data.store import open_store
    from core.runtime.relay import make_notifier
    from core.settings import load_settings
    from core.web.app import _persistent_secret
    settings = load_settings(config)
    store = open_store(settings.url)
    try:
        if role != "all" or settings.redis_url:
            make_notifier(store, settings.redis_url).close()
        if role != "all" and store.engine.dialect.name == "sqlite" and not settings.redis_url:
            log.info("several processes on SQLite without TWINBOARD_REDIS_URL: events cross them by reading "
                     "the event log every 0.25 s")
    finally:
        store.engine.dispose()
    if not settings.secret_key:
        _persistent_secret(settings.path(settings.var_dir))
        if role == "web":
            log.warning("sessions and CSRF tokens are signed with %s: on several machines set TWINBOARD_SECRET_KEY "
                        "to one value everywhere, or a browser signed in on one machine is a stranger on the next",
                        settings.path(settings.var_dir) / "secret_key")
    return settings


def serve(config: Path | None, host: str, port: int, debug: bool = False, workers: int = 1,
          threads: int = DEFAULT_THREADS, role: str | None = None, access_log: bool = False) -> int:
    """Start the web server; returns an exit code with one clear message on failure."""
    cap_malloc_arenas()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)  # its per-start plugin chatter buries real messages
    role = role or ("all" if workers == 1 else "web")
    try:
        _check_topology(workers, threads, role, debug)
    except ConfigError as exc:
        print(f"twinboard: {exc}", file=sys.stderr)
        return 2
    if port_in_use(host, port):
        print(f"twinboard: port {port} on {host} is already in use; stop the other server or pass --port",
              file=sys.stderr)
        return 2
    try:
        settings = preflight(config, role)
    except TwinboardError as exc:
        print(f"twinboard: {exc}", file=sys.stderr)
        return 2
    if debug:
        return _serve_werkzeug(settings, host, port)
    from sqlalchemy.engine import make_url
    shown = make_url(settings.url).render_as_string(hide_password=True)
    print(f"twinboard serving http://{host}:{port}/screen/{settings.default_dashboard} on gunicorn "
          f"({workers} {'process' if workers == 1 else 'processes'} × {threads} threads, role {role}; "
          f"database: {shown})", flush=True)
    app = TwinboardGunicorn(settings, role, {
        "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "workers": workers, "threads": threads, "worker_class": "gthread",
        # a wall's long poll holds its thread up to 25 s; a stopping worker ends them at once (host.stopping)
        "timeout": 60, "graceful_timeout": 15, "keepalive": 5,
        "accesslog": "-" if access_log else None, "errorlog": "-", "loglevel": "info",
        "proc_name": f"twinboard-{role}", "preload_app": False,
        # rolling restarts go by signal (SIGHUP); no control socket shared by every gunicorn of the machine
        "control_socket_disable": True,
    })
    app.run()
    return 0


def _check_topology(workers: int, threads: int, role: str, debug: bool) -> None:
    if workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {workers}")
    if threads < 1:
        raise ConfigError(f"--threads must be at least 1, got {threads}")
    if role not in ("all", "web"):
        raise ConfigError(f"--role must be 'all' or 'web', got {role!r}")
    if workers > 1 and role == "all":
        raise ConfigError(f"--workers {workers} with --role all would run every source {workers} times: "
                          "serve with --role web and run the sources in `twinboard worker`")
    if debug and workers > 1:
        raise ConfigError("--debug runs Werkzeug's development server in one process: drop --workers")


def _serve_werkzeug(settings: Any, host: str, port: int) -> int:
    """The development server (``--debug``): one process, tracebacks in the browser. Never in production."""
    from core.web.app import create_app
    try:
        app = create_app(settings)
    except TwinboardError as exc:
        print(f"twinboard: {exc}", file=sys.stderr)
        return 2
    tb_host = app.server.config["TWINBOARD_HOST"]

    def _stop(*_a: object) -> None:
        tb_host.stop()
        raise SystemExit(0)
    signal.signal(signal.SIGTERM, _stop)
    print(f"twinboard serving http://{host}:{port}/screen/{settings.default_dashboard} on Werkzeug's "
          "development server (--debug; not for production)", flush=True)
    try:
        app.run(host=host, port=port, debug=True, use_reloader=False, threaded=True)
    finally:
        tb_host.stop()
    return 0


def _gunicorn_base() -> type:
    from gunicorn.app.base import BaseApplication
    return BaseApplication


class TwinboardGunicorn(_gunicorn_base()):  # type: ignore[misc]
    """gunicorn with the app built in each worker after the fork (no state shared across the fork)."""

    def __init__(self, settings: Any, role: str, options: dict[str, Any]) -> None:
        self.settings, self.role, self.options = settings, role, options
        self.dash_app: Any = None
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            if value is not None and key in self.cfg.settings:
                self.cfg.set(key, value)
        self.cfg.set("post_worker_init", _post_worker_init)
        self.cfg.set("worker_exit", _worker_exit)

    def load(self) -> Any:
        from core.web.app import create_app
        self.dash_app = create_app(self.settings, role=self.role)
        _WORKER_STATE["host"] = self.dash_app.server.config["TWINBOARD_HOST"]
        return self.dash_app.server


_WORKER_STATE: dict[str, Any] = {}


def _post_worker_init(worker: Any) -> None:
    """On SIGTERM (a rolling restart, a stop), end the long polls at once, then let gunicorn drain."""
    handle_exit = worker.handle_exit

    def _exit(sig: int, frame: Any) -> None:
        host = _WORKER_STATE.get("host")
        if host is not None:
            host.stopping.set()
        handle_exit(sig, frame)
    signal.signal(signal.SIGTERM, _exit)


def _worker_exit(_server: Any, _worker: Any) -> None:
    host = _WORKER_STATE.get("host")
    if host is not None:
        host.stop()
