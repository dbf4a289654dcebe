"""One source per camera (each PTZ pose its own): grab → detect → rule → reading and alert.

Every analysed frame becomes a ``smoke_score`` reading of the camera (the rule's pooled score,
0 when nothing is seen); an alert the rule switches on goes to the host with ``ctx.raise_alert``
(stored, de-duplicated per camera, published on the bus) with its evidence: box, score, snapshot URL,
frame time, compass bearing of the smoke; the same detection goes to every other plugin as a
``VideoDetection`` (``ctx.publish_detection``, kind ``"smoke"``). The latest annotated frame per
camera is kept in memory for the camera wall (served as JPEG by a route).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np

from core.api import AlertDraft, Reading, Severity, SourceContext, SourceSpec

from .cameras import Camera, cameras_from_entities
from .detector import SmokeDetector, resolve_model_path
from .frames import CameraFeed, FeedStatus, open_source
from .rule import Detection, RuleOutput, RuleParams, SmokeAlertRule
from .smoke.offline import project_root

log = logging.getLogger(__name__)

PLUGIN = "forest_fire"
RULE_ID = "forest_fire.smoke"
METRIC = "smoke_score"
DETECTION_KIND = "smoke"  # VideoDetection.kind this detector publishes
VAR_DIR = project_root() / "var" / "forest_fire"
SNAP_DIR = VAR_DIR / "snapshots"
WALL_WIDTH = 480  # the camera wall's frames are kept at this width


@dataclass
class CameraState:
    """What the wall and map need of one camera, updated by its source thread."""

    camera: Camera
    status: FeedStatus | None = None
    frame_time: float | None = None
    detections: list[Detection] = field(default_factory=list)
    score: float = 0.0
    box: tuple[float, float, float, float] | None = None
    alert_on: bool = False
    night: bool = False
    model: str = ""
    _small: np.ndarray | None = field(default=None, repr=False)
    _overlay: tuple[Any, list[Detection]] | None = field(default=None, repr=False)
    _jpeg: bytes | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def set_frame(self, frame: np.ndarray, out: RuleOutput | None, dets: list[Detection]) -> None:
        """Keep the latest frame; the wall's copy (``WALL_WIDTH`` wide, boxes drawn, JPEG) is made only when
        someone asks for it, not once per frame on the camera's thread."""
        with self._lock:
            self._small, self._overlay, self._jpeg = frame, (out, dets), None

    @property
    def has_frame(self) -> bool:
        return self._small is not None

    @property
    def jpeg(self) -> bytes | None:
        """The latest frame with its boxes as JPEG (encoded at most once per frame, on demand)."""
        import cv2  # lazily: not loaded while the plugin is disabled or has no camera
        with self._lock:
            if self._jpeg is None and self._small is not None:
                out, dets = self._overlay or (None, [])
                frame = self._small
                h, w = frame.shape[:2]
                if w > WALL_WIDTH:
                    frame = cv2.resize(frame, (WALL_WIDTH, int(WALL_WIDTH * h / w)), interpolation=cv2.INTER_AREA)
                ok, buf = cv2.imencode(".jpg", annotate(frame, out, dets, self.camera),
                                       [cv2.IMWRITE_JPEG_QUALITY, 80])
                self._jpeg = buf.tobytes() if ok else None
            return self._jpeg


class WatchState:
    """All cameras of this process (the panels read it; the sources write it)."""

    def __init__(self) -> None:
        self.cameras: dict[str, CameraState] = {}
        self.lock = threading.Lock()
        self.detector: SmokeDetector | None = None
        self.detector_error: str | None = None

    def get(self, cam_id: str) -> CameraState | None:
        with self.lock:
            return self.cameras.get(cam_id)

    def put(self, cam: Camera) -> CameraState:
        with self.lock:
            st = self.cameras.get(cam.id)
            if st is None or st.camera != cam:
                st = self.cameras[cam.id] = CameraState(cam)
            return st


STATE = WatchState()
_det_lock = threading.Lock()


def shared_detector(settings: Any) -> SmokeDetector | None:
    """One model for every camera of the process; None (and a reason) when the weights are missing."""
    with _det_lock:
        path = resolve_model_path(getattr(settings, "model_path", ""))
        det = STATE.detector
        if det is None or det.model_path != path:
            det = SmokeDetector(path, conf=getattr(settings, "frame_conf", 0.05),
                                imgsz=getattr(settings, "imgsz", 0) or None, device=getattr(settings, "device", "cpu"))
            STATE.detector = det
        if not det.available:
            STATE.detector_error = f"model missing: {path}"
            return None
        try:
            det.load()
        except Exception as exc:  # noqa: BLE001 - a broken model leaves the wall running
            STATE.detector_error = f"model failed to load: {exc}"
            return None
        STATE.detector_error = None
        return det


def annotate(frame: np.ndarray, out: RuleOutput | None, dets: list[Detection], cam: Camera) -> np.ndarray:
    """The frame with the rule's kept boxes (thin), the alert box (thick red) and masks (hatched)."""
    import cv2  # lazily: not loaded while the plugin is disabled or has no camera
    img = frame.copy()
    h, w = img.shape[:2]
    for m in cam.masks:
        pts = np.array([[int(x * w), int(y * h)] for x, y in m], np.int32)
        overlay = img.copy()
        cv2.fillPoly(overlay, [pts], (60, 60, 60))
        img = cv2.addWeighted(overlay, 0.45, img, 0.55, 0)
    for d in (out.kept if out else dets):
        x1, y1, x2, y2 = (int(d.box[0] * w), int(d.box[1] * h), int(d.box[2] * w), int(d.box[3] * h))
        cv2.rectangle(img, (x1, y1), (x2, y2), (0, 200, 255), 1)
        cv2.putText(img, f"{d.score:.2f}", (x1, max(10, y1 - 3)), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 200, 255), 1)
    if out and out.alert_on and out.box:
        b = out.box
        cv2.rectangle(img, (int(b[0] * w), int(b[1] * h)), (int(b[2] * w), int(b[3] * h)), (40, 40, 235), 3)
        cv2.putText(img, f"SMOKE {out.score:.2f}", (int(b[0] * w), max(14, int(b[1] * h) - 6)),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.6, (40, 40, 235), 2)
    return img


def snapshot_url(name: str) -> str:
    return f"/plugins/{PLUGIN}/snapshot/{quote(name)}"


def frame_url(cam_id: str) -> str:
    return f"/plugins/{PLUGIN}/frame/{quote(cam_id)}.jpg"


def save_snapshot(img: np.ndarray, cam: Camera, t: float, keep: int = 300) -> str:
    import cv2  # lazily: not loaded while the plugin is disabled or has no camera
    SNAP_DIR.mkdir(parents=True, exist_ok=True)
    name = f"{cam.id.replace('@', '~')}_{int(t * 1000)}.jpg"
    cv2.imwrite(str(SNAP_DIR / name), img, [cv2.IMWRITE_JPEG_QUALITY, 85])
    files = sorted(SNAP_DIR.glob("*.jpg"), key=lambda p: p.stat().st_mtime)
    for old in files[:-keep]:
        old.unlink(missing_ok=True)
    return name


def make_rule(cam: Camera, settings: Any) -> SmokeAlertRule:
    """The camera's (preset's) alert rule with the temporal evidence on, unless ``temporal = false`` in
    the settings; its false sources come from ``var/forest_fire/false_sources.json`` (reviewed false alarms)."""
    from .smoke.temporal import TemporalParams, false_sources
    if not getattr(settings, "temporal", True):
        return SmokeAlertRule(RuleParams.from_settings(settings), masks=cam.masks, infrared=cam.is_ir)
    tp = TemporalParams.from_settings(settings)
    return SmokeAlertRule(RuleParams.from_settings(settings), masks=cam.masks, infrared=cam.is_ir, temporal=tp,
                          camera_id=cam.id, false_sources=false_sources(expire_days=tp.expire_days))


class CameraWorker:
    """The loop of one camera; also usable without a host (tests, replay) through ``step``."""

    def __init__(self, cam: Camera, settings: Any, detector: SmokeDetector | None = None,
                 demo_dir: Path | None = None, feed: CameraFeed | None = None) -> None:
        self.cam, self.settings = cam, settings
        self.detector = detector
        self.feed = feed or CameraFeed(open_source(cam.stream, demo_dir), interval_s=cam.interval_s)
        self.rule = make_rule(cam, settings)
        self.state = STATE.put(cam)
        self.last_raise = 0.0
        self.severity = Severity[getattr(settings, "severity", "II")]
        from .smoke.examples import NegativeSampler  # the learning loop's smoke-free frames
        self.sampler = NegativeSampler.from_settings(settings)

    def step(self, ctx: SourceContext | None = None, now: float | None = None) -> RuleOutput | None:
        import cv2  # lazily: not loaded while the plugin is disabled or has no camera
        t = time.time() if now is None else now
        frame = self.feed.grab()
        self.state.status = self.feed.status()
        if frame is None:
            if ctx is not None:
                ctx.heartbeat()
            return None
        dets = self.detector.detect(frame, infrared=self.cam.is_ir) if self.detector else []
        out = self.rule.update(dets, t, frame)
        st = self.state
        st.set_frame(frame, out, dets)
        st.frame_time, st.detections, st.score, st.box = t, out.kept, out.score, out.box
        st.alert_on, st.night = out.alert_on, out.night
        st.model = self.detector.model_path.name if self.detector else ""
        if ctx is not None:
            ctx.ingest([Reading(self.cam.id, METRIC, t, round(float(out.score), 4), "")])
            if self.sampler is not None:
                try:
                    self.sampler.offer(ctx.store, self.cam.id, frame, t, len(dets), out.alert_on)
                except Exception as exc:  # noqa: BLE001 - a full disk must not stop the camera
                    log.warning("forest_fire: smoke-free sample of %s not kept: %s", self.cam.id, exc)
            self._alert(ctx, out, frame, dets, t)
        return out

    def _alert(self, ctx: SourceContext, out: RuleOutput, frame: np.ndarray, dets: list[Detection],
               t: float) -> None:
        if not out.alert_on or out.box is None:
            return
        if out.new_event:
            pass  # a new event: always raised
        elif out.new_alert or t - self.last_raise >= getattr(self.settings, "update_every_s", 30.0):
            # the same event (within the grouping window): refresh the open alert, never reopen a
            # dismissed one
            if not any(a.rule_id == RULE_ID and a.entity_id == self.cam.id for a in ctx.store.alerts(limit=1000)):
                return
        else:
            return
        self.last_raise = t
        img = annotate(frame, out, dets, self.cam)  # full resolution: the evidence
        name = save_snapshot(img, self.cam, t, getattr(self.settings, "snapshot_keep", 300))
        try:  # the frame as seen, for the review page and the labelled example (the snapshot has boxes drawn)
            from .smoke.examples import data_root, save_alert_frame
            save_alert_frame(data_root(self.settings), frame, name)
        except Exception as exc:  # noqa: BLE001
            log.warning("forest_fire: raw frame of alert on %s not kept: %s", self.cam.id, exc)
        cx = (out.box[0] + out.box[2]) / 2
        details = {"box": [round(v, 4) for v in out.box], "score": round(float(out.score), 4),
                   "snapshot": snapshot_url(name), "frame_time": t, "camera": self.cam.id,
                   "pose": self.cam.pose, "bearing_deg": round(self.cam.bearing_of(cx), 2),
                   "event": out.event_id, "review": "pending"}
        bearing = details["bearing_deg"]
        msg = f"{self.cam.label('zh')} 烟雾评分 {out.score:.2f}，方位 {bearing:.0f}°"
        msg_en = f"{self.cam.label('en')}: smoke score {out.score:.2f}, bearing {bearing:.0f}°"
        alert = ctx.raise_alert(AlertDraft(RULE_ID, self.cam.id, self.severity, "疑似林火烟雾", msg, float(out.score),
                                           details, title_en="Possible forest-fire smoke", message_en=msg_en))
        # Other plugins (a park brain's AI patrol, say) hear of it as a VideoDetection on the bus, never by import.
        try:
            ctx.publish_detection(self.cam.id, DETECTION_KIND, min(1.0, max(0.0, float(out.confidence))), ts=t,
                                  box=[min(1.0, max(0.0, float(v))) for v in out.box], snapshot=details["snapshot"],
                                  bearing_deg=details["bearing_deg"], event_id=str(out.event_id or ""),
                                  alert_id=getattr(alert, "id", None))
        except ValueError as exc:
            log.warning("forest_fire: detection of camera %s not published: %s", self.cam.id, exc)

    def run(self, ctx: SourceContext) -> None:
        try:
            while not ctx.stopping.is_set():
                t0 = time.time()
                self.step(ctx, t0)
                wait = self.cam.interval_s - (time.time() - t0)
                if ctx.sleep(max(0.05, wait)):
                    break
        finally:
            self.feed.close()


def load_camera_entities(paths: list[Path]) -> list[Any]:
    """Camera entities straight from the plugin's twin files (sources are registered by camera)."""
    from types import SimpleNamespace

    import yaml

    out = []
    for p in paths:
        if p.suffix.lower() not in (".yaml", ".yml") or not p.exists():
            continue
        doc = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
        for e in doc.get("entities", []):
            if e.get("kind") != "camera":
                continue
            geom = e.get("geometry") or ({"type": "Point", "coordinates": [e["lon"], e["lat"]]} if "lon" in e else None)
            out.append(SimpleNamespace(id=e["id"], kind="camera", name=e.get("name", e["id"]),
                                       name_en=e.get("name_en", ""), geometry=geom,
                                       properties=e.get("properties") or {}))
    return out


def twin_paths(settings: Any) -> list[Path]:
    return [p if p.is_absolute() else project_root() / p for p in (Path(f) for f in settings.twin_files)]


def configured_cameras(settings: Any) -> list[Camera]:
    return cameras_from_entities(load_camera_entities(twin_paths(settings)), settings.default_interval_s)


def source_name(cam: Camera) -> str:
    return "cam_" + cam.id.split(".", 1)[-1].replace("@", "_")


def make_sources(settings: Any) -> list[SourceSpec]:
    """One ``run`` source per camera (PTZ pose)."""
    specs = []
    for cam in configured_cameras(settings):
        STATE.put(cam)

        def run(ctx: SourceContext, cam: Camera = cam) -> None:
            from .scale import RemoteDetector, RemoteFeed, broker_url
            if broker_url():  # scale-out: grab + detect on Celery workers, the rule stays here
                feed = RemoteFeed(cam, ctx.settings)
                CameraWorker(cam, ctx.settings, RemoteDetector(feed), feed=feed).run(ctx)
                return
            if getattr(ctx.settings, "demo_feeds", True) and cam.stream.startswith("demo://"):
                from .demo_feeds import ensure_demo_feeds
                ensure_demo_feeds(names=[cam.stream[len("demo://"):]])
            CameraWorker(cam, ctx.settings, shared_detector(ctx.settings)).run(ctx)

        specs.append(SourceSpec(source_name(cam), interval_s=cam.interval_s, run=run))
    return specs
