"""What a grid worker submits from the phone: check-ins (with the check-list) and hazard reports.

Every submission carries an idempotency ``key`` made by the phone when the worker pressed the button;
the record's id is derived from it (``gp.chk.<key>``, ``gp.rpt.<key>``), so a submission the phone
re-sends after a lost answer is stored once and answered the same way. Everything is validated before
anything is written (a :class:`FieldError` names the field); the photo is written first, then the
record together with its audit entry in one transaction, then the derived readings (coverage) — a
re-sent submission re-derives those, so a crash in between heals on the phone's retry.

A stored report travels on through the bus only: :class:`core.api.HazardReported` for whoever owns the
place (enterprise_park takes a hazard at one of its enterprises into its loop), and for a major or urgent
one an alert (``grid_patrol.hazard``, severity II / I) with ``AlertRaised``, which command_center may
turn into an incident.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.api import (AlertDraft, AlertRaised, AuditEntry, Bus, CheckedPhoto, Entity, HazardReported, PhotoError,
                      Reading, ReadingsIngested, Severity, Store, check_photo)

from .model import CATEGORIES, LEVELS, PLUGIN, Grid, PatrolPoint, Twin, checklists, distance_m
from .photos import PHOTOS

KEY_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
ANSWERS = ("ok", "issue", "na")
HAZARD_RULE = f"{PLUGIN}.hazard"
MAX_FROM_GRID_KM = 30.0
_lock = threading.Lock()


class FieldError(ValueError):
    """Bad input; ``field`` names the form field."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


class Forbidden(PermissionError):
    """The signed-in person may not act on this grid."""


@dataclass(frozen=True)
class Who:
    """Who submits: the user, the role and, for a ``field`` user, the one grid it may act on."""

    user: str
    role: str | None
    grid: str | None = None       # None: every grid (managers)

    def may(self, grid_id: str) -> bool:
        return self.grid is None or self.grid == grid_id


@dataclass(frozen=True)
class Limits:
    photo_max_bytes: int = 5 * 1024 * 1024
    photo_max_pixels: int = 40_000_000
    checkin_max_m: float = 300.0


def _text(form: Mapping[str, Any], name: str, *, required: bool = False, max_len: int = 500, min_len: int = 0) -> str:
    value = form.get(name)
    text = "" if value is None else str(value).strip()
    if required and not text:
        raise FieldError(name, "required")
    if text and len(text) < min_len:
        raise FieldError(name, f"at least {min_len} characters")
    if len(text) > max_len:
        raise FieldError(name, f"at most {max_len} characters (got {len(text)})")
    return text


def _key(form: Mapping[str, Any]) -> str:
    key = _text(form, "key", required=True, max_len=64)
    if not KEY_RE.match(key):
        raise FieldError("key", "8–64 letters, digits, '-' or '_' (the phone makes it)")
    return key


def _grid(form: Mapping[str, Any], twin: Twin, who: Who) -> Grid:
    gid = _text(form, "grid", max_len=128) or (who.grid or "")
    if not gid:
        raise FieldError("grid", "required")
    grid = twin.grids.get(gid)
    if grid is None:
        raise FieldError("grid", f"no grid {gid!r}")
    if not who.may(gid):
        raise Forbidden(f"{who.user} may act on grid {who.grid} only, not {gid}")
    return grid


def _point(form: Mapping[str, Any], twin: Twin, grid: Grid, required: bool) -> PatrolPoint | None:
    pid = _text(form, "point", required=required, max_len=128)
    if not pid:
        return None
    p = twin.points.get(pid)
    if p is None or p.grid != grid.id:
        raise FieldError("point", f"{pid!r} is not a point of grid {grid.name}")
    return p


def _number(form: Mapping[str, Any], name: str) -> float | None:
    raw = form.get(name)
    if raw is None or str(raw).strip() == "":
        return None
    try:
        v = float(str(raw).strip())
    except ValueError:
        raise FieldError(name, f"not a number: {str(raw)[:30]!r}") from None
    if not math.isfinite(v):
        raise FieldError(name, "not a finite number")
    return v


def _position(form: Mapping[str, Any], grid: Grid, ref: tuple[float, float]) -> tuple[float, float, bool, float | None]:
    """(lon, lat, manual, accuracy_m): GPS from the phone, or with ``manual`` the worker's own choice
    (or the point's place when none is given)."""
    manual = str(form.get("manual", "")).lower() in ("1", "true", "on", "yes")
    lon, lat, acc = _number(form, "lon"), _number(form, "lat"), _number(form, "accuracy")
    if lon is None or lat is None:
        if not manual:
            raise FieldError("lon", "no position: allow the phone's location, or choose the manual position")
        lon, lat = ref
    if not -180 <= lon <= 180:
        raise FieldError("lon", f"{lon} is not a longitude")
    if not -90 <= lat <= 90:
        raise FieldError("lat", f"{lat} is not a latitude")
    km = distance_m((lon, lat), grid.office) / 1000
    if km > MAX_FROM_GRID_KM:
        raise FieldError("lon", f"the position is {km:.0f} km from grid {grid.name}: check the location")
    if acc is not None and acc < 0:
        raise FieldError("accuracy", "must be ≥ 0")
    return round(lon, 6), round(lat, 6), manual, acc


def _photo(data: bytes | None, limits: Limits, required: bool) -> CheckedPhoto | None:
    if not data:
        if required:
            raise FieldError("photo", "a hazard report needs a photo")
        return None
    try:
        return check_photo(data, limits.photo_max_bytes, limits.photo_max_pixels)
    except PhotoError as exc:
        raise FieldError("photo", str(exc)) from None


def _existing(store: Store, entity_id: str, kind: str, who: Who) -> Entity | None:
    e = store.entity(entity_id)
    if e is None:
        return None
    if e.kind != kind or (e.properties or {}).get("reporter") != who.user:
        raise FieldError("key", "this key belongs to another submission; the phone makes a new one")
    return e


def _worker(grid: Grid, who: Who) -> str | None:
    return grid.workers[0] if who.grid is not None and grid.workers else None


def _checkin_readings(props: Mapping[str, Any], twin: Twin) -> list[Reading]:
    ts = float(props["ts"])
    out = [Reading(props["point"], "visited", ts, 1.0)]
    p = twin.points.get(props["point"])
    if props.get("worker") and p is not None:
        out.append(Reading(props["worker"], "checkin", ts, float(p.no)))
    return out


def _publish_readings(store: Store, bus: Bus | None, readings: list[Reading], source: str) -> None:
    store.ingest(readings)
    if bus is not None and readings:
        bus.publish(ReadingsIngested(plugin=PLUGIN, source=source, count=len(readings),
                                     entity_ids=tuple(sorted({r.entity_id for r in readings}))))


def submit_checkin(store: Store, bus: Bus | None, twin: Twin, who: Who, form: Mapping[str, Any],
                   photo: bytes | None, photos_root: Path, limits: Limits = Limits(),
                   now: float | None = None) -> dict[str, Any]:
    """A check-in at a point with its check-list; the stored record as a dict (``duplicate`` when re-sent)."""
    now = time.time() if now is None else now
    key = _key(form)
    grid = _grid(form, twin, who)
    point = _point(form, twin, grid, required=True)
    assert point is not None
    eid = f"gp.chk.{key}"
    old = _existing(store, eid, "patrol_checkin", who)
    if old is not None:
        _publish_readings(store, bus, _checkin_readings(old.properties, twin), "phone")   # heal a half-done one
        return _checkin_out(old, duplicate=True)
    lon, lat, manual, acc = _position(form, grid, (point.lon, point.lat))
    items = checklists()[grid.type]
    raw = form.get("checklist") or "{}"
    try:
        answers = json.loads(raw) if isinstance(raw, str) else dict(raw)
    except (ValueError, TypeError):
        raise FieldError("checklist", "not a JSON object of item → ok/issue/na") from None
    if not isinstance(answers, dict):
        raise FieldError("checklist", "not a JSON object of item → ok/issue/na")
    known = {i.key for i in items}
    for k in answers:
        if k not in known:
            raise FieldError(f"checklist.{str(k)[:40]}", f"not an item of the {grid.type} check-list")
    for i in items:
        if answers.get(i.key) not in ANSWERS:
            raise FieldError(f"checklist.{i.key}", f"not answered ({i.zh}): ok, issue or na")
    note = _text(form, "note", max_len=500)
    pic = _photo(photo, limits, required=False)
    dist = round(distance_m((lon, lat), (point.lon, point.lat)), 1)
    props = {"grid": grid.id, "town": grid.town, "point": point.id, "worker": _worker(grid, who),
             "reporter": who.user, "ts": now, "lon": lon, "lat": lat, "manual": manual, "accuracy_m": acc,
             "distance_m": dist, "offsite": (not manual) and dist > limits.checkin_max_m,
             "answers": {i.key: answers[i.key] for i in items},
             "issues": [i.key for i in items if answers[i.key] == "issue"], "note": note, "photos": []}
    had = pic is not None and PHOTOS.path(photos_root, grid.id, pic.name) is not None
    name = PHOTOS.save(photos_root, grid.id, pic) if pic else None
    if name:
        props["photos"] = [PHOTOS.url(grid.id, name)]
    ent = Entity(id=eid, site_id=None, kind="patrol_checkin", name=f"{point.name} 签到", name_en=f"Check-in {point.name_en}",
                 plugin=PLUGIN, geometry={"type": "Point", "coordinates": [lon, lat]}, properties=props, updated_at=now)
    try:
        with _lock:
            again = store.entity(eid)
            if again is not None:              # the same key twice at once: the first one wins
                return _checkin_out(again, duplicate=True)
            store.upsert([ent], audit=AuditEntry(actor=who.user, action="grid_patrol.checkin",
                                                 target=f"checkin:{eid}",
                                                 new={k: props[k] for k in ("grid", "point", "distance_m", "manual",
                                                                            "issues", "photos")}))
    except Exception:
        if name and not had:      # nothing partial: the record failed, so its new photo goes too
            PHOTOS.remove(photos_root, grid.id, name)
        raise
    _publish_readings(store, bus, _checkin_readings(props, twin), "phone")
    return _checkin_out(ent, duplicate=False)


def _checkin_out(e: Entity, duplicate: bool) -> dict[str, Any]:
    p = e.properties
    return {"id": e.id, "kind": "checkin", "grid": p["grid"], "point": p["point"], "ts": p["ts"],
            "distance_m": p["distance_m"], "offsite": p["offsite"], "issues": p["issues"], "photos": p["photos"],
            "duplicate": duplicate}


def submit_report(store: Store, bus: Bus | None, twin: Twin, who: Who, form: Mapping[str, Any],
                  photo: bytes | None, photos_root: Path, limits: Limits = Limits(),
                  now: float | None = None) -> dict[str, Any]:
    """A hazard report with photo, place and category; stored, audited, published (and alerted when serious)."""
    now = time.time() if now is None else now
    key = _key(form)
    grid = _grid(form, twin, who)
    eid = f"gp.rpt.{key}"
    old = _existing(store, eid, "patrol_report", who)
    if old is not None:
        return _report_out(old, duplicate=True)
    point = _point(form, twin, grid, required=False)
    category = _text(form, "category", required=True, max_len=32)
    if category not in CATEGORIES:
        raise FieldError("category", f"one of {', '.join(CATEGORIES)}, not {category!r}")
    level = _text(form, "level", max_len=16) or "general"
    if level not in LEVELS:
        raise FieldError("level", f"one of {', '.join(LEVELS)}, not {level!r}")
    description = _text(form, "description", required=True, max_len=500, min_len=4)
    ref = (point.lon, point.lat) if point else grid.office
    lon, lat, manual, acc = _position(form, grid, ref)
    pic = _photo(photo, limits, required=True)
    assert pic is not None
    cat_zh = CATEGORIES[category][0]
    title = f"网格上报·{cat_zh}:{description[:40]}"
    enterprise = point.enterprise if point else None
    had = PHOTOS.path(photos_root, grid.id, pic.name) is not None
    name = PHOTOS.save(photos_root, grid.id, pic)
    url = PHOTOS.url(grid.id, name)
    props = {"grid": grid.id, "town": grid.town, "point": point.id if point else None, "enterprise": enterprise,
             "worker": _worker(grid, who), "reporter": who.user, "ts": now, "category": category, "level": level,
             "description": description, "lon": lon, "lat": lat, "manual": manual, "accuracy_m": acc,
             "photos": [url], "alerted": LEVELS[level][2] is not None}
    ent = Entity(id=eid, site_id=None, kind="patrol_report", name=title, name_en=f"Grid report · {CATEGORIES[category][1]}",
                 plugin=PLUGIN, geometry={"type": "Point", "coordinates": [lon, lat]}, properties=props, updated_at=now)
    with _lock:
        again = store.entity(eid)
        if again is not None:                  # the same key twice at once: the first one wins
            return _report_out(again, duplicate=True)
        try:
            store.upsert([ent], audit=AuditEntry(actor=who.user, action="grid_patrol.report", target=f"report:{eid}",
                                                 new={k: props[k] for k in ("grid", "point", "enterprise", "category",
                                                                            "level", "description", "photos")}))
        except Exception:
            if not had:
                PHOTOS.remove(photos_root, grid.id, name)
            raise
    if bus is not None:
        bus.publish(HazardReported(plugin=PLUGIN, report_id=eid, entity_id=enterprise or "", category=category,
                                   level="general" if level == "general" else "major", title=title,
                                   description=description, lon=lon, lat=lat, photos=(url,), reporter=who.user))
    sev = LEVELS[level][2]
    if sev is not None:
        raise_hazard_alert(store, bus, ent, Severity(sev))
    return _report_out(ent, duplicate=False)


_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def raise_hazard_alert(store: Store, bus: Bus | None, report: Entity, severity: Severity) -> Any:
    """A serious report → an alert on the report (one per report), published as ``AlertRaised``."""
    p = report.properties
    lv = LEVELS[p["level"]]
    # English screens: the level and category in English; the worker's description only where the report
    # carries an English form (an alert has no place to mark an original span)
    en_desc = p.get("description_en") or ("" if _HAN.search(p["description"]) else p["description"])
    draft = AlertDraft(HAZARD_RULE, report.id, severity, f"{lv[0]}:{report.name.removeprefix('网格上报·')}",
                       f"{p['description'][:120]} · 上报人 {p['reporter']}",
                       title_en=f"{lv[1]}: {report.name_en or 'Grid report'}" + (f": {en_desc[:60]}" if en_desc else ""),
                       message_en=(f"{en_desc[:120]} · " if en_desc else "see the report's description and photo · ")
                       + f"reported by {p['reporter']}",
                       details={"grid": p["grid"], "category": p["category"], "level": p["level"],
                                "photos": p["photos"], "enterprise": p.get("enterprise"), "lon": p["lon"], "lat": p["lat"]})
    alert, changed = store.raise_alert(draft, PLUGIN)
    if changed and bus is not None:
        bus.publish(AlertRaised(alert_id=alert.id or 0, plugin=PLUGIN, rule_id=HAZARD_RULE, entity_id=report.id,
                                severity=int(severity), title=draft.title))
    return alert


def _report_out(e: Entity, duplicate: bool) -> dict[str, Any]:
    p = e.properties
    return {"id": e.id, "kind": "report", "grid": p["grid"], "title": e.name, "category": p["category"],
            "level": p["level"], "enterprise": p.get("enterprise"), "photos": p["photos"], "ts": p["ts"],
            "alerted": p.get("alerted", False), "duplicate": duplicate}


def reports(store: Store, grid: str | None = None) -> list[Entity]:
    """Stored reports (of one grid), newest first."""
    out = [e for e in store.entities(kind="patrol_report", plugin=PLUGIN)
           if grid is None or (e.properties or {}).get("grid") == grid]
    return sorted(out, key=lambda e: -float((e.properties or {}).get("ts", 0)))
