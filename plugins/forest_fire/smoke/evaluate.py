"""Evaluate a smoke detector on any YOLO-layout folder.

``data_dir`` holds ``images/`` and ``labels/`` (or images with ``.txt`` labels beside
them).  An empty or missing label file means "no smoke in this frame".

Metrics (``evaluate`` returns them in a dict):

``precision`` / ``recall`` / ``f1``
    image level: a frame is predicted positive if any box has confidence >= ``conf``;
    it is truly positive if its label file has at least one box.
``ap50``
    box level average precision at IoU 0.5 (all-point interpolated area under the
    precision-recall curve, predictions of every frame pooled, greedy matching by
    descending confidence, one prediction per ground-truth box).  Computed from
    predictions down to confidence 0.001, independent of ``conf``.
``fp_per_negative_image``
    boxes with confidence >= ``conf`` on frames without smoke, divided by the number
    of such frames (None if the folder has none).
``negative_flagged_share``
    the share of frames without smoke that get at least one box >= ``conf``
    (the issue's "false positives on smoke-free frames", counted per frame).
``localized_recall``
    stricter image-level recall: the share of smoke frames where some box with
    confidence >= ``conf`` overlaps a labelled box with IoU >= 0.5.  A detector
    can get a high ``recall`` for the wrong reason (it fires somewhere on every
    real frame); this says whether it fires *on the smoke*.
``ms_per_image``
    mean wall-clock milliseconds per frame for ``predict`` (read + pre + inference +
    post), batch 1, CPU, after one untimed warm-up call.

``per_camera``
    the same image-level figures and AP50 per camera (scene unit), from the file-name prefix
    ``<unit>__`` that ``dataset.py`` writes (``bgcrop_`` / ``nosmoke_`` negatives belong to the
    unit of the frame they came from); frames without a prefix count as camera ``"-"``.
``small_boxes``
    labelled boxes under 1% of the frame: ``n``, ``recall_iou50`` (a box >= ``conf`` on it with
    IoU >= 0.5) and ``frame_recall`` (frames whose every box is small, flagged at ``conf``).

``tiles=True`` predicts on the full frame plus 2×2 overlapping tiles, merged with NMS
(``tiles.py``); ``ms_per_image`` then includes all five passes.

``select_threshold`` sweeps ``conf`` on one folder (the held-out validation units)
and returns the value with the best image-level F1 among those that flag at most
10% of the smoke-free frames (the best F1 overall if none does): that is the
operating threshold.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .offline import default_settings_dir, make_ultralytics_offline

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp"}
MIN_CONF = 0.001


@dataclass
class FramePred:
    gt: np.ndarray      # (n, 4) xyxy normalised
    boxes: np.ndarray   # (m, 4) xyxy normalised
    conf: np.ndarray    # (m,)
    name: str = ""      # the image's file stem (its camera: see camera_of)


_UNIT = re.compile(r"^(?:bgcrop_|nosmoke_|synval_|syn_)?(.+?)__")


def camera_of(name: str) -> str:
    """The scene unit / camera of a frame from its file stem (``U7__afm_x``, ``nosmoke_U7__afm_x``)."""
    m = _UNIT.match(name)
    return m.group(1) if m else "-"


def list_frames(data_dir: Path) -> list[tuple[Path, Path]]:
    data_dir = Path(data_dir)
    img_dir = data_dir / "images" if (data_dir / "images").is_dir() else data_dir
    out = []
    for img in sorted(p for p in img_dir.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES):
        if img_dir.name == "images":
            lab = data_dir / "labels" / img.relative_to(img_dir).with_suffix(".txt")
        else:
            lab = img.with_suffix(".txt")
        out.append((img, lab))
    return out


def read_gt(label: Path) -> np.ndarray:
    rows = []
    if label.exists():
        for line in label.read_text().splitlines():
            parts = line.split()
            if len(parts) >= 5:
                cx, cy, w, h = map(float, parts[1:5])
                rows.append((cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2))
    return np.array(rows, np.float64).reshape(-1, 4)


def load_model(model_path: Path):
    make_ultralytics_offline(default_settings_dir())
    from ultralytics import YOLO

    return YOLO(str(model_path))


def predict_folder(model_path: Path, data_dir: Path, imgsz: int | None = None,
                   model=None, tiles: bool = False) -> tuple[list[FramePred], float]:
    """Predictions (conf >= 0.001) for every frame, and the mean ms per frame."""
    model = model or load_model(model_path)
    if imgsz is None:
        imgsz = int(getattr(model, "overrides", {}).get("imgsz", 416) or 416)
    frames = list_frames(data_dir)
    preds: list[FramePred] = []
    elapsed = 0.0

    def one(img: Path) -> tuple[np.ndarray, np.ndarray]:
        if tiles:
            import cv2

            from .tiles import predict_tiled
            frame = cv2.imread(str(img), cv2.IMREAD_COLOR)
            if frame is None:
                raise ValueError(f"{img}: not a readable image")
            return predict_tiled(model, frame, imgsz, conf=MIN_CONF, iou=0.6, max_det=100)
        r = model.predict(str(img), imgsz=imgsz, conf=MIN_CONF, iou=0.6, max_det=100, verbose=False, device="cpu")[0]
        b = r.boxes
        return (b.xyxyn.cpu().numpy().astype(np.float64).reshape(-1, 4),
                b.conf.cpu().numpy().astype(np.float64).reshape(-1))

    if frames:  # warm-up (first call builds the predictor): not timed
        one(frames[0][0])
    for img, lab in frames:
        t0 = time.perf_counter()
        boxes, conf = one(img)
        elapsed += time.perf_counter() - t0
        preds.append(FramePred(read_gt(lab), boxes, conf, img.stem))
    ms = 1000.0 * elapsed / max(1, len(frames))
    return preds, ms


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix between (n,4) and (m,4) xyxy boxes."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    x0 = np.maximum(a[:, None, 0], b[None, :, 0])
    y0 = np.maximum(a[:, None, 1], b[None, :, 1])
    x1 = np.minimum(a[:, None, 2], b[None, :, 2])
    y1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / (area_a[:, None] + area_b[None, :] - inter + 1e-12)


def ap50(preds: list[FramePred], iou_thr: float = 0.5) -> float:
    """Box-level AP at IoU ``iou_thr`` (all-point interpolation)."""
    n_gt = sum(len(p.gt) for p in preds)
    if n_gt == 0:
        return 0.0
    scores, tps = [], []
    for p in preds:
        if len(p.conf) == 0:
            continue
        order = np.argsort(-p.conf, kind="stable")
        ious = _iou(p.boxes[order], p.gt)
        used = np.zeros(len(p.gt), bool)
        for k, i in enumerate(order):
            tp = False
            if len(p.gt):
                cand = np.where(~used & (ious[k] >= iou_thr))[0]
                if len(cand):
                    j = cand[np.argmax(ious[k, cand])]
                    used[j] = True
                    tp = True
            scores.append(p.conf[i])
            tps.append(tp)
    if not scores:
        return 0.0
    order = np.argsort(-np.array(scores), kind="stable")
    tp = np.array(tps, float)[order]
    ctp, cfp = np.cumsum(tp), np.cumsum(1 - tp)
    recall = ctp / n_gt
    precision = ctp / np.maximum(ctp + cfp, 1e-12)
    mrec = np.concatenate(([0.0], recall, [recall[-1]]))
    mpre = np.concatenate(([1.0], precision, [0.0]))
    mpre = np.flip(np.maximum.accumulate(np.flip(mpre)))
    idx = np.where(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[idx + 1] - mrec[idx]) * mpre[idx + 1]))


def image_metrics(preds: list[FramePred], conf: float) -> dict:
    truth = np.array([len(p.gt) > 0 for p in preds], bool)
    guess = np.array([bool((p.conf >= conf).any()) for p in preds], bool)
    tp = int((truth & guess).sum())
    fp = int((~truth & guess).sum())
    fn = int((truth & ~guess).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    hits = sum(1 for p, t in zip(preds, truth)
               if t and (p.conf >= conf).any() and (_iou(p.boxes[p.conf >= conf], p.gt) >= 0.5).any())
    n_neg = int((~truth).sum())
    fp_boxes = sum(int((p.conf >= conf).sum()) for p, t in zip(preds, truth) if not t)
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "fp_per_negative_image": (fp_boxes / n_neg) if n_neg else None,
        "negative_flagged_share": (fp / n_neg) if n_neg else None,
        "localized_recall": hits / int(truth.sum()) if truth.any() else 0.0,
        "n_images": len(preds),
        "n_positive": int(truth.sum()),
        "n_negative": n_neg,
        "tp": tp, "fp": fp, "fn": fn,
    }


def small_box_figures(preds: list[FramePred], conf: float, max_area: float = 0.01) -> dict:
    """Recall on labelled boxes under ``max_area`` of the frame (see module doc)."""
    n = hit = frames = frames_hit = 0
    for p in preds:
        if not len(p.gt):
            continue
        area = (p.gt[:, 2] - p.gt[:, 0]) * (p.gt[:, 3] - p.gt[:, 1])
        small = area < max_area
        keep = p.conf >= conf
        ious = _iou(p.gt, p.boxes[keep]) if keep.any() else np.zeros((len(p.gt), 0))
        n += int(small.sum())
        hit += int(sum(1 for j in np.where(small)[0] if ious.shape[1] and ious[j].max() >= 0.5))
        if small.all():
            frames += 1
            frames_hit += int(bool(keep.any()))
    return {"n": n, "recall_iou50": hit / n if n else None, "frames": frames,
            "frame_recall": frames_hit / frames if frames else None, "max_area": max_area}


def per_camera(preds: list[FramePred], conf: float) -> dict:
    """Image-level figures and AP50 per camera (scene unit)."""
    groups: dict[str, list[FramePred]] = {}
    for p in preds:
        groups.setdefault(camera_of(p.name), []).append(p)
    out = {}
    for cam, ps in sorted(groups.items()):
        m = image_metrics(ps, conf)
        out[cam] = {k: m[k] for k in ("precision", "recall", "f1", "negative_flagged_share", "localized_recall",
                                      "n_images", "n_positive", "n_negative")}
        out[cam]["ap50"] = ap50(ps)
    return out


def metrics_from_preds(preds: list[FramePred], conf: float) -> dict:
    """Every figure of :func:`evaluate` but the timing, from stored predictions."""
    out = image_metrics(preds, conf)
    out.update({"ap50": ap50(preds), "conf": conf, "per_camera": per_camera(preds, conf),
                "small_boxes": small_box_figures(preds, conf)})
    return out


def evaluate(model_path: Path, data_dir: Path, conf: float = 0.25, imgsz: int | None = None, model=None,
             tiles: bool = False) -> dict:
    """All metrics for one folder at operating threshold ``conf`` (see module doc)."""
    preds, ms = predict_folder(model_path, data_dir, imgsz=imgsz, model=model, tiles=tiles)
    out = metrics_from_preds(preds, conf)
    out.update({"ms_per_image": ms, "data_dir": str(data_dir), "model": str(model_path), "tiles": tiles})
    return out


def select_threshold(model_path: Path, data_dir: Path, grid=None, imgsz: int | None = None,
                     model=None, max_flagged: float | None = 0.10) -> tuple[float, list[dict]]:
    """Operating threshold on ``data_dir``: see :func:`threshold_from_preds`."""
    preds, _ = predict_folder(model_path, data_dir, imgsz=imgsz, model=model)
    return threshold_from_preds(preds, grid, max_flagged=max_flagged)


def threshold_from_preds(preds: list[FramePred], grid=None,
                         max_flagged: float | None = None) -> tuple[float, list[dict]]:
    """Threshold with the best image-level F1 (ties: the higher threshold).

    ``max_flagged``: only thresholds that flag at most this share of the smoke-free
    frames qualify (the issue's aim is 10%).  If none does, the best-F1 threshold
    overall is returned; the table's ``meets_fp_aim`` column says which qualified.
    """
    grid = grid if grid is not None else [round(x, 3) for x in np.arange(0.01, 0.91, 0.01)]
    table = []
    for c in grid:
        m = image_metrics(preds, c)
        share = m["negative_flagged_share"]
        table.append({"conf": c, "precision": m["precision"], "recall": m["recall"], "f1": m["f1"],
                      "fp_per_negative_image": m["fp_per_negative_image"], "negative_flagged_share": share,
                      "meets_fp_aim": max_flagged is None or share is None or share <= max_flagged})
    pool = [r for r in table if r["meets_fp_aim"]] or table
    best = max(pool, key=lambda r: (r["f1"], r["conf"]))
    return best["conf"], table
