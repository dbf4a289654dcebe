"""Forest fire watch: the alert rule with the real detector on frame sequences.

* **smoke sequences**: the held-out scene units of the training set (``var/smoke/dataset/val``, units
  the detector never trained on), in file-name order, cut into runs of ``--run`` frames: every frame
  shows smoke; we count the frames until the rule alerts (0-based index; "within 3 frames" = ≤ 2);
* **smoke-free sequences**: runs of the held-out set's smoke-free images (background crops of the real
  frames, synthetic negatives: cloud, haze, sky, glare), each of ``--held`` of those images watched as a
  still scene for ``--run`` frames (sensor noise, mast sway), and the two clean demo videos: any alert
  is a false alert;
* **demo plumes**: the two rendered demo videos with a plume: frames from the first smoky frame to
  the alert.

Each frame goes through the detector once; the rule (plugin defaults) runs on the stored detections.

    .venv/bin/python bench/forest_fire_alerts.py [--quick] [--val DIR] [--run 8] [--model PT]

Last line: one JSON object: ``smoke_sequences`` and ``alert_within_3_frames`` (share of them alerted by
their third frame; null without the held-out set), ``alerted``, ``median_frames_to_alert``,
``smoke_free_sequences`` and ``false_alert_sequences`` (those with any alert), ``demo_plumes`` (frames from
the first smoky frame to the alert, per demo feed), and a ``sweep`` of the rule's parameters.
"""

from __future__ import annotations

import argparse
import json
import statistics
from dataclasses import replace
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from plugins.forest_fire.demo_feeds import FEEDS, render_frames  # noqa: E402
from plugins.forest_fire.detector import SHIPPED_MODEL, SmokeDetector, model_meta, newest_checkpoint  # noqa: E402
from plugins.forest_fire.rule import RuleParams, SmokeAlertRule  # noqa: E402
from plugins.forest_fire.settings import ForestFireSettings  # noqa: E402


def small(frame):
    """What the rule needs of a frame (night check, change check): a 160-px-wide copy."""
    h, w = frame.shape[:2]
    return cv2.resize(frame, (160, int(160 * h / w)), interpolation=cv2.INTER_AREA)


def first_alert(seq: list, params: RuleParams) -> int | None:
    """``seq``: (detections, small frame) per frame."""
    rule = SmokeAlertRule(params)
    for i, (dets, frame) in enumerate(seq):
        if rule.update(dets, i * 30.0, frame).alert_on:
            return i
    return None


def chunks(items: list, n: int) -> list[list]:
    return [items[i:i + n] for i in range(0, len(items) - n + 1, n)] or ([items] if items else [])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--val", type=Path, default=ROOT / "var" / "smoke" / "dataset" / "val")
    ap.add_argument("--run", type=int, default=8, help="frames per sequence")
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--held", type=int, default=12, help="smoke-free images per kind watched as a held scene")
    ap.add_argument("--quick", action="store_true", help="a smoke run: demo feeds cut to --run frames of smoke "
                    "(or of clean scene), 2 held images per kind; its figures say little")
    args = ap.parse_args()
    if args.quick:
        args.held = min(args.held, 2)
    model = args.model or (SHIPPED_MODEL if SHIPPED_MODEL.exists() else newest_checkpoint())
    if model is None or not Path(model).exists():
        print(json.dumps({"error": "no smoke model"}))
        return 1
    settings = ForestFireSettings()
    params = RuleParams.from_settings(settings)
    det = SmokeDetector(model, conf=params.frame_conf)

    def detect_file(p: Path) -> tuple:
        img = cv2.imread(str(p))
        return (det.detect(img), small(img)) if img is not None else ([], None)

    images = sorted((args.val / "images").glob("*.jpg")) if (args.val / "images").is_dir() else []
    units: dict[str, list[Path]] = {}
    negatives: dict[str, list[Path]] = {}
    for p in images:
        lab = args.val / "labels" / (p.stem + ".txt")
        has_smoke = lab.exists() and lab.read_text().strip() != ""
        key = p.name.split("__")[0] if "__" in p.name else p.name.split("_")[0]
        (units if has_smoke else negatives).setdefault(key, []).append(p)
    pos_seqs = [(unit, [detect_file(p) for p in run]) for unit, files in sorted(units.items())
                for run in chunks(files, args.run)]
    neg_seqs = [(kind, [detect_file(p) for p in run]) for kind, files in sorted(negatives.items())
                for run in chunks(files, args.run)]
    # a camera watching each smoke-free scene for a while: the image held, with sensor noise and mast sway
    rng = np.random.default_rng(0)
    for kind, files in sorted(negatives.items()):
        for p in files[: args.held]:
            img = cv2.imread(str(p))
            if img is None:
                continue
            seq = []
            for i in range(args.run):
                f = np.roll(img, int(2 * np.sin(i)), axis=1).astype(np.float32) + rng.normal(0, 2, img.shape)
                f = np.clip(f, 0, 255).astype(np.uint8)
                seq.append((det.detect(f), small(f)))
            neg_seqs.append((f"held:{kind}", seq))
    demo_seqs = []
    for name, spec in FEEDS.items():
        if args.quick:          # the frames up to the smoke, then --run frames (a clean feed: --run frames)
            lead = spec.smoke_from if spec.plume_x is not None else 0
            spec = replace(spec, frames=min(spec.frames, lead + args.run))
        seq = [(det.detect(f, infrared=spec.infrared), small(f)) for f in render_frames(spec)]
        if spec.plume_x is None:
            neg_seqs.append((f"demo:{name}", seq))
        else:
            demo_seqs.append((name, spec.smoke_from, seq))

    def evaluate(p: RuleParams) -> dict:
        pos_runs = [{"unit": u, "frames": len(seq), "first_alert": first_alert(seq, p)} for u, seq in pos_seqs]
        neg_runs = [{"kind": k, "frames": len(seq), "false_alert_at": first_alert(seq, p)} for k, seq in neg_seqs]
        demo = []
        for name, smoke_from, seq in demo_seqs:
            idx = first_alert(seq, p)
            demo.append({"feed": name, "smoke_from": smoke_from,
                         "frames_to_alert": None if idx is None else idx - smoke_from,
                         "alert_before_smoke": idx is not None and idx < smoke_from})
        delays = [r["first_alert"] for r in pos_runs if r["first_alert"] is not None]
        within3 = sum(1 for r in pos_runs if r["first_alert"] is not None and r["first_alert"] <= 2)
        return {"alert_conf": p.alert_conf, "smoke_sequences": len(pos_runs),
                "alert_within_3_frames": round(within3 / len(pos_runs), 3) if pos_runs else None,
                "alerted": round(len(delays) / len(pos_runs), 3) if pos_runs else None,
                "median_frames_to_alert": statistics.median(delays) if delays else None,
                "smoke_free_sequences": len(neg_runs),
                "false_alert_sequences": sum(1 for r in neg_runs if r["false_alert_at"] is not None),
                "demo_plumes": demo, "per_sequence": {"smoke": pos_runs, "smoke_free": neg_runs}}

    res = {"model": str(model), "quick": args.quick, "operating_conf": model_meta(Path(model)).get("conf"),
           "rule": {k: getattr(params, k) for k in ("frame_conf", "alert_conf", "n_frames", "max_box_width",
                                                    "min_change")}}
    res.update(evaluate(params))
    res["sweep"] = []
    for mc in (0.0, 2.0, 4.0):
        for n in (3, 4, 5):
            for c in (0.08, 0.1, 0.12, 0.15, 0.2, 0.25):
                r = evaluate(replace(params, alert_conf=c, n_frames=n, min_change=mc))
                res["sweep"].append({"n_frames": n, "min_change": mc,
                                     **{k: v for k, v in r.items() if k not in ("per_sequence",)}})
    within3 = round((res["alert_within_3_frames"] or 0) * res["smoke_sequences"])
    false, demo = res["false_alert_sequences"], res["demo_plumes"]
    pos_runs, neg_runs = res["per_sequence"]["smoke"], res["per_sequence"]["smoke_free"]
    print(f"{within3}/{len(pos_runs)} smoke runs alerted within 3 frames; "
          f"{false}/{len(neg_runs)} smoke-free runs with a false alert; demo: {demo}")
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
