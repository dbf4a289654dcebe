"""Sign-in throttling: failed sign-ins counted per user name and per client address, then a lock.

Counting uses the ``limits`` library (the engine of Flask-Limiter) with fixed windows: in Redis when
``TWINBOARD_REDIS_URL`` is set, else in the database (``SqlCounterStorage``, table ``rate_counter``),
so every web process of a deployment counts together. When a window's failures reach its limit the
user name or the address is *locked* for ``LOCK_S``: a ``signin_lock`` row (so every process sees it,
/admin lists it and a manager can unlock it) and an audit entry ``signin.lock``. While locked, a
sign-in for that name or from that address answers 429 with Retry-After without checking the
password. A successful sign-in clears its user name's count (not its address's).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.storage import Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter
from sqlalchemy import Engine, case, delete, select
from sqlalchemy.exc import SQLAlchemyError

from core.data.store import Store
from core.data.twin import AuditEntry, RateCounter, SigninLock

#: failed sign-ins for one user name (from any address) before it is locked
USER_LIMIT = "5/15minutes"
#: failed sign-ins from one client address (for any user names) before it is locked
ADDRESS_LIMIT = "20/15minutes"
#: how long a lock lasts unless a manager unlocks it
LOCK_S = 15 * 60
_NAMESPACE = "twinboard-signin"


class SqlCounterStorage(Storage):
    """A ``limits`` storage in the twin database: fixed-window counters, one atomic upsert per hit
    (SQLite and PostgreSQL both take ``INSERT … ON CONFLICT DO UPDATE … RETURNING``)."""

    STORAGE_SCHEME = ["twinboard-sql"]

    #: expired counters are deleted on every this-many-th hit (they are ignored anyway; this bounds the table)
    PURGE_EVERY = 200

    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self.engine = engine
        self._hits = 0

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return SQLAlchemyError

    def _insert(self):  # noqa: ANN202 - the dialect's insert construct
        if self.engine.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        return insert(RateCounter)

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        table = RateCounter.__table__
        stmt = self._insert().values(key=key, count=amount, expires_at=now + expiry)
        expired = table.c.expires_at <= now
        stmt = stmt.on_conflict_do_update(index_elements=["key"], set_={
            "count": case((expired, amount), else_=table.c.count + amount),
            "expires_at": case((expired, now + expiry), else_=table.c.expires_at),
        }).returning(table.c.count)
        self._hits += 1
        with self.engine.begin() as conn:
            if self._hits % self.PURGE_EVERY == 0:
                conn.execute(delete(RateCounter).where(RateCounter.expires_at <= now))
            return int(conn.execute(stmt).scalar_one())

    def _row(self, key: str) -> tuple[int, float] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(RateCounter.count, RateCounter.expires_at)
                               .where(RateCounter.key == key)).first()
        if row is None or row[1] <= time.time():
            return None
        return int(row[0]), float(row[1])

    def get(self, key: str) -> int:
        row = self._row(key)
        return row[0] if row else 0

    def get_expiry(self, key: str) -> float:
        row = self._row(key)
        return row[1] if row else time.time()

    def check(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(select(RateCounter.key).limit(1))
            return True
        except SQLAlchemyError:
            return False

    def reset(self) -> int | None:
        with self.engine.begin() as conn:
            return conn.execute(delete(RateCounter)).rowcount

    def clear(self, key: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(RateCounter).where(RateCounter.key == key))


@dataclass(frozen=True)
class Lock:
    """An active sign-in lock."""

    id: int
    kind: str          # "user" or "address"
    subject: str
    failures: int
    locked_at: float
    until: float

    def retry_after(self, now: float | None = None) -> int:
        """Whole seconds until the lock ends (at least 1)."""
        return max(1, math.ceil(self.until - (now or time.time())))


class SigninThrottle:
    """Counts failed sign-ins and keeps the locks; one per app, shared by its threads."""

    def __init__(self, store: Store, redis_url: str | None = None, *, user_limit: str = USER_LIMIT,
                 address_limit: str = ADDRESS_LIMIT, lock_s: float = LOCK_S) -> None:
        self.store = store
        storage = storage_from_string(redis_url) if redis_url else SqlCounterStorage(store.engine)
        self.backend = "redis" if redis_url else "database"
        self.window = FixedWindowRateLimiter(storage)
        self.limits: dict[str, RateLimitItem] = {"user": parse(user_limit), "address": parse(address_limit)}
        self.lock_s = lock_s

    def locked(self, username: str, address: str) -> Lock | None:
        """The active lock on this user name or this address (the one ending last), if any."""
        now = time.time()
        with self.store.session() as db:
            rows = db.scalars(select(SigninLock).where(
                SigninLock.unlocked_at.is_(None), SigninLock.until > now,
                ((SigninLock.kind == "user") & (SigninLock.subject == username))
                | ((SigninLock.kind == "address") & (SigninLock.subject == address)))).all()
        if not rows:
            return None
        row = max(rows, key=lambda r: r.until)
        return _lock(row)

    def failed(self, username: str, address: str) -> Lock | None:
        """Count one failed sign-in; the lock it caused (limit reached), else None."""
        subjects = {"user": username, "address": address}
        reached = []
        for kind, subject in subjects.items():
            item = self.limits[kind]
            self.window.hit(item, _NAMESPACE, kind, subject)
            if self.window.get_window_stats(item, _NAMESPACE, kind, subject).remaining == 0:
                reached.append((kind, subject, item.amount))
        locks = [self._lock(kind, subject, failures, username, address) for kind, subject, failures in reached]
        return max(locks, key=lambda lk: lk.until) if locks else None

    def succeeded(self, username: str) -> None:
        """A correct password: the user name's count starts again (its address's does not)."""
        self.window.clear(self.limits["user"], _NAMESPACE, "user", username)

    def _lock(self, kind: str, subject: str, failures: int, username: str, address: str) -> Lock:
        now = time.time()
        with self.store.session() as db:
            current = db.scalars(select(SigninLock).where(
                SigninLock.kind == kind, SigninLock.subject == subject, SigninLock.unlocked_at.is_(None),
                SigninLock.until > now)).first()
            if current is not None:
                return _lock(current)
            row = SigninLock(kind=kind, subject=subject, failures=failures, locked_at=now, until=now + self.lock_s)
            db.add(row)
            db.add(AuditEntry(actor=f"address:{address}"[:64], action="signin.lock", target=f"{kind}:{subject}"[:256],
                              new={"until": row.until, "failures": failures, "user": username, "address": address}))
            db.commit()
            db.refresh(row)
            return _lock(row)

    def active(self) -> list[Lock]:
        """Every active lock, newest first (for /admin)."""
        with self.store.session() as db:
            rows = db.scalars(select(SigninLock).where(SigninLock.unlocked_at.is_(None),
                                                       SigninLock.until > time.time())
                              .order_by(SigninLock.locked_at.desc())).all()
        return [_lock(r) for r in rows]

    def unlock(self, lock_id: int, actor: str) -> Lock:
        """End an active lock at once and reset its count (audited ``signin.unlock``); KeyError if none."""
        with self.store.session() as db:
            row = db.get(SigninLock, lock_id)
            if row is None or row.unlocked_at is not None or row.until <= time.time():
                raise KeyError(f"no active sign-in lock with id {lock_id}")
            row.unlocked_at, row.unlocked_by = time.time(), actor[:64]
            db.add(row)
            db.add(AuditEntry(actor=actor, action="signin.unlock", target=f"{row.kind}:{row.subject}"[:256],
                              old={"until": row.until, "failures": row.failures}))
            db.commit()
            db.refresh(row)
            lock = _lock(row)
        self.window.clear(self.limits[lock.kind], _NAMESPACE, lock.kind, lock.subject)
        return lock


def _lock(row: SigninLock) -> Lock:
    return Lock(row.id or 0, row.kind, row.subject, row.failures, row.locked_at, row.until)
