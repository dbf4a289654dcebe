"""Map symbols (core/web/icons.py): the committed atlas and CSS are what the shapes draw, icon layers refuse
unknown names; fit_view frames points whole on a tilted map."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from core.api import ICON_NAMES, fit_view, icon_layer
from core.web import icons
from core.web.labels import screen_xy


def test_atlas_and_css_are_drawn_from_the_shapes() -> None:
    committed = Image.open(icons.ASSETS / icons.ATLAS_FILE)
    drawn = Image.open(io.BytesIO(icons.draw_atlas()))
    assert committed.size == drawn.size == (icons.CELL * len(ICON_NAMES), icons.CELL), \
        "assets/tb-icons.png is out of date: run `.venv/bin/python -m core.web.icons`"
    a, b = committed.getchannel("A").tobytes(), drawn.getchannel("A").tobytes()
    assert max(abs(x - y) for x, y in zip(a, b)) <= 2, "assets/tb-icons.png is out of date: run `python -m core.web.icons`"
    assert (icons.ASSETS / icons.CSS_FILE).read_text(encoding="utf-8") == icons.icons_css(), \
        "assets/tb-icons.css is out of date: run `.venv/bin/python -m core.web.icons`"
    assert (icons.ASSETS / icons.ATLAS_FILE).stat().st_size < 30_000
    # every cell holds a glyph, white, and the glyphs differ from each other
    cells = [committed.crop((i * icons.CELL, 0, (i + 1) * icons.CELL, icons.CELL)) for i in range(len(ICON_NAMES))]
    for name, cell in zip(ICON_NAMES, cells):
        alpha = cell.getchannel("A")
        assert sum(1 for v in alpha.tobytes() if v > 128) > 0.05 * icons.CELL ** 2, name
        assert alpha.getpixel((0, 0)) == 0, f"{name}: touches its cell's corner"
        assert cell.getchannel("L").getextrema() == (255, 255), name
    masks = [bytes(v > 128 for v in c.getchannel("A").tobytes()) for c in cells]
    assert len(set(masks)) == len(masks)


def test_icon_layer_is_a_tinted_pickable_icon_layer_and_names_a_bad_icon() -> None:
    layer = icon_layer("depots", [{"position": [121.4, 28.6], "name": "库"}], icon="square", color=[1, 2, 3, 255])
    assert layer["@@type"] == "IconLayer" and layer["pickable"] and layer["getColor"] == [1, 2, 3, 255]
    assert layer["data"][0]["icon"] == "square" and layer["iconMapping"]["square"]["mask"] is True
    assert layer["iconAtlas"].startswith("/assets/tb-icons.png?v=")
    rows = [{"position": [0, 0], "icon": "star"}, {"position": [0, 0], "icon": "flame"}]
    with pytest.raises(ValueError, match=r"mine row 1: unknown icon 'flame'"):
        icon_layer("mine", rows)
    with pytest.raises(ValueError, match=r"mine: unknown icon 'flame'"):
        icon_layer("mine", rows[:1], icon="flame")


@pytest.mark.parametrize("pitch,bearing,padding", [(0, 0, 40), (45, -10, (60, 40, 30, 220)), (60, 30, 20)])
def test_fit_view_shows_every_point_clear_of_the_padding(pitch, bearing, padding) -> None:
    pts = [(121.30, 28.60), (121.52, 28.71), (121.41, 28.75), (121.46, 28.58)]
    w, h = 918, 572
    view = fit_view(pts, width=w, height=h, pitch=pitch, bearing=bearing, padding=padding)
    top, right, bottom, left = [padding] * 4 if isinstance(padding, int) else padding
    xy = [screen_xy(lon, lat, view, h) for lon, lat in pts]
    assert all(-w / 2 + left - 1 <= x <= w / 2 - right + 1 and -h / 2 + top - 1 <= y <= h / 2 - bottom + 1
               for x, y in xy), (view, xy)
    # the largest such zoom: one step closer, some point leaves the free box
    closer = {**view, "zoom": view["zoom"] + 0.1}
    xy = [screen_xy(lon, lat, closer, h) for lon, lat in pts]
    assert not all(-w / 2 + left <= x <= w / 2 - right and -h / 2 + top <= y <= h / 2 - bottom for x, y in xy)
    assert fit_view(pts, width=w, height=h, pitch=pitch, bearing=bearing, padding=padding) == view


def test_fit_view_bad_input() -> None:
    with pytest.raises(ValueError, match="no points"):
        fit_view([], width=100, height=100)
    with pytest.raises(ValueError, match="leaves no room"):
        fit_view([(121, 28)], width=100, height=100, padding=(10, 60, 10, 60))
    one = fit_view([(121.4, 28.6)], width=500, height=400, max_zoom=15)
    assert one["zoom"] == 15 and one["longitude"] == pytest.approx(121.4) and one["latitude"] == pytest.approx(28.6)
