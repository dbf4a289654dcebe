"""bench/serve.py runs end to end in its smoke mode: recording (or its cache), the three servers, the figures.

No figure is judged here (a shared 2-core machine makes timings noise); only that each is measured."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
@pytest.mark.browser
def test_bench_serve_quick_prints_the_figures():
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "serve.py"), "--quick"], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    for name in ("serve_scaling", "walls_per_core", "p95_ms", "devserver_p95_ms"):
        assert isinstance(res[name], (int, float)) and not isinstance(res[name], bool), (name, res.get(name))
    assert res["quick"] is True
    assert res["requests"] > 0 and res["callbacks_per_min_per_wall"] > 0
    assert isinstance(res["errors"], int)
