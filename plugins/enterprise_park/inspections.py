"""Hidden-danger inspections (隐患排查治理): found → rectifying → reviewing → closed (发现 → 整改 → 复核 → 销号).

Storage choice: an inspection is a twin **entity of kind "inspection"** (id ``ep.insp.<date>-<n>``,
tagged with this plugin) whose properties hold its current state, responsible person, deadline,
photo references and escalation level; **every transition is also written to the host's audit log**
(``store.audit``: actor, ``enterprise_park.inspection.<action>``, ``inspection:<id>``, old state,
new state with note and photos). So no new tables and no migration: the entity is the current
view, the audit log is the history that cannot be edited by the plugin. The entity also keeps a
short ``history`` list so a panel can draw the timeline without scanning the audit log.

Overdue handling: a rectification whose deadline has passed escalates — level 1 园区 (park
operator) as soon as it is overdue, level 2 街道 (street safety office) after 3 days, level 3
区应急管理局 (district bureau) after 7 days — audited as ``escalated``; the ``inspections`` source
also reports ``overdue_days`` readings, which the ``hazard_overdue`` rule turns into alerts
(IV / III / II) that close when the hazard reaches review or is closed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import PurePosixPath
from typing import Any

from core.api import AuditEntry, Entity, Reading, Store

PLUGIN = "enterprise_park"
KIND = "inspection"
STATES = ("found", "rectifying", "reviewing", "closed")
STATE_TEXT = {"found": ("发现", "Found"), "rectifying": ("整改", "Rectifying"),
              "reviewing": ("复核", "Reviewing"), "closed": ("销号", "Closed")}
#: (state, action) → new state
TRANSITIONS = {("found", "assign"): "rectifying", ("rectifying", "submit"): "reviewing",
               ("reviewing", "approve"): "closed", ("reviewing", "reject"): "rectifying"}
ESCALATION = ((0.0, 1, "园区", "park operator"), (3.0, 2, "街道", "street office"),
              (7.0, 3, "区应急管理局", "district bureau"))
LEVELS = {"general": ("一般隐患", "General"), "major": ("重大隐患", "Major")}
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")
_lock = threading.RLock()


class InspectionError(ValueError):
    """A transition that the loop does not allow, or bad input."""


@dataclass
class Inspection:
    id: str
    enterprise: str
    park: str
    title: str
    level: str
    state: str
    responsible: str
    deadline: float
    found_at: float
    found_by: str
    source: str = "inspection"
    photos: list[str] = field(default_factory=list)
    rectify_photos: list[str] = field(default_factory=list)
    escalation: int = 0
    closed_at: float | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    demo: bool = False
    #: the id of what this hazard came from elsewhere (a grid worker's report), "" for one found here
    ref: str = ""
    #: the title in English when there is one (the demo's hazards, AI patrol's own wording); a title a
    #: person typed has none and shows as written, marked as the original, on English screens
    title_en: str = ""

    def overdue_days(self, now: float) -> float:
        """Days past the deadline while rectification is due (found/rectifying); ≤ 0 otherwise."""
        if self.state in ("reviewing", "closed"):
            return -1.0
        return (now - self.deadline) / 86400.0

    def is_overdue(self, now: float) -> bool:
        return self.overdue_days(now) > 0


def _check_photos(photos: Iterable[str]) -> list[str]:
    out = []
    for p in photos:
        path = PurePosixPath(str(p))
        if path.is_absolute() or ".." in path.parts or path.suffix.lower() not in PHOTO_SUFFIXES:
            raise InspectionError(f"photo {p!r} must be a relative image path (jpg/png/webp) without '..'")
        out.append(str(path))
    return out


def _from_entity(e: Any) -> Inspection:
    p = dict(e.properties or {})
    known = {f for f in Inspection.__dataclass_fields__}
    return Inspection(id=e.id, title=e.name, **{k: v for k, v in p.items() if k in known and k not in ("id", "title")})


def _save(store: Store, insp: Inspection, geometry: dict | None = None, audit: AuditEntry | None = None,
          new: bool = False) -> None:
    """Store the inspection (keeping its place unless ``geometry`` is given or it is ``new``) and, in the
    same transaction, its audit entry."""
    props = asdict(insp)
    props.pop("id")
    props.pop("title")
    if geometry is None and not new:
        existing = store.entity(insp.id)
        geometry = existing.geometry if existing is not None else None
    store.upsert([Entity(id=insp.id, site_id=None, kind=KIND, name=insp.title, name_en=insp.title_en, plugin=PLUGIN,
                         geometry=geometry, properties=props, updated_at=time.time())], audit=audit)


def get(store: Store, inspection_id: str) -> Inspection:
    e = store.entity(inspection_id)
    if e is None or e.kind != KIND:
        raise InspectionError(f"no inspection {inspection_id!r}")
    return _from_entity(e)


def all_inspections(store: Store) -> list[Inspection]:
    return [_from_entity(e) for e in store.entities(kind=KIND, plugin=PLUGIN)]


def by_ref(store: Store, ref: str) -> list[Inspection]:
    """The inspections opened for ``ref`` (a grid worker's report id): asked of the database, not read all."""
    return [_from_entity(e) for e in store.entities(kind=KIND, plugin=PLUGIN, where={"ref": ref})] if ref else []


#: per day, the highest inspection number this process gave or saw (the next id is probed from there)
_last_no: dict[tuple[int, str], int] = {}


def _new_id(store: Store, day: str) -> str:
    """``ep.insp.<day>-<n>`` with the first free ``n`` after the last one known (a lookup by id or two,
    not a read of every inspection)."""
    n = _last_no.get((id(store), day), 0) + 1
    while store.entity(f"ep.insp.{day}-{n}") is not None:
        n += 1
    _last_no[(id(store), day)] = n
    return f"ep.insp.{day}-{n}"


def create(store: Store, *, enterprise_id: str, title: str, responsible: str, deadline: float, actor: str,
           level: str = "general", photos: Sequence[str] = (), source: str = "inspection",
           now: float | None = None, demo: bool = False, ref: str = "", enterprise: Entity | None = None,
           title_en: str = "") -> Inspection:
    """Record a found hazard (发现), audited. ``deadline`` is the rectification deadline (epoch s);
    ``enterprise``: the enterprise's entity when the caller has just read it (not read again); ``title_en``:
    the title in English when the caller wrote it (the entity's ``name_en``, so alerts read in English)."""
    now = time.time() if now is None else now
    if level not in LEVELS:
        raise InspectionError(f"level must be one of {sorted(LEVELS)}")
    if not title.strip() or not responsible.strip():
        raise InspectionError("a hazard needs a title and a responsible person")
    ent = enterprise if enterprise is not None and enterprise.id == enterprise_id else store.entity(enterprise_id)
    if ent is None or ent.kind != "sme_enterprise" or ent.plugin != PLUGIN:
        raise InspectionError(f"unknown enterprise {enterprise_id!r}")
    if deadline <= now - 365 * 86400:
        raise InspectionError("deadline is more than a year in the past")
    with _lock:
        day = time.strftime("%Y%m%d", time.localtime(now))
        insp = Inspection(id=_new_id(store, day), enterprise=enterprise_id, park=ent.properties.get("park", ""),
                          title=title.strip(), level=level, state="found", responsible=responsible.strip(),
                          deadline=float(deadline), found_at=now, found_by=actor, source=source,
                          photos=_check_photos(photos), demo=demo, ref=ref, title_en=title_en.strip(),
                          history=[{"state": "found", "ts": now, "actor": actor, "note": title.strip()}])
        _save(store, insp, ent.geometry, new=True, audit=AuditEntry(
            actor=actor, action="enterprise_park.inspection.found", target=f"inspection:{insp.id}", old=None,
            new={"state": "found", "enterprise": enterprise_id, "title": insp.title, "level": level,
                 "responsible": insp.responsible, "deadline": insp.deadline, "photos": insp.photos,
                 "source": source}))
    return insp


def transition(store: Store, inspection_id: str, action: str, actor: str, *, note: str = "",
               photos: Sequence[str] = (), responsible: str | None = None, deadline: float | None = None,
               now: float | None = None) -> Inspection:
    """Move an inspection along the loop: assign (→整改), submit (→复核), approve (→销号), reject (→整改)."""
    now = time.time() if now is None else now
    with _lock:
        insp = get(store, inspection_id)
        new = TRANSITIONS.get((insp.state, action))
        if new is None:
            allowed = [a for (s, a) in TRANSITIONS if s == insp.state]
            raise InspectionError(f"inspection {inspection_id} is {insp.state}: cannot {action!r} "
                                  f"(allowed: {', '.join(allowed) or 'none, it is closed'})")
        if action == "submit" and not photos:
            raise InspectionError("submitting a rectification needs at least one photo of the result")
        if action == "reject" and not note.strip():
            raise InspectionError("rejecting a rectification needs a note saying why")
        old = insp.state
        insp.state = new
        if responsible:
            insp.responsible = responsible
        if deadline:
            insp.deadline = float(deadline)
        if action == "submit":
            insp.rectify_photos = insp.rectify_photos + _check_photos(photos)
        elif photos:
            insp.photos = insp.photos + _check_photos(photos)
        if new == "closed":
            insp.closed_at = now
        insp.history = (insp.history + [{"state": new, "ts": now, "actor": actor, "note": note}])[-20:]
        _save(store, insp, audit=AuditEntry(
            actor=actor, action=f"enterprise_park.inspection.{action}", target=f"inspection:{insp.id}", old=old,
            new={"state": new, "note": note, "photos": list(photos), "responsible": insp.responsible,
                 "deadline": insp.deadline}))
    return insp


def escalation_level(overdue_days: float) -> int:
    level = 0
    for days, lvl, _, _ in ESCALATION:
        if overdue_days > days:
            level = lvl
    return level


def escalate_overdue(store: Store, now: float | None = None, actor: str = "system") -> list[Inspection]:
    """Raise the escalation level of overdue inspections; each raise is audited. Returns the escalated ones."""
    now = time.time() if now is None else now
    out = []
    with _lock:
        for insp in all_inspections(store):
            lvl = escalation_level(insp.overdue_days(now))
            if lvl > insp.escalation:
                old, insp.escalation = insp.escalation, lvl
                to = ESCALATION[lvl - 1]
                insp.history = (insp.history + [{"state": insp.state, "ts": now, "actor": actor,
                                                 "note": f"超期升级至{to[2]}"}])[-20:]
                _save(store, insp)
                store.audit(actor, "enterprise_park.inspection.escalated", f"inspection:{insp.id}", old,
                            {"escalation": lvl, "to": to[2], "overdue_days": round(insp.overdue_days(now), 2),
                             "responsible": insp.responsible})
                out.append(insp)
    return out


def overdue_readings(inspections: Sequence[Inspection], now: float) -> list[Reading]:
    """``overdue_days`` for open inspections and for those closed or in review in the last day (-1, clears)."""
    out = []
    for i in inspections:
        recent = i.history[-1]["ts"] if i.history else i.found_at
        if i.state in ("found", "rectifying") or now - recent < 86400:
            out.append(Reading(i.id, "overdue_days", now, round(i.overdue_days(now), 4), "d"))
    return out


def statistics(inspections: Sequence[Inspection], now: float, key: str = "park") -> dict[str, dict[str, int]]:
    """Counts per park (or enterprise): each state, open, overdue, major."""
    out: dict[str, dict[str, int]] = {}
    for i in inspections:
        row = out.setdefault(getattr(i, key), {s: 0 for s in STATES} | {"open": 0, "overdue": 0, "major": 0})
        row[i.state] += 1
        if i.state != "closed":
            row["open"] += 1
            row["major"] += i.level == "major"
            row["overdue"] += i.is_overdue(now)
    return out


# -- demo ------------------------------------------------------------------------------------------
DEMO_SEED = (  # enterprise, title, level, responsible, days ago found, deadline days from found, state path
    ("ep.ent.jj-autoparts", "液化石油气钢瓶与明火作业区间距不足", "major", "赵磊", 12, 5, ("assign",)),
    ("ep.ent.qs-recycle", "电线私拉乱接、插座过载", "general", "徐斌", 6, 3, ("assign",)),
    ("ep.ent.qs-textile", "车间疏散通道堆放成品", "general", "孙丽", 2, 1, ()),
    ("ep.ent.xl-crafts", "喷涂间防爆风机损坏", "major", "黄敏", 4, 7, ("assign",)),
    ("ep.ent.hm-plastic", "配电柜未上锁、柜前堆物", "general", "吴芳", 5, 3, ("assign", "submit")),
    ("ep.ent.sj-pharma", "危化品暂存间甲醇与盐酸混存", "major", "周杰", 9, 4, ("assign", "submit", "approve")),
    ("ep.ent.jk-sewing", "灭火器压力不足", "general", "张伟", 20, 3, ("assign", "submit", "approve")),
    ("ep.ent.hy-pump", "天然气管道阀门井积水", "general", "王强", 1, 5, ()),
)
DEMO_LIVE = (
    ("ep.ent.mh-toilet", "树脂仓库烟感被遮挡", "李娜"),
    ("ep.ent.tz-mould", "氧气乙炔钢瓶未分开固定存放", "陈静"),
    ("ep.ent.hm-plastic", "丙酮桶露天存放、无防晒", "吴芳"),
    ("ep.ent.hy-pump", "油漆调配间电气线路未穿管", "王强"),
)
#: the demo's hazard titles in English (the demo writes them, so its English screens read in English)
DEMO_TITLES_EN = {
    "液化石油气钢瓶与明火作业区间距不足": "LPG cylinders too close to open-flame work",
    "电线私拉乱接、插座过载": "Makeshift wiring, overloaded sockets",
    "车间疏散通道堆放成品": "Finished goods block the workshop escape route",
    "喷涂间防爆风机损坏": "Spray room explosion-proof fan broken",
    "配电柜未上锁、柜前堆物": "Switchboard unlocked, goods piled in front",
    "危化品暂存间甲醇与盐酸混存": "Methanol and hydrochloric acid stored together",
    "灭火器压力不足": "Fire extinguishers under-pressurised",
    "天然气管道阀门井积水": "Water in the natural-gas valve pit",
    "树脂仓库烟感被遮挡": "Smoke detector covered in the resin store",
    "氧气乙炔钢瓶未分开固定存放": "Oxygen and acetylene cylinders not kept apart",
    "丙酮桶露天存放、无防晒": "Acetone drums outdoors without shade",
    "油漆调配间电气线路未穿管": "Paint-mixing room wiring not in conduit",
}


def seed_demo(store: Store, now: float | None = None) -> int:
    """Demo only: some inspections in every state, two of them overdue, when none exist yet."""
    now = time.time() if now is None else now
    existing = store.entities(kind=KIND, plugin=PLUGIN)
    if existing:
        _demo_titles_en(store, existing)
        return 0
    n = 0
    for ent, title, level, who, ago, days, path in DEMO_SEED:
        t0 = now - ago * 86400
        insp = create(store, enterprise_id=ent, title=title, responsible=who, deadline=t0 + days * 86400,
                      actor="demo:园区安全员", level=level, photos=[f"photos/demo/{ent.split('.')[-1]}-found.jpg"],
                      now=t0, demo=True, title_en=DEMO_TITLES_EN[title])
        for k, action in enumerate(path):
            transition(store, insp.id, action, "demo:街道安监站" if action == "approve" else "demo:企业安全员",
                       note={"assign": "已落实整改责任人", "submit": "已整改", "approve": "复核通过,销号"}[action],
                       photos=[f"photos/demo/{ent.split('.')[-1]}-fixed.jpg"] if action == "submit" else (),
                       now=t0 + (k + 1) * 3600)
        n += 1
    return n


def _demo_titles_en(store: Store, entities: Sequence[Entity]) -> None:
    """Demo only: give the English title to demo hazards a database kept from before titles had one."""
    for e in entities:
        insp = _from_entity(e)
        if insp.demo and not insp.title_en and insp.title in DEMO_TITLES_EN:
            insp.title_en = DEMO_TITLES_EN[insp.title]
            _save(store, insp)


class DemoLoop:
    """Demo only: moves one live hazard through the loop, one step every call, then starts another."""

    STEPS = ("assign", "submit", "approve")

    def __init__(self) -> None:
        self.current: str | None = None
        self.k = 0

    def step(self, store: Store, now: float | None = None) -> str:
        now = time.time() if now is None else now
        if self.current is not None:
            try:
                insp = get(store, self.current)
            except InspectionError:
                insp = None
            if insp is not None and insp.state != "closed":
                action = {"found": "assign", "rectifying": "submit", "reviewing": "approve"}[insp.state]
                if action == "approve" and self.k % 3 == 1 and len(insp.history) < 4:
                    transition(store, insp.id, "reject", "demo:街道安监站", note="复核不通过:整改照片不清晰,请补充", now=now)
                    return f"{insp.id} reject"
                transition(store, insp.id, action, "demo:街道安监站" if action == "approve" else "demo:企业安全员",
                           note={"assign": "已落实整改责任人与期限", "submit": "整改完成,上传照片",
                                 "approve": "复核通过,销号"}[action],
                           photos=[f"photos/demo/{insp.id}-fixed-{len(insp.history)}.jpg"] if action == "submit" else (),
                           now=now)
                return f"{insp.id} {action}"
        # after a restart: finish the live hazards an earlier run left open before starting a new one
        live_titles = {t for _, t, _ in DEMO_LIVE}
        left = sorted((i for i in all_inspections(store) if i.demo and i.title in live_titles and i.state != "closed"),
                      key=lambda i: i.found_at)
        if left and left[0].id != self.current:
            self.current = left[0].id
            return self.step(store, now)
        ent, title, who = DEMO_LIVE[self.k % len(DEMO_LIVE)]
        self.k += 1
        insp = create(store, enterprise_id=ent, title=title, responsible=who, deadline=now + 3 * 86400,
                      actor="demo:AI巡查+人工确认" if self.k % 2 else "demo:园区安全员",
                      photos=[f"photos/demo/live-{self.k}.jpg"], now=now, demo=True,
                      source="ai_patrol" if self.k % 2 else "inspection", title_en=DEMO_TITLES_EN[title])
        self.current = insp.id
        return f"{insp.id} found"
