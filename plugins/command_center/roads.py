"""The district road graph: a demo network the project makes, and travel times over it.

The graph is a networkx ``Graph`` (nodes carry ``lon``/``lat``, edges ``length_m``, ``speed_kmh``,
``time_s`` and ``road``). Travel times are computed by scipy's compiled Dijkstra
(``scipy.sparse.csgraph.dijkstra`` with ``limit``) over a CSR matrix built once from that graph:
the networkx graph stays the model (and the reference the benchmark compares against), the CSR is
its fast index.

The demo network (:func:`demo_roads`) is made, not surveyed, on the real land shape of the
district: a jittered street grid with arterials every few blocks and two expressways, kept where
the host's bundled base map (``twin_models/basemap/``: GSHHS land inside 椒江区's boundary) says
land, so no node is in the sea or the estuary and no street crosses water. The Jiao river (椒江)
estuary splits the mainland into a north bank (章安, 前所) and a south bank (海门, 葭沚, 白云, 洪家,
下陈, 三甲); the banks are joined only by the bridges in :data:`BRIDGES`. Only the largest
connected piece is kept. The Dachen islands have no demo roads. Deterministic for a seed.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import networkx as nx
import numpy as np
import shapely
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import cKDTree
from shapely.geometry import MultiPolygon, Polygon, shape

#: The mainland part of Jiaojiang (lon_min, lat_min, lon_max, lat_max); the islands are left out.
DISTRICT_BBOX = (121.341, 28.574, 121.536, 28.781)
#: The bridges over the Jiao river estuary: (name, name_en, longitude of the crossing, speed km/h).
#: Positions are approximate (the G15 Shenyang–Haikou expressway bridge and the second bridge).
BRIDGES = (("椒江大桥", "Jiaojiang Bridge (G15)", 121.400, 70.0),
           ("椒江二桥", "Second Jiaojiang Bridge", 121.470, 45.0))
BRIDGES_LON = tuple(b[2] for b in BRIDGES)
#: Rows and columns of the grid that carry the expressways: the G15 north-south through the first
#: bridge, an east-west expressway across the south bank.
EXPRESS_LON = 121.400
EXPRESS_LAT = 28.640
SPEEDS_KMH = {"expressway": 70.0, "arterial": 45.0, "local": 25.0, "bridge": 45.0}
#: Off-road approach from the nearest road node to a point (on foot or by a small vehicle).
OFF_ROAD_KMH = 15.0
#: The host's bundled base map (read directly: plugins import core.api only).
BASEMAP_DIR = Path(__file__).resolve().parents[2] / "twin_models" / "basemap"


class RoadError(ValueError):
    """A point or station that cannot use the road graph (too far from any road, cut off)."""


def _projector(lon0: float, lat0: float):
    kx = 111_320.0 * math.cos(math.radians(lat0))
    ky = 110_540.0

    def project(lon: np.ndarray | float, lat: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        return (np.asarray(lon) - lon0) * kx, (np.asarray(lat) - lat0) * ky
    return project


@lru_cache(maxsize=1)
def river_banks() -> dict[str, Polygon]:
    """The two banks of the Jiao river as land polygons inside the district: {"north": ..., "south": ...}.

    GSHHS land (the estuary is sea there) intersected with 椒江区's mainland polygon, from the finest
    level of the bundled base map; the two largest pieces are the banks.
    """
    manifest = json.loads((BASEMAP_DIR / "manifest.json").read_text(encoding="utf-8"))
    finest = max(manifest["levels"], key=lambda lv: lv["min_zoom"])
    fc = json.loads((BASEMAP_DIR / finest["file"]).read_text(encoding="utf-8"))

    def polys(kind: str) -> list[Polygon]:
        out: list[Polygon] = []
        for f in fc["features"]:
            if f["properties"].get("kind") == kind:
                g = shape(f["geometry"])
                out.extend(g.geoms if isinstance(g, MultiPolygon) else [g])
        return out
    mainland = max(polys("district_boundary"), key=lambda g: g.area)
    land = shapely.union_all(polys("land")).intersection(mainland)
    parts = sorted(getattr(land, "geoms", [land]), key=lambda g: -g.area)[:2]
    if len(parts) < 2:
        raise RoadError(f"{BASEMAP_DIR}: the base map's land does not split into two river banks")
    north, south = sorted(parts, key=lambda g: -g.centroid.y)
    for g in (north, south):
        shapely.prepare(g)
    return {"north": north, "south": south}


def _bank_index(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """0 on the north bank, 1 on the south bank, -1 elsewhere (sea, estuary, outside the district)."""
    banks = river_banks()
    out = np.full(np.shape(lon), -1, dtype=np.int8)
    out[shapely.contains_xy(banks["north"], lon, lat)] = 0
    out[shapely.contains_xy(banks["south"], lon, lat)] = 1
    return out


def river_bank(lon: float, lat: float) -> str | None:
    """"north" or "south" for a point on the district's land, None on water or outside."""
    i = int(_bank_index(np.array([lon]), np.array([lat]))[0])
    return ("north", "south")[i] if i >= 0 else None


def _bridgeheads(lon: float) -> tuple[tuple[float, float], tuple[float, float]]:
    """Where the meridian ``lon`` leaves the south bank and reaches the north bank across the estuary."""
    banks = river_banks()
    s_top = max(y for y in _meridian_ys(banks["south"], lon) if y < 28.72)
    n_bottom = min(y for y in _meridian_ys(banks["north"], lon) if y > s_top)
    return (lon, s_top), (lon, n_bottom)


def _meridian_ys(poly: Polygon, lon: float) -> list[float]:
    cut = poly.intersection(shapely.LineString([(lon, 28.5), (lon, 28.8)]))
    return [c[1] for g in getattr(cut, "geoms", [cut]) for c in g.coords] or [float("nan")]


def demo_roads(spacing_m: float = 380.0, bbox: tuple[float, float, float, float] = DISTRICT_BBOX,
               seed: int = 7, drop_local: float = 0.12) -> nx.Graph:
    """Make the demo road network on the district's land: about 1,750 nodes and 3,100 edges at the
    default spacing, the two banks joined only by the bridges. Nodes carry ``bank``; bridge edges
    ``road="bridge"`` and ``name``."""
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
    rr, cc = np.mgrid[0:rows, 0:cols]
    lon = lon_min + (cc * spacing_m + jitter[:, :, 0]) * dlon
    lat = lat_min + (rr * spacing_m + jitter[:, :, 1]) * dlat
    inside = (lon >= lon_min) & (lon <= lon_max) & (lat >= lat_min) & (lat <= lat_max)
    bank = np.where(inside, _bank_index(lon, lat), -1)
    g = nx.Graph(name="demo roads", spacing_m=spacing_m, seed=seed)
    for r, c in zip(*np.nonzero(bank >= 0)):
        g.add_node(int(r * cols + c), lon=round(float(lon[r, c]), 6), lat=round(float(lat[r, c]), 6),
                   bank=("north", "south")[bank[r, c]])
    express_rows = {int(np.argmin(np.abs(lat_min + np.arange(rows) * spacing_m * dlat - EXPRESS_LAT)))}
    express_cols = {int(np.argmin(np.abs(lon_min + np.arange(cols) * spacing_m * dlon - EXPRESS_LON)))}

    def road_class(r: int, c: int, horizontal: bool) -> str:
        if (horizontal and r in express_rows) or (not horizontal and c in express_cols):
            return "expressway"
        if (horizontal and r % 5 == 0) or (not horizontal and c % 5 == 0):
            return "arterial"
        return "local"

    # candidate streets: grid neighbours on the same bank whose whole segment stays on that bank's land
    cand = [(int(r), int(c), dr, dc) for dr, dc in ((0, 1), (1, 0))
            for r, c in zip(*np.nonzero(bank >= 0))
            if r + dr < rows and c + dc < cols and bank[r + dr, c + dc] == bank[r, c]]
    n_samples = max(2, int(math.ceil(spacing_m / 60.0)))
    t = (np.arange(1, n_samples) / n_samples)[None, :]
    ra = np.array([k[0] for k in cand], dtype=np.int64)
    ca = np.array([k[1] for k in cand], dtype=np.int64)
    rb = ra + np.array([k[2] for k in cand], dtype=np.int64)
    cb = ca + np.array([k[3] for k in cand], dtype=np.int64)
    sx = lon[ra, ca][:, None] + (lon[rb, cb] - lon[ra, ca])[:, None] * t
    sy = lat[ra, ca][:, None] + (lat[rb, cb] - lat[ra, ca])[:, None] * t
    on_land = (_bank_index(sx.ravel(), sy.ravel()).reshape(sx.shape) == bank[ra, ca][:, None]).all(axis=1) \
        if cand else np.zeros(0, bool)
    for (r, c, dr, dc), ok in zip(cand, on_land):
        if not ok:
            continue
        horizontal = dr == 0
        cls = road_class(r, c, horizontal)
        if cls == "local" and rng.random() < drop_local:
            continue
        a, b = r * cols + c, (r + dr) * cols + (c + dc)
        length = _metres((lon[r, c], lat[r, c]), (lon[r + dr, c + dc], lat[r + dr, c + dc]))
        speed = SPEEDS_KMH[cls]
        g.add_edge(a, b, length_m=round(length, 1), speed_kmh=speed, road=cls, time_s=length / (speed / 3.6))
    # the bridges: from the south bank's node nearest the bridgehead to the north bank's
    for name, name_en, blon, speed in BRIDGES:
        if not lon_min <= blon <= lon_max or g.number_of_nodes() == 0:
            continue
        ends = []
        for side, head in zip(("south", "north"), _bridgeheads(blon)):
            cand_nodes = [(n, _metres(head, (d["lon"], d["lat"]))) for n, d in g.nodes(data=True)
                          if d["bank"] == side and g.degree(n) > 0]
            if cand_nodes:
                ends.append(min(cand_nodes, key=lambda x: (x[1], x[0]))[0])
        if len(ends) == 2:
            a, b = ends
            pa, pb = (g.nodes[a]["lon"], g.nodes[a]["lat"]), (g.nodes[b]["lon"], g.nodes[b]["lat"])
            length = _metres(pa, pb)
            g.add_edge(a, b, length_m=round(length, 1), speed_kmh=speed, road="bridge", name=name, name_en=name_en,
                       time_s=length / (speed / 3.6))
    # keep the district network: the largest connected piece (cut-off streets and isolated nodes go)
    if g.number_of_nodes():
        main = max(nx.connected_components(g), key=lambda comp: (len(comp), -min(comp)))
        g.remove_nodes_from([n for n in list(g.nodes) if n not in main])
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
