"""Real-frame negatives: the same camera frames with their smoke removed.

The real training frames all contain smoke, so a detector can learn the shortcut
"this looks like a real camera frame, so there is smoke somewhere".  Crops and
synthetic frames do not break it: they look different from full frames.
:func:`remove_smoke` returns the *same full frame* with the labelled smoke
covered by a patch of the same frame taken beside it, at the same height (so
the sky, haze and ridge line continue), blended in with a feathered edge.
Where no such patch fits, OpenCV's inpainting fills the box.  The result is a
real-looking, smoke-free frame of a training camera: a negative whose only
difference from a positive is the smoke.

(Moving smoke the other way, Poisson-blending one frame's smoke box into
another frame, was tried and dropped: the boxes carry their own landscape and
label noise, and many pastes showed no recognisable smoke.)
"""

from __future__ import annotations

import cv2
import numpy as np

from .synth import boxes_overlap

Box = tuple[int, int, int, int]


def _grow(box: Box, w: int, h: int, frac: float = 0.15, pad: int = 4) -> Box:
    x0, y0, x1, y1 = box
    m = int(frac * max(x1 - x0, y1 - y0)) + pad
    return max(0, x0 - m), max(0, y0 - m), min(w, x1 + m), min(h, y1 + m)


def _feather(bh: int, bw: int, edge: int) -> np.ndarray:
    """Alpha mask (bh, bw, 1): 1 inside, falling to 0 over ``edge`` pixels at the border."""
    yy = np.minimum(np.arange(bh), np.arange(bh)[::-1])[:, None]
    xx = np.minimum(np.arange(bw), np.arange(bw)[::-1])[None, :]
    d = np.minimum(yy, xx).astype(np.float32)
    return np.clip((d + 1) / max(1, edge), 0, 1)[..., None]


def remove_smoke(img: np.ndarray, boxes: list[Box], rng: np.random.Generator) -> np.ndarray:
    """``img`` with every box covered by a nearby same-height patch (or inpainted)."""
    h, w = img.shape[:2]
    out = img.copy()
    grown = [_grow(b, w, h) for b in boxes]
    for g in grown:
        x0, y0, x1, y1 = g
        bw, bh = x1 - x0, y1 - y0
        if bw <= 0 or bh <= 0:
            continue
        # donor windows at the same rows, left or right, clear of every (grown) box
        candidates = []
        for dx in range(bw, w, max(4, bw // 4)):
            for sx in (x0 - dx, x0 + dx):
                donor = (sx, y0, sx + bw, y1)
                if sx < 0 or sx + bw > w or any(boxes_overlap(donor, o) for o in grown):
                    continue
                candidates.append((dx, sx))
            if len(candidates) >= 2:
                break
        if candidates:
            _, sx = candidates[int(rng.integers(0, len(candidates)))]
            patch = out[y0:y1, sx:sx + bw].astype(np.float32)
            alpha = _feather(bh, bw, edge=max(3, min(bw, bh) // 5))
            region = out[y0:y1, x0:x1].astype(np.float32)
            out[y0:y1, x0:x1] = np.clip(alpha * patch + (1 - alpha) * region, 0, 255).astype(np.uint8)
        else:
            mask = np.zeros((h, w), np.uint8)
            mask[y0:y1, x0:x1] = 255
            out = cv2.inpaint(out, mask, 7, cv2.INPAINT_TELEA)
    return out
