"""``twinboard worker``: the process that runs sources, alert rules, ``on_event`` and scheduled jobs.

Start one per machine you want to fail over to. All of them load the plugins; the one that holds
the ``sources`` lease (core.runtime.lease) is active, the others stand by and try every second.
The active worker renews the lease every ``renew_s``; if it dies, the PostgreSQL lock goes with its
connection at once, and the SQLite lease row expires after ``ttl_s``, so a standby takes over within
``ttl_s + standby_poll_s`` at most. On SIGTERM or Ctrl-C the active worker stops its sources
cleanly, writes their last heartbeats, and releases the lease for the standby at once.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from pathlib import Path
from typing import Any

from core.errors import TwinboardError
from core.runtime.heartbeats import HeartbeatWriter
from core.runtime.host import Host
from core.runtime.lease import make_lease

log = logging.getLogger("twinboard.worker")

LEASE_NAME = "sources"
#: how often the active worker trims the shared event log, and how long rows are kept
TRIM_EVERY_S, EVENT_KEEP_S = 60.0, 900.0


class Worker:
    """One worker process: a ``"worker"`` host plus the lease loop that makes it active or standby."""

    def __init__(self, settings: Any, *, ttl_s: float = 6.0, renew_s: float = 1.5,
                 standby_poll_s: float = 1.0) -> None:
        self.host = Host(settings, role="worker")
        self.ttl_s, self.renew_s, self.standby_poll_s = ttl_s, renew_s, standby_poll_s
        self.lease = make_lease(self.host.store, LEASE_NAME, self.host.origin, ttl_s)
        self.heartbeats = HeartbeatWriter(self.host.store, self.host.runtime, self.host.origin)
        self.stop_requested = threading.Event()
        self.active = False
        self._last_renewed = 0.0
        self._last_trim = 0.0

    def run(self) -> int:
        """Load plugins, then stand by or run until asked to stop; returns the exit code."""
        self.host.start()
        log.info("worker %s started; waiting for the sources lease", self.host.origin)
        try:
            while not self.stop_requested.is_set():
                self.step()
                self.stop_requested.wait(self.renew_s if self.active else self.standby_poll_s)
        finally:
            self.shutdown()
        return 0

    def step(self) -> None:
        """One turn of the lease loop: renew (active) or try to take over (standby)."""
        now = time.time()
        try:
            if self.active:
                if self.lease.renew():
                    self._last_renewed = now
                else:
                    log.warning("worker %s lost the sources lease; stopping its sources", self.host.origin)
                    self._become_standby()
            elif self.lease.acquire():
                self._last_renewed = now
                self._become_active()
        except Exception as exc:  # noqa: BLE001 - the database may be away; never run sources twice
            log.warning("worker %s: lease check failed: %s", self.host.origin, str(exc).splitlines()[0])
            if self.active and now - self._last_renewed > 0.8 * self.ttl_s:
                log.warning("worker %s could not renew its lease for %.0f s; standing by", self.host.origin,
                            now - self._last_renewed)
                self._become_standby()
        if self.active and self.host.relay is not None and now - self._last_trim > TRIM_EVERY_S:
            self._last_trim = now
            try:
                self.host.relay.trim(EVENT_KEEP_S)
            except Exception as exc:  # noqa: BLE001 - housekeeping waits for the next turn
                log.warning("event log not trimmed: %s", str(exc).splitlines()[0])

    def _become_active(self) -> None:
        log.info("worker %s holds the sources lease: running sources, alert rules and on_event", self.host.origin)
        self.active = True
        self.host.activate()
        self.heartbeats.start()

    def _become_standby(self) -> None:
        self.active = False
        self.host.deactivate()
        self.heartbeats.stop()

    def shutdown(self) -> None:
        """Stop sources, write their last heartbeats, release the lease, stop the host."""
        if self.active:
            self.host.deactivate()
            self.heartbeats.stop()
            self.active = False
        try:
            self.lease.release()
        except Exception as exc:  # noqa: BLE001 - the lease then expires by itself
            log.warning("lease not released: %s", exc)
        self.host.stop()
        log.info("worker %s stopped", self.host.origin)


def run_worker(config: Path | None, ttl_s: float = 6.0) -> int:
    """The ``twinboard worker`` command: one message and exit 2 when the settings or services are wrong."""
    import sys

    from core.settings import load_settings
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)  # its per-start plugin chatter buries real messages
    try:
        worker = Worker(load_settings(config), ttl_s=ttl_s)
    except TwinboardError as exc:
        print(f"twinboard: {exc}", file=sys.stderr)
        return 2

    def _stop(*_a: object) -> None:
        worker.stop_requested.set()
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    return worker.run()
