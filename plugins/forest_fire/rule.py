"""The temporal smoke alert rule, after pyronear's engine (see ../shared/DOMAIN.md).

Per camera (a PTZ pose is its own camera):

1. keep the detector's boxes at or above a **low** per-frame threshold (``frame_conf``, 0.05);
2. drop boxes wider than ``max_box_width`` (40%) of the frame — those are clouds and haze;
3. drop boxes whose centre lies in one of the camera's **occlusion masks**;
4. pool the boxes of the last ``n_frames`` frames; non-maximum suppression gives candidate boxes;
5. a candidate **alerts** when boxes overlapping it (IoU > ``overlap_iou``) occur in at least
   ⌈N/2⌉ of the last N frames and the summed best confidence per frame / N exceeds ``alert_conf``;
6. while an alert is on, it stays on down to ``hysteresis`` × ``alert_conf`` (0.8×);
7. alerts of one camera within ``group_window_s`` (30 min) of the previous one belong to the
   same **event** (one host alert, updated, not a new one per flicker);
8. time as a signal (``min_change``, 0 = off): smoke drifts and grows where the landscape
   stands still, so a candidate whose box region is unchanged across the window cannot start an alert;
9. night: a visible-light camera's dark frame (mean luma below ``night_luma``) is paused
   (``night_mode = "pause"``: not pooled, the window is kept) or analysed (``"detect"``);
   infrared cameras always analyse, frames converted to grey for the detector;
10. temporal evidence (``temporal``, a :class:`~plugins.forest_fire.smoke.temporal.TemporalParams`;
    None = off, as before issue 17): per preset, a background model of the last K frames, growth and
    a stable base of the candidate, view-change reset and the camera's reviewed false sources. A
    candidate then alerts only when every switched-on check holds, and one that passes them all needs
    only ``relief`` × ``alert_conf`` (see ``smoke/temporal.py``). Bad frames never raise: a corrupt
    frame, a frame of another size than the preset's, a night frame and a view change are each
    skipped and counted in ``counts``; a view change (or three frames in a row of one new size)
    resets the preset's history and raises no alarm.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Detection:
    """One box in frame fractions (x1, y1, x2, y2 in 0..1) with the detector's confidence."""

    box: tuple[float, float, float, float]
    score: float

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    def as_dict(self) -> dict[str, Any]:
        return {"box": [round(v, 4) for v in self.box], "score": round(float(self.score), 4)}


@dataclass(frozen=True)
class RuleParams:
    frame_conf: float = 0.05
    alert_conf: float = 0.15
    n_frames: int = 3
    max_box_width: float = 0.4
    overlap_iou: float = 0.1
    nms_iou: float = 0.3
    hysteresis: float = 0.8
    group_window_s: float = 1800.0
    night_mode: str = "pause"  # pause | detect
    night_luma: float = 40.0
    #: a candidate whose box region did not change between the oldest and newest frame of the window
    #: (mean absolute grey-level difference below this) is a still object, not smoke; 0 = off
    min_change: float = 4.0

    @classmethod
    def from_settings(cls, s: Any) -> RuleParams:
        names = cls.__dataclass_fields__.keys()
        if isinstance(s, dict):
            return cls(**{k: v for k, v in s.items() if k in names})
        return cls(**{k: getattr(s, k) for k in names if hasattr(s, k)})


@dataclass
class RuleOutput:
    """What one frame did to the camera's rule state."""

    score: float                      # pooled score of the best candidate (summed conf / N)
    box: tuple[float, float, float, float] | None
    alert_on: bool                    # the camera is in alert after this frame
    new_alert: bool                   # the alert switched on with this frame
    new_event: bool                   # ... and it starts a new event (not grouped into the last one)
    event_id: int | None
    kept: list[Detection] = field(default_factory=list)   # the frame's boxes that survived filters
    dropped_wide: int = 0
    dropped_masked: int = 0
    night: bool = False
    static: bool = False              # a qualifying candidate was held back as a still object
    confidence: float = 0.0           # the detector's mean confidence on the best candidate, over the frames it hit
    skipped: str | None = None        # corrupt | wrong_size | view_change: the frame was not pooled
    dropped_false_source: int = 0     # boxes dropped on a reviewed false source of this camera
    evidence: dict[str, Any] = field(default_factory=dict)  # the temporal checks of the best candidate


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    if inter <= 0:
        return 0.0
    ua = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / ua if ua > 0 else 0.0


def nms(dets: Sequence[Detection], thr: float) -> list[Detection]:
    out: list[Detection] = []
    for d in sorted(dets, key=lambda d: -d.score):
        if all(iou(d.box, k.box) <= thr for k in out):
            out.append(d)
    return out


def point_in_polygon(x: float, y: float, poly: Sequence[tuple[float, float]]) -> bool:
    inside = False
    n = len(poly)
    j = n - 1
    for i in range(n):
        xi, yi = poly[i]
        xj, yj = poly[j]
        if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / ((yj - yi) or 1e-12) + xi:
            inside = not inside
        j = i
    return inside


def _grey(frame: np.ndarray) -> np.ndarray:
    """A small blurred grey copy (160 px wide) for the change check."""
    import cv2
    h, w = frame.shape[:2]
    g = cv2.cvtColor(cv2.resize(frame, (160, max(1, int(160 * h / w))), interpolation=cv2.INTER_AREA),
                     cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
    return cv2.GaussianBlur(g, (3, 3), 0).astype(np.float32)


def is_night(frame: np.ndarray | None, luma: float) -> bool:
    if frame is None:
        return False
    small = frame[::8, ::8]
    return float(small.mean()) < luma


def frame_problem(frame: Any) -> str | None:
    """``"corrupt"`` when ``frame`` is not a decodable image array (uint8, 2-D grey or 3-channel), else None."""
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.size == 0:
        return "corrupt"
    if frame.ndim not in (2, 3) or (frame.ndim == 3 and frame.shape[2] != 3) or min(frame.shape[:2]) < 8:
        return "corrupt"
    return None


class SmokeAlertRule:
    """The temporal rule for one camera (one preset). Feed it each analysed frame's detections in order."""

    def __init__(self, params: RuleParams | None = None,
                 masks: Sequence[Sequence[tuple[float, float]]] = (), infrared: bool = False,
                 temporal: Any = None, camera_id: str = "", false_sources: Any = None) -> None:
        self.p = params or RuleParams()
        self.masks = [tuple(m) for m in masks]
        self.infrared = infrared
        self.window: deque[list[Detection]] = deque(maxlen=self.p.n_frames)
        self.greys: deque[np.ndarray | None] = deque(maxlen=self.p.n_frames)
        self.alert_on = False
        self.event_id: int | None = None
        self.events = 0
        self.last_alert_time: float | None = None
        self.frames_seen = 0
        self.camera_id = camera_id
        self.temporal = temporal            # TemporalParams or None
        self.false_sources = false_sources  # FalseSources or None
        self.history: Any = None
        if temporal is not None:
            from .smoke.temporal import PresetHistory
            self.history = PresetHistory(temporal)
        #: frames skipped or reset, by reason (never raised)
        self.counts = {"corrupt": 0, "wrong_size": 0, "night": 0, "view_change": 0, "false_source": 0}
        self._new_shape: tuple[int, ...] | None = None
        self._new_shape_n = 0

    def reset(self) -> None:
        """Forget the preset's window and history (a view change); the event count is kept."""
        self.window.clear()
        self.greys.clear()
        self.alert_on = False
        if self.history is not None:
            self.history.reset()

    def _skip(self, reason: str) -> RuleOutput:
        self.counts[reason] += 1
        return RuleOutput(0.0, None, self.alert_on, False, False, self.event_id if self.alert_on else None,
                          skipped=reason)

    def _check_frame(self, frame: Any) -> str | None:
        """corrupt / wrong_size / view_change / None; updates the preset's history when the frame is good."""
        if frame_problem(frame):
            return "corrupt"
        hist = self.history
        if hist.shape is not None and frame.shape != hist.shape:
            if frame.shape == self._new_shape:
                self._new_shape_n += 1
            else:
                self._new_shape, self._new_shape_n = frame.shape, 1
            if self._new_shape_n < 3:
                return "wrong_size"
            # the camera now sends this size for good: a new view of the preset
            hist.shape, self._new_shape, self._new_shape_n = frame.shape, None, 0
            self.reset()
            self.counts["view_change"] += 1
        self._new_shape, self._new_shape_n = None, 0
        hist.shape = frame.shape
        from .smoke.temporal import small_grey
        g = small_grey(frame if frame.ndim == 3 else np.repeat(frame[:, :, None], 3, axis=2), self.temporal.width)
        if hist.check_view(g):
            self.reset()
            hist.push(g)
            return "view_change"
        hist.push(g)
        return None

    @property
    def needed_frames(self) -> int:
        return math.ceil(self.p.n_frames / 2)

    def filter(self, dets: Sequence[Detection]) -> tuple[list[Detection], int, int]:
        kept, wide, masked = [], 0, 0
        for d in dets:
            if d.score < self.p.frame_conf:
                continue
            if d.width > self.p.max_box_width:
                wide += 1
                continue
            cx, cy = (d.box[0] + d.box[2]) / 2, (d.box[1] + d.box[3]) / 2
            if any(point_in_polygon(cx, cy, m) for m in self.masks):
                masked += 1
                continue
            kept.append(d)
        return kept, wide, masked

    def update(self, dets: Sequence[Detection], t: float, frame: np.ndarray | None = None,
               night: bool | None = None) -> RuleOutput:
        """Add one frame's detections (at time ``t``, epoch seconds) and say whether the camera alerts."""
        if self.temporal is not None and frame is not None and frame_problem(frame):
            return self._skip("corrupt")
        if night is None:
            night = (not self.infrared) and self.p.night_mode == "pause" and is_night(frame, self.p.night_luma)
        if night:
            self.counts["night"] += 1
            return RuleOutput(0.0, None, self.alert_on, False, False, self.event_id, night=True)
        if self.temporal is not None and frame is not None:
            problem = self._check_frame(frame)
            if problem:
                return self._skip(problem)
        self.frames_seen += 1
        kept, wide, masked = self.filter(dets)
        dropped_fs = 0
        if self.false_sources is not None and (self.temporal is None or self.temporal.false_sources):
            before = len(kept)
            kept = [d for d in kept if not self.false_sources.covers(self.camera_id, d.box, t)]
            dropped_fs = before - len(kept)
            self.counts["false_source"] += dropped_fs
        self.window.append(kept)
        if self.p.min_change > 0 and (self.temporal is None or self.temporal.still_check):
            self.greys.append(_grey(frame) if frame is not None else None)   # only for the still-object check
        evidence: dict[str, Any] = {}
        if self.temporal is not None:
            # the checks gate the *start* of an alert; a running alert is kept by the pooled score alone
            score, box, frames_hit, evidence = self._best_temporal(frame is not None, gate=not self.alert_on)
            relief = self.temporal.relief if evidence.get("all") else 1.0
        else:
            score, box, frames_hit = self._best()
            relief = 1.0
        thr = self.p.alert_conf * relief * (self.p.hysteresis if self.alert_on else 1.0)
        on = frames_hit >= self.needed_frames and score > thr
        static = False
        still_check = self.temporal is None or self.temporal.still_check
        if on and not self.alert_on and self.p.min_change > 0 and still_check and box is not None:
            change = self.change_in(box)
            if change is not None and change < self.p.min_change:
                on, static = False, True
        new_alert = on and not self.alert_on
        new_event = False
        if new_alert:
            if self.last_alert_time is None or t - self.last_alert_time > self.p.group_window_s:
                self.events += 1
                self.event_id = self.events
                new_event = True
        if on:
            self.last_alert_time = t
        self.alert_on = on
        return RuleOutput(score, box, on, new_alert, new_event, self.event_id if on else None, kept, wide, masked,
                          static=static, confidence=score * self.p.n_frames / frames_hit if frames_hit else 0.0,
                          dropped_false_source=dropped_fs, evidence=evidence)

    def change_in(self, box: tuple[float, float, float, float]) -> float | None:
        """Mean absolute grey-level change inside ``box`` from the window's oldest frame to its newest."""
        if len(self.greys) < 2 or self.greys[0] is None or self.greys[-1] is None:
            return None
        a, b = self.greys[0], self.greys[-1]
        if a.shape != b.shape:
            return None
        h, w = a.shape
        x1, y1 = int(box[0] * w), int(box[1] * h)
        x2, y2 = max(x1 + 1, int(np.ceil(box[2] * w))), max(y1 + 1, int(np.ceil(box[3] * h)))
        return float(np.abs(a[y1:y2, x1:x2] - b[y1:y2, x1:x2]).mean())

    def _best_temporal(self, have_frame: bool, gate: bool = True) -> tuple[float, Any, int, dict[str, Any]]:
        """Like :meth:`_best`, but a candidate must pass the switched-on temporal checks to qualify."""
        from .smoke.temporal import grows, stable_base
        tp = self.temporal
        pooled = [d for frame in self.window for d in frame]
        if not pooled:
            return 0.0, None, 0, {}
        best: tuple[float, Any, int, dict[str, Any]] = (0.0, None, 0, {})
        best_key = (False, False, -1.0)
        for cand in nms(pooled, self.p.nms_iou):
            total, hit, tracks = 0.0, 0, []
            for frame in self.window:
                near = [d for d in frame if iou(d.box, cand.box) > self.p.overlap_iou]
                if near:
                    top = max(near, key=lambda d: d.score)
                    hit += 1
                    total += top.score
                    tracks.append(top.box)
            score = total / self.p.n_frames
            ev: dict[str, Any] = {}
            ok = True
            if tp.motion and have_frame:
                share = self.history.changed_share(cand.box)
                ev["changed"] = None if share is None else round(share, 4)
                ev["motion"] = share is not None and share >= tp.min_changed
                ok &= ev["motion"]
            if tp.growth:
                ev["growth"] = grows(tracks, tp.min_growth)
                ok &= ev["growth"]
            if tp.base:
                ev["base"] = stable_base(tracks, tp.base_tol)
                ok &= ev["base"]
            ev["all"] = ok
            key = (hit >= self.needed_frames, ok, score)
            if key > best_key:
                best, best_key = (score, cand.box, hit, ev), key
        score, box, hit, ev = best
        if gate and not ev.get("all"):
            return score, box, 0, ev   # a candidate failing a temporal check cannot alert
        return best

    def _best(self) -> tuple[float, tuple[float, float, float, float] | None, int]:
        pooled = [d for frame in self.window for d in frame]
        if not pooled:
            return 0.0, None, 0
        best: tuple[float, Any, int] = (0.0, None, 0)
        best_key = (False, -1.0)
        for cand in nms(pooled, self.p.nms_iou):
            total, hit = 0.0, 0
            for frame in self.window:
                confs = [d.score for d in frame if iou(d.box, cand.box) > self.p.overlap_iou]
                if confs:
                    hit += 1
                    total += max(confs)
            score = total / self.p.n_frames
            key = (hit >= self.needed_frames, score)
            if key > best_key:
                best, best_key = (score, cand.box, hit), key
        return best
