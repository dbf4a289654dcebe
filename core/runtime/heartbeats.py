"""Source heartbeats across processes: the worker writes them to the store, web processes read them.

A panel's freshness badge and /admin's source table need each source's last beat, last data and last
error. In one process they come straight from the runtime; a web process runs no source, so it reads
what the worker last wrote (``source_heartbeat``, one row per source, written every ``interval_s``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence

from sqlalchemy import delete, insert, select, update

from core.data import twin
from core.data.store import Store
from core.plugins.contributions import Heartbeat

log = logging.getLogger(__name__)


class HeartbeatWriter:
    """In the worker: every ``interval_s``, store the heartbeat of each source this worker runs."""

    def __init__(self, store: Store, runtime: object, holder: str, interval_s: float = 2.0) -> None:
        self.store, self.runtime, self.holder, self.interval_s = store, runtime, holder, interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> HeartbeatWriter:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="heartbeat-writer", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        try:
            self.write()  # the last word: which sources stopped
        except Exception as exc:  # noqa: BLE001 - stopping with the database away
            log.warning("heartbeats not written at stop: %s", exc)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.write()
            except Exception as exc:  # noqa: BLE001 - the database may be away for a while
                log.warning("heartbeats not written: %s", str(exc).splitlines()[0])

    def write(self) -> int:
        """Upsert one row per source this worker runs; returns how many."""
        beats: dict[str, Heartbeat] = self.runtime.heartbeats()  # type: ignore[attr-defined]
        now = time.time()
        t = twin.SourceHeartbeat
        with self.store.engine.begin() as conn:
            for key, hb in beats.items():
                row = hb.as_dict()
                values = {"plugin": key.split(".", 1)[0], "holder": self.holder, "last_beat": row["last_heartbeat"],
                          "last_data": row["last_data"], "last_error": row["last_error"],
                          "restarts": row["restarts"], "running": row["running"], "updated_at": now}
                if conn.execute(update(t).where(t.key == key).values(**values)).rowcount == 0:
                    conn.execute(insert(t).values(key=key, **values))
            # sources this worker no longer runs (a plugin disabled) are not shown as running
            stale = select(t.key).where(t.holder == self.holder).where(t.running.is_(True))  # type: ignore[union-attr]
            for (key,) in list(conn.execute(stale)):
                if key not in beats:
                    conn.execute(update(t).where(t.key == key).values(running=False, updated_at=now))
        return len(beats)


class StoredHeartbeats:
    """In a web process: the runtime's read side, answered from the rows the worker wrote (cached 1 s)."""

    def __init__(self, store: Store, cache_s: float = 1.0) -> None:
        self.store, self.cache_s = store, cache_s
        self._cache: tuple[float, dict[str, Heartbeat]] = (0.0, {})
        self._lock = threading.Lock()

    def _all(self) -> dict[str, Heartbeat]:
        now = time.monotonic()
        with self._lock:
            if now - self._cache[0] < self.cache_s:
                return self._cache[1]
        t = twin.SourceHeartbeat
        with self.store.engine.connect() as conn:
            rows = list(conn.execute(select(t)))
        beats = {}
        for r in rows:
            hb = Heartbeat(last_beat=r.last_beat, last_data=r.last_data, last_error=r.last_error,
                           restarts=r.restarts, running=r.running)
            beats[r.key] = hb
        with self._lock:
            self._cache = (now, beats)
        return beats

    def heartbeats(self, plugin: str | None = None) -> dict[str, Heartbeat]:
        """Heartbeat per source key ("plugin.source"), optionally of one plugin."""
        try:
            beats = self._all()
        except Exception:  # noqa: BLE001 - database away: the last known beats (panels go stale)
            beats = self._cache[1]
        return {k: hb for k, hb in beats.items() if plugin is None or k.split(".", 1)[0] == plugin}

    def last_data(self, plugin: str, sources: Sequence[str] | None = None) -> float | None:
        """Newest data time over a plugin's sources (or the named ones)."""
        times = [hb.last_data for k, hb in self.heartbeats(plugin).items()
                 if hb.last_data and (not sources or k.split(".", 1)[1] in sources)]
        return max(times) if times else None

    # a web process starts and stops no source
    def start_plugin(self, *_a: object, **_k: object) -> None:
        return None

    def stop_plugin(self, *_a: object, **_k: object) -> None:
        return None

    def stop_all(self) -> None:
        return None


def forget_heartbeats(store: Store, holder: str) -> None:
    """Drop a worker's rows (tests, or a worker retired for good)."""
    with store.engine.begin() as conn:
        conn.execute(delete(twin.SourceHeartbeat).where(twin.SourceHeartbeat.holder == holder))
