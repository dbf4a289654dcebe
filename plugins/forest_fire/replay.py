"""``twinboard smoke replay DIR --interval SECONDS --json``: a folder of images, in file-name order,
as consecutive frames of one camera through the detector and the alert rule.

Prints one JSON object::

    {"model": ..., "interval_s": 30, "params": {...},
     "frames": [{"frame": 0, "file": "000.jpg", "time": 0.0, "detections": [{"box": [x1,y1,x2,y2], "score": s}],
                 "score": pooled, "alert_on": false}, ...],
     "alerts": [{"frame": 7, "time": 210.0, "box": [...], "score": 0.31, "event": 1, "file": "007.jpg"}],
     "corrupt": 0}

Boxes are frame fractions. ``time`` is seconds since the first frame (frame index × interval).
``frames[i].detections`` are the detector's boxes at the low per-frame threshold; an alert is listed at
the frame where the rule switches on. A file that cannot be decoded is listed with ``"error"`` and
skipped (not fed to the rule).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import cv2

from .frames import IMAGE_SUFFIXES, valid_frame
from .rule import RuleParams, SmokeAlertRule
from .settings import ForestFireSettings


def replay(folder: Path, interval_s: float, detector: Any, params: RuleParams, infrared: bool = False,
           masks: list[Any] | None = None, temporal: Any = None) -> dict[str, Any]:
    """``temporal``: a ``TemporalParams`` (the plugin's default rule) or None (the rule without temporal evidence)."""
    files = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    rule = SmokeAlertRule(params, masks=masks or (), infrared=infrared, temporal=temporal, camera_id=str(folder))
    frames, alerts, corrupt = [], [], 0
    for i, path in enumerate(files):
        t = i * interval_s
        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if not valid_frame(img):
            corrupt += 1
            frames.append({"frame": i, "file": path.name, "time": t, "detections": [], "error": "corrupt"})
            continue
        dets = detector.detect(img, infrared=infrared)
        out = rule.update(dets, t, img)
        frames.append({"frame": i, "file": path.name, "time": t, "detections": [d.as_dict() for d in dets],
                       "score": round(out.score, 4), "alert_on": out.alert_on, "night": out.night})
        if out.new_alert and out.box is not None:
            alerts.append({"frame": i, "time": t, "box": [round(v, 4) for v in out.box],
                           "score": round(out.score, 4), "event": out.event_id, "new_event": out.new_event,
                           "file": path.name})
    return {"folder": str(folder), "interval_s": interval_s, "params": asdict(params), "frames": frames,
            "alerts": alerts, "corrupt": corrupt, "temporal": asdict(temporal) if temporal is not None else None,
            "skipped": dict(rule.counts)}


def _run(args: argparse.Namespace) -> int:
    from .detector import SmokeDetector, resolve_model_path

    folder = Path(args.dir)
    if not folder.is_dir():
        print(f"not a folder: {folder}", file=sys.stderr)
        return 2
    model = Path(args.model) if args.model else resolve_model_path("")
    if not model.exists():
        print(f"model not found: {model}", file=sys.stderr)
        return 2
    defaults = ForestFireSettings()
    over = {k: v for k, v in (("n_frames", args.n_frames), ("alert_conf", args.alert_conf),
                              ("frame_conf", args.frame_conf)) if v is not None}
    params = RuleParams.from_settings({**defaults.model_dump(), **over})
    det = SmokeDetector(model, conf=params.frame_conf, imgsz=args.imgsz or None)
    from .smoke.temporal import TemporalParams
    temporal = None if args.no_temporal else TemporalParams.from_settings(defaults)
    res = replay(folder, args.interval, det, params, infrared=args.ir, temporal=temporal)
    res["model"] = str(model)
    if args.json:
        print(json.dumps(res))
    else:
        for f in res["frames"]:
            best = max((d["score"] for d in f["detections"]), default=0.0)
            print(f"{f['frame']:>4} {f['file']:<28} best {best:.2f} pooled {f.get('score', 0):.2f}"
                  + ("  ALERT" if f.get("alert_on") else "") + (f"  {f['error']}" if "error" in f else ""))
        print(f"{len(res['alerts'])} alert(s): " + ", ".join(f"frame {a['frame']} ({a['score']:.2f})"
                                                            for a in res["alerts"]))
    return 0


def add_replay_command(smoke_parser: argparse.ArgumentParser) -> None:
    """Add ``replay`` to the ``smoke`` command group made by ``smoke.cli.add_smoke_commands``."""
    sub = next(a for a in smoke_parser._actions if isinstance(a, argparse._SubParsersAction))
    r = sub.add_parser("replay", help="a folder of images as one camera's frames through detector and alert rule")
    r.add_argument("dir", type=Path)
    r.add_argument("--interval", type=float, default=30.0, help="seconds between frames")
    r.add_argument("--model", type=Path, default=None, help="default: the shipped weights")
    r.add_argument("--n-frames", type=int, default=None)
    r.add_argument("--alert-conf", type=float, default=None)
    r.add_argument("--frame-conf", type=float, default=None)
    r.add_argument("--imgsz", type=int, default=0)
    r.add_argument("--ir", action="store_true", help="infrared camera (grey frames, no night pause)")
    r.add_argument("--no-temporal", action="store_true", help="the rule without temporal evidence (before issue 17)")
    r.add_argument("--json", action="store_true")
    r.set_defaults(fn=_run)
