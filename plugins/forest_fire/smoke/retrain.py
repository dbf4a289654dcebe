"""Fine-tune the smoke detector on the site's own labelled examples; the result is a registry candidate.

``retrain`` (behind ``twinboard smoke retrain`` and the Celery task ``forest_fire.retrain``):

1. Refuses unless there are at least ``MIN_POSITIVES`` (20) smoke examples and ``MIN_NEGATIVES`` (20)
   smoke-free ones from at least ``MIN_UNITS`` (3) cameras — the message says what it has and needs.
2. Splits **by camera** (a PTZ camera's presets stay together): ``test`` cameras, used for neither
   training nor threshold choice; ``threshold`` cameras, on which the operating threshold is chosen
   (and ultralytics' own per-epoch validation runs); ``train``, the rest. Chosen by a seeded hash of the
   camera ids until each held-out split has smoke and smoke-free frames, or named with ``test_units`` /
   ``threshold_units``.
3. Fine-tunes from the **current** registry version's weights (``smoke/train.py``, offline, CPU).
4. Picks the candidate's threshold on the threshold split (best image F1 flagging ≤ 10% of smoke-free
   frames), then evaluates the candidate (at that threshold) and the current model (at its own operating
   threshold) on the test split: overall and per camera. A camera where the candidate has a lower F1 or
   flags more smoke-free frames is listed in ``worse_cameras``.
5. Registers the candidate with the metrics, the training data's hash, the licence, the exact command,
   the splits and a few test frames with both models' boxes.

Progress and outcome are kept as a ``smoke_retrain`` job row (queued, running, done, refused, failed) so
/admin shows it from any process.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
import traceback
from pathlib import Path
from typing import Any

from core.api import AuditEntry, Entity, Store

from .examples import Example, camera_slug, list_examples
from .registry import ModelVersion, Registry, models_dir

MIN_POSITIVES = 20
MIN_NEGATIVES = 20
MIN_UNITS = 3
JOB_KIND = "smoke_retrain"
PLUGIN = "forest_fire"
SPLITS = ("train", "threshold", "test")


class RetrainRefused(ValueError):
    """Too few examples, or splits that cannot be made; the message says what is needed."""


# -- splits and data ---------------------------------------------------------------------------------
def check_enough(examples: list[Example], min_positives: int = MIN_POSITIVES, min_negatives: int = MIN_NEGATIVES,
                 min_units: int = MIN_UNITS) -> None:
    pos = sum(1 for x in examples if x.label == "smoke")
    neg = sum(1 for x in examples if x.label == "no_smoke")
    units = len({x.unit for x in examples})
    short = []
    if pos < min_positives:
        short.append(f"{min_positives} smoke examples (have {pos})")
    if neg < min_negatives:
        short.append(f"{min_negatives} smoke-free examples (have {neg})")
    if units < min_units:
        short.append(f"examples from {min_units} cameras (have {units})")
    if short:
        raise RetrainRefused("too few examples to retrain: need at least " + ", ".join(short)
                             + ". Review more alarms, or let the sampler collect smoke-free frames.")


def plan_splits(examples: list[Example], seed: int = 0, test_units: list[str] | None = None,
                threshold_units: list[str] | None = None) -> dict[str, list[Example]]:
    """Examples per split (``train``, ``threshold``, ``test``), whole cameras in each."""
    units = sorted({x.unit for x in examples})
    by_unit = {u: [x for x in examples if x.unit == u] for u in units}
    for name, given in (("test_units", test_units), ("threshold_units", threshold_units)):
        for u in given or []:
            if u not in by_unit:
                raise RetrainRefused(f"{name}: no examples of camera {u!r} (cameras: {', '.join(units)})")
    order = sorted(units, key=lambda u: hashlib.sha256(f"{seed}:{u}".encode()).hexdigest())

    def has_both(xs: list[Example]) -> bool:
        return any(x.label == "smoke" for x in xs) and any(x.label == "no_smoke" for x in xs)

    taken: set[str] = set(test_units or []) | set(threshold_units or [])
    chosen: dict[str, list[str]] = {}
    for split, given in (("test", test_units), ("threshold", threshold_units)):
        if given:
            chosen[split] = list(given)
            continue
        pick: list[str] = []
        for u in order:
            if u in taken:
                continue
            if has_both([x for p in pick for x in by_unit[p]]):
                break
            pick.append(u)
            taken.add(u)
        chosen[split] = pick
    chosen["train"] = [u for u in units if u not in taken]
    out = {s: [x for u in chosen[s] for x in by_unit[u]] for s in SPLITS}
    for s in SPLITS:
        if not has_both(out[s]):
            raise RetrainRefused(f"the {s} split (cameras {', '.join(chosen[s]) or 'none'}) needs smoke and "
                                 f"smoke-free examples; add examples from more cameras or name the splits")
    return out


def data_hash(splits: dict[str, list[Example]]) -> str:
    """sha256 over every example's split, camera, file hash, label and boxes (order-independent)."""
    lines = sorted(f"{s}|{x.camera}|{x.sha256}|{x.label}|{json.dumps(x.boxes)}" for s in SPLITS for x in splits[s])
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def write_yolo(splits: dict[str, list[Example]], out: Path) -> tuple[Path, dict[str, dict[str, Example]]]:
    """YOLO folders ``<out>/<split>/images|labels`` and ``data.yaml``; file name → example per split."""
    if out.exists():
        shutil.rmtree(out)
    index: dict[str, dict[str, Example]] = {}
    for s in SPLITS:
        (out / s / "images").mkdir(parents=True)
        (out / s / "labels").mkdir(parents=True)
        index[s] = {}
        for x in splits[s]:
            stem = f"{camera_slug(x.camera)}__{x.id.rsplit('.', 1)[-1]}"
            shutil.copyfile(x.image, out / s / "images" / f"{stem}.jpg")
            rows = [f"0 {(b[0] + b[2]) / 2:.6f} {(b[1] + b[3]) / 2:.6f} {b[2] - b[0]:.6f} {b[3] - b[1]:.6f}"
                    for b in x.boxes]
            (out / s / "labels" / f"{stem}.txt").write_text("\n".join(rows) + ("\n" if rows else ""))
            index[s][f"{stem}.jpg"] = x
    data_yaml = out / "data.yaml"
    data_yaml.write_text(f"path: {out.resolve()}\ntrain: train/images\nval: threshold/images\nnames:\n  0: smoke\n")
    return data_yaml, index


# -- evaluation --------------------------------------------------------------------------------------
def _r(d: dict[str, Any]) -> dict[str, Any]:
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in d.items()}


def per_camera_metrics(preds: list[Any], cameras: list[str], conf: float) -> dict[str, Any]:
    from .evaluate import ap50, image_metrics

    out = {"overall": _r({**image_metrics(preds, conf), "ap50": ap50(preds), "conf": conf}), "per_camera": {}}
    for cam in sorted(set(cameras)):
        sub = [p for p, c in zip(preds, cameras) if c == cam]
        out["per_camera"][cam] = _r({**image_metrics(sub, conf), "ap50": ap50(sub)})
    return out


def worse_cameras(cand: dict[str, Any], parent: dict[str, Any]) -> list[str]:
    """Cameras where the candidate's F1 is lower or it flags a larger share of smoke-free frames."""
    worse = []
    for cam, c in cand["per_camera"].items():
        p = parent["per_camera"].get(cam)
        if p is None:
            continue
        lower_f1 = c["n_positive"] > 0 and c["f1"] < p["f1"] - 1e-9
        more_flagged = (c["negative_flagged_share"] is not None and p["negative_flagged_share"] is not None
                        and c["negative_flagged_share"] > p["negative_flagged_share"] + 1e-9)
        if lower_f1 or more_flagged:
            worse.append(cam)
    return worse


def _boxes(p: Any, conf: float) -> list[list[float]]:
    keep = p.conf >= conf
    return [[round(float(v), 4) for v in b] + [round(float(c), 3)] for b, c in zip(p.boxes[keep], p.conf[keep])]


def previews(files: list[str], index: dict[str, Example], cand_preds: list[Any], parent_preds: list[Any],
             cand_conf: float, parent_conf: float, dest: Path, n: int = 4) -> list[dict[str, Any]]:
    """A few test frames (smoke first) with the truth and both models' boxes, images copied to ``dest``."""
    import cv2

    order = sorted(range(len(files)), key=lambda i: (index[files[i]].label != "smoke", files[i]))[:n]
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for k, i in enumerate(order):
        x = index[files[i]]
        img = cv2.imread(str(x.image))
        if img is None:
            continue
        h, w = img.shape[:2]
        if w > 480:
            img = cv2.resize(img, (480, int(480 * h / w)), interpolation=cv2.INTER_AREA)
        name = f"preview_{k}.jpg"
        cv2.imwrite(str(dest / name), img, [cv2.IMWRITE_JPEG_QUALITY, 85])
        out.append({"file": name, "camera": x.camera, "label": x.label, "truth": x.boxes,
                    "candidate": _boxes(cand_preds[i], cand_conf), "parent": _boxes(parent_preds[i], parent_conf)})
    return out


# -- the run ---------------------------------------------------------------------------------------
def retrain(store: Store, root: Path, configured_model: Path, *, command: str, actor: str = "system",
            epochs: int = 10, imgsz: int | None = None, batch: int = 8, seed: int = 0,
            test_units: list[str] | None = None, threshold_units: list[str] | None = None,
            min_positives: int = MIN_POSITIVES, min_negatives: int = MIN_NEGATIVES, min_units: int = MIN_UNITS,
            configured_setting: str = "", progress: Any = None) -> ModelVersion:
    """One fine-tuning run (see the module doc). Raises :class:`RetrainRefused` before any training when
    the examples do not suffice."""
    from .evaluate import list_frames, load_model, predict_folder, threshold_from_preds
    from .train import train

    def say(msg: str) -> None:
        if progress is not None:
            progress(msg)

    examples = list_examples(store, root)
    check_enough(examples, min_positives, min_negatives, min_units)
    splits = plan_splits(examples, seed, test_units, threshold_units)
    registry = Registry(store, root)
    parent = registry.ensure_base(configured_model, configured_setting, actor)
    version = registry.next_version()
    work = models_dir(root) / "runs" / f"v{version}"
    data_yaml, index = write_yolo(splits, work / "data")
    parent_meta_imgsz = int(parent.props.get("imgsz") or 0) or None
    size = int(imgsz or parent_meta_imgsz or 416)
    say(f"training v{version} from {parent.name}: {len(splits['train'])} train, {len(splits['threshold'])} "
        f"threshold, {len(splits['test'])} test frames")
    run_dir = train(data_yaml, work, imgsz=size, epochs=epochs, weights=parent.path, name="train",
                    batch=batch, workers=0, seed=seed, cache=False, val=True)
    weights = run_dir / "weights" / "best.pt"
    if not weights.exists():
        weights = run_dir / "weights" / "last.pt"
    say("choosing the threshold and evaluating on the test cameras")
    cand_model = load_model(weights)
    thr_preds, _ = predict_folder(weights, work / "data" / "threshold", imgsz=size, model=cand_model)
    conf, table = threshold_from_preds(thr_preds, max_flagged=0.10)
    at = next(r for r in table if r["conf"] == conf)
    test_dir = work / "data" / "test"
    files = [img.name for img, _ in list_frames(test_dir)]
    cams = [index["test"][f].camera for f in files]
    cand_preds, cand_ms = predict_folder(weights, test_dir, imgsz=size, model=cand_model)
    parent_preds, parent_ms = predict_folder(parent.path, test_dir, imgsz=parent_meta_imgsz)
    cand_m = per_camera_metrics(cand_preds, cams, conf)
    parent_m = per_camera_metrics(parent_preds, cams, parent.conf)
    cand_m["overall"]["ms_per_image"], parent_m["overall"]["ms_per_image"] = round(cand_ms, 2), round(parent_ms, 2)
    worse = worse_cameras(cand_m, parent_m)
    prev_dir = models_dir(root) / f"v{version}"
    props = {
        "parent": parent.version, "conf": conf, "imgsz": size, "epochs": epochs, "batch": batch, "seed": seed,
        "metrics": {"candidate": cand_m, "parent": parent_m, "parent_version": parent.version},
        "worse_cameras": worse, "data_hash": data_hash(splits), "command": command,
        "licence": f"{parent.props.get('licence') or 'unknown'}; fine-tuned on this site's own reviewed "
                   "camera frames",
        "splits": {s: sorted({x.camera for x in splits[s]}) for s in SPLITS},
        "counts": {s: {"smoke": sum(x.label == "smoke" for x in splits[s]),
                       "no_smoke": sum(x.label == "no_smoke" for x in splits[s])} for s in SPLITS},
        "threshold": {"conf": conf, "f1": round(at["f1"], 4),
                      "negative_flagged_share": at["negative_flagged_share"], "meets_fp_aim": at["meets_fp_aim"]},
        "previews": previews(files, index["test"], cand_preds, parent_preds, conf, parent.conf, prev_dir),
        "created": time.time(),
    }
    mv = registry.add_candidate(weights, props, actor, version=version)
    say(f"candidate {mv.name} registered" + (f"; worse on {', '.join(worse)}" if worse else ""))
    return mv


# -- jobs ----------------------------------------------------------------------------------------------
def new_job(store: Store, command: str, actor: str, state: str = "queued") -> str:
    jid = f"forest_fire.retrain.{int(time.time() * 1000)}"
    store.upsert([Entity(id=jid, kind=JOB_KIND, name="smoke retrain", plugin=PLUGIN,
                         properties={"state": state, "command": command, "by": actor, "created": time.time(),
                                     "log": []})],
                 audit=AuditEntry(actor=actor, action="forest_fire.retrain.start", target=jid, new=command))
    return jid


def update_job(store: Store, job_id: str, **fields: Any) -> None:
    e = store.entity(job_id)
    if e is None:
        return
    props = dict(e.properties or {})
    if "log" in fields:
        props["log"] = (list(props.get("log") or []) + [fields.pop("log")])[-20:]
    props.update(fields, updated=time.time())
    store.upsert([Entity(id=e.id, kind=JOB_KIND, name=e.name, plugin=PLUGIN, properties=props)])


def jobs(store: Store, limit: int = 5) -> list[dict[str, Any]]:
    rows = sorted(store.entities(kind=JOB_KIND, plugin=PLUGIN), key=lambda e: e.id, reverse=True)[:limit]
    return [{"id": e.id, **(e.properties or {})} for e in rows]


def run_job(store: Store, root: Path, configured_model: Path, job_id: str, **options: Any) -> dict[str, Any]:
    """Run ``retrain`` as job ``job_id``; returns ``{"state": done|refused|failed, ...}`` (never raises)."""
    update_job(store, job_id, state="running", started=time.time())
    try:
        mv = retrain(store, root, configured_model, progress=lambda m: update_job(store, job_id, log=m), **options)
    except RetrainRefused as exc:
        update_job(store, job_id, state="refused", message=str(exc), finished=time.time())
        return {"state": "refused", "message": str(exc)}
    except Exception as exc:  # noqa: BLE001 - a failed run is recorded for /admin, not lost in a thread
        update_job(store, job_id, state="failed", message=f"{exc.__class__.__name__}: {exc}",
                   traceback=traceback.format_exc()[-4000:], finished=time.time())
        return {"state": "failed", "message": f"{exc.__class__.__name__}: {exc}"}
    update_job(store, job_id, state="done", version=mv.version, finished=time.time(),
               message=f"candidate v{mv.version}")
    return {"state": "done", "version": mv.version, "worse_cameras": mv.worse_cameras}


def retrain_task(job_id: str, options: dict[str, Any], config: str | None = None) -> dict[str, Any]:
    """The Celery task body (``forest_fire.retrain``): the store and folders of the settings file."""
    from core.api import open_configured_store

    from .cli import configured_learning

    store = open_configured_store(config)
    root, model, setting = configured_learning(store, config)
    return run_job(store, root, model, job_id, configured_setting=setting, **options)
