"""plugin.toml validation: errors name the file, the line and the field."""

from pathlib import Path

import pytest

from core.errors import ManifestError
from core.plugins.manifest import load_manifest

GOOD = '''name = "acme"
version = "1.2.0"
api_version = ">=1.0,<2"
[title]
zh = "示例"
en = "Example"
'''


def write(tmp_path: Path, text: str, folder: str = "acme") -> Path:
    d = tmp_path / folder
    d.mkdir()
    (d / "plugin.toml").write_text(text, encoding="utf-8")
    return d / "plugin.toml"


def test_valid_manifest(tmp_path: Path) -> None:
    m = load_manifest(write(tmp_path, GOOD), expected_name="acme")
    assert m.name == "acme" and m.title.get("en") == "Example" and m.accepts_api("1.0")
    assert not m.accepts_api("2.0")


def test_bad_version_names_file_line_and_field(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace('"1.2.0"', '"one"'))
    with pytest.raises(ManifestError) as err:
        load_manifest(path, expected_name="acme")
    msg = str(err.value)
    assert str(path) + ":2" in msg and "field 'version'" in msg and "PEP 440" in msg


def test_missing_title_and_unknown_field(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.split("[title]")[0] + 'colour = "red"\n')
    with pytest.raises(ManifestError) as err:
        load_manifest(path, expected_name="acme")
    assert "field 'title'" in str(err.value) or "field 'colour'" in str(err.value)


def test_name_must_equal_folder(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD, folder="other")
    with pytest.raises(ManifestError, match=r"plugin.toml:1: field 'name': name 'acme' must equal"):
        load_manifest(path, expected_name="other")


def test_invalid_toml_gives_line(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD + "broken = [\n")
    with pytest.raises(ManifestError, match=r"plugin.toml:\d+: not valid TOML"):
        load_manifest(path, expected_name="acme")


def test_bad_api_range(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="field 'api_version'"):
        load_manifest(write(tmp_path, GOOD.replace(">=1.0,<2", "one-ish")), expected_name="acme")
