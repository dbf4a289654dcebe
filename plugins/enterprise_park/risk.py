"""Explainable risk score per enterprise, park ranking and the plan's KPIs.

Score (0–100) = sum of factor points, each capped, each listed with why:

| factor | points | cap |
|---|---|---|
| hazardous chemicals (GB 18218 listed) | 4 per listed chemical, +2 if stored, +100 × Σ q/Q | 25 |
| open hazards | 4 per general, 10 per major | 25 |
| overdue hazards | 8 per overdue hazard + 2 per escalation level | 20 |
| alarms in the last 30 days | I 6, II 4, III 2, IV 1 (IoT devices and AI patrol) | 15 |
| inspection age | 1 per 10 days beyond 30 days since the last settled inspection (see below) | 10 |
| expired permits | 3 each | 6 |

Only real inspections count as inspections: a record in the enterprise's file (``inspection_history``)
or a hazard found on a walk-round (``source="inspection"``); a hazard found by AI video patrol
(``source="ai_patrol"``) is a finding, not a visit. For the score's inspection age a walk-round counts
once its hazard is closed (销号): an open hazard adds its own points and leaves the age where it was,
so finding a hazard never lowers the score (adding an open hazard or an alarm only adds points).

Grades follow the four-colour risk classes: ≥ 50 red 重大, ≥ 30 orange 较大, ≥ 15 yellow 一般, else blue 低.
A park's score is the mean of its enterprises plus a quarter of the gap to its worst enterprise,
so one very risky enterprise lifts its park.

KPIs (targets 100 % by the end of 2022 in the district plan):
* digital supervision coverage of star-rated parks — a star-rated park (star_rating ≥ 1) counts when
  every enterprise in it has at least one IoT device that reported within ``online_window_s``;
* risk-control coverage — a park counts when every enterprise in it has a complete file (industry,
  safety officer, contacts), was really inspected in the last 90 days (a file record or a walk-round
  finding, open or closed; not AI patrol) and has no hazard escalated to the
  district (overdue > 7 days). The enterprise-level share is reported too.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from core.api import Store

from . import inspections as insp_mod

PLUGIN = "enterprise_park"
GRADES = ((50, "red", "重大风险", "Major", "#e8363b"), (30, "orange", "较大风险", "High", "#f5852a"),
          (15, "yellow", "一般风险", "Moderate", "#f6d33c"), (0, "blue", "低风险", "Low", "#2f8cf2"))
SEV_POINTS = {1: 6, 2: 4, 3: 2, 4: 1}


@dataclass
class Factor:
    key: str
    zh: str
    en: str
    detail: str
    points: float


@dataclass
class RiskScore:
    enterprise: str
    name: str
    park: str
    total: float
    factors: list[Factor] = field(default_factory=list)

    @property
    def grade(self) -> tuple[str, str, str, str]:
        """(key, zh, en, colour)."""
        for lo, key, zh, en, color in GRADES:
            if self.total >= lo:
                return key, zh, en, color
        return GRADES[-1][1:]


def _date(s: str) -> float | None:
    try:
        return dt.datetime.strptime(str(s), "%Y-%m-%d").timestamp()
    except ValueError:
        return None


#: hazard sources that are inspections (someone went there); AI patrol findings are not
INSPECTION_SOURCES = frozenset({"inspection"})


def is_inspection(i: insp_mod.Inspection) -> bool:
    """True when the hazard was found by a real inspection (a walk-round), not by AI video patrol."""
    return i.source in INSPECTION_SOURCES


def last_inspected(props: dict[str, Any], insps: Sequence[insp_mod.Inspection], *,
                   settled_only: bool = False) -> float | None:
    """When the enterprise was last really inspected: its file's ``inspection_history`` dates and the
    walk-round findings (AI patrol findings are not inspections). ``settled_only`` counts a walk-round
    finding only once it is closed (the score's inspection age: an open hazard must not lower the risk)."""
    times = [t for h in props.get("inspection_history") or [] if (t := _date(h.get("date", ""))) is not None]
    times += [i.found_at for i in insps if is_inspection(i) and (i.state == "closed" or not settled_only)]
    return max(times) if times else None


def score(ent: Any, insps: Sequence[insp_mod.Inspection], alerts: Sequence[Any], now: float) -> RiskScore:
    """The score of one enterprise from its file, its inspections and its alerts of the last 30 days."""
    p = ent.properties or {}
    factors = []
    chems = p.get("hazardous_chemicals") or []
    listed = [c for c in chems if c.get("critical_t")]
    stored = [c for c in listed if c.get("use") == "储存"]
    q = sum(float(c.get("max_stock_t", 0)) / float(c["critical_t"]) for c in listed)
    pts = min(25.0, 4 * len(listed) + 2 * len(stored) + 100 * q)
    factors.append(Factor("chemicals", "危险化学品", "Hazardous chemicals",
                          f"{len(listed)}/{len(stored)} · Σq/Q={q:.3f}", round(pts, 1)))
    open_ = [i for i in insps if i.state != "closed"]
    major = sum(1 for i in open_ if i.level == "major")
    factors.append(Factor("open_hazards", "未销号隐患", "Open hazards", f"{len(open_)} ({major} major)",
                          min(25.0, 4 * (len(open_) - major) + 10 * major)))
    overdue = [i for i in open_ if i.is_overdue(now)]
    factors.append(Factor("overdue", "超期隐患", "Overdue hazards", f"{len(overdue)}",
                          min(20.0, 8 * len(overdue) + 2 * sum(i.escalation for i in overdue))))
    recent = [a for a in alerts if now - a.opened_at <= 30 * 86400]
    factors.append(Factor("alarms", "30天报警", "Alarms (30 d)", f"{len(recent)}",
                          min(15.0, sum(SEV_POINTS.get(a.severity, 1) for a in recent))))
    last = last_inspected(p, insps, settled_only=True)
    age = (now - last) / 86400 if last else 365.0
    factors.append(Factor("inspection_age", "距上次检查", "Since last inspection", f"{age:.0f} d",
                          round(min(10.0, max(0.0, (age - 30) / 10)), 1)))
    expired = [x for x in p.get("permits") or [] if (t := _date(x.get("valid_until", ""))) is not None and t < now]
    factors.append(Factor("permits", "证照过期", "Expired permits", f"{len(expired)}", min(6.0, 3 * len(expired))))
    total = round(min(100.0, sum(f.points for f in factors)), 1)
    return RiskScore(ent.id, ent.name, p.get("park", ""), total, factors)


@dataclass
class Snapshot:
    """Everything the panels show, computed once per short interval."""

    now: float
    parks: list[Any]
    enterprises: list[Any]
    devices: list[Any]
    inspections: list[insp_mod.Inspection]
    scores: dict[str, RiskScore]
    latest: dict[str, list[Any]]
    device_last: dict[str, float]
    online_window_s: float

    def park_ranking(self) -> list[tuple[Any, float, list[RiskScore]]]:
        out = []
        for park in self.parks:
            mine = [s for s in self.scores.values() if s.park == park.id]
            if not mine:
                out.append((park, 0.0, []))
                continue
            mean = sum(s.total for s in mine) / len(mine)
            worst = max(s.total for s in mine)
            out.append((park, round(mean + 0.25 * (worst - mean), 1), sorted(mine, key=lambda s: -s.total)))
        return sorted(out, key=lambda t: -t[1])

    def online(self, device_entity_id: str) -> bool:
        t = self.device_last.get(device_entity_id)
        return t is not None and self.now - t <= self.online_window_s

    def kpis(self) -> dict[str, Any]:
        by_park: dict[str, list[Any]] = {}
        for e in self.enterprises:
            by_park.setdefault(e.properties.get("park", ""), []).append(e)
        devs_by_ent: dict[str, list[Any]] = {}
        for d in self.devices:
            devs_by_ent.setdefault(d.properties.get("enterprise", ""), []).append(d)
        starred = [p for p in self.parks if int(p.properties.get("star_rating") or 0) >= 1]
        digital = [p for p in starred if by_park.get(p.id) and all(
            any(self.online(d.id) for d in devs_by_ent.get(e.id, [])) for e in by_park[p.id])]

        def controlled(e: Any) -> bool:
            p = e.properties or {}
            complete = bool(p.get("industry") and (p.get("safety_officer") or {}).get("name") and p.get("contacts"))
            mine = [i for i in self.inspections if i.enterprise == e.id]
            last = last_inspected(p, mine)
            recent = last is not None and self.now - last <= 90 * 86400
            return complete and recent and not any(i.overdue_days(self.now) > 7 for i in mine)
        ok_ents = [e for e in self.enterprises if controlled(e)]
        ok_parks = [p for p in self.parks if by_park.get(p.id) and all(controlled(e) for e in by_park[p.id])]
        online = sum(1 for d in self.devices if self.online(d.id))
        open_ = [i for i in self.inspections if i.state != "closed"]
        return {
            "parks": len(self.parks), "star_parks": len(starred), "enterprises": len(self.enterprises),
            "devices": len(self.devices), "devices_online": online,
            "digital_coverage": len(digital) / len(starred) if starred else 0.0,
            "digital_parks": [p.id for p in digital],
            "risk_control_coverage": len(ok_parks) / len(self.parks) if self.parks else 0.0,
            "risk_control_enterprises": len(ok_ents) / len(self.enterprises) if self.enterprises else 0.0,
            "open_hazards": len(open_), "overdue_hazards": sum(1 for i in open_ if i.is_overdue(self.now)),
            "red": sum(1 for s in self.scores.values() if s.grade[0] == "red"),
        }


_cache: dict[int, tuple[float, float, Snapshot]] = {}
_cache_lock = threading.Lock()


def snapshot(store: Store, now: float | None = None, online_window_s: float = 600.0, ttl_s: float = 2.0) -> Snapshot:
    """Read the twin once (entities, inspections, alerts, latest values) and score every enterprise."""
    now = time.time() if now is None else now
    with _cache_lock:
        hit = _cache.get(id(store))
        if hit and 0 <= now - hit[0] < ttl_s and hit[1] == online_window_s:  # an earlier `now` is not a hit
            return hit[2]
    ents = store.entities(plugin=PLUGIN)
    parks = [e for e in ents if e.kind == "sme_park"]
    enterprises = [e for e in ents if e.kind == "sme_enterprise"]
    devices = [e for e in ents if e.kind == "iot_device"]
    insps = [insp_mod._from_entity(e) for e in ents if e.kind == insp_mod.KIND]
    dev_ent = {d.id: d.properties.get("enterprise") for d in devices}
    alerts = store.alerts(states=("open", "acknowledged", "closed"), limit=20000)
    by_ent: dict[str, list[Any]] = {}
    for a in alerts:
        if a.plugin != PLUGIN:
            continue
        target = dev_ent.get(a.entity_id, a.entity_id)
        by_ent.setdefault(target, []).append(a)
    latest: dict[str, list[Any]] = {}
    device_last: dict[str, float] = {}
    for lv in store.latest(entity_ids=list(dev_ent)):
        latest.setdefault(lv.entity_id, []).append(lv)
        device_last[lv.entity_id] = max(device_last.get(lv.entity_id, 0.0), lv.ts)
    scores = {e.id: score(e, [i for i in insps if i.enterprise == e.id], by_ent.get(e.id, []), now)
              for e in enterprises}
    snap = Snapshot(now, parks, enterprises, devices, insps, scores, latest, device_last, online_window_s)
    with _cache_lock:
        _cache[id(store)] = (now, online_window_s, snap)
    return snap
