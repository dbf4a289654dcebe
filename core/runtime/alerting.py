"""Evaluates plugins' alert rules on every ingested batch and keeps alert state in the store."""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable, Sequence
from typing import Any

from core.runtime.bus import AlertClosed, AlertRaised, Bus
from core.plugins.contributions import Reading, ThresholdRule
from core.data.store import Store

log = logging.getLogger(__name__)


class AlertEngine:
    """Rules per plugin; a rule that raises is reported against its plugin, the rest still run."""

    def __init__(self, store: Store, bus: Bus, on_failure: Callable[[str, str, str], None]) -> None:
        self.store, self.bus = store, bus
        self._rules: dict[str, list[Any]] = {}
        self._on_failure = on_failure
        self._names: dict[str, tuple[float, str, str]] = {}
        # (rule, entity) pairs with an open alert: clearing checks touch the store only for these.
        self._open = {(a.rule_id, a.entity_id) for a in store.alerts(limit=100000)}

    def set_rules(self, plugin: str, rules: Sequence[Any]) -> None:
        for rule in rules:
            if not hasattr(rule, "id") or not callable(getattr(rule, "evaluate", None)):
                raise TypeError(f"alert rule {rule!r} needs an 'id' and an 'evaluate(readings)' method")
        self._rules[plugin] = list(rules)

    def drop_rules(self, plugin: str) -> None:
        self._rules.pop(plugin, None)

    def evaluate(self, readings: Sequence[Reading]) -> int:
        """Run every rule on ``readings``; returns how many alerts were raised or escalated."""
        raised = 0
        for plugin, rules in list(self._rules.items()):
            for rule in rules:
                try:
                    raised += self._apply(plugin, rule, readings)
                except Exception as exc:  # noqa: BLE001 - a rule's fault stays with its plugin
                    self._on_failure(plugin, f"alert rule {getattr(rule, 'id', rule)!r}: {exc}",
                                     traceback.format_exc())
        return raised

    def entity_name(self, entity_id: str, lang: str) -> str:
        """The entity's name in ``lang`` for alert messages ("" when the twin has no such entity); cached a minute."""
        now = time.monotonic()
        hit = self._names.get(entity_id)
        if hit is None or now - hit[0] > 60.0:
            if len(self._names) > 10000:
                self._names.clear()
            e = self.store.entity(entity_id)
            hit = (now, e.name if e else "", (e.name_en or e.name) if e else "")
            self._names[entity_id] = hit
        return hit[2] if lang == "en" else hit[1]

    def _apply(self, plugin: str, rule: Any, readings: Sequence[Reading]) -> int:
        raised = 0
        hit = set()
        # a ThresholdRule's {entity} template field needs the twin's names (a subclass's own evaluate may not take it)
        drafts = (rule.evaluate(readings, entity_name=self.entity_name)
                  if isinstance(rule, ThresholdRule) and type(rule).evaluate is ThresholdRule.evaluate
                  else rule.evaluate(readings))
        for draft in drafts:
            hit.add(draft.entity_id)
            alert, changed = self.store.raise_alert(draft, plugin)
            self._open.add((draft.rule_id, draft.entity_id))
            if changed:
                raised += 1
                self.bus.publish(AlertRaised(alert_id=alert.id or 0, plugin=plugin, rule_id=draft.rule_id,
                                             entity_id=draft.entity_id, severity=int(draft.severity),
                                             title=draft.title))
        clears = getattr(rule, "clears", None)
        if clears is not None:
            for r in readings:
                key = (rule.id, r.entity_id)
                if key in self._open and r.entity_id not in hit \
                        and getattr(rule, "metric", r.metric) == r.metric and clears(r):
                    self._open.discard(key)
                    for alert_id in self.store.close_alerts_for(rule.id, r.entity_id):
                        self.bus.publish(AlertClosed(alert_id=alert_id, actor="rule"))
        return raised
