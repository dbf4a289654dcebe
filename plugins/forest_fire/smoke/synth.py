"""Procedural smoke plumes and hard negatives, in YOLO layout.

``synth(out_dir, n_pos, n_neg, backgrounds_dir, seed)`` writes
``out_dir/images/*.jpg`` and ``out_dir/labels/*.txt`` (class 0 = smoke; an empty
label file = no smoke).  Output is a pure function of the arguments: every image
gets its own generator seeded with ``(seed, kind, index)``.

Positives: one (sometimes two) plume(s) composited on a background.  A plume is
a rising, widening, wind-bent column whose density is modulated by fractal
noise; its box is the bounding box of the visible part (alpha above a floor).
Sizes go from a few dozen pixels (distant smoke on the horizon, the common case
in the real data) up to a third of the frame.

Negatives (no label) are the things that fool smoke detectors: cloud-like
noise in the sky, haze / fog over the whole frame, pure sky crops and sun glare.

Backgrounds: crops of real camera frames that avoid the labelled smoke box
(``backgrounds_dir`` in YOLO layout, or a flat folder of images whose labels sit
next to them), and generated hill/sky landscapes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import cv2
import numpy as np

W, H = 640, 480
_KIND_POS, _KIND_NEG, _KIND_BG = 1, 2, 3


# --------------------------------------------------------------------------- noise
def fractal_noise(rng: np.random.Generator, h: int, w: int, octaves: int = 5, base: int = 4,
                  persistence: float = 0.55) -> np.ndarray:
    """Value noise in [0, 1], shape (h, w)."""
    out = np.zeros((h, w), np.float32)
    amp, total = 1.0, 0.0
    cells = base
    for _ in range(octaves):
        gh, gw = max(2, int(round(cells * h / max(h, w))) + 1), max(2, int(round(cells * w / max(h, w))) + 1)
        grid = rng.random((gh, gw), dtype=np.float32)
        out += amp * cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)
        total += amp
        amp *= persistence
        cells *= 2
    out /= total
    lo, hi = float(out.min()), float(out.max())
    return (out - lo) / (hi - lo + 1e-6)


# ---------------------------------------------------------------------- backgrounds
def read_yolo_boxes(label_path: Path, w: int, h: int) -> list[tuple[int, int, int, int]]:
    boxes = []
    if label_path.exists():
        for line in label_path.read_text().splitlines():
            parts = line.split()
            if len(parts) != 5:
                continue
            _, cx, cy, bw, bh = map(float, parts)
            boxes.append((int((cx - bw / 2) * w), int((cy - bh / 2) * h), int((cx + bw / 2) * w), int((cy + bh / 2) * h)))
    return boxes


def boxes_overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    """True when pixel boxes (x0, y0, x1, y1) share any area."""
    return not (a[2] <= b[0] or a[0] >= b[2] or a[3] <= b[1] or a[1] >= b[3])


def label_for(image_path: Path) -> Path:
    """YOLO convention: .../images/x.jpg -> .../labels/x.txt, else x.txt beside the image."""
    if image_path.parent.name == "images":
        return image_path.parent.parent / "labels" / (image_path.stem + ".txt")
    return image_path.with_suffix(".txt")


def list_images(folder: Path) -> list[Path]:
    folder = Path(folder)
    if (folder / "images").is_dir():
        folder = folder / "images"
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png", ".bmp"})


def smoke_free_crop(img: np.ndarray, boxes: Iterable[tuple[int, int, int, int]], rng: np.random.Generator,
                    min_frac: float = 0.35, margin: int = 12, tries: int = 40) -> np.ndarray | None:
    """A 4:3 crop of ``img`` that does not touch any box (grown by ``margin``), resized to 640x480."""
    h, w = img.shape[:2]
    boxes = [(x0 - margin, y0 - margin, x1 + margin, y1 + margin) for x0, y0, x1, y1 in boxes]
    for _ in range(tries):
        cw = int(w * rng.uniform(min_frac, 0.8))
        ch = int(cw * 3 / 4)
        if ch > h:
            continue
        x = int(rng.integers(0, w - cw + 1))
        y = int(rng.integers(0, h - ch + 1))
        if not any(boxes_overlap((x, y, x + cw, y + ch), b) for b in boxes):
            return cv2.resize(img[y:y + ch, x:x + cw], (W, H), interpolation=cv2.INTER_LINEAR)
    return None


def generated_landscape(rng: np.random.Generator) -> np.ndarray:
    """Sky gradient over 1-3 ridges of hills with vegetation texture (BGR uint8, 480x640)."""
    horizon = int(H * rng.uniform(0.25, 0.6))
    b = rng.uniform(160, 235)
    top = np.array([b, b * rng.uniform(0.7, 0.9), b * rng.uniform(0.45, 0.7)], np.float32)  # BGR, blue sky
    b2 = rng.uniform(205, 250)
    bottom = np.array([b2, b2 * rng.uniform(0.93, 1.0), b2 * rng.uniform(0.85, 0.98)], np.float32)
    if rng.random() < 0.2:  # overcast / grey sky
        g = rng.uniform(150, 220)
        top, bottom = np.full(3, g, np.float32), np.full(3, min(255, g + 20), np.float32)
    t = np.linspace(0, 1, H, dtype=np.float32)[:, None, None]
    img = (top * (1 - t) + bottom * t) * np.ones((1, W, 1), np.float32)
    n_ridges = int(rng.integers(1, 4))
    xs = np.arange(W)
    for r in range(n_ridges):
        depth = (r + 1) / n_ridges  # 1 = nearest
        base_y = horizon + (H - horizon) * 0.45 * (depth - 1 / n_ridges) + rng.uniform(-10, 10)
        ridge = fractal_noise(rng, 1, W, octaves=5, base=3)[0]
        amp = rng.uniform(15, 90) * (0.6 + depth)
        y_line = (base_y - amp * ridge).astype(int)
        g = rng.uniform(60, 130)  # green-brown vegetation / bare rock, never purple
        col = np.array([g * rng.uniform(0.55, 0.85), g, g * rng.uniform(0.8, 1.15)], np.float32)
        far = 1 - depth
        col = col * (1 - 0.6 * far) + bottom * 0.6 * far  # aerial perspective
        tex = fractal_noise(rng, H, W, octaves=6, base=24)[..., None]
        mask = (np.arange(H)[:, None] >= y_line[None, xs])[..., None]
        shade = col * (0.75 + 0.5 * tex)
        img = np.where(mask, shade, img)
    img += rng.normal(0, 2.5, img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


class Backgrounds:
    """Draws backgrounds: real smoke-free crops (if a folder is given) or generated landscapes."""

    def __init__(self, backgrounds_dir: Path | None, real_fraction: float = 0.6, images: list[Path] | None = None):
        if images is not None:
            self.images = sorted(Path(p) for p in images)
        else:
            self.images = list_images(Path(backgrounds_dir)) if backgrounds_dir else []
        self.real_fraction = real_fraction if self.images else 0.0

    def draw(self, rng: np.random.Generator) -> np.ndarray:
        if self.images and rng.random() < self.real_fraction:
            for _ in range(5):
                p = self.images[int(rng.integers(len(self.images)))]
                img = cv2.imread(str(p), cv2.IMREAD_COLOR)
                if img is None:
                    continue
                boxes = read_yolo_boxes(label_for(p), img.shape[1], img.shape[0])
                crop = smoke_free_crop(img, boxes, rng)
                if crop is not None:
                    return crop
        return generated_landscape(rng)


# ---------------------------------------------------------------------------- smoke
def plume_alpha(rng: np.random.Generator, pw: int, ph: int) -> np.ndarray:
    """Alpha map (ph, pw) of a plume rising from the bottom centre of its canvas."""
    yy = np.linspace(1, 0, ph, dtype=np.float32)[:, None]  # 0 at base (bottom), 1 at top
    xx = np.linspace(-1, 1, pw, dtype=np.float32)[None, :]
    drift = rng.uniform(-0.55, 0.55)
    bend = rng.uniform(1.2, 2.2)
    center = drift * yy ** bend
    w0 = rng.uniform(0.04, 0.12)
    spread = rng.uniform(0.25, 0.6)
    width = w0 + spread * yy
    prof = np.exp(-((xx - center) ** 2) / (2 * width ** 2))
    noise = fractal_noise(rng, ph, pw, octaves=5, base=rng.integers(3, 7))
    dens = prof * (0.35 + 0.9 * noise)
    fade_top = np.clip((1 - yy) / rng.uniform(0.25, 0.6), 0, 1) ** 0.8
    fade_base = np.clip(yy / 0.06, 0, 1)
    a = dens * fade_top * (0.3 + 0.7 * fade_base)
    a = cv2.GaussianBlur(a, (0, 0), max(0.6, pw / 80))
    return np.clip(a, 0, 1)


def add_plume(img: np.ndarray, rng: np.random.Generator) -> tuple[int, int, int, int] | None:
    """Composite one plume into ``img`` in place; returns its pixel box or None if it ended up invisible."""
    size_mode = rng.random()
    if size_mode < 0.45:
        ph = int(rng.uniform(18, 60))  # distant smoke
    elif size_mode < 0.85:
        ph = int(rng.uniform(60, 160))
    else:
        ph = int(rng.uniform(160, 300))
    pw = int(ph * rng.uniform(0.6, 1.6))
    pw = min(pw, W - 2)
    bx = int(rng.integers(0, W - pw))
    by = int(rng.uniform(H * 0.2, H * 0.9))  # base line of the plume
    y0 = by - ph
    if y0 < 0:
        ph += y0
        y0 = 0
    if ph < 10:
        return None
    alpha = plume_alpha(rng, pw, ph) * rng.uniform(0.35, 0.85)
    tone = rng.uniform(170, 245)
    tint = np.array([rng.uniform(-12, 8), rng.uniform(-8, 6), rng.uniform(-4, 12)], np.float32)  # BGR
    shade = fractal_noise(rng, ph, pw, octaves=3, base=3)[..., None]
    color = np.clip(tone + tint - 35 * (1 - shade), 0, 255)
    region = img[y0:y0 + ph, bx:bx + pw].astype(np.float32)
    a = alpha[..., None]
    img[y0:y0 + ph, bx:bx + pw] = np.clip(region * (1 - a) + color * a, 0, 255).astype(np.uint8)
    vis = alpha > 0.1  # the box covers what is visibly smoke, not the faint fringe
    if vis.sum() < 12:
        return None
    ys, xs = np.where(vis)
    return bx + int(xs.min()), y0 + int(ys.min()), bx + int(xs.max()) + 1, y0 + int(ys.max()) + 1


def make_positive(bgs: Backgrounds, rng: np.random.Generator) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    img = bgs.draw(rng)
    boxes = []
    for _ in range(1 if rng.random() < 0.85 else 2):
        b = add_plume(img, rng)
        if b is not None:
            boxes.append(b)
    if not boxes:  # guarantee at least one visible plume
        while not boxes:
            b = add_plume(img, rng)
            if b is not None:
                boxes.append(b)
    if rng.random() < 0.15:  # near-infrared cameras: grayscale
        g = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
        img = cv2.cvtColor(g, cv2.COLOR_GRAY2BGR)
    return img, boxes


# ----------------------------------------------------------------------- negatives
def neg_clouds(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    n = fractal_noise(rng, H, W, octaves=6, base=int(rng.integers(2, 6)))
    thr = rng.uniform(0.45, 0.65)
    a = np.clip((n - thr) / (1 - thr), 0, 1) ** rng.uniform(0.7, 1.4)
    sky_limit = rng.uniform(0.35, 0.75)
    ramp = np.clip((sky_limit - np.linspace(0, 1, H)) / 0.15, 0, 1)[:, None]  # clouds mostly in the sky
    a = a * ramp * rng.uniform(0.5, 0.95)
    tone = rng.uniform(200, 255)
    out = img.astype(np.float32) * (1 - a[..., None]) + tone * a[..., None]
    return np.clip(out, 0, 255).astype(np.uint8)


def neg_haze(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    strength = rng.uniform(0.2, 0.6)
    t = np.linspace(1, 0.3, H, dtype=np.float32)[:, None]  # denser near the horizon/top
    n = fractal_noise(rng, H, W, octaves=3, base=2)
    a = strength * t * (0.7 + 0.3 * n)
    tone = np.array([rng.uniform(190, 235)] * 3, np.float32) + np.array([rng.uniform(0, 15), 0, rng.uniform(-10, 5)], np.float32)
    out = img.astype(np.float32) * (1 - a[..., None]) + tone * a[..., None]
    return np.clip(out, 0, 255).astype(np.uint8)


def neg_sky(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    band = int(H * rng.uniform(0.2, 0.4))
    crop = img[:band]
    out = cv2.resize(crop, (W, H), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.6:
        out = neg_clouds(out, rng)
    return out


def neg_glare(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    cx, cy = rng.uniform(0, W), rng.uniform(-0.1 * H, 0.5 * H)
    r = rng.uniform(30, 140)
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    d = np.sqrt((xx - cx) ** 2 + (yy - cy) ** 2)
    a = np.exp(-(d / r) ** 2) * rng.uniform(0.6, 1.0) + 0.35 * np.exp(-d / (r * 3))
    ang = rng.uniform(0, np.pi)
    streak = np.exp(-(((xx - cx) * np.sin(ang) - (yy - cy) * np.cos(ang)) / rng.uniform(3, 10)) ** 2) * np.exp(-d / (r * 4))
    a = np.clip(a + 0.5 * streak, 0, 1)
    tone = np.array([rng.uniform(210, 250), rng.uniform(235, 255), 255], np.float32)
    out = img.astype(np.float32) * (1 - a[..., None]) + tone * a[..., None]
    return np.clip(out, 0, 255).astype(np.uint8)


NEGATIVE_KINDS = {"clouds": neg_clouds, "haze": neg_haze, "sky": neg_sky, "glare": neg_glare}


def make_negative(bgs: Backgrounds, rng: np.random.Generator, kind: str | None = None) -> tuple[np.ndarray, str]:
    kind = kind or list(NEGATIVE_KINDS)[int(rng.integers(len(NEGATIVE_KINDS)))]
    img = NEGATIVE_KINDS[kind](bgs.draw(rng), rng)
    if rng.random() < 0.15:
        img = cv2.cvtColor(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    return img, kind


# ----------------------------------------------------------------------------- io
def yolo_line(box: tuple[int, int, int, int], w: int = W, h: int = H) -> str:
    x0, y0, x1, y1 = box
    x0, x1 = max(0, x0), min(w, x1)
    y0, y1 = max(0, y0), min(h, y1)
    return f"0 {(x0 + x1) / 2 / w:.6f} {(y0 + y1) / 2 / h:.6f} {(x1 - x0) / w:.6f} {(y1 - y0) / h:.6f}"


def synth(out_dir: Path, n_pos: int, n_neg: int, backgrounds_dir: Path | None = None, seed: int = 0,
          prefix: str = "syn", backgrounds: list[Path] | None = None) -> dict:
    """Write ``n_pos`` smoke images and ``n_neg`` hard negatives into ``out_dir`` (YOLO layout).

    ``backgrounds`` (a list of image paths whose YOLO labels sit in the matching ``labels/``
    folder or beside them) overrides ``backgrounds_dir``; with neither, only generated
    landscapes are used.
    """
    out_dir = Path(out_dir)
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    (out_dir / "labels").mkdir(parents=True, exist_ok=True)
    bgs = Backgrounds(backgrounds_dir, images=backgrounds)
    stats = {"positives": 0, "negatives": 0, "boxes": 0, "negative_kinds": {}}
    for i in range(n_pos):
        rng = np.random.default_rng([seed, _KIND_POS, i])
        img, boxes = make_positive(bgs, rng)
        name = f"{prefix}_pos_{seed}_{i:05d}"
        cv2.imwrite(str(out_dir / "images" / f"{name}.jpg"), img, [cv2.IMWRITE_JPEG_QUALITY, 90])
        (out_dir / "labels" / f"{name}.txt").write_text("\n".join(yolo_line(b) for b in boxes) + "\n")
        stats["positives"] += 1
        stats["boxes"] += len(boxes)
    for i in range(n_neg):
        rng = np.random.default_rng([seed, _KIND_NEG, i])
        img, kind = make_negative(bgs, rng)
        name = f"{prefix}_neg_{kind}_{seed}_{i:05d}"
        cv2.imwrite(str(out_dir / "images" / f"{name}.jpg"), img, [cv2.IMWRITE_JPEG_QUALITY, 90])
        (out_dir / "labels" / f"{name}.txt").write_text("")
        stats["negatives"] += 1
        stats["negative_kinds"][kind] = stats["negative_kinds"].get(kind, 0) + 1
    return stats
