"""Who runs the sources: a lease in the database, so two workers never run the same source twice.

- PostgreSQL: a session-level advisory lock on a connection of the lease's own. The server drops
  it the moment that connection dies (a SIGKILLed worker's socket closes), so the standby's next try
  takes over at once.
- SQLite (one machine): a row in ``worker_lease`` with an expiry the holder renews; the standby takes
  over when a holder stopped renewing for ``ttl_s``.

Either way ``held()`` is checked on every renewal, and a worker that loses its lease (a database
fail-over, a pause longer than the expiry) stops its sources before anyone else starts them.
"""

from __future__ import annotations

import hashlib
import logging
import time
from typing import Any

from sqlalchemy import insert, or_, select, update

from core.data import twin
from core.data.store import Store

log = logging.getLogger(__name__)


class TableLease:
    """A lease row with an expiry, renewed by its holder (SQLite, or any database)."""

    kind = "table"

    def __init__(self, store: Store, name: str, holder: str, ttl_s: float = 6.0) -> None:
        self.store, self.name, self.holder, self.ttl_s = store, name, holder, ttl_s
        self._held = False

    def acquire(self) -> bool:
        """Take the lease if it is free, expired or already ours; True when we hold it now."""
        now = time.time()
        t = twin.WorkerLease
        with self.store.engine.begin() as conn:
            if conn.execute(select(t.name).where(t.name == self.name)).first() is None:
                try:
                    conn.execute(insert(t).values(name=self.name, holder=self.holder, acquired_at=now,
                                                  expires_at=now + self.ttl_s))
                    self._held = True
                    return True
                except Exception:  # noqa: BLE001 - another worker inserted it first
                    return self._race_lost()
            res = conn.execute(update(t).where(t.name == self.name)
                               .where(or_(t.holder == self.holder, t.expires_at < now))
                               .values(holder=self.holder, expires_at=now + self.ttl_s,
                                       **({} if self._held else {"acquired_at": now})))
            self._held = res.rowcount == 1
        return self._held

    def _race_lost(self) -> bool:
        self._held = False
        return False

    def force(self) -> None:
        """Write this holder into the row whatever it says (for a lease held by other means)."""
        now = time.time()
        t = twin.WorkerLease
        with self.store.engine.begin() as conn:
            res = conn.execute(update(t).where(t.name == self.name)
                               .values(holder=self.holder, expires_at=now + self.ttl_s))
            if res.rowcount == 0:
                conn.execute(insert(t).values(name=self.name, holder=self.holder, acquired_at=now,
                                              expires_at=now + self.ttl_s))

    def renew(self) -> bool:
        """Extend the lease; False when it is no longer ours."""
        return self.acquire() if self._held else False

    def release(self, force: bool = False) -> None:
        """Give the lease up at once (a clean stop), so the standby need not wait for the expiry."""
        if not (self._held or force):
            return
        t = twin.WorkerLease
        with self.store.engine.begin() as conn:
            conn.execute(update(t).where(t.name == self.name).where(t.holder == self.holder)
                         .values(expires_at=0.0))
        self._held = False

    def holder_now(self) -> str | None:
        """Who holds the lease now (None when nobody does)."""
        t = twin.WorkerLease
        with self.store.engine.connect() as conn:
            row = conn.execute(select(t.holder, t.expires_at).where(t.name == self.name)).first()
        return row.holder if row is not None and row.expires_at >= time.time() else None


class AdvisoryLease:
    """A PostgreSQL session-level advisory lock, held by a connection that lives as long as the lease."""

    kind = "advisory"

    def __init__(self, store: Store, name: str, holder: str, ttl_s: float = 6.0) -> None:
        self.store, self.name, self.holder = store, name, holder
        self.key = int.from_bytes(hashlib.blake2b(f"twinboard:{name}".encode(), digest_size=8).digest(),
                                  "big", signed=True)
        self._conn: Any = None
        self._table = TableLease(store, name, holder, ttl_s)  # who holds it, for people to read

    def _connect(self) -> Any:
        import psycopg

        from core.runtime.relay import _libpq_dsn
        dsn = _libpq_dsn(self.store.engine.url.render_as_string(hide_password=False))
        # Keepalives both ways: this side notices a dead server, and the server (its own session settings,
        # whatever postgresql.conf says) drops a holder on a dead machine in seconds, not hours.
        return psycopg.connect(dsn, autocommit=True, connect_timeout=3, keepalives=1, keepalives_idle=2,
                               keepalives_interval=1, keepalives_count=3,
                               options="-c tcp_keepalives_idle=3 -c tcp_keepalives_interval=1 "
                                       "-c tcp_keepalives_count=3 -c tcp_user_timeout=10000")

    def acquire(self) -> bool:
        if self._conn is not None:
            return self.renew()
        try:
            conn = self._connect()
            got = bool(conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()[0])
        except Exception as exc:  # noqa: BLE001 - database away: not held
            log.warning("lease %s: %s", self.name, exc)
            return False
        if not got:
            conn.close()
            return False
        self._conn = conn
        try:
            self._table.force()
        except Exception:  # noqa: BLE001 - the row is only for people to read
            pass
        return True

    def renew(self) -> bool:
        if self._conn is None:
            return False
        try:
            self._conn.execute("SELECT 1")
        except Exception as exc:  # noqa: BLE001 - the connection, and with it the lock, is gone
            log.warning("lease %s lost with its connection: %s", self.name, exc)
            self._drop()
            return False
        try:
            self._table.force()
        except Exception:  # noqa: BLE001 - the row is only for people to read
            pass
        return True

    def release(self) -> None:
        if self._conn is None:
            return
        try:
            self._conn.execute("SELECT pg_advisory_unlock(%s)", (self.key,))
            self._table.release(force=True)
        except Exception:  # noqa: BLE001 - closing the connection releases it anyway
            pass
        self._drop()

    def _drop(self) -> None:
        try:
            if self._conn is not None:
                self._conn.close()
        except Exception:  # noqa: BLE001
            pass
        self._conn = None

    def holder_now(self) -> str | None:
        return self._table.holder_now()


Lease = TableLease | AdvisoryLease


def make_lease(store: Store, name: str, holder: str, ttl_s: float = 6.0) -> Lease:
    """An advisory lock on PostgreSQL, a lease row elsewhere."""
    if store.engine.dialect.name == "postgresql":
        return AdvisoryLease(store, name, holder, ttl_s)
    return TableLease(store, name, holder, ttl_s)
