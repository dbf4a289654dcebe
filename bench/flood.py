"""Benchmarks of issue 6 (run from the repository root): .venv/bin/python plugins/flood_defence/bench.py [--quick]

* inundation_ratio: the connected bathtub on a 1000×1000 DEM, as a ratio to scipy.ndimage.label of the same
  grid's below-level mask, in the same run (median of repeats; aim <= 5).
* warning_pass_ms: one warning evaluation pass (spike masking + colour per station) over 1,000 stations ×
  24 hours of 5-minute data.

Last line: {"inundation_ratio": ..., "bathtub_ms": ..., "label_ms": ..., "warning_pass_ms": ...}
"""

from __future__ import annotations

import argparse
import importlib
import json
import statistics
import sys
import time
import types
from pathlib import Path

import numpy as np
from scipy import ndimage

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _fd(module: str) -> types.ModuleType:
    """A module of the flood_defence plugin, imported the way the host imports plugin folders."""
    from core.plugins.manager import _import_folder
    _import_folder(ROOT / "plugins" / "flood_defence")
    return importlib.import_module(f"twinboard_plugins.flood_defence.{module}")


def timed(fn, repeats: int) -> float:
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return statistics.median(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--size", type=int, default=1000)
    args = ap.parse_args(argv)
    inu, wn = _fd("inundation"), _fd("warnings")
    n = args.size
    rng = np.random.default_rng(6)
    coarse = rng.normal(0, 1, (n // 25 + 2, n // 25 + 2))
    z = (3.0 + 2.0 * ndimage.zoom(coarse, n / (coarse.shape[0] - 1), order=1)[:n, :n]).astype(np.float32)
    z[:, : n // 50] = -5.0                              # the sea along the west edge
    sources = np.zeros(z.shape, bool)
    sources[:, : n // 50] = True
    valid = np.isfinite(z)
    level = 3.5
    repeats = 3 if args.quick else 9
    label_s = timed(lambda: ndimage.label(z < level), repeats)
    bath_s = timed(lambda: inu.bathtub(z, level, sources, valid), repeats)
    flooded = float((inu.bathtub(z, level, sources, valid) > 0).mean())

    stations, samples = 1000, 288
    t = np.arange(samples) * 300.0
    levels = 2.0 + 0.5 * np.sin(t / 20000.0)[None, :] + rng.normal(0, 0.02, (stations, samples))
    levels[::50, 100] += 3.0                           # spikes
    th = [wn.Thresholds(2.4 + (i % 7) * 0.05, 3.0, 3.6) for i in range(stations)]
    pass_s = timed(lambda: wn.evaluate_pass(levels, t, th), repeats)
    res = {"inundation_ratio": round(bath_s / label_s, 2), "bathtub_ms": round(bath_s * 1000, 1),
           "label_ms": round(label_s * 1000, 1), "grid": f"{n}x{n}", "flooded_share": round(flooded, 3),
           "warning_pass_ms": round(pass_s * 1000, 2), "stations": stations, "samples": samples}
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
