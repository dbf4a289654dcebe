"""Alerts through the host's alerting: the ``checks`` source reports each agency's days to the expiry of
its qualifications; the rule ``safety_services.qualification`` opens (zh/en titles) and closes by itself.

| reading | alert |
|---|---|
| ``qual_days_left`` (agency: the nearest expiry among its qualifications, expired ones included) | ≤ qual_warn_days IV, ≤ 30 d III, expired II |
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from core.api import AlertDraft, Reading, Severity, Store

from .model import PLUGIN, QUALIFICATIONS, agencies

QUAL = f"{PLUGIN}.qualification"


def readings(store: Store, today: dt.date | None = None) -> list[Reading]:
    """One ``qual_days_left`` reading per agency with qualifications (time stamp: noon of the day)."""
    today = today or dt.date.today()
    ts = time.mktime(dt.datetime(today.year, today.month, today.day, 12).timetuple())
    out = []
    for a in agencies(store):
        if a.qualifications:
            left = min((dt.date.fromisoformat(q["expiry"]) - today).days for q in a.qualifications)
            out.append(Reading(a.id, "qual_days_left", ts, float(left), "d"))
    return out


@dataclass(frozen=True)
class QualificationRule:
    """An agency's qualification (资质) expiring within ``warn_days`` (IV), 30 days (III), or expired (II)."""

    warn_days: int
    id: str = QUAL
    metric: str = "qual_days_left"

    def evaluate(self, readings: Sequence[Reading]) -> list[AlertDraft]:
        out = []
        for r in readings:
            if r.metric != self.metric or r.value > self.warn_days:
                continue
            days = int(r.value)
            if days < 0:
                sev, zh, en = Severity.II, "中介机构资质已过期", "Agency qualification expired"
                mzh, men = f"已过期 {-days} 天,不得承接相应服务", f"expired {-days} days ago: may not serve"
            else:
                sev = Severity.III if days <= 30 else Severity.IV
                zh, en = "中介机构资质即将到期", "Agency qualification expires soon"
                mzh, men = f"剩余 {days} 天,请督促延续", f"{days} days left"
            out.append(AlertDraft(self.id, r.entity_id, sev, zh, mzh, r.value, title_en=en, message_en=men))
        return out

    def clears(self, reading: Reading) -> bool:
        return reading.value > self.warn_days


def rules(settings: Any) -> list[Any]:
    return [QualificationRule(settings.qual_warn_days)]


__all__ = ["QUALIFICATIONS", "QualificationRule", "readings", "rules"]
