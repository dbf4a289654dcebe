"""The site's own labelled examples: reviewed alarms and sampled smoke-free frames, per camera (preset).

An example is a frame file under ``<data_dir>/forest_fire/examples/<camera>/`` and an ``entity`` row of
kind ``smoke_example`` (plugin ``forest_fire``, no geometry, so on no map) whose ``properties`` hold:

``camera``   the camera id, a PTZ preset included (``forest_fire.cam_fengshan@west``)
``label``    ``smoke`` (at least one box) or ``no_smoke`` (no box)
``boxes``    ``[[x1, y1, x2, y2], ...]`` fractions of the frame
``source``   ``review`` (a person's verdict on an alert), ``sampler`` (a smoke-free frame taken
             automatically, see :class:`NegativeSampler`) or ``import``
``image``    the file, relative to ``<data_dir>``; ``sha256`` its bytes
``meta``     where it came from: alert id, verdict, the AI's box, who, hour of day, light figures

Every write goes through :func:`add_example`: bad input raises :class:`ExampleError` naming the field and
nothing is stored (the file is removed again if the row cannot be written).
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.api import AuditEntry, Entity, Store

from .offline import project_root

KIND = "smoke_example"
PLUGIN = "forest_fire"
LABELS = ("smoke", "no_smoke")
SOURCES = ("review", "sampler", "import")


class ExampleError(ValueError):
    """Bad input for an example; ``field`` names it. Nothing was stored."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


def data_root(settings: Any = None, data_dir: str | Path | None = None) -> Path:
    """The learning loop's folder: ``data_dir`` or the ``data_dir`` setting, relative to the project root."""
    raw = data_dir if data_dir not in (None, "") else getattr(settings, "data_dir", "") or "var"
    p = Path(raw)
    return p if p.is_absolute() else project_root() / p


def examples_dir(root: Path) -> Path:
    return Path(root) / "forest_fire" / "examples"


def alert_frames_dir(root: Path) -> Path:
    """Where the source keeps each alert's raw frame (the snapshot's name, without the drawn boxes)."""
    return Path(root) / "forest_fire" / "alert_frames"


def camera_slug(camera: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "~" for ch in camera)


@dataclass
class Example:
    """One labelled frame of one camera."""

    id: str
    camera: str
    label: str
    boxes: list[list[float]]
    image: Path
    source: str
    sha256: str
    created: float
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def unit(self) -> str:
        """The scene unit splits hold out: the physical camera (a PTZ camera's presets stay together)."""
        return self.camera.split("@", 1)[0]


def check_boxes(boxes: Any, label: str) -> list[list[float]]:
    """Boxes as ``[[x1, y1, x2, y2], ...]`` in 0..1 with x1 < x2, y1 < y2; smoke needs one, no_smoke none."""
    if boxes is None:
        boxes = []
    if not isinstance(boxes, (list, tuple)):
        raise ExampleError("boxes", f"expected a list of [x1, y1, x2, y2], got {type(boxes).__name__}")
    out = []
    for i, b in enumerate(boxes):
        if not isinstance(b, (list, tuple)) or len(b) != 4:
            raise ExampleError(f"boxes[{i}]", f"expected four numbers x1, y1, x2, y2, got {b!r}")
        try:
            v = [float(x) for x in b]
        except (TypeError, ValueError):
            raise ExampleError(f"boxes[{i}]", f"not numbers: {b!r}") from None
        if not all(np.isfinite(x) and 0.0 <= x <= 1.0 for x in v):
            raise ExampleError(f"boxes[{i}]", f"coordinates must be fractions of the frame (0..1), got {b!r}")
        if not (v[0] < v[2] and v[1] < v[3]):
            raise ExampleError(f"boxes[{i}]", f"needs x1 < x2 and y1 < y2, got {b!r}")
        if (v[2] - v[0]) * (v[3] - v[1]) < 1e-5:
            raise ExampleError(f"boxes[{i}]", "the box is too small (less than 0.001% of the frame)")
        out.append([round(x, 5) for x in v])
    if label == "smoke" and not out:
        raise ExampleError("boxes", "a frame labelled smoke needs at least one box")
    if label == "no_smoke" and out:
        raise ExampleError("boxes", "a smoke-free frame has no boxes (a false alarm with smoke elsewhere is a "
                                    "confirmation with the right box)")
    return out


def _encode(image: Any) -> tuple[bytes, tuple[int, int]]:
    """JPEG bytes and (width, height) of a BGR array, JPEG/PNG bytes or an image file."""
    import cv2

    if isinstance(image, (str, Path)):
        p = Path(image)
        if not p.is_file():
            raise ExampleError("image", f"no such file: {p}")
        image = p.read_bytes()
    if isinstance(image, (bytes, bytearray)):
        arr = cv2.imdecode(np.frombuffer(bytes(image), np.uint8), cv2.IMREAD_COLOR)
        if arr is None:
            raise ExampleError("image", "the bytes are not a readable image")
        image = arr
    if not isinstance(image, np.ndarray) or image.ndim not in (2, 3) or image.size == 0:
        raise ExampleError("image", "expected a BGR frame")
    h, w = image.shape[:2]
    if w < 32 or h < 32:
        raise ExampleError("image", f"frame too small ({w}x{h}); at least 32x32")
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 92])
    if not ok:
        raise ExampleError("image", "could not encode the frame as JPEG")
    return buf.tobytes(), (w, h)


def _row_to_example(root: Path, e: Any) -> Example:
    p = e.properties or {}
    return Example(e.id, p.get("camera", ""), p.get("label", ""), [list(b) for b in p.get("boxes") or []],
                   Path(root) / p.get("image", ""), p.get("source", ""), p.get("sha256", ""),
                   float(p.get("created", e.updated_at or 0)), dict(p.get("meta") or {}))


def add_example(store: Store, root: Path, camera: str, image: Any, label: str, boxes: Any = None,
                source: str = "import", actor: str = "system", meta: dict[str, Any] | None = None,
                example_id: str | None = None) -> Example:
    """Store one labelled frame (file + row, audited). Same id again replaces the earlier example."""
    camera = (camera or "").strip()
    if not camera:
        raise ExampleError("camera", "a camera id is required")
    if label not in LABELS:
        raise ExampleError("label", f"must be one of {', '.join(LABELS)}, got {label!r}")
    if source not in SOURCES:
        raise ExampleError("source", f"must be one of {', '.join(SOURCES)}, got {source!r}")
    clean = check_boxes(boxes, label)
    data, (w, h) = _encode(image)
    sha = hashlib.sha256(data).hexdigest()
    eid = example_id or f"forest_fire.ex.{sha[:20]}"
    rel = Path("forest_fire") / "examples" / camera_slug(camera) / f"{eid.rsplit('.', 1)[-1]}.jpg"
    path = Path(root) / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    old = store.entity(eid)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    now = time.time()
    props = {"camera": camera, "label": label, "boxes": clean, "source": source, "image": rel.as_posix(),
             "sha256": sha, "width": w, "height": h, "created": now, "by": actor, "meta": dict(meta or {})}
    row = Entity(id=eid, kind=KIND, name=f"{camera} {label}", plugin=PLUGIN, properties=props, updated_at=now)
    try:
        tmp.replace(path)
        store.upsert([row], audit=AuditEntry(actor=actor, action="forest_fire.example.add", target=eid,
                                             old=(old.properties or {}).get("label") if old else None,
                                             new={"camera": camera, "label": label, "boxes": clean,
                                                  "source": source}))
    except Exception:
        tmp.unlink(missing_ok=True)
        if old is None:
            path.unlink(missing_ok=True)
        raise
    return Example(eid, camera, label, clean, path, source, sha, now, dict(meta or {}))


def list_examples(store: Store, root: Path, camera: str | None = None) -> list[Example]:
    """Every stored example (of one camera), oldest first; rows whose file is gone are left out."""
    rows = store.entities(kind=KIND, plugin=PLUGIN, where={"camera": camera} if camera else None)
    out = [_row_to_example(root, e) for e in rows]
    return sorted((x for x in out if x.image.is_file()), key=lambda x: (x.created, x.id))


def counts(examples: list[Example]) -> dict[str, dict[str, int]]:
    """Per camera: smoke and no_smoke examples."""
    out: dict[str, dict[str, int]] = {}
    for x in examples:
        c = out.setdefault(x.camera, {"smoke": 0, "no_smoke": 0})
        c[x.label] += 1
    return out


def save_alert_frame(root: Path, frame: np.ndarray, name: str) -> Path:
    """Keep an alert's frame as the camera saw it (the snapshot has boxes drawn in; an example must not)."""
    import cv2

    d = alert_frames_dir(root)
    d.mkdir(parents=True, exist_ok=True)
    path = d / Path(name).name
    cv2.imwrite(str(path), frame, [cv2.IMWRITE_JPEG_QUALITY, 92])
    return path


def alert_frame_path(root: Path, alert: Any) -> Path | None:
    """The raw frame kept for an alert (by its snapshot's name), or None."""
    snap = str((alert.details or {}).get("snapshot") or "")
    if not snap:
        return None
    p = alert_frames_dir(root) / snap.rsplit("/", 1)[-1]
    return p if p.is_file() else None


def example_from_review(store: Store, root: Path, alert: Any, verdict: str, boxes: Any, actor: str) -> Example:
    """A reviewed alert as an example: confirmed → smoke (the drawn boxes, else the AI's box),
    dismissed → no_smoke. Re-reviewing the same alert replaces its example."""
    if verdict not in ("confirm", "dismiss"):
        raise ExampleError("verdict", f"must be confirm or dismiss, got {verdict!r}")
    frame = alert_frame_path(root, alert)
    if frame is None:
        raise ExampleError("frame", f"alert {alert.id} has no kept frame under {alert_frames_dir(root)}")
    d = alert.details or {}
    if verdict == "confirm":
        label = "smoke"
        boxes = boxes if boxes else ([d["box"]] if d.get("box") else [])
    else:
        label = "no_smoke"
    t = float(d.get("frame_time") or alert.opened_at or time.time())
    meta = {"alert_id": alert.id, "verdict": verdict, "ai_box": d.get("box"), "ai_score": d.get("score"),
            "frame_time": t, "hour": time.localtime(t).tm_hour, "boxes_drawn": bool(boxes) and verdict == "confirm"}
    return add_example(store, root, d.get("camera") or alert.entity_id, frame, label, boxes, "review", actor,
                       meta, example_id=f"forest_fire.ex.alert{alert.id}")


def light_figures(frame: np.ndarray) -> dict[str, Any]:
    """Mean luma, contrast and saturation, and a coarse light/weather class the sampler spreads over."""
    import cv2

    small = cv2.resize(frame, (64, 48), interpolation=cv2.INTER_AREA) if frame.shape[1] > 64 else frame
    grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY) if small.ndim == 3 else small
    sat = cv2.cvtColor(small, cv2.COLOR_BGR2HSV)[..., 1] if small.ndim == 3 else np.zeros_like(grey)
    luma, contrast, saturation = float(grey.mean()), float(grey.std()), float(sat.mean())
    if luma < 40:
        cls = "night"
    elif luma < 90:
        cls = "dim"
    elif contrast < 25 or saturation < 25:
        cls = "haze"  # flat, washed-out views: fog, haze, overcast
    else:
        cls = "clear"
    return {"luma": round(luma, 1), "contrast": round(contrast, 1), "saturation": round(saturation, 1),
            "conditions": cls}


class NegativeSampler:
    """Smoke-free frames of each camera, taken automatically while the camera runs.

    A frame is taken when the detector kept no box and no alert is on, at most every ``every_s`` seconds
    per camera, and at most ``per_bucket`` frames per camera for each (hour of day, light class) bucket,
    so the examples spread over the day, night and the weather instead of piling up at noon. Buckets
    count what is stored, so the sampler stops once they are full; delete examples to sample afresh.
    """

    def __init__(self, root: Path, every_s: float = 1800.0, per_bucket: int = 2) -> None:
        self.root, self.every_s, self.per_bucket = Path(root), float(every_s), int(per_bucket)
        self._last: dict[str, float] = {}
        self._buckets: dict[str, dict[str, int]] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Any) -> NegativeSampler | None:
        every = float(getattr(settings, "sample_every_min", 0) or 0) * 60.0
        if every <= 0:
            return None
        return cls(data_root(settings), every, int(getattr(settings, "sample_per_bucket", 2)))

    def _bucket_counts(self, store: Store, camera: str) -> dict[str, int]:
        if camera not in self._buckets:
            got: dict[str, int] = {}
            for x in list_examples(store, self.root, camera):
                if x.source == "sampler":
                    key = x.meta.get("bucket", "")
                    got[key] = got.get(key, 0) + 1
            self._buckets[camera] = got
        return self._buckets[camera]

    def offer(self, store: Store, camera: str, frame: np.ndarray | None, t: float, kept_boxes: int,
              alert_on: bool) -> Example | None:
        """Maybe keep ``frame`` as a smoke-free example; returns it when kept."""
        if frame is None or kept_boxes or alert_on or store is None:
            return None
        with self._lock:
            if t - self._last.get(camera, -1e18) < self.every_s:
                return None
            self._last[camera] = t
            light = light_figures(frame)
            hour = time.localtime(t).tm_hour
            bucket = f"{hour:02d}:{light['conditions']}"
            have = self._bucket_counts(store, camera)
            if have.get(bucket, 0) >= self.per_bucket:
                return None
            ex = add_example(store, self.root, camera, frame, "no_smoke", [], "sampler", "sampler",
                             {"frame_time": t, "hour": hour, "bucket": bucket, **light},
                             example_id=f"forest_fire.ex.s{camera_slug(camera)}.{int(t * 1000)}")
            have[bucket] = have.get(bucket, 0) + 1
            return ex
