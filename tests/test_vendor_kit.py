"""The vendor kit (issue 18, items 8-13): dashboards inside plugins, moving entities with tracks, alerts in
both languages, shareable entity kinds, alert-panel options, the per-plugin settings of the harness."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from core.api import (AlertDraft, Entity, EntityKind, PanelSpec, Position, Reading, Severity, SourceSpec,
                      ThresholdRule, hookimpl)
from core.errors import StoreError
from core.plugins.manager import PluginStatus
from core.plugins.testing import dashboard, make_manifest, plugin_module, render_callback, render_panel
from core.web.deckpatch import apply_patch, spec_of


def _host(app):
    return app.server.config["TWINBOARD_HOST"]


def _boards(app) -> dict[str, dict]:
    return {d["uid"]: d for d in app.server.test_client().get("/api/dashboards").get_json()}


# -- 8. dashboards inside a plugin package -----------------------------------------------------------------
def _board_yaml(uid: str, zh: str, panel: str = "vk.p") -> str:
    return (f"uid: {uid}\ntitle: {{zh: {zh}, en: {uid}}}\n"
            f"panels:\n  - {{key: a, panel: {panel}, x: 10, y: 10, w: 100, h: 100}}\n")


def test_register_dashboards(make_twin_app, tmp_path: Path) -> None:
    f = tmp_path / "from_file.yaml"
    f.write_text(_board_yaml("vk-file", "文件"), encoding="utf-8")
    mod = plugin_module("vk", register_panels=hookimpl(lambda: [PanelSpec("vk.p", "面板", "Panel", lambda ctx: "x")]),
                        register_dashboards=hookimpl(lambda: [f, dashboard("vk-dict", {"key": "a", "panel": "vk.p",
                                                                                      "x": 0, "y": 0, "w": 9, "h": 9})]))
    app = make_twin_app(plugins=[(mod, make_manifest("vk"))])
    boards = _boards(app)
    assert boards["vk-file"]["title"]["zh"] == "文件" and boards["vk-file"]["panels"] == ["vk.p"]
    assert boards["vk-dict"]["panels"] == ["vk.p"]
    assert app.server.test_client().get("/screen/vk-dict").status_code == 200


def test_operator_dashboard_wins_over_a_plugins_same_uid(make_twin_app) -> None:
    mod = plugin_module("vk", register_dashboards=hookimpl(lambda: [
        dashboard("shared", {"key": "a", "panel": "vk.p", "x": 0, "y": 0, "w": 9, "h": 9}, title={"zh": "插件", "en": "p"})]))
    operator = dashboard("shared", title={"zh": "运维", "en": "operator"})
    app = make_twin_app(plugins=[(mod, make_manifest("vk"))], dashboards=[operator])
    assert _boards(app)["shared"]["title"]["zh"] == "运维"
    assert _host(app).plugins.records["vk"].status == PluginStatus.ENABLED


def _folder_plugin(root: Path, name: str, boards: dict[str, str]) -> None:
    folder = root / name
    (folder / "dashboards").mkdir(parents=True)
    (folder / "plugin.toml").write_text(f'name = "{name}"\nversion = "0.1.0"\napi_version = ">=1.0,<2"\n'
                                        f'[title]\nzh = "{name}"\nen = "{name}"\n', encoding="utf-8")
    (folder / "__init__.py").write_text(
        "from core.api import PanelSpec, hookimpl\n\n@hookimpl\ndef register_panels():\n"
        f"    return [PanelSpec('{name}.p', '面板', 'Panel', lambda ctx: 'x')]\n", encoding="utf-8")
    for file, text in boards.items():
        (folder / "dashboards" / file).write_text(text, encoding="utf-8")


def test_dashboards_folder_beside_the_plugin_is_discovered(make_twin_app, tmp_path: Path) -> None:
    plugins = tmp_path / "plugs"
    _folder_plugin(plugins, "vkfolder_a", {"a.yaml": _board_yaml("vk-a", "甲", "vkfolder_a.p")})
    # a second plugin shipping the same uid: the first loaded (sorted by name) keeps it, the second is warned
    _folder_plugin(plugins, "vkfolder_b", {"b.yaml": _board_yaml("vk-a", "乙", "vkfolder_b.p")})
    app = make_twin_app(plugins_dir=plugins)
    assert _boards(app)["vk-a"]["title"]["zh"] == "甲"
    b = _host(app).plugins.records["vkfolder_b"]
    assert b.status == PluginStatus.ENABLED
    assert any("'vk-a'" in w and "vkfolder_a" in w for w in b.warnings)


def test_invalid_plugin_dashboard_names_file_line_and_field(make_twin_app, tmp_path: Path) -> None:
    plugins = tmp_path / "plugs"
    bad = "uid: vk-bad\ntitle: {zh: 坏, en: bad}\npanels:\n  - {key: a, panel: vkbad.p, x: 10, y: 10, w: 5000, h: 9}\n"
    _folder_plugin(plugins, "vkbad", {"bad.yaml": bad})
    app = make_twin_app(plugins_dir=plugins)
    record = _host(app).plugins.records["vkbad"]
    assert record.status == PluginStatus.FAILED
    path = plugins / "vkbad" / "dashboards" / "bad.yaml"
    assert f"{path}:4: field 'panels.0.w'" in record.error and "past the canvas width" in record.error
    assert "vk-bad" not in _boards(app)


def test_check_config_reports_a_plugins_bad_dashboard(tmp_path: Path, capsys) -> None:
    from core.cli import main
    plugins = tmp_path / "plugs"
    _folder_plugin(plugins, "vkbadcli", {"bad.yaml": "uid: vk-bad\ntitle: {zh: 坏, en: bad}\nthme: dark\n"})
    (tmp_path / "boards").mkdir()
    cfg = tmp_path / "settings.yaml"
    cfg.write_text(f"plugins_dir: {plugins}\ndashboards_dir: {tmp_path / 'boards'}\n"
                   f"playlists_file: {tmp_path / 'none.yaml'}\nentry_points: false\n", encoding="utf-8")
    assert main(["--config", str(cfg), "check-config"]) == 1
    err = capsys.readouterr().err
    assert f"{plugins / 'vkbadcli' / 'dashboards' / 'bad.yaml'}:3: field 'thme': unknown field" in err


# -- 9. moving entities: positions and tracks ----------------------------------------------------------------
def _truck(store, eid: str = "vk.truck1", name: str = "危化车1") -> None:
    store.upsert([Entity(id=eid, kind="vk_truck", name=name, name_en="Truck 1", plugin="vk",
                         geometry={"type": "Point", "coordinates": [121.40, 28.60]})])


def test_store_move_keeps_a_track_and_the_latest_position(any_store) -> None:
    twin_store = any_store
    _truck(twin_store)
    assert twin_store.move_many([Position("vk.truck1", 20.0, 121.43, 28.63, speed_kmh=40.0),
                                 Position("vk.truck1", 10.0, 121.42, 28.62)]) == 2
    assert twin_store.move("vk.truck1", 121.41, 28.61, 5.0) == 1       # an older point: track only
    track = twin_store.track("vk.truck1")
    assert [(p.ts, p.lon) for p in track] == [(5.0, 121.41), (10.0, 121.42), (20.0, 121.43)]
    assert track[-1].speed_kmh == 40.0
    assert twin_store.entity("vk.truck1").geometry == {"type": "Point", "coordinates": [121.43, 28.63]}
    assert twin_store.move("vk.truck1", 121.43, 28.63, 20.0) == 0        # re-delivered: ignored
    assert [p.ts for p in twin_store.track("vk.truck1", since=10.0)] == [10.0, 20.0]
    assert list(twin_store.tracks(kind="vk_truck")) == ["vk.truck1"]
    assert twin_store.trim_tracks(older_than=10.0) == 1 and len(twin_store.track("vk.truck1")) == 2


def test_store_move_refuses_bad_positions_and_stores_nothing(twin_store) -> None:
    _truck(twin_store)
    with pytest.raises(StoreError, match=r"position 1 of entity 'vk.truck1': field 'lat' is 91.0, not in -90..90"):
        twin_store.move_many([Position("vk.truck1", 1.0, 121.4, 28.6), Position("vk.truck1", 2.0, 121.4, 91.0)])
    with pytest.raises(StoreError, match="cannot move unknown entity 'vk.ghost'"):
        twin_store.move_many([Position("vk.truck1", 3.0, 121.4, 28.6), Position("vk.ghost", 3.0, 121.4, 28.6)])
    assert twin_store.track("vk.truck1") == []
    assert twin_store.entity("vk.truck1").geometry["coordinates"] == [121.40, 28.60]


def _truck_plugin(run=None):
    deck = {"initialViewState": {"longitude": 121.42, "latitude": 28.62, "zoom": 12},
            "layers": [{"@@type": "ScatterplotLayer", "id": "vk.own", "data": []}]}
    hooks = dict(register_entity_kinds=hookimpl(lambda: [EntityKind("vk_truck", "危化品车", "Hazmat truck",
                                                                    color="#ff8800")]),
                 register_panels=hookimpl(lambda: [PanelSpec("vk.map", "车辆", "Trucks", lambda ctx: deck, kind="deck",
                                                             tracks=("vk_truck",), track_s=600)]))
    if run is not None:
        hooks["register_sources"] = hookimpl(lambda: [SourceSpec("gps", run=run)])
    return plugin_module("vk", **hooks)


def test_map_panel_draws_moving_entities_and_their_tracks(make_twin_app) -> None:
    board = dashboard("trucks", {"key": "map", "panel": "vk.map", "x": 0, "y": 0, "w": 800, "h": 600})
    app = make_twin_app(plugins=[(_truck_plugin(), make_manifest("vk"))], dashboards=[board])
    host = _host(app)
    _truck(host.store)
    _truck(host.store, "vk.truck2", "危化车2")
    now = time.time()
    host.store.move_many([Position("vk.truck1", now - 3000, 121.30, 28.50),     # older than track_s: not drawn
                          Position("vk.truck1", now - 60, 121.41, 28.61),
                          Position("vk.truck1", now - 30, 121.42, 28.62, speed_kmh=38.0),
                          Position("vk.truck2", now - 10, 121.45, 28.65)])
    patch, _ = render_callback(app.server.test_client(), app, "trucks", "map", locale="en")
    deck = spec_of(apply_patch(None, patch["deck"]))
    layers = {lay["id"]: lay for lay in deck["layers"]}
    ids = [lay["id"] for lay in deck["layers"]]
    assert ids.index("tb-track-vk_truck") < ids.index("tb-pos-vk_truck") < ids.index("vk.own")
    [path] = layers["tb-track-vk_truck"]["data"]                     # truck2 has one point: no path yet
    assert layers["tb-track-vk_truck"]["@@type"] == "PathLayer"
    assert path["id"] == "vk.truck1" and path["path"] == [[121.41, 28.61], [121.42, 28.62]]
    points = {p["id"]: p for p in layers["tb-pos-vk_truck"]["data"]}
    assert points["vk.truck1"]["position"] == [121.42, 28.62] and points["vk.truck2"]["position"] == [121.45, 28.65]
    assert points["vk.truck1"]["name"] == "Truck 1" and points["vk.truck1"]["info"].startswith("38 km/h")
    assert points["vk.truck1"]["color"][:3] == [255, 136, 0]
    assert {"ids": ["tb-track-vk_truck", "tb-pos-vk_truck"], "label": "Hazmat truck 2",
            "color": [255, 136, 0]} in deck["tbLegend"]


def test_a_source_moves_an_entity_with_ctx_move(make_twin_app) -> None:
    def run(ctx):
        _truck(ctx.store)
        for i in range(3):
            ctx.move([Position("vk.truck1", 100.0 + i, 121.40 + i / 100, 28.60)])
        while not ctx.sleep(0.05):
            pass
    app = make_twin_app(plugins=[(_truck_plugin(run), make_manifest("vk"))])
    host = _host(app)
    end = time.time() + 10
    while time.time() < end and len(host.store.track("vk.truck1")) < 3:
        time.sleep(0.05)
    assert [p.ts for p in host.store.track("vk.truck1")] == [100.0, 101.0, 102.0]
    assert host.runtime.heartbeats("vk")["vk.gps"].last_data is not None


# -- 10. alerts in both languages -----------------------------------------------------------------------------
SPEED = ThresholdRule("vk.speed", "speed_kmh", {Severity.III: 75}, "车辆超速", "Vehicle speeding",
                      message_zh="{entity} {metric} {value:.1f}{unit}，超过限值 {limit:g}",
                      message_en="{entity}: {metric} {value:.1f} {unit} over the limit {limit:g}",
                      metric_zh="车速", metric_en="speed")


def test_threshold_rule_default_message_is_for_people() -> None:
    """Issue 19: the default message names the metric in words (or leaves it out), never by its id."""
    rule = ThresholdRule("vk.s", "speed_kmh", {Severity.III: 75}, "超速", "Speeding", metric_zh="车速",
                         metric_en="speed")
    names = {("vk.truck1", "zh"): "货车1", ("vk.truck1", "en"): "Truck 1"}
    [d] = rule.evaluate([Reading("vk.truck1", "speed_kmh", 1.0, 77.8, "km/h")], lambda e, lang: names[(e, lang)])
    assert (d.title, d.title_en) == ("超速", "Speeding")
    assert (d.message, d.message_en) == ("货车1 车速 77.8km/h，超过限值 75km/h",
                                         "Truck 1: speed 77.8 km/h, over the limit 75 km/h")
    low = ThresholdRule("vk.b", "battery_pct", {Severity.IV: 15}, "电量低", "Battery low", below=True)
    [d] = low.evaluate([Reading("vk.truck1", "battery_pct", 1.0, 9, "%")], lambda e, lang: names[(e, lang)])
    assert (d.message, d.message_en) == ("货车1 9%，低于限值 15%", "Truck 1: 9 %, under the limit 15 %")


def test_threshold_rule_template_errors_are_found_when_the_rule_is_made() -> None:
    with pytest.raises(ValueError, match=r"alert message template '\{entity:\.1f\}'"):
        ThresholdRule("vk.s", "speed_kmh", {Severity.III: 75}, "超速", "Speeding", message_en="{entity:.1f}")


def test_alert_panel_shows_titles_and_messages_in_english_and_chinese(make_twin_app) -> None:
    mod = plugin_module("vk", register_alert_rules=hookimpl(lambda: [SPEED]))
    app = make_twin_app(plugins=[(mod, make_manifest("vk"))], builtin=True, plugin_allowlist=["alerts"])
    host = _host(app)
    _truck(host.store)
    host.ingest("vk", "gps", [Reading("vk.truck1", "speed_kmh", time.time(), 77.8, "km/h")])
    [alert] = host.store.alerts()
    assert alert.message == "危化车1 车速 77.8km/h，超过限值 75"
    assert alert.message_en == "Truck 1: speed 77.8 km/h over the limit 75"
    en, zh = str(render_panel(app, "alerts.list", locale="en")), str(render_panel(app, "alerts.list"))
    assert "Truck 1 · Vehicle speeding" in en and "Truck 1: speed 77.8 km/h over the limit 75" in en
    assert "车辆超速" not in en and "超过限值" not in en
    assert "危化车1 · 车辆超速" in zh and "危化车1 车速 77.8km/h，超过限值 75" in zh and "speeding" not in zh
    # a draft a detector raises itself carries both texts too; without an English one the Chinese shows
    host.raise_alert("vk", AlertDraft("vk.smoke", "vk.truck1", Severity.II, "疑似烟雾", "摄像头发现", title_en="Smoke?"))
    en = str(render_panel(app, "alerts.list", locale="en"))
    assert "Truck 1 · Smoke?" in en and "摄像头发现" in en


# -- 12. entity kinds -------------------------------------------------------------------------------------------
def _kinds(name: str, *kinds: EntityKind):
    return plugin_module(name, register_entity_kinds=hookimpl(lambda: list(kinds))), make_manifest(name)


def test_entity_kind_declared_twice_is_ignored_with_a_warning(make_twin_app, caplog) -> None:
    caplog.set_level(logging.WARNING)
    app = make_twin_app(plugins=[_kinds("vka", EntityKind("truck", "车", "Truck")),
                                 _kinds("vkb", EntityKind("truck", "货车", "Lorry", color="#ff0000"))])
    host = _host(app)
    assert host.entity_kinds()["truck"] == ("vka", EntityKind("truck", "车", "Truck"))
    assert host.contributions["vkb"].entity_kinds == []
    [warning] = host.plugins.records["vkb"].warnings
    assert "entity kind 'truck' is already declared by vka; ignored" in warning
    assert warning in caplog.text


def test_shared_entity_kind_needs_identical_definitions(make_twin_app, caplog) -> None:
    caplog.set_level(logging.WARNING)
    cam = EntityKind("camera", "摄像头", "Camera", color="#00ff00", shared=True)
    odd = EntityKind("camera", "摄像机", "Camera", color="#00ff00", shared=True)
    app = make_twin_app(plugins=[_kinds("vka", cam), _kinds("vkb", cam), _kinds("vkc", odd)])
    host = _host(app)
    assert host.contributions["vka"].entity_kinds == host.contributions["vkb"].entity_kinds == [cam]
    assert host.plugins.records["vkb"].warnings == []
    assert host.contributions["vkc"].entity_kinds == []
    assert "shared entity kind 'camera' differs from" in host.plugins.records["vkc"].warnings[0]


# -- 13. alert panels' options ---------------------------------------------------------------------------------
def _alarm_app(make_twin_app):
    app = make_twin_app(builtin=True, plugin_allowlist=["alerts"])
    host = _host(app)
    for plugin, sev, n in (("vka", Severity.I, 2), ("vkb", Severity.III, 3)):
        for i in range(n):
            host.raise_alert(plugin, AlertDraft(f"{plugin}.r", f"{plugin}.e{i}", sev, f"{plugin} 报警"))
    return app


def _counts(component) -> list[str]:
    return [kpi.children[0].children for kpi in component.children]


def test_alert_summary_filters_by_plugin(make_twin_app) -> None:
    app = _alarm_app(make_twin_app)
    assert _counts(render_panel(app, "alerts.summary")) == ["2", "0", "3", "0"]
    assert _counts(render_panel(app, "alerts.summary", {"plugin": "vkb"})) == ["0", "0", "3", "0"]
    assert _counts(render_panel(app, "alerts.summary", {"plugin": ["vka", "vkb"]})) == ["2", "0", "3", "0"]
    with pytest.raises(ValueError, match="option 'plugin' must be a plugin name or a list of names, got 3"):
        render_panel(app, "alerts.summary", {"plugin": 3})


def test_alert_list_options_plugin_and_limit(make_twin_app) -> None:
    app = _alarm_app(make_twin_app)
    assert len(render_panel(app, "alerts.list").children) == 5
    only_b = render_panel(app, "alerts.list", {"plugin": "vkb", "limit": 2})
    assert len(only_b.children) == 2 and "vka" not in str(only_b)
    with pytest.raises(ValueError, match="option 'limit' must be a whole number of at least 1, got 0"):
        render_panel(app, "alerts.list", {"limit": 0})


# -- the harness: per-plugin settings in a test ----------------------------------------------------------------
def test_make_twin_app_plugin_config_sets_a_plugins_settings_and_enabled_flag(make_twin_app) -> None:
    from pydantic import BaseModel

    class S(BaseModel):
        limit: int = 3
    seen = []
    mod = plugin_module("vk", register_settings_model=hookimpl(lambda: S),
                        register_panels=hookimpl(lambda settings: seen.append(settings.limit) or []))
    app = make_twin_app(plugins=[(mod, make_manifest("vk", settings={"limit": 5}))],
                        plugin_config={"vk": {"settings": {"limit": 9}}})
    assert seen == [9] and _host(app).plugins.records["vk"].settings.limit == 9
    app = make_twin_app(plugins=[(mod, make_manifest("vk"))], plugin_config={"vk": {"enabled": False}})
    assert _host(app).plugins.records["vk"].status == PluginStatus.DISABLED


# -- docs/plugins.md's lifecycle promises -------------------------------------------------------------------------
def test_clears_is_called_only_for_an_open_alert_of_the_rule_and_not_in_the_batch_that_raised_it(make_twin_app) -> None:
    calls: list[tuple[str, float]] = []

    class Rule:
        id, metric = "vk.hot", "temp"

        def evaluate(self, readings):
            return [AlertDraft(self.id, r.entity_id, Severity.III, "高温") for r in readings
                    if r.metric == "temp" and r.value >= 50]

        def clears(self, reading):
            calls.append((reading.metric, reading.value))
            return reading.value < 40

    app = make_twin_app(plugins=[(plugin_module("vk", register_alert_rules=hookimpl(lambda: [Rule()])),
                                  make_manifest("vk"))])
    host = _host(app)
    host.ingest("vk", "s", [Reading("vk.a", "temp", 1.0, 10.0)])               # no open alert: not asked
    host.ingest("vk", "s", [Reading("vk.a", "temp", 2.0, 60.0), Reading("vk.a", "temp", 2.5, 10.0)])
    assert calls == [] and len(host.store.alerts()) == 1                      # raised in this batch: not asked
    host.ingest("vk", "s", [Reading("vk.a", "other", 3.0, 1.0), Reading("vk.b", "temp", 3.0, 1.0)])
    assert calls == []                                                        # other metric, other entity
    host.ingest("vk", "s", [Reading("vk.a", "temp", 4.0, 45.0)])
    assert calls == [("temp", 45.0)] and len(host.store.alerts()) == 1       # asked; not yet clear
    host.ingest("vk", "s", [Reading("vk.a", "temp", 5.0, 30.0)])
    assert calls[-1] == ("temp", 30.0) and host.store.alerts() == []          # cleared: closed
    host.ingest("vk", "s", [Reading("vk.a", "temp", 6.0, 20.0)])
    assert len(calls) == 2                                                    # closed: not asked again


def test_twin_files_are_loaded_before_on_startup(make_twin_app, tmp_path: Path) -> None:
    f = tmp_path / "twin.yaml"
    f.write_text("entities:\n  - {id: vk.t1, kind: tank, name: 罐1, lon: 121.4, lat: 28.6}\n", encoding="utf-8")
    seen = []
    mod = plugin_module("vk", register_twin_models=hookimpl(lambda: [f]),
                        on_startup=hookimpl(lambda store: seen.append(store.entity("vk.t1"))))
    make_twin_app(plugins=[(mod, make_manifest("vk"))])
    assert seen[0] is not None and seen[0].plugin == "vk"
