"""Wall text: the smallest text a big screen may show, and the lint that holds panels and dashboards to it.

Sizes are CSS pixels of the 1920×1080 design canvas. The browser scales the whole canvas uniformly
(``assets/twinboard.js`` ``fitCanvas``), so 16 px here is 32 device pixels on a 3840×2160 wall: the
minimum scales with the screen like the rest of the theme.

What is enforced where:

* a panel's rendered tree (Dash components) with an inline ``fontSize`` below the minimum, outside an
  element marked secondary (className ``tb-secondary``), is a problem ``twinboard check-config`` reports
  (``lint_component``, run on every placed panel by ``lint_dashboard_panels``);
* a dashboard placement option that sets a text size (a key ending in ``font_px``) below the minimum is
  refused when the dashboard loads (``core.web.dashboards``), naming file, line and field;
* ``tests/test_wall_audit.py`` measures every screen in Chromium, zh and en: computed sizes, clipped text
  and the title bar.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

#: tables, lists and body text on a wall (CSS px at 1080p)
WALL_TEXT_MIN_PX = 16
#: key figures (``tb-kpi-value``): the numbers a leader reads from across the room
WALL_FIGURE_MIN_PX = 24
#: the class that marks text as secondary (a footnote, a unit under a chart); exempt from the minimum
SECONDARY_CLASS = "tb-secondary"

_PX = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*(px)?\s*$")


def font_px(value: Any) -> float | None:
    """A font size in px from a style value (``14``, ``"14px"``); None for relative sizes (em, %, clamp())."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        m = _PX.match(value)
        if m:
            return float(m.group(1))
    return None


def _children(node: Any) -> list[Any]:
    kids = getattr(node, "children", None)
    if kids is None:
        return []
    return list(kids) if isinstance(kids, (list, tuple)) else [kids]


def _walk(node: Any, path: str, secondary: bool) -> Iterator[tuple[Any, str, bool]]:
    if isinstance(node, (list, tuple)):
        for i, n in enumerate(node):
            yield from _walk(n, f"{path}[{i}]", secondary)
        return
    if not hasattr(node, "to_plotly_json"):
        return
    cls = getattr(node, "className", None) or ""
    secondary = secondary or SECONDARY_CLASS in str(cls).split()
    name = f"{path}/{type(node).__name__}" + (f".{cls.split()[0]}" if cls else "")
    yield node, name, secondary
    for i, kid in enumerate(_children(node)):
        yield from _walk(kid, f"{name}[{i}]", secondary)


def _text_of(node: Any) -> str:
    kids = _children(node)
    return "".join(k for k in kids if isinstance(k, str)).strip()[:30]


def lint_component(tree: Any) -> list[str]:
    """Inline font sizes below the wall minimum in a Dash component tree, one line each (where and how small).

    An element whose className has ``tb-kpi-value`` must reach ``WALL_FIGURE_MIN_PX``; every other one
    ``WALL_TEXT_MIN_PX``; anything inside a ``tb-secondary`` element is exempt.
    """
    out: list[str] = []
    for node, name, secondary in _walk(tree, "", False):
        if secondary:
            continue
        style = getattr(node, "style", None) or {}
        px = font_px(style.get("fontSize", style.get("font-size"))) if isinstance(style, dict) else None
        if px is None:
            continue
        need = WALL_FIGURE_MIN_PX if "tb-kpi-value" in str(getattr(node, "className", "") or "") else WALL_TEXT_MIN_PX
        if px < need:
            text = _text_of(node)
            out.append(f"{name}: font size {px:g}px < {need}px" + (f" ({text!r})" if text else ""))
    return out


def lint_options(options: dict[str, Any]) -> list[tuple[str, str]]:
    """(option key, problem) for placement options that set a text size below the minimum (keys ending in
    ``font_px``)."""
    out = []
    for key, value in options.items():
        if key.endswith("font_px"):
            px = font_px(value)
            if px is None:
                out.append((key, f"{key} must be a size in px, got {value!r}"))
            elif px < WALL_TEXT_MIN_PX:
                out.append((key, f"{key}={px:g} is below the wall text minimum of {WALL_TEXT_MIN_PX}px"))
    return out


def lint_dashboard_panels(host: Any, boards: dict[str, Any]) -> list[str]:
    """Render every placed panel of ``boards`` once (as the screen does, zh and en) and lint its tree.

    A panel that fails to render is left to the panel-fault machinery (the screen shows its error card);
    this lint is about text size only.
    """
    from core.web.screen_callbacks import render_panel
    problems: list[str] = []
    dashboards = {uid: (v[0] if isinstance(v, tuple) else v) for uid, v in boards.items()}
    for uid, board in sorted(dashboards.items()):
        for p in board.panels:
            seen: set[str] = set()
            for locale in ("zh_CN", "en"):
                try:
                    body, *_ = render_panel(host, dashboards, {"uid": uid, "key": p.key, "locale": locale})
                except Exception:  # noqa: BLE001 - see the docstring
                    continue
                for line in lint_component(body):
                    if line not in seen:
                        seen.add(line)
                        problems.append(f"dashboard {uid} panel {p.key} ({p.panel}): {line}")
    return problems
