"""One test per hookspec (named after it), plus the check that every hook is documented and tested."""

from __future__ import annotations

import inspect
import re
import time
from pathlib import Path

from pydantic import BaseModel

from core.plugins import hookspecs
from core.api import (AlertRaised, EntityKind, PanelSpec, Reading, RouteSpec, Severity, SourceSpec,
                      ThresholdRule, hookimpl)
from core.plugins.manager import PluginStatus
from core.plugins.testing import dashboard, make_manifest, plugin_module, render_panel

ROOT = Path(__file__).resolve().parent.parent
HOOKS = [n for n, f in inspect.getmembers(hookspecs, inspect.isfunction) if hasattr(f, "twinboard_spec")]


def _wait(cond, timeout: float = 10.0) -> bool:
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return True
        time.sleep(0.05)
    return False


def test_every_hook_is_documented_and_tested() -> None:
    docs = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    tests = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "tests").glob("test_*.py"))
    assert len(HOOKS) >= 11
    for name in HOOKS:
        fn = getattr(hookspecs, name)
        assert fn.__doc__ and len(fn.__doc__.strip()) > 40, f"hookspec {name} has no docstring"
        assert f"### `{name}`" in docs, f"hook {name} is not documented in docs/plugins.md"
        assert re.search(rf"def test_{name}\b", tests), f"hook {name} has no test named test_{name}"


def test_register_settings_model(make_twin_app) -> None:
    class S(BaseModel):
        limit: int = 3
    seen = {}

    @hookimpl
    def register_panels(settings):
        seen["settings"] = settings
        return []
    mod = plugin_module("setty", register_settings_model=hookimpl(lambda: S), register_panels=register_panels)
    app = make_twin_app(plugins=[(mod, make_manifest("setty", settings={"limit": 7}))])
    host = app.server.config["TWINBOARD_HOST"]
    assert isinstance(seen["settings"], S) and seen["settings"].limit == 7
    assert host.plugins.records["setty"].settings_model is S


def test_register_settings_model_rejects_invalid_values(make_twin_app) -> None:
    class S(BaseModel):
        limit: int = 3
    mod = plugin_module("badset", register_settings_model=hookimpl(lambda: S))
    app = make_twin_app(plugins=[(mod, make_manifest("badset", settings={"limit": "many"}))])
    rec = app.server.config["TWINBOARD_HOST"].plugins.records["badset"]
    assert rec.status == PluginStatus.FAILED and "settings field 'limit'" in rec.error


def test_register_entity_kinds(make_twin_app) -> None:
    mod = plugin_module("kinds", register_entity_kinds=hookimpl(lambda: [EntityKind("pump", "泵", "Pump")]))
    app = make_twin_app(plugins=[(mod, make_manifest("kinds"))])
    host = app.server.config["TWINBOARD_HOST"]
    assert host.contributions["kinds"].entity_kinds[0].name == "pump"


def test_register_twin_models(make_twin_app, tmp_path: Path) -> None:
    f = tmp_path / "twin.yaml"
    f.write_text("site: {id: s1, name: 站点, lon: 121.4, lat: 28.6}\n"
                 "entities:\n  - {id: s1.t1, kind: tank, name: 罐1, lon: 121.41, lat: 28.61}\n", encoding="utf-8")
    mod = plugin_module("twins", register_twin_models=hookimpl(lambda: [f]))
    app = make_twin_app(plugins=[(mod, make_manifest("twins"))])
    store = app.server.config["TWINBOARD_HOST"].store
    [e] = store.entities(kind="tank")
    assert e.plugin == "twins" and e.site_id == "s1" and e.geometry["coordinates"] == [121.41, 28.61]


def test_register_panels(make_twin_app) -> None:
    mod = plugin_module("pan", register_panels=hookimpl(
        lambda: [PanelSpec("pan.hello", "你好", "Hello", lambda ctx: ctx.text("你好", "hello"))]))
    app = make_twin_app(plugins=[(mod, make_manifest("pan"))])
    assert render_panel(app, "pan.hello") == "你好"
    assert render_panel(app, "pan.hello", locale="en") == "hello"


def test_register_sources(make_twin_app) -> None:
    def poll(ctx):
        return [Reading("src.e1", "level", time.time(), 1.5, "m")]
    mod = plugin_module("src", register_sources=hookimpl(lambda: [SourceSpec("sim", interval_s=0.05, poll=poll)]))
    app = make_twin_app(plugins=[(mod, make_manifest("src"))])
    host = app.server.config["TWINBOARD_HOST"]
    assert _wait(lambda: host.store.latest(["src.e1"]))
    assert host.runtime.heartbeats("src")["src.sim"].last_data is not None


def test_register_alert_rules(make_twin_app) -> None:
    rule = ThresholdRule("rules.hi", "level", {Severity.III: 5, Severity.I: 9}, "高液位", "High level")
    mod = plugin_module("rules", register_alert_rules=hookimpl(lambda: [rule]))
    app = make_twin_app(plugins=[(mod, make_manifest("rules"))])
    host = app.server.config["TWINBOARD_HOST"]
    raised = []
    host.bus.subscribe(AlertRaised, raised.append)
    host.ingest("rules", "test", [Reading("t1", "level", 1.0, 6.0)])
    host.ingest("rules", "test", [Reading("t1", "level", 2.0, 9.5)])  # escalates III → I
    [alert] = host.store.alerts()
    assert alert.severity == 1 and [e.severity for e in raised] == [3, 1]
    host.ingest("rules", "test", [Reading("t1", "level", 3.0, 1.0)])  # back to normal closes it
    assert host.store.alerts() == []


def test_register_routes(make_twin_app) -> None:
    mod = plugin_module("rt", register_routes=hookimpl(lambda: [RouteSpec("ping", lambda: {"pong": True})]))
    app = make_twin_app(plugins=[(mod, make_manifest("rt"))])
    client = app.server.test_client()
    assert client.get("/plugins/rt/ping").get_json() == {"pong": True}
    app.server.config["TWINBOARD_HOST"].set_enabled("rt", False, actor="test")
    assert client.get("/plugins/rt/ping").status_code == 404


def test_register_translations(make_twin_app, tmp_path: Path) -> None:
    loc = tmp_path / "locale" / "zh_CN" / "LC_MESSAGES"
    loc.mkdir(parents=True)
    (loc / "tr.po").write_text('msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
                               'msgid "Water level"\nmsgstr "水位"\n', encoding="utf-8")
    mod = plugin_module("tr", register_translations=hookimpl(lambda: tmp_path / "locale"),
                        register_panels=hookimpl(lambda: [PanelSpec("tr.p", "p", "p",
                                                                     lambda ctx: ctx.gettext("Water level"))]))
    app = make_twin_app(plugins=[(mod, make_manifest("tr"))])
    assert render_panel(app, "tr.p") == "水位"
    assert render_panel(app, "tr.p", locale="en") == "Water level"


def test_on_startup(make_twin_app) -> None:
    calls = []
    mod = plugin_module("st", on_startup=hookimpl(lambda store, bus, settings, role: calls.append((store, bus, role))))
    app = make_twin_app(plugins=[(mod, make_manifest("st"))])
    host = app.server.config["TWINBOARD_HOST"]
    assert calls == [(host.store, host.bus, "all")]


def test_register_processes(monkeypatch) -> None:
    """A plugin's helper process kind becomes a `twinboard up` option; {index} numbers the copies."""
    import argparse

    import pytest

    from core.api import ProcessSpec
    from core.plugins.manager import PluginManager
    from core.runtime.topology import plan
    from core.settings import load_settings
    pm = PluginManager()
    spec = ProcessSpec("ocr", ["ocr-worker", "--name", "ocr{index}"], help="plate reader", needs_broker=True)
    pm.register_inline(plugin_module("pr", register_processes=hookimpl(lambda: [spec])), make_manifest("pr"))
    assert pm.call("pr", "register_processes", settings=None) == [spec]
    args = argparse.Namespace(web=2, worker=1, threads=8, host="127.0.0.1", port=8050, process_kinds={"ocr": spec},
                              proc_ocr=2)
    procs, _needs_events, needs_broker = plan(args, load_settings(), {})
    assert [n for n, _ in procs] == ["web", "worker.1", "ocr.1", "ocr.2"]
    assert procs[3][1] == "ocr-worker --name ocr2" and needs_broker
    assert "--role web --workers 2 --threads 8" in procs[0][1]
    with pytest.raises(ValueError, match="reserved"):
        ProcessSpec("web", ["x"])
    with pytest.raises(ValueError, match="lower-case"):
        ProcessSpec("Video Workers", ["x"])
    # the built-in forest_fire plugin offers --video
    from core.cli import build_parser
    parsed = build_parser().parse_args(["up", "--web", "2", "--video", "2"])
    assert parsed.proc_video == 2 and parsed.process_kinds["video"].needs_broker


def test_on_event(make_twin_app) -> None:
    events = []
    mod = plugin_module("ev", on_event=hookimpl(lambda event: events.append(event.topic)))
    app = make_twin_app(plugins=[(mod, make_manifest("ev"))])
    app.server.config["TWINBOARD_HOST"].ingest("ev", "t", [Reading("x", "m", 1.0, 1.0)])
    assert "ReadingsIngested" in events


def test_on_event_that_raises_is_contained(make_twin_app) -> None:
    def bad(event):
        raise ValueError("subscriber bug")
    good = []
    a = plugin_module("evbad", on_event=hookimpl(bad))
    b = plugin_module("evgood", on_event=hookimpl(lambda event: good.append(event)))
    app = make_twin_app(plugins=[(a, make_manifest("evbad")), (b, make_manifest("evgood"))])
    host = app.server.config["TWINBOARD_HOST"]
    host.ingest("evgood", "t", [Reading("x", "m", 1.0, 1.0)])
    assert good and host.plugins.records["evbad"].status == PluginStatus.FAILED


def test_on_shutdown(make_twin_app) -> None:
    calls = []
    mod = plugin_module("sd", on_shutdown=hookimpl(lambda: calls.append("bye")))
    app = make_twin_app(plugins=[(mod, make_manifest("sd"))], dashboards=[dashboard("d")])
    app.server.config["TWINBOARD_HOST"].stop()
    assert calls == ["bye"]


def test_register_routes_of_a_plugin_enabled_later(make_twin_app) -> None:
    mod = plugin_module("late", register_routes=hookimpl(
        lambda: [RouteSpec("items/<int:n>", lambda n: {"n": n}),
                 RouteSpec("notes", lambda: {"ok": True}, methods=("POST",))]))
    app = make_twin_app(plugins=[(mod, make_manifest("late"))])
    host = app.server.config["TWINBOARD_HOST"]
    host.set_enabled("late", False, actor="t")
    client = app.server.test_client()
    assert client.get("/plugins/late/items/3").status_code == 404
    host.set_enabled("late", True, actor="t")
    assert client.get("/plugins/late/items/3").get_json() == {"n": 3}
    assert client.post("/plugins/late/items/3").status_code == 405  # the route takes no POST at all
    assert client.post("/plugins/late/notes").status_code == 400    # a POST route: the CSRF check
    app.server.config["WTF_CSRF_ENABLED"] = False
    assert client.post("/plugins/late/notes").get_json() == {"ok": True}


def test_register_commands(tmp_path: Path, monkeypatch) -> None:
    import argparse
    from core.plugins.manager import PluginManager
    pm = PluginManager()

    @hookimpl
    def register_commands(subparsers):
        p = subparsers.add_parser("hello")
        p.add_argument("--who", default="世界")
        p.set_defaults(fn=lambda args: f"你好 {args.who}")
    pm.register_inline(plugin_module("cmd", register_commands=register_commands), make_manifest("cmd"))
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    pm.call("cmd", "register_commands", subparsers=sub)
    args = parser.parse_args(["hello", "--who", "台州"])
    assert args.fn(args) == "你好 台州"
