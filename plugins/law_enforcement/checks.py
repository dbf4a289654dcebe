"""Alerts through the host's alerting: the ``checks`` source reports three metrics, three rules turn them
into alerts (zh/en titles) that open, escalate and close by themselves.

| metric (entity) | rule | alert |
|---|---|---|
| ``cert_days_left`` (inspector) | ``law_enforcement.cert_expiry`` | ≤ cert_warn_days IV, ≤ 30 d III, expired II |
| ``overdue_days`` (task) | ``law_enforcement.task_overdue`` | > 0 IV, > 30 d III; closes when done or cancelled |
| ``plan_behind`` (enterprise) | ``law_enforcement.plan_behind`` | ≥ behind_threshold checks due and not done: III |
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from core.api import AlertDraft, ExpiryRule, Reading, Severity, Store, day_stamp

from .model import PLUGIN, inspectors, tasks

CERT, OVERDUE, BEHIND = f"{PLUGIN}.cert_expiry", f"{PLUGIN}.task_overdue", f"{PLUGIN}.plan_behind"


def readings(store: Store, settings: Any, today: dt.date | None = None) -> list[Reading]:
    """What the rules need: days to each certificate's expiry, days each open task is overdue, checks each
    enterprise is behind. A task is reported while open, or while an alert of it is still open (to close it)."""
    today = today or dt.date.today()
    ts = day_stamp(today)   # readings of one day share a time stamp, so a re-check that day is not stored twice
    out = []
    for i in inspectors(store):
        if i.active and i.cert_expiry:
            out.append(Reading(i.id, "cert_days_left", ts, float((dt.date.fromisoformat(i.cert_expiry) - today).days),
                               "d"))
    alerted = {a.entity_id for a in store.alerts(limit=100000) if a.rule_id == OVERDUE}
    behind: dict[str, int] = {}
    year = settings.plan_year or today.year
    for t in tasks(store):
        if t.state == "planned" or t.id in alerted:
            out.append(Reading(t.id, "overdue_days", ts, float(t.overdue_days(today, settings.overdue_grace_days)), "d"))
        if t.year == year and t.kind in ("plan", "added") and t.state != "cancelled":
            late = t.state == "planned" and t.overdue_days(today, settings.overdue_grace_days) > 0
            behind[t.enterprise] = behind.get(t.enterprise, 0) + int(late)
    out += [Reading(e, "plan_behind", ts, float(n), "") for e, n in sorted(behind.items())]
    return out


def cert_rule(warn_days: int) -> ExpiryRule:
    """An enforcement certificate expiring within ``warn_days`` (IV), 30 days (III), or expired (II)."""
    return ExpiryRule(CERT, "cert_days_left", warn_days,
                      "执法证{warn_days}天内到期", "Enforcement certificate expires within {warn_days} days",
                      "剩余 {days} 天,请安排换证", "{days} days left: renew it",
                      "执法证已过期", "Enforcement certificate expired",
                      "已过期 {days} 天,不得从事执法检查", "expired {days} days ago: may not inspect")


@dataclass(frozen=True)
class OverdueRule:
    """A planned check or follow-up past its due date."""

    id: str = OVERDUE
    metric: str = "overdue_days"

    def evaluate(self, readings: Sequence[Reading]) -> list[AlertDraft]:
        out = []
        for r in readings:
            if r.metric != self.metric or r.value <= 0:
                continue
            sev = Severity.III if r.value > 30 else Severity.IV
            fu = r.entity_id.startswith("le.fu.")
            out.append(AlertDraft(self.id, r.entity_id, sev, "整改复查逾期" if fu else "执法检查任务逾期",
                                  f"已逾期 {r.value:.0f} 天", r.value,
                                  title_en="Follow-up check overdue" if fu else "Enforcement check overdue",
                                  message_en=f"{r.value:.0f} days overdue"))
        return out

    def clears(self, reading: Reading) -> bool:
        return reading.value <= 0


@dataclass(frozen=True)
class BehindRule:
    """An enterprise with ``threshold`` or more checks of this year's plan due and not done."""

    threshold: int
    id: str = BEHIND
    metric: str = "plan_behind"

    def evaluate(self, readings: Sequence[Reading]) -> list[AlertDraft]:
        return [AlertDraft(self.id, r.entity_id, Severity.III, "企业执法计划滞后",
                           f"到期未检查 {r.value:.0f} 次", r.value, title_en="Enterprise behind its enforcement plan",
                           message_en=f"{r.value:.0f} checks due and not done")
                for r in readings if r.metric == self.metric and r.value >= self.threshold]

    def clears(self, reading: Reading) -> bool:
        return reading.value < self.threshold


def rules(settings: Any) -> list[Any]:
    return [cert_rule(settings.cert_warn_days), OverdueRule(), BehindRule(settings.behind_threshold)]
