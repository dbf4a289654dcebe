"""The district one map in Chromium: the base map downloaded once and small, Chinese labels with the bundled
font, a vendor's layer (the installed example_weather package) with its legend chip and tooltip, and the
base map's level following the zoom."""

from __future__ import annotations

import gzip
import json
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import start_server
from core.web.deckpatch import canonical

pytestmark = pytest.mark.browser
MAP = '[data-panel="command_center.one_map"] .tb-deck-host'
#: what a wall may download of the base map on first load of /screen/district (gzip)
BASEMAP_BUDGET = 300 * 1024


def _deck(page, expr: str):
    """Evaluate ``expr`` with ``deck`` bound to the one map's deck.gl instance."""
    return page.evaluate(f"""() => {{ const h = document.querySelector('{MAP}');
        const deck = h && window.twinboardDeck(h.id); if (!deck) return null; return ({expr}); }}""")


def _gzip_bytes(url: str) -> int:
    """The bytes the server sends for ``url`` to a browser that accepts gzip (urllib does not decode them)."""
    with urllib.request.urlopen(urllib.request.Request(url, headers={"Accept-Encoding": "gzip"}), timeout=30) as r:
        assert r.headers.get("Content-Encoding") == "gzip", url
        return len(r.read())


def _base_map_patch_bytes(bodies: list[str]) -> int:
    """gzip bytes of the base map's part of the one map's first scene: its layers' JSON (URLs, labels) and
    the level table (``tbBasemap``)."""
    for body in bodies:
        for out in json.loads(body).get("response", {}).values():
            patch = out.get("data") if isinstance(out, dict) else None
            if isinstance(patch, dict) and "tb-base-land" in (patch.get("layers") or {}):
                part = {"layers": {k: v for k, v in patch["layers"].items() if k.startswith("tb-base-")},
                        "tbBasemap": patch["props"].get("tbBasemap")}
                return len(gzip.compress(canonical(part).encode("utf-8")))
    raise AssertionError("no deck patch with the base map among the callback answers")


def test_district_map_basemap_labels_and_vendor_layer(tmp_path: Path, chromium) -> None:
    pytest.importorskip("twinboard_example_weather", reason="make test installs examples/twinboard-example-weather")
    server = start_server(tmp_path, plugin_allowlist=["command_center", "alerts", "example_weather"])
    ctx = chromium.new_context(viewport={"width": 1920, "height": 1080})
    try:
        page = ctx.new_page()
        basemap: list = []
        bodies: list[str] = []

        def seen(resp) -> None:
            if "/api/basemap" in resp.url:
                basemap.append(resp)
            elif "/_dash-update-component" in resp.url and resp.status == 200:
                try:
                    text = resp.text()
                except Exception:  # noqa: BLE001 - a body the page dropped (navigation): not the map's
                    return
                if "tb-base-land" in text:
                    bodies.append(text)
        page.on("response", seen)
        page.goto(server.url + "/screen/district?lang=zh")
        page.wait_for_function(f"() => {{ const h = document.querySelector('{MAP}'); const d = h && window.twinboardDeck(h.id);"
                               " return d && d.props.layers.some(l => l && l.id === 'example_weather.masts')"
                               " && d.props.layers.filter(l => l && l.id.startsWith('tb-base-') && l.constructor.layerName"
                               " === 'GeoJsonLayer').every(l => l.isLoaded); }", timeout=90000)

        # the vendor's layer: its points, its legend chip, its names, without any edit to the host
        masts = _deck(page, "deck.props.layers.find(l => l.id === 'example_weather.masts').props.data")
        assert [m["name"] for m in masts] == ["椒江城区气象站", "章安气象站", "下陈气象站", "大陈岛气象站"]
        chip = page.locator(f'[data-panel="command_center.one_map"] .tb-legend-chip'
                            f'[data-layers="example_weather.masts,example_weather.masts.labels"]')
        assert chip.text_content().strip() == "气象站 4"
        chip.click()
        assert _deck(page, "deck.props.layers.find(l => l.id === 'example_weather.masts').props.visible") is False
        chip.click()
        assert _deck(page, "deck.props.layers.find(l => l.id === 'example_weather.masts').props.visible") is True
        # its tooltip: hover a mast that nothing else covers, where deck.gl draws it
        # deck.gl draws the re-shown layer on its next frame: ask until a pick finds a mast, or report what covers them
        pick = f"""() => {{ const h = document.querySelector('{MAP}'); const deck = h && window.twinboardDeck(h.id);
            if (!deck) return null; const tops = [];
            for (const m of deck.props.layers.find(l => l.id === 'example_weather.masts').props.data) {{
                const [cx, cy] = deck.getViewports()[0].project(m.position);
                for (const [dx, dy] of [[0, 0], [-4, 0], [4, 0], [0, -4], [0, 4], [-4, -4], [4, 4], [-4, 4], [4, -4]]) {{
                    const x = cx + dx, y = cy + dy, top = deck.pickObject({{x, y, radius: 0}});
                    if (top && top.layer.id === 'example_weather.masts') return {{x, y, name: top.object.name}};
                    tops.push(top ? top.layer.id : null);
                }}
            }}
            window.__tbMastCover = tops; return null; }}"""
        try:
            hit = page.wait_for_function(pick, timeout=20000, polling=250).json_value()
        except Exception:  # noqa: BLE001 - say what covered the masts instead of a bare timeout
            hit = {"covered": page.evaluate("() => window.__tbMastCover")}
        assert "name" in hit, f"every mast is covered by another layer's point: {hit}"
        box = page.locator(MAP).bounding_box()
        page.mouse.move(box["x"] + hit["x"], box["y"] + hit["y"])
        page.wait_for_function("([name]) => [...document.querySelectorAll('.deck-tooltip')].some(t => "
                               "t.textContent.includes(name) && t.textContent.includes('m/s'))", arg=[hit["name"]],
                               timeout=15000)

        # the base map: its layers loaded from the level of the map's zoom, under everything else
        ids = _deck(page, "deck.props.layers.filter(Boolean).map(l => l.id)")
        assert ids[0] == "tb-base-land" and ids.index("tb-base-outline") < ids.index("example_weather.masts")
        land = _deck(page, "deck.props.layers[0].props.data.features.length")
        assert land >= 1
        assert page.get_attribute(MAP, "data-basemap-level") == "1"      # zoom 11.3: the z10 level
        # Chinese labels: the bundled family, the labels' own characters, the font loaded before drawing
        labels = _deck(page, "(l => ({family: l.props.fontFamily, chars: l.props.characterSet, "
                             "text: l.props.data.map(r => r.text)}))(deck.props.layers.find(l => l.id === 'tb-base-labels'))")
        assert labels["family"] == "Noto Sans SC Subset" and "海门" in labels["text"] and "大陈" in labels["text"]
        assert set("".join(labels["text"])) <= set(labels["chars"])
        assert page.evaluate("() => document.fonts.check('700 20px \"Noto Sans SC Subset\"', '葭沚海门椒江')")

        # what the wall downloaded of the base map on first load: the GeoJSON once, gzip
        assert all(r.headers.get("content-encoding") == "gzip" for r in basemap)
        urls = [r.url for r in basemap]
        assert len(urls) == len(set(urls)) and all("zoom=10&" in u for u in urls), urls
        geojson = sum(_gzip_bytes(u) for u in urls)
        total = geojson + _base_map_patch_bytes(bodies)
        print(f"basemap_kb={total / 1024:.1f} (GeoJSON {geojson / 1024:.1f} KB in {len(urls)} requests)")
        assert 10 * 1024 < total <= BASEMAP_BUDGET

        # zoom in: the finest level replaces it; out: the coarsest, and the district's name for the towns
        _deck(page, "deck.setProps({initialViewState: {longitude: 121.43, latitude: 28.68, zoom: 13.4, pitch: 40,"
                    " bearing: 0, transitionDuration: 1}})")
        page.wait_for_function(f"() => document.querySelector('{MAP}').dataset.basemapLevel === '2'", timeout=15000)
        page.wait_for_function(f"() => {{ const d = window.twinboardDeck(document.querySelector('{MAP}').id);"
                               " const l = d.props.layers.find(l => l.id === 'tb-base-land');"
                               " return l.props.data && l.isLoaded && l.props.data.features; }", timeout=30000)
        assert any("zoom=12&" in r.url for r in basemap)
        _deck(page, "deck.setProps({initialViewState: {longitude: 121.6, latitude: 28.6, zoom: 8.6, pitch: 0,"
                    " bearing: 0, transitionDuration: 1}})")
        page.wait_for_function(f"() => document.querySelector('{MAP}').dataset.basemapLevel === '0'", timeout=15000)
        time.sleep(0.5)
        shown = _deck(page, "Object.fromEntries(deck.props.layers.filter(l => l && ['tb-base-labels', 'tb-base-name']"
                            ".includes(l.id)).map(l => [l.id, l.props.visible]))")
        assert shown == {"tb-base-labels": False, "tb-base-name": True}
    finally:
        ctx.close()
        server.proc.terminate()
        server.proc.wait(10)
