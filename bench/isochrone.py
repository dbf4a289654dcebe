"""15-minute areas for 50 stations on a road graph of ~50,000 edges (issue #8).

The graph is the command_center demo network made at a finer spacing (same generator). Timed:
``station_areas`` (compiled Dijkstra bounded at 15 min from every station + the concave-hull
polygon of each station's area). Reference, in the same run: ONE networkx
``multi_source_dijkstra_path_length`` from all 50 stations with the same 15-minute cutoff.
``isochrone_ratio`` = areas time ÷ reference time (aim <= 2). Best of ``--repeat`` runs each.
The last line printed is one JSON object.

    .venv/bin/python bench/isochrone.py [--quick] [--stations 50] [--edges 50000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import networkx as nx  # noqa: E402
import numpy as np  # noqa: E402

from plugins.command_center.circle import Place, station_areas  # noqa: E402
from plugins.command_center.roads import RoadNetwork, demo_roads  # noqa: E402


def graph_with_edges(target: int) -> nx.Graph:
    spacing = 380.0 * (4723 / target) ** 0.5
    for _ in range(6):
        g = demo_roads(spacing_m=spacing)
        if abs(g.number_of_edges() - target) / target < 0.02:
            break
        spacing *= (g.number_of_edges() / target) ** 0.5
    return g


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stations", type=int, default=50)
    ap.add_argument("--edges", type=int, default=50_000)
    ap.add_argument("--minutes", type=float, default=15.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="a smoke run (seconds): 10 stations, ~5,000 edges, 1 repeat")
    a = ap.parse_args()
    if a.quick:
        a.stations, a.edges, a.repeat = min(a.stations, 10), min(a.edges, 5000), 1
    g = graph_with_edges(a.edges)
    t0 = time.perf_counter()
    net = RoadNetwork(g)
    index_ms = (time.perf_counter() - t0) * 1000
    rng = np.random.default_rng(1)
    picks = rng.choice(len(net.nodes), size=a.stations, replace=False)
    stations = [Place(f"s{i}", f"s{i}", "micro_station", float(net.lon[j]), float(net.lat[j]))
                for i, j in enumerate(picks)]
    limit = a.minutes * 60
    ours, ref = [], []
    for _ in range(a.repeat):
        t = time.perf_counter()
        areas, best, _ = station_areas(net, stations, a.minutes)
        ours.append(time.perf_counter() - t)
        t = time.perf_counter()
        nxd = nx.multi_source_dijkstra_path_length(g, {net.nodes[j] for j in picks}, cutoff=limit, weight="time_s")
        ref.append(time.perf_counter() - t)
    covered = int(np.isfinite(best).sum())
    # The two must agree on which nodes are inside the circle (stations sit on nodes: no off-road time).
    agree = covered == len(nxd)
    out = {"edges": g.number_of_edges(), "nodes": g.number_of_nodes(), "stations": a.stations,
           "minutes": a.minutes, "areas_ms": round(min(ours) * 1000, 1),
           "networkx_multi_source_ms": round(min(ref) * 1000, 1), "index_build_ms": round(index_ms, 1),
           "covered_nodes": covered, "networkx_covered_nodes": len(nxd), "agree": agree,
           "polygons": sum(1 for ar in areas if ar.polygon),
           "isochrone_ratio": round(min(ours) / min(ref), 3), "quick": a.quick}
    print(f"{a.stations} stations, {out['edges']} edges: areas {out['areas_ms']} ms, "
          f"networkx multi-source {out['networkx_multi_source_ms']} ms")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
