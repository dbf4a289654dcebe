"""Demo camera feeds the project renders itself with OpenCV: hills under a sky, and in some of them
a smoke plume that appears partway through and grows. Deterministic (fixed seeds), written once into
``var/forest_fire/demo/<name>.avi`` (Motion-JPEG, readable by every OpenCV build) on first start.

The landscapes and plumes use the same procedural generators as the detector's synthetic training
data (``smoke/synth.py``), drawn at new seeds and animated over time.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .smoke.offline import project_root
from .smoke.synth import H, W, fractal_noise, generated_landscape, plume_alpha

DEMO_DIR = project_root() / "var" / "forest_fire" / "demo"
VERSION = 1
_lock = threading.Lock()


@dataclass(frozen=True)
class FeedSpec:
    seed: int
    plume_x: float | None = None   # plume base, fraction of the frame width; None: no smoke
    plume_base_y: float = 0.62     # fraction of the frame height
    infrared: bool = False
    frames: int = 48
    smoke_from: int = 12           # first frame with smoke
    fps: float = 2.0


FEEDS: dict[str, FeedSpec] = {
    "plume_baiyun": FeedSpec(seed=101, plume_x=0.43),
    "plume_fengshan_west": FeedSpec(seed=202, plume_x=0.41, plume_base_y=0.58, smoke_from=14),
    "clean_fengshan_north": FeedSpec(seed=303),
    "clean_xiaoyuan_ir": FeedSpec(seed=404, infrared=True),
}


def demo_path(name: str, demo_dir: Path | None = None) -> Path:
    return Path(demo_dir or DEMO_DIR) / f"{name}.v{VERSION}.avi"


def render_frames(spec: FeedSpec) -> list[np.ndarray]:
    """The feed's frames (BGR, 640×480)."""
    rng = np.random.default_rng(spec.seed)
    bg = generated_landscape(rng).astype(np.float32)
    ph, pw = int(H * 0.42), int(W * 0.22)
    tone = 228.0
    frames = []
    for i in range(spec.frames):
        frng = np.random.default_rng((spec.seed, i))
        img = bg + frng.normal(0, 2.0, bg.shape).astype(np.float32)       # sensor noise
        shift = int(2 * np.sin(i / 5.0))                                   # a little mast sway
        img = np.roll(img, shift, axis=1)
        if spec.plume_x is not None and i >= spec.smoke_from:
            grow = min(1.0, 0.3 + 0.7 * (i - spec.smoke_from) / 14.0)
            h = max(12, int(ph * grow))
            w = max(10, int(pw * (0.5 + 0.5 * grow)))
            a = plume_alpha(np.random.default_rng((spec.seed, 7, i // 2)), w, h) * (0.55 + 0.3 * grow)
            shade = fractal_noise(np.random.default_rng((spec.seed, 9, i // 2)), h, w, octaves=3, base=3)[..., None]
            color = np.clip(tone - 30 * (1 - shade), 0, 255)
            x0 = int(spec.plume_x * W - w / 2)
            y1 = int(spec.plume_base_y * H)
            y0 = max(0, y1 - h)
            a = a[-(y1 - y0):, :, None]
            region = img[y0:y1, x0:x0 + w]
            img[y0:y1, x0:x0 + w] = region * (1 - a) + color[-(y1 - y0):] * a
        out = np.clip(img, 0, 255).astype(np.uint8)
        if spec.infrared:
            g = cv2.cvtColor(out, cv2.COLOR_BGR2GRAY)
            g = cv2.convertScaleAbs(g, alpha=0.8, beta=10)
            out = cv2.cvtColor(g, cv2.COLOR_GRAY2BGR)
        frames.append(out)
    return frames


def write_video(path: Path, frames: list[np.ndarray], fps: float = 2.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.avi")
    h, w = frames[0].shape[:2]
    vw = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    if not vw.isOpened():
        raise RuntimeError(f"OpenCV cannot write {tmp}")
    for f in frames:
        vw.write(f)
    vw.release()
    tmp.replace(path)
    return path


def ensure_demo_feeds(demo_dir: Path | None = None, names: list[str] | None = None) -> list[Path]:
    """Render the demo videos that are not there yet; returns their paths."""
    out = []
    with _lock:
        for name in names or list(FEEDS):
            path = demo_path(name, demo_dir)
            if not path.exists():
                spec = FEEDS[name]
                write_video(path, render_frames(spec), spec.fps)
            out.append(path)
    return out
