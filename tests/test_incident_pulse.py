"""Issue 19, beyond the anchors: a live incident pulses on the district's one map, so a leader's eye finds it
from across the room. The ring is drawn by assets/twinboard.js for a layer whose spec has ``tbPulse``; only
its uniforms change (radius scale, opacity, pixel clamp), and a drill never pulses on the live map."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import ROOT, start_server
from core.data.store import open_store
from core.plugins.manager import import_plugin_submodule

pytestmark = pytest.mark.browser
incidents = import_plugin_submodule(ROOT / "plugins" / "command_center", "incidents")
MAP = '[data-panel="command_center.one_map"] .tb-deck-host'
RING = """() => { const h = document.querySelector('%s'); const d = h && window.twinboardDeck(h.id);
    const l = d && d.props.layers.find(l => l && l.id === 'incidents~pulse');
    return l ? [l.props.radiusScale, l.props.opacity, l.props.radiusMinPixels, l.props.data.length] : null; }""" % MAP


def test_a_live_incident_pulses_on_the_one_map_and_a_drill_does_not(tmp_path: Path, chromium) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'twin.sqlite'}")
    server = start_server(tmp_path, plugin_allowlist=["command_center", "alerts"])
    ctx = chromium.new_context(viewport={"width": 1920, "height": 1080})
    try:
        page = ctx.new_page()
        drill = incidents.open_incident(store, "duty", kind="fire", title="演练火情", lon=121.45, lat=28.67, is_drill=True)
        page.goto(server.url + "/screen/district?lang=zh")
        page.wait_for_function(f"() => document.querySelector('{MAP}') && document.querySelector('{MAP}').dataset.rendered",
                               timeout=60000)
        page.wait_for_timeout(1500)
        assert page.evaluate(RING) is None                   # a drill alone: nothing pulses on the live map
        assert drill.is_drill
        incidents.open_incident(store, "duty", kind="fire", title="仓库火灾", lon=121.43, lat=28.66)
        page.wait_for_function(RING.replace("return l ?", "return l && l.props.data.length ?"), timeout=30000)
        seen = set()
        for _ in range(8):
            scale, opacity, min_px, n = page.evaluate(RING)
            assert n == 1 and 1 <= scale <= 2.8 and 0 <= opacity <= 0.9 and min_px >= 12
            seen.add(round(scale, 2))
            page.wait_for_timeout(230)
        assert len(seen) >= 3, seen                           # it moves
        # the incident itself is still drawn and picked as before (the ring is not pickable)
        assert page.evaluate(f"""() => {{ const d = window.twinboardDeck(document.querySelector('{MAP}').id);
            const ids = d.props.layers.filter(Boolean).map(l => l.id);
            return ids.indexOf('incidents~pulse') === ids.indexOf('incidents') - 1
                && d.props.layers.find(l => l && l.id === 'incidents~pulse').props.pickable === false; }}""")
    finally:
        ctx.close()
        server.proc.terminate()
        server.proc.wait(10)
