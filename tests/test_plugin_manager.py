"""Discovery, validation, allow-list, tracing and fault containment of plugins."""

from __future__ import annotations

import logging
import textwrap
from pathlib import Path

import pytest

from core import PLUGIN_API_VERSION
from core.plugins.manager import PluginManager, PluginStatus, build_plugin_manager
from core.plugins.testing import temp_settings

MANIFEST = '''name = "{name}"
version = "0.1.0"
api_version = "{api}"
[title]
zh = "测试"
en = "Test"
'''


def make_plugin(root: Path, name: str, code: str, api: str = ">=1.0,<2") -> Path:
    d = root / name
    d.mkdir(parents=True)
    (d / "plugin.toml").write_text(MANIFEST.format(name=name, api=api), encoding="utf-8")
    (d / "__init__.py").write_text(textwrap.dedent(code), encoding="utf-8")
    return d


GOOD = """
from core.api import hookimpl, PanelSpec
@hookimpl
def register_panels():
    return [PanelSpec("{name}.p", "面板", "Panel", lambda ctx: "ok")]
"""


def test_folder_plugins_are_discovered(tmp_path: Path) -> None:
    make_plugin(tmp_path, "good_one", GOOD.format(name="good_one"))
    pm = PluginManager()
    pm.discover_folder(tmp_path)
    rec = pm.records["good_one"]
    assert rec.status == PluginStatus.ENABLED and rec.origin == "folder"
    assert pm.call("good_one", "register_panels", settings=None)[0].id == "good_one.p"


def test_import_error_marks_failed_with_traceback(tmp_path: Path) -> None:
    make_plugin(tmp_path, "broken", "import nonexistent_module_xyz\n")
    make_plugin(tmp_path, "fine", GOOD.format(name="fine"))
    pm = PluginManager()
    pm.discover_folder(tmp_path)
    assert pm.records["broken"].status == PluginStatus.FAILED
    assert "nonexistent_module_xyz" in pm.records["broken"].traceback
    assert pm.records["fine"].status == PluginStatus.ENABLED


def test_incompatible_api_refused_with_clear_message(tmp_path: Path) -> None:
    make_plugin(tmp_path, "future", GOOD.format(name="future"), api=">=2.0")
    pm = PluginManager()
    pm.discover_folder(tmp_path)
    rec = pm.records["future"]
    assert rec.status == PluginStatus.INCOMPATIBLE and rec.module is None
    assert rec.error == f"plugin 'future' requires plugin API >=2.0, this host provides {PLUGIN_API_VERSION}"


def test_unknown_hook_is_rejected(tmp_path: Path) -> None:
    make_plugin(tmp_path, "typo", """
        from core.api import hookimpl
        @hookimpl
        def register_panel():
            return []
    """)
    pm = PluginManager()
    pm.discover_folder(tmp_path)
    rec = pm.records["typo"]
    assert rec.status == PluginStatus.FAILED and "register_panel" in rec.error and "does not exist" in rec.error
    assert not pm.pm.get_plugins() or all(p is not None for p in pm.pm.get_plugins())
    pm.pm.check_pending()  # nothing pending is left behind


def test_hook_that_raises_fails_only_that_plugin(tmp_path: Path) -> None:
    make_plugin(tmp_path, "raiser", """
        from core.api import hookimpl
        @hookimpl
        def register_panels():
            raise RuntimeError("boom in hook")
    """)
    make_plugin(tmp_path, "other", GOOD.format(name="other"))
    pm = PluginManager()
    pm.discover_folder(tmp_path)
    assert pm.call("raiser", "register_panels", settings=None) is None
    assert pm.records["raiser"].status == PluginStatus.FAILED and "boom in hook" in pm.records["raiser"].traceback
    assert pm.call("other", "register_panels", settings=None)[0].id == "other.p"


def test_allowlist_limits_loaded_plugins(tmp_path: Path) -> None:
    make_plugin(tmp_path, "aaa", GOOD.format(name="aaa"))
    make_plugin(tmp_path, "bbb", GOOD.format(name="bbb"))
    pm = PluginManager(allowlist=["bbb"])
    pm.discover_folder(tmp_path)
    assert list(pm.records) == ["bbb"]


def test_allowlist_from_environment(tmp_path: Path) -> None:
    from core.settings import load_settings
    settings = load_settings(env={"TWINBOARD_PLUGINS": "alerts", "TWINBOARD_TRACE_PLUGINS": "1"})
    assert settings.plugin_allowlist == ["alerts"] and settings.trace_plugins


def test_trace_switch_logs_hook_calls(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    make_plugin(tmp_path, "traced", GOOD.format(name="traced"))
    pm = PluginManager(trace=True)
    pm.discover_folder(tmp_path)
    with caplog.at_level(logging.INFO, logger="core.plugins.manager"):
        pm.call("traced", "register_panels", settings=None)
    assert any("register_panels" in r.getMessage() for r in caplog.records)


def test_entry_point_plugin_is_discovered() -> None:
    """The example package under examples/ is pip-installed by `make test` and found through its entry point."""
    import importlib.metadata
    names = [ep.name for ep in importlib.metadata.entry_points(group="twinboard.plugins")]
    if "example_weather" not in names:
        pytest.fail("examples/twinboard-example-weather is not installed; run the suite through `make test`")
    pm = PluginManager()
    pm.discover_entry_points()
    rec = pm.records["example_weather"]
    assert rec.origin == "entry-point" and rec.status == PluginStatus.ENABLED
    assert rec.manifest is not None and rec.manifest.name == "example_weather"


def test_builtin_plugins_load_like_third_party(tmp_path: Path) -> None:
    settings = temp_settings(tmp_path, plugins_dir=Path(__file__).parent.parent / "plugins")
    pm = build_plugin_manager(settings)
    assert {"demo_sensors", "alerts"} <= set(pm.names(PluginStatus.ENABLED))
    assert all(pm.records[n].origin == "folder" for n in ("demo_sensors", "alerts"))
