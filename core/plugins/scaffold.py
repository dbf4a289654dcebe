"""``scaffold_plugin(name, dest)``: a new folder plugin with a settings model, a panel, a source,
an alert rule and a test on the ``core.plugins.testing`` harness; ``scaffold_package(name, dest)``: the
same as an installable package with its entry point, package data, a dashboard and tests (docs/plugins.md)."""

from __future__ import annotations

import keyword
from pathlib import Path
from string import Template

from core.errors import ConfigError
from core.plugins.manifest import _NAME_RE

MANIFEST = Template('''\
name = "$name"
version = "0.1.0"
api_version = ">=1.1,<2"
description = "Scaffolded plugin: one probe source, one alert rule, one panel."
panels = ["$name.latest"]

[title]
zh = "$name 插件"
en = "$title plugin"

[settings]
interval_s = 2.0
''')

INIT = Template('''\
"""$name: a twinboard plugin (scaffolded; see docs/plugins.md)."""

from __future__ import annotations

import random
import time
from typing import Any

from dash import html
from pydantic import BaseModel, Field

from core.api import (PanelContext, PanelSpec, Reading, Severity, SourceContext, SourceSpec, ThresholdRule,
                      hookimpl)


class Settings(BaseModel):
    """Shown as the /admin form; defaults come from plugin.toml [settings] and config/default.yaml."""

    entity_id: str = Field("$name.probe", description="entity whose latest value the panel shows")
    metric: str = Field("level", description="metric the source writes and the panel shows")
    unit: str = Field("%", description="unit of the metric")
    interval_s: float = Field(2.0, ge=0.1, le=3600, description="seconds between readings")
    alarm_at: float = Field(90.0, description="a value at or above this raises a level III alarm")


@hookimpl
def register_settings_model() -> type[Settings]:
    return Settings


def latest(ctx: PanelContext) -> Any:
    """The newest value of the configured entity's metric."""
    s: Settings = ctx.settings
    values = ctx.store.latest(entity_ids=[s.entity_id], metric=s.metric)
    if not values:
        return html.Div(ctx.text("暂无数据", "No data yet"), className="tb-empty")
    lv = values[0]
    ctx.data_time = lv.ts
    return html.Div(className="tb-kpis", children=[html.Div(className="tb-kpi", children=[
        html.Div([html.Span(f"{lv.value:.1f}", className="tb-kpi-value"),
                  html.Span(lv.unit, className="tb-kpi-unit")]),
        html.Div(f"{s.entity_id} · {s.metric}", className="tb-kpi-label")])])


@hookimpl
def register_panels() -> list[PanelSpec]:
    return [PanelSpec("$name.latest", "最新数值", "Latest value", latest, sources=("probe",), refresh_s=2)]


@hookimpl
def register_sources(settings: Settings) -> list[SourceSpec]:
    rng = random.Random()

    def poll(ctx: SourceContext) -> list[Reading]:
        s: Settings = ctx.settings
        return [Reading(s.entity_id, s.metric, time.time(), round(rng.uniform(0, 100), 2), s.unit)]

    return [SourceSpec("probe", interval_s=settings.interval_s, poll=poll)]


@hookimpl
def register_alert_rules(settings: Settings) -> list[ThresholdRule]:
    return [ThresholdRule("$name.high", settings.metric, {Severity.III: settings.alarm_at},
                          "数值超限", "Value too high", entity_prefix=settings.entity_id,
                          message_zh="{entity} {metric} {value:.1f}{unit}，超过限值 {limit:g}",
                          message_en="{entity}: {metric} {value:.1f}{unit}, above the limit {limit:g}")]
''')

TEST = Template('''\
"""Tests of the $name plugin on the twinboard harness (run: pytest <this folder>)."""

import time
from pathlib import Path
from types import SimpleNamespace

# The harness fixtures (also auto-loaded by the pytest11 entry point when twinboard is installed).
from core.plugins.testing import make_twin_app, render_panel, twin_store  # noqa: F401
from core.api import Reading

NAME = "$name"
PLUGINS_DIR = Path(__file__).resolve().parents[2]  # the folder that holds this plugin


def _app(make_twin_app):  # noqa: F811
    # Load this plugin the way the host does (manifest, api_version, import), without the others.
    return make_twin_app(plugins_dir=PLUGINS_DIR, plugin_allowlist=[NAME], run_sources=False)


def test_plugin_is_enabled(make_twin_app):  # noqa: F811
    host = _app(make_twin_app).server.config["TWINBOARD_HOST"]
    record = host.plugins.records[NAME]
    assert record.status.value == "enabled", record.error
    assert f"{NAME}.latest" in host.all_panels()


def test_source_writes_a_reading(make_twin_app, twin_store):  # noqa: F811
    record = _app(make_twin_app).server.config["TWINBOARD_HOST"].plugins.records[NAME]
    [spec] = record.module.register_sources(settings=record.settings)
    twin_store.ingest(list(spec.poll(SimpleNamespace(plugin=NAME, settings=record.settings))))
    [lv] = twin_store.latest(entity_ids=[record.settings.entity_id])
    assert 0 <= lv.value <= 100


def test_panel_shows_latest_value_and_alert_rule_fires(make_twin_app):  # noqa: F811
    app = _app(make_twin_app)
    host = app.server.config["TWINBOARD_HOST"]
    s = host.plugins.records[NAME].settings
    host.ingest(NAME, "probe", [Reading(s.entity_id, s.metric, time.time(), 97.5, s.unit)])
    assert "97.5" in str(render_panel(app, f"{NAME}.latest", locale="en"))
    assert [a.rule_id for a in host.store.alerts()] == [f"{NAME}.high"]
''')


PYPROJECT = Template('''\
# An installable twinboard plugin: pip install this folder (or a wheel of it) into the host's environment;
# the host finds it through the "twinboard.plugins" entry-point group and reads plugin.toml beside the module.
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "$dist"
version = "0.1.0"
description = "twinboard plugin $name"
requires-python = ">=3.11"
# The plugin runs inside the twinboard host, which provides core.api, dash and pydantic.
dependencies = []

# entry name = the plugin's name (= plugin.toml `name`); value = the plugin module.
[project.entry-points."twinboard.plugins"]
$name = "$package"

[tool.setuptools]
packages = ["$package"]

# plugin.toml and the dashboards must travel inside the package (installs copy only listed data files).
[tool.setuptools.package-data]
$package = ["plugin.toml", "dashboards/*.yaml"]

[tool.pytest.ini_options]
pythonpath = ["."]
testpaths = ["tests"]
''')

DASHBOARD = Template('''\
# Shipped with the plugin: the host serves it at /screen/$name. A file with the same uid in the
# operator's config/dashboards/ wins over this one.
uid: $name
title: {zh: "$name 监测", en: "$title monitoring"}
panels:
  - {key: latest, panel: $name.latest, x: 20, y: 104, w: 460, h: 220}
  - {key: alarms, panel: alerts.list, x: 500, y: 104, w: 600, h: 320, options: {plugin: $name}}
''')

PACKAGE_TEST = Template('''\
"""Tests of the $name plugin package on the twinboard harness (run: pytest, in this folder)."""

import time
from pathlib import Path

from core.api import Reading
# The harness fixtures (also auto-loaded by the pytest11 entry point when twinboard is installed).
from core.plugins.testing import make_twin_app, plugin_from_package, render_panel  # noqa: F401

import $package

NAME = "$name"


def _app(make_twin_app, **settings):  # noqa: F811
    # Register the package as the host does for an entry point: its module and the plugin.toml beside it.
    return make_twin_app(plugins=[plugin_from_package($package)], run_sources=False, **settings)


def test_plugin_is_enabled_with_its_dashboard(make_twin_app):  # noqa: F811
    app = _app(make_twin_app)
    host = app.server.config["TWINBOARD_HOST"]
    assert host.plugins.records[NAME].status.value == "enabled", host.plugins.records[NAME].error
    boards = {d["uid"]: d for d in app.server.test_client().get("/api/dashboards").get_json()}
    assert boards[NAME]["panels"] == [f"{NAME}.latest", "alerts.list"]


def test_panel_shows_latest_value_and_alert_rule_fires(make_twin_app):  # noqa: F811
    app = _app(make_twin_app, plugin_config={NAME: {"settings": {"alarm_at": 50}}})
    host = app.server.config["TWINBOARD_HOST"]
    s = host.plugins.records[NAME].settings
    assert s.alarm_at == 50
    host.ingest(NAME, "probe", [Reading(s.entity_id, s.metric, time.time(), 57.5, s.unit)])
    assert "57.5" in str(render_panel(app, f"{NAME}.latest", locale="en"))
    [alert] = host.store.alerts()
    assert (alert.rule_id, alert.title_en) == (f"{NAME}.high", "Value too high")
    assert "above the limit 50" in alert.message_en
''')


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ConfigError(f"plugin name {name!r} is invalid: use 2-64 lower-case letters, digits and '_', "
                          f"starting with a letter (e.g. 'tank_levels')", field="name")
    if keyword.iskeyword(name):
        raise ConfigError(f"plugin name {name!r} is a Python keyword; choose another", field="name")


def scaffold_package(name: str, dest: Path) -> Path:
    """Create the installable package ``dest/twinboard-<name>/`` and return that folder: ``pyproject.toml``
    (entry point ``twinboard.plugins``: ``<name> = twinboard_<name>``, ``plugin.toml`` and
    ``dashboards/*.yaml`` as package data), ``twinboard_<name>/`` (``__init__.py``, ``plugin.toml``,
    ``dashboards/<name>.yaml``) and ``tests/test_<name>.py`` on the ``core.plugins.testing`` harness."""
    _check_name(name)
    folder = Path(dest) / f"twinboard-{name.replace('_', '-')}"
    if folder.exists():
        raise ConfigError("folder already exists; choose another name or remove it first", file=str(folder))
    package = f"twinboard_{name}"
    values = {"name": name, "title": name.replace("_", " ").capitalize(), "package": package,
              "dist": f"twinboard-{name.replace('_', '-')}"}
    (folder / package / "dashboards").mkdir(parents=True)
    (folder / "tests").mkdir()
    (folder / "pyproject.toml").write_text(PYPROJECT.substitute(values), encoding="utf-8")
    (folder / package / "plugin.toml").write_text(MANIFEST.substitute(values), encoding="utf-8")
    (folder / package / "__init__.py").write_text(INIT.substitute(values), encoding="utf-8")
    (folder / package / "dashboards" / f"{name}.yaml").write_text(DASHBOARD.substitute(values), encoding="utf-8")
    (folder / "tests" / f"test_{name}.py").write_text(PACKAGE_TEST.substitute(values), encoding="utf-8")
    return folder


def scaffold_plugin(name: str, dest: Path) -> Path:
    """Create ``dest/<name>/`` (plugin.toml, __init__.py, tests/test_<name>.py); return that folder."""
    _check_name(name)
    dest = Path(dest)
    folder = dest / name
    if folder.exists():
        raise ConfigError("folder already exists; choose another name or remove it first", file=str(folder))
    values = {"name": name, "title": name.replace("_", " ").capitalize()}
    (folder / "tests").mkdir(parents=True)
    (folder / "plugin.toml").write_text(MANIFEST.substitute(values), encoding="utf-8")
    (folder / "__init__.py").write_text(INIT.substitute(values), encoding="utf-8")
    (folder / "tests" / f"test_{name}.py").write_text(TEST.substitute(values), encoding="utf-8")
    return folder
