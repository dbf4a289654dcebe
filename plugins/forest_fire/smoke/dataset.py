"""Assemble the smoke detector's YOLO dataset under ``var/smoke/dataset``.

Layout written::

    <out>/train/images, <out>/train/labels   real frames of the training units (symlinks),
                                             the same frames with their smoke removed,
                                             smoke-free crops, synthetic plumes and synthetic
                                             hard negatives
    <out>/val/images,   <out>/val/labels     real frames of the held-out units, the same frames
                                             with their smoke removed, smoke-free crops of
                                             them, a few synthetic hard negatives
    <out>/data.yaml                          for ultralytics
    <out>/split.json                         units, counts, seeds (what was built, and how)

Validation holds out whole *scene units* (camera views): frames of one unit are
near-duplicates of each other, so a random split would leak.  The unit of each
image comes from ``manifest.csv`` (columns ``file``, ``label``, ``scene_unit``)
in the source folder.  For a user's own cameras without a manifest, put the
frames in ``images/<camera>/...`` (labels in ``labels/<camera>/...``): the
sub-folder name is then the unit.

Real images are symlinked (copied if symlinks fail) into ``var/``, which is
git-ignored: the shared images and labels never enter the repository.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .synth import read_yolo_boxes, smoke_free_crop, synth
from .transplant import remove_smoke

DEFAULT_VAL_UNITS = ("U7", "U12")
#: the fixed three-way split by scene unit (issue 17).  The shipped weights trained on every unit but
#: U7 and U12, so those two are the only honest held-out cameras: U12 chooses the operating
#: threshold, U7 is the test split the model card reports.  Never train or tune on the test unit.
DEFAULT_THRESHOLD_UNITS = ("U12",)
DEFAULT_TEST_UNITS = ("U7",)


@dataclass(frozen=True)
class Item:
    image: Path
    label: Path
    unit: str


def load_items(source: Path) -> list[Item]:
    """Images of a YOLO-layout source folder with their scene unit."""
    source = Path(source)
    manifest = source / "manifest.csv"
    items: list[Item] = []
    if manifest.exists():
        with manifest.open(newline="") as f:
            for row in csv.DictReader(f):
                img = source / row["file"]
                lab = source / row["label"] if row.get("label") else source / "labels" / (img.stem + ".txt")
                items.append(Item(img, lab, row["scene_unit"]))
    else:
        img_root = source / "images"
        for img in sorted(img_root.rglob("*")):
            if img.suffix.lower() not in {".jpg", ".jpeg", ".png", ".bmp"}:
                continue
            rel = img.relative_to(img_root)
            unit = rel.parts[0] if len(rel.parts) > 1 else "default"
            items.append(Item(img, source / "labels" / rel.with_suffix(".txt"), unit))
    return items


def split_by_unit(items: list[Item], val_units) -> tuple[list[Item], list[Item]]:
    """Whole units go to val; everything else to train.  Never splits a unit."""
    val_units = set(val_units)
    known = {it.unit for it in items}
    missing = val_units - known
    if missing:
        raise ValueError(f"validation units not in the source: {sorted(missing)} (known: {sorted(known)})")
    train = [it for it in items if it.unit not in val_units]
    val = [it for it in items if it.unit in val_units]
    return train, val


def split_three(items: list[Item], threshold_units=DEFAULT_THRESHOLD_UNITS,
                test_units=DEFAULT_TEST_UNITS) -> dict[str, list[Item]]:
    """``{"train", "threshold", "test"}``: whole scene units per split, never one unit in two.

    Raises ``ValueError`` naming the unit when a unit is asked for in both held-out splits or is
    not in the source, so a mistyped split cannot silently leak a camera into training.
    """
    thr, test = set(threshold_units), set(test_units)
    both = thr & test
    if both:
        raise ValueError(f"scene unit(s) {sorted(both)} asked for in both the threshold and the test split")
    known = {it.unit for it in items}
    missing = (thr | test) - known
    if missing:
        raise ValueError(f"scene units not in the source: {sorted(missing)} (known: {sorted(known)})")
    return {"train": [it for it in items if it.unit not in thr | test],
            "threshold": [it for it in items if it.unit in thr],
            "test": [it for it in items if it.unit in test]}


def build_eval_split(items: list[Item], out_dir: Path, n_bg: int = -1, seed: int = 0) -> dict:
    """An evaluation folder for held-out units: their real frames, the same frames with the smoke
    removed, and smoke-free crops of them (``n_bg``: -1 = one per real frame).  Negatives come only
    from the split's own frames.  File names start with ``<unit>__`` (per-camera figures)."""
    out_dir = Path(out_dir)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    for sub in ("images", "labels"):
        (out_dir / sub).mkdir(parents=True, exist_ok=True)
    _write_real(items, out_dir)
    n_rm = _write_removed(items, out_dir, -1, seed)
    n_bg_w = _write_bg_crops(items, out_dir, len(items) if n_bg < 0 else n_bg, seed)
    summary = {**_count(out_dir), "real": len(items), "smoke_removed": n_rm, "bg_crops": n_bg_w,
               "units": dict(sorted(Counter(it.unit for it in items).items())), "seed": seed}
    (out_dir / "split.json").write_text(json.dumps(summary, indent=2))
    return summary


def _link(src: Path, dst: Path) -> None:
    if dst.exists() or dst.is_symlink():
        dst.unlink()
    try:
        os.symlink(src.resolve(), dst)
    except OSError:
        shutil.copyfile(src, dst)


def _safe_name(it: Item) -> str:
    return f"{it.unit}__{it.image.stem}"


def _write_real(items: list[Item], split_dir: Path) -> int:
    for it in items:
        name = _safe_name(it)
        _link(it.image, split_dir / "images" / f"{name}{it.image.suffix.lower()}")
        text = it.label.read_text() if it.label.exists() else ""
        (split_dir / "labels" / f"{name}.txt").write_text(text)
    return len(items)


def _write_bg_crops(items: list[Item], split_dir: Path, n: int, seed: int) -> int:
    """Smoke-free crops of real frames (empty labels): the real-scene negatives."""
    if not items or n <= 0:
        return 0
    rng = np.random.default_rng([seed, 7])
    order = rng.permutation(len(items))
    written = 0
    for k in range(n * 3):
        if written >= n:
            break
        it = items[int(order[k % len(items)])]
        img = cv2.imread(str(it.image), cv2.IMREAD_COLOR)
        if img is None:
            continue
        boxes = read_yolo_boxes(it.label, img.shape[1], img.shape[0])
        crop = smoke_free_crop(img, boxes, rng, min_frac=0.3)
        if crop is None:
            continue
        name = f"bgcrop_{_safe_name(it)}_{k:04d}"
        cv2.imwrite(str(split_dir / "images" / f"{name}.jpg"), crop, [cv2.IMWRITE_JPEG_QUALITY, 92])
        (split_dir / "labels" / f"{name}.txt").write_text("")
        written += 1
    return written


def _write_removed(items: list[Item], split_dir: Path, n: int, seed: int) -> int:
    """Full real frames with their smoke removed (empty labels): negatives that look like the positives."""
    if not items or n == 0:
        return 0
    rng = np.random.default_rng([seed, 11])
    order = rng.permutation(len(items))
    chosen = [items[int(i)] for i in order[: (len(items) if n < 0 else min(n, len(items)))]]
    written = 0
    for it in chosen:
        img = cv2.imread(str(it.image), cv2.IMREAD_COLOR)
        if img is None:
            continue
        boxes = read_yolo_boxes(it.label, img.shape[1], img.shape[0])
        if not boxes:
            continue
        name = f"nosmoke_{_safe_name(it)}"
        cv2.imwrite(str(split_dir / "images" / f"{name}.jpg"), remove_smoke(img, boxes, rng),
                    [cv2.IMWRITE_JPEG_QUALITY, 92])
        (split_dir / "labels" / f"{name}.txt").write_text("")
        written += 1
    return written


def _count(split_dir: Path) -> dict:
    labs = list((split_dir / "labels").glob("*.txt"))
    pos = sum(1 for p in labs if p.read_text().strip())
    boxes = sum(len([ln for ln in p.read_text().splitlines() if ln.strip()]) for p in labs)
    return {"images": len(labs), "positive": pos, "negative": len(labs) - pos, "boxes": boxes}


def build_dataset(source: Path, out_dir: Path, val_units=DEFAULT_VAL_UNITS, n_synth_pos: int = 220,
                  n_synth_neg: int = 140, n_bg_train: int = 120, n_synth_neg_val: int = 30,
                  n_bg_val: int = 30, n_removed_train: int = -1, n_removed_val: int = -1,
                  seed: int = 0, clean: bool = True, test_units=()) -> dict:
    """Build train/val under ``out_dir`` and return the summary written to ``split.json``.

    ``n_removed_*``: real frames with their smoke removed (-1: one per real frame), see ``transplant``.
    ``test_units``: scene units left out of both train and val (the test split of ``split_three``), so
    the validation that picks the best epoch never sees them; ``ValueError`` if one is also a val unit
    or is not in the source.
    """
    source, out_dir = Path(source), Path(out_dir)
    if clean and out_dir.exists():
        shutil.rmtree(out_dir)
    for split in ("train", "val"):
        for sub in ("images", "labels"):
            (out_dir / split / sub).mkdir(parents=True, exist_ok=True)
    items = load_items(source)
    if test_units:
        items = split_three(items, threshold_units=val_units, test_units=test_units)
        items = items["train"] + items["threshold"]
    train, val = split_by_unit(items, val_units)
    _write_real(train, out_dir / "train")
    _write_real(val, out_dir / "val")
    n_bg_t = _write_bg_crops(train, out_dir / "train", n_bg_train, seed)
    n_bg_v = _write_bg_crops(val, out_dir / "val", n_bg_val, seed + 1)
    n_rm_t = _write_removed(train, out_dir / "train", n_removed_train, seed)
    n_rm_v = _write_removed(val, out_dir / "val", n_removed_val, seed + 1)
    # synthetic data: backgrounds come only from the split's own units, so no val scene leaks into train
    synth_train = synth(out_dir / "train", n_synth_pos, n_synth_neg, backgrounds=[it.image for it in train],
                        seed=seed, prefix="syn")
    synth_val = synth(out_dir / "val", 0, n_synth_neg_val, backgrounds=[it.image for it in val],
                      seed=seed + 1000, prefix="synval")
    data_yaml = out_dir / "data.yaml"
    data_yaml.write_text(
        f"# written by plugins/forest_fire/smoke/dataset.py\npath: {out_dir.resolve()}\n"
        "train: train/images\nval: val/images\nnames:\n  0: smoke\n"
    )
    summary = {
        "source": str(source.resolve()),
        "seed": seed,
        "val_units": sorted(set(val_units)),
        "test_units_left_out": sorted(set(test_units)),
        "train_units": dict(sorted(Counter(it.unit for it in train).items())),
        "val_units_counts": dict(sorted(Counter(it.unit for it in val).items())),
        "train": {**_count(out_dir / "train"), "real": len(train), "bg_crops": n_bg_t,
                  "smoke_removed": n_rm_t,
                  "synth_pos": synth_train["positives"], "synth_neg": synth_train["negatives"]},
        "val": {**_count(out_dir / "val"), "real": len(val), "bg_crops": n_bg_v, "smoke_removed": n_rm_v,
                "synth_neg": synth_val["negatives"]},
        "data_yaml": str(data_yaml),
    }
    (out_dir / "split.json").write_text(json.dumps(summary, indent=2))
    return summary
