"""Benchmarks must not rot (issue 18, item 14): every ``bench/*.py`` runs in its ``--quick`` mode and its last
stdout line is one JSON object holding the figures its issue names.

``BENCHES`` is the table: bench file → the figures its last line must hold (names from the bench's docstring),
each with what it must be. A bench already run by another test is listed with that test instead, so no bench
runs twice in the suite. A new ``bench/*.py`` without an entry fails ``test_every_bench_has_an_entry``: add
one (or, for a helper module that is not a benchmark, a line in ``NOT_BENCHMARKS``).

Quick modes are smoke runs (small sizes, seconds): their figures are checked to be measured, never judged
(a shared machine makes timings noise).
"""

from __future__ import annotations

import ast
import json
import math
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"

#: what a figure must be
POSITIVE = "a number > 0"
COUNT = "a whole number >= 0"        # e.g. false alerts: 0 is the good value
NUMBER = "a finite number"           # e.g. a memory delta, which a tiny quick run may measure as 0
BOOL = "a bool"


@dataclass(frozen=True)
class Run:
    """Run ``bench/<file> --quick`` here and check these figures of its last line."""

    figures: dict[str, str]
    browser: bool = False                  # drives a real headless Chromium
    needs: tuple[str, ...] = ()            # "mosquitto"


@dataclass(frozen=True)
class RunElsewhere:
    """This bench's quick mode already runs in another test (which checks its figures): not run here."""

    test: str                              # tests/<file>.py


BENCHES: dict[str, Run | RunElsewhere] = {
    "basemap.py": RunElsewhere("tests/test_bench_basemap.py"),
    "serve.py": RunElsewhere("tests/test_bench_serve.py"),
    "flood.py": RunElsewhere("tests/test_flood_plans.py"),
    "chemical_park.py": Run({"plume_ratio": POSITIVE, "update_share": POSITIVE, "merged_ok": BOOL}),
    # three served instances (street → district → city), the city killed and started again mid-run
    "federation.py": Run({"delivered_exactly_once": BOOL, "federation_events_per_s": POSITIVE,
                          "bare_events_per_s": POSITIVE, "federation_ratio": POSITIVE}),
    "forest_fire.py": Run({"pipeline_ratio": POSITIVE, "fps": POSITIVE, "mb_per_camera": NUMBER, "temporal": BOOL}),
    # alert_within_3_frames needs the training set's held-out units (var/smoke/dataset/val, not in the repository)
    "forest_fire_alerts.py": Run({"smoke_sequences": COUNT, "smoke_free_sequences": POSITIVE,
                                  "false_alert_sequences": COUNT, "alerted_within_3_frames": COUNT,
                                  "false_alert_sequences_after_review": COUNT}),
    # a served twinboard with enterprise_park, whose demo broker needs mosquitto
    "grassroots.py": Run({"patrol_p95_ms": POSITIVE, "bare_p95_ms": POSITIVE, "patrol_ratio": POSITIVE},
                         needs=("mosquitto",)),
    "incident_switch.py": Run({"incident_switch_ms": POSITIVE, "runs": POSITIVE}, browser=True),
    "ingest.py": Run({"ingest_ratio": POSITIVE, "store_rows_per_s": POSITIVE, "raw_rows_per_s": POSITIVE}),
    "isochrone.py": Run({"isochrone_ratio": POSITIVE}),
    "latest.py": Run({"latest_ratio": POSITIVE, "latest_ms": POSITIVE, "handwritten_ms": POSITIVE}),
    "layout.py": Run({"layout_ratio": POSITIVE, "twinboard_us": POSITIVE, "handwritten_us": POSITIVE}),
    "mqtt.py": Run({"mqtt_ratio": POSITIVE, "mqtt_ratio_min": POSITIVE, "mqtt_ratio_max": POSITIVE,
                    "rounds": POSITIVE, "cpu_ratio": POSITIVE, "complete": BOOL}, needs=("mosquitto",)),
    "soak.py": Run({"server_rss_mb_start": POSITIVE, "server_rss_mb_end": POSITIVE,
                    "js_heap_mb_start": POSITIVE, "js_heap_mb_end": POSITIVE}, browser=True),
}

#: modules in bench/ that are not benchmarks
NOT_BENCHMARKS = {"liveserver.py": "what the browser benchmarks share (Chromium flags, a server on a free port)"}

#: whole seconds one quick run may take before the test gives up on it (a loaded 2-core machine)
TIMEOUT_S = 600


def figure_problem(value: object, kind: str) -> str | None:
    """Why ``value`` is not ``kind``, or None when it is."""
    if kind == BOOL:
        return None if isinstance(value, bool) else f"{value!r} is not {kind}"
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return f"{value!r} is not {NUMBER}"
    if kind == POSITIVE and not value > 0:
        return f"{value!r} is not {kind}"
    if kind == COUNT and (not isinstance(value, int) or value < 0):
        return f"{value!r} is not {kind}"
    return None


def bench_files() -> list[str]:
    return sorted(p.name for p in BENCH.glob("*.py"))


def test_every_bench_has_an_entry():
    missing = [f for f in bench_files() if f not in BENCHES and f not in NOT_BENCHMARKS]
    assert not missing, (
        f"bench/{', bench/'.join(missing)} has no entry in BENCHES of tests/test_benchmarks_quick.py: add the "
        "figures its last JSON line must hold (the names its issue and docstring give), give it a --quick mode "
        "(small sizes, seconds), or list it in NOT_BENCHMARKS if it is a helper, not a benchmark")
    gone = [f for f in [*BENCHES, *NOT_BENCHMARKS] if not (BENCH / f).is_file()]
    assert not gone, f"the table lists bench files that do not exist: {gone}"
    assert not set(BENCHES) & set(NOT_BENCHMARKS)


@pytest.mark.parametrize("name", sorted(f for f, e in BENCHES.items() if isinstance(e, Run)))
def test_bench_documents_its_figures_and_quick_mode(name):
    """The table follows the bench: its docstring names every figure checked, and it has --quick."""
    source = (BENCH / name).read_text(encoding="utf-8")
    doc = ast.get_docstring(ast.parse(source)) or ""
    entry = BENCHES[name]
    assert isinstance(entry, Run)
    undocumented = [f for f in entry.figures if f not in doc]
    assert not undocumented, f"bench/{name}'s docstring does not name {undocumented}"
    assert '"--quick"' in source, f"bench/{name} has no --quick mode"


@pytest.mark.parametrize("name", sorted(f for f, e in BENCHES.items() if isinstance(e, RunElsewhere)))
def test_bench_run_elsewhere_is_run_there(name):
    """A bench skipped here is really run, in quick mode, by the test the table names."""
    entry = BENCHES[name]
    assert isinstance(entry, RunElsewhere)
    test = ROOT / entry.test
    assert test.is_file(), f"bench/{name}: {entry.test} does not exist"
    text = test.read_text(encoding="utf-8")
    assert f'"{name}"' in text and '"--quick"' in text, f"{entry.test} does not run bench/{name} --quick"


def _params() -> list:
    out = []
    for name, entry in sorted(BENCHES.items()):
        if isinstance(entry, Run):
            marks = [pytest.mark.slow] + ([pytest.mark.browser] if entry.browser else [])
            out.append(pytest.param(name, marks=marks, id=name))
    return out


@pytest.mark.parametrize("name", _params())
def test_bench_quick_prints_its_figures(name):
    entry = BENCHES[name]
    assert isinstance(entry, Run)
    if "mosquitto" in entry.needs:
        from plugins.enterprise_park.broker import BrokerError, find_mosquitto
        try:
            find_mosquitto()
        except BrokerError as exc:
            pytest.skip(str(exc))
    proc = subprocess.run([sys.executable, str(BENCH / name), "--quick"], cwd=ROOT, capture_output=True,
                          text=True, timeout=TIMEOUT_S)
    assert proc.returncode == 0, f"bench/{name} --quick exited with {proc.returncode}:\n" \
                                 f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    lines = proc.stdout.strip().splitlines()
    assert lines, f"bench/{name} --quick printed nothing"
    try:
        figures = json.loads(lines[-1])
    except json.JSONDecodeError as exc:
        raise AssertionError(f"bench/{name} --quick: the last line is not JSON ({exc}): {lines[-1][:300]!r}")
    assert isinstance(figures, dict), f"bench/{name} --quick: the last line is not a JSON object: {lines[-1][:300]}"
    problems = {f: "missing" if f not in figures else figure_problem(figures[f], kind)
                for f, kind in entry.figures.items()}
    problems = {f: why for f, why in problems.items() if why}
    assert not problems, f"bench/{name} --quick: {problems}; last line: {lines[-1][:1000]}"
    if "quick" in figures:
        assert figures["quick"] is True, f"bench/{name} --quick does not say it ran quick: {figures['quick']!r}"


def test_figure_checks_refuse_what_is_not_a_figure():
    assert figure_problem(0.5, POSITIVE) is None and figure_problem(3, COUNT) is None
    assert figure_problem(0, COUNT) is None and figure_problem(-1.5, NUMBER) is None
    assert figure_problem(False, BOOL) is None
    for value, kind in ((0, POSITIVE), (-2.0, POSITIVE), (True, POSITIVE), (None, POSITIVE), ("1", POSITIVE),
                        (float("nan"), POSITIVE), (float("inf"), NUMBER), (1.5, COUNT), (-1, COUNT),
                        (1, BOOL), (None, BOOL), (None, NUMBER)):
        assert figure_problem(value, kind) is not None, (value, kind)
