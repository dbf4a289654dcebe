"""Chinese labels on deck.gl maps: a TextLayer drawn with the bundled Noto Sans SC subset.

deck.gl draws text from a glyph atlas it renders once per font into a canvas. Two things made CJK
labels come out as blank boxes before: the atlas was drawn before the web font had loaded (the wall
PC has no Chinese system font, so every glyph was a fallback box, and deck.gl caches that atlas), and
``characterSet`` was ``"auto"`` or a pydeck expression, not the labels' characters. Here the layer
names the family of ``assets/fonts.css`` and carries the exact characters of its labels; the client
(assets/twinboard.js) loads that font for those characters before it builds any layer.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

#: The family ``assets/fonts.css`` declares for the bundled subset (scripts/build_font.py).
FONT_FAMILY = "Noto Sans SC Subset"
TEXT_COLOR = [230, 241, 255, 255]
HALO_COLOR = [4, 12, 28, 255]


def character_set(texts: Iterable[Any]) -> list[str]:
    """The sorted distinct characters of ``texts`` (what deck.gl puts in its glyph atlas)."""
    chars: set[str] = set()
    for t in texts:
        if t is not None:
            chars.update(str(t))
    return sorted(chars)


def text_layer(layer_id: str, rows: Sequence[Mapping[str, Any]], *, text: str = "text",
               position: str = "position", size: float = 18, color: Sequence[int] | str = TEXT_COLOR,
               weight: int = 400, offset: Sequence[float] = (0, 0), anchor: str = "middle",
               baseline: str = "center", halo: Sequence[int] | None = HALO_COLOR,
               **extra: Any) -> dict[str, Any]:
    """A deck.gl JSON TextLayer for ``rows`` (each with ``position`` [lon, lat] and ``text``).

    ``size`` is in screen pixels of the 1920×1080 canvas (≥ 16 stays legible on a wall); ``color`` is
    an RGBA list or the name of a row field holding one; ``halo`` an outline colour (None: none).
    Further deck.gl props may be given in camelCase (``getAngle=...``).
    """
    layer: dict[str, Any] = {
        "@@type": "TextLayer", "id": layer_id, "data": list(rows),
        "getPosition": f"@@={position}", "getText": f"@@={text}",
        "getColor": f"@@={color}" if isinstance(color, str) else list(color),
        "getSize": size, "sizeUnits": "pixels", "getPixelOffset": list(offset),
        "getTextAnchor": anchor, "getAlignmentBaseline": baseline,
        "fontFamily": FONT_FAMILY, "fontWeight": weight,
        "characterSet": character_set(r.get(text) for r in rows),
        "billboard": True, "pickable": False,
        # a label stands up from the ground: on a tilted map the ground would cut off its lower half
        "parameters": {"depthWriteEnabled": False, "depthCompare": "always"},
    }
    if halo is not None:
        layer.update(fontSettings={"sdf": True, "fontSize": 64, "buffer": 6, "radius": 12},
                     outlineWidth=3, outlineColor=list(halo))
    layer.update(extra)
    return layer


def screen_xy(lon: float, lat: float, view: Mapping[str, Any], height: float) -> tuple[float, float] | None:
    """Where deck.gl's MapView draws (lon, lat), in pixels from the viewport's centre (x right, y down),
    for ``view`` (longitude, latitude, zoom, pitch, bearing) and a viewport ``height`` px tall (its
    camera is 1.5 heights above the centre); None behind the camera."""
    def world(lo: float, la: float) -> tuple[float, float]:
        la = max(min(la, 85.05), -85.05)
        scale = 512 * 2 ** float(view.get("zoom", 0)) / (2 * math.pi)
        return (scale * (math.radians(lo) + math.pi),
                scale * (math.pi - math.log(math.tan(math.pi / 4 + math.radians(la) / 2))))
    x0, y0 = world(float(view.get("longitude", 0)), float(view.get("latitude", 0)))
    x1, y1 = world(lon, lat)
    dx, dn = x1 - x0, y0 - y1                       # east, north, in pixels at the centre
    b = math.radians(float(view.get("bearing") or 0))
    dx, dn = dx * math.cos(b) - dn * math.sin(b), dx * math.sin(b) + dn * math.cos(b)
    p = math.radians(min(float(view.get("pitch") or 0), 85))
    d = 1.5 * height
    depth = d + dn * math.sin(p)
    if depth <= 1e-6:
        return None
    return dx * d / depth, -dn * math.cos(p) * d / depth


_FLIP = {"bottom": "top", "top": "bottom"}


def _label_box(row: Mapping[str, Any], layer: Mapping[str, Any], view: Mapping[str, Any],
               height: float, flip: bool = False) -> tuple[float, ...] | None:
    pos, text = row.get("position"), row.get("text")
    if not isinstance(pos, (list, tuple)) or len(pos) < 2 or not text:
        return None
    xy = screen_xy(float(pos[0]), float(pos[1]), view, height)
    if xy is None:
        return None
    size = row.get("size") if isinstance(layer.get("getSize"), str) else layer.get("getSize", 18)
    size = float(size or 18)
    dx, dy = (layer.get("getPixelOffset") or [0, 0])[:2]
    w = sum(size if ord(c) > 0x2E7F else 0.6 * size for c in str(text))
    h = 1.2 * size
    anchor, base = layer.get("getTextAnchor", "middle"), layer.get("getAlignmentBaseline", "center")
    if flip:                                   # the label on the other side of its point
        dy, base = -dy, _FLIP.get(base, base)
    x0 = xy[0] + dx - {"start": 0, "middle": w / 2, "end": w}.get(anchor, w / 2)
    y0 = xy[1] + dy - {"top": 0, "center": h / 2, "bottom": h}.get(base, h / 2)
    return x0, y0, x0 + w, y0 + h


def declutter(layers: Sequence[dict[str, Any]], fixed: Iterable[str], view: Mapping[str, Any], height: float = 656,
              later: Iterable[str] = (), gap: float = 3.0) -> list[dict[str, Any]]:
    """``layers`` with the rows of ``text_layer`` labels that would overlap others in ``view`` (deck.gl's
    initial view state, on a viewport ``height`` px tall) left out.

    Labels of the ``fixed`` layers (the base map's town names) always stay; the others are placed in
    priority order, the layer drawn last first (those named in ``later`` after all others). A label
    above its point that would cover one already placed goes below it if there is room there, else
    it is dropped (its point and tooltip stay). An estimate for the initial view: a wall seldom zooms.
    """
    fixed, later = set(fixed), list(later)
    texts = [i for i, layer in enumerate(layers) if layer.get("@@type") == "TextLayer"
             and layer.get("getText") == "@@=text" and layer.get("getPosition") == "@@=position"
             and isinstance(layer.get("data"), list)]
    placed: list[tuple[float, ...]] = []

    def free(box: tuple[float, ...]) -> bool:
        return all(box[2] + gap <= b[0] or b[2] + gap <= box[0] or box[3] + gap <= b[1] or b[3] + gap <= box[1]
                   for b in placed)
    for i in texts:
        if layers[i].get("id") in fixed and layers[i].get("visible") is not False:
            placed.extend(b for r in layers[i]["data"] if (b := _label_box(r, layers[i], view, height)))
    out = list(layers)
    extra: dict[int, dict[str, Any]] = {}
    rank = {lid: n for n, lid in enumerate(later)}
    for i in sorted(reversed(texts), key=lambda i: rank.get(layers[i].get("id"), -1)):
        layer = layers[i]
        if layer.get("id") in fixed or layer.get("visible") is False:
            continue
        keep, flipped = [], []
        can_flip = layer.get("getAlignmentBaseline") in _FLIP and isinstance(layer.get("getPixelOffset"), list)
        for r in layer["data"]:
            box = _label_box(r, layer, view, height)
            if box is None or free(box):
                keep.append(r)
                if box is not None:
                    placed.append(box)
            elif can_flip and free(other := _label_box(r, layer, view, height, flip=True)):  # type: ignore[arg-type]
                flipped.append(r)
                placed.append(other)  # type: ignore[arg-type]
        if len(keep) != len(layer["data"]):
            out[i] = {**layer, "data": keep}
        if flipped:   # one more layer, drawn right after it: the same labels on the other side of their points
            dx, dy = layer["getPixelOffset"][:2]
            extra[i] = {**layer, "id": f"{layer['id']}~below", "data": flipped, "getPixelOffset": [dx, -dy],
                        "getAlignmentBaseline": _FLIP[layer["getAlignmentBaseline"]]}
    return [lay for i, layer in enumerate(out) for lay in ((layer, extra[i]) if i in extra else (layer,))]
