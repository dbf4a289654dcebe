"""AI video patrol (AI技防 + 人工复核): a detection becomes an alert that waits for a person.

The host has no hook for detections yet. :func:`handle_detection` is this plugin's side of it: it
validates a detection event dict (from a detector plugin, a webhook or a test), raises an alert
whose title is marked 待人工复核 (awaiting human review) and audits the detection. A person then
calls :func:`review`: *confirmed* acknowledges the alert and opens a hidden-danger inspection
(发现) for the enterprise, so the AI finding enters the same loop as a walk-round finding;
*rejected* closes the alert as a false positive. Both are audited.

``on_event`` in ``__init__`` already routes any bus event whose topic is ``VideoDetection`` here,
so when the host adds such an event (see the report / docs/mqtt.md) no change is needed.
"""

from __future__ import annotations

import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.api import AlertDraft, Severity, Store

from . import inspections

PLUGIN = "enterprise_park"
RULE_PREFIX = "enterprise_park.ai_patrol."
PENDING_MARK = "待人工复核"

#: detection kind → (severity, zh, en)
KINDS: dict[str, tuple[Severity, str, str]] = {
    "smoke_fire": (Severity.II, "疑似烟火", "Possible smoke or fire"),
    "blocked_exit": (Severity.III, "疏散通道堵塞", "Blocked fire exit"),
    "no_helmet": (Severity.IV, "未佩戴安全帽", "No safety helmet"),
    "hot_work": (Severity.III, "未报备动火作业", "Unreported hot work"),
    "smoking": (Severity.IV, "厂区吸烟", "Smoking on site"),
    "intrusion": (Severity.IV, "电子围栏闯入", "Fence intrusion"),
}


class Detection(BaseModel):
    """What a detector reports: which camera saw what, how sure, when, and a snapshot reference."""

    model_config = ConfigDict(extra="ignore")
    camera_id: str = Field(min_length=1, max_length=128)
    kind: Literal["smoke_fire", "blocked_exit", "no_helmet", "hot_work", "smoking", "intrusion"]
    confidence: float = Field(ge=0, le=1)
    ts: float = Field(gt=0)
    enterprise_id: str | None = None
    snapshot: str | None = Field(None, max_length=512, description="file reference of the frame")
    detector: str = Field("", max_length=64)


class DetectionError(ValueError):
    pass


def handle_detection(store: Store, event: dict[str, Any], *, min_confidence: float = 0.5,
                     plugin: str = PLUGIN) -> Any | None:
    """Turn a detection event into an alert awaiting human review; None when below ``min_confidence``.

    The alert's entity is the enterprise when given, else the camera. A repeated detection of the same
    kind on the same entity updates the one open alert (the host keeps one per rule and entity).
    """
    try:
        det = Detection.model_validate(event)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise DetectionError(f"detection invalid: {'.'.join(map(str, err['loc']))}: {err['msg']}") from exc
    if det.confidence < min_confidence:
        return None
    sev, zh, _ = KINDS[det.kind]
    entity = det.enterprise_id or det.camera_id
    draft = AlertDraft(RULE_PREFIX + det.kind, entity, sev, f"AI巡查:{zh}({PENDING_MARK})",
                       f"camera {det.camera_id} · conf {det.confidence:.2f} · {det.snapshot or 'no snapshot'}",
                       round(det.confidence, 3))
    alert, _ = store.raise_alert(draft, plugin)
    store.audit(f"detector:{det.detector or 'unknown'}", "enterprise_park.ai_patrol.detected", f"alert:{alert.id}",
                None, det.model_dump())
    return alert


def pending(store: Store) -> list[Any]:
    """AI alerts still waiting for a person (open, not acknowledged)."""
    return [a for a in store.alerts(states=("open",), limit=1000) if a.rule_id.startswith(RULE_PREFIX)]


def review(store: Store, alert_id: int, actor: str, confirmed: bool, note: str = "",
           responsible: str | None = None, deadline_days: float = 3.0) -> dict[str, Any]:
    """A person's verdict on an AI alert. Confirmed: acknowledge + open an inspection. Rejected: close."""
    alert = next((a for a in store.alerts(states=("open", "acknowledged"), limit=10000) if a.id == alert_id), None)
    if alert is None or not alert.rule_id.startswith(RULE_PREFIX):
        raise DetectionError(f"no open AI patrol alert {alert_id}")
    out: dict[str, Any] = {"alert": alert_id, "confirmed": confirmed}
    if confirmed:
        store.set_alert_state(alert_id, "acknowledged", actor)
        kind = alert.rule_id[len(RULE_PREFIX):]
        ents = {e.id: e for e in store.entities(kind="sme_enterprise", plugin=PLUGIN)}
        if alert.entity_id in ents:
            officer = (ents[alert.entity_id].properties.get("safety_officer") or {}).get("name", "企业安全负责人")
            insp = inspections.create(store, enterprise_id=alert.entity_id, title=f"AI巡查确认:{KINDS[kind][1]}",
                                      responsible=responsible or officer, deadline=time.time() + deadline_days * 86400,
                                      actor=actor, source="ai_patrol",
                                      level="major" if KINDS[kind][0] <= Severity.II else "general")
            out["inspection"] = insp.id
    else:
        store.set_alert_state(alert_id, "closed", actor)
    store.audit(actor, "enterprise_park.ai_patrol." + ("confirmed" if confirmed else "rejected"),
                f"alert:{alert_id}", "open", {"note": note, **out})
    return out
