"""An imported road network's topology: road lines → nodes and edges, with speeds (numpy, no networkx).

The import (``core.geo.gis_import``) computes it to report nodes, edges and connectivity; the
command centre turns the same arrays into its networkx road graph. Rules:

* A node is where a line starts or ends, and where a vertex is shared by two lines (or twice by
  one); vertices closer than ``SNAP_M`` (1 m) to a line's end are the same point, so roads that
  were digitised to meet "almost" do meet. Lines that cross without a shared vertex (a bridge over
  a road, a flyover) are not joined.
* An edge runs along a line from one node to the next; its ``length_m`` is the length of that
  stretch of the line (all vertices between, in metres on the ellipsoid), its ``time_s`` the
  length at the line's ``speed_kmh``. Between two nodes only the fastest edge is kept.
* Speeds: a ``speed_kmh`` field wins; otherwise the road class (OSM ``highway``, Geofabrik's
  ``fclass``, or a Chinese road grade 道路等级) gives a typical travel speed from
  :data:`HIGHWAY_SPEEDS`, lowered (never raised) by an OSM ``maxspeed``; a road with neither
  gets :data:`DEFAULT_SPEED_KMH`. Ways that are not for vehicles (footways, cycleways, steps...)
  are stored but left out of the graph.
* ``oneway`` is kept per edge (1 along the line, -1 against, 0 both ways). The 15-minute circle
  treats every road as two-way: emergency vehicles on a mission may use a road against its
  one-way direction (道路交通安全法 §53).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree


#: Vertices this close (metres) to a line's end are joined to it.
SNAP_M = 1.0

#: Typical travel speeds (km/h) of an emergency vehicle in district traffic, by OSM ``highway`` value
#: (Geofabrik's ``fclass`` uses the same words). These are planning figures, not legal limits.
HIGHWAY_SPEEDS: dict[str, float] = {
    "motorway": 80.0, "motorway_link": 50.0,
    "trunk": 60.0, "trunk_link": 40.0,
    "primary": 45.0, "primary_link": 35.0,
    "secondary": 40.0, "secondary_link": 30.0,
    "tertiary": 35.0, "tertiary_link": 25.0,
    "unclassified": 25.0, "road": 25.0, "busway": 40.0,
    "residential": 20.0, "service": 15.0, "living_street": 10.0, "track": 10.0,
}
#: Ways that are not for vehicles: stored, but not part of the road graph.
NOT_FOR_VEHICLES = frozenset({
    "footway", "pedestrian", "path", "cycleway", "steps", "bridleway", "corridor", "platform", "elevator",
    "proposed", "construction", "abandoned", "disused", "razed", "raceway", "via_ferrata", "bus_stop",
    "crossing", "rest_area", "services", "emergency_bay", "escape",
})
#: Chinese road grades (道路等级, 公路等级) as survey data names them, to the OSM value.
CN_ROAD_CLASSES: dict[str, str] = {
    "高速公路": "motorway", "高速": "motorway", "城市快速路": "trunk", "快速路": "trunk", "国道": "trunk",
    "一级公路": "trunk", "省道": "primary", "二级公路": "primary", "城市主干道": "primary", "主干道": "primary",
    "主干路": "primary", "县道": "secondary", "三级公路": "secondary", "城市次干道": "secondary",
    "次干道": "secondary", "次干路": "secondary", "乡道": "tertiary", "四级公路": "tertiary", "支路": "residential",
    "村道": "unclassified", "等外公路": "track", "街巷": "living_street", "内部道路": "service",
    "人行道": "footway", "步行街": "pedestrian", "绿道": "cycleway", "机耕路": "track",
}
#: Speed of a road with no speed field and no (known) class.
DEFAULT_SPEED_KMH = 30.0
#: The graph's road classes (as the demo network's: the one map draws expressways and arterials).
ROAD_CLASSES = {"motorway": "expressway", "motorway_link": "expressway", "trunk": "expressway",
                "trunk_link": "expressway", "primary": "arterial", "primary_link": "arterial",
                "secondary": "arterial", "secondary_link": "arterial"}


def normalise_class(value: Any) -> str | None:
    """A road class value (OSM, Geofabrik, Chinese grade) as an OSM ``highway`` word, or None."""
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    if text in CN_ROAD_CLASSES:
        return CN_ROAD_CLASSES[text]
    return text.lower()


def road_class(highway: str | None) -> str:
    """expressway / arterial / local for a ``highway`` word."""
    return ROAD_CLASSES.get(highway or "", "local")


_NUM = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(mph|km/h|kmh|kph)?\s*$", re.I)


def parse_maxspeed(value: Any) -> float | None:
    """OSM ``maxspeed`` ("50", "30 mph", 60.0) in km/h; None when absent, zero or not a number."""
    if value is None:
        return None
    if isinstance(value, (int, float, np.integer, np.floating)):
        v = float(value)
        return v if math.isfinite(v) and v > 0 else None
    m = _NUM.match(str(value))
    if not m:
        return None
    v = float(m.group(1)) * (1.609344 if (m.group(2) or "").lower() == "mph" else 1.0)
    return v if v > 0 else None


def parse_oneway(value: Any) -> int:
    """1 (one-way along the line), -1 (against it) or 0 (both ways) from OSM or Geofabrik values."""
    if value is None:
        return 0
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        return 1 if value > 0 else (-1 if value < 0 else 0)
    text = str(value).strip().lower()
    if text in ("yes", "true", "1", "f", "y", "是", "单向"):
        return 1
    if text in ("-1", "t", "reverse"):
        return -1
    return 0


@dataclass
class RoadTopology:
    """Nodes (lon/lat) and undirected edges of a road network, ready for a graph."""

    lon: np.ndarray
    lat: np.ndarray
    u: np.ndarray
    v: np.ndarray
    length_m: np.ndarray
    speed_kmh: np.ndarray
    time_s: np.ndarray
    #: index of the imported feature each edge comes from
    feature: np.ndarray
    #: expressway / arterial / local
    road: np.ndarray
    highway: np.ndarray
    name: np.ndarray
    oneway: np.ndarray
    #: lines left out: fewer than two distinct points after snapping
    degenerate: int = 0
    #: what identifies the import this came from (for caches)
    stamp: Any = None

    @property
    def n_nodes(self) -> int:
        return len(self.lon)

    @property
    def n_edges(self) -> int:
        return len(self.u)

    def components(self) -> tuple[int, int]:
        """(number of connected pieces, nodes in the largest)."""
        if self.n_nodes == 0:
            return 0, 0
        m = coo_matrix((np.ones(self.n_edges), (self.u, self.v)), shape=(self.n_nodes, self.n_nodes))
        n, labels = connected_components(m, directed=False)
        return int(n), int(np.bincount(labels).max())


def build_topology(geoms: np.ndarray, feature: np.ndarray, speed_kmh: np.ndarray, highway: np.ndarray,
                   name: np.ndarray, oneway: np.ndarray, snap_m: float = SNAP_M) -> RoadTopology:
    """The topology of road ``geoms`` (shapely LineStrings/MultiLineStrings in WGS-84 lon/lat).

    The other arrays are per geometry: its feature index, speed (km/h, > 0), ``highway`` word,
    name and oneway flag. See the module doc for the rules.
    """
    geoms = np.asarray(geoms, dtype=object)
    if len(geoms) and bool(np.all(shapely.get_type_id(geoms) == 1)):  # plain LineStrings: no parts to split
        parts, owner = geoms, np.arange(len(geoms))
    else:
        parts, owner = shapely.get_parts(geoms, return_index=True)
    coords, part = shapely.get_coordinates(parts, return_index=True)
    return _topology(coords, part, owner, len(parts), feature, speed_kmh, highway, name, oneway, snap_m)


def topology_from_lines(coords: np.ndarray, line: np.ndarray, feature: np.ndarray, speed_kmh: np.ndarray,
                        highway: np.ndarray, name: np.ndarray, oneway: np.ndarray,
                        snap_m: float = SNAP_M) -> RoadTopology:
    """:func:`build_topology` from the lines' vertices: ``coords`` (N×2 lon/lat) and the index of the
    line each belongs to (``line``, ascending); the other arrays are per line."""
    n = len(feature)
    return _topology(np.asarray(coords, dtype=float), np.asarray(line), np.arange(n), n, feature, speed_kmh,
                     highway, name, oneway, snap_m)


def _topology(coords: np.ndarray, part: np.ndarray, owner: np.ndarray, n_parts: int, feature: np.ndarray,
              speed_kmh: np.ndarray, highway: np.ndarray, name: np.ndarray, oneway: np.ndarray,
              snap_m: float) -> RoadTopology:
    """Topology of line parts: vertices ``coords`` of part ``part`` (ascending); part i is line ``owner[i]``."""
    if len(coords) == 0:
        return _empty(feature)
    xy = _metres(coords)
    # exact duplicates first (1 cm grid), then everything within snap_m of a line's end
    q = np.round(xy * 100.0).astype(np.int64) + (1 << 31)  # centimetres, positive within ±21 000 km
    uniq, first, inv = np.unique((q[:, 0] << 32) | q[:, 1], return_index=True, return_inverse=True)
    inv = inv.ravel()
    n_pos = len(uniq)
    boundary = np.flatnonzero(part[1:] != part[:-1])
    starts = np.concatenate(([0], boundary + 1))
    ends = np.concatenate((boundary, [len(part) - 1]))
    label = np.arange(n_pos)
    if snap_m > 0 and n_pos > 1:
        end_pos = np.zeros(n_pos, bool)
        end_pos[inv[starts]] = True
        end_pos[inv[ends]] = True
        dangling = end_pos & (np.bincount(inv, minlength=n_pos) == 1)
        label = _snap(xy[first], dangling, snap_m, label)
    cluster = label[inv]
    # drop repeated points along a line (zero-length stretches after snapping)
    repeat = (part[1:] == part[:-1]) & (cluster[1:] == cluster[:-1])
    if repeat.any():
        keep = np.concatenate(([True], ~repeat))
        part, cluster, xy = part[keep], cluster[keep], xy[keep]
        boundary = np.flatnonzero(part[1:] != part[:-1])
        starts = np.concatenate(([0], boundary + 1))
        ends = np.concatenate((boundary, [len(part) - 1]))
    step = np.hypot(xy[1:, 0] - xy[:-1, 0], xy[1:, 1] - xy[:-1, 1])
    step[boundary] = 0.0  # no length between the last vertex of a line and the first of the next
    cum = np.concatenate(([0.0], np.cumsum(step)))
    degenerate = int(n_parts - len(starts) + (starts == ends).sum())
    is_node = np.bincount(cluster, minlength=n_pos)[cluster] >= 2
    is_node[starts] = True
    is_node[ends] = True
    nv = np.flatnonzero(is_node)
    a, b = nv[:-1], nv[1:]
    along = part[a] == part[b]
    a, b = a[along], b[along]
    u, v = cluster[a], cluster[b]
    ok = u != v
    a, b, u, v = a[ok], b[ok], u[ok], v[ok]
    line = owner[part[a]]
    length = cum[b] - cum[a]
    speed = np.asarray(speed_kmh, dtype=float)[line]
    time_s = length / (speed / 3.6)
    # between two nodes, keep the fastest edge
    lo, hi = np.minimum(u, v), np.maximum(u, v)
    pair = lo * n_pos + hi
    order = np.lexsort((time_s, pair))
    ps = pair[order]
    sel = order[np.concatenate(([True], ps[1:] != ps[:-1]))]
    if len(sel) != len(u):
        sel.sort()
        u, v, line, length, speed, time_s = u[sel], v[sel], line[sel], length[sel], speed[sel], time_s[sel]
    # compact node numbers: only points some edge uses; a node sits at its cluster's representative point
    used, remap = np.unique(np.concatenate((u, v)), return_inverse=True)
    u, v = remap[:len(u)], remap[len(u):]
    rep = first[used]
    feat = np.asarray(feature)[line]
    hw = np.asarray(highway, dtype=object)[line]
    return RoadTopology(
        lon=np.round(coords[rep, 0], 7), lat=np.round(coords[rep, 1], 7),
        u=u.astype(np.int64), v=v.astype(np.int64), length_m=np.round(length, 2), speed_kmh=speed,
        time_s=time_s, feature=feat.astype(np.int64),
        road=_classes(hw),
        highway=hw, name=np.asarray(name, dtype=object)[line], oneway=np.asarray(oneway, dtype=np.int8)[line],
        degenerate=degenerate)


def _metres(coords: np.ndarray) -> np.ndarray:
    """lon/lat → metres east/north of the data's middle, at each vertex's own scale on the WGS-84
    ellipsoid (a sinusoidal projection): road lengths true to about 0.1 % within 100 km."""
    lon0 = float(np.nanmedian(coords[:, 0]))
    lat0 = float(np.nanmedian(coords[:, 1]))
    phi = np.radians(coords[:, 1])
    sin2 = np.sin(phi) ** 2
    x = (coords[:, 0] - lon0) * (np.pi / 180.0 * _A * np.cos(phi) / np.sqrt(1.0 - _E2 * sin2))
    p0 = math.radians(lat0)
    m_per_deg_lat = 111_132.954 - 559.822 * math.cos(2 * p0) + 1.175 * math.cos(4 * p0)
    y = (coords[:, 1] - lat0) * m_per_deg_lat
    return np.column_stack([x, y])


#: WGS-84 semi-major axis (m) and first eccentricity squared
_A = 6_378_137.0
_E2 = 0.00669437999014


def _classes(highway: np.ndarray) -> np.ndarray:
    """:func:`road_class` of every edge, worked out once per distinct ``highway`` word."""
    values = highway.tolist()
    memo = {w: road_class(normalise_class(w)) for w in set(values)}
    return np.array([memo[w] for w in values], dtype=object)


def _snap(pos_xy: np.ndarray, dangling: np.ndarray, snap_m: float, label: np.ndarray) -> np.ndarray:
    """Join each line end that no other line shares (``dangling``) with every point within ``snap_m``.

    Only points near a dangling end go into the KD-tree (clean data has few dangling ends). A joined
    cluster is labelled with its lowest point index, so labels stay point indices.
    """
    n_pos = len(pos_xy)
    if not dangling.any():
        return label
    cand = np.arange(n_pos)
    if dangling.sum() < 0.1 * n_pos:
        cell = np.floor(pos_xy / (2.0 * snap_m)).astype(np.int64)
        ckey = (cell[:, 0] << 32) | (cell[:, 1] & 0xFFFFFFFF)
        dc = cell[dangling]
        near = np.unique(np.concatenate([((dc[:, 0] + dx) << 32) | ((dc[:, 1] + dy) & 0xFFFFFFFF)
                                         for dx in (-1, 0, 1) for dy in (-1, 0, 1)]))
        cand = np.flatnonzero(np.isin(ckey, near))
    if len(cand) < 2:
        return label
    # a sliding-midpoint tree builds about twice as fast as a balanced one and answers as well here
    tree = cKDTree(pos_xy[cand], balanced_tree=False, compact_nodes=False)
    pairs = cand[tree.query_pairs(snap_m, output_type="ndarray")]
    if len(pairs):
        pairs = pairs[dangling[pairs[:, 0]] | dangling[pairs[:, 1]]]
    if not len(pairs):
        return label
    members, local = np.unique(pairs.ravel(), return_inverse=True)
    local = local.reshape(-1, 2)
    m = coo_matrix((np.ones(len(local)), (local[:, 0], local[:, 1])), shape=(len(members), len(members)))
    _, comp = connected_components(m, directed=False)
    lowest = np.full(comp.max() + 1, n_pos, dtype=np.int64)
    np.minimum.at(lowest, comp, members)
    label = label.copy()
    label[members] = lowest[comp]
    return label


def _empty(feature: np.ndarray) -> RoadTopology:
    z = np.zeros(0)
    zi = np.zeros(0, np.int64)
    zo = np.zeros(0, object)
    return RoadTopology(z, z, zi, zi, z, z, z, zi, zo, zo, zo, np.zeros(0, np.int8), degenerate=len(feature))
