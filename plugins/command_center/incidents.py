"""Incidents from intake to review (接报 → 研判 → 预警 → 调度 → 处置 → 结案), every step on a timeline.

An incident is the host's ``incident`` row; its timeline is ``incident_event`` rows ("who did what
when", WebEOC's significant events) written by this module on every step, message, dispatch,
arrival and state change, and each change also goes to the host's audit log. The steps:

=============  ===========================================================================
``intake``     接报: type, place (lon/lat or an entity), time, reporter; or opened from an alert
``assessment`` 研判: severity I–IV and the assessment text
``warning``    预警: a warning published or the decision not to (optional step)
``dispatch``   调度: teams and materials sent (each team's route and ETA over the road graph)
``handling``   处置: on scene; arrivals are recorded by the team tracker, messages by people
``closed``     结案: summary; the evaluation report (report.py) can then be produced
=============  ===========================================================================

Steps only move forward (``warning`` may be skipped); a step that is not allowed, an incident with
no location, an unknown team or a material beyond the stock raise :class:`IncidentError` and
change nothing.

Closing a level Ⅰ or Ⅱ incident that skipped 研判 (assessment) or 调度 (dispatch) needs a stated reason
(``REASON_LEVELS``); a level Ⅲ/Ⅳ one may close without (a false alarm need not be argued), but the
skipped steps are recorded just the same. Steps and reason are kept on the closing timeline line, in
the audit log (``incident.close_skipped``) and in the evaluation report (:func:`skipped_steps`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from sqlmodel import select

from core.api import Alert, Entity, Incident, IncidentEvent, MaterialsDispatched, Store, name_en

STATES = ("intake", "assessment", "warning", "dispatch", "handling", "closed")
STATE_TEXT = {"intake": ("接报", "Intake"), "assessment": ("研判", "Assessment"), "warning": ("预警", "Warning"),
              "dispatch": ("调度", "Dispatch"), "handling": ("处置", "Handling"), "closed": ("结案", "Closed")}
#: Timeline line kinds besides the states.
EVENT_TEXT = {"alert_linked": ("报警关联", "Alert linked"), "message": ("信息", "Message"), "update": ("更新", "Update"),
              "report": ("评估报告", "Report"), "press": ("新闻发布", "Press release")}
KINDS = {"chemical_leak": ("危化品泄漏", "Chemical leak"), "fire": ("火灾", "Fire"),
         "forest_fire": ("森林火灾", "Forest fire"), "flood": ("洪涝", "Flood"), "typhoon": ("台风", "Typhoon"),
         "geological": ("地质灾害", "Geological hazard"), "accident": ("生产安全事故", "Work-safety accident"),
         "other": ("其他", "Other")}
#: Which incident type an alert of a plugin opens.
PLUGIN_KIND = {"chemical_park": "chemical_leak", "forest_fire": "forest_fire", "flood_defence": "flood",
               "enterprise_park": "accident", "demo_sensors": "chemical_leak"}
DRILL_PREFIX = "【演练】"
#: English of the step words the Chinese timeline lines start with ("研判: …"): English screens show the line
#: as this word and the rest (a person's text, marked as the original when it has no English form)
LINE_PREFIX_EN = {"接报": "Intake", "研判": "Assessment", "预警": "Warning", "调度": "Dispatch", "到场": "On scene",
                  "处置": "Handling", "结案": "Closed", "演练中断": "Drill stopped"}
#: levels (Ⅰ, Ⅱ) whose closing without 研判 or 调度 needs a reason
REASON_LEVELS = (1, 2)
MAX_TEXT = 2000


class IncidentError(ValueError):
    """A step the workflow does not allow, or bad input; nothing was changed."""


def _text(value: Any, field: str, required: bool = False, limit: int = MAX_TEXT) -> str:
    text = "" if value is None else str(value).strip()
    if required and not text:
        raise IncidentError(f"{field} is required")
    if len(text) > limit:
        raise IncidentError(f"{field} is longer than {limit} characters")
    return text


def _position(store: Store, lon: Any, lat: Any, entity_id: str | None) -> tuple[float, float, str | None]:
    if entity_id:
        with store.session() as db:
            ent = db.get(Entity, entity_id)
        if ent is None:
            raise IncidentError(f"place: no entity {entity_id!r}")
        pt = point_of(ent.geometry)
        if pt is None:
            raise IncidentError(f"place: entity {entity_id!r} has no position; give lon and lat")
        return pt[0], pt[1], entity_id
    if lon in (None, "") or lat in (None, ""):
        raise IncidentError("an incident needs a location: give lon and lat, or the entity where it happens")
    try:
        x, y = float(lon), float(lat)
    except (TypeError, ValueError):
        raise IncidentError(f"location: lon/lat must be numbers, got {lon!r}, {lat!r}") from None
    if not (-180 <= x <= 180 and -90 <= y <= 90):
        raise IncidentError(f"location: lon {x} / lat {y} is outside the globe")
    return x, y, None


def point_of(geometry: dict[str, Any] | None) -> tuple[float, float] | None:
    """A representative (lon, lat) of a GeoJSON geometry: the point, or the mean of a shape's vertices."""
    if not geometry:
        return None
    coords = geometry.get("coordinates")
    if geometry.get("type") == "Point" and coords and coords[0] is not None:
        return float(coords[0]), float(coords[1])
    flat: list[Sequence[float]] = []

    def walk(c: Any) -> None:
        if isinstance(c, (list, tuple)) and c and isinstance(c[0], (int, float)):
            flat.append(c)
        elif isinstance(c, (list, tuple)):
            for x in c:
                walk(x)
    walk(coords)
    if not flat:
        return None
    return sum(p[0] for p in flat) / len(flat), sum(p[1] for p in flat) / len(flat)


def record(store: Store, incident_id: int, actor: str, kind: str, message: str = "",
           data: dict[str, Any] | None = None, ts: float | None = None, en: str | None = None) -> IncidentEvent:
    """Append one timeline line (and the audit entry).

    ``message`` is the line in Chinese (what the console, the press draft and the PDF report show); ``en``
    its English form when the code wrote all of it (kept as ``data["en"]`` for English screens, see
    :func:`event_en`). A line that carries a person's text keeps it as ``data["text"]`` (and its English form,
    when one was given, as ``data["text_en"]``) instead.
    """
    if en:
        data = {**(data or {}), "en": en}
    ev = IncidentEvent(incident_id=incident_id, actor=actor[:64], kind=kind[:32], message=message,
                       data=data or {}, ts=ts or time.time())
    with store.session() as db:
        db.add(ev)
        db.commit()
        db.refresh(ev)
    store.audit(actor, f"incident.{kind}", f"incident:{incident_id}", None, {"message": message, **(data or {})})
    return ev


def open_incident(store: Store, actor: str, *, kind: str, title: str, lon: Any = None, lat: Any = None,
                  entity_id: str | None = None, reporter: str = "", phone: str = "", description: str = "",
                  severity: int = 4, reported_at: float | None = None, is_drill: bool = False,
                  place: str = "", title_en: str = "", place_en: str = "") -> Incident:
    """接报: a new incident in state ``intake``, with its first timeline line.

    ``title_en`` / ``place_en``: the English title and place name when known (an alert's ``title_en``, a
    drill's script); English screens show them (:func:`title_in`), else the title as the original and the
    place name in pinyin."""
    if kind not in KINDS:
        raise IncidentError(f"type {kind!r} is unknown (known: {', '.join(KINDS)})")
    title = _text(title, "title", required=True, limit=200)
    x, y, ent = _position(store, lon, lat, entity_id)
    if int(severity) not in (1, 2, 3, 4):
        raise IncidentError(f"severity must be 1..4, got {severity!r}")
    if is_drill and not title.startswith(DRILL_PREFIX):
        title = DRILL_PREFIX + title
    title_en = _text(title_en, "title_en", limit=200).removeprefix("[Drill] ")
    if title_en and is_drill:
        title_en = "[Drill] " + title_en
    props = {"reporter": _text(reporter, "reporter", limit=100), "phone": _text(phone, "phone", limit=40),
             "description": _text(description, "description"), "place": _text(place, "place", limit=200),
             "reported_at": float(reported_at or time.time()), "dispatches": [], "materials": [],
             **({"title_en": title_en} if title_en else {}),
             **({"place_en": _text(place_en, "place_en", limit=200)} if place_en else {})}
    inc = Incident(kind=kind, title=title, severity=int(severity), state="intake", entity_id=ent,
                   geometry={"type": "Point", "coordinates": [x, y]}, properties=props, is_drill=is_drill)
    with store.session() as db:
        db.add(inc)
        db.commit()
        db.refresh(inc)
    record(store, inc.id, actor, "intake", f"接报: {title}",
           {"kind": kind, "lon": x, "lat": y, "entity_id": ent, "reporter": props["reporter"], "drill": is_drill},
           en=f"Intake: {title_en}" if title_en else None)
    return inc


def title_in(inc: Incident, lang: str) -> str:
    """The incident's title in ``lang``: the English one its alert gave (``properties.title_en``), else the Chinese."""
    return str((inc.properties or {}).get("title_en") or inc.title) if lang == "en" else inc.title


def open_from_alert(store: Store, alert_id: int, actor: str) -> Incident:
    """An alert of any plugin opens an incident (or returns the one it already belongs to)."""
    with store.session() as db:
        alert = db.get(Alert, alert_id)
        if alert is None:
            raise IncidentError(f"no alert {alert_id}")
        if alert.incident_id is not None:
            inc = db.get(Incident, alert.incident_id)
            if inc is not None and inc.state != "closed":
                return inc
        ent = db.get(Entity, alert.entity_id) if alert.entity_id else None
    details = alert.details or {}
    drill = bool(details.get("drill"))
    pt = point_of(ent.geometry) if ent is not None else None
    if pt is None and isinstance(details.get("lon"), (int, float)):
        pt = (float(details["lon"]), float(details["lat"]))
    if pt is None:
        raise IncidentError(f"alert {alert_id} ({alert.title}) has no location: open the incident by hand "
                            "with lon/lat")
    kind = details.get("incident_kind") or PLUGIN_KIND.get(alert.plugin, "other")
    inc = open_incident(store, actor, kind=kind if kind in KINDS else "other", title=alert.title,
                        lon=pt[0], lat=pt[1], entity_id=ent.id if ent is not None and point_of(ent.geometry) else None,
                        reporter=f"{alert.plugin} 报警 #{alert.id}", description=alert.message,
                        severity=alert.severity, reported_at=alert.opened_at, is_drill=drill,
                        place=(ent.name if ent is not None else str(details.get("place") or "")),
                        title_en=alert.title_en or "",  # English screens show the alert's English title (issue 19)
                        place_en=((ent.name_en or "") if ent is not None else str(details.get("place_en") or "")))
    with store.session() as db:
        a = db.get(Alert, alert_id)
        a.incident_id = inc.id
        db.add(a)
        db.commit()
    record(store, inc.id, actor, "alert_linked", f"报警 #{alert_id} 转为事件",
           {"alert_id": alert_id, "plugin": alert.plugin, "rule_id": alert.rule_id, "severity": alert.severity},
           en=f"Alert #{alert_id} opened this incident")
    return inc


def get(store: Store, incident_id: int) -> Incident:
    with store.session() as db:
        inc = db.get(Incident, incident_id)
    if inc is None:
        raise IncidentError(f"no incident {incident_id}")
    return inc


def timeline(store: Store, incident_id: int) -> list[IncidentEvent]:
    with store.session() as db:
        return list(db.scalars(select(IncidentEvent).where(IncidentEvent.incident_id == incident_id)
                               .order_by(IncidentEvent.ts, IncidentEvent.id)).all())


def incidents(store: Store, open_only: bool = False, limit: int = 50, drill: bool | None = None) -> list[Incident]:
    """Incidents, newest first; ``drill``: None all, False real ones only (live figures), True drills only."""
    q = select(Incident)
    if open_only:
        q = q.where(Incident.state != "closed")
    if drill is not None:
        q = q.where(Incident.is_drill == drill)
    with store.session() as db:
        return list(db.scalars(q.order_by(Incident.id.desc()).limit(limit)).all())


def _advance(store: Store, inc: Incident, to: str, actor: str, message: str,
             data: dict[str, Any] | None = None, props: dict[str, Any] | None = None,
             severity: int | None = None) -> Incident:
    if inc.state == "closed":
        raise IncidentError(f"incident #{inc.id} is closed")
    if STATES.index(to) < STATES.index(inc.state):
        raise IncidentError(f"incident #{inc.id} is at {inc.state}; it cannot go back to {to}")
    with store.session() as db:
        row = db.get(Incident, inc.id)
        old = row.state
        row.state = to
        if props:
            row.properties = {**row.properties, **props}
        if severity is not None:
            row.severity = severity
        if to == "closed":
            row.closed_at = time.time()
        db.add(row)
        db.commit()
        db.refresh(row)
    record(store, inc.id, actor, to if old != to else "update", message, {"from": old, "to": to, **(data or {})})
    return row


def _said(text: str, text_en: str) -> dict[str, str]:
    """A person's (or a drill script's) text kept on its timeline line, with its English form when given."""
    text_en = _text(text_en, "English text")
    return {"text": text, **({"text_en": text_en} if text_en else {})}


def assess(store: Store, incident_id: int, actor: str, severity: int, text: str, text_en: str = "") -> Incident:
    """研判: set the severity (I..IV) and record the assessment (``text_en``: its English form, if any)."""
    inc = get(store, incident_id)
    if int(severity) not in (1, 2, 3, 4):
        raise IncidentError(f"severity must be 1..4, got {severity!r}")
    text = _text(text, "assessment", required=True)
    return _advance(store, inc, "assessment", actor, f"研判: {text}", {"severity": int(severity), **_said(text, text_en)},
                    {"assessment": text}, severity=int(severity))


def note_warning(store: Store, incident_id: int, actor: str, publication_id: int | None, text: str,
                 text_en: str = "") -> Incident:
    """预警: a warning was published for this incident (or the decision recorded); ``text_en``: English form."""
    inc = get(store, incident_id)
    text = _text(text, "warning note", required=True)
    return _advance(store, inc, "warning" if STATES.index(inc.state) <= STATES.index("warning") else inc.state,
                    actor, f"预警: {text}", {"publication_id": publication_id, **_said(text, text_en)})


def dispatch(store: Store, incident_id: int, actor: str, teams: Sequence[dict[str, Any]],
             materials: Sequence[dict[str, Any]] = (), bus: Any = None) -> Incident:
    """调度: teams (each {"id", "name", "eta_s", "route", "cum"}) and materials ({"depot", "sku", "count"}).

    A drill's materials are checked against the stock but never taken from it, and a drill's teams stay as
    they are in the live twin (status, position): they move on the drill's incident only (its
    ``dispatches``, driven by the tracker), so no live figure changes. With ``bus``, the materials are
    published as ``MaterialsDispatched`` (the stock keeper, e.g. supplies, records the movement).
    """
    inc = get(store, incident_id)
    if not teams and not materials:
        raise IncidentError("dispatch needs at least one team or material")
    now = time.time()
    with store.session() as db:
        taken = []
        for m in materials:
            depot = db.get(Entity, str(m.get("depot")))
            if depot is None:
                raise IncidentError(f"material: no store {m.get('depot')!r}")
            items = [dict(i) for i in depot.properties.get("items", [])]
            item = next((i for i in items if i.get("sku") == m.get("sku")), None)
            count = int(m.get("count") or 0)
            if item is None:
                raise IncidentError(f"material: {depot.name} has no item {m.get('sku')!r}")
            if count <= 0 or count > int(item.get("count", 0)):
                raise IncidentError(f"material: {item['name']} count must be 1..{item.get('count', 0)}, got {count}")
            taken.append((depot, items, item, count))
        for depot, items, item, count in taken if not inc.is_drill else ():
            item["count"] = int(item["count"]) - count
            depot.properties = {**depot.properties, "items": items}
            depot.updated_at = now
            db.add(depot)
        in_drill = {d["id"] for d in inc.properties.get("dispatches", [])}
        for t in teams:
            ent = db.get(Entity, t["id"])
            if ent is None:
                raise IncidentError(f"no team {t['id']!r}")
            if ent.properties.get("status") not in (None, "standby", "returning"):
                raise IncidentError(f"{ent.name} is {ent.properties.get('status')} (incident "
                                    f"#{ent.properties.get('incident_id')}), not available")
            if inc.is_drill:  # drill data: the team is sent on the drill's incident, not in the live twin
                if t["id"] in in_drill:
                    raise IncidentError(f"{ent.name} is already dispatched in this drill")
                continue
            home = ent.properties.get("home") or ent.geometry
            ent.properties = {**ent.properties, "status": "dispatched", "incident_id": incident_id, "home": home,
                              "route": t.get("route") or [], "cum": t.get("cum") or [], "departed_at": now,
                              "eta_s": t.get("eta_s")}
            ent.updated_at = now
            db.add(ent)
        db.commit()
    mats = [{"depot": d.id, "depot_name": d.name, "sku": it["sku"], "name": it["name"], "count": c,
             "unit": it.get("unit", ""), **({"name_en": it["name_en"]} if it.get("name_en") else {})}
            for d, _, it, c in taken]
    sent = [{"id": t["id"], "name": t.get("name", t["id"]), "eta_s": t.get("eta_s"), "at": now,
             "route": t.get("route") or [], **({"cum": t.get("cum") or []} if inc.is_drill else {})} for t in teams]
    props = {"dispatches": list(inc.properties.get("dispatches", [])) + sent,
             "materials": list(inc.properties.get("materials", [])) + mats}
    parts = [f"{t['name']}(预计 {t['eta_s'] / 60:.0f} 分钟)" if t.get("eta_s") else t["name"] for t in sent]
    parts += [f"{m['name']} {m['count']}{m['unit']}" for m in mats]
    out = _advance(store, inc, "dispatch" if STATES.index(inc.state) <= STATES.index("dispatch") else inc.state,
                   actor, "调度: " + "、".join(parts),
                   {"teams": [{k: v for k, v in t.items() if k not in ("route", "cum")} for t in sent],
                    "materials": mats}, props)
    if bus is not None and mats:
        bus.publish(MaterialsDispatched(plugin="command_center", dispatch_id=f"cc.{incident_id}.{int(now * 1e6)}",
                                        incident_id=incident_id, drill=bool(inc.is_drill), actor=actor,
                                        materials=tuple(mats)))
    return out


def arrive(store: Store, incident_id: int, team_id: str, actor: str | None = None) -> Incident:
    """A team reached the scene (recorded by the tracker, or by a person): the incident is being handled."""
    inc = get(store, incident_id)
    with store.session() as db:
        ent = db.get(Entity, team_id)
        if ent is None:
            raise IncidentError(f"no team {team_id!r}")
        if inc.is_drill:  # a drill's team arrives on the drill only; the live team was never moved
            if team_id not in {d["id"] for d in inc.properties.get("dispatches", [])}:
                raise IncidentError(f"{ent.name} was not dispatched in drill #{incident_id}")
            if team_id in {a["id"] for a in inc.properties.get("arrivals", [])}:
                raise IncidentError(f"{ent.name} has already arrived in drill #{incident_id}")
        elif ent.properties.get("incident_id") != incident_id:
            raise IncidentError(f"{ent.name} was not dispatched to incident #{incident_id}")
        else:
            ent.properties = {**ent.properties, "status": "on_scene", "arrived_at": time.time()}
            db.add(ent)
            db.commit()
        name = ent.name
    arrivals = list(inc.properties.get("arrivals", [])) + [{"id": team_id, "name": name, "at": time.time()}]
    to = "handling" if STATES.index(inc.state) <= STATES.index("handling") else inc.state
    return _advance(store, inc, to, actor or f"team:{team_id}", f"到场: {name}", {"team": team_id},
                    {"arrivals": arrivals})


def message(store: Store, incident_id: int, actor: str, text: str, text_en: str = "") -> IncidentEvent:
    """A message on the timeline (a report from the scene, an instruction); ``text_en``: its English form."""
    inc = get(store, incident_id)
    if inc.state == "closed":
        raise IncidentError(f"incident #{incident_id} is closed")
    text = _text(text, "message", required=True)
    return record(store, incident_id, actor, "message", text, _said(text, text_en))


def handle(store: Store, incident_id: int, actor: str, text: str, text_en: str = "") -> Incident:
    """处置: handling on scene (also set by the first arrival); ``text_en``: its English form."""
    inc = get(store, incident_id)
    text = _text(text, "handling note", required=True)
    return _advance(store, inc, "handling", actor, f"处置: {text}", _said(text, text_en))


def skipped_steps(inc: Incident, events: Sequence[IncidentEvent]) -> list[str]:
    """The required steps an incident has not been through: "assessment" (研判) and/or "dispatch" (调度)."""
    kinds = {e.kind for e in events}
    out = []
    if "assessment" not in kinds and not inc.properties.get("assessment"):
        out.append("assessment")
    if "dispatch" not in kinds and not inc.properties.get("dispatches"):
        out.append("dispatch")
    return out


def close(store: Store, incident_id: int, actor: str, summary: str, reason: str = "",
          summary_en: str = "") -> Incident:
    """结案: the incident is over; teams are released (they return home) and linked alerts closed.

    A level Ⅰ/Ⅱ incident that skipped 研判 or 调度 closes only with a ``reason`` (IncidentError without
    one); for any level the skipped steps and the reason are recorded on the timeline, in the audit log
    and, through ``properties["close_skipped"]``, in the report. ``summary_en``: the summary's English form.
    """
    inc = get(store, incident_id)
    summary = _text(summary, "summary", required=True)
    reason = _text(reason, "reason", limit=500)
    skipped = skipped_steps(inc, timeline(store, incident_id)) if inc.state != "closed" else []
    if skipped and not reason and inc.severity in REASON_LEVELS:
        names = "、".join(STATE_TEXT[s][0] for s in skipped)
        raise IncidentError(f"incident #{incident_id} (level {inc.severity}) has had no "
                            f"{' and no '.join(skipped)} ({names}): give the reason for closing it now")
    with store.session() as db:
        for ent in db.scalars(select(Entity).where(Entity.kind.in_(("emergency_team", "micro_station",
                                                                     "fire_rescue_station")))).all():
            if ent.properties.get("incident_id") == incident_id:
                ent.properties = {**ent.properties, "status": "returning", "returned_from": incident_id}
                db.add(ent)
        alerts = db.scalars(select(Alert).where(Alert.incident_id == incident_id, Alert.state != "closed")).all()
        ids = [a.id for a in alerts]
        db.commit()
    for aid in ids:
        store.set_alert_state(aid, "closed", actor)
    extra: dict[str, Any] = {}
    said = _said(summary, summary_en)
    message = f"结案: {summary}"
    if skipped:
        extra = {"close_skipped": {"steps": skipped, "reason": reason}}
        message += f"(未经{'、'.join(STATE_TEXT[s][0] for s in skipped)}即结案, 理由: {reason or '未填写'})"
        store.audit(actor, "incident.close_skipped", f"incident:{incident_id}", None,
                    {"steps": skipped, "reason": reason, "severity": inc.severity})
    return _advance(store, inc, "closed", actor, message, {"alerts_closed": ids, **extra, **said},
                    {"summary": summary, **extra})


def response_times(inc: Incident, events: Sequence[IncidentEvent]) -> dict[str, float | None]:
    """Seconds intake → first dispatch → first arrival → closure (None for a step not reached)."""
    t0 = inc.properties.get("reported_at") or inc.opened_at
    first = {}
    for ev in events:
        first.setdefault(ev.kind, ev.ts)
    arrival = min((e.ts for e in events if e.data.get("team")), default=None)  # arrivals carry the team
    dispatch_ts = first.get("dispatch")
    return {"intake_to_dispatch_s": (dispatch_ts - t0) if dispatch_ts else None,
            "dispatch_to_arrival_s": (arrival - dispatch_ts) if arrival and dispatch_ts else None,
            "intake_to_arrival_s": (arrival - t0) if arrival else None,
            "intake_to_close_s": (inc.closed_at - t0) if inc.closed_at else None}



def _team_en(store: Store, team_id: Any, name: str) -> str:
    ent = store.entity(str(team_id)) if team_id else None
    if ent is not None:
        return ent.name_en or name_en(ent.name)
    return name_en(name) if name else "a team"


def _material_en(store: Store, m: dict[str, Any]) -> str:
    en = m.get("name_en")
    if not en:  # a line written before materials kept their English name: the store's item has it
        depot = store.entity(str(m.get("depot") or ""))
        item = next((i for i in (depot.properties.get("items", []) if depot is not None else [])
                     if i.get("sku") == m.get("sku")), {})
        en = item.get("name_en") or name_en(str(m.get("name") or m.get("sku") or ""))
    return f"{m.get('count')} {en}"


def event_en(store: Store, inc: Incident, ev: IncidentEvent) -> list[str | tuple[str, str | None]]:
    """A timeline line in English, for English screens; the stored ``message`` stays the Chinese line.

    The parts are system text (``str``) and a person's or a script's text as ``(text, text_en or None)``,
    which the screen shows in English when it has an English form and as the marked original otherwise
    (``PanelContext.original``). Dispatches and arrivals are told from their data (the teams' and the
    materials' English names); lines the code wrote carry their English form (``data["en"]``); lines
    written before English forms were kept are read from their Chinese step word (``LINE_PREFIX_EN``).
    """
    d = ev.data or {}
    head, sep, rest = (ev.message or "").partition(": ")
    if head == "调度" and ("teams" in d or "materials" in d):
        parts = [f"{_team_en(store, t.get('id'), str(t.get('name') or ''))}"
                 + (f" (ETA {t['eta_s'] / 60:.0f} min)" if t.get("eta_s") else "") for t in d.get("teams") or []]
        parts += [_material_en(store, m) for m in d.get("materials") or []]
        return ["Dispatch: " + ", ".join(parts)]
    if head == "到场" and d.get("team"):
        return [f"On scene: {_team_en(store, d['team'], rest)}"]
    if d.get("en"):
        return [str(d["en"])]
    if ev.kind == "intake":
        en = (inc.properties or {}).get("title_en")
        return ["Intake: ", (inc.title, None)] if not en else [f"Intake: {en}"]
    if ev.kind == "alert_linked" and d.get("alert_id") is not None and "转为事件" in ev.message:
        return [f"Alert #{d['alert_id']} opened this incident"]
    if ev.kind == "alert_linked" and d.get("alert_id") is not None and "并入本事件" in head:
        return [f"Alert #{d['alert_id']} joined this incident: ", (rest, None)]
    if ev.kind == "report":
        return ["Evaluation report generated"]
    label = LINE_PREFIX_EN.get(head) if sep else None
    if label is None:
        return [(str(d.get("text") or ev.message), d.get("text_en"))]
    skipped = d.get("close_skipped")
    text = str(d["text"]) if "text" in d else (rest.split("(未经")[0] if skipped else rest)
    out: list[str | tuple[str, str | None]] = [f"{label}: ", (text, d.get("text_en"))]
    if skipped:
        steps = " or ".join(STATE_TEXT[s][1].lower() for s in skipped.get("steps", []) if s in STATE_TEXT)
        out.append(f" (closed without {steps}; reason: ")
        out += [(str(skipped["reason"]), None), ")"] if skipped.get("reason") else ["none given)"]
    return out
