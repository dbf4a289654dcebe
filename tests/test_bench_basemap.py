"""bench/basemap.py runs end to end in its smoke mode and prints the figures issue 14 names."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def test_bench_basemap_quick_prints_the_figures():
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "basemap.py"), "--quick"], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    figures = json.loads(proc.stdout.strip().splitlines()[-1])
    for name in ("basemap_kb", "gis_import_ratio"):
        assert isinstance(figures[name], (int, float)) and figures[name] > 0, figures
