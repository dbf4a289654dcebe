"""Property-based tests (hypothesis): any manifest, dashboard or settings input gives a result or one clear error."""

from __future__ import annotations

import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.web.dashboards import load_dashboard
from core.errors import ConfigError, ManifestError
from core.plugins.manifest import load_manifest
from core.settings import load_settings

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=False),
                    st.text(max_size=20))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                      max_leaves=12)
GOOD_MANIFEST = 'name = "acme"\nversion = "1.0"\napi_version = ">=1.0,<2"\n[title]\nzh = "甲"\nen = "A"\n'
GOOD_DASH = {"uid": "d", "title": {"zh": "甲", "en": "A"},
             "panels": [{"key": "a", "panel": "alerts.list", "x": 0, "y": 0, "w": 100, "h": 100}]}
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _tmp() -> Path:
    return Path(tempfile.mkdtemp())


@FAST
@given(st.text(max_size=200), st.integers(0, len(GOOD_MANIFEST)))
def test_any_manifest_text_loads_or_names_the_problem(noise: str, at: int) -> None:
    folder = _tmp() / "acme"
    folder.mkdir()
    (folder / "plugin.toml").write_text(GOOD_MANIFEST[:at] + noise + GOOD_MANIFEST[at:], encoding="utf-8")
    try:
        m = load_manifest(folder / "plugin.toml", expected_name="acme")
        assert m.name == "acme"
    except ManifestError as exc:
        assert str(folder / "plugin.toml") in str(exc)


@FAST
@given(st.sampled_from(["uid", "title", "canvas", "theme", "refresh_s", "panels", "extra"]), values)
def test_any_dashboard_value_loads_or_names_file_line_field(key: str, value: object) -> None:
    data = {**GOOD_DASH, key: value}
    path = _tmp() / "d.yaml"
    text = yaml.safe_dump(data, allow_unicode=True)
    path.write_text(text, encoding="utf-8")
    try:
        load_dashboard(path)
    except ConfigError as exc:
        assert exc.file == str(path)
        assert exc.line is None or 1 <= exc.line <= len(text.splitlines())


@FAST
@given(st.sampled_from(["x", "y", "w", "h", "panel", "key", "refresh_s", "options"]), values)
def test_any_panel_value_loads_or_names_the_panel_field(field: str, value: object) -> None:
    panel = {**GOOD_DASH["panels"][0], field: value}
    path = _tmp() / "d.yaml"
    path.write_text(yaml.safe_dump({**GOOD_DASH, "panels": [panel]}, allow_unicode=True), encoding="utf-8")
    try:
        load_dashboard(path)
    except ConfigError as exc:
        assert exc.field and exc.field.startswith("panels.0")


@FAST
@given(st.dictionaries(st.sampled_from(["database_url", "locale", "plugins", "public_screens", "var_dir",
                                        "plugin_allowlist", "unknown"]), values, max_size=3))
def test_any_settings_file_loads_or_names_the_field(data: dict) -> None:
    path = _tmp() / "settings.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    try:
        load_settings(path, env={})
    except ConfigError as exc:
        assert exc.file == str(path) and exc.field


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(st.sampled_from(["interval_s", "leak_period_s", "gas_limits_ppm", "seed", "bogus"]),
                       values, max_size=3))
def test_any_plugin_settings_update_is_saved_or_refused_with_fields(make_twin_app, data: dict) -> None:
    app = _shared_app(make_twin_app)
    host = app.server.config["TWINBOARD_HOST"]
    saved = lambda: (host.store.plugin_state("demo_sensors").settings  # noqa: E731
                     if host.store.plugin_state("demo_sensors") else None)
    before = saved()
    errors = host.update_settings("demo_sensors", data, actor="prop")
    if errors:
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in errors.items())
        assert saved() == before  # old settings kept
    else:
        assert host.plugins.records["demo_sensors"].status.value == "enabled"


_APPS: dict[int, object] = {}


def _shared_app(factory):
    key = id(factory)
    if key not in _APPS:
        _APPS.clear()
        _APPS[key] = factory(builtin=True, run_sources=False, plugin_allowlist=["demo_sensors", "alerts"])
    return _APPS[key]
