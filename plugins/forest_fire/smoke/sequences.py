"""Frame sequences for the temporal alert rule (issue 17, part 2), one analysed frame each (a minute apart).

**The real set has no true sequences.** ``../shared/data/smoke_train`` is a Roboflow export: file
names are annotation ids (``ck0k…`` CUIDs), the manifest holds no capture time, and frames of one
scene unit are near-duplicates of one fire in no known order. So the sequences are built honestly
from what exists, and say what they are:

``ignition`` (smoke, per real frame of a held-out unit)
    ``pre`` frames of the same real frame with its smoke removed (``transplant.py``: the view before
    ignition), then ``post`` frames where the frame's **real** smoke pixels are revealed from the
    plume's bottom upward and thicken (the base stays put, the top grows): the temporal course is
    made, the smoke and the scene are real. Sensor noise and a 2-px mast sway on every frame.
``held`` / ``cloud`` / ``flash`` / ``light`` (smoke-free, per real frame)
    the smoke-removed frame watched for ``pre + post`` frames: held still; with a synthetic cloud bank
    drifting across the upper frame; with one frame of sun glare; with a slow brightness ramp.
``view`` (smoke-free)
    the smoke-removed frame, then the camera turns to another view (a demo landscape): a view change.
``demo:<feed>``
    the site's own demo cameras (``demo_feeds.py``): rendered plumes from a fixed base, and clean feeds.

A :class:`Sequence` holds its frames and ``smoke_from`` (index of the first frame with visible smoke;
None for a smoke-free sequence). Frames-to-alert are counted from ``smoke_from``; "within 3 frames"
means an alert at index ≤ ``smoke_from`` + 2; an alert before ``smoke_from`` is a false alert.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .synth import fractal_noise, read_yolo_boxes
from .transplant import remove_smoke

NEG_KINDS = ("held", "cloud", "flash", "light")


@dataclass
class Sequence:
    name: str
    kind: str
    frames: list[np.ndarray]
    smoke_from: int | None
    camera: str = ""


def _jitter(img: np.ndarray, rng: np.random.Generator, i: int) -> np.ndarray:
    f = np.roll(img.astype(np.float32), int(round(2 * np.sin(i))), axis=1) + rng.normal(0, 2.0, img.shape)
    return np.clip(f, 0, 255).astype(np.uint8)


def ignition(real: np.ndarray, removed: np.ndarray, box: tuple[int, int, int, int], pre: int, post: int,
             rng: np.random.Generator) -> list[np.ndarray]:
    """``pre`` smoke-free frames, then ``post`` frames revealing the real plume from its base upward."""
    x1, y1, x2, y2 = box
    h, w = real.shape[:2]
    frames = [_jitter(removed, rng, i) for i in range(pre)]
    bh = max(1, y2 - y1)
    for k in range(post):
        grow = min(1.0, 0.45 + 0.55 * k / max(1, post - 3))        # share of the plume's height shown
        alpha = min(1.0, 0.6 + 0.4 * k / max(1, post - 3))
        top = int(round(y2 - grow * bh))
        mask = np.zeros((h, w), np.float32)
        mask[top:y2, x1:x2] = alpha
        mask = cv2.GaussianBlur(mask, (0, 0), 2.0)[..., None]
        f = removed.astype(np.float32) * (1 - mask) + real.astype(np.float32) * mask
        frames.append(_jitter(np.clip(f, 0, 255).astype(np.uint8), rng, pre + k))
    return frames


def smoke_free(removed: np.ndarray, kind: str, n: int, rng: np.random.Generator,
               other_view: np.ndarray | None = None) -> list[np.ndarray]:
    """A smoke-free sequence of ``kind`` (see the module doc) on the smoke-removed frame."""
    h, w = removed.shape[:2]
    base = removed.astype(np.float32)
    if kind == "cloud":
        cw, ch = int(w * 0.45), int(h * 0.25)
        alpha = fractal_noise(rng, ch, cw, octaves=4, base=3)
        yy, xx = np.mgrid[0:ch, 0:cw]
        env = np.clip(1 - (((xx - cw / 2) / (cw / 2)) ** 2 + ((yy - ch / 2) / (ch / 2)) ** 2), 0, 1)
        alpha = (np.clip(alpha * 1.4 - 0.3, 0, 1) * env * 0.75).astype(np.float32)
    out = []
    for i in range(n):
        f = base.copy()
        if kind == "cloud":
            x0 = int(-cw * 0.3 + (w + cw * 0.3) * i / max(1, n))   # drifts a tenth of the frame per minute
            y0 = int(h * 0.12)
            xa, xb = max(0, x0), min(w, x0 + cw)
            if xb > xa:
                a = alpha[:, xa - x0:xb - x0, None]
                f[y0:y0 + ch, xa:xb] = f[y0:y0 + ch, xa:xb] * (1 - a) + 235.0 * a
        elif kind == "flash" and i == n // 2:
            cx, cy = int(w * rng.uniform(0.3, 0.7)), int(h * rng.uniform(0.2, 0.5))
            yy, xx = np.mgrid[0:h, 0:w]
            glare = np.exp(-(((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * (w * 0.08) ** 2)))[..., None]
            f = f * (1 - 0.8 * glare) + 255 * 0.8 * glare
        elif kind == "light":
            f = f * (0.75 + 0.35 * i / max(1, n - 1))
        elif kind == "view" and other_view is not None and i >= n // 2:
            f = cv2.resize(other_view, (w, h)).astype(np.float32)
        out.append(_jitter(np.clip(f, 0, 255).astype(np.uint8), rng, i))
    return out


def real_sequences(items: list, pre: int = 3, post: int = 7, seed: int = 0,
                   other_view: np.ndarray | None = None) -> list[Sequence]:
    """For each real frame (``dataset.Item``): one ignition sequence and one smoke-free sequence whose
    kind cycles through held / cloud / flash / light / view."""
    kinds = (*NEG_KINDS, "view") if other_view is not None else NEG_KINDS
    seqs: list[Sequence] = []
    for k, it in enumerate(items):
        img = cv2.imread(str(it.image), cv2.IMREAD_COLOR)
        if img is None:
            raise ValueError(f"{it.image}: not a readable image")
        boxes = read_yolo_boxes(it.label, img.shape[1], img.shape[0])
        if not boxes:
            continue
        rng = np.random.default_rng([seed, k])
        removed = remove_smoke(img, boxes, rng)
        box = max(boxes, key=lambda b: (b[2] - b[0]) * (b[3] - b[1]))
        stem = Path(it.image).stem
        seqs.append(Sequence(f"{it.unit}:{stem}", "ignition", ignition(img, removed, box, pre, post, rng), pre,
                             it.unit))
        kind = kinds[k % len(kinds)]
        seqs.append(Sequence(f"{it.unit}:{stem}:{kind}", kind,
                             smoke_free(removed, kind, pre + post, rng, other_view), None, it.unit))
    return seqs


def demo_sequences(quick: bool = False, run: int = 8) -> list[Sequence]:
    """The site's demo cameras as sequences (a plume feed's ``smoke_from`` from its spec)."""
    from dataclasses import replace

    from ..demo_feeds import FEEDS, render_frames
    out = []
    for name, spec in FEEDS.items():
        if quick:
            lead = spec.smoke_from if spec.plume_x is not None else 0
            spec = replace(spec, frames=min(spec.frames, lead + run))
        frames = render_frames(spec)
        if spec.infrared:  # what the detector sees of an IR camera
            frames = [cv2.cvtColor(cv2.cvtColor(f, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR) for f in frames]
        out.append(Sequence(f"demo:{name}", "demo", frames, spec.smoke_from if spec.plume_x is not None else None,
                            f"demo:{name}"))
    return out
