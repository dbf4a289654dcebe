"""Enterprises under the plan, read through the store (never by importing another plugin): their risk
grade and their town.

Grade, first that applies (README "Risk grade"):
1. ``properties.risk_grade`` of the enterprise entity (the bureau's official grade): A/B/C/D,
   重大/较大/一般/低(风险) or red/orange/yellow/blue;
2. the newest ``risk_score`` reading of the entity (0–100) cut at 50 / 30 / 15 — the four-colour
   classes enterprise_park's score uses;
3. from the file in the store: a major hazard source of the enterprise (``hazard_source`` entities
   with ``properties.enterprise``) of grade 一级/二级 → A, 三级/四级 → at least B; otherwise points
   from the file — hazardous chemicals (4 per listed chemical, 2 more if stored, 100 × Σq/Q, at most
   25), open hazards (``inspection`` entities: 4 per general, 10 per major, at most 25), overdue open
   hazards (8 each, at most 20) — cut at 50 / 30 / 15.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from dataclasses import dataclass
from typing import Any

from core.api import Store

GRADE_TEXT = {"A": ("重大风险", "Major", "#e8363b"), "B": ("较大风险", "High", "#f5852a"),
              "C": ("一般风险", "Moderate", "#f6d33c"), "D": ("低风险", "Low", "#2f8cf2")}
_SYNONYMS = {"a": "A", "重大": "A", "重大风险": "A", "red": "A", "红": "A",
             "b": "B", "较大": "B", "较大风险": "B", "orange": "B", "橙": "B",
             "c": "C", "一般": "C", "一般风险": "C", "yellow": "C", "黄": "C",
             "d": "D", "低": "D", "低风险": "D", "blue": "D", "蓝": "D"}
CUTS = ((50.0, "A"), (30.0, "B"), (15.0, "C"), (0.0, "D"))
#: the district's streets and towns (approximate centres; the host's base-map labels)
TOWNS = (("haimen", "海门街道", "Haimen", 121.432, 28.6815), ("jiazhi", "葭沚街道", "Jiazhi", 121.396, 28.67),
         ("baiyun", "白云街道", "Baiyun", 121.423, 28.657), ("hongjia", "洪家街道", "Hongjia", 121.365, 28.624),
         ("xiachen", "下陈街道", "Xiachen", 121.476, 28.62), ("sanjia", "三甲街道", "Sanjia", 121.50553, 28.65997),
         ("qiansuo", "前所街道", "Qiansuo", 121.455, 28.723), ("zhangan", "章安街道", "Zhang'an", 121.36, 28.73),
         ("dachen", "大陈镇", "Dachen", 121.895, 28.445))
TOWN_NAMES = {k: (zh, en) for k, zh, en, _, _ in TOWNS}


def town_text(key: str, lang: str) -> str:
    zh, en = TOWN_NAMES.get(key, (key, key))
    return en if lang == "en" else zh


def normalise_grade(value: Any) -> str | None:
    """'重大' / 'A' / 'red' ... → 'A'..'D'; None when it is none of them."""
    return _SYNONYMS.get(str(value or "").strip().lower().removesuffix("类").removesuffix("级"))


def grade_of_score(score: float) -> str:
    return next(g for lo, g in CUTS if score >= lo)


@dataclass(frozen=True)
class PlanEnterprise:
    """An enterprise as the plan sees it."""

    id: str
    name: str
    name_en: str
    town: str
    grade: str
    grade_source: str   # official | score | hazard_source | file
    score: float | None
    uscc: str = ""
    lon: float | None = None
    lat: float | None = None


def _point(e: Any) -> tuple[float, float] | None:
    g = e.geometry or {}
    try:
        if g.get("type") == "Point":
            return float(g["coordinates"][0]), float(g["coordinates"][1])
        if g.get("type") == "Polygon":
            ring = g["coordinates"][0]
            return sum(p[0] for p in ring) / len(ring), sum(p[1] for p in ring) / len(ring)
    except (KeyError, IndexError, TypeError, ValueError, ZeroDivisionError):
        return None
    return None


def _town_by_name(text: Any) -> str | None:
    s = str(text or "")
    for key, zh, en, _, _ in TOWNS:
        if s and (zh.removesuffix("街道").removesuffix("镇") in s or s.lower() == key or s == en):
            return key
    return None


def nearest_town(lon: float, lat: float) -> str:
    k = math.cos(math.radians(lat))
    return min(TOWNS, key=lambda t: ((t[3] - lon) * k) ** 2 + (t[4] - lat) ** 2)[0]


def _file_score(e: Any, open_hazards: list[Any], today: dt.date) -> float:
    p = e.properties or {}
    listed = [c for c in p.get("hazardous_chemicals") or [] if c.get("critical_t")]
    stored = [c for c in listed if c.get("use") == "储存"]
    try:
        q = sum(float(c.get("max_stock_t", 0)) / float(c["critical_t"]) for c in listed)
    except (TypeError, ValueError, ZeroDivisionError):
        q = 0.0
    chem = min(25.0, 4 * len(listed) + 2 * len(stored) + 100 * q)
    major = sum(1 for h in open_hazards if (h.properties or {}).get("level") == "major")
    hz = min(25.0, 4 * (len(open_hazards) - major) + 10 * major)
    now = time.mktime(today.timetuple())
    overdue = sum(1 for h in open_hazards if float((h.properties or {}).get("deadline") or math.inf) < now)
    return round(chem + hz + min(20.0, 8.0 * overdue), 1)


def enterprises(store: Store, kinds: list[str], today: dt.date | None = None) -> list[PlanEnterprise]:
    """Every enterprise of ``kinds`` with its grade (and where it came from) and its town, by id."""
    today = today or dt.date.today()
    ents = [e for k in kinds for e in store.entities(kind=k)]
    if not ents:
        return []
    parks = {e.id: e for e in store.entities(kind="sme_park")}
    sources: dict[str, list[str]] = {}
    for h in store.entities(kind="hazard_source"):
        ent = (h.properties or {}).get("enterprise")
        if ent:
            sources.setdefault(ent, []).append(str((h.properties or {}).get("grade", "")))
    hazards: dict[str, list[Any]] = {}
    for h in store.entities(kind="inspection"):
        p = h.properties or {}
        if p.get("enterprise") and p.get("state") != "closed":
            hazards.setdefault(p["enterprise"], []).append(h)
    scores = {lv.entity_id: lv.value for lv in store.latest(entity_ids=[e.id for e in ents], metric="risk_score")}
    out = []
    for e in sorted(ents, key=lambda x: x.id):
        p = e.properties or {}
        official = normalise_grade(p.get("risk_grade"))
        score: float | None = None
        if official:
            grade, source = official, "official"
        elif e.id in scores and math.isfinite(scores[e.id]):
            score = float(scores[e.id])
            grade, source = grade_of_score(score), "score"
        else:
            score = _file_score(e, hazards.get(e.id, []), today)
            grade, source = grade_of_score(score), "file"
            hs = sources.get(e.id, [])
            if any(g in ("一级", "二级") for g in hs):
                grade, source = "A", "hazard_source"
            elif hs and grade in ("C", "D"):
                grade, source = "B", "hazard_source"
        pt = _point(e)
        town = (_town_by_name(p.get("town")) or _town_by_name(p.get("street"))
                or _town_by_name((parks.get(p.get("park", "")) or _Empty).properties.get("street"))
                or (nearest_town(*pt) if pt else "haimen"))
        out.append(PlanEnterprise(e.id, e.name, e.name_en or e.name, town, grade, source, score,
                                  str(p.get("uscc", "")), *(pt or (None, None))))
    return out


class _Empty:
    properties: dict[str, Any] = {}
