"""Hazards reported in the field (a grid worker's patrol) join this park's hazard loop.

Another plugin (grid_patrol) publishes a :class:`core.api.HazardReported` on the bus — never imported.
When its ``entity_id`` is one of this park's enterprises, :func:`take` opens a hidden-danger inspection
(发现) for it with the report's title, level and photo, ``source="grid_patrol"`` (the reporting plugin)
and ``ref`` = the report's id, so a re-delivered report never opens a second one. The enterprise's
safety officer is responsible; the deadline is ``deadline_days`` (3, or 1 for a major hazard).
"""

from __future__ import annotations

import threading
import time
from pathlib import PurePosixPath

from core.api import HazardReported, Store

from . import inspections

PLUGIN = "enterprise_park"
_lock = threading.Lock()


def take(store: Store, event: HazardReported, now: float | None = None) -> inspections.Inspection | None:
    """The inspection opened for a reported hazard at one of this park's enterprises; None when the report
    concerns no enterprise of this park, or was taken already (same ``report_id``)."""
    ent = store.entity(event.entity_id) if event.entity_id else None
    if ent is None or ent.kind != "sme_enterprise" or ent.plugin != PLUGIN or not event.report_id:
        return None
    now = time.time() if now is None else now
    with _lock:
        if inspections.by_ref(store, event.report_id):
            return None
        officer = (ent.properties.get("safety_officer") or {}).get("name") or "企业安全负责人"
        major = event.level == "major"
        # a photo URL of the reporter ("/plugins/grid_patrol/photos/<grid>/<file>") as the loop's relative path
        photos = [str(PurePosixPath(p.lstrip("/"))) for p in event.photos
                  if p.startswith("/") and ".." not in p and p.lower().endswith(inspections.PHOTO_SUFFIXES)]
        return inspections.create(store, enterprise_id=ent.id, title=(event.title or event.category)[:80],
                                  responsible=officer, deadline=now + (1 if major else 3) * 86400,
                                  actor=event.reporter or event.plugin, level="major" if major else "general",
                                  photos=photos, source=event.plugin or "field", now=now, ref=event.report_id,
                                  enterprise=ent)
