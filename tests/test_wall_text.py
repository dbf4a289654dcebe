"""Wall text in a real browser: every dashboard screen at 1920×1080, in Chinese and English, measured in the
page. Text is never smaller than the wall minimum (core.api.WALL_TEXT_MIN_PX for tables, lists and body text,
WALL_FIGURE_MIN_PX for key figures), no text is clipped (a list longer than its panel runs as a ticker, a cell
cut with an ellipsis carries its full text as a title), and the title, subtitle and mode badge never overlap
(1080p and 4K). Secondary text (plotly's SVG axis ticks, anything inside ``.tb-secondary``) is exempt: see
docs/plugins.md "Wall text".

``TB_WALL_SHOTS=/some/dir`` (optional) also saves a screenshot of each screen there, ``TB_WALL_PREFIX`` naming them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, Server, wait_health, write_config
from core.web.serve import free_port
from core.api import WALL_FIGURE_MIN_PX, WALL_TEXT_MIN_PX
from core.data.store import open_store
from core.data.users import Users

pytestmark = pytest.mark.browser

#: what the page reports: text below the minimum, clipped boxes, and the title bar's boxes
MEASURE = """([minText, minFigure]) => {
  const canvas = document.getElementById('tb-canvas');
  if (window.twinboardMarkTickers) window.twinboardMarkTickers();   // the pass the screen runs on every render
  const small = [], clipped = [];
  const label = (el) => {
    const panel = el.closest('[data-panel]');
    const own = Array.from(el.childNodes).filter(n => n.nodeType === 3).map(n => n.textContent).join('').trim();
    return (panel ? panel.dataset.panel : 'titlebar') + ' <' + el.tagName.toLowerCase()
      + (el.className && typeof el.className === 'string' ? '.' + el.className.split(' ').join('.') : '')
      + '> "' + (own || el.textContent).trim().slice(0, 40) + '"';
  };
  const visible = (el) => {
    const r = el.getBoundingClientRect();
    if (r.width < 1 || r.height < 1) return false;
    const cs = getComputedStyle(el);
    return cs.visibility !== 'hidden' && cs.display !== 'none' && +cs.opacity !== 0;
  };
  for (const el of canvas.querySelectorAll('*')) {
    if (el.closest('svg') || el.closest('.tb-secondary') || el.closest('.tb-hidden')) continue;
    const own = Array.from(el.childNodes).some(n => n.nodeType === 3 && n.textContent.trim());
    if (own && visible(el)) {
      const px = parseFloat(getComputedStyle(el).fontSize);
      const need = el.closest('.tb-kpi-value') ? minFigure : minText;
      if (px + 0.01 < need) small.push(px + 'px < ' + need + 'px: ' + label(el));
    }
    const cs = getComputedStyle(el);
    const hidesX = ['hidden', 'clip'].includes(cs.overflowX), hidesY = ['hidden', 'clip'].includes(cs.overflowY);
    if (!(hidesX || hidesY) || !el.textContent.trim() || !visible(el)) continue;
    if (el.classList.contains('tb-deck-host')) continue;
    const cutX = hidesX && el.scrollWidth > el.clientWidth + 1;
    // a box taller than it shows is fine only as a ticker (twinboard.js marks it data-tb-ticker and scrolls it)
    const cutY = hidesY && el.scrollHeight > el.clientHeight + 1 && !el.dataset.tbTicker;
    if (!cutX && !cutY) continue;
    if (cutX && !cutY && cs.textOverflow === 'ellipsis' && el.title) continue;
    clipped.push((cutX ? 'x ' + el.scrollWidth + '>' + el.clientWidth : 'y ' + el.scrollHeight + '>' + el.clientHeight)
                 + ': ' + label(el));
  }
  // a panel's title and freshness label each stay on one line (a long English title gets smaller, then an ellipsis)
  const wrapped = [];
  for (const el of canvas.querySelectorAll('.tb-panel-title, .tb-fresh')) {
    if (!visible(el)) continue;
    const cs = getComputedStyle(el);
    if (el.getBoundingClientRect().height > 1.6 * parseFloat(cs.fontSize)) wrapped.push(label(el));
  }
  const box = (sel) => { const el = document.querySelector(sel); if (!el || !el.textContent.trim()) return null;
    const r = el.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
  return {small, clipped, wrapped, title: box('.tb-title'), subtitle: box('.tb-district'), badge: box('#tb-mode'),
          clock: box('#tb-clock'), lang: box('.tb-lang')};
}"""


def _overlap(a: list[float] | None, b: list[float] | None) -> bool:
    if a is None or b is None:
        return False
    return a[0] < b[2] - 0.5 and b[0] < a[2] - 0.5 and a[1] < b[3] - 0.5 and b[1] < a[3] - 0.5


def title_collisions(m: dict) -> list[str]:
    """Pairs of title-bar boxes that intersect."""
    names = ["title", "subtitle", "badge", "clock", "lang"]
    return [f"{a} overlaps {b}: {m[a]} / {m[b]}" for i, a in enumerate(names) for b in names[i + 1:]
            if _overlap(m[a], m[b])]


def settle(page) -> None:
    """Wait until every panel has rendered (no 'Loading…' left) and the ticker has measured the lists."""
    page.wait_for_selector("#tb-canvas .tb-panel", timeout=60000)
    try:
        page.wait_for_function("() => !document.querySelector('#tb-canvas .tb-loading')", timeout=120000)
    except Exception:  # noqa: BLE001 - measured and reported below as a panel that never rendered
        pass
    page.wait_for_function("() => document.fonts.status === 'loaded'", timeout=30000)
    # twice the ticker's measuring pass, so a list that has just grown is marked
    page.wait_for_timeout(2500)


@pytest.fixture(scope="module")
def wall_server(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("wall")
    Users(open_store(f"sqlite:///{tmp / 'twin.sqlite'}")).add("manager1", "manager-pass-1", "manager", "t")
    # every plugin, so every screen has its panels (start_server's steps, with more time to start: all plugins)
    config = write_config(tmp, plugin_allowlist=None,
                          plugins={"command_center": {"settings": {"outbox": str(tmp / "outbox.jsonl"),
                                                                   "reports_dir": str(tmp / "reports")}}})
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(ROOT / "run.py"), "--config", str(config), "--port", str(port)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_health(url, proc, timeout=240)
    except BaseException:
        proc.kill()
        proc.wait(10)
        raise
    server = Server(url, proc, config)
    yield server
    server.proc.terminate()
    try:
        server.proc.wait(30)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        server.proc.wait(10)


def _dashboards(server) -> list[str]:
    import json
    import urllib.request
    with urllib.request.urlopen(server.url + "/api/dashboards", timeout=10) as resp:
        body = json.loads(resp.read())
    rows = body.get("dashboards", body) if isinstance(body, dict) else body
    return sorted(r["uid"] if isinstance(r, dict) else r for r in rows)


def _start_drill(chromium, server) -> None:
    """A chemical-leak drill, so the incident screen has an incident, its timeline and its resources."""
    ctx = chromium.new_context(viewport={"width": 1400, "height": 1000})
    try:
        mgr = ctx.new_page()
        mgr.goto(server.url + "/login?lang=zh")
        mgr.fill("input[name=username]", "manager1")
        mgr.fill("input[name=password]", "manager-pass-1")
        mgr.click("#tb-login-submit")
        mgr.goto(server.url + "/plugins/command_center/console?lang=zh")
        mgr.click("#cc-drills form:first-of-type button")
        mgr.wait_for_selector(".tb-flash-ok", timeout=30000)
    finally:
        ctx.close()


@pytest.mark.skipif(os.environ.get("TB_WALL_AUDIT") != "1", reason="issue 19 is open: the whole-wall audit still finds offenders and takes 5-16 min; run it with TB_WALL_AUDIT=1")
def test_every_screen_has_wall_sized_unclipped_text_and_a_clear_title(wall_server, chromium) -> None:
    shots = os.environ.get("TB_WALL_SHOTS")
    prefix = os.environ.get("TB_WALL_PREFIX", "")
    uids = _dashboards(wall_server)
    only = [u for u in os.environ.get("TB_WALL_ONLY", "").split(",") if u]   # a quicker look at a few screens
    assert {"district", "incident", "chemical_park", "flood_defence", "enterprise_park", "forest_fire"} <= set(uids)
    _start_drill(chromium, wall_server)
    failures: list[str] = []
    ctx = chromium.new_context(viewport={"width": 1920, "height": 1080})
    try:
        page = ctx.new_page()
        for uid in [u for u in uids if not only or u in only]:
            for lang in ("zh", "en"):
                page.set_viewport_size({"width": 1920, "height": 1080})
                page.goto(f"{wall_server.url}/screen/{uid}?lang={lang}")
                settle(page)
                if shots:
                    Path(shots).mkdir(parents=True, exist_ok=True)
                    page.screenshot(path=str(Path(shots) / f"{prefix}{uid}_{lang}.png"))
                m = page.evaluate(MEASURE, [WALL_TEXT_MIN_PX, WALL_FIGURE_MIN_PX])
                where = f"{uid} ?lang={lang}"
                issues = [f"small {s}" for s in m["small"]] + [f"clipped {c}" for c in m["clipped"]]
                issues += [f"wrapped {w}" for w in m["wrapped"]]
                issues += [f"never rendered: {p}" for p in page.evaluate(
                    "() => Array.from(document.querySelectorAll('#tb-canvas .tb-loading'))"
                    ".map(e => e.closest('[data-panel]').dataset.panel)")]
                issues += [f"1080p {c}" for c in title_collisions(m)]
                page.set_viewport_size({"width": 3840, "height": 2160})
                page.wait_for_timeout(600)          # the canvas refits on the next clock tick
                if shots:
                    page.screenshot(path=str(Path(shots) / f"{prefix}{uid}_{lang}_4k.png"))
                issues += [f"4K {c}" for c in title_collisions(page.evaluate(MEASURE, [WALL_TEXT_MIN_PX,
                                                                                        WALL_FIGURE_MIN_PX]))]
                print(f"\n== {where}: {len(issues)} offenders")
                for i in issues:
                    print("   " + i)
                failures += [f"{where}: {i}" for i in issues]
    finally:
        ctx.close()
    assert not failures, f"{len(failures)} wall-text offenders:\n" + "\n".join(failures[:80])
