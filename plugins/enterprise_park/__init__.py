"""enterprise_park: the small-enterprise park brain (小微企业园园区大脑) over a demo twin.

One job per module: ``payloads`` (MQTT topics and JSON schemas), ``mqtt_source`` (the paho-mqtt
ingest loop), ``broker`` (a private mosquitto for the demo and tests), ``publisher`` (the demo
devices), ``rules`` (threshold and rate alarms), ``inspections`` (发现 → 整改 → 复核 → 销号),
``ai_patrol`` (AI detections waiting for human review), ``risk`` (scores, ranking, KPIs),
``panels`` (the big-screen panels), ``twin`` (where the demo twin lives).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Literal

import flask
from pydantic import BaseModel, Field

from core.api import EntityKind, HazardReported, PanelSpec, Reading, RouteSpec, SourceSpec, VideoDetection, hookimpl

from . import ai_patrol, broker, field_reports, inspections, panels
from .mqtt_source import STATS, IngestStats, MqttIngest
from .payloads import devices_from_entities
from .publisher import Publisher
from .rules import rules
from .twin import PLUGIN, devices_from_files, twin_files

log = logging.getLogger(__name__)


class Settings(BaseModel):
    """How the park brain connects and what the demo runs."""

    broker_host: str = Field("127.0.0.1", description="MQTT broker host")
    broker_port: int = Field(0, ge=0, le=65535, description="MQTT broker port; 0 with demo_broker picks a free one")
    demo_broker: bool = Field(True, description="start a private mosquitto on 127.0.0.1 for the demo")
    mosquitto_path: str = Field(broker.DEFAULT_MOSQUITTO, description="mosquitto executable for demo_broker")
    topic_prefix: str = Field("twinboard/ep", pattern=r"^[A-Za-z0-9_\-]+(/[A-Za-z0-9_\-]+)*$",
                              description="topics are <prefix>/<park>/<type>/<device>/data")
    client_id: str = Field("twinboard-enterprise-park", min_length=1, max_length=64,
                           description="stable MQTT client id (the persistent QoS-1 session)")
    protocol: Literal["5", "3.1.1"] = Field("5", description="MQTT protocol version")
    qos: Literal[0, 1] = Field(1, description="subscription QoS")
    max_payload_bytes: int = Field(2048, ge=64, le=262144, description="larger messages are rejected")
    max_clock_skew_s: float = Field(300, ge=0, le=86400, description="device timestamps further ahead are rejected")
    max_age_s: float = Field(7 * 86400, ge=60, description="device timestamps older than this are rejected")
    demo_publisher: bool = Field(True, description="simulate the demo parks' devices over MQTT")
    publish_interval_s: float = Field(2.0, ge=0.2, le=3600, description="demo publisher period")
    demo_faults: bool = Field(True, description="demo publisher also sends a bad message of each kind every minute")
    demo_inspections: bool = Field(True, description="seed demo hazards and move one through the loop")
    demo_step_s: float = Field(20.0, ge=1, le=3600, description="seconds between demo loop steps")
    inspection_check_s: float = Field(30.0, ge=1, le=3600, description="how often overdue hazards are checked")
    online_window_s: float = Field(600.0, ge=10, description="a device counts as online this long after a reading")
    ai_min_confidence: float = Field(0.5, ge=0, le=1, description="AI detections below this are ignored")
    ai_accept_unassigned: bool = Field(True, description="keep detections from cameras this park does not know "
                                                         "(other plugins' detectors) as unassigned, awaiting review")


def _port(settings: Settings) -> int:
    if settings.demo_broker:
        return broker.ensure_demo_broker(settings.broker_port, settings.mosquitto_path)
    if not settings.broker_port:
        raise ValueError("broker_port must be set when demo_broker is false")
    return settings.broker_port


@hookimpl
def register_settings_model() -> type[Settings]:
    return Settings


@hookimpl
def register_entity_kinds() -> list[EntityKind]:
    return [EntityKind("sme_park", "小微企业园", "SME park", "#36c6ff"),
            EntityKind("park_building", "标准厂房", "Factory block", "#4678be"),
            EntityKind("sme_enterprise", "园区企业", "Park enterprise", "#6ea8e6"),
            EntityKind("iot_device", "物联感知设备", "IoT device", "#7fe0ff"),
            EntityKind("patrol_camera", "AI巡查摄像机", "AI patrol camera", "#e678ff"),
            EntityKind("inspection", "隐患排查记录", "Hazard inspection", "#f6d33c")]


@hookimpl
def register_twin_models() -> list[Path]:
    return twin_files()


@hookimpl
def register_alert_rules() -> list:
    return rules()


@hookimpl
def on_startup(store: Any, settings: Settings, role: str) -> None:
    if role == "web":
        return  # the demo broker and the demo's seed belong to the process that runs the sources
    if settings.demo_broker:
        port = _port(settings)         # raises BrokerError (plugin failed, clear message) without mosquitto
        log.info("enterprise_park: demo mosquitto on 127.0.0.1:%d", port)
    if settings.demo_inspections:
        inspections.seed_demo(store)


@hookimpl
def on_shutdown() -> None:
    broker.stop_demo_broker()


@hookimpl
def on_event(event: Any, store: Any, settings: Settings) -> None:
    # AI patrol: another plugin's detector published what a camera saw (never imported, only this event)
    if isinstance(event, VideoDetection):
        try:
            ai_patrol.handle_video_detection(store, event, min_confidence=settings.ai_min_confidence,
                                             accept_unassigned=settings.ai_accept_unassigned)
        except ai_patrol.DetectionError as exc:     # another plugin's odd event must not fail this one
            log.warning("enterprise_park: %s detection from %s on camera %s not taken: %s", event.kind,
                        event.plugin, event.camera_id, exc)
    # a hazard reported in the field at one of this park's enterprises joins the hazard loop
    elif isinstance(event, HazardReported):
        try:
            insp = field_reports.take(store, event)
        except inspections.InspectionError as exc:
            log.warning("enterprise_park: report %s from %s not taken: %s", event.report_id, event.plugin, exc)
        else:
            if insp is not None:
                log.info("enterprise_park: %s report %s → hazard %s", event.plugin, event.report_id, insp.id)


class _InspectionClock:
    """Source ``inspections``: escalates overdue hazards, reports overdue_days, runs the demo loop."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.demo = inspections.DemoLoop()
        self.last_check = 0.0
        self.last_step = 0.0
        self.last_ai = 0.0

    def poll(self, ctx: Any) -> list[Reading]:
        now = time.time()
        s = self.settings
        if s.demo_inspections and now - self.last_step >= s.demo_step_s:
            self.last_step = now
            log.info("enterprise_park demo loop: %s", self.demo.step(ctx.store, now))
            if now - self.last_ai >= 120 and len(ai_patrol.pending(ctx.store)) < 2:
                self.last_ai = now
                cams = ctx.store.entities(kind="patrol_camera", plugin=PLUGIN)
                ents = ctx.store.entities(kind="sme_enterprise", plugin=PLUGIN)
                if cams and ents:
                    k = int(now // 120)
                    ent = ents[k % len(ents)]
                    cam = next((c for c in cams if c.properties.get("park") == ent.properties.get("park")), cams[0])
                    kind = ("blocked_exit", "no_helmet", "smoke_fire", "hot_work")[k % 4]
                    ai_patrol.handle_detection(ctx.store, {
                        "camera_id": cam.id, "kind": kind, "confidence": 0.62 + 0.3 * ((k * 37) % 10) / 10,
                        "ts": now, "enterprise_id": ent.id, "snapshot": f"snapshots/demo/{cam.id}-{k}.jpg",
                        "detector": "demo"})
        if now - self.last_check < s.inspection_check_s:
            return []
        self.last_check = now
        inspections.escalate_overdue(ctx.store, now)
        return inspections.overdue_readings(inspections.all_inspections(ctx.store), now)


@hookimpl
def register_sources(settings: Settings) -> list[SourceSpec]:
    stats = STATS.setdefault(f"{PLUGIN}.mqtt", IngestStats())
    holder: dict[str, Any] = {}

    def devices() -> dict:
        return devices_from_entities(holder["store"].entities(kind="iot_device"))

    def run_mqtt(ctx: Any) -> None:
        holder["store"] = ctx.store
        MqttIngest(host=settings.broker_host, port=lambda: _port(settings), devices=devices,
                   client_id=settings.client_id, prefix=settings.topic_prefix, qos=settings.qos,
                   max_bytes=settings.max_payload_bytes, max_age_s=settings.max_age_s,
                   max_skew_s=settings.max_clock_skew_s, protocol=settings.protocol, stats=stats).run(ctx)

    specs = [SourceSpec("mqtt", run=run_mqtt),
             SourceSpec("inspections", interval_s=min(5.0, settings.demo_step_s), poll=_InspectionClock(settings).poll)]
    if settings.demo_publisher:
        pub = Publisher(settings.broker_host, lambda: _port(settings), devices_from_files(),
                        prefix=settings.topic_prefix, interval_s=settings.publish_interval_s,
                        faults=settings.demo_faults)
        specs.append(SourceSpec("publisher", run=pub.run))
    return specs


@hookimpl
def register_panels() -> list[PanelSpec]:
    return panels.specs()


# -- routes: AI detections in (webhook), human review, hazard transitions ---------------
def _host() -> Any:
    return flask.current_app.config["TWINBOARD_HOST"]


def _settings() -> Settings:
    return _host().plugins.records[PLUGIN].settings


def _actor() -> str:
    user = getattr(flask.g, "user", None)
    return getattr(user, "username", None) or "manager"


def _detection() -> Any:
    try:
        alert = ai_patrol.handle_detection(_host().store, flask.request.get_json(force=True) or {},
                                           min_confidence=_settings().ai_min_confidence)
    except (ai_patrol.DetectionError, ValueError) as exc:
        return flask.jsonify({"error": str(exc)}), 400
    return flask.jsonify({"alert": alert.id if alert else None, "pending_review": alert is not None})


def _review(alert_id: int) -> Any:
    body = flask.request.get_json(force=True) or {}
    try:
        ent = body.get("enterprise_id")
        out = ai_patrol.review(_host().store, alert_id, _actor(), bool(body.get("confirmed")),
                               str(body.get("note", "")), enterprise_id=str(ent) if ent else None)
    except (ai_patrol.DetectionError, inspections.InspectionError) as exc:
        return flask.jsonify({"error": str(exc)}), 400
    return flask.jsonify(out)


def _transition(inspection_id: str) -> Any:
    body = flask.request.get_json(force=True) or {}
    try:
        insp = inspections.transition(_host().store, inspection_id, str(body.get("action", "")), _actor(),
                                      note=str(body.get("note", "")), photos=list(body.get("photos") or []))
    except inspections.InspectionError as exc:
        return flask.jsonify({"error": str(exc)}), 400
    return flask.jsonify({"id": insp.id, "state": insp.state})


def _stats() -> Any:
    return flask.jsonify({k: v.as_dict() for k, v in STATS.items()})


@hookimpl
def register_routes() -> list:
    return [RouteSpec("ai/detections", _detection, methods=("POST",), endpoint="ep_detections", role="manager"),
            RouteSpec("ai/<int:alert_id>/review", _review, methods=("POST",), endpoint="ep_review", role="manager"),
            RouteSpec("inspections/<inspection_id>/transition", _transition, methods=("POST",),
                      endpoint="ep_transition", role="manager"),
            RouteSpec("mqtt/stats", _stats, endpoint="ep_mqtt_stats")]
