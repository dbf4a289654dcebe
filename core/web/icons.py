"""Map symbols: one set of shapes drawn as deck.gl icons on the maps and as the legend chips' symbols.

Each shape (``ICON_NAMES``) is a white glyph in one cell of an atlas, ``assets/tb-icons.png``, served
locally with the other assets (no CDN). A map draws it with deck.gl's IconLayer in ``mask`` mode, so
the row's colour tints it (``icon_layer``); a legend chip (``tbLegend`` item with ``"icon"``) shows
the same cell through a CSS mask (``assets/tb-icons.css``, class ``tb-icon tb-icon-<name>``) in the
chip's colour. Shape as well as colour tells the layers apart: a colour-blind viewer, or one across
the room, reads the shape.

Both files are drawn from the shapes here with Pillow: ``python -m core.web.icons`` writes them again
after a shape is changed or added (tests/test_map_icons.py checks that they are current).
"""

from __future__ import annotations

import hashlib
import io
import math
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

ASSETS = Path(__file__).resolve().parents[2] / "assets"
ATLAS_FILE = "tb-icons.png"
CSS_FILE = "tb-icons.css"
#: pixels of one atlas cell (the icon is drawn smaller than this on a wall: crisp up to ×3 device pixels)
CELL = 64
#: size of a legend chip's symbol, CSS pixels of the 1920×1080 canvas
CHIP_PX = 18
_SUPER = 4          # glyphs are drawn 4× larger and scaled down: smooth edges


def _regular(n: int, r: float, cx: float = 0.5, cy: float = 0.5, start: float = -90.0) -> list[tuple[float, float]]:
    return [(cx + r * math.cos(math.radians(start + i * 360 / n)), cy + r * math.sin(math.radians(start + i * 360 / n)))
            for i in range(n)]


def _star(points: int = 5, outer: float = 0.5, inner: float = 0.21, cy: float = 0.54) -> list[tuple[float, float]]:
    out = []
    for i in range(points * 2):
        r = outer if i % 2 == 0 else inner
        a = math.radians(-90 + i * 180 / points)
        out.append((0.5 + r * math.cos(a), cy + r * math.sin(a)))
    return out


def _drop() -> list[tuple[float, float]]:
    cx, cy, r, apex = 0.5, 0.64, 0.31, 0.03
    d = cy - apex
    t = math.asin(r / d)           # where the sides touch the round bottom
    out = [(cx, apex)]
    for i in range(41):            # the arc from the right tangent point round the bottom to the left one
        a = -t + (math.pi + 2 * t) * i / 40
        out.append((cx + r * math.cos(a), cy + r * math.sin(a)))
    return out


def _shield() -> list[tuple[float, float]]:
    out = [(0.1, 0.06), (0.9, 0.06), (0.9, 0.46)]
    for i in range(1, 21):         # curved sides meeting in a point at the bottom
        s = i / 20
        out.append((0.9 - 0.4 * s, 0.46 + 0.5 * math.sin(s * math.pi / 2)))
    for i in range(19, 0, -1):
        s = i / 20
        out.append((0.1 + 0.4 * s, 0.46 + 0.5 * math.sin(s * math.pi / 2)))
    out.append((0.1, 0.46))
    return out


def _rotated(poly: Sequence[tuple[float, float]], deg: float) -> list[tuple[float, float]]:
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return [(0.5 + (x - 0.5) * c - (y - 0.5) * s, 0.5 + (x - 0.5) * s + (y - 0.5) * c) for x, y in poly]


_PLUS = [(0.33, 0.06), (0.67, 0.06), (0.67, 0.33), (0.94, 0.33), (0.94, 0.67), (0.67, 0.67), (0.67, 0.94),
         (0.33, 0.94), (0.33, 0.67), (0.06, 0.67), (0.06, 0.33), (0.33, 0.33)]
_BAR = [(0.36, 0.0), (0.64, 0.0), (0.64, 1.0), (0.36, 1.0)]

#: name → list of (operation, shape): "fill" or "cut" a polygon ([(x, y)] in a 0..1 cell, y down) or an
#: ellipse (("ellipse", x0, y0, x1, y1)); drawn in order
SHAPES: dict[str, list[tuple[str, Any]]] = {
    "circle": [("fill", ("ellipse", 0.08, 0.08, 0.92, 0.92))],
    "ring": [("fill", ("ellipse", 0.06, 0.06, 0.94, 0.94)), ("cut", ("ellipse", 0.26, 0.26, 0.74, 0.74))],
    "square": [("fill", [(0.12, 0.12), (0.88, 0.12), (0.88, 0.88), (0.12, 0.88)])],
    "diamond": [("fill", [(0.5, 0.02), (0.98, 0.5), (0.5, 0.98), (0.02, 0.5)])],
    "triangle": [("fill", [(0.5, 0.06), (0.96, 0.9), (0.04, 0.9)])],
    # a warning sign: a triangle with an exclamation mark cut out of it
    "warning": [("fill", [(0.5, 0.02), (0.99, 0.93), (0.01, 0.93)]),
                ("cut", [(0.42, 0.3), (0.58, 0.3), (0.555, 0.64), (0.445, 0.64)]),
                ("cut", ("ellipse", 0.42, 0.7, 0.58, 0.86))],
    "cross": [("fill", _PLUS)],
    "x": [("fill", _rotated(_PLUS, 45))],
    "star": [("fill", _star())],
    "hexagon": [("fill", _regular(6, 0.48, start=-90))],
    # a house: roof and walls, with a door cut out
    "house": [("fill", [(0.5, 0.04), (0.97, 0.48), (0.84, 0.48), (0.84, 0.94), (0.16, 0.94), (0.16, 0.48),
                        (0.03, 0.48)]), ("cut", [(0.41, 0.62), (0.59, 0.62), (0.59, 0.94), (0.41, 0.94)])],
    "shield": [("fill", _shield())],
    "drop": [("fill", _drop())],
    # a video camera: the body and its lens
    "camera": [("fill", [(0.04, 0.26), (0.64, 0.26), (0.64, 0.78), (0.04, 0.78)]),
               ("fill", [(0.64, 0.52), (0.97, 0.24), (0.97, 0.8)])],
    # a line (a legend's symbol for a path layer: roads, routes)
    "line": [("fill", _rotated(_BAR, 90))],
}
ICON_NAMES: tuple[str, ...] = tuple(SHAPES)


def draw_atlas() -> bytes:
    """The atlas PNG: one ``CELL``-pixel cell per icon, left to right in ``ICON_NAMES`` order, white
    with the glyph in the alpha channel (deck.gl's ``mask`` mode and CSS masks read the alpha)."""
    from PIL import Image, ImageDraw

    big = CELL * _SUPER
    alpha = Image.new("L", (big * len(ICON_NAMES), big), 0)
    draw = ImageDraw.Draw(alpha)
    pad = 0.04 * big          # a margin inside each cell: neighbours never bleed into a glyph when scaled
    span = big - 2 * pad
    for i, name in enumerate(ICON_NAMES):
        x0 = i * big + pad

        def at(x: float, y: float) -> tuple[float, float]:
            return x0 + x * span, pad + y * span
        for op, shape in SHAPES[name]:
            fill = 255 if op == "fill" else 0
            if isinstance(shape, tuple) and shape[0] == "ellipse":
                draw.ellipse([*at(shape[1], shape[2]), *at(shape[3], shape[4])], fill=fill)
            else:
                draw.polygon([at(x, y) for x, y in shape], fill=fill)
    alpha = alpha.resize((CELL * len(ICON_NAMES), CELL), Image.LANCZOS)
    img = Image.new("LA", alpha.size, 255)
    img.putalpha(alpha)
    out = io.BytesIO()
    img.save(out, format="PNG", optimize=True)
    return out.getvalue()


def icons_css() -> str:
    """The legend's icon classes: ``tb-icon`` (a square masked by the atlas, filled with its
    ``background-color``) and ``tb-icon-<name>`` (the cell)."""
    n, px = len(ICON_NAMES), CHIP_PX
    lines = [
        "/* generated by `python -m core.web.icons` from core/web/icons.py: do not edit by hand */",
        "/* a map symbol in a legend chip: the atlas cell of the same icon the map draws, in the chip's colour */",
        f".tb-icon {{ display: inline-block; flex: none; width: {px}px; height: {px}px; background-color: currentColor;",
        f'  -webkit-mask-image: url("{ATLAS_FILE}"); mask-image: url("{ATLAS_FILE}");',
        "  -webkit-mask-repeat: no-repeat; mask-repeat: no-repeat;",
        f"  -webkit-mask-size: {n * px}px {px}px; mask-size: {n * px}px {px}px; }}",
    ]
    for i, name in enumerate(ICON_NAMES):
        pos = f"{-i * px}px 0" if i else "0 0"
        lines.append(f".tb-icon-{name} {{ -webkit-mask-position: {pos}; mask-position: {pos}; }}")
    return "\n".join(lines) + "\n"


@lru_cache(maxsize=1)
def atlas_url() -> str:
    """The atlas's URL, with a digest of its bytes: a browser never keeps a stale atlas after a change."""
    path = ASSETS / ATLAS_FILE
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:10] if path.exists() else "missing"
    return f"/assets/{ATLAS_FILE}?v={digest}"


def icon_mapping() -> dict[str, dict[str, Any]]:
    """deck.gl's ``iconMapping`` for the atlas: each icon's cell, tinted by the layer's colour (``mask``)."""
    return {name: {"x": i * CELL, "y": 0, "width": CELL, "height": CELL, "mask": True}
            for i, name in enumerate(ICON_NAMES)}


def icon_layer(layer_id: str, rows: Sequence[Mapping[str, Any]], *, icon: str | None = None,
               position: str = "position", color: Sequence[int] | str = "color", size: float = 22,
               **extra: Any) -> dict[str, Any]:
    """A deck.gl JSON IconLayer drawing each row (``position`` [lon, lat]) as a map symbol.

    ``icon`` is one of ``ICON_NAMES`` for every row; without it each row names its own in an ``"icon"``
    field. ``color`` is an RGB(A) list or the name of a row field holding one (default ``"color"``);
    ``size`` is in screen pixels of the 1920×1080 canvas (≥ 18 reads on a wall). Rows keep their other
    fields (``name``/``info`` for the tooltip, ``id`` for a click). The layer is pickable; further
    deck.gl props may be given in camelCase. Raises ``ValueError`` naming the layer and row of an
    unknown icon.
    """
    if icon is not None and icon not in SHAPES:
        raise ValueError(f"{layer_id}: unknown icon {icon!r} (one of {', '.join(ICON_NAMES)})")
    data = []
    for n, row in enumerate(rows):
        name = icon if icon is not None else row.get("icon")
        if name not in SHAPES:
            raise ValueError(f"{layer_id} row {n}: unknown icon {name!r} (one of {', '.join(ICON_NAMES)})")
        data.append({**row, "icon": name})
    layer: dict[str, Any] = {
        "@@type": "IconLayer", "id": layer_id, "data": data,
        "getPosition": f"@@={position}", "getIcon": "@@=icon",
        "getColor": f"@@={color}" if isinstance(color, str) else list(color),
        "getSize": size, "sizeUnits": "pixels", "iconAtlas": atlas_url(), "iconMapping": icon_mapping(),
        "billboard": True, "alphaCutoff": 0.05, "pickable": True,
        # a symbol stands up from the ground like a label: on a tilted map the ground would cut off its lower half
        "parameters": {"depthWriteEnabled": False, "depthCompare": "always"},
    }
    layer.update(extra)
    return layer


def write_assets(folder: Path = ASSETS) -> list[Path]:
    """Write the atlas and its CSS into ``folder`` (the host's assets)."""
    atlas, css = folder / ATLAS_FILE, folder / CSS_FILE
    atlas.write_bytes(draw_atlas())
    css.write_text(icons_css(), encoding="utf-8")
    atlas_url.cache_clear()
    return [atlas, css]


if __name__ == "__main__":  # pragma: no cover - a maintainer's command
    for p in write_assets():
        print(f"{p} {p.stat().st_size} bytes")
