"""The real district on every map: what a wall downloads of the base map, and the GIS import's speed.

- ``basemap_kb``: the base-map bytes (as sent: gzip) a wall downloads on first load of /screen/district,
  measured in Chromium against the demo twin (the /api/basemap answers; aim ≤ 300).
- ``gis_import_ratio``: pyogrio's raw read of a road file ÷ twinboard's import of it (read, validate, build
  the road topology, store in one transaction), on a generated GeoPackage of N road lines (aim ≥ 0.3).

Run: ``.venv/bin/python bench/basemap.py`` (100,000 roads); ``--quick`` for a small smoke run. The last line
is one JSON object of the figures.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def road_file(path: Path, n: int) -> Path:
    """``n`` two- to four-vertex road lines on a jittered grid over Jiaojiang, with OSM-style tags."""
    import pyogrio.raw
    import shapely
    rng = np.random.default_rng(7)
    lon0, lat0 = rng.uniform(121.30, 121.55, n), rng.uniform(28.58, 28.74, n)
    k = rng.integers(2, 5, n)
    lines = []
    for i in range(n):
        steps = rng.normal(0, 0.0015, (k[i] - 1, 2)).cumsum(axis=0)
        pts = np.vstack([[lon0[i], lat0[i]], [lon0[i], lat0[i]] + steps])
        lines.append(shapely.LineString(pts))
    highway = np.array(["residential", "tertiary", "secondary", "primary", "trunk"], dtype=object)[rng.integers(0, 5, n)]
    names = np.array([f"路{i % 997}" for i in range(n)], dtype=object)
    pyogrio.raw.write(str(path), geometry=shapely.to_wkb(np.array(lines, dtype=object)), field_data=[highway, names],
                      fields=["highway", "name"], geometry_type="LineString", crs="EPSG:4326", driver="GPKG")
    return path


def gis_import_ratio(n: int, rounds: int) -> dict:
    import pyogrio.raw

    from core.data.store import open_store
    from core.geo.gis_import import import_file
    with tempfile.TemporaryDirectory() as tmp:
        path = road_file(Path(tmp) / "roads.gpkg", n)
        reads, imports = [], []
        for r in range(rounds):
            t = time.perf_counter()
            pyogrio.raw.read(str(path))
            reads.append(time.perf_counter() - t)
            store = open_store(f"sqlite:///{Path(tmp) / f'gis{r}.sqlite'}")
            t = time.perf_counter()
            result = import_file(store, path, "roads")
            imports.append(time.perf_counter() - t)
            store.engine.dispose()
        read_s, import_s = float(np.median(reads)), float(np.median(imports))
    print(f"{n} roads: pyogrio raw read {read_s * 1000:.0f} ms, twinboard import {import_s * 1000:.0f} ms "
          f"(median of {rounds}); imported {result.feature_count} features")
    return {"gis_import_ratio": round(read_s / import_s, 3), "roads": n, "read_ms": round(read_s * 1000, 1),
            "import_ms": round(import_s * 1000, 1)}


def basemap_kb(tmp: Path) -> dict:
    from playwright.sync_api import sync_playwright

    from liveserver import CHROME_ARGS, serve
    cfg = {"root": str(ROOT), "database_url": f"sqlite:///{tmp / 'twin.sqlite'}", "var_dir": str(tmp / "var"),
           "public_screens": True}
    proc, url = serve(cfg, tmp / "settings.yaml")
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROME_ARGS)
            page = browser.new_page(viewport={"width": 1920, "height": 1080})
            got: list = []
            page.on("response", lambda r: got.append(r) if "/api/basemap" in r.url else None)
            page.goto(url + "/screen/district")
            page.wait_for_function("() => [...document.querySelectorAll('[data-basemap-level]')].length > 0",
                                   timeout=90000)
            # every map panel has asked for its level: answers have come and no new one for 3 s (a loaded
            # machine can take 10 s or more to get there, so no fixed wait)
            seen, quiet_since, deadline = -1, time.monotonic(), time.monotonic() + 90
            while time.monotonic() < deadline:
                page.wait_for_timeout(500)
                if len(got) != seen:
                    seen, quiet_since = len(got), time.monotonic()
                elif got and time.monotonic() - quiet_since >= 3:
                    break
            urls = [r.url for r in got]
            browser.close()
        # the bytes as sent, asked again with the browser's Accept-Encoding (the protocol's own body size
        # reads 0 on some Chromium builds when the body came in one chunk)
        sizes = []
        for u in urls:
            with urllib.request.urlopen(urllib.request.Request(u, headers={"Accept-Encoding": "gzip"}),
                                        timeout=30) as r:
                sizes.append(len(r.read()))
    finally:
        proc.terminate()
        proc.wait(20)
    total = sum(sizes)
    print(f"/screen/district first load: {len(sizes)} base-map answers, {total / 1024:.1f} KB as sent")
    return {"basemap_kb": round(total / 1024, 1), "basemap_requests": len(sizes)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a small smoke run (seconds, figures meaningless)")
    ap.add_argument("--roads", type=int, default=None)
    args = ap.parse_args()
    n = args.roads or (3000 if args.quick else 100_000)
    figures = gis_import_ratio(n, 1 if args.quick else 3)
    with tempfile.TemporaryDirectory() as tmp:
        figures.update(basemap_kb(Path(tmp)))
    figures["quick"] = bool(args.quick)
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
