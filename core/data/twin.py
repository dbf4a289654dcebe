"""The twin store's tables (sqlmodel): sites, entities, relations, readings, alerts, incidents, plugin state, audit."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, Integer, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel


def _now() -> float:
    return time.time()


class Site(SQLModel, table=True):
    """A place the twin covers (a chemical park, a district, a forest area)."""

    __tablename__ = "site"
    id: str = Field(primary_key=True, max_length=64)
    name: str
    name_en: str = ""
    lon: float = 0.0
    lat: float = 0.0
    zoom: float = 13.0
    properties: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    updated_at: float = Field(default_factory=_now)


class Entity(SQLModel, table=True):
    """One thing in the twin: building, tank, sensor, camera, station, shelter, team, enterprise..."""

    __tablename__ = "entity"
    __table_args__ = (Index("ix_entity_site_kind", "site_id", "kind"),)
    id: str = Field(primary_key=True, max_length=128)
    site_id: str | None = Field(default=None, foreign_key="site.id", max_length=64)
    kind: str = Field(index=True, max_length=32)
    name: str
    name_en: str = ""
    plugin: str = Field(default="", max_length=64)
    geometry: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    properties: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    updated_at: float = Field(default_factory=_now)


class Relation(SQLModel, table=True):
    """A typed link between two entities (sensor ``monitors`` tank, tank ``in`` zone)."""

    __tablename__ = "relation"
    __table_args__ = (UniqueConstraint("source_id", "kind", "target_id"),)
    id: int | None = Field(default=None, primary_key=True)
    source_id: str = Field(foreign_key="entity.id", index=True, max_length=128)
    kind: str = Field(max_length=32)
    target_id: str = Field(foreign_key="entity.id", index=True, max_length=128)


class Series(SQLModel, table=True):
    """One measured quantity of one entity: the key readings hang off."""

    __tablename__ = "series"
    __table_args__ = (UniqueConstraint("entity_id", "metric"),)
    id: int | None = Field(default=None, primary_key=True)
    entity_id: str = Field(index=True, max_length=128)
    metric: str = Field(max_length=64)
    unit: str = Field(default="", max_length=16)


class Reading(SQLModel, table=True):
    """A time-series value. The primary key (series, ts) makes re-delivery idempotent."""

    __tablename__ = "reading"
    __table_args__ = ({"sqlite_with_rowid": False},)
    series_id: int = Field(primary_key=True, foreign_key="series.id")
    ts: float = Field(primary_key=True)
    value: float


class Alert(SQLModel, table=True):
    """An alarm: severity I–IV, state open → acknowledged → closed."""

    __tablename__ = "alert"
    __table_args__ = (Index("ix_alert_state_sev", "state", "severity"),
                      Index("ix_alert_rule_entity", "rule_id", "entity_id", "state"))
    id: int | None = Field(default=None, primary_key=True)
    plugin: str = Field(max_length=64)
    rule_id: str = Field(max_length=128)
    entity_id: str = Field(max_length=128)
    severity: int = Field(ge=1, le=4)
    state: str = Field(default="open", max_length=16)
    title: str
    message: str = ""
    value: float | None = None
    details: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    #: the English title and message (shown with ?lang=en); empty: the Chinese ones are shown
    title_en: str = ""
    message_en: str = ""
    opened_at: float = Field(default_factory=_now, index=True)
    acknowledged_at: float | None = None
    acknowledged_by: str | None = None
    closed_at: float | None = None
    incident_id: int | None = Field(default=None, foreign_key="incident.id")
    #: raised by a drill (模拟演练): kept apart from every live figure (``Store.alerts`` leaves it out)
    is_drill: bool = False

    def title_in(self, lang: str) -> str:
        """The title in ``lang`` ("zh" or "en"; the Chinese one when there is no English one)."""
        return (self.title_en or self.title) if lang == "en" else self.title

    def message_in(self, lang: str) -> str:
        """The message in ``lang`` ("zh" or "en"; the Chinese one when there is no English one)."""
        return (self.message_en or self.message) if lang == "en" else self.message


class TrackPoint(SQLModel, table=True):
    """One position of a moving entity (``Store.move``): its track is its points in time order."""

    __tablename__ = "track_point"
    __table_args__ = ({"sqlite_with_rowid": False},)
    entity_id: str = Field(primary_key=True, max_length=128)
    ts: float = Field(primary_key=True)
    lon: float
    lat: float
    heading_deg: float | None = None
    speed_kmh: float | None = None


class Incident(SQLModel, table=True):
    """An emergency being handled; alerts may open one; drills are marked."""

    __tablename__ = "incident"
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=32)
    title: str
    severity: int = Field(default=4, ge=1, le=4)
    state: str = Field(default="intake", max_length=16, index=True)
    site_id: str | None = Field(default=None, foreign_key="site.id", max_length=64)
    entity_id: str | None = Field(default=None, max_length=128)
    geometry: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    properties: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    is_drill: bool = False
    opened_at: float = Field(default_factory=_now)
    closed_at: float | None = None


class PluginState(SQLModel, table=True):
    """A plugin's lifecycle as park managers set it: enabled flag and saved settings."""

    __tablename__ = "plugin_state"
    name: str = Field(primary_key=True, max_length=64)
    enabled: bool = True
    settings: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    updated_at: float = Field(default_factory=_now)


class AuditEntry(SQLModel, table=True):
    """Who changed what, when, from which value to which."""

    __tablename__ = "audit"
    id: int | None = Field(default=None, primary_key=True)
    ts: float = Field(default_factory=_now, index=True)
    actor: str = Field(max_length=64)
    action: str = Field(max_length=64)
    target: str = Field(max_length=256)
    old: Any = Field(default=None, sa_column=Column(JSON))
    new: Any = Field(default=None, sa_column=Column(JSON))


class User(SQLModel, table=True):
    """A person who signs in: viewer (screens), manager (admin, plugins, alerts), admin (users), or a
    scoped role (``field``: a grid worker) that ranks outside that ladder and holds a ``scope``
    such as ``grid:gp.grid.haimen-1`` (core.data.users.SCOPED_ROLES)."""

    __tablename__ = "user_account"
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(index=True, unique=True, max_length=64)
    password_hash: str = Field(max_length=256)
    role: str = Field(default="viewer", max_length=16)
    scope: str | None = Field(default=None, max_length=160)
    active: bool = True
    created_at: float = Field(default_factory=_now)


class KioskToken(SQLModel, table=True):
    """A long-lived, revocable, screen-only credential for a wall display (only its hash is stored)."""

    __tablename__ = "kiosk_token"
    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(index=True, unique=True, max_length=64)
    label: str = Field(max_length=128)
    created_by: str = Field(max_length=64)
    created_at: float = Field(default_factory=_now)
    revoked_at: float | None = None
    last_seen: float | None = None


class IncidentEvent(SQLModel, table=True):
    """One line of an incident's timeline ("who did what when"): every step, message and state change."""

    __tablename__ = "incident_event"
    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    ts: float = Field(default_factory=_now)
    actor: str = Field(max_length=64)
    kind: str = Field(max_length=32)
    message: str = ""
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class WarningPublication(SQLModel, table=True):
    """A warning to an area (预警发布): draft → reviewed → published (or cancelled), with its recipients."""

    __tablename__ = "warning_publication"
    id: int | None = Field(default=None, primary_key=True)
    state: str = Field(default="draft", max_length=16, index=True)
    level: str = Field(max_length=16)
    title: str
    message: str = ""
    area: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    groups: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    recipients: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    results: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    incident_id: int | None = Field(default=None, foreign_key="incident.id")
    is_drill: bool = False
    created_by: str = Field(max_length=64)
    created_at: float = Field(default_factory=_now)
    reviewed_by: str | None = Field(default=None, max_length=64)
    reviewed_at: float | None = None
    published_by: str | None = Field(default=None, max_length=64)
    published_at: float | None = None


class WallState(SQLModel, table=True):
    """The leaders' wall mode: "routine" (playlist rotation) or "incident" (the incident view)."""

    __tablename__ = "wall_state"
    wall: str = Field(primary_key=True, max_length=64)
    mode: str = Field(default="routine", max_length=16)
    incident_id: int | None = Field(default=None, foreign_key="incident.id")
    since: float = Field(default_factory=_now)
    actor: str = Field(default="system", max_length=64)


class EventLog(SQLModel, table=True):
    """Bus events of a multi-process deployment, in commit order: ``id`` is the cursor every process shares.

    Written by the event relay (``core.runtime.relay``) only when more than one process serves the twin;
    the one-process default keeps its bus in memory. Old rows are trimmed by the worker.
    """

    __tablename__ = "event_log"
    id: int | None = Field(default=None, primary_key=True)
    ts: float = Field(default_factory=_now, index=True)
    topic: str = Field(max_length=64)
    origin: str = Field(max_length=64)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class WorkerLease(SQLModel, table=True):
    """Who runs the sources: one row per lease name, held by one worker until ``expires_at``."""

    __tablename__ = "worker_lease"
    name: str = Field(primary_key=True, max_length=64)
    holder: str = Field(max_length=128)
    acquired_at: float = Field(default_factory=_now)
    expires_at: float = Field(default_factory=_now)


class SourceHeartbeat(SQLModel, table=True):
    """A source's liveness as the worker that runs it last wrote it, for web processes' freshness badges."""

    __tablename__ = "source_heartbeat"
    key: str = Field(primary_key=True, max_length=192)
    plugin: str = Field(max_length=64, index=True)
    holder: str = Field(max_length=128)
    last_beat: float | None = None
    last_data: float | None = None
    last_error: str | None = None
    restarts: int = 0
    running: bool = False
    updated_at: float = Field(default_factory=_now)


# -- GIS import (core.geo.gis_import): the bureau's own roads, boundaries, places and DEM -------------------
class GisImport(SQLModel, table=True):
    """The current import of one GIS layer (roads, boundary, places, shelters, resources, dem).

    Importing a layer again replaces this row, its features and its entities in one transaction;
    ``revision`` counts the imports of the layer so caches (the road graph, the DEM) know to reload.
    """

    __tablename__ = "gis_import"
    layer: str = Field(primary_key=True, max_length=16)
    revision: int = 1
    file_name: str = Field(max_length=256)
    sha256: str = Field(max_length=64)
    #: the source coordinate system, e.g. "EPSG:4549 (CGCS2000 / 3-degree Gauss-Kruger CM 120E)"
    source_crs: str = Field(default="", max_length=256)
    #: converted from GCJ-02 (--gcj02)
    gcj02: bool = False
    feature_count: int = 0
    #: [west, south, east, north] in WGS-84 degrees
    bounds: list[float] | None = Field(default=None, sa_column=Column(JSON))
    warnings: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    #: what the layer's import found: road nodes and edges, entities, the DEM's grid...
    summary: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    imported_at: float = Field(default_factory=_now)
    actor: str = Field(max_length=64)


class GisFeature(SQLModel, table=True):
    """One imported feature in WGS-84: geometry as WKB, the file's attributes as JSON.

    ``id`` is ``layer number << 32 | idx`` (core.geo.gis_import.LAYER_NUMBERS), so a layer is one
    contiguous range of the primary key: replaced and read back without a secondary index.
    """

    __tablename__ = "gis_feature"
    id: int = Field(sa_column=Column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True,
                                     autoincrement=False))
    layer: str = Field(max_length=16)
    #: the feature's index in the imported file (from 0)
    idx: int
    #: roads: the highway class word; points: the entity kind; boundary: the boundary's name or type
    kind: str = Field(default="", max_length=64)
    name: str = ""
    #: roads: travel speed (None: not for vehicles)
    speed_kmh: float | None = None
    #: roads: 1 one-way along the line, -1 against it, 0 both ways
    oneway: int = 0
    geometry: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    properties: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class GisRaster(SQLModel, table=True):
    """An imported raster (the DEM): a deflate-compressed GeoTIFF in WGS-84 lon/lat, kept in the database
    so every process and machine of a deployment reads the same one."""

    __tablename__ = "gis_raster"
    layer: str = Field(primary_key=True, max_length=16)
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class SigninLock(SQLModel, table=True):
    """A sign-in lock (core.web.throttle): too many failed sign-ins for one user name or from one address.

    Active while ``until`` lies ahead and nobody unlocked it; expired and unlocked rows stay as history.
    """

    __tablename__ = "signin_lock"
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16, index=True)       # "user" or "address"
    subject: str = Field(max_length=128, index=True)   # the user name as typed, or the client address
    failures: int
    locked_at: float = Field(default_factory=_now)
    until: float = Field(index=True)
    unlocked_at: float | None = None
    unlocked_by: str | None = Field(default=None, max_length=64)


class RateCounter(SQLModel, table=True):
    """One fixed-window counter of the ``limits`` library, kept in the database when no Redis is configured
    (core.web.throttle.SqlCounterStorage), so every process of a deployment counts together."""

    __tablename__ = "rate_counter"
    key: str = Field(primary_key=True, max_length=255)
    count: int = 0
    expires_at: float = 0.0


class FederationOutbox(SQLModel, table=True):
    """A message waiting for (or delivered to) one peer instance (core.runtime.federation): the outbox is the
    truth, the sender retries a row with back-off until the peer answers; ``(msg_id, peer)`` is unique."""

    __tablename__ = "federation_outbox"
    __table_args__ = (UniqueConstraint("msg_id", "peer", name="uq_federation_outbox_msg_peer"),
                      Index("ix_federation_outbox_due", "peer", "state", "next_at"))
    id: int | None = Field(default=None, primary_key=True)
    msg_id: str = Field(max_length=64)
    peer: str = Field(max_length=64)
    type: str = Field(max_length=32)
    envelope: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    state: str = Field(default="pending", max_length=16)   # pending, sent, refused
    attempts: int = 0
    next_at: float = Field(default_factory=_now)
    created_at: float = Field(default_factory=_now)
    sent_at: float | None = None
    last_error: str | None = None


class FederationInbox(SQLModel, table=True):
    """A message received from a peer; ``msg_id`` is unique, so a replayed message is never stored twice."""

    __tablename__ = "federation_inbox"
    id: int | None = Field(default=None, primary_key=True)
    msg_id: str = Field(max_length=64, unique=True, index=True)
    type: str = Field(max_length=32, index=True)
    peer: str = Field(max_length=64)                      # the peer that delivered it (configured name)
    origin_level: str = Field(max_length=16)
    origin_name: str = Field(max_length=128)
    created: float
    received_at: float = Field(default_factory=_now, index=True)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    via: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    republished_at: float | None = None
    republished_by: str | None = Field(default=None, max_length=64)


class FederationCursor(SQLModel, table=True):
    """How far the federation feeder has read one of the store's tables (incident events, warnings)."""

    __tablename__ = "federation_cursor"
    name: str = Field(primary_key=True, max_length=32)
    value: float = 0.0
