"""The annual enforcement plan as a pure function: enterprises with grades + inspectors → scheduled checks.

Rules (README "The annual plan"):
* an enterprise of grade g gets ``frequency[g]`` checks; the plan's months are cut into that many
  equal windows and check k falls in window k (so checks of one enterprise are spread over the year);
* enterprises are scheduled riskiest first (A, B, C, D, then by id), so capacity goes to them first;
* within its window a check tries the months in an order rotated by the enterprise's position, which
  spreads the load over the months; it takes the first month where ``per_task`` inspectors are free;
* an inspector may join a check in a month only while his enforcement certificate is valid to the
  month's end, and at most ``capacity`` checks in a month; among the free ones the plan prefers the
  enterprise's town, then the district brigade, then other towns, then the least loaded, then by id;
* a check that fits nowhere in its window is not forced in: it is reported as a shortfall.

Same input → same plan: no randomness, no clock, every choice ends in a tie-break by id.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from .grading import PlanEnterprise
from .model import month_end

GRADE_ORDER = {"A": 0, "B": 1, "C": 2, "D": 3}


@dataclass(frozen=True)
class PlanInspector:
    id: str
    town: str
    district: bool
    capacity: int
    cert_expiry: dt.date | None

    def certified_through(self, day: dt.date) -> bool:
        return self.cert_expiry is not None and self.cert_expiry >= day


@dataclass(frozen=True)
class PlannedCheck:
    enterprise: PlanEnterprise
    seq: int
    month: int
    inspectors: tuple[str, ...]


@dataclass(frozen=True)
class Shortfall:
    enterprise: PlanEnterprise
    seq: int
    months: tuple[int, ...]
    reason: str


@dataclass
class Plan:
    year: int
    checks: list[PlannedCheck] = field(default_factory=list)
    shortfalls: list[Shortfall] = field(default_factory=list)
    #: (inspector id, month) → checks he joins
    load: dict[tuple[str, int], int] = field(default_factory=dict)


def windows(months: Sequence[int], f: int) -> list[tuple[int, ...]]:
    """``months`` cut into ``f`` contiguous, near-equal windows."""
    ms = sorted(months)
    n = len(ms)
    return [tuple(ms[k * n // f:(k + 1) * n // f]) for k in range(f)]


def rank_inspectors(pool: Sequence[PlanInspector], town: str, year: int, month: int,
                    load: dict[tuple[str, int], int], annual: dict[str, int]) -> list[PlanInspector]:
    """The inspectors free for a check in ``town`` in ``month``, best first (see the module's rules)."""
    end = month_end(year, month)
    free = [i for i in pool if i.certified_through(end) and load.get((i.id, month), 0) < i.capacity]
    return sorted(free, key=lambda i: (0 if i.town == town else 1 if i.district else 2,
                                       load.get((i.id, month), 0), annual.get(i.id, 0), i.id))


def generate(enterprises: Sequence[PlanEnterprise], inspectors: Sequence[PlanInspector], year: int,
             frequency: dict[str, int], per_task: int, months: Sequence[int],
             fixed: dict[tuple[str, int], int] | None = None) -> Plan:
    """The plan for ``year``. ``fixed``: load already taken by checks kept from before (inspector, month)."""
    plan = Plan(year)
    load: dict[tuple[str, int], int] = defaultdict(int, fixed or {})
    annual: dict[str, int] = defaultdict(int)
    for (iid, _), n in (fixed or {}).items():
        annual[iid] += n
    pool = sorted(inspectors, key=lambda i: i.id)
    order = sorted(enterprises, key=lambda e: (GRADE_ORDER.get(e.grade, 9), e.id))
    for idx, ent in enumerate(order):
        f = int(frequency.get(ent.grade, 0))
        if f <= 0:
            continue
        for seq, window in enumerate(windows(months, f), 1):
            tried = [window[(idx + j) % len(window)] for j in range(len(window))]
            for month in tried:
                team = rank_inspectors(pool, ent.town, year, month, load, annual)[:per_task]
                if len(team) == per_task:
                    for i in team:
                        load[(i.id, month)] += 1
                        annual[i.id] += 1
                    plan.checks.append(PlannedCheck(ent, seq, month, tuple(i.id for i in team)))
                    break
            else:
                plan.shortfalls.append(Shortfall(ent, seq, window, (
                    f"no {per_task} certified inspectors with free capacity in months "
                    f"{window[0]}–{window[-1]}")))
    plan.load = dict(load)
    return plan
