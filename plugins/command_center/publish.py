"""Warning publication (预警发布): area + level + recipient groups → review → publish through channels.

A publication is drafted for an area (a GeoJSON polygon drawn by a person, or an entity picked
from the map: a town, a village, a park) with a level (blue/yellow/orange/red) and recipient
groups: ``departments`` (every department entity, whatever the area), ``villages`` and
``enterprises`` (the entities of those kinds inside the area). Recipients are resolved when the
draft is made and kept with it. A person reviews it, then publishes it: each channel gets the
recipients and returns one result per recipient, stored with the publication; every step is
audited. A draft with no recipient is refused with the reason.

Channels: :class:`WarningChannel` is the interface for SMS or government messaging gateways
(installed as entry points in the group ``twinboard.warning_channels``); the built-in
:class:`FileChannel` appends one JSON line per recipient to an outbox file.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Protocol

import shapely
from shapely.geometry import shape
from sqlmodel import select

from core.api import Entity, Store, WarningPublication

from .incidents import point_of

log = logging.getLogger(__name__)
LEVELS = {"blue": ("蓝色预警", "Blue"), "yellow": ("黄色预警", "Yellow"), "orange": ("橙色预警", "Orange"),
          "red": ("红色预警", "Red")}
LEVEL_RGB = {"blue": [47, 140, 242], "yellow": [246, 211, 60], "orange": [245, 133, 42], "red": [232, 54, 59]}
GROUPS = {"departments": (("department",), "部门", "Departments"),
          "villages": (("village",), "村(社区)", "Villages"),
          "enterprises": (("enterprise", "sme_enterprise"), "企业", "Enterprises")}
CHANNEL_GROUP = "twinboard.warning_channels"


class PublicationError(ValueError):
    """Bad input or a step out of order; nothing was changed."""


class WarningChannel(Protocol):
    """Where published warnings go (SMS gateway, government messaging, a file). Implement ``send``."""

    name: str

    def send(self, publication: dict[str, Any], recipients: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Deliver ``publication`` to ``recipients``; return one {"recipient", "ok", "detail"} per recipient."""


class FileChannel:
    """The built-in channel: one JSON line per recipient appended to ``outbox`` (and a log line)."""

    name = "file"

    def __init__(self, outbox: Path) -> None:
        self.outbox = outbox
        self._lock = threading.Lock()

    def send(self, publication: dict[str, Any], recipients: list[dict[str, Any]]) -> list[dict[str, Any]]:
        self.outbox.parent.mkdir(parents=True, exist_ok=True)
        out = []
        with self._lock, self.outbox.open("a", encoding="utf-8") as fh:
            for r in recipients:
                fh.write(json.dumps({"ts": time.time(), "publication": publication["id"], "level": publication["level"],
                                     "title": publication["title"], "message": publication["message"],
                                     "drill": publication["is_drill"], "to": r}, ensure_ascii=False) + "\n")
                out.append({"recipient": r["id"], "channel": self.name, "ok": True, "detail": str(self.outbox)})
        log.info("warning #%s (%s) written to %s for %d recipients", publication["id"], publication["level"],
                 self.outbox, len(recipients))
        return out


def installed_channels(outbox: Path) -> list[WarningChannel]:
    """The file channel plus every channel installed under the ``twinboard.warning_channels`` group."""
    channels: list[WarningChannel] = [FileChannel(outbox)]
    for ep in entry_points(group=CHANNEL_GROUP):
        try:
            channels.append(ep.load()())
        except Exception:  # noqa: BLE001 - a broken gateway must not stop the file channel
            log.exception("warning channel %s failed to load", ep.name)
    return channels


def area_geometry(store: Store, area: dict[str, Any] | None, entity_id: str | None) -> dict[str, Any]:
    """The area as GeoJSON: a drawn polygon, or the shape of a picked entity (a point gets its radius)."""
    if entity_id:
        with store.session() as db:
            ent = db.get(Entity, entity_id)
        if ent is None:
            raise PublicationError(f"area: no entity {entity_id!r}")
        if ent.geometry and ent.geometry.get("type") in ("Polygon", "MultiPolygon"):
            return {**ent.geometry, "entity_id": entity_id, "name": ent.name}
        pt = point_of(ent.geometry)
        if pt is None:
            raise PublicationError(f"area: entity {entity_id!r} has no position")
        radius = float(ent.properties.get("radius_m") or 1500)
        return {**circle_area(pt, radius), "entity_id": entity_id, "name": ent.name}
    if not area:
        raise PublicationError("area is required: draw a polygon or pick a town, village or park")
    try:
        geom = shape(area)
    except Exception as exc:  # noqa: BLE001 - shapely raises several kinds
        raise PublicationError(f"area is not a valid GeoJSON geometry: {exc}") from None
    if geom.geom_type not in ("Polygon", "MultiPolygon") or geom.is_empty or not geom.is_valid:
        raise PublicationError("area must be a valid, non-empty polygon")
    return dict(area)


def circle_area(pt: tuple[float, float], radius_m: float) -> dict[str, Any]:
    """A 48-sided polygon of ``radius_m`` around (lon, lat), as GeoJSON."""
    import math
    k = 111_320.0 * math.cos(math.radians(pt[1]))
    ring = [[pt[0] + radius_m / k * math.cos(a * math.pi / 24), pt[1] + radius_m / 110_540.0 * math.sin(a * math.pi / 24)]
            for a in range(49)]
    return {"type": "Polygon", "coordinates": [ring]}


def resolve_recipients(store: Store, area: dict[str, Any], groups: list[str]) -> list[dict[str, Any]]:
    """The recipients of ``groups`` for ``area``: departments always, villages and enterprises inside it."""
    unknown = [g for g in groups if g not in GROUPS]
    if unknown:
        raise PublicationError(f"unknown recipient group(s) {', '.join(unknown)} (known: {', '.join(GROUPS)})")
    poly = shape({k: v for k, v in area.items() if k in ("type", "coordinates")})
    shapely.prepare(poly)
    out = []
    for g in groups:
        kinds, _, _ = GROUPS[g]
        for kind in kinds:
            for ent in store.entities(kind=kind):
                if g != "departments":
                    pt = point_of(ent.geometry)
                    if pt is None or not poly.contains(shapely.Point(pt)):
                        continue
                out.append({"id": ent.id, "name": ent.name, "group": g, "kind": ent.kind,
                            "contact": ent.properties.get("contact") or ent.properties.get("responsible") or "",
                            "phone": ent.properties.get("phone", "")})
    return out


def draft(store: Store, actor: str, *, level: str, title: str, message: str, groups: list[str],
          area: dict[str, Any] | None = None, area_entity: str | None = None, incident_id: int | None = None,
          is_drill: bool = False) -> WarningPublication:
    """A new draft with its recipients resolved; refused when nobody would receive it."""
    if level not in LEVELS:
        raise PublicationError(f"level must be one of {', '.join(LEVELS)}, got {level!r}")
    title = (title or "").strip()
    if not title or len(title) > 200:
        raise PublicationError("title is required (at most 200 characters)")
    if len(message or "") > 2000:
        raise PublicationError("message is longer than 2000 characters")
    if not groups:
        raise PublicationError("choose at least one recipient group (departments, villages, enterprises)")
    geom = area_geometry(store, area, area_entity)
    recipients = resolve_recipients(store, geom, groups)
    if not recipients:
        raise PublicationError(f"the recipient list is empty: no {', '.join(groups)} in the chosen area; "
                               "widen the area or add departments")
    if is_drill and not title.startswith("【演练】"):
        title = "【演练】" + title
    pub = WarningPublication(level=level, title=title, message=message or "", area=geom, groups=groups,
                             recipients=recipients, incident_id=incident_id, is_drill=is_drill,
                             created_by=actor[:64])
    with store.session() as db:
        db.add(pub)
        db.commit()
        db.refresh(pub)
    store.audit(actor, "warning.draft", f"warning:{pub.id}", None,
                {"level": level, "title": title, "recipients": len(recipients), "groups": groups})
    return pub


def review(store: Store, pub_id: int, actor: str, approve: bool = True) -> WarningPublication:
    """审核: approve (→ reviewed) or reject (→ cancelled) a draft."""
    with store.session() as db:
        pub = db.get(WarningPublication, pub_id)
        if pub is None:
            raise PublicationError(f"no warning publication {pub_id}")
        if pub.state != "draft":
            raise PublicationError(f"warning #{pub_id} is {pub.state}; only a draft can be reviewed")
        pub.state = "reviewed" if approve else "cancelled"
        pub.reviewed_by, pub.reviewed_at = actor[:64], time.time()
        db.add(pub)
        db.commit()
        db.refresh(pub)
    store.audit(actor, "warning.review", f"warning:{pub_id}", "draft", pub.state)
    return pub


def publish(store: Store, pub_id: int, actor: str, channels: list[WarningChannel]) -> WarningPublication:
    """发布: send a reviewed publication through every channel; the results are stored with it."""
    with store.session() as db:
        pub = db.get(WarningPublication, pub_id)
        if pub is None:
            raise PublicationError(f"no warning publication {pub_id}")
        if pub.state != "reviewed":
            raise PublicationError(f"warning #{pub_id} is {pub.state}; it must be reviewed before it is published")
        payload = pub.model_dump()
    results: list[dict[str, Any]] = []
    for ch in channels:
        try:
            results += ch.send(payload, payload["recipients"])
        except Exception as exc:  # noqa: BLE001 - one gateway down must not hide the others' results
            log.exception("warning channel %s failed", getattr(ch, "name", ch))
            results.append({"recipient": "*", "channel": getattr(ch, "name", "?"), "ok": False,
                            "detail": f"{exc.__class__.__name__}: {exc}"})
    with store.session() as db:
        pub = db.get(WarningPublication, pub_id)
        pub.state, pub.results = "published", results
        pub.published_by, pub.published_at = actor[:64], time.time()
        db.add(pub)
        db.commit()
        db.refresh(pub)
    store.audit(actor, "warning.publish", f"warning:{pub_id}", "reviewed",
                {"state": "published", "delivered": sum(1 for r in results if r.get("ok")),
                 "failed": sum(1 for r in results if not r.get("ok"))})
    return pub


def publications(store: Store, limit: int = 20, drill: bool | None = None,
                 incident_id: int | None = None) -> list[WarningPublication]:
    """Publications, newest first. ``drill``: None all, False live ones only (what live figures count),
    True drills only; ``incident_id``: a drill publication of this incident is kept even with ``drill=False``."""
    q = select(WarningPublication)
    if drill is not None:
        cond = WarningPublication.is_drill == drill
        if incident_id is not None:
            cond = cond | (WarningPublication.incident_id == incident_id)
        q = q.where(cond)
    with store.session() as db:
        return list(db.scalars(q.order_by(WarningPublication.id.desc()).limit(limit)).all())
