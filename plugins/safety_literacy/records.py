"""What the plugin keeps: training records, rosters of who must train, outreach events (五进).

Storage choice (as ``enterprise_park`` keeps its hazards): each record is a twin **entity** of this
plugin's own kind, tagged with the plugin; its fields are the entity's properties, its id is derived
from its identity (so a re-import finds it again and nothing is doubled), and every change goes to the
host's audit log in the same transaction (``Store.upsert(rows, audit=...)``). No tables of its own,
no migration.

Identity of a row (what makes a re-import idempotent):

* training: the certificate number when there is one; otherwise person + unit + course + date;
* roster: role + person + unit;
* outreach: channel + date + place + title.
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass
from typing import Any

from core.api import Entity, Store, name_en

PLUGIN = "safety_literacy"
KIND_TRAINING = "safety_literacy_training"
KIND_ROSTER = "safety_literacy_roster"
KIND_OUTREACH = "safety_literacy_outreach"
KIND_BASE = "safety_literacy_base"
KIND_FIREWORKS = "safety_literacy_fireworks_ent"

#: training categories: code → (zh, en, aliases accepted in files)
CATEGORIES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "cadre": ("干部轮训", "Cadre rotation training", ("应急管理干部", "干部", "干部培训", "cadres")),
    "inspector": ("执法人员复训", "Inspector refresher", ("执法人员", "执法复训", "安全生产执法人员复训", "inspectors")),
    "grid_worker": ("网格员培训", "Grid worker training", ("网格员", "应急管理网格员", "grid")),
    "principal": ("主要负责人", "Principal", ("企业主要负责人", "负责人")),
    "safety_manager": ("安全管理人员", "Safety manager", ("安全生产管理人员", "安全员")),
    "special_operator": ("特种作业人员", "Special operator", ("特种作业", "持证特种作业人员")),
    "frontline": ("高危企业一线员工", "High-risk front-line worker", ("一线员工", "高危行业一线员工", "一线从业人员")),
}
#: the "三类人员" of enterprises: their records are certificates (number and expiry required)
THREE_TYPES = ("principal", "safety_manager", "special_operator")
#: categories whose unit is an enterprise of the twin
ENTERPRISE_CATEGORIES = THREE_TYPES + ("frontline",)
#: roster roles (who must train) → the training category that counts for them
ROLES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "cadre": ("应急管理干部", "Emergency-management cadre", ("干部", "干部轮训")),
    "inspector": ("执法人员", "Inspector", ("安全生产执法人员", "执法人员复训")),
    "grid_worker": ("网格员", "Grid worker", ("应急管理网格员", "网格员培训")),
}
#: 五进 outreach channels: code → (zh, en, aliases)
CHANNELS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "enterprise": ("进企业", "Enterprises", ("企业",)),
    "village": ("进农村", "Villages", ("农村", "进村", "村")),
    "community": ("进社区", "Communities", ("社区",)),
    "school": ("进学校", "Schools", ("学校", "校园", "进校园")),
    "family": ("进家庭", "Families", ("家庭",)),
}
#: demonstration bases (示范基地) and their colours on the map
BASE_TYPES: dict[str, tuple[str, str, str]] = {
    "enterprise": ("示范企业", "Model enterprise", "#36c6ff"),
    "community": ("示范社区", "Model community", "#3cdc78"),
    "school": ("示范学校", "Model school", "#f6d33c"),
    "experience_hall": ("应急安全体验馆", "Safety experience hall", "#ff8a3c"),
    "training_base": ("教育培训基地", "Training base", "#c08cff"),
}


#: government units that keep rosters (system vocabulary): suffix → English, longest first. A unit named
#: "<place><suffix>" reads "<place in English> <suffix in English>" on English screens (unit_en).
UNIT_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("区应急管理局执法大队", "District EM Bureau enforcement brigade"),
    ("应急管理局执法大队", "EM Bureau enforcement brigade"),
    ("区应急管理局", "District Emergency Management Bureau"), ("应急管理局", "Emergency Management Bureau"),
    ("应急管理办公室", "emergency office"), ("应急管理办", "emergency office"), ("应急管理站", "emergency station"),
    ("安监站", "safety station"), ("执法大队", "enforcement brigade"), ("网格", "grid"),
)


def unit_en(unit: str) -> str:
    """A roster unit's English form: a known government-unit suffix in English after its place's English
    name (``"下陈街道应急管理办公室"`` → ``"Xiachen Subdistrict emergency office"``); "" when no suffix is
    known (the screen then uses the name's pinyin form)."""
    u = norm(unit)
    for zh, en in UNIT_SUFFIXES:
        if u.endswith(zh):
            place = u[: -len(zh)]
            return f"{name_en(place)} {en}" if place else en
    return ""


def norm(text: Any) -> str:
    """A name as compared: full-width brackets and spaces folded, trimmed (``（演示）`` = ``(演示)``)."""
    s = str(text or "").strip()
    s = s.translate(str.maketrans("（）【】　：", "()[] :"))
    return re.sub(r"\s+", " ", s)


def code_of(table: dict[str, tuple[str, str, tuple[str, ...]]], value: Any) -> str | None:
    """The code a file's text names (the code itself, its zh or en title, or an alias), or None."""
    v = norm(value).lower()
    for code, (zh, en, aliases) in table.items():
        if v in (code, zh.lower(), en.lower()) or v in (a.lower() for a in aliases):
            return code
    return None


def record_id(kind: str, *parts: Any) -> str:
    """A stable entity id from a record's identity (see the module docstring)."""
    key = "\x1f".join(norm(p).lower() for p in parts)
    prefix = {KIND_TRAINING: "sl.tr.", KIND_ROSTER: "sl.ro.", KIND_OUTREACH: "sl.ev."}[kind]
    return prefix + hashlib.sha1(key.encode("utf-8")).hexdigest()[:20]


@dataclass(frozen=True)
class Stored:
    """A record as the panels and KPIs read it: the entity's id, name and properties."""

    id: str
    name: str
    props: dict[str, Any]
    geometry: dict[str, Any] | None = None

    def __getitem__(self, key: str) -> Any:
        return self.props.get(key)


def _read(store: Store, kind: str) -> list[Stored]:
    return [Stored(e.id, e.name, dict(e.properties or {}), e.geometry)
            for e in store.entities(kind=kind, plugin=PLUGIN) if not (e.properties or {}).get("withdrawn")]


def trainings(store: Store) -> list[Stored]:
    """All training records that are not withdrawn."""
    return _read(store, KIND_TRAINING)


def rosters(store: Store) -> list[Stored]:
    """Everyone on a roster of who must train (only those still in post)."""
    return [r for r in _read(store, KIND_ROSTER) if r["active"] is not False]


def outreach(store: Store) -> list[Stored]:
    """All outreach events."""
    return _read(store, KIND_OUTREACH)


def entity_for(kind: str, rid: str, name: str, props: dict[str, Any],
               geometry: dict[str, Any] | None = None) -> Entity:
    """The entity that stores one record."""
    return Entity(id=rid, site_id=None, kind=kind, name=name[:200], name_en="", plugin=PLUGIN,
                  geometry=geometry, properties=props, updated_at=time.time())


def label(table: dict[str, tuple[str, ...]], code: str, lang: str) -> str:
    """The zh or en title of a category, role, channel or base type."""
    row = table.get(code)
    if row is None:
        return code
    return row[1] if lang == "en" else row[0]
