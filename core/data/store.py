"""The twin store: engine factory, batched ingest, latest-value and series queries, alerts, audit."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, and_, create_engine, event, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError
from sqlmodel import Session, SQLModel

from core.data import twin
from core.plugins.contributions import AlertDraft, Position
from core.plugins.contributions import Reading as ReadingIn
from core.errors import StoreError

log = logging.getLogger(__name__)


def default_database_url(var_dir: Path) -> str:
    """The embedded default: an SQLite file under ``var/``."""
    return f"sqlite:///{(var_dir / 'twinboard.sqlite').resolve()}"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # WAL + NORMAL: a committed transaction survives a killed process; readers never block the writer.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def make_engine(url: str) -> Engine:
    """Create an engine for ``url`` and check that it connects; StoreError names the URL (no password)."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"database URL {url!r} is not a valid SQLAlchemy URL") from exc
    shown = parsed.render_as_string(hide_password=True)
    kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        db = parsed.database
        if db and db != ":memory:":
            Path(db).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 10}
    else:
        kwargs["pool_pre_ping"] = True
    try:
        engine = create_engine(parsed, **kwargs)
    except (SQLAlchemyError, ImportError) as exc:
        raise StoreError(f"cannot use database {shown}: {exc}") from exc
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError) as exc:
        raise StoreError(f"setting database_url (env TWINBOARD_DATABASE_URL): cannot connect to database {shown}: "
                         f"{exc.__class__.__name__}: {str(exc).splitlines()[0]}") from exc
    return engine


@dataclass(frozen=True)
class LatestValue:
    """The newest reading of one series."""

    entity_id: str
    metric: str
    unit: str
    ts: float
    value: float


class Store:
    """All reads and writes of the twin go through here; safe to share between threads."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._series_ids: dict[tuple[str, str], int] = {}
        self._series_lock = threading.Lock()
        #: readings refused by ingest because their value or time was NaN or infinite
        self.rejected = 0
        dialect = engine.dialect.name
        self._insert = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}.get(dialect)
        if self._insert is None:
            raise StoreError(f"database dialect {dialect!r} is not supported (use SQLite or PostgreSQL)")
        # The hot path skips SQLAlchemy's per-row parameter processing: positional tuples to the driver.
        ph = "?" if engine.dialect.paramstyle == "qmark" else "%s"
        self._reading_sql = (f"INSERT INTO reading (series_id, ts, value) VALUES ({ph}, {ph}, {ph}) "
                             "ON CONFLICT DO NOTHING")

    # -- schema -------------------------------------------------------------------------
    def create_schema(self) -> None:
        """Bring the schema to the newest Alembic revision (idempotent; keeps existing data)."""
        from core.data.migrate import upgrade
        upgrade(self.engine)

    def session(self) -> Session:
        """A new ORM session (use as a context manager)."""
        return Session(self.engine, expire_on_commit=False)

    # -- readings -------------------------------------------------------------------------
    def _resolve_series(self, conn: Any, keys: set[tuple[str, str, str]]) -> dict[tuple[str, str], int]:
        missing = [k for k in keys if (k[0], k[1]) not in self._series_ids]
        if missing:
            with self._series_lock:
                tbl = twin.Series.__table__
                conn.execute(self._insert(tbl).on_conflict_do_nothing(),
                             [{"entity_id": e, "metric": m, "unit": u} for e, m, u in missing])
                wanted = {(e, m) for e, m, _ in missing}
                entity_ids = sorted({e for e, _ in wanted})
                for chunk in _chunks(entity_ids, 500):
                    rows = conn.execute(select(tbl.c.id, tbl.c.entity_id, tbl.c.metric)
                                        .where(tbl.c.entity_id.in_(chunk)))
                    for sid, e, m in rows:
                        self._series_ids[(e, m)] = sid
        return self._series_ids

    def ingest(self, readings: Sequence[ReadingIn]) -> int:
        """Store a batch of readings in one transaction; re-delivered (series, ts) pairs are ignored.

        Returns the number of readings in the batch that were written.
        """
        finite = [r for r in readings if math.isfinite(r.value) and math.isfinite(r.ts)]
        if len(finite) != len(readings):
            # One broken value must not lose the batch: it is dropped, counted and logged.
            self.rejected += len(readings) - len(finite)
            log.warning("dropped %d non-finite readings (e.g. %s)", len(readings) - len(finite),
                        next(r for r in readings if r not in finite))
            readings = finite
        if not readings:
            return 0
        known = self._series_ids
        with self.engine.begin() as conn:
            if any((r.entity_id, r.metric) not in known for r in readings):
                self._resolve_series(conn, {(r.entity_id, r.metric, r.unit) for r in readings})
            rows = [(known[(r.entity_id, r.metric)], float(r.ts), float(r.value)) for r in readings]
            result = conn.exec_driver_sql(self._reading_sql, rows)
        written = result.rowcount
        return len(rows) if written is None or written < 0 else written

    def latest(self, entity_ids: Iterable[str] | None = None,
               metric: str | None = None) -> list[LatestValue]:
        """Newest value of every series (optionally of some entities / one metric) in one query.

        One index seek per series on the (series_id, ts) primary key: no N+1, no full scan.
        """
        s, r = twin.Series.__table__, twin.Reading.__table__
        newest = (select(func.max(r.c.ts)).where(r.c.series_id == s.c.id)
                  .correlate(s).scalar_subquery())
        q = (select(s.c.entity_id, s.c.metric, s.c.unit, r.c.ts, r.c.value)
             .join(r, and_(r.c.series_id == s.c.id, r.c.ts == newest))
             .order_by(s.c.entity_id, s.c.metric))
        if metric is not None:
            q = q.where(s.c.metric == metric)
        out: list[LatestValue] = []
        with self.engine.connect() as conn:
            if entity_ids is None:
                out = [LatestValue(*row) for row in conn.execute(q)]
            else:
                for chunk in _chunks(sorted(set(entity_ids)), 900):
                    out.extend(LatestValue(*row) for row in conn.execute(q.where(s.c.entity_id.in_(chunk))))
        return out

    def series(self, entity_id: str, metric: str, since: float | None = None,
               limit: int = 5000) -> list[tuple[float, float]]:
        """(ts, value) pairs of one series, oldest first, at most ``limit`` newest ones."""
        s, r = twin.Series.__table__, twin.Reading.__table__
        q = (select(r.c.ts, r.c.value).join(s, s.c.id == r.c.series_id)
             .where(s.c.entity_id == entity_id, s.c.metric == metric))
        if since is not None:
            q = q.where(r.c.ts >= since)
        q = q.order_by(r.c.ts.desc()).limit(limit)
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        return [(ts, v) for ts, v in reversed(rows)]

    def reading_count(self) -> int:
        """How many readings are stored (for tests and /admin)."""
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(twin.Reading.__table__)).scalar_one())

    # -- sites and entities ----------------------------------------------------------------
    def upsert(self, rows: Sequence[SQLModel], *, audit: twin.AuditEntry | None = None) -> int:
        """Insert or update sites/entities/relations by primary key (idempotent loading), in one
        transaction: all rows are stored or none. With ``audit``, that audit entry is written in the
        same transaction, so a change and its record in the audit log stand or fall together."""
        with self.session() as db:
            for row in rows:
                db.merge(row)
            if audit is not None:
                db.add(audit)
            db.commit()
        return len(rows)

    def entities(self, kind: str | None = None, site_id: str | None = None,
                 plugin: str | None = None, *, where: Mapping[str, str] | None = None) -> list[twin.Entity]:
        """Entities filtered by kind, site and contributing plugin; ``where`` keeps those whose top-level
        ``properties`` hold these text values (``where={"ref": "gp.rpt.x"}``), compared by the database, so
        finding one entity among many of its kind does not read them all."""
        q = select(twin.Entity)
        if kind:
            q = q.where(twin.Entity.kind == kind)
        if site_id:
            q = q.where(twin.Entity.site_id == site_id)
        if plugin:
            q = q.where(twin.Entity.plugin == plugin)
        for key, value in (where or {}).items():
            if not isinstance(value, str):
                raise TypeError(f"Store.entities(where=...): {key!r} must be compared with text, not {value!r}")
            q = q.where(twin.Entity.properties[key].as_string() == value)
        with self.session() as db:
            return list(db.scalars(q.order_by(twin.Entity.id)).all())

    def entity(self, entity_id: str) -> twin.Entity | None:
        """One entity by id (None when there is none)."""
        with self.session() as db:
            return db.get(twin.Entity, entity_id)

    def sites(self) -> list[twin.Site]:
        """Every site, by id."""
        with self.session() as db:
            return list(db.scalars(select(twin.Site).order_by(twin.Site.id)).all())

    # -- moving entities: positions and tracks -------------------------------------------------
    def move(self, entity_id: str, lon: float, lat: float, ts: float | None = None, *,
             heading_deg: float | None = None, speed_kmh: float | None = None) -> int:
        """Record that ``entity_id`` was at (``lon``, ``lat``) at ``ts`` (default now); see ``move_many``."""
        return self.move_many([Position(entity_id, time.time() if ts is None else ts, lon, lat,
                                        heading_deg, speed_kmh)])

    def move_many(self, positions: Sequence[Position]) -> int:
        """Store a batch of positions in one transaction: each a point of its entity's track, and the
        newest of each entity (if newer than what the entity shows) its ``Entity.geometry`` Point.

        Every entity must exist (``upsert`` it first, e.g. from a twin file) and every position be
        finite, lon in -180..180 and lat in -90..90; otherwise StoreError names the position
        (index, entity, field) and nothing of the batch is stored. A re-delivered (entity, ts) is
        ignored. Returns the number of new track points.
        """
        positions = list(positions)
        for i, p in enumerate(positions):
            for name, lo, hi in (("ts", None, None), ("lon", -180.0, 180.0), ("lat", -90.0, 90.0)):
                v = getattr(p, name)
                if not isinstance(v, (int, float)) or not math.isfinite(v) or (lo is not None and not lo <= v <= hi):
                    raise StoreError(f"position {i} of entity {p.entity_id!r}: field '{name}' is {v!r}"
                                     + (f", not in {lo:g}..{hi:g}" if lo is not None else ", not a finite number"))
        if not positions:
            return 0
        t, e = twin.TrackPoint.__table__, twin.Entity.__table__
        ids = sorted({p.entity_id for p in positions})
        newest: dict[str, Position] = {}
        for p in positions:
            if p.entity_id not in newest or p.ts > newest[p.entity_id].ts:
                newest[p.entity_id] = p
        with self.engine.begin() as conn:
            found: set[str] = set()
            for chunk in _chunks(ids, 500):
                found.update(i for (i,) in conn.execute(select(e.c.id).where(e.c.id.in_(chunk))))
            missing = [i for i in ids if i not in found]
            if missing:
                raise StoreError(f"cannot move unknown entit{'y' if len(missing) == 1 else 'ies'} "
                                 f"{', '.join(map(repr, missing[:5]))}: upsert the entity (or load its twin file) first")
            # RETURNING counts the new points on both dialects (executemany's rowcount is -1 on psycopg)
            result = conn.execute(self._insert(t).on_conflict_do_nothing().returning(t.c.ts),
                                  [{"entity_id": p.entity_id, "ts": float(p.ts), "lon": float(p.lon),
                                    "lat": float(p.lat), "heading_deg": p.heading_deg, "speed_kmh": p.speed_kmh}
                                   for p in positions])
            written = len(result.all())
            last = {eid: ts for eid, ts in conn.execute(
                select(t.c.entity_id, func.max(t.c.ts)).where(t.c.entity_id.in_(ids)).group_by(t.c.entity_id))}
            for eid, p in newest.items():
                if p.ts >= last.get(eid, p.ts):
                    conn.execute(update(e).where(e.c.id == eid).values(
                        geometry={"type": "Point", "coordinates": [float(p.lon), float(p.lat)]}, updated_at=time.time()))
        return written

    def track(self, entity_id: str, since: float | None = None, limit: int = 5000) -> list[Position]:
        """One entity's track, oldest first: at most ``limit`` newest positions at or after ``since``."""
        return self.tracks([entity_id], since=since, limit=limit).get(entity_id, [])

    def tracks(self, entity_ids: Iterable[str] | None = None, *, kind: str | None = None,
               since: float | None = None, limit: int = 5000) -> dict[str, list[Position]]:
        """Tracks by entity id (each oldest first, at most ``limit`` newest positions at or after ``since``)
        of the given entities, or of every entity of ``kind``, or of every entity that has one."""
        t, e = twin.TrackPoint.__table__, twin.Entity.__table__
        q = select(t.c.entity_id, t.c.ts, t.c.lon, t.c.lat, t.c.heading_deg, t.c.speed_kmh)
        if since is not None:
            q = q.where(t.c.ts >= since)
        if kind is not None:
            q = q.where(t.c.entity_id.in_(select(e.c.id).where(e.c.kind == kind)))
        out: dict[str, list[Position]] = {}
        with self.engine.connect() as conn:
            chunks = _chunks(sorted(set(entity_ids)), 500) if entity_ids is not None else [None]
            for chunk in chunks:
                qq = q if chunk is None else q.where(t.c.entity_id.in_(chunk))
                for row in conn.execute(qq.order_by(t.c.entity_id, t.c.ts)):
                    out.setdefault(row[0], []).append(Position(*row))
        return {k: v[-limit:] for k, v in out.items()}

    def trim_tracks(self, older_than: float) -> int:
        """Delete track points older than ``older_than`` (epoch seconds); returns how many went."""
        t = twin.TrackPoint.__table__
        with self.engine.begin() as conn:
            n = conn.execute(t.delete().where(t.c.ts < older_than)).rowcount
        return int(n or 0)

    # -- alerts ---------------------------------------------------------------------------
    def raise_alert(self, draft: AlertDraft, plugin: str) -> tuple[twin.Alert, bool]:
        """Open an alert, or escalate the open one of the same (rule, entity). Returns (alert, is_new_or_escalated).

        An open alert keeps its worst level: a draft at that level or worse replaces its severity,
        titles, messages and value (and details: when the draft has some, or always on escalation);
        a milder draft changes nothing (there is no de-escalation; the rule's ``clears`` closes it)."""
        with self.session() as db:
            existing = db.scalars(select(twin.Alert).where(
                twin.Alert.rule_id == draft.rule_id, twin.Alert.entity_id == draft.entity_id,
                twin.Alert.state != "closed")).first()
            if existing is not None:
                changed = int(draft.severity) < existing.severity
                if int(draft.severity) <= existing.severity:
                    # The alert keeps its worst level (a milder draft changes nothing); at that level or
                    # worse its title, message, value and details follow the draft, so an escalated
                    # alert reads as its new level (blue → red: the red title, not the blue one).
                    existing.severity = int(draft.severity)
                    existing.title, existing.title_en = draft.title, draft.title_en
                    existing.value, existing.message = draft.value, draft.message
                    existing.message_en = draft.message_en
                    if draft.details is not None or changed:   # an escalation drops the milder level's evidence
                        existing.details = draft.details
                db.add(existing)
                db.commit()
                return existing, changed
            alert = twin.Alert(plugin=plugin, rule_id=draft.rule_id, entity_id=draft.entity_id,
                               severity=int(draft.severity), title=draft.title,
                               message=draft.message, value=draft.value, details=draft.details,
                               title_en=draft.title_en, message_en=draft.message_en,
                               is_drill=bool(draft.drill or (draft.details or {}).get("drill")))
            db.add(alert)
            db.commit()
            return alert, True

    def set_alert_state(self, alert_id: int, state: str, actor: str) -> twin.Alert:
        """Acknowledge or close an alert, audited."""
        if state not in ("acknowledged", "closed"):
            raise StoreError(f"alert state must be 'acknowledged' or 'closed', not {state!r}")
        with self.session() as db:
            alert = db.get(twin.Alert, alert_id)
            if alert is None:
                raise StoreError(f"no alert with id {alert_id}")
            old = alert.state
            alert.state = state
            now = time.time()
            if state == "acknowledged":
                alert.acknowledged_at, alert.acknowledged_by = now, actor
            else:
                alert.closed_at = now
            db.add(alert)
            db.add(twin.AuditEntry(actor=actor, action=f"alert.{state}", target=f"alert:{alert_id}",
                                   old=old, new=state))
            db.commit()
            return alert

    def close_alerts_for(self, rule_id: str, entity_id: str) -> list[int]:
        """Close the open alerts of (rule, entity) when the value is back to normal."""
        a = twin.Alert.__table__
        with self.engine.begin() as conn:
            ids = [i for (i,) in conn.execute(select(a.c.id).where(
                a.c.rule_id == rule_id, a.c.entity_id == entity_id, a.c.state != "closed"))]
            if ids:
                conn.execute(update(a).where(a.c.id.in_(ids)).values(state="closed", closed_at=time.time()))
        return ids

    def alerts(self, states: Sequence[str] = ("open", "acknowledged"), limit: int = 100,
               drill: bool | None = False) -> list[twin.Alert]:
        """Alerts in the given states, most severe and newest first.

        ``drill``: False (default) live alerts only, so a drill never shows in a live list or count;
        True a drill's alerts only; None both.
        """
        with self.session() as db:
            q = select(twin.Alert).where(twin.Alert.state.in_(states))  # type: ignore[attr-defined]
            if drill is not None:
                q = q.where(twin.Alert.is_drill == drill)  # type: ignore[arg-type]
            q = (q.order_by(twin.Alert.severity, twin.Alert.opened_at.desc()).limit(limit))  # type: ignore[attr-defined]
            return list(db.scalars(q).all())

    # -- plugin state and audit -----------------------------------------------------------------
    def plugin_state(self, name: str) -> twin.PluginState | None:
        """A plugin's stored enabled flag and settings (None before a manager changed either)."""
        with self.session() as db:
            return db.get(twin.PluginState, name)

    def set_plugin_enabled(self, name: str, enabled: bool, actor: str) -> None:
        """Store a plugin's enabled flag, audited with old and new value."""
        with self.session() as db:
            existing = db.get(twin.PluginState, name)
            old = existing.enabled if existing is not None else None
            row = existing or twin.PluginState(name=name)
            row.enabled, row.updated_at = enabled, time.time()
            db.add(row)
            db.add(twin.AuditEntry(actor=actor, action="plugin.enable" if enabled else "plugin.disable",
                                   target=f"plugin:{name}", old=old, new=enabled))
            db.commit()

    def set_plugin_settings(self, name: str, settings: dict[str, Any], actor: str) -> None:
        """Store a plugin's settings as a manager saved them, audited with old and new value."""
        with self.session() as db:
            row = db.get(twin.PluginState, name) or twin.PluginState(name=name)
            old = dict(row.settings or {})
            row.settings, row.updated_at = dict(settings), time.time()
            db.add(row)
            db.add(twin.AuditEntry(actor=actor, action="plugin.settings", target=f"plugin:{name}",
                                   old=old, new=dict(settings)))
            db.commit()

    def audit(self, actor: str, action: str, target: str, old: Any = None, new: Any = None) -> None:
        """Append one line to the audit log: who did what to which target, from which value to which."""
        with self.session() as db:
            db.add(twin.AuditEntry(actor=actor, action=action, target=target, old=old, new=new))
            db.commit()

    def audit_log(self, limit: int = 200) -> list[twin.AuditEntry]:
        """The newest ``limit`` audit entries, newest first."""
        with self.session() as db:
            q = select(twin.AuditEntry).order_by(twin.AuditEntry.id.desc()).limit(limit)  # type: ignore[union-attr]
            return list(db.scalars(q).all())


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def open_store(url: str) -> Store:
    """Engine + schema in one step; StoreError when the database cannot be used."""
    store = Store(make_engine(url))
    try:
        store.create_schema()
    except OperationalError as exc:
        raise StoreError(f"cannot create the schema: {str(exc).splitlines()[0]}") from exc
    return store
