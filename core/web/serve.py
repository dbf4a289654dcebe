"""Serve the app: the checks a newcomer needs (port free, config valid, database reachable) first."""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import socket
import sys
from pathlib import Path

from core.errors import TwinboardError

log = logging.getLogger("twinboard")


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


def serve(config: Path | None, host: str, port: int, debug: bool = False) -> int:
    """Start the host and web server; returns an exit code with one clear message on failure."""
    cap_malloc_arenas()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if port_in_use(host, port):
        print(f"twinboard: port {port} on {host} is already in use; stop the other server or pass --port",
              file=sys.stderr)
        return 2
    from core.web.app import create_app
    from core.settings import load_settings
    try:
        settings = load_settings(config)
        app = create_app(settings)
    except TwinboardError as exc:
        print(f"twinboard: {exc}", file=sys.stderr)
        return 2
    tb_host = app.server.config["TWINBOARD_HOST"]

    def _stop(*_a: object) -> None:
        tb_host.stop()
        raise SystemExit(0)
    signal.signal(signal.SIGTERM, _stop)
    print(f"twinboard serving http://{host}:{port}/screen/{settings.default_dashboard} "
          f"(database: {tb_host.store.engine.url.render_as_string(hide_password=True)})", flush=True)
    try:
        app.run(host=host, port=port, debug=debug, use_reloader=False, threaded=True)
    finally:
        tb_host.stop()
    return 0
