"""Routine ↔ incident: a high-severity alert opens (or joins) an incident and switches the wall.

Called from the plugin's ``on_event`` for every ``AlertRaised``: an alert at the configured level
or worse joins an open incident within ``merge_km`` (recorded on its timeline), or opens a new
one (an alert without a location cannot: that is logged and audited, never guessed), and the
leaders' wall switches to incident mode for it (core/runtime/wall.py: stored, audited, published).
"""

from __future__ import annotations

import logging
import time

from sqlmodel import select

from core.api import Alert, Bus, Entity, Incident, Store, set_wall_mode, wall_state

from . import incidents
from .incidents import point_of
from .places import distance_km
from .settings import CommandSettings

log = logging.getLogger(__name__)


def on_alert(store: Store, bus: Bus | None, settings: CommandSettings, alert_id: int, severity: int) -> int | None:
    """Open or join an incident for a severe alert; returns the incident id (None when not severe)."""
    if settings.auto_incident_severity <= 0 or severity > settings.auto_incident_severity:
        return None
    with store.session() as db:
        alert = db.get(Alert, alert_id)
    if alert is None or alert.plugin == "command_center" and not (alert.details or {}).get("drill"):
        return None
    drill = bool((alert.details or {}).get("drill"))
    if settings.auto_incident_plugins and alert.plugin not in settings.auto_incident_plugins and not drill:
        return None
    recent = _recently_closed(store, alert, settings.cooldown_min * 60) if not drill else None
    if recent is not None and alert.incident_id is None:
        incidents.record(store, recent.id, "system", "message",
                         f"结案后再次报警 #{alert_id}: {alert.title} (未自动新建事件, 请值班人员研判)",
                         {"alert_id": alert_id, "plugin": alert.plugin, "severity": alert.severity},
                         en=f"Alert #{alert_id} again after closing: {alert.title_en} (no new incident opened; "
                            "for the duty officer to assess)" if alert.title_en else None)
        return None
    if alert.incident_id is None:
        near = _nearby_open(store, alert, settings.merge_km, drill)
        if near is not None:
            with store.session() as db:
                a = db.get(Alert, alert_id)
                a.incident_id = near.id
                db.add(a)
                db.commit()
            incidents.record(store, near.id, "system", "alert_linked", f"报警 #{alert_id} 并入本事件: {alert.title}",
                             {"alert_id": alert_id, "plugin": alert.plugin, "severity": alert.severity},
                             en=f"Alert #{alert_id} joined this incident: {alert.title_en}" if alert.title_en else None)
            return near.id
    try:
        inc = incidents.open_from_alert(store, alert_id, "system")
    except incidents.IncidentError as exc:
        log.warning("alert %s could not open an incident: %s", alert_id, exc)
        store.audit("system", "incident.not_opened", f"alert:{alert_id}", None, {"reason": str(exc)})
        return None
    if settings.switch_wall and wall_state(store, settings.wall)["mode"] != "incident":
        set_wall_mode(store, bus, "incident", "system", inc.id, settings.wall)
    return inc.id


def _recently_closed(store: Store, alert: Alert, window_s: float):
    """The incident closed within ``window_s`` that this alert's entity already belonged to, if any."""
    if window_s <= 0 or not alert.entity_id:
        return None
    with store.session() as db:
        rows = db.scalars(select(Alert.incident_id).where(Alert.entity_id == alert.entity_id,
                                                          Alert.incident_id.isnot(None))).all()
        for inc_id in sorted(set(rows), reverse=True):
            inc = db.get(Incident, inc_id)
            if inc is not None and inc.state == "closed" and inc.closed_at and time.time() - inc.closed_at < window_s:
                return inc
    return None


def _nearby_open(store: Store, alert: Alert, merge_km: float, drill: bool):
    with store.session() as db:
        ent = db.get(Entity, alert.entity_id) if alert.entity_id else None
    pt = point_of(ent.geometry) if ent is not None else None
    if pt is None:
        return None
    for inc in incidents.incidents(store, open_only=True):
        if inc.is_drill != drill or time.time() - inc.opened_at > 6 * 3600:
            continue
        ipt = point_of(inc.geometry)
        if ipt is not None and distance_km(pt, ipt) <= merge_km:
            return inc
    return None
