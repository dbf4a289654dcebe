"""Patrol coverage from the stored readings: which points were visited today / this week, what is overdue.

A check-in stores a ``visited`` reading on its point and a ``checkin`` reading (the point's number) on
the grid's worker. Coverage needs only each point's newest visit (``Store.latest``, one indexed query):
a point is covered today when its last visit is after local midnight, this week when after Monday's,
and overdue when its last visit is older than its grid's ``patrol_every_h`` (or it was never visited).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from core.api import Store

from .model import Twin, day_start, week_start


@dataclass(frozen=True)
class Coverage:
    """Covered points of one town or grid: today, this week, overdue, of ``points``."""

    key: str
    points: int
    today: int
    week: int
    overdue: int

    @property
    def today_frac(self) -> float:
        return self.today / self.points if self.points else 0.0

    @property
    def week_frac(self) -> float:
        return self.week / self.points if self.points else 0.0


def visits(store: Store, twin: Twin) -> dict[str, float]:
    """Each point's newest visit (epoch seconds); unvisited points are missing."""
    return {lv.entity_id: lv.ts for lv in store.latest(metric="visited") if lv.entity_id in twin.points}


def last_checkins(store: Store, twin: Twin) -> dict[str, tuple[float, int]]:
    """Each worker's newest check-in: (ts, point number in its grid)."""
    return {lv.entity_id: (lv.ts, int(lv.value)) for lv in store.latest(metric="checkin") if lv.entity_id in twin.workers}


def _cov(key: str, point_ids: Iterable[str], seen: Mapping[str, float], now: float, every_s: Mapping[str, float]
         ) -> Coverage:
    d0, w0 = day_start(now), week_start(now)
    n = today = week = overdue = 0
    for p in point_ids:
        n += 1
        t = seen.get(p)
        today += t is not None and t >= d0
        week += t is not None and t >= w0
        overdue += t is None or now - t > every_s[p]
    return Coverage(key, n, today, week, overdue)


def _every(twin: Twin) -> dict[str, float]:
    return {p.id: twin.grids[p.grid].every_h * 3600 for p in twin.points.values() if p.grid in twin.grids}


def by_grid(twin: Twin, seen: Mapping[str, float], now: float) -> dict[str, Coverage]:
    every = _every(twin)
    return {g.id: _cov(g.id, [p for p in g.points if p in every], seen, now, every) for g in twin.grids.values()}


def by_town(twin: Twin, seen: Mapping[str, float], now: float) -> list[Coverage]:
    every = _every(twin)
    out = []
    for code, _zh, _en in twin.towns():
        pts = [p for g in twin.grids.values() if g.town == code for p in g.points if p in every]
        out.append(_cov(code, pts, seen, now, every))
    return out


def overall(twin: Twin, seen: Mapping[str, float], now: float) -> Coverage:
    every = _every(twin)
    return _cov("all", list(every), seen, now, every)


def overdue_grids(twin: Twin, seen: Mapping[str, float], now: float) -> list[dict[str, Any]]:
    """Grids with overdue points, worst first: grid, worker ids, overdue count, hours since the oldest visit."""
    out = []
    for g in twin.grids.values():
        late = []
        for pid in g.points:
            t = seen.get(pid)
            if t is None or now - t > g.every_h * 3600:
                late.append(None if t is None else (now - t) / 3600)
        if late:
            known = [h for h in late if h is not None]
            out.append({"grid": g, "overdue": len(late), "points": len(g.points),
                        "oldest_h": max(known) if known else None, "never": len(late) - len(known)})
    return sorted(out, key=lambda r: (-r["overdue"] / max(r["points"], 1), -(r["oldest_h"] or 1e9)))


def categories(reports: Iterable[Any], since: float) -> Counter[str]:
    """Reports per category since ``since``."""
    return Counter(str(r.properties.get("category", "other")) for r in reports
                   if float(r.properties.get("ts", 0)) >= since)
