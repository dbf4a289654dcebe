"""Issue 19 (7, 8, 9) in Chromium: a playlist switch never shows Dash's "Loading..." page or an empty frame (the
next screen is loaded in a spare frame and faded in once painted); the mode badge's first painted text is the
wall's mode; a demo running faster than real time says so; the demo's 3D park fills its panel."""

from __future__ import annotations

import time
from pathlib import Path

from conftest import start_server

from core.data.store import open_store
from core.data.twin import Incident
from core.runtime.wall import set_wall_mode

VISIBLE_STATE = """() => Array.from(document.querySelectorAll('iframe')).filter(f => +getComputedStyle(f).opacity > 0)
  .map(f => { let d = null; try { d = f.contentDocument; } catch (e) {}
    const body = d && d.body ? d.body.innerText : '';
    return {id: f.id, src: f.getAttribute('src') || '', canvas: !!(d && d.getElementById('tb-canvas')),
            loading: body.includes('Loading...') || !!(d && d.querySelector('._dash-loading'))}; })"""


def test_a_playlist_switch_never_shows_loading_or_an_empty_screen(tmp_path: Path, chromium) -> None:
    playlists = tmp_path / "playlists.yaml"
    playlists.write_text("playlists:\n  - uid: quick\n    title: {zh: 快, en: quick}\n    items:\n"
                         "      - {dashboard: demo, seconds: 5}\n      - {dashboard: chemical_park, seconds: 5}\n",
                         encoding="utf-8")
    server = start_server(tmp_path, playlists_file=str(playlists))
    try:
        page = chromium.new_page(viewport={"width": 1280, "height": 720})
        page.goto(server.url + "/playlist/quick")
        page.wait_for_function("() => { const f = document.getElementById('tb-playlist-frame');"
                               " return f && f.contentDocument && f.contentDocument.getElementById('tb-canvas'); }",
                               timeout=30000)
        seen, bad = set(), []
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and len(seen) < 3:
            for st in page.evaluate(VISIBLE_STATE):
                if st["loading"] or not st["canvas"]:
                    bad.append(st)
                seen.add(st["src"])
            switches = int(page.evaluate("() => +(document.getElementById('tb-playlist').dataset.switches || 0)"))
            if switches >= 2:
                break
            page.wait_for_timeout(40)
        assert not bad, f"a visible frame showed Loading... or no screen: {bad[:3]}"
        assert switches >= 2, f"the playlist did not switch twice ({switches})"
        assert any("/screen/chemical_park" in s for s in seen) and any("/screen/demo" in s for s in seen)
        page.close()
    finally:
        server.proc.terminate()
        server.proc.wait(10)


RECORD_MODE = """
window.__modes = [];
new MutationObserver(() => {
  const b = document.getElementById('tb-mode');
  if (b && window.__modes[window.__modes.length - 1] !== b.textContent) { window.__modes.push(b.textContent); }
}).observe(document, {childList: true, subtree: true, characterData: true});
"""


def test_the_badge_paints_the_incident_mode_first_and_the_demo_says_its_speed(tmp_path: Path, chromium) -> None:
    server = start_server(tmp_path, plugins={"demo_sensors": {"settings": {"demo_speed": 60}}})
    try:
        store = open_store(f"sqlite:///{tmp_path / 'twin.sqlite'}")
        with store.session() as db:
            inc = Incident(kind="chem_leak", title="测试事件", severity=1)
            db.add(inc)
            db.commit()
            inc_id = inc.id
        set_wall_mode(store, None, "incident", "test", inc_id)
        store.engine.dispose()
        page = chromium.new_page(viewport={"width": 1920, "height": 1080})
        page.add_init_script(RECORD_MODE)
        page.goto(server.url + "/screen/demo")
        page.wait_for_selector("#tb-mode", timeout=30000)
        page.wait_for_function("() => window.__modes.length > 0")
        assert page.evaluate("window.__modes")[0] == f"事件处置 · #{inc_id}"
        # the demo runs 60 times faster than real time, and says so next to the clock
        assert page.inner_text("#tb-demo-speed") == "演示 ×60"
        # the 3D park fills its panel: its bounding box, projected with the deck's own viewport
        host_id = page.evaluate("() => document.querySelector('[data-panel=\"demo_sensors.map3d\"] .tb-deck-host').id")
        page.wait_for_function("(id) => window.twinboardDeck && window.twinboardDeck(id) && "
                               "window.twinboardDeck(id).getViewports().length", arg=host_id, timeout=30000)
        share = page.evaluate("""(id) => {
            const deck = window.twinboardDeck(id), vp = deck.getViewports()[0];
            const host = document.getElementById(id);
            const layer = deck.props.layers.find(l => l && l.id === 'base');
            const pts = [];
            const walk = c => { if (typeof c[0] === 'number') { pts.push(c); } else { c.forEach(walk); } };
            layer.props.data.features.filter(f => f.properties.kind !== 'river').forEach(f => walk(f.geometry.coordinates));
            const lon = pts.map(p => p[0]), lat = pts.map(p => p[1]);
            const corners = [[Math.min(...lon), Math.min(...lat)], [Math.min(...lon), Math.max(...lat)],
                             [Math.max(...lon), Math.min(...lat)], [Math.max(...lon), Math.max(...lat)]].map(c => vp.project(c));
            const xs = corners.map(c => c[0]), ys = corners.map(c => c[1]);
            return {w: (Math.max(...xs) - Math.min(...xs)) / host.offsetWidth,
                    h: (Math.max(...ys) - Math.min(...ys)) / host.offsetHeight};
        }""", host_id)
        assert max(share["w"], share["h"]) >= 0.4, share
        page.close()
        # a screen whose plugins run in real time shows no speed badge
        page = chromium.new_page(viewport={"width": 1920, "height": 1080})
        page.goto(server.url + "/screen/chemical_park")
        page.wait_for_selector("#tb-mode", timeout=30000)
        assert page.locator("#tb-demo-speed").count() == 0
        page.close()
    finally:
        server.proc.terminate()
        server.proc.wait(10)
