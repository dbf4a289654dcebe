"""Panel render faults, kept per placed panel: the panel's own error card, never its plugin's state.

A panel whose ``render`` raises shows an error card in its own frame and is retried at its next
refresh; its plugin stays enabled (sources, routes and other panels keep going). A placed panel that
fails ``REPORT_AFTER`` times in a row is *failing*: listed in ``/api/health`` (``panels_failing``) and
in /admin until one render succeeds. Counts are kept in memory per process (each web process renders
its own screens' panels) and every render counts, whichever screen asked for it.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

log = logging.getLogger(__name__)

#: Consecutive failed renders after which a placed panel is reported failing.
REPORT_AFTER = 3
#: Longest error text kept and shown (one line; tracebacks go to the log, never to the wall).
MAX_ERROR_CHARS = 300


@dataclass
class PanelFault:
    """The current run of failed renders of one placed panel."""

    plugin: str
    panel: str          # the panel id, "<plugin>.<panel>"
    dashboard: str      # dashboard uid
    key: str            # the placement's key in that dashboard
    failures: int       # consecutive failed renders
    last_error: str     # "ExceptionClass: message", one line
    since: float        # epoch seconds of the first failure of this run
    last_at: float      # epoch seconds of the latest failure

    def as_dict(self) -> dict[str, object]:
        return {"plugin": self.plugin, "panel": self.panel, "dashboard": self.dashboard, "key": self.key,
                "failures": self.failures, "last_error": self.last_error,
                "since": self.since, "last_at": self.last_at}


def one_line(exc: BaseException) -> str:
    """``ExceptionClass: message`` on one line, cut to MAX_ERROR_CHARS."""
    text = " ".join(f"{exc.__class__.__name__}: {exc}".split())
    return text if len(text) <= MAX_ERROR_CHARS else text[:MAX_ERROR_CHARS - 1] + "…"


class PanelFaults:
    """Consecutive render failures per placed panel (thread-safe; renders run on many threads)."""

    def __init__(self, report_after: int = REPORT_AFTER) -> None:
        self.report_after = report_after
        self._runs: dict[tuple[str, str, str], PanelFault] = {}
        self._lock = threading.Lock()

    def failed(self, plugin: str, panel: str, dashboard: str, key: str, exc: BaseException,
               tb: str | None = None) -> PanelFault:
        """Count one failed render; the run so far (a copy)."""
        now = time.time()
        error = one_line(exc)
        with self._lock:
            run = self._runs.get((panel, dashboard, key))
            if run is None:
                run = PanelFault(plugin, panel, dashboard, key, 0, error, now, now)
                self._runs[(panel, dashboard, key)] = run
            run.failures += 1
            run.last_error, run.last_at = error, now
            copy = PanelFault(**vars(run))
        if copy.failures == 1 or copy.failures == self.report_after:
            # the traceback once when a run starts and once when it becomes "failing": the log stays readable
            log.warning("panel %s on %s/%s failed (%d in a row): %s\n%s", panel, dashboard, key, copy.failures,
                        error, tb or "")
        return copy

    def succeeded(self, panel: str, dashboard: str, key: str) -> None:
        """A render worked: the panel's run of failures (if any) ends."""
        if not self._runs:
            return
        with self._lock:
            run = self._runs.pop((panel, dashboard, key), None)
        if run is not None and run.failures >= self.report_after:
            log.info("panel %s on %s/%s recovered after %d failed renders", panel, dashboard, key, run.failures)

    def failing(self, plugin: str | None = None) -> list[PanelFault]:
        """Placed panels that failed at least ``report_after`` renders in a row (oldest run first)."""
        with self._lock:
            runs = [PanelFault(**vars(r)) for r in self._runs.values()
                    if r.failures >= self.report_after and (plugin is None or r.plugin == plugin)]
        return sorted(runs, key=lambda r: (r.since, r.panel, r.dashboard, r.key))

    def forget(self, plugin: str) -> None:
        """Drop a plugin's runs (it was disabled, reconfigured or re-enabled: its panels start afresh)."""
        with self._lock:
            for k in [k for k, r in self._runs.items() if r.plugin == plugin]:
                del self._runs[k]
