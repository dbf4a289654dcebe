"""Expiry alerts: a certificate, licence or qualification running out, from a days-left reading.

A plugin's source reports, once a day, the days left to an expiry (negative once expired) under one
metric, time-stamped ``day_stamp(today)``; an ``ExpiryRule`` turns them into alerts that open, escalate
and close by themselves (law_enforcement's certificates, safety_services' qualifications).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from dataclasses import dataclass

from core.plugins.contributions import AlertDraft, Reading, Severity


def day_stamp(day: dt.date) -> float:
    """Noon of ``day`` (local time) as a Unix time stamp: a daily check's readings of one day share it, so a
    re-check the same day is not stored twice."""
    return time.mktime(dt.datetime(day.year, day.month, day.day, 12).timetuple())


@dataclass(frozen=True)
class ExpiryRule:
    """Alerts on a days-left metric: within ``warn_days`` level IV, within ``soon_days`` III, expired II.

    A reading's value is the days left to an expiry (negative: days since it expired). At or below
    ``warn_days`` it raises an alert: level II once expired (value < 0), else III within ``soon_days``,
    else IV. The alert clears when the value is back above ``warn_days`` (renewed).

    The texts are ``str.format`` templates with the fields ``days`` (days left; in the ``expired_`` texts,
    days since it expired) and ``warn_days``, e.g. ``"执法证{warn_days}天内到期"``, ``"剩余 {days} 天"``.
    """

    #: "<plugin>.<rule>"
    id: str
    #: the days-left metric it looks at
    metric: str
    #: alert from this many days left
    warn_days: int
    #: the Chinese title while it has not expired yet (template, see above)
    title_zh: str
    #: the English title while it has not expired yet
    title_en: str
    #: the Chinese message while it has not expired yet
    message_zh: str
    #: the English message while it has not expired yet
    message_en: str
    #: the Chinese title once it has expired
    expired_title_zh: str
    #: the English title once it has expired
    expired_title_en: str
    #: the Chinese message once it has expired (``days``: days since it expired)
    expired_message_zh: str
    #: the English message once it has expired
    expired_message_en: str
    #: level III (instead of IV) from this many days left
    soon_days: int = 30

    def __post_init__(self) -> None:
        for template in (self.title_zh, self.title_en, self.message_zh, self.message_en, self.expired_title_zh,
                         self.expired_title_en, self.expired_message_zh, self.expired_message_en):
            template.format(days=1, warn_days=1)  # a broken template is the rule author's error, found here

    def evaluate(self, readings: Sequence[Reading]) -> list[AlertDraft]:
        """Alerts for the readings of this rule's metric at or below ``warn_days``."""
        out = []
        for r in readings:
            if r.metric != self.metric or r.value > self.warn_days:
                continue
            days = int(r.value)
            if days < 0:
                sev = Severity.II
                texts = (self.expired_title_zh, self.expired_message_zh, self.expired_title_en,
                         self.expired_message_en)
                days = -days
            else:
                sev = Severity.III if days <= self.soon_days else Severity.IV
                texts = (self.title_zh, self.message_zh, self.title_en, self.message_en)
            title, message, title_en, message_en = (t.format(days=days, warn_days=self.warn_days) for t in texts)
            out.append(AlertDraft(self.id, r.entity_id, sev, title, message, r.value, title_en=title_en,
                                  message_en=message_en))
        return out

    def clears(self, reading: Reading) -> bool:
        """The expiry is more than ``warn_days`` away again."""
        return reading.value > self.warn_days
