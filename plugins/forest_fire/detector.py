"""The smoke detector: the project's own YOLO weights through ultralytics, strictly offline.

``make_ultralytics_offline`` (smoke/offline.py) is applied before ultralytics is imported, so no
hub, telemetry, update check or font download leaves the machine. One model serves every camera
of the process; ``detect`` is serialised with a lock (an ultralytics predictor is not thread-safe).
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from .rule import Detection
from .smoke.offline import default_settings_dir, make_ultralytics_offline, project_root

SHIPPED_MODEL = project_root() / "twin_models" / "forest_fire" / "smoke_yolo11n.pt"
MODEL_ENV = "TWINBOARD_SMOKE_MODEL"  # a manual trial with another checkpoint


def resolve_model_path(setting: str | None = None) -> Path:
    """The weights to use: $TWINBOARD_SMOKE_MODEL, else the setting, else the shipped file."""
    raw = os.environ.get(MODEL_ENV) or setting or ""
    if not raw:
        return SHIPPED_MODEL
    p = Path(raw)
    return p if p.is_absolute() else project_root() / p


def model_meta(model_path: Path) -> dict[str, Any]:
    """The operating point written beside the weights (``<name>.meta``, JSON), if any."""
    for meta in (Path(model_path).with_suffix(".meta"), Path(model_path).with_suffix(".meta.json")):
        if meta.exists():
            try:
                return json.loads(meta.read_text())
            except ValueError:
                return {}
    return {}


def newest_checkpoint(root: Path | None = None) -> Path | None:
    """The newest ``var/smoke/runs/**/weights/last.pt`` (for manual trials before weights ship)."""
    root = root or project_root() / "var" / "smoke" / "runs"
    found = sorted(root.glob("**/weights/last.pt"), key=lambda p: p.stat().st_mtime) if root.exists() else []
    return found[-1] if found else None


class SmokeDetector:
    """``detect(frame_bgr) -> [Detection]`` with boxes in frame fractions."""

    def __init__(self, model_path: Path | str, conf: float = 0.05, imgsz: int | None = None,
                 device: str = "cpu", iou: float = 0.5, max_det: int = 20, tiles: bool = False) -> None:
        self.model_path = Path(model_path)
        #: small plumes: detect on the full frame plus 2×2 overlapping tiles, merged (smoke/tiles.py)
        self.tiles = tiles
        self.conf, self.iou, self.max_det = conf, iou, max_det
        self.device = device
        self._imgsz = imgsz
        self._model: Any = None
        self._lock = threading.Lock()
        self.meta = model_meta(self.model_path)

    @property
    def available(self) -> bool:
        return self.model_path.exists()

    def load(self) -> Any:
        if self._model is None:
            if not self.model_path.exists():
                raise FileNotFoundError(f"smoke model not found: {self.model_path}")
            make_ultralytics_offline(default_settings_dir())
            from ultralytics import YOLO  # after the offline settings, on purpose

            self._model = YOLO(str(self.model_path), task="detect")
            if self.device == "auto":
                import torch
                self.device = "cuda:0" if torch.cuda.is_available() else "cpu"
        return self._model

    @property
    def imgsz(self) -> int:
        if self._imgsz:
            return int(self._imgsz)
        if self.meta.get("imgsz"):
            return int(self.meta["imgsz"])
        model = self.load()
        args = getattr(model, "overrides", {}) or {}
        return int(args.get("imgsz") or 416)

    @property
    def operating_conf(self) -> float | None:
        """The image-level operating threshold from the model card's meta file, if shipped."""
        c = self.meta.get("conf")
        return float(c) if c is not None else None

    def predict_raw(self, frame: np.ndarray) -> Any:
        """ultralytics' own result for ``frame`` (what the benchmark compares against)."""
        model = self.load()
        return model.predict(frame, imgsz=self.imgsz, conf=self.conf, iou=self.iou, max_det=self.max_det,
                             device=self.device, verbose=False)[0]

    def detect(self, frame: np.ndarray, infrared: bool = False) -> list[Detection]:
        import cv2  # lazily: not loaded while the plugin is disabled or has no camera
        if infrared and frame.ndim == 3:
            g = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
            frame = cv2.cvtColor(g, cv2.COLOR_GRAY2BGR)
        if self.tiles:
            from .smoke.tiles import predict_tiled
            model = self.load()
            with self._lock:
                xyxyn, conf = predict_tiled(model, frame, self.imgsz, conf=self.conf, iou=self.iou,
                                            max_det=self.max_det, device=self.device)
            return [Detection(tuple(float(v) for v in xyxyn[i]), float(conf[i])) for i in range(len(conf))]
        with self._lock:
            r = self.predict_raw(frame)
        b = r.boxes
        if b is None or len(b) == 0:
            return []
        xyxyn = b.xyxyn.cpu().numpy().reshape(-1, 4)
        conf = b.conf.cpu().numpy().reshape(-1)
        return [Detection(tuple(float(v) for v in xyxyn[i]), float(conf[i])) for i in range(len(conf))]
