"""Scale-out: with ``TWINBOARD_BROKER_URL`` set (``redis://host:port/db``), frame grabbing and
detection run as Celery tasks on worker processes; the host keeps the alert rule (its state is per
camera and ordered), the wall, the store and the alerts. Without it, the cameras run in-process.

Start workers next to the host (same project folder, so ``demo://`` streams and the weights resolve)::

    TWINBOARD_BROKER_URL=redis://127.0.0.1:6379/0 \\
      .venv/bin/celery -A plugins.forest_fire.scale:celery_app worker --pool=solo -Q forest_fire

Each worker process keeps one open feed per camera it has served and one detector. A task grabs
one frame of one camera, detects, and returns the detections, the feed's state and the frame
(JPEG, base64) for the wall and the alert snapshot.
"""

from __future__ import annotations

import base64
import os
import time
from dataclasses import asdict, fields
from typing import Any

import cv2
import numpy as np

from .cameras import Camera
from .frames import CameraFeed, FeedStatus, open_source
from .rule import Detection

BROKER_ENV = "TWINBOARD_BROKER_URL"
QUEUE = "forest_fire"
TASK = "forest_fire.grab_detect"
TRAIN_QUEUE = "forest_fire_train"


def broker_url() -> str | None:
    return os.environ.get(BROKER_ENV) or None


def make_celery(url: str | None = None) -> Any:
    from celery import Celery

    url = url or broker_url() or "redis://127.0.0.1:6379/0"
    app = Celery("forest_fire", broker=url, backend=url)
    app.conf.update(task_serializer="json", result_serializer="json", accept_content=["json"],
                    task_default_queue=QUEUE, worker_prefetch_multiplier=1, result_expires=600,
                    broker_connection_retry_on_startup=True, worker_hijack_root_logger=False,
                    task_track_started=False, worker_send_task_events=False)
    return app


def _lazy_app() -> Any:
    try:
        return make_celery()
    except ImportError:  # celery not installed: only the in-process mode is available
        return None


celery_app = _lazy_app()

# --- worker side ----------------------------------------------------------------------------------
_feeds: dict[str, CameraFeed] = {}
_detectors: dict[tuple[str, float, int, str], Any] = {}


def camera_to_dict(cam: Camera) -> dict[str, Any]:
    return asdict(cam)


def camera_from_dict(d: dict[str, Any]) -> Camera:
    d = dict(d)
    d["masks"] = tuple(tuple(tuple(p) for p in m) for m in d.get("masks") or ())
    names = {f.name for f in fields(Camera)}
    return Camera(**{k: v for k, v in d.items() if k in names})


def _detector(model_path: str, frame_conf: float, imgsz: int, device: str) -> Any:
    from .detector import SmokeDetector, resolve_model_path

    key = (model_path, frame_conf, imgsz, device)
    if key not in _detectors:
        det = SmokeDetector(resolve_model_path(model_path), conf=frame_conf, imgsz=imgsz or None, device=device)
        _detectors[key] = det if det.available else None
    return _detectors[key]


def grab_detect(camera: dict[str, Any], model_path: str = "", frame_conf: float = 0.05, imgsz: int = 0,
                device: str = "cpu", demo_feeds: bool = True) -> dict[str, Any]:
    """One frame of one camera: grab (the worker's own feed for it), detect; JSON-able result."""
    cam = camera_from_dict(camera)
    feed = _feeds.get(cam.id)
    if feed is None:
        if demo_feeds and cam.stream.startswith("demo://"):
            from .demo_feeds import ensure_demo_feeds
            ensure_demo_feeds(names=[cam.stream[len("demo://"):]])
        feed = _feeds[cam.id] = CameraFeed(open_source(cam.stream), interval_s=cam.interval_s)
    frame = feed.grab()
    status = asdict(feed.status())
    if frame is None:
        return {"status": status, "frame": None, "detections": [], "worker": os.getpid()}
    det = _detector(model_path, frame_conf, imgsz, device)
    dets = det.detect(frame, infrared=cam.is_ir) if det is not None else []
    ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 90])
    return {"status": status, "frame": base64.b64encode(buf.tobytes()).decode("ascii") if ok else None,
            "detections": [[*d.box, d.score] for d in dets], "model": bool(det), "worker": os.getpid(),
            "time": time.time()}


if celery_app is not None:
    grab_detect_task = celery_app.task(name=TASK)(grab_detect)
    # The learning loop's fine-tuning (smoke/retrain.py), on its own queue (TRAIN_QUEUE) and workers
    # (`twinboard up --smoke_train 1`): minutes of training must not hold up the cameras' frames.
    from .smoke.retrain import retrain_task
    retrain_celery_task = celery_app.task(name="forest_fire.retrain")(retrain_task)


# --- host side ------------------------------------------------------------------------------------
class RemoteFeed:
    """Looks like a CameraFeed to :class:`source.CameraWorker`, but each ``grab`` is a Celery task
    that also detects; ``last_detections`` holds what the worker found in that frame."""

    def __init__(self, cam: Camera, settings: Any, app: Any | None = None, timeout_s: float = 60.0) -> None:
        self.cam, self.settings = cam, settings
        self.app = app or celery_app
        self.timeout_s = timeout_s
        self.interval_s = cam.interval_s
        self._status = FeedStatus("starting", None, 0, 0, 0, None)
        self.last_detections: list[Detection] = []
        self.model_ok = False
        self.last_worker: int | None = None
        self._last_frame_time: float | None = None
        self._task_error: str | None = None

    def grab(self) -> np.ndarray | None:
        s = self.settings
        pending = None
        try:
            pending = self.app.send_task(TASK, args=[camera_to_dict(self.cam), getattr(s, "model_path", ""),
                                                     getattr(s, "frame_conf", 0.05), getattr(s, "imgsz", 0),
                                                     getattr(s, "device", "cpu"), getattr(s, "demo_feeds", True)],
                                         queue=QUEUE, expires=self.timeout_s)
            res = pending.get(timeout=self.timeout_s)
            self._task_error = None
        except Exception as exc:  # noqa: BLE001 - broker or worker down: the camera shows offline
            if pending is not None:
                try:
                    pending.forget()  # not waited for any more; an expired task is dropped by the worker
                except Exception:  # noqa: BLE001
                    pass
            self._task_error = f"worker: {exc.__class__.__name__}: {exc}"
            self._status = FeedStatus("offline", self._last_frame_time, self._status.frames, self._status.corrupt,
                                      self._status.reconnects, self._task_error)
            return None
        st = res["status"]
        self._status = FeedStatus(**st)
        self.last_worker = res.get("worker")
        self.model_ok = bool(res.get("model"))
        if not res.get("frame"):
            self.last_detections = []
            return None
        self._last_frame_time = st.get("last_frame_time")
        self.last_detections = [Detection(tuple(d[:4]), float(d[4])) for d in res["detections"]]
        buf = np.frombuffer(base64.b64decode(res["frame"]), np.uint8)
        return cv2.imdecode(buf, cv2.IMREAD_COLOR)

    def status(self) -> FeedStatus:
        return self._status

    def close(self) -> None:
        return None


class RemoteDetector:
    """The detections the worker already computed for the frame just grabbed."""

    def __init__(self, feed: RemoteFeed) -> None:
        self.feed = feed
        from pathlib import Path
        self.model_path = Path("celery-worker")

    def detect(self, frame: np.ndarray, infrared: bool = False) -> list[Detection]:
        return list(self.feed.last_detections)
