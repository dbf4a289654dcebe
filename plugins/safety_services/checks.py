"""Alerts through the host's alerting: the ``checks`` source reports each agency's days to the expiry of
its qualifications; the rule ``safety_services.qualification`` opens (zh/en titles) and closes by itself.

| reading | alert |
|---|---|
| ``qual_days_left`` (agency: the nearest expiry among its qualifications, expired ones included) | ≤ qual_warn_days IV, ≤ 30 d III, expired II |
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from core.api import ExpiryRule, Reading, Store, day_stamp

from .model import PLUGIN, QUALIFICATIONS, agencies

QUAL = f"{PLUGIN}.qualification"


def readings(store: Store, today: dt.date | None = None) -> list[Reading]:
    """One ``qual_days_left`` reading per agency with qualifications (time stamp: noon of the day)."""
    today = today or dt.date.today()
    ts = day_stamp(today)
    out = []
    for a in agencies(store):
        if a.qualifications:
            left = min((dt.date.fromisoformat(q["expiry"]) - today).days for q in a.qualifications)
            out.append(Reading(a.id, "qual_days_left", ts, float(left), "d"))
    return out


def qualification_rule(warn_days: int) -> ExpiryRule:
    """An agency's qualification (资质) expiring within ``warn_days`` (IV), 30 days (III), or expired (II)."""
    return ExpiryRule(QUAL, "qual_days_left", warn_days,
                      "中介机构资质即将到期", "Agency qualification expires soon",
                      "剩余 {days} 天,请督促延续", "{days} days left",
                      "中介机构资质已过期", "Agency qualification expired",
                      "已过期 {days} 天,不得承接相应服务", "expired {days} days ago: may not serve")


def rules(settings: Any) -> list[Any]:
    return [qualification_rule(settings.qual_warn_days)]


__all__ = ["QUALIFICATIONS", "qualification_rule", "readings", "rules"]
