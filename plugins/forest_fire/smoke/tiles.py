"""Small plumes: detect on overlapping tiles plus the full frame, merged with NMS.

The median labelled plume covers about 1.4% of a 640×480 frame; letterboxed to the model's 416 px
input a 1% box is about 34×25 px, near what a YOLO11n stride-8 head still resolves. A tile of half
the frame (plus ``overlap``) predicted at the same input size sees the plume about 1.6× larger.

``tile_windows(w, h, grid, overlap)`` gives the pixel windows (the full frame is added by
``predict_tiled``); ``predict_tiled(model, frame, ...)`` runs ultralytics once on the batch
``[full frame, tile 1..grid²]`` and returns the merged boxes in frame fractions. Boxes that touch a
tile's inner edge are dropped (a plume cut in two by the tile border is better seen by the full
frame or the neighbouring tile). The merge is class-agnostic NMS at ``merge_iou``.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def tile_windows(w: int, h: int, grid: int = 2, overlap: float = 0.2) -> list[tuple[int, int, int, int]]:
    """``grid × grid`` windows (x1, y1, x2, y2 in pixels) covering the frame, each ``overlap`` wider."""
    if grid < 1:
        raise ValueError(f"grid must be >= 1, got {grid}")
    tw, th = int(round(w / grid * (1 + overlap))), int(round(h / grid * (1 + overlap)))
    tw, th = min(tw, w), min(th, h)
    xs = np.linspace(0, w - tw, grid).round().astype(int) if grid > 1 else np.array([0])
    ys = np.linspace(0, h - th, grid).round().astype(int) if grid > 1 else np.array([0])
    return [(int(x), int(y), int(x) + tw, int(y) + th) for y in ys for x in xs]


def nms_xyxy(boxes: np.ndarray, scores: np.ndarray, iou_thr: float) -> np.ndarray:
    """Indices kept by greedy NMS (descending score)."""
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        x1 = np.maximum(boxes[i, 0], boxes[rest, 0])
        y1 = np.maximum(boxes[i, 1], boxes[rest, 1])
        x2 = np.minimum(boxes[i, 2], boxes[rest, 2])
        y2 = np.minimum(boxes[i, 3], boxes[rest, 3])
        inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
        iou = inter / (areas[i] + areas[rest] - inter + 1e-12)
        order = rest[iou <= iou_thr]
    return np.array(keep, int)


def predict_tiled(model: Any, frame: np.ndarray, imgsz: int, conf: float, iou: float = 0.5,
                  max_det: int = 20, grid: int = 2, overlap: float = 0.2, merge_iou: float = 0.4,
                  edge_px: int = 3, device: str = "cpu") -> tuple[np.ndarray, np.ndarray]:
    """(boxes (n,4) xyxy in frame fractions, conf (n,)) from the full frame plus ``grid²`` tiles."""
    h, w = frame.shape[:2]
    wins = [(0, 0, w, h)] + tile_windows(w, h, grid, overlap)
    crops = [frame if k == 0 else np.ascontiguousarray(frame[y1:y2, x1:x2]) for k, (x1, y1, x2, y2) in enumerate(wins)]
    results = model.predict(crops, imgsz=imgsz, conf=conf, iou=iou, max_det=max_det, device=device, verbose=False)
    all_b, all_c = [], []
    for k, ((x1, y1, x2, y2), r) in enumerate(zip(wins, results)):
        b = r.boxes
        if b is None or len(b) == 0:
            continue
        xy = b.xyxy.cpu().numpy().astype(np.float64).reshape(-1, 4)
        c = b.conf.cpu().numpy().astype(np.float64).reshape(-1)
        if k > 0:  # drop boxes cut by an inner tile edge
            inner = np.ones(len(xy), bool)
            if x1 > 0:
                inner &= xy[:, 0] > edge_px
            if y1 > 0:
                inner &= xy[:, 1] > edge_px
            if x2 < w:
                inner &= xy[:, 2] < (x2 - x1) - edge_px
            if y2 < h:
                inner &= xy[:, 3] < (y2 - y1) - edge_px
            xy, c = xy[inner], c[inner]
            xy = xy + np.array([x1, y1, x1, y1], np.float64)
        all_b.append(xy)
        all_c.append(c)
    if not all_b:
        return np.zeros((0, 4)), np.zeros(0)
    boxes, confs = np.concatenate(all_b), np.concatenate(all_c)
    keep = nms_xyxy(boxes, confs, merge_iou)[:max_det]
    boxes = boxes[keep] / np.array([w, h, w, h], np.float64)
    return np.clip(boxes, 0.0, 1.0), confs[keep]
