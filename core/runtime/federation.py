"""The five-level interconnection (上下级互联互通): this instance's outbox, inbox, sender and feeder.

- **Outbox** (``federation_outbox``): every message for a peer is a row first; the sender posts due rows in
  batches and marks them sent when the peer answers 200, else retries them with exponential back-off and
  jitter. The rows are the truth: a peer that is down, or this process restarting, loses nothing.
- **Inbox** (``federation_inbox``, unique message id): a received message is stored once; a replay is
  answered "already received" and stored nothing. Messages from a peer below are forwarded to the peers
  above in the same transaction (street → district → city), so forwarding is exactly as durable as receipt.
- **Feeder**: reads the store by cursor (incident timeline rows, published warnings) and queues them, plus
  a periodic summary of the open alerts. It and the sender run where sources run (the one-process host or
  the active worker): one sender per deployment.

See docs/federation.md for the wire format and the reasoning (why not a Celery queue).
"""

from __future__ import annotations

import json
import logging
import os
import random
import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from core.data import twin
from core.data.store import Store
from core.runtime.bus import AlertClosed, AlertRaised, Bus, Event
from core.runtime import federation_wire as wire
from core.settings import FederationPeer, FederationSettings

log = logging.getLogger("twinboard.federation")


@dataclass(frozen=True)
class FederationReceived(Event):
    """Messages from another instance were stored in the inbox (and queued onward): screens refresh, and the
    sender of a worker process wakes to forward them."""

    count: int = 0
    peer: str = ""
    types: tuple[str, ...] = ()


@dataclass(frozen=True)
class FederationQueued(Event):
    """Messages were put in the outbox in some process: the sender wakes."""

    count: int = 0


class Federation:
    """One per host with ``federation`` settings; ``start()`` runs the sender and feeder (active host only)."""

    def __init__(self, settings: FederationSettings, store: Store, bus: Bus,
                 env: dict[str, str] | None = None) -> None:
        self.settings, self.store, self.bus = settings, store, bus
        self.env = env if env is not None else os.environ
        self.peers = {p.name: p for p in settings.peers}
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._peer_wait: dict[str, float] = {}
        self._peer_attempts: dict[str, int] = {}
        #: per peer: the last error and when; "" when the last request worked
        self.peer_status: dict[str, dict[str, Any]] = {}
        self._last_summary = 0.0
        self._last_feed = 0.0
        bus.subscribe(FederationReceived, lambda _e: self._wake.set())
        bus.subscribe(FederationQueued, lambda _e: self._wake.set())
        bus.subscribe(AlertRaised, self._alerts_changed)
        bus.subscribe(AlertClosed, self._alerts_changed)

    # -- peers -----------------------------------------------------------------------------------
    def secret(self, peer: FederationPeer) -> bytes | None:
        """The peer's shared secret from the environment (None when unset)."""
        value = self.env.get(peer.secret_env)
        return value.encode("utf-8") if value else None

    def up(self) -> list[FederationPeer]:
        return [p for p in self.peers.values() if p.direction == "up"]

    def down(self) -> list[FederationPeer]:
        return [p for p in self.peers.values() if p.direction == "down"]

    # -- outbox ----------------------------------------------------------------------------------
    def _insert_ignore(self, conn: Any, table: Any, rows: list[dict[str, Any]], keys: list[str]) -> int:
        """Insert ``rows``, skipping those whose ``keys`` exist; returns how many went in."""
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        n = 0
        for row in rows:
            res = conn.execute(dialect.insert(table).values(**row).on_conflict_do_nothing(index_elements=keys))
            n += int(res.rowcount or 0)
        return n

    def queue(self, conn: Any, env: dict[str, Any], peers: list[FederationPeer]) -> int:
        """Put ``env`` in the outbox for each of ``peers`` (inside the caller's transaction)."""
        now = time.time()
        rows = [{"msg_id": env["id"], "peer": p.name, "type": env["type"], "envelope": env, "state": "pending",
                 "attempts": 0, "next_at": now, "created_at": now} for p in peers if p.url]
        return self._insert_ignore(conn, twin.FederationOutbox.__table__, rows, ["msg_id", "peer"])

    def send(self, type_: str, payload: dict[str, Any], peers: list[FederationPeer],
             msg_id: str | None = None) -> dict[str, Any]:
        """A new message from this instance, queued for ``peers``; returns its envelope."""
        env = wire.envelope(type_, self.settings.level, self.settings.name, payload, msg_id=msg_id)
        with self.store.engine.begin() as conn:
            n = self.queue(conn, env, peers)
        if n:
            self.bus.publish(FederationQueued(count=n))
        return env

    # -- inbox -----------------------------------------------------------------------------------
    def receive(self, headers: Any, body: bytes, address: str = "") -> tuple[int, dict[str, Any]]:
        """Check and store one request's messages: (HTTP status, JSON answer). Every refusal is logged and
        audited and stores nothing; a replayed message id is answered ``already_received`` (200)."""
        name = (headers.get(wire.PEER_HEADER) or "")[:64]
        try:
            if len(body) > self.settings.max_bytes:
                raise wire.WireError(413, f"body of {len(body)} bytes; at most {self.settings.max_bytes}")
            peer = self.peers.get(name)
            if peer is None:
                raise wire.WireError(401, f"unknown peer {name!r} (the {wire.PEER_HEADER} header)")
            wire.check_timestamp(headers.get(wire.TS_HEADER), self.settings.max_skew_s)
            secret = self.secret(peer)
            if secret is None:
                raise wire.WireError(503, f"this instance has no secret for peer {peer.name!r} "
                                          f"(environment variable {peer.secret_env} is unset)")
            if not wire.verify(secret, headers.get(wire.TS_HEADER) or "", body, headers.get(wire.SIG_HEADER) or ""):
                raise wire.WireError(401, f"wrong signature (the {wire.SIG_HEADER} header) for peer {peer.name!r}")
            messages = wire.parse_body(body)
            allowed = wire.TYPES_UP if peer.direction == "down" else wire.TYPES_DOWN
            for i, m in enumerate(messages):
                if m["type"] not in allowed:
                    raise wire.WireError(403, f"{m['type']!r} does not flow from a peer {'below' if peer.direction == 'down' else 'above'}"
                                              f" (allowed: {', '.join(allowed)})", f"messages[{i}].type")
        except wire.WireError as exc:
            self.refused(exc, name, address)
            return exc.status, exc.as_dict()
        results = self._store_messages(peer, messages)
        stored = [r for r in results if r["status"] == "stored"]
        if stored:
            self.bus.publish(FederationReceived(count=len(stored), peer=peer.name,
                                                types=tuple(sorted({m["type"] for m in messages}))))
        return 200, {"results": results}

    def _store_messages(self, peer: FederationPeer, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        inbox = twin.FederationInbox.__table__
        forward_to = self.up() if peer.direction == "down" else []
        me = {"level": self.settings.level, "name": self.settings.name}
        results = []
        now = time.time()
        with self.store.engine.begin() as conn:
            for m in messages:
                row = {"msg_id": m["id"], "type": m["type"], "peer": peer.name, "origin_level": m["origin"]["level"],
                       "origin_name": m["origin"]["name"], "created": m["created"], "received_at": now,
                       "payload": m["payload"], "via": m["via"]}
                fresh = self._insert_ignore(conn, inbox, [row], ["msg_id"]) == 1
                results.append({"id": m["id"], "status": "stored" if fresh else "already_received"})
                if fresh and forward_to and len(m["via"]) < wire.MAX_HOPS:
                    self.queue(conn, {**m, "via": [*m["via"], me]}, forward_to)
        return results

    def refused(self, exc: wire.WireError, peer: str, address: str) -> None:
        """Log and audit a refused request (nothing of it is stored)."""
        log.warning("federation: refused a request from %s (peer %r): %s %s", address or "?", peer, exc.status, exc)
        try:
            self.store.audit("federation", "federation.refused", f"peer:{peer or '?'}"[:256], None,
                             {"status": exc.status, "reason": str(exc)[:500], "address": address})
        except Exception as err:  # noqa: BLE001 - the answer still goes out; the log has it
            log.error("federation: refusal not audited: %s", err)

    # -- sender ----------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the sender and feeder thread (the process that runs sources)."""
        if self._thread is not None:
            return
        self._init_cursors()
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="federation-sender", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(10)
        self._thread = None

    def _loop(self) -> None:
        import requests
        session = requests.Session()
        while not self._stop.is_set():
            busy = False
            try:
                self.feed()
                for peer in list(self.peers.values()):
                    if peer.url and self._peer_wait.get(peer.name, 0.0) <= time.time():
                        busy |= self.deliver(peer, session) > 0
            except Exception as exc:  # noqa: BLE001 - database away: keep trying
                log.warning("federation: sender turn failed: %s", str(exc).splitlines()[0])
                self._stop.wait(1.0)
            if not busy:
                self._wake.wait(self._idle_wait())
                self._wake.clear()
        session.close()

    def _idle_wait(self) -> float:
        waits = [w - time.time() for w in self._peer_wait.values() if w > time.time()]
        return max(0.01, min([0.5, *waits]))

    def backoff(self, attempts: int) -> float:
        """Seconds before retry number ``attempts``: exponential, capped, with jitter (half to all of it)."""
        s = self.settings
        delay = min(s.retry_max_s, s.retry_base_s * (2 ** max(0, min(attempts - 1, 30))))
        return delay / 2 + random.uniform(0, delay / 2)

    def deliver(self, peer: FederationPeer, session: Any) -> int:
        """Post the peer's due outbox rows (one batch); returns how many it acknowledged."""
        t = twin.FederationOutbox
        now = time.time()
        with self.store.engine.connect() as conn:
            rows = list(conn.execute(select(t.id, t.envelope, t.attempts).where(
                t.peer == peer.name, t.state == "pending", t.next_at <= now).order_by(t.id).limit(self.settings.batch)))
        if not rows:
            return 0
        return self._post(peer, session, rows)

    def _post(self, peer: FederationPeer, session: Any, rows: list[Any]) -> int:
        t = twin.FederationOutbox
        secret = self.secret(peer)
        if secret is None:
            return self._failed(peer, rows, f"no secret: environment variable {peer.secret_env} is unset")
        envs = [r.envelope if isinstance(r.envelope, dict) else json.loads(r.envelope) for r in rows]
        body = wire.encode(envs)
        try:
            resp = session.post(peer.url.rstrip("/") + wire.INBOX_PATH, data=body, timeout=self.settings.timeout_s,
                                headers=wire.signed_headers(secret, self.settings.name, body))
        except Exception as exc:  # noqa: BLE001 - any transport error: the peer is down for now
            return self._failed(peer, rows, f"{exc.__class__.__name__}: {str(exc)[:300]}")
        if resp.status_code in (400, 413):
            # the peer refuses the content: find the row it refuses (one at a time), keep the rest flowing
            if len(rows) > 1:
                return sum(self._post(peer, session, [r]) for r in rows)
            with self.store.engine.begin() as conn:
                conn.execute(update(t).where(t.id == rows[0].id).values(
                    state="refused", attempts=t.attempts + 1, last_error=f"HTTP {resp.status_code}: {resp.text[:400]}"))
            log.error("federation: peer %s refused message %s: %s", peer.name, envs[0].get("id"), resp.text[:300])
            return 1
        if resp.status_code != 200:
            return self._failed(peer, rows, f"HTTP {resp.status_code}: {resp.text[:300]}")
        acked = {r.get("id") for r in (resp.json().get("results") or []) if isinstance(r, dict)}
        done = [r.id for r, env in zip(rows, envs) if env.get("id") in acked]
        with self.store.engine.begin() as conn:
            conn.execute(update(t).where(t.id.in_(done)).values(state="sent", sent_at=time.time(), last_error=None))
        self._peer_attempts[peer.name] = 0
        self._peer_wait.pop(peer.name, None)
        self.peer_status[peer.name] = {"ok": True, "error": "", "at": time.time()}
        return len(done)

    def _failed(self, peer: FederationPeer, rows: list[Any], error: str) -> int:
        attempts = self._peer_attempts.get(peer.name, 0) + 1
        self._peer_attempts[peer.name] = attempts
        wait = self.backoff(attempts)
        self._peer_wait[peer.name] = time.time() + wait
        self.peer_status[peer.name] = {"ok": False, "error": error, "at": time.time()}
        if attempts == 1:
            log.warning("federation: peer %s not reached (%s); retrying with back-off", peer.name, error)
        t = twin.FederationOutbox
        with self.store.engine.begin() as conn:
            conn.execute(update(t).where(t.id.in_([r.id for r in rows])).values(
                attempts=t.attempts + 1, next_at=time.time() + wait, last_error=error[:500]))
        return 0

    # -- feeder ----------------------------------------------------------------------------------
    def _alerts_changed(self, _event: Event) -> None:
        # an alert opened or closed: the next summary goes within a few seconds, not at the next interval
        interval = self.settings.summary_interval_s
        if interval:
            self._last_summary = min(self._last_summary, time.time() - interval + 5.0)

    def _cursor(self, conn: Any, name: str) -> float | None:
        return conn.execute(select(twin.FederationCursor.value).where(twin.FederationCursor.name == name)).scalar()

    def _set_cursor(self, conn: Any, name: str, value: float) -> None:
        t = twin.FederationCursor.__table__
        if conn.execute(update(t).where(t.c.name == name).values(value=value)).rowcount == 0:
            conn.execute(t.insert().values(name=name, value=value))

    def _init_cursors(self) -> None:
        """A new instance starts from now: history is not replayed to the peers."""
        with self.store.engine.begin() as conn:
            if self._cursor(conn, "incident_event") is None:
                top = conn.execute(select(func.max(twin.IncidentEvent.id))).scalar() or 0
                self._set_cursor(conn, "incident_event", float(top))
            if self._cursor(conn, "warning") is None:
                self._set_cursor(conn, "warning", time.time())

    def feed(self, force: bool = False) -> int:
        """Queue new incident steps, published warnings and (when due) the alert summary; returns how many."""
        now = time.time()
        if not force and now - self._last_feed < 0.2:
            return 0
        self._last_feed = now
        n = 0
        up, everyone = self.up(), list(self.peers.values())
        with self.store.engine.begin() as conn:
            if up:
                n += self._feed_incidents(conn, up)
            if everyone:
                n += self._feed_warnings(conn, everyone)
        interval = self.settings.summary_interval_s
        if up and interval and now - self._last_summary >= interval:
            self._last_summary = now
            self.send("alert_summary", self.alert_summary(), up)
            n += 1
        return n

    def _feed_incidents(self, conn: Any, up: list[FederationPeer]) -> int:
        ev, inc = twin.IncidentEvent, twin.Incident
        cursor = self._cursor(conn, "incident_event") or 0.0
        cols = (ev.id, ev.ts, ev.kind.label("event"), ev.message, inc.id.label("incident_id"), inc.title,  # type: ignore[attr-defined]
                inc.kind.label("incident_kind"), inc.severity, inc.state, inc.geometry, inc.is_drill)  # type: ignore[attr-defined]
        rows = list(conn.execute(select(*cols).join(inc, inc.id == ev.incident_id).where(ev.id > cursor)
                                 .order_by(ev.id).limit(500)))
        for r in rows:
            geometry = r.geometry if isinstance(r.geometry, dict) or r.geometry is None else json.loads(r.geometry)
            pt = _point(geometry)
            payload = {"incident_id": r.incident_id, "title": r.title, "kind": r.incident_kind, "severity": r.severity,
                       "state": r.state, "event": r.event, "message": (r.message or "")[:wire.MAX_TEXT], "ts": r.ts,
                       "is_drill": bool(r.is_drill), **({"lon": pt[0], "lat": pt[1]} if pt else {})}
            msg_id = f"{self.settings.name}.ie.{r.id}.{int(r.ts * 1000)}"[-64:]
            self.queue(conn, wire.envelope("incident", self.settings.level, self.settings.name, payload,
                                           msg_id=msg_id, created=r.ts), up)
        if rows:
            self._set_cursor(conn, "incident_event", float(rows[-1].id))
        return len(rows)

    def _feed_warnings(self, conn: Any, peers: list[FederationPeer]) -> int:
        w = twin.WarningPublication
        cursor = self._cursor(conn, "warning") or 0.0
        cols = (w.id, w.title, w.level, w.message, w.incident_id, w.is_drill, w.published_at)
        rows = list(conn.execute(select(*cols).where(w.state == "published", w.published_at >= cursor)  # type: ignore[operator]
                                 .order_by(w.published_at).limit(200)))
        queued = 0
        for pub in rows:
            payload = {"title": pub.title, "level": pub.level, "message": (pub.message or "")[:wire.MAX_TEXT],
                       "incident_id": pub.incident_id, "is_drill": bool(pub.is_drill), "published_at": pub.published_at}
            # the cursor is inclusive (two warnings may share a published_at): the outbox's unique (msg_id, peer)
            # keeps a warning read twice from being queued twice
            queued += bool(self.queue(conn, wire.envelope("warning", self.settings.level, self.settings.name, payload,
                                                          msg_id=f"{self.settings.name}.wp.{pub.id}"[-64:],
                                                          created=pub.published_at), peers))
        if rows:
            self._set_cursor(conn, "warning", float(rows[-1].published_at or cursor))
        return queued

    def alert_summary(self) -> dict[str, Any]:
        """The open alerts: counts per severity and per plugin, and the five newest."""
        a = twin.Alert
        with self.store.engine.connect() as conn:
            by_sev = dict(conn.execute(select(a.severity, func.count()).where(a.state != "closed").group_by(a.severity)).all())
            by_plugin = dict(conn.execute(select(a.plugin, func.count()).where(a.state != "closed").group_by(a.plugin)).all())
            newest = list(conn.execute(select(a.title, a.severity, a.opened_at).where(a.state != "closed")
                                       .order_by(a.opened_at.desc()).limit(5)))
        return {"open": {str(s): int(by_sev.get(s, 0)) for s in (1, 2, 3, 4)},
                "by_plugin": {str(k): int(v) for k, v in by_plugin.items()},
                "newest": [{"title": r.title, "severity": r.severity, "opened_at": r.opened_at} for r in newest]}

    # -- operators -------------------------------------------------------------------------------
    def republish(self, inbox_id: int, actor: str) -> dict[str, Any]:
        """Re-publish a received warning (or instruction) to the peers below, audited; ValueError when it
        is not one, or there is no peer below."""
        down = self.down()
        if not down:
            raise ValueError("no peer below this instance is configured")
        with self.store.session() as db:
            row = db.get(twin.FederationInbox, inbox_id)
            if row is None:
                raise ValueError(f"no received message #{inbox_id}")
            if row.type not in wire.TYPES_DOWN:
                raise ValueError(f"a received {row.type} is not re-published downward (only {', '.join(wire.TYPES_DOWN)})")
            payload = {**row.payload, "republished_from": {"id": row.msg_id, "level": row.origin_level,
                                                            "name": row.origin_name}}
            kind = row.type
        env = self.send(kind, payload, down)
        with self.store.session() as db:
            row = db.get(twin.FederationInbox, inbox_id)
            row.republished_at, row.republished_by = time.time(), actor[:64]
            db.add(row)
            db.commit()
        self.store.audit(actor, "federation.republish", f"federation_inbox:{inbox_id}", None,
                         {"id": env["id"], "to": [p.name for p in down]})
        return env

    def instruct(self, title: str, message: str, peer_names: list[str], actor: str) -> dict[str, Any]:
        """Send an instruction to peers below (all when ``peer_names`` is empty), audited; ValueError on bad input."""
        down = {p.name: p for p in self.down()}
        if not down:
            raise ValueError("no peer below this instance is configured")
        unknown = [n for n in peer_names if n not in down]
        if unknown:
            raise ValueError(f"to: {unknown[0]!r} is not a peer below this instance")
        targets = [down[n] for n in peer_names] if peer_names else list(down.values())
        try:
            env = self.send("instruction", {"title": title.strip(), "message": message.strip(), "issued_by": actor},
                            targets)
        except wire.WireError as exc:
            raise ValueError(str(exc).replace("message.payload.", "")) from None
        self.store.audit(actor, "federation.instruction", f"federation:{env['id']}", None,
                         {"title": title.strip(), "to": [p.name for p in targets]})
        return env

    def status(self) -> dict[str, Any]:
        """Per peer: queued, sent and refused counts, the oldest pending row's age, the last error."""
        t = twin.FederationOutbox
        with self.store.engine.connect() as conn:
            counts = list(conn.execute(select(t.peer, t.state, func.count(), func.min(t.created_at))
                                       .group_by(t.peer, t.state)))
            errors = dict(conn.execute(select(t.peer, t.last_error).where(t.state == "pending",
                                                                          t.last_error.is_not(None))
                                       .order_by(t.id.desc())).all())
        out: dict[str, Any] = {}
        for p in self.peers.values():
            out[p.name] = {"name": p.name, "url": p.url, "direction": p.direction, "level": p.level,
                           "secret_set": self.secret(p) is not None, "pending": 0, "sent": 0, "refused": 0,
                           "oldest_pending": None, "last_error": errors.get(p.name) or
                           (self.peer_status.get(p.name) or {}).get("error") or ""}
        for peer, state, n, oldest in counts:
            if peer in out and state in ("pending", "sent", "refused"):
                out[peer][state] = int(n)
                if state == "pending":
                    out[peer]["oldest_pending"] = oldest
        return {"level": self.settings.level, "name": self.settings.name, "peers": list(out.values())}


def _point(geometry: dict[str, Any] | None) -> tuple[float, float] | None:
    """A geometry's first coordinate (a point's own), or None."""
    c: Any = (geometry or {}).get("coordinates")
    while isinstance(c, list) and c and isinstance(c[0], list):
        c = c[0]
    if isinstance(c, list) and len(c) >= 2 and all(isinstance(v, (int, float)) for v in c[:2]):
        return float(c[0]), float(c[1])
    return None


def received(store: Store, limit: int = 20, types: tuple[str, ...] = ()) -> list[twin.FederationInbox]:
    """The newest messages received from other instances (newest first), optionally of some types only."""
    t = twin.FederationInbox
    q = select(t).order_by(t.id.desc()).limit(limit)  # type: ignore[union-attr]
    if types:
        q = q.where(t.type.in_(types))  # type: ignore[attr-defined]
    with store.session() as db:
        return list(db.scalars(q).all())


def received_items(store: Store, limit: int = 20) -> list[dict[str, Any]]:
    """Messages this instance received from the levels above and below (上下级互通), newest first, as dicts:
    ``type`` (incident, warning, alert_summary, instruction), ``type_zh``/``type_en``, ``origin_level``
    (ministry, province, city, district, street), ``level_zh``/``level_en`` (部/省/市/区/街道), ``origin_name``,
    ``title`` (an alert summary's is its open-alarm count), ``severity`` (1-4 or None), ``received_at``
    (epoch s), ``payload`` (the message's own fields, docs/federation.md) and ``peer`` (who delivered it).
    Empty when the interconnection is not configured."""
    out = []
    for r in received(store, limit):
        p = r.payload or {}
        title = p.get("title") or ""
        if r.type == "alert_summary":
            opened = p.get("open") or {}
            title = "Ⅰ{} Ⅱ{} Ⅲ{} Ⅳ{}".format(*(opened.get(k, 0) for k in ("1", "2", "3", "4")))
        sev = p.get("severity")
        out.append({"id": r.id, "msg_id": r.msg_id, "type": r.type, "type_zh": wire.TYPE_TEXT[r.type][0],
                    "type_en": wire.TYPE_TEXT[r.type][1], "origin_level": r.origin_level,
                    "level_zh": wire.LEVEL_TEXT[r.origin_level][0], "level_en": wire.LEVEL_TEXT[r.origin_level][1],
                    "origin_name": r.origin_name, "title": str(title), "severity": sev if isinstance(sev, int) else None,
                    "received_at": r.received_at, "payload": p, "peer": r.peer})
    return out
