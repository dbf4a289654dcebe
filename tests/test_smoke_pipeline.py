"""Smoke detector pipeline (plugins/forest_fire/smoke): synthetic data, unit split,
evaluation and offline inference.  No training; self-contained (no shared data)."""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
PKG_DIR = ROOT / "plugins" / "forest_fire" / "smoke"
WEIGHTS = ROOT / "twin_models" / "forest_fire" / "smoke_yolo11n.pt"
PKG = "twinboard_test_smoke"


def _load_pkg():
    """Load plugins/forest_fire/smoke as a package without touching sys.path (it uses relative imports)."""
    if PKG in sys.modules:
        return sys.modules[PKG]
    spec = importlib.util.spec_from_file_location(PKG, PKG_DIR / "__init__.py",
                                                  submodule_search_locations=[str(PKG_DIR)])
    mod = importlib.util.module_from_spec(spec)
    sys.modules[PKG] = mod
    spec.loader.exec_module(mod)
    return mod


def _sub(name: str):
    _load_pkg()
    return importlib.import_module(f"{PKG}.{name}")


def _check_label_file(path: Path) -> int:
    lines = [ln for ln in path.read_text().splitlines() if ln.strip()]
    for ln in lines:
        parts = ln.split()
        assert len(parts) == 5 and parts[0] == "0", ln
        cx, cy, w, h = map(float, parts[1:])
        assert 0 < w <= 1 and 0 < h <= 1, ln
        assert cx - w / 2 >= -1e-6 and cx + w / 2 <= 1 + 1e-6, ln
        assert cy - h / 2 >= -1e-6 and cy + h / 2 <= 1 + 1e-6, ln
    return len(lines)


def _fake_source(root: Path, units: dict[str, int]) -> Path:
    """Tiny YOLO source with manifest.csv: noise frames, one box each."""
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    rng = np.random.default_rng(0)
    rows = []
    for unit, n in units.items():
        for i in range(n):
            name = f"f_{unit}_{i}"
            img = rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)
            cv2.imwrite(str(root / "images" / f"{name}.jpg"), img)
            (root / "labels" / f"{name}.txt").write_text("0 0.800000 0.200000 0.100000 0.100000\n")
            rows.append({"file": f"images/{name}.jpg", "label": f"labels/{name}.txt", "scene_unit": unit})
    with (root / "manifest.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["file", "label", "scene_unit"])
        w.writeheader()
        w.writerows(rows)
    return root


def test_synth_is_deterministic_and_labels_are_valid(tmp_path):
    synth = _sub("synth")
    bg = _fake_source(tmp_path / "bg", {"A": 2})
    a = synth.synth(tmp_path / "a", 3, 4, bg, seed=7)
    b = synth.synth(tmp_path / "b", 3, 4, bg, seed=7)
    assert a == b and a["positives"] == 3 and a["negatives"] == 4
    files_a = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file())
    assert files_a == files_b and len(files_a) == 14
    for rel in files_a:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel
    for lab in (tmp_path / "a" / "labels").glob("*.txt"):
        n = _check_label_file(lab)
        assert (n >= 1) if "_pos_" in lab.name else (n == 0), lab.name
        img = cv2.imread(str(tmp_path / "a" / "images" / (lab.stem + ".jpg")))
        assert img is not None and img.shape == (480, 640, 3)
    c = synth.synth(tmp_path / "c", 3, 0, bg, seed=8)
    assert c["positives"] == 3
    assert (tmp_path / "c" / "images" / "syn_pos_8_00000.jpg").read_bytes() != \
        (tmp_path / "a" / "images" / "syn_pos_7_00000.jpg").read_bytes()


def test_dataset_never_splits_a_scene_unit(tmp_path):
    dataset = _sub("dataset")
    src = _fake_source(tmp_path / "src", {"U1": 4, "U2": 3, "U3": 2, "U4": 2})
    summary = dataset.build_dataset(src, tmp_path / "ds", val_units=["U2", "U4"], n_synth_pos=2, n_synth_neg=2,
                                    n_bg_train=2, n_synth_neg_val=1, n_bg_val=1, seed=3)
    assert set(summary["val_units_counts"]) == {"U2", "U4"}
    assert set(summary["train_units"]) == {"U1", "U3"}

    def real_units(split):
        return {p.name.split("__")[0] for p in (tmp_path / "ds" / split / "images").iterdir() if "__" in p.name
                and not p.name.startswith(("bgcrop_", "nosmoke_"))}

    def crop_units(split):
        return {p.name[len("bgcrop_"):].split("__")[0] for p in (tmp_path / "ds" / split / "images").iterdir()
                if p.name.startswith("bgcrop_")}

    assert real_units("train") == {"U1", "U3"} and real_units("val") == {"U2", "U4"}
    # every real frame also comes back with its smoke removed, as a negative of its own split
    for split, units in (("train", {"U1", "U3"}), ("val", {"U2", "U4"})):
        removed = sorted((tmp_path / "ds" / split / "labels").glob("nosmoke_*.txt"))
        assert len(removed) == summary[split]["real"] == summary[split]["smoke_removed"]
        assert {p.stem[len("nosmoke_"):].split("__")[0] for p in removed} == units
        assert all(p.read_text() == "" for p in removed)
    assert crop_units("train") <= {"U1", "U3"} and crop_units("val") <= {"U2", "U4"}
    assert summary["train"]["real"] == 6 and summary["val"]["real"] == 5
    for split in ("train", "val"):
        imgs = {p.stem for p in (tmp_path / "ds" / split / "images").iterdir()}
        labs = {p.stem for p in (tmp_path / "ds" / split / "labels").glob("*.txt")}
        assert imgs == labs
        for lab in (tmp_path / "ds" / split / "labels").glob("*.txt"):
            _check_label_file(lab)
    text = (tmp_path / "ds" / "data.yaml").read_text()
    assert "train: train/images" in text and "val: val/images" in text and "0: smoke" in text
    with pytest.raises(ValueError):
        dataset.split_by_unit(dataset.load_items(src), ["U9"])


def test_remove_smoke_covers_the_box_from_the_same_rows_and_leaves_the_rest():
    transplant = _sub("transplant")
    rng = np.random.default_rng(0)
    img = np.zeros((120, 160, 3), np.uint8)
    img[:60] = (200, 150, 100)  # sky
    img[60:] = (40, 90, 60)     # hills
    img[30:50, 70:90] = 255     # the "smoke", in the sky
    out = transplant.remove_smoke(img, [(70, 30, 90, 50)], rng)
    assert out.shape == img.shape
    assert np.abs(out[30:50, 70:90].astype(int) - (200, 150, 100)).max() <= 2  # now sky, like its row
    assert np.array_equal(out[80:], img[80:]) and np.array_equal(out[:, :50], img[:, :50])  # far pixels untouched
    assert np.array_equal(img[30:50, 70:90], np.full((20, 20, 3), 255, np.uint8))  # input not modified
    # a box as wide as the frame has no donor beside it: inpainted instead
    wide = img.copy()
    wide[30:50, :] = 255
    out = transplant.remove_smoke(wide, [(0, 30, 160, 50)], rng)
    assert out[40, 80].mean() < 240


def test_threshold_respects_the_false_positive_aim():
    ev = _sub("evaluate")
    FP = ev.FramePred
    gt, none = np.array([[0.1, 0.1, 0.3, 0.3]]), np.zeros((0, 4))
    box = np.array([[0.1, 0.1, 0.3, 0.3]])
    # 10 smoke frames with conf 0.3..0.75; 10 smoke-free frames, three with a box at 0.4 / 0.5 / 0.6
    preds = [FP(gt, box, np.array([0.3 + 0.05 * i])) for i in range(10)]
    preds += [FP(none, box, np.array([c])) for c in (0.4, 0.5, 0.6)] + [FP(none, none, np.zeros(0))] * 7
    free, _ = ev.threshold_from_preds(preds)
    limited, table = ev.threshold_from_preds(preds, max_flagged=0.10)
    assert free < limited
    row = next(r for r in table if r["conf"] == limited)
    assert row["meets_fp_aim"] and row["negative_flagged_share"] <= 0.10
    assert ev.image_metrics(preds, limited)["negative_flagged_share"] <= 0.10
    # no threshold can meet an impossible aim: best F1 overall, marked as missing it
    impossible, table = ev.threshold_from_preds([FP(none, box, np.array([0.95]))] + preds, max_flagged=0.0)
    assert not next(r for r in table if r["conf"] == impossible)["meets_fp_aim"]


def test_metrics_on_known_predictions():
    ev = _sub("evaluate")
    FP = ev.FramePred
    gt = np.array([[0.1, 0.1, 0.3, 0.3]])
    none = np.zeros((0, 4))
    preds = [
        FP(gt, np.array([[0.1, 0.1, 0.3, 0.3]]), np.array([0.9])),   # hit
        FP(gt, np.array([[0.6, 0.6, 0.8, 0.8]]), np.array([0.2])),   # wrong place, low conf
        FP(none, np.array([[0.5, 0.5, 0.7, 0.7]]), np.array([0.6])),  # false alarm
        FP(none, none, np.zeros(0)),                                  # clean negative
    ]
    m = ev.image_metrics(preds, 0.5)
    assert (m["tp"], m["fp"], m["fn"]) == (1, 1, 1)
    assert m["precision"] == 0.5 and m["recall"] == 0.5 and m["fp_per_negative_image"] == 0.5
    assert m["negative_flagged_share"] == 0.5
    assert m["localized_recall"] == 0.5
    assert ev.image_metrics(preds, 0.1)["recall"] == 1.0 and ev.image_metrics(preds, 0.1)["localized_recall"] == 0.5
    assert ev.ap50(preds) == pytest.approx(0.5)
    assert ev.ap50([FP(gt, gt.copy(), np.array([0.7]))]) == pytest.approx(1.0)
    conf, table = ev.threshold_from_preds(preds)
    assert 0 < conf < 1 and len(table) > 10


def test_cli_parses_smoke_commands():
    cli = _sub("cli")
    parser = argparse.ArgumentParser(prog="twinboard")
    cli.add_smoke_commands(parser.add_subparsers(dest="command"))
    a = parser.parse_args(["smoke", "eval", "some/dir", "--json", "--conf", "0.3"])
    assert a.fn.__name__ == "_eval" and a.json and a.conf == 0.3 and a.data_dir == Path("some/dir")
    a = parser.parse_args(["smoke", "train", "--data", "d", "--epochs", "3", "--imgsz", "320", "--time", "0.5",
                           "--resume"])
    assert a.fn.__name__ == "_train" and a.epochs == 3 and a.imgsz == 320 and a.time == 0.5 and a.resume
    for argv in (["smoke", "synth", "out"], ["smoke", "dataset"], ["smoke", "threshold", "d"]):
        assert callable(parser.parse_args(argv).fn)


@pytest.mark.skipif(not WEIGHTS.exists(), reason="shipped smoke weights not present")
def test_evaluate_shipped_model_on_synthetic_fixture(tmp_path):
    synth, ev = _sub("synth"), _sub("evaluate")
    synth.synth(tmp_path / "fx", 3, 3, None, seed=11)
    res = ev.evaluate(WEIGHTS, tmp_path / "fx", conf=0.25)
    for key in ("precision", "recall", "f1", "ap50", "fp_per_negative_image", "ms_per_image"):
        assert key in res
    for key in ("precision", "recall", "f1", "ap50"):
        assert 0.0 <= res[key] <= 1.0, (key, res[key])
    assert res["fp_per_negative_image"] >= 0 and res["ms_per_image"] > 0
    assert res["n_images"] == 6 and res["n_positive"] == 3 and res["n_negative"] == 3


def test_offline_model_load_and_predict_opens_no_connection(tmp_path):
    """Fresh interpreter: sockets raise on connect/resolve; apply offline settings, import
    ultralytics, load the model (shipped weights, else the yolo11n yaml) and predict."""
    script = textwrap.dedent(f"""
        import importlib.util, json, socket, sys
        attempts = []
        def deny(*a, **k):
            attempts.append(repr(a)[:200])
            raise OSError("network disabled by test")
        socket.socket.connect = deny
        socket.socket.connect_ex = deny
        socket.create_connection = deny
        socket.getaddrinfo = deny
        spec = importlib.util.spec_from_file_location("smk", {str(PKG_DIR / '__init__.py')!r},
                                                      submodule_search_locations=[{str(PKG_DIR)!r}])
        mod = importlib.util.module_from_spec(spec); sys.modules["smk"] = mod; spec.loader.exec_module(mod)
        from smk.offline import make_ultralytics_offline
        make_ultralytics_offline({str(tmp_path / 'ucfg')!r})
        import numpy as np
        from ultralytics import YOLO
        import ultralytics.utils as uu
        weights = {str(WEIGHTS)!r}
        import os
        model = YOLO(weights if os.path.exists(weights) else "yolo11n.yaml")
        img = (np.random.default_rng(0).random((480, 640, 3)) * 255).astype("uint8")
        r = model.predict(img, imgsz=320, conf=0.1, verbose=False, device="cpu")
        from ultralytics.utils.checks import check_font
        fonts = [str(check_font("Arial.ttf")), str(check_font("Arial.Unicode.ttf"))]
        print(json.dumps({{"fonts": fonts, "attempts": attempts, "online": uu.ONLINE, "sync": uu.SETTINGS["sync"],
                          "n": len(r)}}))
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["attempts"] == [], out
    assert out["online"] is False and out["sync"] is False and out["n"] == 1
    assert all(f.startswith(str(tmp_path / "ucfg")) for f in out["fonts"]), out["fonts"]


def test_dataset_leaves_the_test_units_out_of_train_and_val(tmp_path):
    """Issue 17: the weights of 2026-12-04 were trained with the test unit in neither split."""
    dataset = _sub("dataset")
    src = _fake_source(tmp_path / "src", {"U1": 3, "U2": 2, "U3": 2})
    summary = dataset.build_dataset(src, tmp_path / "ds", val_units=["U2"], test_units=["U3"], n_synth_pos=1,
                                    n_synth_neg=1, n_bg_train=1, n_synth_neg_val=1, n_bg_val=1, seed=3)
    assert summary["test_units_left_out"] == ["U3"]
    assert set(summary["train_units"]) == {"U1"} and set(summary["val_units_counts"]) == {"U2"}
    names = [p.name for split in ("train", "val") for p in (tmp_path / "ds" / split / "images").iterdir()]
    assert not [n for n in names if "U3__" in n]
    with pytest.raises(ValueError, match="U2"):
        dataset.build_dataset(src, tmp_path / "ds2", val_units=["U2"], test_units=["U2"])
