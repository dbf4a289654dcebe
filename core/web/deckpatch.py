"""Live deck updates that carry only what changed: whole layers, row deltas, or nothing.

A deck panel's browser keeps the scene it has merged so far and tells the server what it holds:
``have = {"props": hash, "layers": {layer id: hash}}`` (a hash of each layer's canonical JSON).
On every refresh the server renders the whole scene, hashes its layers and answers with a patch:

- a layer whose hash the client holds is left out;
- a changed layer whose previous version (the client's hash) is still in the server's
  ``LayerCache`` goes as a delta against it: changed top-level keys, and for list data the changed
  fields of the changed rows by index (rows are aligned by position, a scene builds them in a stable
  order), when that is smaller than the layer;
- anything else goes whole; layers the client holds that are gone are listed in ``removed``.

The cache is content-addressed (a hash names exactly one layer version), so one cache serves every
browser correctly, whatever it holds; an evicted or unknown base only costs a whole layer. A client
without ``have`` (fresh, reloaded, reconnected) gets ``full``: the whole scene. The server keeps no
per-client state. ``apply_patch`` is the client's merge (assets/twinboard.js does the same), for tests
and benchmarks.

Patch: ``{"v": 1, "full": bool, "order": [ids], "removed": [ids], "layers": {id: layer},
"deltas": {id: {"base": hash, "set": {...}, "unset": [...], "n": rows, "rows": [[i, fields] or
[i, row, 1]]}}, "hashes": {id: hash of each layer sent}, "props": {...} (when changed),
"props_hash": hash}``. ``None`` means the client already holds the scene.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from typing import Any

PATCH_VERSION = 1
#: a delta is sent instead of the whole layer only when it is at most this share of the layer's bytes
DELTA_MAX_SHARE = 0.6


def canonical(obj: Any) -> str:
    """The JSON a hash is taken of: sorted keys, no spaces, non-ASCII kept."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def digest(text: str) -> str:
    """A 16-hex-digit content hash (BLAKE2b, 64 bits)."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=8).hexdigest()


class LayerCache:
    """Recent layer versions by content hash, kept as their canonical JSON text (what they weigh in
    memory, about) and bounded by its total length; the least recently used go first."""

    def __init__(self, max_bytes: int = 16 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[str, str] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            text = self._items.get(key)
            if text is None:
                return None
            self._items.move_to_end(key)
        return json.loads(text)

    def put(self, key: str, text: str) -> None:
        if len(text) > self.max_bytes:
            return
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return
            self._items[key] = text
            self._bytes += len(text)
            while self._bytes > self.max_bytes:
                _, dropped = self._items.popitem(last=False)
                self._bytes -= len(dropped)

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._items)


def _row_delta(old: list[Any], new: list[Any]) -> list[list[Any]]:
    rows: list[list[Any]] = []
    for i, row in enumerate(new):
        prev = old[i] if i < len(old) else None
        if prev == row:
            continue
        if isinstance(prev, dict) and isinstance(row, dict) and prev.keys() <= row.keys():
            rows.append([i, {k: v for k, v in row.items() if k not in prev or prev[k] != v}])
        else:
            rows.append([i, row, 1])            # new row, not a dict, or a field removed: replace it
    return rows


def layer_delta(old: dict[str, Any], new: dict[str, Any], base: str) -> dict[str, Any]:
    """What turns layer ``old`` (hash ``base``) into ``new``: changed keys, and row deltas for list data."""
    delta: dict[str, Any] = {"base": base}
    keys = set(new) | set(old)
    set_ = {k: new[k] for k in keys if k in new and k != "data" and old.get(k) != new[k]}
    unset = sorted(k for k in keys if k not in new)
    old_data, new_data = old.get("data"), new.get("data")
    if isinstance(old_data, list) and isinstance(new_data, list):
        if old_data != new_data:
            delta["n"] = len(new_data)
            delta["rows"] = _row_delta(old_data, new_data)
    elif "data" in new and old_data != new_data:
        set_["data"] = new_data
    if set_:
        delta["set"] = set_
    if unset:
        delta["unset"] = unset
    return delta


def deck_patch(deck: dict[str, Any], have: Any, cache: LayerCache) -> dict[str, Any] | None:
    """The patch that brings a client holding ``have`` to ``deck``; None when it already holds it."""
    if not isinstance(have, dict) or not isinstance(have.get("layers"), dict):
        have = None
    held: dict[str, Any] = have["layers"] if have else {}
    props = {k: v for k, v in deck.items() if k != "layers"}
    props_hash = digest(canonical(props))
    patch: dict[str, Any] = {"v": PATCH_VERSION, "full": have is None, "order": [], "removed": [],
                             "layers": {}, "deltas": {}, "hashes": {}, "props_hash": props_hash}
    if have is None or have.get("props") != props_hash:
        patch["props"] = props
    for layer in deck.get("layers") or []:
        lid = str(layer.get("id"))
        text = canonical(layer)
        h = digest(text)
        cache.put(h, text)
        patch["order"].append(lid)
        if held.get(lid) == h:
            continue
        patch["hashes"][lid] = h
        base = held.get(lid)
        old = cache.get(base) if isinstance(base, str) else None
        if old is not None:
            delta = layer_delta(old, layer, base)
            if len(canonical(delta)) <= DELTA_MAX_SHARE * len(text):
                patch["deltas"][lid] = delta
                continue
        patch["layers"][lid] = layer
    patch["removed"] = sorted(set(held) - set(patch["order"]))
    unchanged = (not patch["full"] and "props" not in patch and not patch["hashes"] and not patch["removed"]
                 and list(held) == patch["order"])
    return None if unchanged else patch


def _merge_layer(old: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any]:
    layer = {**old, **delta.get("set", {})}
    for k in delta.get("unset", []):
        layer.pop(k, None)
    if "rows" in delta:
        data = list(old.get("data") or [])[: delta["n"]]
        for r in delta["rows"]:
            i = r[0]
            while len(data) <= i:
                data.append(None)
            data[i] = r[1] if len(r) > 2 and r[2] else {**data[i], **r[1]}
        layer["data"] = data
    return layer


def apply_patch(state: dict[str, Any] | None, patch: dict[str, Any] | None) -> dict[str, Any] | None:
    """The client's merge: ``state`` is ``{"props", "layers": {id: layer}, "have"}``; returns the new state,
    or None when the patch needs a base the state lacks (the client then asks for the whole scene)."""
    if patch is None:
        return state
    if patch.get("full") or state is None:
        if not patch.get("full"):
            return None
        state = {"props": {}, "layers": {}, "have": {"props": None, "layers": {}}}
    layers: dict[str, Any] = {}
    hashes: dict[str, str] = {}
    for lid in patch["order"]:
        if lid in patch["layers"]:
            layers[lid] = patch["layers"][lid]
        elif lid in patch["deltas"]:
            delta = patch["deltas"][lid]
            old = state["layers"].get(lid)
            if old is None or state["have"]["layers"].get(lid) != delta["base"]:
                return None
            layers[lid] = _merge_layer(old, delta)
        elif lid in state["layers"]:
            layers[lid] = state["layers"][lid]
        else:
            return None
        hashes[lid] = patch["hashes"].get(lid) or state["have"]["layers"][lid]
    props = patch["props"] if "props" in patch else state["props"]
    return {"props": props, "layers": layers, "have": {"props": patch["props_hash"], "layers": hashes}}


def spec_of(state: dict[str, Any]) -> dict[str, Any]:
    """The whole deck JSON a merged client state stands for."""
    return {**state["props"], "layers": list(state["layers"].values())}
