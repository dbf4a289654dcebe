"""Live deck patches (core.web.deckpatch): only changed layers or rows go, per client, merged by the browser.

The same patches are also merged by the real assets/twinboard.js under Node (when Node is installed),
which must end with the same scene and the same ``have`` as the Python merge.
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess

import pytest

from core.web.deckpatch import LayerCache, apply_patch, canonical, deck_patch, digest, layer_delta, spec_of

from conftest import ROOT


def deck(levels=(50.0, 60.0, 70.0), zoom=13.6, extra=None) -> dict:
    layers = [
        {"@@type": "GeoJsonLayer", "id": "base", "data": {"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {"id": "z1", "name": "区"}, "geometry": None}]}},
        {"@@type": "PolygonLayer", "id": "buildings",
         "data": [{"id": f"b{i}", "polygon": [[i, 0], [i + 1, 0], [i, 1]], "height": 10 + i} for i in range(50)]},
        {"@@type": "ColumnLayer", "id": "fills", "radius": 12,
         "data": [{"id": f"t{i}", "position": [i, i], "height": v, "info": f"液位 {v:.1f}%", "color": [60, 200, 190, 235]}
                  for i, v in enumerate(levels)]},
        {"@@type": "Tile3DLayer", "id": "tiles", "data": "/plugins/x/tileset.json"},
    ]
    if extra:
        layers.append(extra)
    return {"initialViewState": {"longitude": 121.53, "latitude": 28.71, "zoom": zoom}, "layers": layers,
            "views": [{"@@type": "MapView", "controller": True}], "tooltip": {"text": "{name}"}}


def merged(state) -> dict:
    return spec_of(state)


def test_a_fresh_client_gets_the_whole_scene():
    cache = LayerCache()
    for have in (None, {}, {"layers": "nonsense"}, "garbage"):
        p = deck_patch(deck(), have, cache)
        assert p["full"] and set(p["layers"]) == {"base", "buildings", "fills", "tiles"} and not p["deltas"]
        assert p["props"]["initialViewState"]["zoom"] == 13.6
        assert merged(apply_patch(None, p)) == deck()


def test_unchanged_scene_sends_nothing_and_a_changed_row_sends_its_changed_fields_only():
    cache = LayerCache()
    state = apply_patch(None, deck_patch(deck(), None, cache))
    assert deck_patch(deck(), state["have"], cache) is None
    new = deck(levels=(50.0, 61.5, 70.0))
    p = deck_patch(new, state["have"], cache)
    assert not p["full"] and not p["layers"] and "props" not in p and p["removed"] == []
    assert list(p["deltas"]) == ["fills"]
    d = p["deltas"]["fills"]
    assert d["base"] == state["have"]["layers"]["fills"] and d["n"] == 3
    assert d["rows"] == [[1, {"height": 61.5, "info": "液位 61.5%"}]]     # position, id, colour unchanged
    state = apply_patch(state, p)
    assert merged(state) == new
    assert state["have"]["layers"]["fills"] == digest(canonical(new["layers"][2]))


def test_view_change_sends_the_props_only():
    cache = LayerCache()
    state = apply_patch(None, deck_patch(deck(), None, cache))
    p = deck_patch(deck(zoom=16.5), state["have"], cache)
    assert p["props"]["initialViewState"]["zoom"] == 16.5 and not p["layers"] and not p["deltas"]
    assert merged(apply_patch(state, p)) == deck(zoom=16.5)


def test_added_removed_and_reordered_layers():
    cache = LayerCache()
    state = apply_patch(None, deck_patch(deck(), None, cache))
    zones = {"@@type": "PolygonLayer", "id": "zones", "data": [{"polygon": [[0, 0], [1, 1], [1, 0]]}]}
    new = deck(extra=zones)
    new["layers"] = [new["layers"][i] for i in (0, 4, 1, 2)]      # zones under the buildings, tiles gone
    p = deck_patch(new, state["have"], cache)
    assert p["order"] == ["base", "zones", "buildings", "fills"] and p["removed"] == ["tiles"]
    assert list(p["layers"]) == ["zones"] and not p["deltas"]
    state = apply_patch(state, p)
    assert merged(state) == new and list(state["have"]["layers"]) == p["order"]


def test_each_client_gets_what_it_lacks():
    cache = LayerCache()
    v1, v2, v3 = deck(), deck(levels=(51.0, 60.0, 70.0)), deck(levels=(52.0, 60.0, 71.0), zoom=15)
    a = apply_patch(None, deck_patch(v1, None, cache))          # browser A from the start
    a = apply_patch(a, deck_patch(v2, a["have"], cache))
    b = apply_patch(None, deck_patch(v2, None, cache))          # browser B opened at v2
    c_have = copy.deepcopy(a["have"])
    c_have["layers"]["fills"] = "0123456789abcdef"              # a version nobody knows: whole layer
    pa, pb, pc = (deck_patch(v3, h, cache) for h in (a["have"], b["have"], c_have))
    assert pa["deltas"]["fills"]["rows"] == [[0, {"height": 52.0, "info": "液位 52.0%"}],
                                             [2, {"height": 71.0, "info": "液位 71.0%"}]]
    assert pb == pa                                             # same holding, same patch
    assert "fills" in pc["layers"] and not pc["deltas"]
    assert merged(apply_patch(a, pa)) == merged(apply_patch(b, pb)) == v3
    fresh = deck_patch(v3, None, cache)
    assert fresh["full"] and merged(apply_patch(None, fresh)) == v3


def test_evicted_base_sends_the_whole_layer_and_the_cache_stays_bounded():
    cache = LayerCache(max_bytes=3000)
    state = apply_patch(None, deck_patch(deck(), None, cache))
    for k in range(30):
        deck_patch(deck(levels=(k, k, k)), None, cache)
        assert cache.size_bytes <= 3000
    p = deck_patch(deck(levels=(1.0, 2.0, 3.0)), state["have"], cache)
    assert "fills" in p["layers"] and not p["deltas"]
    assert merged(apply_patch(state, p)) == deck(levels=(1.0, 2.0, 3.0))


def test_big_changes_go_whole_and_odd_rows_are_replaced():
    old = {"id": "x", "data": [{"a": 1, "b": 2}, {"a": 3, "b": 4}, 7]}
    new = {"id": "x", "data": [{"a": 1}, {"a": 3, "b": 5}, 8, {"a": 9}], "opacity": 0.5}
    d = layer_delta(old, new, "h")
    assert d["rows"] == [[0, {"a": 1}, 1], [1, {"b": 5}], [2, 8, 1], [3, {"a": 9}, 1]]
    assert d["set"] == {"opacity": 0.5} and d["n"] == 4
    assert layer_delta({"id": "u", "data": "/a.json"}, {"id": "u", "data": "/b.json"}, "h")["set"] == {"data": "/b.json"}
    cache = LayerCache()
    state = apply_patch(None, deck_patch(deck(), None, cache))
    new_deck = deck()
    new_deck["layers"][1]["data"] = [{**r, "height": r["height"] + 1, "polygon": [[9, 9]] * 3}
                                     for r in new_deck["layers"][1]["data"]]
    p = deck_patch(new_deck, state["have"], cache)
    assert "buildings" in p["layers"]                           # a delta as big as the layer: whole layer
    assert merged(apply_patch(state, p)) == new_deck


def test_a_delta_on_a_base_the_client_lacks_asks_for_the_whole_scene():
    cache = LayerCache()
    state = apply_patch(None, deck_patch(deck(), None, cache))
    p = deck_patch(deck(levels=(1.0, 60.0, 70.0)), state["have"], cache)
    broken = copy.deepcopy(state)
    broken["have"]["layers"]["fills"] = "ffffffffffffffff"
    assert apply_patch(broken, p) is None
    assert apply_patch(None, p) is None                          # not full, nothing held


NODE_HARNESS = r"""
const vm = require("vm"), fs = require("fs");
const input = JSON.parse(fs.readFileSync(0, "utf8"));
const hosts = {}, converted = {};
function convert(json) {
  const out = Object.assign({}, json);
  if (json.layers) {
    out.layers = json.layers.map(l => { converted[l.id] = (converted[l.id] || 0) + 1; return {id: l.id, json: l}; });
  }
  return out;
}
const ctx = {
  console, setInterval() {}, setTimeout() {}, clearTimeout() {}, fetch: () => Promise.reject(new Error("x")),
  MutationObserver: class { observe() {} }, AbortController: class { abort() {} },
  document: {
    getElementById: id => id.startsWith("{") ? (hosts[id] = hosts[id] || {id, dataset: {}, style: {}, innerHTML: "", addEventListener() {}}) : null,
    querySelectorAll: () => [], documentElement: {}, head: {appendChild() {}},
  },
};
ctx.window = ctx;
ctx.addEventListener = () => {};
ctx.dash_clientside = {no_update: "NO_UPDATE"};
let tooltip = null;
ctx.createDeck = ({jsonInput, tooltip: tip}) => {
  tooltip = tip;
  const deck = {props: {}, setProps(p) { Object.assign(this.props, p); }, finalize() {}};
  deck.setProps(convert(jsonInput));
  return deck;
};
ctx.updateDeck = (json, target) => target.setProps(convert(json));
vm.createContext(ctx);
vm.runInContext(fs.readFileSync(input.script, "utf8"), ctx);
const id = {type: "tb-deckhost", panel: "u/scene"};
const key = JSON.stringify({panel: "u/scene", type: "tb-deckhost"});
(async () => {
  const out = [];
  for (const patch of input.patches) {
    const before = Object.assign({}, converted);
    const res = ctx.dash_clientside.twinboard.renderDeck(patch, id);
    await new Promise(r => setImmediate(r));
    const deck = ctx.twinboardDeck(key);
    const props = Object.assign({}, deck.props);
    delete props.layers; delete props.onClick;
    const spec = Object.assign({}, props, {layers: deck.props.layers.map(l => l.json)});
    const reconverted = Object.keys(converted).filter(k => converted[k] !== (before[k] || 0)).sort();
    out.push({have: res[1], spec, reconverted, rendered: hosts[key].dataset.rendered, tooltip});
  }
  process.stdout.write(JSON.stringify(out));
})();
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_twinboard_js_merges_like_python(tmp_path):
    cache = LayerCache()
    versions = [deck(), deck(levels=(50.0, 62.0, 70.0)), deck(levels=(50.0, 62.0, 70.0), zoom=16.5),
                deck(levels=(49.0, 62.0, 70.0), extra={"@@type": "PolygonLayer", "id": "zones", "data": []})]
    patches, states, state = [], [], None
    for v in versions:
        p = deck_patch(v, state["have"] if state else None, cache)
        state = apply_patch(state, p)
        patches.append(p)
        states.append(state)
    patches.append(patches[1])                  # a delta on a layer version the browser no longer holds
    harness = tmp_path / "harness.js"
    harness.write_text(NODE_HARNESS, encoding="utf-8")
    run = subprocess.run(["node", str(harness)], input=json.dumps({"script": str(ROOT / "assets/twinboard.js"),
                                                                    "patches": patches}),
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    for step, (res, st, v) in enumerate(zip(out, states, versions)):
        assert res["have"] == st["have"], step
        tip = v.pop("tooltip")                          # the tooltip goes to createDeck, not to deck.gl
        # the client adds the wall's pixel scale (sharp at 4K), not part of the server's scene
        assert res["spec"].pop("useDevicePixels") >= 1
        assert res["spec"] == v and res["tooltip"] == tip, step
    assert out[0]["reconverted"] == ["base", "buildings", "fills", "tiles"]
    assert out[1]["reconverted"] == ["fills"]             # only the changed layer is converted again
    assert out[2]["reconverted"] == []                    # a view change converts no layer
    assert out[3]["reconverted"] == ["fills", "zones"]
    assert out[4]["have"] is None                         # lacking a base: cleared, the server sends it whole


def test_requests_alternating_between_web_processes_merge_to_the_same_scene():
    """Behind a load balancer each request may land on another web process, whose layer cache is its own:
    the patch protocol is content-addressed, so a base the process lacks costs a whole layer, never a
    wrong scene, and unchanged layers still travel not at all."""
    caches = [LayerCache(), LayerCache()]
    state = None
    for k in range(8):
        scene = deck(levels=(float(k), k + 1.0, k + 2.0))
        patch = deck_patch(scene, state["have"] if state else None, caches[k % 2])
        if state is not None:
            assert "buildings" not in patch["layers"] and "buildings" not in patch["deltas"]
        state = apply_patch(state, patch)
        assert merged(state) == scene
