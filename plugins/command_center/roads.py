"""The district road graph: a demo network the project makes, and travel times over it.

The graph is a networkx ``Graph`` (nodes carry ``lon``/``lat``, edges ``length_m``, ``speed_kmh``,
``time_s`` and ``road``). Travel times are computed by scipy's compiled Dijkstra
(``scipy.sparse.csgraph.dijkstra`` with ``limit``) over a CSR matrix built once from that graph:
the networkx graph stays the model (and the reference the benchmark compares against), the CSR is
its fast index.

The demo network (:func:`demo_roads`) is made, not surveyed: a jittered street grid over the
district's extent with arterials every few blocks, two expressways, the Jiaojiang river crossed
only at its bridges, the sea to the east, and some local streets missing. Deterministic for a seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import networkx as nx
import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import cKDTree

#: Jiaojiang's extent for the demo network (lon_min, lat_min, lon_max, lat_max).
DISTRICT_BBOX = (121.335, 28.585, 121.556, 28.745)
RIVER_LAT = 28.703
BRIDGES_LON = (121.40, 121.47, 121.52)
SPEEDS_KMH = {"expressway": 70.0, "arterial": 45.0, "local": 25.0, "bridge": 45.0}
#: Off-road approach from the nearest road node to a point (on foot or by a small vehicle).
OFF_ROAD_KMH = 15.0


class RoadError(ValueError):
    """A point or station that cannot use the road graph (too far from any road, cut off)."""


def _projector(lon0: float, lat0: float):
    kx = 111_320.0 * math.cos(math.radians(lat0))
    ky = 110_540.0

    def project(lon: np.ndarray | float, lat: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        return (np.asarray(lon) - lon0) * kx, (np.asarray(lat) - lat0) * ky
    return project


def demo_roads(spacing_m: float = 380.0, bbox: tuple[float, float, float, float] = DISTRICT_BBOX,
               seed: int = 7, drop_local: float = 0.12) -> nx.Graph:
    """Make the demo road network: about 2,500 nodes and 4,500 edges at the default spacing."""
    lon_min, lat_min, lon_max, lat_max = bbox
    project = _projector((lon_min + lon_max) / 2, (lat_min + lat_max) / 2)
    x0, y0 = project(lon_min, lat_min)
    x1, y1 = project(lon_max, lat_max)
    cols = int((x1 - x0) // spacing_m) + 1
    rows = int((y1 - y0) // spacing_m) + 1
    rng = np.random.default_rng(seed)
    jitter = rng.uniform(-0.22, 0.22, size=(rows, cols, 2)) * spacing_m
    dlon = (lon_max - lon_min) / max(1, (x1 - x0))
    dlat = (lat_max - lat_min) / max(1, (y1 - y0))
    g = nx.Graph(name="demo roads", spacing_m=spacing_m, seed=seed)
    pos: dict[int, tuple[float, float]] = {}
    for r in range(rows):
        for c in range(cols):
            x = c * spacing_m + jitter[r, c, 0]
            y = r * spacing_m + jitter[r, c, 1]
            lon, lat = lon_min + x * dlon, lat_min + y * dlat
            if lon > lon_max:  # the sea
                continue
            node = r * cols + c
            pos[node] = (lon, lat)
            g.add_node(node, lon=round(lon, 6), lat=round(lat, 6))
    express_rows = {rows // 2}
    express_cols = {cols // 3}
    bridge_cols = {int(round((b - lon_min) / (lon_max - lon_min) * (cols - 1))) for b in BRIDGES_LON}

    def road_class(r: int, c: int, horizontal: bool) -> str:
        if (horizontal and r in express_rows) or (not horizontal and c in express_cols):
            return "expressway"
        if (horizontal and r % 5 == 0) or (not horizontal and c % 5 == 0):
            return "arterial"
        return "local"

    for r in range(rows):
        for c in range(cols):
            a = r * cols + c
            if a not in pos:
                continue
            for dr, dc in ((0, 1), (1, 0)):
                rr, cc = r + dr, c + dc
                b = rr * cols + cc
                if rr >= rows or cc >= cols or b not in pos:
                    continue
                horizontal = dr == 0
                cls = road_class(r, c, horizontal)
                crosses = (pos[a][1] - RIVER_LAT) * (pos[b][1] - RIVER_LAT) < 0
                if crosses:
                    if horizontal or c not in bridge_cols:
                        continue
                    cls = "bridge"
                if cls == "local" and rng.random() < drop_local:
                    continue
                length = _metres(pos[a], pos[b])
                speed = SPEEDS_KMH[cls]
                g.add_edge(a, b, length_m=round(length, 1), speed_kmh=speed, road=cls,
                           time_s=length / (speed / 3.6))
    return g


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat0 = math.radians((a[1] + b[1]) / 2)
    dx = (b[0] - a[0]) * 111_320.0 * math.cos(lat0)
    dy = (b[1] - a[1]) * 110_540.0
    return math.hypot(dx, dy)


@dataclass(frozen=True)
class Snap:
    """A point's way onto the graph: the nearest node, how far it is, and the off-road time."""

    node: int
    index: int
    distance_m: float
    access_s: float


class RoadNetwork:
    """A road graph with its fast index: CSR travel-time matrix, node KD-tree, components."""

    def __init__(self, graph: nx.Graph, off_road_kmh: float = OFF_ROAD_KMH, max_snap_m: float = 1500.0) -> None:
        if graph.number_of_nodes() == 0:
            raise RoadError("the road graph has no nodes")
        self.graph = graph
        self.off_road_ms = off_road_kmh / 3.6
        self.max_snap_m = max_snap_m
        self.nodes = list(graph.nodes)
        self.index = {n: i for i, n in enumerate(self.nodes)}
        self.lon = np.array([graph.nodes[n]["lon"] for n in self.nodes])
        self.lat = np.array([graph.nodes[n]["lat"] for n in self.nodes])
        self._project = _projector(float(self.lon.mean()), float(self.lat.mean()))
        x, y = self._project(self.lon, self.lat)
        self.tree = cKDTree(np.column_stack([x, y]))
        n = len(self.nodes)
        rows, cols, vals = [], [], []
        for a, b, d in graph.edges(data=True):
            i, j = self.index[a], self.index[b]
            t = max(float(d["time_s"]), 1e-3)
            rows += [i, j]
            cols += [j, i]
            vals += [t, t]
        self.csr = csr_matrix((vals, (rows, cols)), shape=(n, n))
        self.n_components, self.component = connected_components(self.csr, directed=False)
        sizes = np.bincount(self.component)
        self.main_component = int(sizes.argmax())
        self.component_size = sizes

    @property
    def edge_count(self) -> int:
        return self.graph.number_of_edges()

    def snap(self, lon: float, lat: float, what: str = "point") -> Snap:
        """The nearest road node to (lon, lat); RoadError when it is farther than ``max_snap_m``."""
        if lon is None or lat is None or not (math.isfinite(lon) and math.isfinite(lat)):
            raise RoadError(f"{what} has no position")
        x, y = self._project(lon, lat)
        dist, i = self.tree.query([float(x), float(y)])
        if dist > self.max_snap_m:
            raise RoadError(f"{what} is {dist / 1000:.1f} km from the nearest road of the graph "
                            f"(at most {self.max_snap_m / 1000:.1f} km): it cannot be reached by road")
        return Snap(self.nodes[int(i)], int(i), float(dist), float(dist) / self.off_road_ms)

    def check_connected(self, snap: Snap, what: str) -> None:
        """RoadError when the snapped node sits on a road piece cut off from the main network."""
        comp = int(self.component[snap.index])
        if comp != self.main_component:
            raise RoadError(f"{what} is on a road piece of {int(self.component_size[comp])} nodes that is cut off "
                            f"from the district network ({int(self.component_size[self.main_component])} nodes)")

    def with_virtual_sources(self, links: list[tuple[int, float]]) -> csr_matrix:
        """The travel-time matrix plus one node per link (node index, seconds), numbered from n on."""
        n, k = len(self.nodes), len(links)
        coo = self._coo()
        extra = np.arange(n, n + k)
        to = np.array([i for i, _ in links], dtype=np.int64)
        w = np.array([max(t, 1e-3) for _, t in links])
        rows = np.concatenate([coo[0], extra, to])
        cols = np.concatenate([coo[1], to, extra])
        vals = np.concatenate([coo[2], w, w])
        return csr_matrix((vals, (rows, cols)), shape=(n + k, n + k))

    def _coo(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if not hasattr(self, "_coo_cache"):
            c = self.csr.tocoo()
            self._coo_cache = (c.row.astype(np.int64), c.col.astype(np.int64), c.data)
        return self._coo_cache

    def travel_times(self, sources: list[int], limit_s: float | None = None) -> np.ndarray:
        """Seconds from each source node index to every node (inf beyond ``limit_s`` or unreachable)."""
        if not sources:
            return np.empty((0, len(self.nodes)))
        return dijkstra(self.csr, directed=False, indices=sources,
                        limit=np.inf if limit_s is None else float(limit_s))

    def route(self, from_index: int, to_index: int) -> tuple[list[list[float]], list[float]]:
        """The fastest path as [[lon, lat], ...] and the cumulative seconds at each vertex."""
        dist, pred = dijkstra(self.csr, directed=False, indices=to_index, return_predecessors=True)
        if not math.isfinite(dist[from_index]):
            raise RoadError("no road connects the two points")
        path, cum = [], []
        i = from_index
        while i >= 0:
            path.append([float(self.lon[i]), float(self.lat[i])])
            cum.append(float(dist[from_index] - dist[i]))
            if i == to_index:
                break
            i = int(pred[i])
        return path, cum

    def edge_paths(self, road: str | None = None) -> list[dict]:
        """Edges as deck.gl paths ({"path", "road"}), optionally one road class only."""
        out = []
        for a, b, d in self.graph.edges(data=True):
            if road and d.get("road") != road:
                continue
            out.append({"path": [[self.graph.nodes[a]["lon"], self.graph.nodes[a]["lat"]],
                                 [self.graph.nodes[b]["lon"], self.graph.nodes[b]["lat"]]], "road": d.get("road")})
        return out
