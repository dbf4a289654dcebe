"""chemical_park benchmarks (issue 5).

plume_ratio: ground concentration of a Gaussian plume on a 500×500 lon/lat grid
(``Plume.ppm_grid``) timed against one ``numpy.exp`` over an array of the same size, in the
same run; the median of --repeat alternating runs each. Aim ≤ 5.

update_share: bytes the host really sends per live update of the 3D scene, as a share of the full
scene, for a synthetic park of 2,000 buildings and 500 tanks (each with a gas detector and a level
sensor; 20 open alarms). The scene panel is placed on a dashboard of a real app (chemical_park
plugin, its panel and the host's render callback); the benchmark POSTs the callback to
``/_dash-update-component`` through the Flask test client as a browser does. A fresh browser gets
the whole scene (``full_response_bytes``); then, --ticks times, every level moves and a tenth of the
gas readings change in the store, and the browser, holding what it merged (``core.web.deckpatch``), asks
again: ``update_bytes`` are those responses' sizes. update_share = median update bytes ÷ full
response bytes (both through the same serializer; ``scene_json_bytes`` is the compact deck JSON).
After the last tick the merged scene is checked against a fresh browser's: ``merged_ok``. Aim ≤ 10%.

    .venv/bin/python bench/chemical_park.py [--quick] [--repeat N] [--ticks N]

Last line: {"plume_ratio": ..., "update_share": ..., ...}
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
import time
import types
from pathlib import Path

from core.plugins.manager import import_plugin_submodule

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def load(sub: str) -> types.ModuleType:
    return import_plugin_submodule(ROOT / "plugins" / "chemical_park", sub)


def bench_plume(n: int, repeat: int) -> dict:
    plume = load("plume")
    p = plume.Plume(plume.chemical("chlorine"), 1.0, 3.0, 80.0, "D", "rural", height_m=2.0, lon=121.53, lat=28.71)
    lon_ax, lat_ax = np.linspace(121.48, 121.58, n), np.linspace(28.67, 28.75, n)
    arr = np.random.default_rng(1).uniform(-20, 0, (n, n))
    t_grid, t_exp = [], []
    for _ in range(repeat):
        t = time.perf_counter()
        c = p.ppm_on_axes(lon_ax, lat_ax)
        t_grid.append(time.perf_counter() - t)
        t = time.perf_counter()
        np.exp(arr)
        t_exp.append(time.perf_counter() - t)
    assert np.isfinite(c).all() and c.max() > 0
    g, e = statistics.median(t_grid), statistics.median(t_exp)
    return {"grid_ms": round(g * 1e3, 3), "exp_ms": round(e * 1e3, 3), "plume_ratio": round(g / e, 2)}


def synthetic_park(n_buildings: int, n_tanks: int):
    twin = load("twin")
    rng = random.Random(3)
    m = twin.ParkModel(site={"lon": 121.53, "lat": 28.711, "zoom": 13.6})
    kx, ky = 111_320 * math.cos(math.radians(28.711)), 110_574.0

    def ll(x, y):
        return [121.53 + x / kx, 28.711 + y / ky]
    m.items["cp.ent.x"] = twin.Item("cp.ent.x", "enterprise", "企业", "Ent", None, {})
    for i in range(n_buildings):
        x, y, w, d = rng.uniform(-3000, 3000), rng.uniform(-2000, 2000), rng.uniform(20, 120), rng.uniform(20, 80)
        ring = [ll(x, y), ll(x + w, y), ll(x + w, y + d), ll(x, y + d), ll(x, y)]
        m.items[f"b{i}"] = twin.Item(f"b{i}", "building", f"厂房{i}", f"Building {i}",
                                     {"type": "Polygon", "coordinates": [ring]},
                                     {"height_m": rng.choice([6, 9, 12, 18, 24, 36]), "staff": rng.randint(0, 80)})
    subs = ["chlorine", "ammonia", "methanol", "toluene", "sulfur_dioxide"]
    for i in range(n_tanks):
        x, y = rng.uniform(-3000, 3000), rng.uniform(-2000, 2000)
        tid = f"cp.tank.{i}"
        m.items[tid] = twin.Item(tid, "tank", f"T{i}", f"T{i}", {"type": "Point", "coordinates": ll(x, y)},
                                 {"substance": rng.choice(subs), "capacity_m3": 500, "diameter_m": rng.choice([4, 6, 10, 15]),
                                  "height_m": rng.choice([6, 8, 12]), "fill_pct": 60, "enterprise": "cp.ent.x"})
        for kind, metric, unit in (("gas_detector", "gas_ppm", "ppm"), ("process_sensor", "level_pct", "%")):
            sid = f"{tid}.{metric}"
            m.items[sid] = twin.Item(sid, kind, sid, sid, {"type": "Point", "coordinates": ll(x + 8, y - 8)},
                                     {"metric": metric, "unit": unit, "hi": 25, "hihi": 50, "range": (0, 100),
                                      "tank": tid, "substance": "ammonia" if metric == "gas_ppm" else None})
    return m


def bench_update(n_buildings: int, n_tanks: int, ticks: int) -> dict:
    """Full scene and live updates through the app's real render callback (see the module docstring)."""
    import tempfile

    import yaml

    from core.api import AlertDraft, Reading, Severity
    from core.web.app import create_app
    from core.web.deckpatch import apply_patch, spec_of
    from core.runtime.host import Host
    from core.plugins.testing import render_callback, temp_settings

    model = synthetic_park(n_buildings, n_tanks)
    panels = load("panels")
    real_model = panels._model
    panels._model = lambda: model          # the plugin's panels draw the synthetic park
    rng = random.Random(5)
    with tempfile.TemporaryDirectory() as tmp:
        settings = temp_settings(Path(tmp), plugins_dir=ROOT / "plugins", plugin_allowlist=["chemical_park"],
                                 run_sources=False)
        board = {"uid": "bench", "title": {"zh": "bench", "en": "bench"}, "canvas": {"width": 1920, "height": 1080},
                 "panels": [{"key": "scene", "panel": "chemical_park.scene", "x": 0, "y": 0, "w": 920, "h": 716}]}
        (settings.dashboards_dir / "bench.yaml").write_text(yaml.safe_dump(board, allow_unicode=True), encoding="utf-8")
        host = Host(settings)
        try:
            app = create_app(settings, host=host, start=True)
            assert host.plugins.records["chemical_park"].status.value == "enabled", host.plugins.records["chemical_park"].error
            now = time.time()
            values = {(s.id, s.props["metric"]): rng.uniform(1, 80) for s in model.sensors}
            host.store.ingest([Reading(e, m, now, v) for (e, m), v in values.items()])
            for s in model.sensors[:20]:
                host.store.raise_alert(AlertDraft("bench.limit", s.id, Severity.III, "bench"), "chemical_park")
            client = app.server.test_client()
            t = time.perf_counter()
            parts, full_bytes = render_callback(client, app, "bench", "scene")
            full_ms = (time.perf_counter() - t) * 1e3
            state = apply_patch(None, parts["deck"])
            scene_bytes = len(json.dumps(spec_of(state), separators=(",", ":"), ensure_ascii=False).encode())
            sizes, times, changed = [], [], set()
            for k in range(1, ticks + 1):
                # one tick: every level moves by noise, a tenth of the gas readings change, alarms stay
                batch = []
                for (e, m), v in values.items():
                    if m == "level_pct" or rng.random() < 0.1:
                        values[(e, m)] = round(v + rng.gauss(0, 0.3), 2)
                        batch.append(Reading(e, m, now + 2 * k, values[(e, m)]))
                host.store.ingest(batch)
                t = time.perf_counter()
                parts, size = render_callback(client, app, "bench", "scene", have=state["have"], tick=k + 1)
                times.append((time.perf_counter() - t) * 1e3)
                sizes.append(size)
                patch = parts.get("deck")
                if patch:
                    changed |= set(patch["layers"]) | set(patch["deltas"])
                state = apply_patch(state, patch)
                assert state is not None, "a patch needed a base the client lacks"
            fresh, _ = render_callback(client, app, "bench", "scene", tick=ticks + 2)
            merged_ok = spec_of(state) == spec_of(apply_patch(None, fresh["deck"]))
        finally:
            host.stop()
            panels._model = real_model
    med = statistics.median(sizes)
    return {"scene_json_bytes": scene_bytes, "full_response_bytes": full_bytes, "update_bytes": sizes,
            "changed_layers": sorted(changed), "merged_ok": merged_ok,
            "update_share": round(med / full_bytes, 4), "update_share_max": round(max(sizes) / full_bytes, 4),
            "full_render_ms": round(full_ms, 1), "update_render_ms": round(statistics.median(times), 1)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--ticks", type=int, default=5)
    args = ap.parse_args()
    repeat = 5 if args.quick else args.repeat
    out = bench_plume(500, repeat)
    out.update(bench_update(2000, 500, 2 if args.quick else args.ticks))
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main()
