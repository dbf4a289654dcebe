"""Simulation drills (模拟演练): a scenario replayed through the same alerts and incident workflow.

A drill raises its alert through the host (so the same rules open the incident and switch the
wall), then performs its steps as the actor ``drill:<id>``: assessment, warning publication
(through the real channels, marked as a drill), dispatch of the soonest free teams over the road
graph, messages, closure and the evaluation report. Everything it creates is marked 【演练】 and
``is_drill``. Scenarios live in ``twin_models/command_center/drills.yaml``; a wrong field is a
ConfigError naming file, line and field. A scenario's place has an English name (``name_en``) and each
step's text an English form (``text_en``): English screens show the drill's timeline in English (a text
without one shows as the marked original).
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.api import Alert, AlertDraft, ConfigError, Incident, LocalizedText, Severity, load_yaml

from . import incidents, publish
from .dispatching import dispatch_soonest
from .report import write_report

log = logging.getLogger(__name__)


class DrillPlace(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    name_en: str = ""
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    entity: str | None = None


class MaterialUse(BaseModel):
    model_config = ConfigDict(extra="forbid")
    depot: str
    sku: str
    count: int = Field(gt=0)


class DrillStep(BaseModel):
    model_config = ConfigDict(extra="forbid")
    at_s: float = Field(ge=0)
    do: Literal["alert", "assess", "warn", "dispatch", "message", "close", "report"]
    text: str = ""
    text_en: str = ""
    severity: int = Field(2, ge=1, le=4)
    value: float | None = None
    level: Literal["blue", "yellow", "orange", "red"] = "orange"
    groups: list[str] = Field(default_factory=lambda: ["departments"])
    radius_m: float = Field(3000, gt=0, le=50_000)
    teams: int = Field(2, ge=1, le=10)
    materials: list[MaterialUse] = Field(default_factory=list)


class Drill(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[a-z0-9_]+$")
    title: LocalizedText
    kind: str
    place: DrillPlace
    steps: list[DrillStep] = Field(min_length=1)


class DrillFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    drills: list[Drill]


def load_drills(path: Path) -> dict[str, Drill]:
    """Scenarios by id; ConfigError (file, line, field) on a wrong field or an unknown incident type."""
    doc = load_yaml(path)
    parsed = doc.validate(DrillFile)
    for i, d in enumerate(parsed.drills):
        if d.kind not in incidents.KINDS:
            raise ConfigError(f"unknown incident type {d.kind!r} (known: {', '.join(incidents.KINDS)})",
                              file=str(path), line=doc.line_of(["drills", i, "kind"]), field=f"drills.{i}.kind")
        if d.steps[0].do != "alert":
            raise ConfigError("a drill starts with its alert (do: alert)", file=str(path),
                              line=doc.line_of(["drills", i, "steps", 0, "do"]), field=f"drills.{i}.steps.0.do")
    return {d.id: d for d in parsed.drills}


class DrillRun:
    """One running drill (a thread); ``log`` keeps what it did, ``error`` why it stopped early."""

    def __init__(self, drill: Drill, host: Any, net: Any, settings: Any, speed: float = 1.0) -> None:
        self.drill, self.host, self.net, self.settings, self.speed = drill, host, net, settings, max(speed, 0.01)
        self.actor = f"drill:{drill.id}"
        self.incident_id: int | None = None
        self.report: dict[str, str] | None = None
        self.log: list[str] = []
        self.error: str | None = None
        self.done = threading.Event()
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"drill-{drill.id}", daemon=True)

    def start(self) -> DrillRun:
        self.thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        t0 = time.time()
        try:
            for step in self.drill.steps:
                wait = t0 + step.at_s / self.speed - time.time()
                if wait > 0 and self._stop.wait(wait):
                    self.log.append("stopped")
                    return
                getattr(self, f"_do_{step.do}")(step)
                self.log.append(f"{step.do} ok")
        except Exception as exc:  # noqa: BLE001 - a drill that fails says why, on the incident too
            log.exception("drill %s failed", self.drill.id)
            self.error = f"{exc.__class__.__name__}: {exc}"
            if self.incident_id is not None:
                try:
                    incidents.record(self.host.store, self.incident_id, self.actor, "message",
                                     f"演练中断: {self.error}", en=f"Drill stopped: {self.error}")
                except Exception:  # noqa: BLE001
                    pass
        finally:
            self.done.set()

    # -- steps -----------------------------------------------------------------------------------
    def _do_alert(self, step: DrillStep) -> None:
        d = self.drill
        draft = AlertDraft(rule_id=f"command_center.drill.{d.id}", entity_id=d.place.entity or f"cc.drill.{d.id}",
                           severity=Severity(step.severity), title=incidents.DRILL_PREFIX + d.title.zh,
                           title_en="[Drill] " + d.title.en,
                           message=step.text, message_en=step.text_en, value=step.value, drill=True,
                           details={"drill": True, "scenario": d.id, "incident_kind": d.kind,
                                    "lon": d.place.lon, "lat": d.place.lat, "place": d.place.name,
                                    **({"place_en": d.place.name_en} if d.place.name_en else {})})
        alert = self.host.raise_alert("command_center", draft)
        with self.host.store.session() as db:
            row = db.get(Alert, alert.id)
            self.incident_id = row.incident_id
        if self.incident_id is None:  # the alert was below the auto-incident level: open it like a person would
            self.incident_id = incidents.open_from_alert(self.host.store, alert.id, self.actor).id
        with self.host.store.session() as db:  # the report converts the drill's step times back to real time
            inc = db.get(Incident, self.incident_id)
            inc.properties = {**inc.properties, "drill_speed": self.speed}
            db.add(inc)
            db.commit()

    def _do_assess(self, step: DrillStep) -> None:
        incidents.assess(self.host.store, self.incident_id, self.actor, step.severity, step.text, step.text_en)

    def _do_warn(self, step: DrillStep) -> None:
        area = publish.circle_area((self.drill.place.lon, self.drill.place.lat), step.radius_m)
        pub = publish.draft(self.host.store, self.actor, level=step.level, title=self.drill.title.zh,
                            message=step.text, groups=step.groups, area=area, incident_id=self.incident_id,
                            is_drill=True)
        publish.review(self.host.store, pub.id, self.actor)
        pub = publish.publish(self.host.store, pub.id, self.actor,
                              publish.installed_channels(Path(self.settings.outbox)))
        incidents.note_warning(self.host.store, self.incident_id, self.actor, pub.id,
                               f"{publish.LEVELS[step.level][0]} 已发布至 {len(pub.recipients)} 个对象",
                               f"{publish.LEVELS[step.level][1]} warning published to {len(pub.recipients)} recipients")

    def _do_dispatch(self, step: DrillStep) -> None:
        dispatch_soonest(self.host.store, self.net, self.incident_id, self.actor, step.teams,
                         [m.model_dump() for m in step.materials], bus=self.host.bus)

    def _do_message(self, step: DrillStep) -> None:
        incidents.message(self.host.store, self.incident_id, self.actor, step.text, step.text_en)

    def _do_close(self, step: DrillStep) -> None:
        incidents.close(self.host.store, self.incident_id, self.actor, step.text, summary_en=step.text_en)

    def _do_report(self, step: DrillStep) -> None:
        self.report = {k: str(v) for k, v in write_report(self.host.store, self.incident_id, self.net,
                                                          Path(self.settings.reports_dir), self.actor,
                                                          speedup=self.settings.speedup).items()}
