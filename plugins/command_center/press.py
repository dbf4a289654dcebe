"""Press releases (新闻发布): drafted from an incident, reviewed and published by different people.

A release is an ``entity`` row of kind ``press_release`` (id ``cc.press.<number>``, no geometry, so it is
on no map) whose ``properties`` hold the text: title, facts, time and place, casualties (deaths,
injuries, missing), measures taken, the hotline (Chinese; English fields optional), and the workflow.

Workflow (separation of duties, checked here, on the server):

=============  ========================================================================================
``draft``      起草: a manager drafts it from an incident (pre-filled from the incident's record and
               timeline) and may edit it while it is a draft or was rejected
``rejected``   退回: a reviewer sent it back with a reason (kept); the drafter edits it → ``draft``
``reviewed``   审核: approved by a manager or admin **other than the drafter**
``published``  发布: published by a manager or admin **other than the drafter** (the reviewer may)
=============  ========================================================================================

Every step writes an audit entry in the same transaction as the change (``press.draft``, ``press.edit``,
``press.review``, ``press.reject``, ``press.publish``, ``press.refused``), and publishing adds a line
to the incident's timeline.

A published release never changes: :func:`install_guard` puts triggers in the database (SQLite and
PostgreSQL) that refuse any UPDATE or DELETE of a published release's row, whoever issues it (this
module, ``Store.upsert``, raw SQL). A correction is a new release with ``corrects`` = the number of
the published one; both public pages and the feed show the link.

Drills: a release drafted from a drill incident is marked 【演练】 and ``is_drill``; it can go through
the whole workflow (the exercise), but the public pages and the feed never show it.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Mapping
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlmodel import select

from core.api import AuditEntry, Entity, Incident, Store, WarningPublication

from . import incidents
from .incidents import DRILL_PREFIX, KINDS

KIND = "press_release"
PLUGIN = "command_center"
STATES = {"draft": ("草稿", "Draft"), "rejected": ("已退回", "Rejected"), "reviewed": ("已审核", "Reviewed"),
          "published": ("已发布", "Published")}
EDITABLE = ("draft", "rejected")
TEXT_FIELDS = {  # field → (required, limit)
    "title": (True, 200), "title_en": (False, 200), "facts": (True, 4000), "facts_en": (False, 4000),
    "place": (False, 200), "measures": (True, 4000), "measures_en": (False, 4000), "hotline": (True, 40)}
COUNT_FIELDS = ("deaths", "injuries", "missing")
HOTLINE_RE = re.compile(r"^[0-9][0-9 ()+\-转]{2,39}$")
GUARD_MARK = "press_release_immutable"


class PressError(ValueError):
    """Bad input or a step the workflow does not allow; ``field`` names the input. Nothing was changed."""

    def __init__(self, field: str, message: str, status: int = 400) -> None:
        self.field, self.status = field, status
        super().__init__(f"{field}: {message}")


# -- the store-level guard -----------------------------------------------------------------------------
_SQLITE_GUARD = [f"""
CREATE TRIGGER IF NOT EXISTS {GUARD_MARK}_u BEFORE UPDATE ON entity
WHEN OLD.kind = '{KIND}' AND json_extract(OLD.properties, '$.state') = 'published'
BEGIN SELECT RAISE(ABORT, '{GUARD_MARK}: a published press release cannot be changed'); END""", f"""
CREATE TRIGGER IF NOT EXISTS {GUARD_MARK}_d BEFORE DELETE ON entity
WHEN OLD.kind = '{KIND}' AND json_extract(OLD.properties, '$.state') = 'published'
BEGIN SELECT RAISE(ABORT, '{GUARD_MARK}: a published press release cannot be deleted'); END"""]
_PG_GUARD = [f"""
CREATE OR REPLACE FUNCTION {GUARD_MARK}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.kind = '{KIND}' AND (OLD.properties::jsonb ->> 'state') = 'published' THEN
    RAISE EXCEPTION '{GUARD_MARK}: a published press release cannot be changed';
  END IF;
  IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
  RETURN NEW;
END $$""", f"DROP TRIGGER IF EXISTS {GUARD_MARK} ON entity", f"""
CREATE TRIGGER {GUARD_MARK} BEFORE UPDATE OR DELETE ON entity
FOR EACH ROW EXECUTE FUNCTION {GUARD_MARK}()"""]


def install_guard(store: Store) -> None:
    """Create the triggers that refuse changes to published releases (idempotent; at plugin start)."""
    dialect = store.engine.dialect.name
    statements = {"sqlite": _SQLITE_GUARD, "postgresql": _PG_GUARD}.get(dialect)
    if statements is None:
        raise RuntimeError(f"press releases: no immutability guard for the {dialect} database")
    with store.engine.begin() as conn:
        if dialect == "postgresql":  # several processes start together: one at a time
            conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": GUARD_MARK})
        for sql in statements:
            conn.execute(text(sql))


def is_guard_refusal(exc: BaseException) -> bool:
    """True when a database error is the guard refusing a change to a published release."""
    return isinstance(exc, sa_exc.DBAPIError) and GUARD_MARK in str(exc.orig if exc.orig is not None else exc)


# -- reading -------------------------------------------------------------------------------------------
def releases(store: Store, *, incident_id: int | None = None, public: bool = False) -> list[Entity]:
    """Releases, newest number first; ``public``: only published, non-drill ones (what /press shows)."""
    rows = [e for e in store.entities(kind=KIND, plugin=PLUGIN)]
    if incident_id is not None:
        rows = [e for e in rows if e.properties.get("incident_id") == incident_id]
    if public:
        rows = [e for e in rows if is_public(e)]
    return sorted(rows, key=lambda e: -int(e.properties.get("number", 0)))


def is_public(release: Entity) -> bool:
    """Published and not a drill: the only releases anyone may see without signing in."""
    return release.properties.get("state") == "published" and not release.properties.get("is_drill")


def get(store: Store, number: int) -> Entity:
    """One release by its number; PressError (404) when there is none."""
    ent = store.entity(f"cc.press.{int(number)}")
    if ent is None or ent.kind != KIND:
        raise PressError("release", f"no press release No. {number}", 404)
    return ent


def corrections_of(store: Store, number: int, public: bool = False) -> list[Entity]:
    """The releases that correct release ``number`` (published, non-drill ones with ``public``)."""
    return [e for e in releases(store, public=public) if e.properties.get("corrects") == int(number)]


# -- pre-filling from the incident -----------------------------------------------------------------------
def _clock(ts: float | None) -> str:
    if not ts:
        return ""
    t = time.localtime(ts)
    return f"{t.tm_year}年{t.tm_mon}月{t.tm_mday}日{t.tm_hour}时{t.tm_min:02d}分"


def prefill(store: Store, incident_id: int, hotline: str = "12345") -> dict[str, Any]:
    """A release's fields pre-filled from the incident's record and timeline (zh; English left empty)."""
    inc = incidents.get(store, incident_id)
    props = inc.properties
    kind_zh = KINDS.get(inc.kind, KINDS["other"])[0]
    when = props.get("reported_at") or inc.opened_at
    place = str(props.get("place") or "")
    bare = inc.title.removeprefix(DRILL_PREFIX)
    facts = [f"{_clock(when)}，{place or '辖区内'}发生{kind_zh}事件（{bare}）。"]
    if props.get("description"):
        facts.append(str(props["description"]).strip())
    if props.get("assessment"):
        facts.append(f"经研判：{props['assessment']}（{incidents_level(inc.severity)}）。")
    measures = []
    for ev in incidents.timeline(store, incident_id):
        if ev.kind in ("dispatch", "handling", "warning", "message", "closed") or (ev.kind == "update" and ev.message):
            measures.append(f"{time.strftime('%H:%M', time.localtime(ev.ts))} {ev.message}")
    with store.session() as db:
        pubs = db.scalars(select(WarningPublication).where(WarningPublication.incident_id == incident_id,
                                                           WarningPublication.state == "published")).all()
    measures += [f"已向 {len(p.recipients)} 个对象发布{p.title}。" for p in pubs if not any(
        f"#{p.id}" in m for m in measures)]
    if not measures:
        measures.append("接报后立即启动应急响应，相关部门和救援力量正在赶赴现场处置。")
    return {"incident_id": inc.id, "is_drill": inc.is_drill, "title": f"关于{bare}的情况通报",
            "title_en": "", "facts": "\n".join(facts), "facts_en": "", "occurred_at": float(when),
            "place": place, "deaths": 0, "injuries": 0, "missing": 0, "measures": "\n".join(measures),
            "measures_en": "", "hotline": hotline, "corrects": None}


def incidents_level(severity: int) -> str:
    return {1: "Ⅰ级", 2: "Ⅱ级", 3: "Ⅲ级", 4: "Ⅳ级"}.get(int(severity), "")


# -- validation ----------------------------------------------------------------------------------------
def _parse_time(value: Any) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        ts = float(value)
    else:
        raw = str(value or "").strip()
        if not raw:
            raise PressError("occurred_at", "is required (YYYY-MM-DD HH:MM, local time)")
        try:
            ts = dt.datetime.fromisoformat(raw.replace("T", " ")).timestamp()
        except ValueError:
            raise PressError("occurred_at", f"{raw!r} is not a time (YYYY-MM-DD HH:MM, local time)") from None
    if not (946684800 <= ts <= 4102444800):  # 2000 .. 2100
        raise PressError("occurred_at", "must be a time between the years 2000 and 2100")
    return ts


def clean(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The validated text of a release; PressError names the first bad field."""
    out: dict[str, Any] = {}
    for name, (required, limit) in TEXT_FIELDS.items():
        value = fields.get(name)
        if value is not None and not isinstance(value, (str, int, float)):
            raise PressError(name, "must be text")
        value = "" if value is None else str(value).replace("\r\n", "\n").strip()
        if required and not value:
            raise PressError(name, "is required")
        if len(value) > limit:
            raise PressError(name, f"is longer than {limit} characters ({len(value)})")
        out[name] = value
    if not HOTLINE_RE.match(out["hotline"]):
        raise PressError("hotline", f"{out['hotline']!r} is not a telephone number (digits, spaces, - ( ) +)")
    for name in COUNT_FIELDS:
        value = fields.get(name)
        if value in (None, ""):
            raise PressError(name, "is required (0 when none)")
        try:
            number = int(str(value).strip()) if not isinstance(value, bool) else None
        except ValueError:
            number = None
        if number is None or number < 0 or number > 1_000_000:
            raise PressError(name, f"must be a whole number from 0, got {value!r}")
        out[name] = number
    out["occurred_at"] = _parse_time(fields.get("occurred_at"))
    return out


# -- workflow ------------------------------------------------------------------------------------------
def _audit(actor: str, action: str, number: int, old: Any, new: Any) -> AuditEntry:
    return AuditEntry(actor=actor[:64], action=action, target=f"press:{number}", old=old, new=new)


def _next_number(store: Store) -> int:
    rows = store.entities(kind=KIND, plugin=PLUGIN)
    return max((int(e.properties.get("number", 0)) for e in rows), default=0) + 1


def draft(store: Store, actor: str, incident_id: Any, fields: Mapping[str, Any],
          corrects: Any = None) -> Entity:
    """起草: a new draft for an incident (a correction names the published release it corrects)."""
    try:
        inc_id = int(incident_id)
    except (TypeError, ValueError):
        raise PressError("incident_id", f"must be an incident number, got {incident_id!r}") from None
    try:
        inc: Incident = incidents.get(store, inc_id)
    except incidents.IncidentError:
        raise PressError("incident_id", f"no incident {inc_id}", 404) from None
    body = clean(fields)
    target = None
    if corrects not in (None, ""):
        try:
            target = get(store, int(corrects))
        except (TypeError, ValueError):
            raise PressError("corrects", f"must be a release number, got {corrects!r}") from None
        except PressError:
            raise PressError("corrects", f"no press release No. {corrects}", 404) from None
        if target.properties.get("state") != "published":
            raise PressError("corrects", f"release No. {corrects} is not published; edit it instead of correcting it")
        if target.properties.get("incident_id") != inc.id:
            raise PressError("corrects", f"release No. {corrects} is about incident "
                                         f"#{target.properties.get('incident_id')}, not #{inc.id}")
    if inc.is_drill and not body["title"].startswith(DRILL_PREFIX):
        body["title"] = DRILL_PREFIX + body["title"]
    now = time.time()
    for _attempt in range(5):  # two drafters at once: the second takes the next number
        number = _next_number(store)
        props = {**body, "number": number, "incident_id": inc.id, "is_drill": bool(inc.is_drill), "state": "draft",
                 "corrects": int(target.properties["number"]) if target is not None else None,
                 "drafted_by": actor[:64], "drafted_at": now, "edited_at": now, "reviewed_by": None,
                 "reviewed_at": None, "published_by": None, "published_at": None, "rejections": []}
        ent = Entity(id=f"cc.press.{number}", site_id=None, kind=KIND, name=body["title"],
                     name_en=body["title_en"], plugin=PLUGIN, geometry=None, properties=props, updated_at=now)
        try:
            with store.session() as db:
                db.add(ent)
                db.add(_audit(actor, "press.draft", number, None,
                              {"incident_id": inc.id, "title": body["title"], "corrects": props["corrects"],
                               "drill": props["is_drill"]}))
                db.commit()
            return ent
        except sa_exc.IntegrityError:
            continue
    raise PressError("release", "could not take a release number; try again", 409)


def _change(store: Store, number: int, actor: str, action: str, step: Any) -> Entity:
    """Load, check and change one release in one transaction with its audit entry."""
    try:
        with store.session() as db:
            row = db.get(Entity, f"cc.press.{int(number)}")
            if row is None or row.kind != KIND:
                raise PressError("release", f"no press release No. {number}", 404)
            old = dict(row.properties)
            new, audit_new = step(old)
            row.properties = new
            row.name, row.name_en = new["title"], new.get("title_en", "")
            row.updated_at = time.time()
            db.add(row)
            db.add(_audit(actor, action, int(number), old["state"], audit_new))
            db.commit()
            db.refresh(row)
            return row
    except sa_exc.DBAPIError as exc:
        if is_guard_refusal(exc):
            raise PressError("release", f"No. {number} is published and cannot be changed; "
                                        "publish a correction instead", 409) from None
        raise


def _refuse(store: Store, actor: str, number: int, step: str, reason: str) -> PressError:
    """A refused step (separation of duties) is audited too, then raised by the caller (403)."""
    store.audit(actor, "press.refused", f"press:{number}", None, {"step": step, "reason": reason})
    return PressError("actor", reason, 403)


def edit(store: Store, number: int, actor: str, fields: Mapping[str, Any]) -> Entity:
    """The drafter revises a draft or a rejected release (→ draft); published ones never change."""
    body = clean(fields)
    current = get(store, number)
    if current.properties.get("state") == "published":
        raise PressError("release", f"No. {number} is published and cannot be changed; publish a correction instead", 409)
    if current.properties.get("drafted_by") != actor:
        raise _refuse(store, actor, number, "edit", f"only the drafter ({current.properties.get('drafted_by')}) "
                                                    "edits a draft")

    def step(old: dict[str, Any]) -> tuple[dict[str, Any], Any]:
        if old["state"] not in EDITABLE:
            raise PressError("state", f"No. {number} is {old['state']}; only a draft or a rejected release is edited", 409)
        if old.get("is_drill") and not body["title"].startswith(DRILL_PREFIX):
            body["title"] = DRILL_PREFIX + body["title"]
        changed = sorted(k for k in body if body[k] != old.get(k))
        return {**old, **body, "state": "draft", "edited_at": time.time()}, {"state": "draft", "changed": changed}
    return _change(store, number, actor, "press.edit", step)


def review(store: Store, number: int, actor: str, approve: bool, reason: str = "") -> Entity:
    """审核: approve (→ reviewed) or reject with a reason (→ rejected); never by the drafter."""
    current = get(store, number)
    if current.properties.get("drafted_by") == actor:
        raise _refuse(store, actor, number, "review", "the drafter may not review their own release "
                                                      "(separation of duties): another manager or an admin reviews it")
    reason = (reason or "").strip()
    if not approve and not reason:
        raise PressError("reason", "is required when a release is sent back")
    if len(reason) > 1000:
        raise PressError("reason", "is longer than 1000 characters")

    def step(old: dict[str, Any]) -> tuple[dict[str, Any], Any]:
        if old["state"] != "draft":
            raise PressError("state", f"No. {number} is {old['state']}; only a draft is reviewed", 409)
        now = time.time()
        if approve:
            return ({**old, "state": "reviewed", "reviewed_by": actor[:64], "reviewed_at": now},
                    {"state": "reviewed"})
        rejections = list(old.get("rejections") or []) + [{"by": actor[:64], "at": now, "reason": reason}]
        return {**old, "state": "rejected", "rejections": rejections}, {"state": "rejected", "reason": reason}
    return _change(store, number, actor, "press.review" if approve else "press.reject", step)


def publish(store: Store, number: int, actor: str) -> Entity:
    """发布: a reviewed release goes public (a drill's only in the workflow); never by the drafter."""
    current = get(store, number)
    if current.properties.get("drafted_by") == actor:
        raise _refuse(store, actor, number, "publish", "the drafter may not publish their own release "
                                                       "(separation of duties)")

    def step(old: dict[str, Any]) -> tuple[dict[str, Any], Any]:
        if old["state"] != "reviewed":
            raise PressError("state", f"No. {number} is {old['state']}; it must be reviewed before it is published", 409)
        return ({**old, "state": "published", "published_by": actor[:64], "published_at": time.time()},
                {"state": "published", "public": not old.get("is_drill"), "corrects": old.get("corrects")})
    row = _change(store, number, actor, "press.publish", step)
    p = row.properties
    note = f"新闻发布: 第 {number} 号《{p['title']}》已发布" + ("(演练,不对外公开)" if p.get("is_drill") else "")
    if p.get("corrects"):
        note += f",更正第 {p['corrects']} 号"
    en = (f"Press release No. {number} published: {p['title_en']}" + (" (drill, not made public)" if p.get("is_drill") else "")
          + (f", correcting No. {p['corrects']}" if p.get("corrects") else "")) if p.get("title_en") else None
    incidents.record(store, int(p["incident_id"]), actor, "press", note, {"release": number}, en=en)
    return row
