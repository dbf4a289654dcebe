"""The plan's targets (section 九) measured: participation, coverage, certification, each gap by unit.

* **Participation** of cadres (干部轮训), inspectors (执法人员复训) and grid workers: everyone on a roster
  of who must train, against valid training of their category. Target 100%.
* **Front-line coverage** of high-risk enterprises (危化品, 烟花爆竹): people with valid front-line
  training per enterprise against the enterprise's worker count, read from the twin
  (``properties.frontline_workers``, else ``properties.staff``). Target 100%.
* **三类人员**: each high-risk enterprise has a valid certificate for its principal and its safety
  manager; of all 三类 people on record, the share whose certificate is valid. Target 100%.

A record is **valid** today when it has an expiry that has not passed, or no expiry and a date
within the period (``period_days``, a rolling year by default). An enterprise is **high-risk** when
its ``properties.high_risk`` says so (``hazardous_chemicals`` or ``fireworks``), its kind is one of
``hazardous_kinds`` (the chemical park's enterprises), or it holds a licence (许可证) for hazardous
chemicals or fireworks in ``properties.permits``.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from core.api import Store

from . import records as R

ENTERPRISE_KINDS = ("enterprise", "sme_enterprise", R.KIND_FIREWORKS)
HAZARDOUS_KINDS = ("enterprise",)
HIGH_RISK_TEXT = {"hazardous_chemicals": ("危化品", "Hazardous chemicals"), "fireworks": ("烟花爆竹", "Fireworks")}


def enterprise_entities(store: Store, kinds: tuple[str, ...] = ENTERPRISE_KINDS) -> list[Any]:
    """Every enterprise of the twin, whichever plugin placed it."""
    return [e for k in kinds for e in store.entities(kind=k)]


def high_risk_class(e: Any, hazardous_kinds: tuple[str, ...] = HAZARDOUS_KINDS) -> str | None:
    """``hazardous_chemicals``, ``fireworks`` or None (see the module docstring)."""
    p = e.properties or {}
    if p.get("high_risk") in HIGH_RISK_TEXT:
        return str(p["high_risk"])
    if e.kind in hazardous_kinds:
        return "hazardous_chemicals"
    for permit in p.get("permits") or []:
        t = str(permit.get("type", "")) if isinstance(permit, dict) else str(permit)
        if "许可证" in t and ("危险化学品" in t or "危化品" in t):
            return "hazardous_chemicals"
        if "许可证" in t and "烟花爆竹" in t:
            return "fireworks"
    return None


def is_valid(rec: R.Stored, today: dt.date, period_days: int) -> bool:
    """Valid today: an expiry not passed, or no expiry and a date within the period."""
    if rec["expiry"]:
        return dt.date.fromisoformat(rec["expiry"]) >= today
    return dt.date.fromisoformat(rec["date"]) >= today - dt.timedelta(days=period_days)


@dataclass
class Gap:
    """One unit's shortfall against one target."""

    unit: str
    target: str            # roster role, "frontline", "principal", "safety_manager", "certificates"
    required: int
    done: int
    missing: list[str] = field(default_factory=list)   # names where known
    unit_en: str = ""      # the unit's English name (an enterprise's name_en, a government unit's by its suffix)

    @property
    def short(self) -> int:
        return max(0, self.required - self.done)


@dataclass
class Share:
    """done of required (rate 1.0 when nothing is required)."""

    done: int
    required: int

    @property
    def rate(self) -> float:
        return min(1.0, self.done / self.required) if self.required else 1.0


@dataclass
class EnterpriseRow:
    id: str
    name: str
    name_en: str
    klass: str
    workers: int
    trained: int
    principal: bool
    safety_manager: bool
    expired: int


@dataclass
class Snapshot:
    """Everything the panels show, computed once."""

    today: dt.date
    participation: dict[str, Share]
    frontline: Share
    three_types: Share
    enterprises: list[EnterpriseRow]
    gaps: list[Gap]
    hours: dict[str, tuple[float, int]]                  # category → (hours in period, people)
    outreach_channels: dict[str, tuple[int, int]]        # channel → (events, people) in period
    outreach_months: list[tuple[str, dict[str, int]]]    # "YYYY-MM" → channel → people, last 12 months
    expiring: list[tuple[R.Stored, int]]                 # certificates expiring (days left, negative: expired)
    records: int = 0
    demo: bool = False
    data_time: float | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON for ``/plugins/safety_literacy/kpis``."""
        return {"today": self.today.isoformat(), "records": self.records, "demo": self.demo,
                "participation": {k: {"done": s.done, "required": s.required, "rate": round(s.rate, 4)}
                                  for k, s in self.participation.items()},
                "frontline": {"done": self.frontline.done, "required": self.frontline.required,
                              "rate": round(self.frontline.rate, 4)},
                "three_types": {"done": self.three_types.done, "required": self.three_types.required,
                                "rate": round(self.three_types.rate, 4)},
                "enterprises": [e.__dict__ for e in self.enterprises],
                "shortfalls": [{"unit": g.unit, "unit_en": g.unit_en, "target": g.target, "required": g.required, "done": g.done,
                                "short": g.short, "missing": g.missing[:50]} for g in self.gaps],
                "hours": {k: {"hours": h, "people": n} for k, (h, n) in self.hours.items()},
                "outreach": {k: {"events": e, "people": p} for k, (e, p) in self.outreach_channels.items()}}


def _key(*parts: Any) -> tuple[str, ...]:
    return tuple(R.norm(p).lower() for p in parts)


def compute(store: Store, today: dt.date | None = None, period_days: int = 365, expiring_days: int = 60,
            enterprise_kinds: tuple[str, ...] = ENTERPRISE_KINDS,
            hazardous_kinds: tuple[str, ...] = HAZARDOUS_KINDS) -> Snapshot:
    """The KPIs of the records in ``store`` on ``today``."""
    today = today or dt.date.today()
    trains = R.trainings(store)
    valid = [r for r in trains if is_valid(r, today, period_days)]
    gaps: list[Gap] = []

    # participation against rosters
    done_by: dict[str, set[tuple[str, ...]]] = defaultdict(set)
    for r in valid:
        done_by[r["category"]].add(_key(r["person"], r["unit"]))
    participation: dict[str, Share] = {}
    for role in R.ROLES:
        people = [p for p in R.rosters(store) if p["role"] == role]
        by_unit: dict[str, list[R.Stored]] = defaultdict(list)
        for p in people:
            by_unit[p["unit"]].append(p)
        total = 0
        for unit, members in sorted(by_unit.items()):
            missing = sorted(m["person"] for m in members if _key(m["person"], m["unit"]) not in done_by[role])
            total += len(members) - len(missing)
            if missing:
                gaps.append(Gap(unit, role, len(members), len(members) - len(missing), missing, R.unit_en(unit)))
        participation[role] = Share(total, len(people))

    # high-risk enterprises: front-line coverage and 三类人员
    by_unit_cat: dict[tuple[str, str], list[R.Stored]] = defaultdict(list)
    for r in trains:
        if r["unit_id"]:
            by_unit_cat[(r["unit_id"], r["category"])].append(r)
    ents: list[EnterpriseRow] = []
    workers_total = trained_total = 0
    for e in enterprise_entities(store, enterprise_kinds):
        klass = high_risk_class(e, hazardous_kinds)
        if klass is None:
            continue
        p = e.properties or {}
        workers = int(p.get("frontline_workers") or p.get("staff") or 0)
        trained = len({_key(r["person"]) for r in by_unit_cat[(e.id, "frontline")] if is_valid(r, today, period_days)})
        has = {c: any(is_valid(r, today, period_days) for r in by_unit_cat[(e.id, c)])
               for c in ("principal", "safety_manager")}
        three = [r for c in R.THREE_TYPES for r in by_unit_cat[(e.id, c)]]
        expired = sum(1 for r in three if not is_valid(r, today, period_days))
        ents.append(EnterpriseRow(e.id, e.name, e.name_en or e.name, klass, workers, min(trained, workers),
                                  has["principal"], has["safety_manager"], expired))
        workers_total += workers
        trained_total += min(trained, workers)
        if trained < workers:
            names = sorted({r["person"] for r in by_unit_cat[(e.id, "frontline")]
                            if not is_valid(r, today, period_days)})
            gaps.append(Gap(e.name, "frontline", workers, trained, names, e.name_en or ""))
        for c in ("principal", "safety_manager"):
            if not has[c]:
                gaps.append(Gap(e.name, c, 1, 0, sorted({r["person"] for r in by_unit_cat[(e.id, c)]}), e.name_en or ""))
        if expired:
            gaps.append(Gap(e.name, "certificates", len(three), len(three) - expired,
                            sorted(r["person"] for r in three if not is_valid(r, today, period_days)), e.name_en or ""))

    # 三类人员: the newest record per person and category decides
    newest: dict[tuple[str, ...], R.Stored] = {}
    for r in trains:
        if r["category"] in R.THREE_TYPES:
            k = _key(r["person"], r["unit"], r["category"])
            if k not in newest or (r["expiry"] or "") > (newest[k]["expiry"] or ""):
                newest[k] = r
    three_share = Share(sum(1 for r in newest.values() if is_valid(r, today, period_days)), len(newest))

    since = today - dt.timedelta(days=period_days)
    hours: dict[str, tuple[float, int]] = {}
    for cat in R.CATEGORIES:
        mine = [r for r in trains if r["category"] == cat and dt.date.fromisoformat(r["date"]) >= since]
        hours[cat] = (round(sum(float(r["hours"]) for r in mine), 1), len({_key(r["person"], r["unit"]) for r in mine}))

    events = R.outreach(store)
    channels = {c: (0, 0) for c in R.CHANNELS}
    months = _months(today, 12)
    per_month: dict[str, dict[str, int]] = {m: {c: 0 for c in R.CHANNELS} for m in months}
    for ev in events:
        d = dt.date.fromisoformat(ev["date"])
        if d >= since:
            n, people = channels[ev["channel"]]
            channels[ev["channel"]] = (n + 1, people + int(ev["count"]))
        m = d.strftime("%Y-%m")
        if m in per_month:
            per_month[m][ev["channel"]] += int(ev["count"])

    expiring = []
    for r in trains:
        if r["certificate"] and r["expiry"]:
            left = (dt.date.fromisoformat(r["expiry"]) - today).days
            if left <= expiring_days and left >= -period_days:
                expiring.append((r, left))
    expiring.sort(key=lambda x: x[1])
    gaps.sort(key=lambda g: (-g.short, g.unit))
    newest_import = max((float(r["imported_at"] or 0) for r in trains), default=None)
    return Snapshot(today, participation, Share(trained_total, workers_total), three_share, ents, gaps, hours,
                    channels, [(m, per_month[m]) for m in months], expiring, records=len(trains) + len(events),
                    demo=any(r["demo"] for r in trains), data_time=newest_import)


def _months(today: dt.date, n: int) -> list[str]:
    y, m = today.year, today.month
    out = []
    for _ in range(n):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y - 1, 12) if m == 1 else (y, m - 1)
    return out[::-1]


_cache: dict[tuple[Any, ...], tuple[float, Snapshot]] = {}
_cache_lock = threading.Lock()


def cached(store: Store, ttl_s: float = 5.0, **kw: Any) -> Snapshot:
    """:func:`compute`, shared by the panels of one refresh (a few seconds; imports show at the next)."""
    key = (id(store), dt.date.today(), *sorted((k, str(v)) for k, v in kw.items()))
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None and now - hit[0] < ttl_s:
            return hit[1]
    snap = compute(store, **kw)
    with _cache_lock:
        if len(_cache) > 32:
            _cache.clear()
        _cache[key] = (now, snap)
    return snap


def forget() -> None:
    """Drop cached snapshots (after an import, so the screen shows it at the next refresh)."""
    with _cache_lock:
        _cache.clear()
