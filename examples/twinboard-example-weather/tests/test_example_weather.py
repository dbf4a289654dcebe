"""Tests of the installed example_weather plugin (pip install this folder, then run pytest on it)."""

from types import SimpleNamespace

import pytest

pytest.importorskip("twinboard_example_weather", reason="pip install ./examples/twinboard-example-weather first")

from core.plugins.testing import make_twin_app, render_panel, twin_store  # noqa: E402,F401


def _app(make_twin_app):  # noqa: F811
    # entry_points=True: discover it exactly as the host does, through the "twinboard.plugins" group.
    return make_twin_app(entry_points=True, plugin_allowlist=["example_weather"], run_sources=False)


def test_loaded_from_entry_point(make_twin_app):  # noqa: F811
    host = _app(make_twin_app).server.config["TWINBOARD_HOST"]
    record = host.plugins.records["example_weather"]
    assert (record.origin, record.status.value) == ("entry-point", "enabled"), record.error
    assert "example_weather.now" in host.all_panels()
    assert [k.name for k in host.contributions["example_weather"].entity_kinds] == ["weather_mast"]


def test_simulator_writes_wind_and_temperature(twin_store):  # noqa: F811
    from twinboard_example_weather import WeatherSimulator
    readings = WeatherSimulator(seed=1).poll(SimpleNamespace(settings={"station": "mast"}))
    twin_store.ingest(readings)
    assert sorted(lv.metric for lv in twin_store.latest(entity_ids=["mast"])) == [
        "temperature_c", "wind_dir_deg", "wind_ms"]


def test_panel_shows_latest_weather(make_twin_app):  # noqa: F811
    from twinboard_example_weather import WeatherSimulator
    app = _app(make_twin_app)
    host = app.server.config["TWINBOARD_HOST"]
    settings = host.plugins.records["example_weather"].settings
    readings = WeatherSimulator(seed=1).poll(SimpleNamespace(settings=settings))
    host.ingest("example_weather", "simulator", readings)
    wind = next(r for r in readings if r.metric == "wind_ms")
    assert f"{wind.value:.1f}" in str(render_panel(app, "example_weather.now", locale="en"))
    assert "风速" in str(render_panel(app, "example_weather.now"))


def test_masts_on_the_district_one_map(make_twin_app):  # noqa: F811
    from twinboard_example_weather import MASTS, WeatherSimulator, mast_rows
    from core.api import PanelContext
    app = _app(make_twin_app)
    host = app.server.config["TWINBOARD_HOST"]
    settings = host.plugins.records["example_weather"].settings
    host.ingest("example_weather", "simulator", WeatherSimulator(seed=2).poll(SimpleNamespace(settings=settings)))
    ctx = PanelContext(plugin="example_weather", panel_id="example_weather.masts", options={}, locale="zh_CN",
                       store=host.store, settings=settings)
    rows = mast_rows(ctx)
    assert [r["name"] for r in rows] == [m[1] for m in MASTS]
    assert all(isinstance(r["wind_ms"], float) and 121.3 < r["lon"] < 122 for r in rows)
    spec = host.plugins.call("example_weather", "register_map_layers", settings=settings)[0]
    assert spec.id == "example_weather.masts" and spec.rows is mast_rows
