"""Best-track files the bureau uploads (stored in the twin store), the storms on offer, and which one the
typhoon panels show at which time.

An uploaded file (``/plugins/flood_defence/admin/best-track`` or ``twinboard typhoon import FILE``) is parsed
in full first; any malformed line refuses the whole file with every ``file:line: field`` error and nothing is
stored. A good file becomes one entity of kind ``best_track`` (id ``flood_defence.best_track.<file name>``,
its text in ``properties.text``), so every web process and worker sees it; uploading a file of the same name
replaces it.

The storms on offer are those of the uploaded files (newest upload first), then those of the twin's file
(setting ``typhoon_file``). The storm shown is the one asked for by number or name (setting
``typhoon_storm``, panel option ``storm``), else the one that comes nearest the district during the period
the panels show (``typhoon_start`` for ``typhoon_hours``, or the pinned ``track_time``).
"""

from __future__ import annotations

import functools
import hashlib
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from core.api import AuditEntry, Entity, Store

from . import data, typhoon
from .settings import cycle_hours

PLUGIN = "flood_defence"
KIND = "best_track"
BJT = timezone(timedelta(hours=8))
#: errors listed in full; beyond this many the message says how many more there are
MAX_ERRORS = 20


class BestTrackImportError(ValueError):
    """A best-track file refused as a whole: ``errors`` holds every ``BestTrackError`` (file, line, field)."""

    def __init__(self, file: str, errors: Sequence[typhoon.BestTrackError | str]) -> None:
        self.file, self.errors = file, list(errors)
        shown = [str(e) for e in self.errors[:MAX_ERRORS]]
        more = len(self.errors) - len(shown)
        super().__init__("\n".join(shown + ([f"... and {more} more"] if more > 0 else [])))


def parse_upload(name: str, content: bytes) -> list[typhoon.Storm]:
    """Every storm of an uploaded file, or ``BestTrackImportError`` with every malformed line."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BestTrackImportError(name, [f"{name}: not a text file (ASCII/UTF-8): byte {exc.start} is "
                                          f"0x{content[exc.start]:02x}"]) from None
    storms, errors = typhoon.parse_best_track(name, text, strict=False)
    if errors:
        raise BestTrackImportError(name, sorted(errors, key=lambda e: e.line))
    if not storms:
        raise BestTrackImportError(name, [typhoon.BestTrackError(
            "no storm: a best-track file has '66666' header lines", name, 1, "marker")])
    empty = [s for s in storms if not s.points]
    if empty:
        raise BestTrackImportError(name, [f"{name}: storm {s.label} has no data lines" for s in empty])
    return storms


def safe_name(name: str) -> str:
    """The file name as the user knows it, without folders or control characters."""
    shown = re.sub(r"[\x00-\x1f\x7f]", "", name.replace("\\", "/").rsplit("/", 1)[-1]).strip()[:120]
    if not shown:
        raise BestTrackImportError(name or "?", ["give the file a name"])
    return shown


def entity_id(name: str) -> str:
    """The store id of an uploaded file's entity."""
    return f"{PLUGIN}.{KIND}.{safe_name(name)}"


def import_best_track(store: Store, name: str, content: bytes, actor: str) -> list[typhoon.Storm]:
    """Parse and store an uploaded best-track file (replacing one of the same name); its storms.

    Raises ``BestTrackImportError`` (nothing stored) when any line is malformed.
    """
    shown = safe_name(name)
    storms = parse_upload(shown, content)
    summary = [{"cn_id": s.cn_id, "intl_id": s.intl_id, "name": s.name, "points": len(s.points),
                "start": f"{s.start:%Y%m%d%H}", "end": f"{s.end:%Y%m%d%H}"} for s in storms]
    ent = Entity(id=entity_id(shown), kind=KIND, name=shown, name_en=shown, plugin=PLUGIN, geometry=None,
                 properties={"file": shown, "text": content.decode("utf-8-sig"), "storms": summary,
                             "sha256": hashlib.sha256(content).hexdigest(), "uploaded_by": actor,
                             "uploaded_at": time.time()})
    store.upsert([ent], audit=AuditEntry(actor=actor, action="flood_defence.best_track.import",
                                          target=f"best_track:{shown}",
                                          new={"storms": len(storms), "first": storms[0].label,
                                               "last": storms[-1].label}))
    return storms


def drop_best_track(store: Store, name: str, actor: str) -> bool:
    """Withdraw an uploaded file: its storms are no longer offered (the entity stays, without its text, as the
    record of who withdrew it). False when no such file is stored."""
    ent = store.entity(entity_id(name))
    if ent is None or ent.kind != KIND or ent.properties.get("dropped_at"):
        return False
    ent.properties = {"file": ent.properties.get("file", ent.name), "dropped_by": actor, "dropped_at": time.time()}
    store.upsert([ent], audit=AuditEntry(actor=actor, action="flood_defence.best_track.drop",
                                          target=f"best_track:{ent.name}"))
    return True


@dataclass(frozen=True)
class StoredFile:
    """An uploaded best-track file and its storms."""

    name: str
    uploaded_by: str
    uploaded_at: float
    storms: tuple[typhoon.Storm, ...]


def stored_files(store: Store) -> list[StoredFile]:
    """The uploaded files in use, newest upload first."""
    out = []
    for e in store.entities(kind=KIND, plugin=PLUGIN):
        props = e.properties or {}
        if "text" not in props:
            continue
        out.append(StoredFile(e.name, str(props.get("uploaded_by", "")), float(props.get("uploaded_at", 0)),
                              _parsed(e.name, props.get("sha256", ""), props["text"])))
    out.sort(key=lambda f: -f.uploaded_at)
    return out


@functools.lru_cache(maxsize=16)
def _parsed(name: str, _sha: str, text: str) -> tuple[typhoon.Storm, ...]:
    return tuple(typhoon.parse_best_track(name, text))


def catalogue(store: Store, settings: Any) -> list[typhoon.Storm]:
    """Every storm on offer: the uploaded files' (newest first), then the twin file's; the twin's wind radii
    are attached to the storm their file names."""
    uploaded = [s for f in stored_files(store) for s in f.storms]
    rpath = data.TWIN_DIR / settings.typhoon_radii_file
    return data.with_radii(uploaded, rpath, default_first=False) + list(data.storms(settings))


# -- which storm, at which time ----------------------------------------------------------------------

def _closest_km(storm: typhoon.Storm, start: datetime, end: datetime, lat: float, lon: float) -> float | None:
    """The storm's closest approach to (lat, lon) between start and end; None when it is not alive then."""
    lo, hi = max(start, storm.start), min(end, storm.end)
    if lo > hi:
        return None
    pts = [typhoon.interpolate(storm.points, lo), typhoon.interpolate(storm.points, hi)]
    pts += [p for p in storm.points if lo < p.time < hi]
    return min(typhoon.distance_km(p.lat, p.lon, lat, lon) for p in pts)


@dataclass(frozen=True)
class Choice:
    """The storm chosen (None when there is none) and, when there is none, why (zh, en)."""

    storm: typhoon.Storm | None
    asked: str
    why: tuple[str, str] | None = None


def _bjt(t: datetime, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return t.astimezone(BJT).strftime(fmt)


def choose(storms: Sequence[typhoon.Storm], asked: str, start: datetime, end: datetime, lat: float,
           lon: float) -> Choice:
    """The storm asked for by number or name (any case), or, when ``asked`` is empty, the storm that comes
    nearest (lat, lon) between ``start`` and ``end``. Among several storms of that number or name, the one
    alive in the period first, then the first offered."""
    asked = " ".join(str(asked or "").split())
    if asked:
        found = [s for s in storms if s.matches(asked)]
        if not found:
            known = ", ".join(dict.fromkeys(s.label for s in storms if s.cn_id != "0000"))
            return Choice(None, asked, (f"未找到台风 “{asked}”\n(可选: {known or '无'})",
                                        f"No storm “{asked}”\n(offered: {known or 'none'})"))
        alive = [s for s in found if _closest_km(s, start, end, lat, lon) is not None]
        return Choice((alive or found)[0], asked)
    near = [(d, i, s) for i, s in enumerate(storms) if (d := _closest_km(s, start, end, lat, lon)) is not None]
    if not near:
        return Choice(None, "", (f"{_bjt(start)} 至 {_bjt(end)}(北京时)没有台风\n在设置中按编号或名字选择",
                                 f"No storm between {_bjt(start)} and {_bjt(end)} (BJT)\nchoose one by number "
                                 "or name in the settings"))
    return Choice(min(near, key=lambda x: (x[0], x[1]))[2], "")


@dataclass(frozen=True)
class Situation:
    """What the typhoon panels show: the storm, the time asked, its interpolated point (None when the time
    is outside the storm's life, or there is no storm) and the notice (zh, en) shown instead (lines
    separated by ``\\n``)."""

    storm: typhoon.Storm | None
    time: datetime
    point: typhoon.TrackPoint | None
    notice: tuple[str, str] | None


def parse_time(text: str, field: str) -> datetime:
    """A YYYYMMDDHH (UTC) time; ValueError naming the field otherwise."""
    try:
        if len(str(text)) != 10:
            raise ValueError
        return datetime.strptime(str(text), "%Y%m%d%H").replace(tzinfo=timezone.utc)
    except ValueError:
        raise ValueError(f"{field}: {text!r} is not a YYYYMMDDHH time (UTC)") from None


def situation(store: Store, settings: Any, options: dict[str, Any], phase: float | None) -> Situation:
    """The storm chosen for these panel options and settings, and where it is at the time shown.

    The time is the option ``track_time`` or the demo cycle's ``phase`` mapped onto ``typhoon_start`` ..
    ``+ typhoon_hours``; the period the default choice looks at is that instant or that whole cycle.
    """
    start = parse_time(settings.typhoon_start, "typhoon_start")
    end = start + timedelta(hours=cycle_hours(settings))
    if options.get("track_time"):
        now = parse_time(options["track_time"], "track_time")
        start = end = now
    else:
        now = start + timedelta(hours=cycle_hours(settings) * (phase if phase is not None else 0.0))
    asked = str(options.get("storm") or settings.typhoon_storm or "")
    pick = choose(catalogue(store, settings), asked, start, end, settings.district_lat, settings.district_lon)
    storm = pick.storm
    if storm is None:
        return Situation(None, now, None, pick.why)
    if not storm.alive_at(now):
        life_zh, life_en = f"{_bjt(storm.start)} 至 {_bjt(storm.end)}", f"{_bjt(storm.start)} to {_bjt(storm.end)}"
        return Situation(storm, now, None, (
            f"{_bjt(now)}(北京时)不在台风 {storm.label_zh} 的生命期内\n(生命期 {life_zh}),无位置可示",
            f"{_bjt(now)} (BJT) is outside the life of storm {storm.label}\n(its life: {life_en}): no position to show"))
    return Situation(storm, now, typhoon.interpolate(storm.points, now), None)
