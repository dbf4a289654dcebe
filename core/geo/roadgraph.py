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

from core.geo.projection import LocalEqualArea

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
    empty = _empty(feature)
    if len(coords) == 0:
        return empty
    centre = np.nanmean(coords, axis=0)
    proj = LocalEqualArea(float(centre[0]), float(centre[1]))
    x, y = proj.forward(coords[:, 0], coords[:, 1])
    xy = np.column_stack([x, y])
    # exact duplicates first (1 cm grid), then everything within snap_m of a line's end
    q = np.round(xy * 100.0).astype(np.int64) + (1 << 31)  # centimetres, positive within ±21 000 km
    key = (q[:, 0] << 32) | q[:, 1]
    uniq, first, inv = np.unique(key, return_index=True, return_inverse=True)
    inv = inv.ravel()
    n_pos = len(uniq)
    is_end_vertex = np.zeros(len(part), bool)
    starts = np.r_[0, np.flatnonzero(np.diff(part)) + 1]
    is_end_vertex[starts] = True
    is_end_vertex[np.r_[starts[1:] - 1, len(part) - 1]] = True
    end_pos = np.zeros(n_pos, bool)
    end_pos[inv[is_end_vertex]] = True
    pos_xy = xy[first]
    label = np.arange(n_pos)
    if snap_m > 0 and n_pos > 1:
        label = _snap(pos_xy, end_pos & (np.bincount(inv, minlength=n_pos) == 1), snap_m, label)
    cluster = label[inv]
    # drop repeated points along a line (zero-length stretches after snapping)
    keep = np.ones(len(part), bool)
    keep[1:] = ~((part[1:] == part[:-1]) & (cluster[1:] == cluster[:-1]))
    part, cluster, xy = part[keep], cluster[keep], xy[keep]
    seg = np.zeros(len(part))
    same = part[1:] == part[:-1]
    seg[1:] = np.where(same, np.hypot(*(xy[1:] - xy[:-1]).T), 0.0)
    cum = np.cumsum(seg)
    starts = np.r_[0, np.flatnonzero(np.diff(part)) + 1]
    ends = np.r_[starts[1:] - 1, len(part) - 1]
    single = starts == ends
    degenerate = int(len(parts) - len(starts) + single.sum())
    counts = np.bincount(cluster, minlength=n_pos)
    is_node = counts[cluster] >= 2
    is_node[starts] = True
    is_node[ends] = True
    nv = np.flatnonzero(is_node)
    a, b = nv[:-1], nv[1:]
    along = part[a] == part[b]
    a, b = a[along], b[along]
    u, v = cluster[a], cluster[b]
    line = owner[part[a]]
    length = cum[b] - cum[a]
    ok = u != v
    u, v, line, length = u[ok], v[ok], line[ok], length[ok]
    speed = np.asarray(speed_kmh, dtype=float)[line]
    time_s = length / (speed / 3.6)
    # between two nodes, keep the fastest edge
    lo, hi = np.minimum(u, v), np.maximum(u, v)
    order = np.lexsort((time_s, hi, lo))
    lo_s, hi_s = lo[order], hi[order]
    first_of_pair = np.r_[True, (lo_s[1:] != lo_s[:-1]) | (hi_s[1:] != hi_s[:-1])]
    sel = order[first_of_pair]
    sel.sort()
    u, v, line, length, speed, time_s = u[sel], v[sel], line[sel], length[sel], speed[sel], time_s[sel]
    # compact node numbers: only points some edge uses
    used, remap = np.unique(np.r_[u, v], return_inverse=True)
    u, v = remap[:len(u)], remap[len(u):]
    # a node's position: the first vertex (in file order) of its cluster
    rep_of_label = np.full(n_pos, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(rep_of_label, label, first.astype(np.int64))
    rep = rep_of_label[used]
    feat = np.asarray(feature)[line]
    hw = np.asarray(highway, dtype=object)[line]
    return RoadTopology(
        lon=np.round(coords[rep, 0], 7), lat=np.round(coords[rep, 1], 7),
        u=u.astype(np.int64), v=v.astype(np.int64), length_m=np.round(length, 2), speed_kmh=speed,
        time_s=time_s, feature=feat.astype(np.int64),
        road=_classes(hw),
        highway=hw, name=np.asarray(name, dtype=object)[line], oneway=np.asarray(oneway, dtype=np.int8)[line],
        degenerate=degenerate)


def _classes(highway: np.ndarray) -> np.ndarray:
    """:func:`road_class` of every edge, worked out once per distinct ``highway`` word."""
    if not len(highway):
        return np.zeros(0, object)
    words, inv = np.unique(highway.astype(str), return_inverse=True)
    return np.array([road_class(normalise_class(w)) for w in words], dtype=object)[inv.ravel()]


def _snap(pos_xy: np.ndarray, dangling: np.ndarray, snap_m: float, label: np.ndarray) -> np.ndarray:
    """Join each line end that no other line shares (``dangling``) with every point within ``snap_m``.

    Only points near a dangling end go into the KD-tree (clean data has few dangling ends).
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
    pairs = cand[cKDTree(pos_xy[cand]).query_pairs(snap_m, output_type="ndarray")]
    if len(pairs):
        pairs = pairs[dangling[pairs[:, 0]] | dangling[pairs[:, 1]]]
    if not len(pairs):
        return label
    m = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n_pos, n_pos))
    return connected_components(m, directed=False)[1]


def _empty(feature: np.ndarray) -> RoadTopology:
    z = np.zeros(0)
    zi = np.zeros(0, np.int64)
    zo = np.zeros(0, object)
    return RoadTopology(z, z, zi, zi, z, z, z, zi, zo, zo, zo, np.zeros(0, np.int8), degenerate=len(feature))
