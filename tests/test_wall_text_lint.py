"""The wall-text lint without a browser: inline sizes in a panel's tree, placement options, the title's size."""

from __future__ import annotations

from pathlib import Path

import pytest
from dash import html

from core.api import SECONDARY_CLASS, WALL_FIGURE_MIN_PX, WALL_TEXT_MIN_PX
from core.errors import ConfigError
from core.web.dashboards import load_dashboard
from core.web.screen import TITLE_MAX_PX, TITLE_MIN_PX, title_font_px
from core.web.walltext import font_px, lint_component


def test_lint_names_each_small_inline_size_and_spares_secondary_text() -> None:
    tree = html.Div([
        html.Table([html.Tr([html.Td("液氯", style={"fontSize": "13px"}), html.Td("ok", style={"fontSize": "16px"})])]),
        html.Span("42", className="tb-kpi-value", style={"fontSize": f"{WALL_FIGURE_MIN_PX - 4}px"}),
        html.Div(className=SECONDARY_CLASS, children=[html.Span("模型局限", style={"fontSize": "12px"})]),
        html.Span("em is relative", style={"fontSize": "0.8em"}),
    ])
    problems = lint_component(tree)
    assert len(problems) == 2, problems
    assert "13px < 16px" in problems[0] and "液氯" in problems[0] and "/Td" in problems[0]
    assert f"{WALL_FIGURE_MIN_PX - 4}px < {WALL_FIGURE_MIN_PX}px" in problems[1]
    assert lint_component(html.Div("big enough", style={"fontSize": f"{WALL_TEXT_MIN_PX}px"})) == []
    assert font_px(14) == 14 and font_px("15.5px") == 15.5 and font_px("clamp(1px, 2vw, 3px)") is None


def test_a_placement_option_under_the_minimum_is_refused_with_file_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "d.yaml"
    path.write_text("uid: d\ntitle: {zh: 测试, en: Test}\npanels:\n"
                    "  - {key: a, panel: alerts.list, x: 0, y: 0, w: 400, h: 300}\n"
                    "  - key: b\n    panel: alerts.list\n    x: 0\n    y: 300\n    w: 400\n    h: 300\n"
                    "    options: {row_font_px: 12}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_dashboard(path)
    text = str(err.value)
    assert "d.yaml" in text and "panels.1.options" in text and "row_font_px=12" in text and "16px" in text
    path.write_text(path.read_text(encoding="utf-8").replace("row_font_px: 12", "row_font_px: 18"), encoding="utf-8")
    assert load_dashboard(path).panels[1].options == {"row_font_px": 18}


def test_the_title_shrinks_to_its_room_and_not_below_the_floor() -> None:
    assert title_font_px("椒江区应急指挥一张图", 1920) == TITLE_MAX_PX
    long_en = "Jiaojiang small-enterprise park brain (demo) and a great deal more to say here"
    size = title_font_px(long_en, 1920)
    assert TITLE_MIN_PX <= size < TITLE_MAX_PX
    assert title_font_px(long_en * 4, 1920) == TITLE_MIN_PX
    assert title_font_px(long_en, 3840) == TITLE_MAX_PX     # a wider design canvas has the room


def test_a_long_panel_title_stays_on_one_line_smaller_then_with_an_ellipsis() -> None:
    from core.web.screen import PANEL_TITLE_MAX_PX, PANEL_TITLE_MIN_PX, _panel_title, panel_title_px
    short = _panel_title("应急一张图", 900)
    assert "fontSize" not in (getattr(short, "style", None) or {})
    long_ = _panel_title("Soonest teams and surroundings", 460)        # wrapped onto two lines before
    assert PANEL_TITLE_MIN_PX <= int(long_.style["fontSize"].removesuffix("px")) < PANEL_TITLE_MAX_PX
    assert long_.title == "Soonest teams and surroundings"              # the full text when it is cut
    assert panel_title_px("A very long English panel title that cannot fit in a narrow panel", 300) == PANEL_TITLE_MIN_PX
