"""DEMO only (演示): a week of patrol history and a few reports, and demo workers who keep patrolling.

Nothing here runs unless the settings ask for it (``demo_history``, ``demo_live``). The history is a
deterministic pseudo-random week of check-ins per grid (each grid's worker has a diligence, so some
grids fall behind and show as overdue) and a dozen general reports; it is seeded once (when no visit is
stored yet). The live demo checks in one worker at its grid's next unvisited point at every step, and
moves the households of open evacuation tasks step by step through the same confirmation path as a
phone (so flood_defence's transfer figures follow).
"""

from __future__ import annotations

import logging
import random
import time
from typing import Any

from core.api import Bus, Entity, Reading, Store

from . import evacuation
from .model import CATEGORIES, PLUGIN, Twin, day_start, load_twin
from .reports import Who

log = logging.getLogger(__name__)

DEMO_REPORTS = (  # category, description, its English form, days ago, hour
    ("electrical", "出租房楼道电线老化、私拉乱接", "Aged, makeshift wiring in a rented block's stairwell", 0, 9.5),
    ("fire", "电动车在楼道内充电", "E-bike charging in a stairwell", 0, 10.2),
    ("escape", "沿街店铺后门被货物堵塞", "Street shop's back door blocked by goods", 1, 15.0),
    ("gas", "餐饮店液化气钢瓶无固定、软管老化", "Restaurant's LPG cylinders not secured; hoses aged", 1, 11.3),
    ("flood", "低洼路段排水口被垃圾堵塞", "Drain on a low-lying road blocked by rubbish", 2, 16.4),
    ("geological", "山体坡脚出现新裂缝约3米", "New crack of about 3 m at the foot of a slope", 2, 9.1),
    ("building", "老旧住宅外墙瓷砖空鼓", "Loose facade tiles on an old housing block", 3, 14.2),
    ("fire", "林区入山口有焚烧痕迹", "Traces of burning at a forest entrance", 3, 10.7),
    ("hazmat", "小作坊油漆桶露天堆放", "Paint drums stacked in the open at a workshop", 4, 13.5),
    ("electrical", "配电箱箱门缺失", "Distribution box door missing", 5, 9.8),
    ("flood", "河道护岸局部塌陷", "River bank revetment partly collapsed", 5, 15.6),
    ("other", "废弃厂房围墙倾斜", "Derelict factory's wall leaning", 6, 11.0),
)


def seed_history(store: Store, twin: Twin, now: float | None = None, days: int = 7) -> int:
    """Seed a week of check-ins (readings) and a dozen demo reports, once; the number of visits seeded."""
    now = time.time() if now is None else now
    if not twin.points or store.latest(entity_ids=list(twin.points)[:50], metric="visited"):
        return 0
    rng = random.Random(15)
    readings: list[Reading] = []
    today = day_start(now)
    for gi, g in enumerate(twin.grids.values()):
        diligence = 0.97 if gi % 7 else 0.35          # every 7th grid's worker falls behind
        worker = g.workers[0] if g.workers else None
        for d in range(days, -1, -1):
            # past days: the round between 8:00 and about 12:00; today: spread over the hours so far
            t0, span = (today - d * 86400 + 8 * 3600, 4 * 3600.0) if d else (today, max(600.0, now - today - 900))
            share = 1.0 if d else min(1.0, max(0.45, (now - today) / (9 * 3600)))
            for k, pid in enumerate(g.points):
                if rng.random() > diligence * share * (0.95 if g.every_h <= 24 else 0.6):
                    continue
                ts = t0 + span * (k + rng.uniform(0.1, 0.9)) / max(len(g.points), 1)
                if ts >= now - 60:
                    continue
                readings.append(Reading(pid, "visited", ts, 1.0))
                if worker:
                    readings.append(Reading(worker, "checkin", ts, float(twin.points[pid].no) if pid in twin.points else 0.0))
    store.ingest(readings)
    rows = []
    grids = list(twin.grids.values())
    for n, (cat, text, text_en, ago, hour) in enumerate(DEMO_REPORTS):
        g = grids[(n * 5) % len(grids)]
        pts = twin.grid_points(g.id)
        p = pts[n % len(pts)] if pts else None
        ts = min(today - ago * 86400 + hour * 3600, now - 300 * (n + 1))
        lon, lat = (p.lon, p.lat) if p else g.office
        props = {"grid": g.id, "town": g.town, "point": p.id if p else None, "enterprise": None,
                 "worker": g.workers[0] if g.workers else None, "reporter": "demo:网格员", "ts": ts, "category": cat,
                 "level": "general", "description": text, "description_en": text_en, "lon": lon, "lat": lat,
                 "manual": False, "accuracy_m": 12.0, "photos": [], "alerted": False, "demo": True}
        rows.append(Entity(id=f"gp.rpt.demo-{n + 1:02d}", site_id=None, kind="patrol_report",
                           name=f"网格上报·{CATEGORIES[cat][0]}:{text}", name_en=f"Grid report · {CATEGORIES[cat][1]}",
                           plugin=PLUGIN, geometry={"type": "Point", "coordinates": [lon, lat]}, properties=props,
                           updated_at=ts))
    store.upsert(rows)
    store.audit("demo", "grid_patrol.demo_seeded", "plugin:grid_patrol", None,
                {"visits": sum(1 for r in readings if r.metric == "visited"), "reports": len(rows)})
    return sum(1 for r in readings if r.metric == "visited")


class DemoPatrol:
    """Source ``demo_patrol``: one demo check-in per step; open evacuation tasks progress."""

    def __init__(self, settings: Any, state: dict[str, Any]) -> None:
        self.settings = settings
        self.state = state
        self.k = 0

    def poll(self, ctx: Any) -> list[Reading]:
        store = ctx.store
        twin = load_twin(store)
        now = time.time()
        self._evacuate(store, twin, now)
        if not twin.grids:
            return []
        latest = {lv.entity_id: lv.ts for lv in store.latest(metric="visited")}
        d0 = day_start(now)
        grids = list(twin.grids.values())
        for i in range(len(grids)):
            g = grids[(self.k + i) % len(grids)]
            todo = [p for p in g.points if latest.get(p, 0) < d0]
            if todo and g.workers:
                self.k = (self.k + i + 1) % len(grids)
                p = twin.points.get(todo[0])
                if p is None:
                    continue
                return [Reading(p.id, "visited", now, 1.0), Reading(g.workers[0], "checkin", now, float(p.no))]
        return []

    def _evacuate(self, store: Store, twin: Twin, now: float) -> None:
        bus: Bus | None = self.state.get("bus")
        for t in evacuation.tasks(store, open_only=True):
            p = t.properties
            if p.get("source") == "manager" and not self.settings.demo_evacuate_manual:
                continue
            target = int(p["households_target"])
            step = max(1, target // 6)
            hh = min(target, int(p["households_moved"]) + step)
            g = twin.grids.get(p["grid"])
            who = Who(user=f"demo:{twin.workers[g.workers[0]].name}" if g and g.workers and g.workers[0] in twin.workers
                      else "demo:网格员", role="field", grid=p["grid"])
            people = max(hh, round(hh * (p["people_target"] / max(target, 1))))
            evacuation.confirm(store, bus, twin, who, t.id, {"key": f"demo-{int(now)}-{t.id[-40:]}".replace(".", "_")[:64],
                                                             "households": hh, "people": people,
                                                             "note": "演示:逐户转移"}, now=now)
            return  # one task per step
