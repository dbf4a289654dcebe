"""Roads of a GIS import (part of :mod:`core.geo.gis_import`): attributes, geometry and topology.

A road file's columns become each road's class (as the file gives it), name, travel speed (a
``speed_kmh`` field, else the class's default lowered by an OSM ``maxspeed``; NaN: not for
vehicles) and one-way flag; the drivable roads become the road graph (``core.geo.roadgraph``),
whose size and connectivity go into the import's summary. :func:`plain_linestrings` reads 2D
LineStrings straight from their WKB, for the import and for reading the stored roads back.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from core.geo.gis_fields import (CLASS_FIELDS, MAXSPEED_FIELDS, NAME_FIELDS, ONEWAY_FIELDS, SPEED_FIELDS, field_number,
                                 field_text, find_field, mapped)
from core.geo.readers import GisImportError, VectorData
from core.geo.roadgraph import (DEFAULT_SPEED_KMH, HIGHWAY_SPEEDS, NOT_FOR_VEHICLES, RoadTopology, build_topology,
                                normalise_class, parse_maxspeed, parse_oneway, topology_from_lines)

#: Speeds (km/h) a speed_kmh field may give.
SPEED_RANGE = (1.0, 200.0)


def road_columns(data: VectorData, sel: np.ndarray, err: Any, warnings: list[str]):
    """(class as stored, name, speed km/h with NaN for not-for-vehicles, one-way, summary) of the
    features ``sel``; appends warnings; ``err(i, message, field)`` makes the error for feature ``i``."""
    n = len(sel)
    speed_col = find_field(data, SPEED_FIELDS)
    speed = np.full(n, np.nan)
    if speed_col is not None:
        fname, col = speed_col
        vals = col[sel]
        if vals.dtype.kind in "fiu":
            speed = vals.astype(float)
            bad = np.flatnonzero(np.isfinite(speed) & ((speed < SPEED_RANGE[0]) | (speed > SPEED_RANGE[1])))
            if len(bad):
                i = int(bad[0])
                raise err(i, f"{speed[i]:g} km/h is not a travel speed (give {SPEED_RANGE[0]:g} to "
                             f"{SPEED_RANGE[1]:g})", fname)
        else:
            for i, v in enumerate(vals.tolist()):
                try:
                    f = field_number(v)
                except ValueError:
                    raise err(i, f"{v!r} is not a number", fname) from None
                if f is None:
                    continue
                if not SPEED_RANGE[0] <= f <= SPEED_RANGE[1]:
                    raise err(i, f"{f:g} km/h is not a travel speed (give {SPEED_RANGE[0]:g} to "
                                 f"{SPEED_RANGE[1]:g})", fname)
                speed[i] = f
    class_col = find_field(data, CLASS_FIELDS)
    # per distinct class value: the text as stored (verbatim) and the default speed (NaN: not for vehicles)
    if class_col is not None:
        values = class_col[1][sel].tolist()
        words = {v: (field_text(v)[:64], normalise_class(v) or "") for v in set(values)}
        raw = np.array([words[v][0] for v in values], dtype=object)
        distinct = list(words.values())
        index = {v: i for i, v in enumerate(words)}
        which = np.fromiter((index[v] for v in values), dtype=np.int64, count=n)
    else:
        raw = np.full(n, "", dtype=object)
        distinct, which = [("", "")], np.zeros(n, dtype=np.int64)
    base = np.array([np.nan if w in NOT_FOR_VEHICLES else HIGHWAY_SPEEDS.get(w, DEFAULT_SPEED_KMH)
                     for _, w in distinct])[which]
    max_col = find_field(data, MAXSPEED_FIELDS)
    if max_col is not None:  # an OSM maxspeed lowers the class's speed, never raises it
        cap = np.array(mapped(max_col[1][sel], parse_maxspeed), dtype=float)
        base = np.where(np.isfinite(cap), np.fmin(base, cap), base)
    oneway_col = find_field(data, ONEWAY_FIELDS)
    if oneway_col is None:
        oneway = np.zeros(n, np.int8)
    elif oneway_col[1].dtype.kind in "iuf":
        oneway = np.sign(np.nan_to_num(oneway_col[1][sel].astype(float))).astype(np.int8)
    else:
        oneway = np.array(mapped(oneway_col[1][sel], parse_oneway), dtype=np.int8)
    name_col = find_field(data, NAME_FIELDS)
    name = np.array([v if type(v) is str else field_text(v) for v in name_col[1][sel].tolist()], dtype=object) \
        if name_col else np.full(n, "", object)
    need = np.isnan(speed)
    out = np.where(need, base, speed)
    # what the warnings count: roads with no class, classes without a default speed, ways not for vehicles
    used = np.bincount(which[need], minlength=len(distinct))
    not_for_vehicles = int(sum(c for (_, w), c in zip(distinct, used) if w in NOT_FOR_VEHICLES))
    defaulted = int(sum(c for (_, w), c in zip(distinct, used) if not w))
    unknown_classes = {t or w: int(c) for (t, w), c in zip(distinct, used)
                       if c and w and w not in NOT_FOR_VEHICLES and w not in HIGHWAY_SPEEDS}
    if defaulted:
        warnings.append(f"{defaulted:,} roads have neither a speed_kmh field nor a road class: "
                        f"{DEFAULT_SPEED_KMH:g} km/h assumed")
    if unknown_classes:
        shown = ", ".join(f"{k!r} ×{c}" for k, c in sorted(unknown_classes.items(), key=lambda x: -x[1])[:6])
        warnings.append(f"road classes without a default speed ({shown}): {DEFAULT_SPEED_KMH:g} km/h assumed")
    drivable = int(np.isfinite(out).sum())
    summary = {"drivable": drivable, "not_for_vehicles": not_for_vehicles,
               "speed_field": speed_col[0] if speed_col else None,
               "class_field": class_col[0] if class_col else None,
               "name_field": name_col[0] if name_col else None,
               "oneway_field": oneway_col[0] if oneway_col else None}
    if drivable == 0:
        raise GisImportError(data.display, "holds no road for vehicles (every line is a footway, cycleway, ...)")
    # the class is stored as the file gives it (OSM word, Geofabrik fclass, 道路等级); the graph normalises it
    return raw, name, out, oneway, summary


def road_summary(topo: RoadTopology, summary: dict[str, Any], warnings: list[str]) -> None:
    """Adds the road graph's size and connectivity to ``summary``; warns when it falls apart."""
    n_comp, largest = topo.components()
    summary.update(nodes=topo.n_nodes, edges=topo.n_edges, components=n_comp, largest_component=largest,
                   length_km=round(float(topo.length_m.sum()) / 1000.0, 3), degenerate=topo.degenerate)
    if topo.n_nodes and largest < 0.9 * topo.n_nodes:
        warnings.append(f"the road graph falls into {n_comp:,} pieces; the largest holds {largest:,} of "
                        f"{topo.n_nodes:,} nodes (roads that should meet may not share a vertex)")


def road_topology(geoms: np.ndarray | None, idx: np.ndarray, speed: np.ndarray, kind: np.ndarray,
                  name: np.ndarray, oneway: np.ndarray, vertices: tuple | None = None) -> RoadTopology:
    """The graph of the drivable roads (finite speed): from shapely ``geoms``, or, when ``geoms`` is
    None, from ``vertices`` = (vertices N×2, the feature of each) of plain LineStrings."""
    drive = np.isfinite(speed)
    if geoms is None:  # plain LineStrings: their vertices and the feature each belongs to
        coords, line = vertices
        keep = drive[line]
        renumber = np.cumsum(drive) - 1
        return topology_from_lines(coords[keep], renumber[line[keep]], idx[drive], speed[drive], kind[drive],
                                   name[drive], oneway[drive])
    return build_topology(geoms[drive], idx[drive], speed[drive], kind[drive], name[drive], oneway[drive])


def plain_linestrings(wkb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(vertices N×2, the feature of each, vertices per feature) when every WKB is a 2D little-endian
    LineString — what GDAL hands over for a road layer — else None (shapely reads the rest)."""
    n = len(wkb)
    if n == 0:
        return None
    try:
        lens = np.fromiter(map(len, wkb), dtype=np.int64, count=n)
        buf = np.frombuffer(b"".join(wkb), dtype=np.uint8)
    except TypeError:  # a feature without geometry
        return None
    if (lens < 9).any():
        return None
    starts = np.zeros(n, dtype=np.int64)
    np.cumsum(lens[:-1], out=starts[1:])
    head = buf[starts[:, None] + np.arange(9)]
    if not (head[:, 0] == 1).all():  # byte order: little endian
        return None
    gtype = head[:, 1:5].copy().view("<u4").ravel()
    count = head[:, 5:9].copy().view("<u4").ravel().astype(np.int64)
    if not (gtype == 2).all() or not (lens == 9 + 16 * count).all():  # 2 = LineString (2D, ISO)
        return None
    body = np.ones(len(buf), dtype=bool)
    body[(starts[:, None] + np.arange(9)).ravel()] = False
    coords = buf[body].view("<f8").reshape(-1, 2)
    return coords, np.repeat(np.arange(n), count), count
