"""``twinboard smoke ...`` sub-commands.

The plugin's ``register_commands(subparsers)`` hook calls :func:`add_smoke_commands`.
Every handler takes the parsed namespace and returns an exit code.

    smoke synth OUT [--pos N --neg N --backgrounds DIR --seed S]
    smoke dataset [--source DIR --out DIR --val-units U7 U12 --seed S ...]
    smoke train --data DIR [--epochs N --imgsz PX --time HOURS --resume --weights PT --out DIR]
    smoke threshold DIR [--model PT] [--write]      pick the operating threshold (best F1, <=10% negatives flagged)
    smoke eval DIR [--json --model PT --conf C]
    smoke retrain [--epochs N --imgsz PX --test-cameras ... --celery --json]   the site's learning loop
    smoke models [--json]                            the model registry
    smoke examples [--json]                          labelled examples per camera
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
                            n_removed_val=args.removed_val, seed=args.seed, test_units=args.test_units)
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
    d.add_argument("--test-units", nargs="+", default=[],
                   help="scene units left out of train and val (the test split; e.g. --val-units U12 --test-units U7)")
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
    add_learning_commands(sub)
    return smoke


# -- the site's learning loop: retrain, models, examples (smoke/retrain.py, registry.py, examples.py) ----------
def configured_learning(store, config=None) -> tuple[Path, Path, str]:
    """(data folder, configured weights, the ``model_path`` setting) as the running host sees them: the
    settings file's ``plugins.forest_fire.settings``, overridden by what a manager saved in /admin."""
    import os

    import yaml

    from ..detector import resolve_model_path
    from .examples import data_root

    values: dict = {}
    cfg = Path(config) if config else Path(os.environ.get("TWINBOARD_CONFIG") or ROOT / "config" / "default.yaml")
    if cfg.exists():
        doc = yaml.safe_load(cfg.read_text(encoding="utf-8")) or {}
        values.update((((doc.get("plugins") or {}).get("forest_fire") or {}).get("settings") or {}))
    row = store.plugin_state("forest_fire")
    if row is not None and row.settings:
        values.update(row.settings)
    setting = str(values.get("model_path") or "")
    return data_root(data_dir=values.get("data_dir") or None), resolve_model_path(setting), setting


def retrain_command_line(args) -> str:
    """The exact command, every effective option spelled out (what the registry records)."""
    import shlex

    argv = ["twinboard"] + (["--config", str(args.config)] if getattr(args, "config", None) else [])
    argv += ["smoke", "retrain", "--epochs", str(args.epochs), "--batch", str(args.batch), "--seed", str(args.seed),
             "--min-positives", str(args.min_positives), "--min-negatives", str(args.min_negatives),
             "--min-cameras", str(args.min_cameras)]
    if args.imgsz:
        argv += ["--imgsz", str(args.imgsz)]
    for flag, vals in (("--test-cameras", args.test_cameras), ("--threshold-cameras", args.threshold_cameras)):
        if vals:
            argv += [flag, *vals]
    if args.data_dir:
        argv += ["--data-dir", str(args.data_dir)]
    return shlex.join(argv)


def retrain_options(args) -> dict:
    return {"epochs": args.epochs, "imgsz": args.imgsz or None, "batch": args.batch, "seed": args.seed,
            "test_units": args.test_cameras, "threshold_units": args.threshold_cameras,
            "min_positives": args.min_positives, "min_negatives": args.min_negatives, "min_units": args.min_cameras,
            "command": retrain_command_line(args), "actor": "cli"}


def _learning_context(args):
    from core.api import open_configured_store

    from .examples import data_root

    store = open_configured_store(getattr(args, "config", None))
    root, model, setting = configured_learning(store, getattr(args, "config", None))
    if getattr(args, "data_dir", None):
        root = data_root(data_dir=args.data_dir)
    return store, root, model, setting


def _retrain(args) -> int:
    from .retrain import new_job, run_job

    store, root, model, setting = _learning_context(args)
    opts = retrain_options(args)
    job = new_job(store, opts["command"], "cli", state="queued")
    if args.celery:
        from ..scale import broker_url, celery_app
        if not broker_url() or celery_app is None:
            print("--celery needs TWINBOARD_BROKER_URL (redis://...) and celery installed", file=sys.stderr)
            return 2
        celery_app.send_task("forest_fire.retrain", args=[job, opts, str(args.config) if args.config else None],
                             queue="forest_fire_train")
        print(json.dumps({"job": job, "state": "queued"}) if args.json else f"queued as {job}")
        return 0
    res = run_job(store, root, model, job, configured_setting=setting, **opts)
    res["job"] = job
    if args.json:
        print(json.dumps(res, indent=2))
    elif res["state"] == "done":
        print(f"candidate v{res['version']} registered ({job}); compare and promote it in "
              "/plugins/forest_fire/admin/models"
              + (f"; WORSE than the current model on {', '.join(res['worse_cameras'])}" if res["worse_cameras"] else ""))
    else:
        print(f"{res['state']}: {res['message']}", file=sys.stderr)
    return {"done": 0, "refused": 3}.get(res["state"], 1)


def _models(args) -> int:
    from .registry import Registry

    store, root, model, setting = _learning_context(args)
    reg = Registry(store, root)
    if not reg.versions():
        reg.ensure_base(model, setting, "cli")
    rows = [{"version": m.version, "state": m.state, "path": str(m.path), "sha256": m.props.get("sha256"),
             "parent": m.props.get("parent"), "data_hash": m.props.get("data_hash"),
             "licence": m.props.get("licence"), "command": m.props.get("command"), "created": m.props.get("created"),
             "conf": m.props.get("conf"), "worse_cameras": m.worse_cameras,
             "test_overall": ((m.props.get("metrics") or {}).get("candidate") or {}).get("overall")}
            for m in reg.versions()]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for r in rows:
            f1 = (r["test_overall"] or {}).get("f1")
            print(f"v{r['version']:<3} {r['state']:<11} parent={r['parent']} "
                  f"f1={'-' if f1 is None else f'{f1:.3f}'} {r['path']}")
    return 0


def _examples(args) -> int:
    from .examples import counts, list_examples

    store, root, _, _ = _learning_context(args)
    c = counts(list_examples(store, root))
    if args.json:
        print(json.dumps(c, indent=2))
    else:
        for cam, n in sorted(c.items()):
            print(f"{cam}: {n['smoke']} smoke, {n['no_smoke']} smoke-free")
    return 0


def add_learning_commands(sub) -> None:
    from .retrain import MIN_NEGATIVES, MIN_POSITIVES, MIN_UNITS

    r = sub.add_parser("retrain", help="fine-tune on this site's reviewed examples; registers a candidate model")
    r.add_argument("--epochs", type=int, default=10)
    r.add_argument("--imgsz", type=int, default=0, help="input size (default: the current model's)")
    r.add_argument("--batch", type=int, default=8)
    r.add_argument("--seed", type=int, default=0, help="seeds training and the choice of held-out cameras")
    r.add_argument("--test-cameras", nargs="+", default=None,
                   help="cameras (entity ids, presets together) held out for the test split")
    r.add_argument("--threshold-cameras", nargs="+", default=None,
                   help="cameras held out for choosing the threshold")
    r.add_argument("--min-positives", type=int, default=MIN_POSITIVES, help="refuse with fewer smoke examples")
    r.add_argument("--min-negatives", type=int, default=MIN_NEGATIVES, help="refuse with fewer smoke-free examples")
    r.add_argument("--min-cameras", type=int, default=MIN_UNITS, help="refuse with examples from fewer cameras")
    r.add_argument("--data-dir", type=Path, default=None, help="the learning folder (default: the data_dir setting)")
    r.add_argument("--celery", action="store_true", help="queue it for a `twinboard up --smoke_train 1` worker")
    r.add_argument("--json", action="store_true")
    r.set_defaults(fn=_retrain)
    m = sub.add_parser("models", help="the model registry: versions, states, metrics, data hash, licence, command")
    m.add_argument("--data-dir", type=Path, default=None)
    m.add_argument("--json", action="store_true")
    m.set_defaults(fn=_models)
    x = sub.add_parser("examples", help="the site's labelled examples per camera")
    x.add_argument("--data-dir", type=Path, default=None)
    x.add_argument("--json", action="store_true")
    x.set_defaults(fn=_examples)
