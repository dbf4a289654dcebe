"""The chemical-park screen in a real headless Chromium: live scene patches, fly on alarm, click to fly and
to see the concentration at the clicked point (leak_chlorine: T101 leaks 30 s after the server starts)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import ROOT, start_server

pytestmark = pytest.mark.browser
SHOTS = ROOT / "var" / "screenshots"
KEY = json.dumps({"panel": "chemical_park/scene", "type": "tb-deckhost"}, separators=(",", ":"))
TARGET = "cp.target.waisha"      # 外沙社区, a sensitive target downwind (WSW) of T101


@pytest.fixture
def park(tmp_path: Path):
    server = start_server(tmp_path, plugin_allowlist=["chemical_park", "alerts"],
                          plugins={"chemical_park": {"settings": {"interval_s": 1.0, "stability": "D",
                                                                  "scenario": "leak_chlorine"}}})
    yield server
    server.proc.terminate()
    server.proc.wait(10)


def _deck_traffic(page) -> list[dict]:
    """Every render-callback exchange of the scene panel: what the browser held, what came back, its size."""
    seen: list[dict] = []

    def on_response(resp) -> None:
        if "/_dash-update-component" not in resp.url or resp.status != 200:
            return
        try:
            body = resp.body()
            req = json.loads(resp.request.post_data or "{}")
        except Exception:  # noqa: BLE001 - a navigation may cut a body short
            return
        outs = [o for o in req.get("outputs", []) if isinstance(o, dict)]
        if not any(o.get("id") == {"panel": "chemical_park/scene", "type": "tb-deck"} for o in outs):
            return
        state = {json.dumps(s["id"], sort_keys=True): s.get("value") for s in req.get("state", [])}
        have = state.get(json.dumps({"panel": "chemical_park/scene", "type": "tb-have"}, sort_keys=True))
        patch = next((props.get("data") for k, props in json.loads(body).get("response", {}).items()
                      if '"tb-deck"' in k), None)
        seen.append({"have": have, "patch": patch, "bytes": len(body),
                     "select": state.get(json.dumps("tb-select"))})
    page.on("response", on_response)
    return seen


def _settled(page, condition: str, timeout: float = 30000) -> None:
    """Wait until the scene's camera meets ``condition`` (JS on ``v``, the viewport) and has stopped moving."""
    page.wait_for_function(f"""() => {{
        const v = window.twinboardDeck({KEY!r}).getViewports()[0];
        const now = [v.longitude, v.latitude, v.zoom].map(n => n.toFixed(6)).join();
        const still = window.__tbView === now;
        window.__tbView = now;
        return still && ({condition});
    }}""", polling=700, timeout=timeout)


def _pick_pixel(page, entity_id: str, lonlat: list[float], height: float) -> tuple[float, float] | None:
    """A page pixel where deck.gl picks ``entity_id`` (searched around its projection, after a fresh frame)."""
    xy = page.evaluate("""async ([key, id, lonlat, h]) => {
        const deck = window.twinboardDeck(key);
        deck.redraw(true);
        await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
        const [px, py] = deck.getViewports()[0].project([lonlat[0], lonlat[1], h]);
        for (let r = 0; r <= 30; r += 3) {
          for (let a = 0; a < 360; a += r ? 30 : 360) {
            const x = px + r * Math.cos(a * Math.PI / 180), y = py + r * Math.sin(a * Math.PI / 180);
            const o = deck.pickObject({x, y, radius: 0});
            if (o && o.object && o.object.id === id) { return [x, y]; }
          }
        }
        return null;
    }""", [KEY, entity_id, lonlat, height])
    if xy is None:
        return None
    box = page.locator(f"[id='{KEY}']").bounding_box()
    return box["x"] + xy[0], box["y"] + xy[1]


def test_scene_patches_fly_on_alarm_and_click(park, chromium) -> None:
    page = chromium.new_page(viewport={"width": 1920, "height": 1080})
    traffic = _deck_traffic(page)
    page.goto(park.url + "/screen/chemical_park")
    page.wait_for_function(f"() => {{ const h = document.getElementById({KEY!r});"
                           " return h && +h.dataset.rendered >= 1 && h.querySelector('canvas'); }", timeout=60000)
    # the second refresh carries only the layers that changed, as row deltas against what this browser holds
    deadline = 40
    while sum(1 for t in traffic if t["patch"]) < 3 and deadline:
        page.wait_for_timeout(1000)
        deadline -= 1
    patches = [t for t in traffic if t["patch"]]
    first, later = patches[0], patches[1:]
    assert first["have"] is None and first["patch"]["full"]
    assert {"cp-base", "cp-buildings", "cp-tank-fill-12"} <= set(first["patch"]["layers"])
    for t in later:
        p = t["patch"]
        assert t["have"] and not p["full"], "a browser that holds the scene must get a patch"
        sent = set(p["layers"]) | set(p["deltas"])
        assert "cp-buildings" not in sent and "cp-base" not in sent
        assert t["bytes"] < first["bytes"] / 3
    # the base map's deck.gl layer is converted once and kept: later patches never touch it
    assert page.evaluate(f"() => (window.__base = window.twinboardDeck({KEY!r}).props.layers"
                         ".find(l => l.id === 'cp-base')).id") == "cp-base"
    n_layers = int(page.get_attribute(f"[id='{KEY}']", "data-layers"))
    assert n_layers == len(later[-1]["patch"]["order"])

    # the leak (30 s after start): gas alarm, zones drawn, the camera flies to the release (west of T101)
    page.wait_for_function(f"() => window.twinboardDeck({KEY!r}).props.layers.some(l => l.id === 'cp-zones')",
                           timeout=90000)
    _settled(page, "v.longitude < 121.4836")
    assert page.evaluate(f"() => window.twinboardDeck({KEY!r}).props.layers"
                         ".find(l => l.id === 'cp-base') === window.__base"), "unchanged layers are kept as they are"

    # click Waisha community: the pick reaches the server, the camera flies there,
    # the concentration panel shows the clicked point
    row = page.evaluate(f"() => window.twinboardDeck({KEY!r}).props.layers.find(l => l.id === 'cp-targets')"
                        f".props.data.find(r => r.id === {TARGET!r})")
    lon, lat = row["position"]
    n_before = len(traffic)
    for _ in range(6):      # software GL on a busy machine: a layer a refresh just replaced may not be drawn yet
        xy = _pick_pixel(page, TARGET, [lon, lat], 0.0)
        if xy is None:
            page.wait_for_timeout(1500)
            continue
        x, y = xy
        page.mouse.move(x, y)
        page.mouse.click(x, y)
        page.wait_for_timeout(2500)
        if any(t["select"] and t["select"].get("id") == TARGET for t in traffic[n_before:]):
            break
    _settled(page, f"Math.abs(v.longitude - {lon}) < 3e-4 && Math.abs(v.latitude - {lat}) < 3e-4 && v.zoom > 14.5")
    clicked = [t for t in traffic[n_before:] if t["select"] and t["select"].get("id") == TARGET]
    assert clicked, "the click did not reach the server"
    assert clicked[0]["patch"]["props"]["initialViewState"]["zoom"] == 15.0
    page.wait_for_function("() => [...document.querySelectorAll('[data-panel=\"chemical_park.receptor\"]')]"
                           ".some(f => f.innerText.includes('外沙社区(示意) ('))", timeout=15000)
    page.wait_for_function("() => document.querySelectorAll('[data-panel=\"chemical_park.receptor\"]"
                           " .js-plotly-plot .scatterlayer .trace').length >= 1", timeout=15000)
    page.wait_for_timeout(2500)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "chemical-park-click-1080p.png"))
    page.close()
