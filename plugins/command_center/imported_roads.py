"""The bureau's own road network, when one was imported (``twinboard gis import FILE --as roads``).

The host's GIS import stores the road lines and works out their topology (``core.api.imported_roads``:
nodes where lines meet or end, edges with length, speed and class). Here the topology becomes the
same kind of networkx graph as the demo network (nodes with ``lon``/``lat``; edges with
``length_m``, ``speed_kmh``, ``time_s``, ``road`` (expressway / arterial / local) and the imported
``highway`` class, ``name``, ``oneway`` and ``feature`` index) wrapped in a :class:`RoadNetwork`, so
the 15-minute circle, dispatching, routes and drills use it unchanged.

Which store: the one passed in; else, in a request, the serving host's; else the one given to
:func:`use_store` (the plugin's ``on_startup``). Built once per import: a new import (its
``stamp``) builds a new network.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

import networkx as nx

from core.api import Store, imported_roads

from .roads import RoadError, RoadNetwork

_lock = threading.Lock()
_networks: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_bound: list[Any] = []


def use_store(store: Store | None) -> None:
    """The store to read imported roads from outside a request (set from the plugin's on_startup)."""
    _bound[:] = [weakref.ref(store)] if store is not None else []


def _current_store() -> Store | None:
    try:
        import flask
        if flask.has_app_context():
            host = flask.current_app.config.get("TWINBOARD_HOST")
            if host is not None:
                return host.store
    except ImportError:  # pragma: no cover - flask is a host dependency
        pass
    return _bound[0]() if _bound else None


def imported_graph(topology: Any) -> nx.Graph:
    """The networkx road graph of an imported topology (``core.api.imported_roads``)."""
    g = nx.Graph(name="imported roads", stamp=topology.stamp)
    lon, lat = topology.lon.tolist(), topology.lat.tolist()
    g.add_nodes_from((i, {"lon": lon[i], "lat": lat[i]}) for i in range(topology.n_nodes))
    cols = (topology.u.tolist(), topology.v.tolist(), topology.length_m.tolist(), topology.speed_kmh.tolist(),
            topology.time_s.tolist(), topology.road.tolist(), topology.highway.tolist(), topology.name.tolist(),
            topology.oneway.tolist(), topology.feature.tolist())
    g.add_edges_from((u, v, {"length_m": length, "speed_kmh": speed, "time_s": t, "road": road, "highway": hw,
                             "name": name, "oneway": ow, "feature": feat})
                     for u, v, length, speed, t, road, hw, name, ow, feat in zip(*cols))
    return g


def imported_network(store: Store | None = None) -> RoadNetwork | None:
    """The imported road network as a :class:`RoadNetwork`, or None when no roads were imported
    (or none of them is for vehicles)."""
    store = store if store is not None else _current_store()
    if store is None:
        return None
    topology = imported_roads(store)
    if topology is None or topology.n_nodes == 0:
        return None
    with _lock:
        hit = _networks.get(store)
        if hit is not None and hit[0] == topology.stamp:
            return hit[1]
    try:
        net = RoadNetwork(imported_graph(topology))
    except RoadError:
        return None
    with _lock:
        _networks[store] = (topology.stamp, net)
    return net
