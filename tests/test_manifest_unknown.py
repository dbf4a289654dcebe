"""plugin.toml: an unknown key is named with its line and the close match (issue 18, item 7)."""

from pathlib import Path

import pytest

from core.errors import ManifestError
from core.plugins.manager import PluginManager, PluginStatus
from core.plugins.manifest import load_manifest

GOOD = '''name = "acme"
version = "1.2.0"
api_version = ">=1.0,<2"
[title]
zh = "示例"
en = "Example"
'''


def _write(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "acme"
    folder.mkdir()
    (folder / "plugin.toml").write_text(text, encoding="utf-8")
    return folder / "plugin.toml"


def test_typo_api_dash_version_names_the_unknown_key_its_line_and_the_match(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD.replace("api_version =", "api-version ="))
    with pytest.raises(ManifestError) as err:
        load_manifest(path, expected_name="acme")
    msg = str(err.value)
    assert msg == (f"{path}:3: field 'api-version': unknown key 'api-version' (did you mean 'api_version'?)")
    assert err.value.line == 3 and err.value.field == "api-version"


def test_unknown_key_inside_title_table_names_its_line(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD + 'zn = "typo"\n')
    with pytest.raises(ManifestError) as err:
        load_manifest(path, expected_name="acme")
    assert str(err.value) == f"{path}:7: field 'title.zn': unknown key 'title.zn' (did you mean 'zh'?)"


def test_unknown_table_and_unrelated_key_list_the_known_keys(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD + "[colours]\nbg = 'navy'\n")
    with pytest.raises(ManifestError) as err:
        load_manifest(path, expected_name="acme")
    msg = str(err.value)
    assert msg.startswith(f"{path}:7: field 'colours': unknown key 'colours' (known keys: ")
    assert "api_version" in msg and "settings" in msg


def test_a_folder_plugin_with_the_typo_is_failed_with_that_message(tmp_path: Path) -> None:
    _write(tmp_path, GOOD.replace("api_version =", "api-version ="))
    manager = PluginManager()
    manager.discover_folder(tmp_path)
    record = manager.records["acme"]
    assert record.status == PluginStatus.FAILED and record.module is None
    assert "plugin.toml:3: field 'api-version': unknown key 'api-version' (did you mean 'api_version'?)" \
        in record.error
