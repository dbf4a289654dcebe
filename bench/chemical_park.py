"""chemical_park benchmarks (issue 5).

plume_ratio: ground concentration of a Gaussian plume on a 500×500 lon/lat grid
(``Plume.ppm_grid``) timed against one ``numpy.exp`` over an array of the same size, in the
same run; the median of --repeat alternating runs each. Aim ≤ 5.

update_share: the 3D scene of a synthetic park of 2,000 buildings and 500 tanks (each with a
gas detector and a level sensor) is built twice, one simulated tick apart (levels and gas
readings move, alarms stay). Reported: bytes of the full scene JSON, bytes of the layers whose
JSON changed (what a host that sends only changed layers would send) and bytes of the changed
rows only (a host that patches layer data by row), and of the changed fields of those rows
(``update_share``: a host that patches fields by row index). The host today sends the full JSON on every
update (share 1.0); the figures say what the plugin's layer split allows. Aim ≤ 10%.

    .venv/bin/python bench/chemical_park.py [--quick] [--repeat N]

Last line: {"plume_ratio": ..., "update_share_layers": ..., "update_share_rows": ..., ...}
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

from core.plugin_manager import import_plugin_submodule

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


class _Ctx:
    def __init__(self, alerts):
        self.lang, self.options, self.locale = "zh", {"labels": True}, "zh_CN"
        self.store = types.SimpleNamespace(alerts=lambda limit=10000: alerts)

    def text(self, zh, en):
        return zh


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


def bench_update(n_buildings: int, n_tanks: int) -> dict:
    scene, threat = load("scene"), load("threat")
    model = synthetic_park(n_buildings, n_tanks)
    rng = random.Random(5)
    lv = types.SimpleNamespace
    latest = {(s.id, s.props["metric"]): lv(value=rng.uniform(1, 80), ts=0.0) for s in model.sensors}
    alerts = [types.SimpleNamespace(entity_id=s.id, severity=3) for s in model.sensors[:20]]
    sit = threat.Situation("none")
    ctx = _Ctx(alerts)
    t = time.perf_counter()
    before = json.loads(scene.build(ctx, model, sit, latest).to_json())
    build_ms = (time.perf_counter() - t) * 1e3
    # one tick: every level moves by noise, a tenth of the gas readings change
    for key, v in latest.items():
        if key[1] == "level_pct" or rng.random() < 0.1:
            latest[key] = lv(value=round(v.value + rng.gauss(0, 0.3), 2), ts=2.0)
    after = json.loads(scene.build(ctx, model, sit, latest).to_json())
    size = lambda o: len(json.dumps(o, separators=(",", ":"), ensure_ascii=False).encode())  # noqa: E731
    full = size(after)
    old = {layer["id"]: layer for layer in before["layers"]}
    changed_layers = [layer for layer in after["layers"] if old.get(layer["id"]) != layer]
    layer_bytes = sum(size(layer) for layer in changed_layers)
    row_bytes = field_bytes = 0
    for layer in changed_layers:
        prev = old.get(layer["id"], {}).get("data") or []
        data = layer.get("data") or []
        if not isinstance(data, list):
            row_bytes += size(layer)
            field_bytes += size(layer)
            continue
        row_bytes += len(layer["id"]) + 16
        field_bytes += len(layer["id"]) + 16
        for i, row in enumerate(data):
            if i >= len(prev) or prev[i] != row:
                row_bytes += size([i, row])
                field_bytes += size([i, {k: v for k, v in row.items() if i >= len(prev) or prev[i].get(k) != v}])
    return {"scene_bytes": full, "changed_layers": [layer["id"] for layer in changed_layers],
            "changed_layer_bytes": layer_bytes, "changed_row_bytes": row_bytes,
            "changed_field_bytes": field_bytes,
            "update_share_layers": round(layer_bytes / full, 4), "update_share_rows": round(row_bytes / full, 4),
            "update_share": round(field_bytes / full, 4),
            "update_share_host_now": 1.0, "scene_build_ms": round(build_ms, 1)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeat", type=int, default=15)
    args = ap.parse_args()
    repeat = 5 if args.quick else args.repeat
    out = bench_plume(500, repeat)
    out.update(bench_update(2000, 500))
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main()
