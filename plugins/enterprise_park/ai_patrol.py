"""AI video patrol (AI技防 + 人工复核): a detection becomes an alert that waits for a person.

Detections arrive as the host's ``VideoDetection`` bus events, published by any plugin that runs a
detector (forest_fire's smoke rule, say) and received in ``on_event`` — no plugin is imported — or
as a JSON body on this plugin's webhook. :func:`handle_video_detection` maps a bus event onto this
park's twin: a camera it knows (a ``patrol_camera`` entity, by its id or one of its
``properties.detector_ids``) gives the detection its camera, park and, for a camera inside an
enterprise (``properties.enterprise``), its enterprise; a camera it does not know leaves the
detection *unassigned*, still waiting for review. :func:`handle_detection` validates it, raises an
alert whose title is marked 待人工复核 (awaiting human review) and audits the detection. A person
then calls :func:`review`: *confirmed* acknowledges the alert and opens a hidden-danger inspection
(发现) for the enterprise (for an unassigned detection, the enterprise the reviewer names), so the
AI finding enters the same loop as a walk-round finding; *rejected* closes the alert as a false
positive. Both are audited.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.api import AlertDraft, Entity, Severity, Store, VideoDetection

from . import inspections

PLUGIN = "enterprise_park"
RULE_PREFIX = "enterprise_park.ai_patrol."
PENDING_MARK = "待人工复核"
UNASSIGNED_MARK = "未关联摄像机"

log = logging.getLogger(__name__)

#: detection kind → (severity, zh, en)
KINDS: dict[str, tuple[Severity, str, str]] = {
    "smoke_fire": (Severity.II, "疑似烟火", "Possible smoke or fire"),
    "blocked_exit": (Severity.III, "疏散通道堵塞", "Blocked fire exit"),
    "no_helmet": (Severity.IV, "未佩戴安全帽", "No safety helmet"),
    "hot_work": (Severity.III, "未报备动火作业", "Unreported hot work"),
    "smoking": (Severity.IV, "厂区吸烟", "Smoking on site"),
    "intrusion": (Severity.IV, "电子围栏闯入", "Fence intrusion"),
}
#: a VideoDetection's kind (other plugins' vocabulary) → this plugin's kind; other kinds are not patrol findings
KIND_ALIASES: dict[str, str] = {**{k: k for k in KINDS}, "smoke": "smoke_fire", "fire": "smoke_fire",
                                "flame": "smoke_fire", "exit_blocked": "blocked_exit", "helmet_missing": "no_helmet",
                                "fence_intrusion": "intrusion", "welding": "hot_work"}


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
                     plugin: str = PLUGIN, assigned: bool = True, details: dict[str, Any] | None = None) -> Any | None:
    """Turn a detection event into an alert awaiting human review; None when below ``min_confidence``.

    The alert's entity is the enterprise when given, else the camera. A repeated detection of the same
    kind on the same entity updates the one open alert (the host keeps one per rule and entity).
    ``assigned=False`` marks a detection from a camera this park does not know: its title says so
    and the reviewer names the enterprise when confirming it. ``details`` go into the alert's evidence.
    """
    try:
        det = Detection.model_validate(event)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise DetectionError(f"detection invalid: {'.'.join(map(str, err['loc']))}: {err['msg']}") from exc
    if det.confidence < min_confidence:
        return None
    sev, zh, en = KINDS[det.kind]
    entity = det.enterprise_id or det.camera_id
    mark = PENDING_MARK if assigned else f"{UNASSIGNED_MARK}·{PENDING_MARK}"
    mark_en = "awaiting review" if assigned else "camera not registered · awaiting review"
    # people read the camera's name, never its id ("<camera>@<view>": one view of a camera in another twin)
    cam = store.entity(det.camera_id) or store.entity(det.camera_id.split("@", 1)[0])
    cam_zh = cam.name if cam else UNASSIGNED_MARK
    cam_en = (cam.name_en or cam.name) if cam else "unregistered camera"
    evidence = {"camera": det.camera_id, "enterprise": det.enterprise_id, "assigned": assigned,
                "confidence": round(det.confidence, 3), "frame_time": det.ts, "snapshot": det.snapshot,
                "detector": det.detector, **(details or {})}
    draft = AlertDraft(RULE_PREFIX + det.kind, entity, sev, f"AI巡查:{zh}({mark})",
                       f"{cam_zh} 识别置信度 {det.confidence:.0%}" + ("" if det.snapshot else "，无截图"),
                       round(det.confidence, 3), evidence, title_en=f"AI patrol: {en} ({mark_en})",
                       message_en=f"{cam_en}: confidence {det.confidence:.0%}" + ("" if det.snapshot else ", no snapshot"))
    alert, _ = store.raise_alert(draft, plugin)
    store.audit(f"detector:{det.detector or 'unknown'}", "enterprise_park.ai_patrol.detected", f"alert:{alert.id}",
                None, det.model_dump())
    return alert


def cameras_by_detector_id(store: Store) -> dict[str, Entity]:
    """This park's patrol cameras by their own id and by each id in ``properties.detector_ids``."""
    out: dict[str, Entity] = {}
    for cam in store.entities(kind="patrol_camera", plugin=PLUGIN):
        out[cam.id] = cam
        for alias in (cam.properties or {}).get("detector_ids") or ():
            out.setdefault(str(alias), cam)
    return out


def handle_video_detection(store: Store, event: VideoDetection, *, min_confidence: float = 0.5,
                           accept_unassigned: bool = True) -> Any | None:
    """A ``VideoDetection`` from the bus → an alert awaiting review (see :func:`handle_detection`), or None
    when its kind is not a patrol finding, it is below ``min_confidence``, or it is unassigned and
    ``accept_unassigned`` is off. A known camera gives the detection its park camera and, when the camera
    is inside an enterprise, that enterprise; an unknown one leaves it unassigned under its own camera id.
    """
    kind = KIND_ALIASES.get(event.kind)
    if kind is None:
        log.debug("enterprise_park: ignoring %s detection %r from %s", event.kind, event.camera_id, event.plugin)
        return None
    cam = cameras_by_detector_id(store).get(event.camera_id)
    if cam is None and not accept_unassigned:
        return None
    props = (cam.properties or {}) if cam is not None else {}
    enterprise = props.get("enterprise")
    if enterprise is not None and store.entity(enterprise) is None:
        enterprise = None
    details = {"source_plugin": event.plugin, "source_camera": event.camera_id, "source_kind": event.kind,
               "box": list(event.box) if event.box else None, "bearing_deg": event.bearing_deg,
               "event": event.event_id, "source_alert": event.alert_id, "park": props.get("park")}
    det = {"camera_id": cam.id if cam is not None else event.camera_id, "kind": kind,
           "confidence": event.confidence, "ts": event.ts, "enterprise_id": enterprise,
           "snapshot": event.snapshot or None, "detector": event.plugin}
    return handle_detection(store, det, min_confidence=min_confidence, assigned=cam is not None, details=details)


def unassigned(store: Store) -> list[Any]:
    """Open AI alerts from cameras this park does not know: a reviewer has to place them."""
    return [a for a in pending(store) if (a.details or {}).get("assigned") is False]


def pending(store: Store) -> list[Any]:
    """AI alerts still waiting for a person (open, not acknowledged)."""
    return [a for a in store.alerts(states=("open",), limit=1000) if a.rule_id.startswith(RULE_PREFIX)]


def review(store: Store, alert_id: int, actor: str, confirmed: bool, note: str = "",
           responsible: str | None = None, deadline_days: float = 3.0,
           enterprise_id: str | None = None) -> dict[str, Any]:
    """A person's verdict on an AI alert. Confirmed: acknowledge + open an inspection. Rejected: close.

    ``enterprise_id`` places a detection the alert could not place itself (an unassigned camera, or a
    park camera outside any enterprise): the inspection is opened for that enterprise.
    """
    alert = next((a for a in store.alerts(states=("open", "acknowledged"), limit=10000) if a.id == alert_id), None)
    if alert is None or not alert.rule_id.startswith(RULE_PREFIX):
        raise DetectionError(f"no open AI patrol alert {alert_id}")
    ents = {e.id: e for e in store.entities(kind="sme_enterprise", plugin=PLUGIN)}
    if enterprise_id is not None and enterprise_id not in ents:
        raise DetectionError(f"no enterprise {enterprise_id!r} in this park brain")
    out: dict[str, Any] = {"alert": alert_id, "confirmed": confirmed}
    if confirmed:
        store.set_alert_state(alert_id, "acknowledged", actor)
        kind = alert.rule_id[len(RULE_PREFIX):]
        target = alert.entity_id if alert.entity_id in ents else enterprise_id
        if target is not None:
            officer = (ents[target].properties.get("safety_officer") or {}).get("name", "企业安全负责人")
            insp = inspections.create(store, enterprise_id=target, title=f"AI巡查确认:{KINDS[kind][1]}",
                                      title_en=f"AI patrol confirmed: {KINDS[kind][2]}",
                                      responsible=responsible or officer, deadline=time.time() + deadline_days * 86400,
                                      actor=actor, source="ai_patrol",
                                      level="major" if KINDS[kind][0] <= Severity.II else "general")
            out["inspection"] = insp.id
        out["enterprise"] = target
    else:
        store.set_alert_state(alert_id, "closed", actor)
    store.audit(actor, "enterprise_park.ai_patrol." + ("confirmed" if confirmed else "rejected"),
                f"alert:{alert_id}", "open", {"note": note, **out})
    return out
