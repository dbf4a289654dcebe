"""Issue 19 (5): a drill never changes a live figure.

A drill runs through the real host (its alert raised through the host and the bus, the incident workflow,
warnings through the channels, dispatch over the road graph, the team tracker ingesting through the host)
while every panel of the district screen, the command centre's resources, the supplies stock and the alarm
summary are rendered before, during and after it: every figure they show stays the same. The drill's own
views (its incident card, timeline, map and report) show it, marked 演练.
"""

from __future__ import annotations

import json
import re
import time
import types
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.plugins.manager import import_plugin_submodule
from core.plugins.testing import render_panel

ROOT = Path(__file__).resolve().parents[1]
PLUGIN_DIR = ROOT / "plugins" / "command_center"
DISTRICT = [p["panel"] for p in yaml.safe_load((ROOT / "config/dashboards/district.yaml").read_text(
    encoding="utf-8"))["panels"]]
#: live figures outside the district screen that a drill also touched (teams, stock, alarms)
MORE = ["command_center.resources", "command_center.headline", "supplies.kpis", "supplies.stock", "alerts.summary",
        "alerts.list"]
PLUGINS = sorted({p.split(".")[0] for p in DISTRICT + MORE})

drills, incidents, tracker, publish = (import_plugin_submodule(PLUGIN_DIR, m)
                                       for m in ("drills", "incidents", "tracker", "publish"))


@pytest.fixture
def app(make_twin_app, tmp_path):
    # settings given at start (a later settings change reloads the plugin's twin, which is not this test's topic)
    cc = {"outbox": str(tmp_path / "outbox.jsonl"), "reports_dir": str(tmp_path / "reports")}
    return make_twin_app(builtin=True, plugin_allowlist=PLUGINS, run_sources=False, public_screens=False,
                         plugin_config={"command_center": {"settings": cc}})


def _texts(node: Any, out: list[str]) -> list[str]:
    """Every string a rendered panel shows (Dash children, deck layer data and legend), in order."""
    if isinstance(node, dict):
        for k in sorted(node):
            if k in ("style", "className", "id", "key", "type", "namespace"):
                continue  # how it looks, not what it says
            _texts(node[k], out)
    elif isinstance(node, (list, tuple)):
        for x in node:
            _texts(x, out)
    elif isinstance(node, (str, int, float)) and not isinstance(node, bool):
        out.append(str(node))
    return out


def figures(app, panel: str) -> list[str]:
    """The numbers a panel shows (positions of map points included), as text."""
    out = render_panel(app, panel)
    plain = json.loads(json.dumps(out, default=lambda o: o.to_plotly_json()))
    if isinstance(plain, dict) and "layers" in plain:  # a map: what its layers draw and its legend says
        plain = {"layers": [{"id": layer.get("id"), "data": layer.get("data")} for layer in plain["layers"]],
                 "legend": plain.get("tbLegend")}
    return re.findall(r"\d+(?:\.\d+)?", " ".join(_texts(plain, [])))


def snapshot(app) -> dict[str, list[str]]:
    return {p: figures(app, p) for p in DISTRICT + MORE}


def diff(before: dict[str, list[str]], after: dict[str, list[str]]) -> str:
    """The panels whose figures changed, each with its figures before and after ("" when none did)."""
    return "\n".join(f"{p}: {' '.join(before[p])[:300]}\n   → {' '.join(after[p])[:300]}"
                     for p in before if before[p] != after[p])


def poll_tracker(app, trk) -> None:
    """One cycle of the command centre's team tracker, ingested through the host as its source would."""
    host = app.server.config["TWINBOARD_HOST"]
    host.ingest("command_center", "tracker", list(trk.poll(types.SimpleNamespace(store=host.store))))


def test_a_drill_leaves_every_live_figure_alone(app) -> None:
    host = app.server.config["TWINBOARD_HOST"]
    cc = host.plugins.records["command_center"].settings
    # the demo tracker as configured, but so fast that a dispatched team reaches the scene at its next poll
    trk = tracker.TeamTracker(cc.model_copy(update={"speedup": 1000.0, "rfid_scan_s": 5.0}))
    poll_tracker(app, trk)
    before = snapshot(app)
    assert before["command_center.headline"], "the headline shows figures"

    d = drills.load_drills(ROOT / "twin_models" / "command_center" / "drills.yaml")["chem_leak"]
    run = drills.DrillRun(d, host, _net(cc), cc)
    during = None
    for step in d.steps:  # the drill's steps in order, the tracker running between them
        getattr(run, f"_do_{step.do}")(step)
        if step.do == "dispatch":
            time.sleep(0.4)  # 0.4 s × 1000: the 5-minute routes are driven
            poll_tracker(app, trk)
            poll_tracker(app, trk)
        if step.do == "message":
            during = snapshot(app)
    poll_tracker(app, trk)
    after = snapshot(app)

    assert diff(before, during) == ""
    assert diff(before, after) == ""

    # the drill itself went through the workflow, and its own views show it, marked 演练
    inc = incidents.get(host.store, run.incident_id)
    kinds = [e.kind for e in incidents.timeline(host.store, inc.id)]
    assert inc.is_drill and inc.state == "closed" and "dispatch" in kinds and "handling" in kinds, kinds
    assert len(inc.properties["dispatches"]) == 2 and len(inc.properties.get("arrivals", [])) == 2
    card = json.dumps(render_panel(app, "command_center.incident", {"incident": inc.id}), default=str,
                      ensure_ascii=False)
    assert "演练" in card and "【演练】" in card
    scene = render_panel(app, "command_center.incident_map", {"incident": inc.id})
    teams = [row for layer in scene["layers"] if layer["id"].startswith("teams_") for row in layer["data"]]
    assert len(teams) == 2
    assert "演练" in Path(run.report["html"]).read_text(encoding="utf-8")
    assert [p for p in publish.publications(host.store) if p.is_drill and p.state == "published"]


def test_a_drill_started_from_the_console_changes_no_live_figure(app) -> None:
    """The same through the console's HTTP route, the drill running in its own thread at speed 100."""
    from core.data.users import Users
    host = app.server.config["TWINBOARD_HOST"]
    Users(host.store).add("manager1", "manager-pass-1", "manager", "test")
    client = app.server.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    client.post("/login", data={"username": "manager1", "password": "manager-pass-1", "csrf_token": token})
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/plugins/command_center/console")
                      .get_data(as_text=True)).group(1)
    before = snapshot(app)
    resp = client.post("/plugins/command_center/drills/typhoon/start", json={"speed": 100},
                       headers={"X-CSRFToken": token})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    for _ in range(600):
        status = client.get("/plugins/command_center/drills/typhoon").get_json()
        if status["done"]:
            break
        time.sleep(0.05)
    assert status["done"] and status["error"] is None and status["report"], status
    assert diff(before, snapshot(app)) == ""


def _net(settings):
    return import_plugin_submodule(PLUGIN_DIR, "places").road_network(settings.road_spacing_m)
