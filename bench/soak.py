"""Soak: drive the demo wall with accelerated updates and report server RSS and browser JS heap, start vs end.

    .venv/bin/python bench/soak.py                # 45 s smoke run (under a minute)
    .venv/bin/python bench/soak.py --minutes 30   # the real soak
    .venv/bin/python bench/soak.py --quick        # seconds, for the tests: its figures say nothing
    .venv/bin/python bench/soak.py --screen district --minutes 10   # every plugin, a live incident pulsing

Last line: one JSON object: ``server_rss_mb_start`` / ``server_rss_mb_end`` (the server and its children),
``js_heap_mb_start`` / ``js_heap_mb_end`` (the page's used JS heap), their ratios (``server_rss_ratio``,
``js_heap_ratio``), DOM nodes, ``map_updates`` (deck renders seen) and the MB-per-hour slopes over the
second half of the run.

Panels refresh every 0.5 s (4-6x the demo's cadence) and the simulator writes every 0.1 s (10x), so
30 minutes here stand for several hours on a wall. Memory is sampled after a forced GC in the page.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from liveserver import CHROME_ARGS, ROOT, serve  # noqa: E402


def start(tmp: Path, keep: set[str] | None = None) -> tuple[subprocess.Popen, str]:
    boards = tmp / "dashboards"
    boards.mkdir()
    demo = yaml.safe_load((ROOT / "config" / "dashboards" / "demo.yaml").read_text(encoding="utf-8"))
    if keep:
        demo["panels"] = [p for p in demo["panels"] if p["key"] in keep]
    for p in demo["panels"]:
        p["refresh_s"] = 0.5
    (boards / "demo.yaml").write_text(yaml.safe_dump(demo, allow_unicode=True), encoding="utf-8")
    cfg = {"root": str(ROOT), "database_url": f"sqlite:///{tmp / 'soak.sqlite'}", "var_dir": str(tmp / "var"),
           "dashboards_dir": str(boards), "playlists_file": str(tmp / "none.yaml"), "public_screens": True,
           "plugin_allowlist": ["demo_sensors", "alerts"], "entry_points": False,
           "plugins": {"demo_sensors": {"settings": {"interval_s": 0.1, "leak_period_s": 20}}}}
    return serve(cfg, tmp / "soak.yaml")


def start_district(tmp: Path) -> tuple[subprocess.Popen, str]:
    """Every built-in plugin at its own cadence, and a live incident on the one map (so its marker pulses:
    assets/twinboard.js redraws that layer 15 times a second)."""
    cfg = {"root": str(ROOT), "database_url": f"sqlite:///{tmp / 'soak.sqlite'}", "var_dir": str(tmp / "var"),
           "playlists_file": str(tmp / "none.yaml"), "public_screens": True, "entry_points": False}
    proc, url = serve(cfg, tmp / "soak.yaml")
    from core.data.store import open_store
    from core.plugins.manager import import_plugin_submodule
    incidents = import_plugin_submodule(ROOT / "plugins" / "command_center", "incidents")
    incidents.open_incident(open_store(cfg["database_url"]), "soak", kind="fire", title="仓库火灾(浸泡测试)",
                            lon=121.43, lat=28.66, severity=2)
    return proc, url


def sample(page, cdp, proc: psutil.Process) -> dict[str, float]:
    cdp.send("HeapProfiler.collectGarbage")
    metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    rss = proc.memory_info().rss + sum(c.memory_info().rss for c in proc.children(recursive=True))
    return {"server_rss_mb": rss / 2**20, "js_heap_mb": metrics["JSHeapUsedSize"] / 2**20,
            "dom_nodes": metrics.get("Nodes", 0)}


def slope_per_hour(times: list[float], values: list[float]) -> float:
    """Least-squares slope of ``values`` over ``times`` (seconds), per hour; 0 with fewer than 2 points."""
    n = len(times)
    if n < 2:
        return 0.0
    mt, mv = sum(times) / n, sum(values) / n
    var = sum((t - mt) ** 2 for t in times)
    return 0.0 if var == 0 else sum((t - mt) * (v - mv) for t, v in zip(times, values)) / var * 3600


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=0.75)
    ap.add_argument("--warmup", type=float, default=15.0, help="seconds before the start sample")
    ap.add_argument("--panels", default="", help="only these panel keys of the demo (to find a leak)")
    ap.add_argument("--quick", action="store_true", help="a smoke run for the tests: 3 s warm-up, 6 s run")
    ap.add_argument("--screen", choices=("demo", "district"), default="demo",
                    help="demo: demo_sensors at 10x; district: every plugin and a live (pulsing) incident")
    args = ap.parse_args()
    if args.quick:
        args.minutes, args.warmup = min(args.minutes, 0.1), min(args.warmup, 3.0)
    from playwright.sync_api import sync_playwright
    tmp = Path(tempfile.mkdtemp(prefix="twinboard-soak-"))
    if args.screen == "district":
        proc, url = start_district(tmp)
    else:
        proc, url = start(tmp, set(filter(None, args.panels.split(","))) or None)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium",
                                         args=CHROME_ARGS)
            page = browser.new_page(viewport={"width": 1920, "height": 1080})
            cdp = page.context.new_cdp_session(page)
            cdp.send("Performance.enable")
            page.goto(url + f"/screen/{args.screen}")
            page.wait_for_selector(".tb-panel-body", timeout=60000)
            if page.locator(".tb-panel-deck").count():
                page.wait_for_selector(".tb-deck-host canvas", timeout=60000)
            time.sleep(args.warmup)
            server = psutil.Process(proc.pid)
            first = sample(page, cdp, server)
            print(f"start: {first}", flush=True)
            t_end = time.time() + args.minutes * 60
            samples = [first]
            times = [time.time()]
            while time.time() < t_end:
                time.sleep(min(60.0, max(1.0, t_end - time.time())))
                samples.append(sample(page, cdp, server))
                times.append(time.time())
                print(f"{(args.minutes * 60 - (t_end - time.time())) / 60:5.1f} min: {samples[-1]}", flush=True)
            last = samples[-1]
            updates = page.evaluate("() => { const h = document.querySelector('.tb-panel-deck .tb-deck-host');"
                                    " return h ? +h.dataset.rendered : 0; }")
            browser.close()
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps({"minutes": args.minutes, "quick": args.quick, "screen": args.screen,
                      "server_rss_mb_start": round(first["server_rss_mb"], 1),
                      "server_rss_mb_end": round(last["server_rss_mb"], 1),
                      "js_heap_mb_start": round(first["js_heap_mb"], 1),
                      "js_heap_mb_end": round(last["js_heap_mb"], 1),
                      "server_rss_ratio": round(last["server_rss_mb"] / first["server_rss_mb"], 3),
                      "js_heap_ratio": round(last["js_heap_mb"] / first["js_heap_mb"], 3),
                      "dom_nodes_start": first["dom_nodes"], "dom_nodes_end": last["dom_nodes"],
                      "map_updates": updates, **second_half_slopes(times, samples)}))


def second_half_slopes(times: list[float], samples: list[dict[str, float]]) -> dict[str, float]:
    """MB per hour over the second half of the run: what is left once caches and windows have filled."""
    half = [(t, s) for t, s in zip(times, samples) if t >= (times[0] + times[-1]) / 2]
    ts = [t for t, _ in half]
    return {f"{k}_per_h_2nd_half": round(slope_per_hour(ts, [s[k] for _, s in half]), 2)
            for k in ("server_rss_mb", "js_heap_mb")}


if __name__ == "__main__":
    main()
