"""Dashboards and playlists as code: errors name file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.web.dashboards import load_dashboard, load_dashboards, load_playlists
from core.errors import ConfigError

GOOD = """uid: ops
title: {zh: 值班, en: Duty}
panels:
  - key: a
    panel: alerts.list
    x: 0
    y: 100
    w: 400
    h: 300
"""


def write(tmp_path: Path, text: str, name: str = "ops.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_valid_dashboard(tmp_path: Path) -> None:
    d = load_dashboard(write(tmp_path, GOOD))
    assert d.uid == "ops" and d.canvas.width == 1920 and d.panels[0].plugin == "alerts"


def test_typo_in_field_names_file_line_field(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("    w: 400", "    width: 400"))
    with pytest.raises(ConfigError) as err:
        load_dashboard(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}:") and "panels.0" in msg


def test_unknown_field_line_number(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD + "refersh_s: 5\n")
    with pytest.raises(ConfigError) as err:
        load_dashboard(path)
    assert err.value.line == 10 and err.value.field == "refersh_s" and "unknown field" in str(err.value)


def test_bad_type_names_value(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("y: 100", "y: top"))
    with pytest.raises(ConfigError) as err:
        load_dashboard(path)
    assert err.value.line == 7 and err.value.field == "panels.0.y" and "'top'" in str(err.value)


def test_panel_outside_canvas(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("x: 0", "x: 1700"))
    with pytest.raises(ConfigError) as err:
        load_dashboard(path)
    assert err.value.field == "panels.0.w" and err.value.line == 8 and "canvas width 1920" in str(err.value)


def test_yaml_syntax_error_line(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("title: {zh: 值班, en: Duty}", "title: {zh: 值班, en: Duty"))
    with pytest.raises(ConfigError, match=r"ops.yaml:\d+: YAML syntax error"):
        load_dashboard(path)


def test_duplicate_uid(tmp_path: Path) -> None:
    write(tmp_path, GOOD, "a.yaml")
    write(tmp_path, GOOD, "b.yaml")
    with pytest.raises(ConfigError, match=r"b.yaml:1: field 'uid': uid 'ops' is already used"):
        load_dashboards(tmp_path)


def test_playlist_unknown_dashboard(tmp_path: Path) -> None:
    boards = load_dashboards(Path(write(tmp_path, GOOD)).parent)
    pl = write(tmp_path, "playlists:\n  - uid: w\n    title: {zh: 轮播, en: Wall}\n    items:\n"
                         "      - {dashboard: opz, seconds: 30}\n", "playlists.yml")
    with pytest.raises(ConfigError) as err:
        load_playlists(pl, boards)
    assert err.value.line == 5 and "unknown dashboard 'opz'" in str(err.value)


def test_repository_dashboards_are_valid() -> None:
    root = Path(__file__).resolve().parent.parent
    boards = load_dashboards(root / "config" / "dashboards")
    assert "demo" in boards
    assert load_playlists(root / "config" / "playlists.yaml", boards)
