"""One read of the store for every panel of the enforcement screen, cached a couple of seconds."""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass

from core.api import PanelContext

from . import grading
from .model import Inspector, Record, Task, Unit, inspectors, records, tasks, units


@dataclass
class Snapshot:
    today: dt.date
    year: int
    tasks: list[Task]
    records: list[Record]
    inspectors: list[Inspector]
    units: list[Unit]
    enterprises: list[grading.PlanEnterprise]

    @property
    def checks(self) -> list[Task]:
        """This year's plan checks (plan and added, not cancelled)."""
        return [t for t in self.tasks if t.year == self.year and t.kind != "follow_up" and t.state != "cancelled"]

    def overdue(self, grace: float = 0.0) -> list[Task]:
        return [t for t in self.tasks if t.overdue_days(self.today, grace) > 0]


_cache: dict[int, tuple[float, Snapshot]] = {}
_lock = threading.Lock()


def snapshot(ctx: PanelContext) -> Snapshot:
    now = time.time()
    key = id(ctx.store) ^ hash(ctx.settings.plan_year)
    with _lock:
        hit = _cache.get(key)
        if hit and now - hit[0] < 2.0:
            ctx.data_time = hit[0]
            return hit[1]
    today = dt.date.today()
    year = ctx.settings.plan_year or today.year
    snap = Snapshot(today, year, tasks(ctx.store), records(ctx.store, year), inspectors(ctx.store),
                    units(ctx.store), grading.enterprises(ctx.store, ctx.settings.enterprise_kinds, today))
    with _lock:
        _cache[key] = (now, snap)
    ctx.data_time = now
    return snap
