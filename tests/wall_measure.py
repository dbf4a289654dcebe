"""Wall text in a real browser: what ``tests/test_wall_audit.py`` measures in the page of every dashboard
screen at 1920×1080, in Chinese and English. Text is never smaller than the wall minimum (core.api.WALL_TEXT_MIN_PX for tables, lists and body text,
WALL_FIGURE_MIN_PX for key figures), no text is clipped (a list longer than its panel runs as a ticker, a cell
cut with an ellipsis carries its full text as a title), and the title, subtitle and mode badge never overlap
(1080p and 4K). Secondary text (plotly's SVG axis ticks, anything inside ``.tb-secondary``) is exempt: see
docs/plugins.md "Wall text".
"""

from __future__ import annotations

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
  // no Latin word or number is broken across two lines ("Bearin/g", "onlin/e", "5/0°"): a narrow column
  // must shorten, shrink or ellipsise its text instead
  const broken = [], rng = document.createRange();
  const walker = document.createTreeWalker(canvas, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!el || el.closest('svg') || el.closest('.tb-secondary') || el.closest('.tb-hidden') || !visible(el)) continue;
    const re = /[A-Za-z0-9°'’.]{3,}/g;
    for (let m = re.exec(n.textContent); m; m = re.exec(n.textContent)) {
      rng.setStart(n, m.index);
      rng.setEnd(n, m.index + m[0].length);
      const rects = Array.from(rng.getClientRects()).filter(r => r.width > 0.5);
      if (rects.length > 1 && rects[rects.length - 1].top - rects[0].top > 2) {
        broken.push(label(el) + ' "' + m[0] + '"');
        break;
      }
    }
  }
  const box = (sel) => { const el = document.querySelector(sel); if (!el || !el.textContent.trim()) return null;
    const r = el.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
  return {small, clipped, wrapped, broken, title: box('.tb-title'), subtitle: box('.tb-district'), badge: box('#tb-mode'),
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
