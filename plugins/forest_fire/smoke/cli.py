"""``twinboard smoke ...`` sub-commands.

The plugin's ``register_commands(subparsers)`` hook calls :func:`add_smoke_commands`.
Every handler takes the parsed namespace and returns an exit code.

    smoke synth OUT [--pos N --neg N --backgrounds DIR --seed S]
    smoke dataset [--source DIR --out DIR --val-units U7 U12 --seed S ...]
    smoke train --data DIR [--epochs N --imgsz PX --time HOURS --resume --weights PT --out DIR]
    smoke threshold DIR [--model PT] [--write]      pick the operating threshold (best F1, <=10% negatives flagged)
    smoke eval DIR [--json --model PT --conf C]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .offline import project_root

ROOT = project_root()
DEFAULT_SOURCE = ROOT.parent / "shared" / "data" / "smoke_train"
DEFAULT_DATASET = ROOT / "var" / "smoke" / "dataset"
DEFAULT_RUNS = ROOT / "var" / "smoke" / "runs"
DEFAULT_MODEL = ROOT / "twin_models" / "forest_fire" / "smoke_yolo11n.pt"


def meta_path(model_path: Path) -> Path:
    """``smoke_yolo11n.pt`` -> ``smoke_yolo11n.meta`` (JSON).  Not ``.json``: twin_models/ holds twin
    files (YAML/GeoJSON) that a plugin may glob; the sidecar must not look like one."""
    return Path(model_path).with_suffix(".meta")


def model_meta(model_path: Path) -> dict:
    """Operating point stored beside the weights (``<name>.meta``, JSON: conf, imgsz, ...)."""
    meta = meta_path(model_path)
    if meta.exists():
        try:
            return json.loads(meta.read_text())
        except ValueError:
            pass
    return {}


def _synth(args) -> int:
    from .synth import synth

    stats = synth(args.out, args.pos, args.neg, args.backgrounds, args.seed)
    print(json.dumps(stats, indent=2))
    return 0


def _dataset(args) -> int:
    from .dataset import build_dataset

    summary = build_dataset(args.source, args.out, val_units=args.val_units, n_synth_pos=args.synth_pos,
                            n_synth_neg=args.synth_neg, n_bg_train=args.bg_train, n_synth_neg_val=args.synth_neg_val,
                            n_bg_val=args.bg_val, n_removed_train=args.removed_train,
                            n_removed_val=args.removed_val, seed=args.seed)
    print(json.dumps(summary, indent=2))
    return 0


def _train(args) -> int:
    from .train import train

    data = Path(args.data)
    data_yaml = data / "data.yaml" if data.is_dir() else data
    if not args.resume and not data_yaml.exists():
        print(f"no data.yaml at {data_yaml}; build one with `twinboard smoke dataset`", file=sys.stderr)
        return 2
    run_dir = train(data_yaml, args.out, imgsz=args.imgsz, epochs=args.epochs, time_hours=args.time,
                    resume=args.resume, weights=args.weights, name=args.name, batch=args.batch,
                    workers=args.workers, seed=args.seed, threads=args.threads)
    print(f"run folder: {run_dir} (best weights: {run_dir / 'weights' / 'best.pt'})")
    return 0


def _threshold(args) -> int:
    from .evaluate import select_threshold

    conf, table = select_threshold(args.model, args.data_dir, max_flagged=args.max_flagged)
    best = next(r for r in table if r["conf"] == conf)
    print(json.dumps({"conf": conf, "at_best": best}, indent=2))
    if not best["meets_fp_aim"]:
        print(f"no threshold flags at most {args.max_flagged:.0%} of the smoke-free frames; "
              "this is the best F1 without that limit", file=sys.stderr)
    if args.write:
        path = meta_path(args.model)
        meta = model_meta(args.model)
        meta.update({"conf": conf, "threshold_chosen_on": str(args.data_dir), "f1_there": best["f1"],
                     "negative_flagged_share_there": best["negative_flagged_share"]})
        path.write_text(json.dumps(meta, indent=2) + "\n")
        print(f"wrote {path}")
    return 0


def _eval(args) -> int:
    from .evaluate import evaluate

    model = Path(args.model)
    if not model.exists():
        print(f"model not found: {model}", file=sys.stderr)
        return 2
    conf = args.conf if args.conf is not None else float(model_meta(model).get("conf", 0.25))
    res = evaluate(model, args.data_dir, conf=conf)
    if args.json:
        print(json.dumps(res, indent=2))
    else:
        for k in ("precision", "recall", "f1", "ap50", "fp_per_negative_image", "ms_per_image"):
            v = res[k]
            print(f"{k:>22}: {v:.4f}" if isinstance(v, float) else f"{k:>22}: {v}")
        print(f"{'images':>22}: {res['n_images']} ({res['n_positive']} smoke, {res['n_negative']} without) at conf {conf}")
    return 0


def add_smoke_commands(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    smoke = subparsers.add_parser("smoke", help="smoke detector: synthetic data, dataset, training, evaluation")
    sub = smoke.add_subparsers(dest="smoke_command", required=True)

    s = sub.add_parser("synth", help="write synthetic smoke plumes and hard negatives (YOLO layout)")
    s.add_argument("out", type=Path)
    s.add_argument("--pos", type=int, default=100, help="images with smoke")
    s.add_argument("--neg", type=int, default=100, help="hard negatives: clouds, haze, sky, sun glare")
    s.add_argument("--backgrounds", type=Path, default=None,
                   help="YOLO folder of real frames; smoke-free crops of them become backgrounds")
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(fn=_synth)

    d = sub.add_parser("dataset", help="assemble train/val (held-out scene units) under var/smoke/dataset")
    d.add_argument("--source", type=Path, default=DEFAULT_SOURCE,
                   help="YOLO folder with manifest.csv (file,label,scene_unit) or images/<camera>/...")
    d.add_argument("--out", type=Path, default=DEFAULT_DATASET)
    d.add_argument("--val-units", nargs="+", default=["U7", "U12"])
    d.add_argument("--synth-pos", type=int, default=220)
    d.add_argument("--synth-neg", type=int, default=140)
    d.add_argument("--bg-train", type=int, default=120, help="smoke-free crops of real training frames")
    d.add_argument("--synth-neg-val", type=int, default=30)
    d.add_argument("--bg-val", type=int, default=30)
    d.add_argument("--removed-train", type=int, default=-1,
                   help="real training frames with the smoke removed, as negatives (-1: all)")
    d.add_argument("--removed-val", type=int, default=-1, help="the same for the held-out frames (-1: all)")
    d.add_argument("--seed", type=int, default=0)
    d.set_defaults(fn=_dataset)

    t = sub.add_parser("train", help="train YOLO11n from scratch (offline, CPU) or resume / fine-tune")
    t.add_argument("--data", type=Path, default=DEFAULT_DATASET, help="dataset folder (with data.yaml) or the yaml")
    t.add_argument("--out", type=Path, default=DEFAULT_RUNS)
    t.add_argument("--name", default="train")
    t.add_argument("--epochs", type=int, default=100)
    t.add_argument("--imgsz", type=int, default=416)
    t.add_argument("--time", type=float, default=None, help="time budget in hours (overrides --epochs)")
    t.add_argument("--resume", action="store_true", help="continue <out>/<name>/weights/last.pt")
    t.add_argument("--weights", type=Path, default=None, help="start a new run from these weights (fine-tune)")
    t.add_argument("--batch", type=int, default=16)
    t.add_argument("--workers", type=int, default=2)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: cores - 1)")
    t.set_defaults(fn=_train)

    h = sub.add_parser("threshold", help="pick the confidence with the best image-level F1 on a folder")
    h.add_argument("data_dir", type=Path)
    h.add_argument("--max-flagged", type=float, default=0.10,
                   help="only thresholds that flag at most this share of smoke-free frames (default 0.10)")
    h.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    h.add_argument("--write", action="store_true", help="store it in <model>.meta as the operating threshold")
    h.set_defaults(fn=_threshold)

    e = sub.add_parser("eval", help="precision/recall/F1 (image level), AP50, FP per negative frame, ms per frame")
    e.add_argument("data_dir", type=Path, help="YOLO folder: images/ and labels/ (empty label = no smoke)")
    e.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    e.add_argument("--conf", type=float, default=None, help="default: the operating threshold in <model>.meta")
    e.add_argument("--json", action="store_true")
    e.set_defaults(fn=_eval)
    return smoke
