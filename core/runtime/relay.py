"""Bus events across processes and machines: the store's event log, woken by a notifier.

Every event a process publishes is appended to the ``event_log`` table (its row id is the cursor all
processes share), then a notifier wakes the other processes, which read the rows they have not seen
and deliver them to their own subscribers:

- PostgreSQL: ``NOTIFY twinboard_events`` in the same transaction as the row, ``LISTEN`` on a
  connection of its own;
- Redis (``TWINBOARD_REDIS_URL``): ``PUBLISH`` on a channel, a pub/sub subscription;
- neither (SQLite, one machine): the listener reads the log every 0.25 s.

The log, not the notifier, is the truth: a lost notification (Redis restarting, a dropped LISTEN
connection) only delays delivery until the next read, at most ``fallback_poll_s`` later, and a listener
that was away catches up from its cursor when it comes back.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from collections import deque
from typing import Any

from sqlalchemy import delete, func, insert, select, text

from core.data import twin
from core.data.store import Store
from core.errors import ConfigError
from core.runtime.bus import Bus, Event, event_from_dict

log = logging.getLogger(__name__)

CHANNEL = "twinboard_events"
#: rows this far below the cursor are read again, for PostgreSQL transactions that commit out of id order
REREAD_WINDOW = 200


def process_origin() -> str:
    """A name for this process that no other process shares: host, pid and a random part."""
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class PollNotifier:
    """No notifications: the listener reads the log every ``interval_s``."""

    name = "poll"

    def __init__(self, interval_s: float = 0.25) -> None:
        self.interval_s = interval_s
        self.ok, self.error = True, None

    def notify_sql(self) -> str | None:
        return None

    def notify(self, event_id: int) -> None:
        return None

    def wait(self, timeout: float, stop: threading.Event) -> None:
        stop.wait(min(timeout, self.interval_s))

    def close(self) -> None:
        return None


class RedisNotifier:
    """Redis pub/sub: ``PUBLISH`` the new row id; a subscription wakes the listener."""

    name = "redis"

    def __init__(self, url: str) -> None:
        import redis
        self.url = url
        self._redis = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5,
                                           health_check_interval=10)
        self._pubsub: Any = None
        self.ok, self.error = True, None

    def check(self) -> None:
        """Raise ConfigError naming the setting when Redis does not answer."""
        try:
            self._redis.ping()
        except Exception as exc:  # noqa: BLE001 - any client error means the same to the operator
            raise ConfigError(f"setting TWINBOARD_REDIS_URL ({_shown(self.url)}): Redis does not answer: "
                              f"{exc.__class__.__name__}: {str(exc).rstrip('.')}. Start Redis there, or unset "
                              "TWINBOARD_REDIS_URL for the in-process/database transport") from exc

    def notify_sql(self) -> str | None:
        return None

    def notify(self, event_id: int) -> None:
        try:
            self._redis.publish(CHANNEL, str(event_id))
            self.ok, self.error = True, None
        except Exception as exc:  # noqa: BLE001 - the log still has the event; listeners poll it
            self._failed(exc)

    def wait(self, timeout: float, stop: threading.Event) -> None:
        try:
            if self._pubsub is None:
                self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
                self._pubsub.subscribe(CHANNEL)
            self._pubsub.get_message(timeout=timeout)
            self.ok, self.error = True, None
        except Exception as exc:  # noqa: BLE001 - reconnect on the next wait; meanwhile poll
            self._failed(exc)
            self._reset()
            stop.wait(min(timeout, 0.5))

    def _failed(self, exc: BaseException) -> None:
        if self.ok:
            log.warning("event relay: Redis at %s unreachable (%s); reading the event log by polling",
                        _shown(self.url), exc)
        self.ok, self.error = False, f"{exc.__class__.__name__}: {exc}"

    def _reset(self) -> None:
        try:
            if self._pubsub is not None:
                self._pubsub.close()
        except Exception:  # noqa: BLE001
            pass
        self._pubsub = None

    def close(self) -> None:
        self._reset()
        self._redis.close()


class PostgresNotifier:
    """PostgreSQL ``LISTEN``/``NOTIFY``: the notification is sent by the row's own transaction."""

    name = "postgresql"

    def __init__(self, url: str) -> None:
        self.dsn = _libpq_dsn(url)
        self._conn: Any = None
        self.ok, self.error = True, None

    def notify_sql(self) -> str | None:
        return f"SELECT pg_notify('{CHANNEL}', :id)"

    def notify(self, event_id: int) -> None:
        return None  # sent with the row (notify_sql)

    def wait(self, timeout: float, stop: threading.Event) -> None:
        import psycopg
        try:
            if self._conn is None or self._conn.closed:
                self._conn = psycopg.connect(self.dsn, autocommit=True, connect_timeout=3)
                self._conn.execute(f"LISTEN {CHANNEL}")
            for _n in self._conn.notifies(timeout=timeout, stop_after=1):
                break
            self.ok, self.error = True, None
        except Exception as exc:  # noqa: BLE001 - reconnect on the next wait
            if self.ok:
                log.warning("event relay: LISTEN connection lost (%s); reconnecting", exc)
            self.ok, self.error = False, f"{exc.__class__.__name__}: {exc}"
            self.close()
            stop.wait(min(timeout, 1.0))

    def close(self) -> None:
        try:
            if self._conn is not None:
                self._conn.close()
        except Exception:  # noqa: BLE001
            pass
        self._conn = None


Notifier = PollNotifier | RedisNotifier | PostgresNotifier


def make_notifier(store: Store, redis_url: str | None) -> Notifier:
    """The notifier for this deployment: PostgreSQL's own when the store is PostgreSQL, else Redis when
    ``redis_url`` is set, else polling."""
    if store.engine.dialect.name == "postgresql":
        return PostgresNotifier(store.engine.url.render_as_string(hide_password=False))
    if redis_url:
        notifier = RedisNotifier(redis_url)
        notifier.check()
        return notifier
    return PollNotifier()


class EventRelay:
    """Appends this process's events to the shared log and delivers the other processes' events."""

    def __init__(self, store: Store, notifier: Notifier, origin: str | None = None,
                 fallback_poll_s: float = 1.0) -> None:
        self.store, self.notifier = store, notifier
        self.origin = origin or process_origin()
        self.fallback_poll_s = fallback_poll_s
        self._bus: Bus | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._seen: deque[int] = deque(maxlen=4 * REREAD_WINDOW)
        self._seen_set: set[int] = set()
        self._last = 0
        self.db_ok, self.db_error = True, None
        self.delivered = 0
        tbl = twin.EventLog.__table__
        self._insert = insert(tbl).returning(tbl.c.id)
        self._notify_sql = notifier.notify_sql()

    # -- writing ------------------------------------------------------------------------------
    def append(self, event: Event) -> int:
        """Store ``event`` in the log and wake the other processes; returns its cursor (row id)."""
        payload = json.loads(json.dumps({k: v for k, v in event.as_dict().items() if k != "seq"}, default=str))
        with self.store.engine.begin() as conn:
            event_id = int(conn.execute(self._insert, {"ts": event.ts, "topic": event.topic[:64],
                                                       "origin": self.origin, "payload": payload}).scalar_one())
            if self._notify_sql:
                conn.execute(text(self._notify_sql), {"id": str(event_id)})
        self._mark_seen(event_id)
        self.notifier.notify(event_id)
        return event_id

    # -- reading ------------------------------------------------------------------------------
    def cursor(self) -> int:
        """The newest id in the log (0 when empty)."""
        with self.store.engine.connect() as conn:
            return int(conn.execute(select(func.max(twin.EventLog.id))).scalar() or 0)

    def since(self, cursor: int, limit: int = 500) -> list[Event]:
        """Events of every process newer than ``cursor``, oldest first (at most ``limit``, the newest)."""
        rows = self._rows_after(cursor, limit, newest=True)
        return [ev for ev in (self._event(r) for r in rows) if ev is not None]

    def _rows_after(self, cursor: int, limit: int, newest: bool = False) -> list[Any]:
        t = twin.EventLog
        q = select(t.id, t.origin, t.payload).where(t.id > cursor)
        q = q.order_by(t.id.desc() if newest else t.id).limit(limit)  # type: ignore[union-attr]
        with self.store.engine.connect() as conn:
            rows = list(conn.execute(q))
        return rows[::-1] if newest else rows

    @staticmethod
    def _event(row: Any) -> Event | None:
        payload = row.payload if isinstance(row.payload, dict) else json.loads(row.payload)
        ev = event_from_dict(payload)
        if ev is not None:
            object.__setattr__(ev, "seq", int(row.id))
        return ev

    # -- the listener ---------------------------------------------------------------------------
    def start(self, bus: Bus) -> EventRelay:
        """Attach to ``bus`` and start delivering other processes' events to it."""
        self._bus = bus
        bus.attach_relay(self)
        try:
            self._last = self.cursor()
        except Exception as exc:  # noqa: BLE001 - the listener retries; start must not fail on a blip
            self._db_failed(exc)
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="event-relay", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        self.notifier.close()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.notifier.wait(self.fallback_poll_s, self._stop)
            if self._stop.is_set():
                return
            try:
                self.pump()
            except Exception as exc:  # noqa: BLE001 - database away: keep trying, say so in /api/ready
                self._db_failed(exc)
                self._stop.wait(1.0)

    def pump(self) -> int:
        """Deliver the log's rows this process has not seen yet; returns how many were delivered."""
        rows = self._rows_after(max(0, self._last - REREAD_WINDOW), 5000)
        if self.db_ok is False:
            log.info("event relay: database reachable again")
        self.db_ok, self.db_error = True, None
        n = 0
        for row in rows:
            rid = int(row.id)
            self._last = max(self._last, rid)
            if rid in self._seen_set:
                continue
            self._mark_seen(rid)
            if row.origin == self.origin:
                continue
            ev = self._event(row)
            if ev is None or self._bus is None:
                continue
            self._bus.deliver_remote(ev)
            n += 1
        self.delivered += n
        return n

    def _mark_seen(self, rid: int) -> None:
        if len(self._seen) == self._seen.maxlen:
            self._seen_set.discard(self._seen[0])
        self._seen.append(rid)
        self._seen_set.add(rid)

    def _db_failed(self, exc: BaseException) -> None:
        if self.db_ok:
            log.warning("event relay: database unreachable (%s); retrying", str(exc).splitlines()[0])
        self.db_ok, self.db_error = False, f"{exc.__class__.__name__}: {str(exc).splitlines()[0]}"

    # -- housekeeping ---------------------------------------------------------------------------
    def trim(self, keep_s: float = 900.0) -> int:
        """Delete log rows older than ``keep_s`` seconds (the worker does this); returns how many."""
        with self.store.engine.begin() as conn:
            res = conn.execute(delete(twin.EventLog).where(twin.EventLog.ts < time.time() - keep_s))
        return int(res.rowcount or 0)

    def status(self) -> dict[str, Any]:
        """{"transport", "ok", "error"} for /api/ready."""
        ok = bool(self.db_ok and self.notifier.ok)
        return {"transport": self.notifier.name, "ok": ok,
                "error": self.db_error or self.notifier.error}


def _libpq_dsn(url: str) -> str:
    """A SQLAlchemy URL (postgresql+psycopg://…) as libpq takes it."""
    from sqlalchemy.engine import make_url
    u = make_url(url).set(drivername="postgresql")
    return u.render_as_string(hide_password=False)


def _shown(url: str) -> str:
    from sqlalchemy.engine import make_url
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001
        return "<unparseable URL>"
