"""command_center: road graph and 15-minute circle, incidents intake→closure, alerts→incident→wall,
warning publication, evaluation report, drills, the tracker, and the routes' roles and bad input."""

from __future__ import annotations

import json
import re
import time
import types
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from sqlmodel import select

from core.api import AlertDraft, ConfigError, Severity
from core.plugins.manager import import_plugin_submodule
from core.plugins.testing import render_panel
from core.data.twin import Alert, Incident
from core.data.users import Users
from core.runtime.wall import set_wall_mode, wall_state

ROOT = Path(__file__).resolve().parents[1]
PLUGIN_DIR = ROOT / "plugins" / "command_center"


def _cc(module: str) -> types.ModuleType:
    return import_plugin_submodule(PLUGIN_DIR, module)


roads, circle, incidents, publish, report, drills, tracker = (
    _cc(m) for m in ("roads", "circle", "incidents", "publish", "report", "drills", "tracker"))


# -- road graph and the circle ---------------------------------------------------------------------
def line_graph(n: int = 6, seconds: float = 120.0) -> nx.Graph:
    """Nodes 0..n-1 on a line 0.01° of longitude apart, each edge ``seconds`` long."""
    g = nx.Graph()
    for i in range(n):
        g.add_node(i, lon=121.40 + 0.01 * i, lat=28.65)
    for i in range(n - 1):
        g.add_edge(i, i + 1, time_s=seconds, length_m=1000.0, speed_kmh=30.0, road="local")
    return g


def test_demo_roads_are_deterministic_and_cross_the_river_only_on_bridges() -> None:
    a, b = roads.demo_roads(), roads.demo_roads()
    assert sorted(a.edges) == sorted(b.edges) and a.number_of_edges() > 3000
    assert [a.nodes[n] for n in sorted(a.nodes)] == [b.nodes[n] for n in sorted(b.nodes)]
    # the banks of the real estuary (not a latitude): every edge joining them is a bridge, one per bridge
    crossing = [d for u, v, d in a.edges(data=True) if a.nodes[u]["bank"] != a.nodes[v]["bank"]]
    assert sorted(d["name"] for d in crossing) == sorted(name for name, *_ in roads.BRIDGES)
    assert {d["road"] for d in crossing} == {"bridge"}
    assert nx.is_connected(a)


def test_circle_on_a_hand_made_graph() -> None:
    net = roads.RoadNetwork(line_graph(6, 120.0))
    st = [circle.Place("s", "站", "micro_station", 121.40, 28.65)]
    tg = [circle.Place(f"t{i}", f"点{i}", "risk_point", 121.40 + 0.01 * i, 28.65, people=100) for i in range(6)]
    res = circle.rapid_response_circle(net, st, tg, minutes=5)      # 300 s: nodes 0, 1, 2 (0, 120, 240 s)
    assert [t.covered for t in res.targets] == [True, True, True, False, False, False]
    assert res.targets[2].best_s == pytest.approx(240.0, abs=0.01)
    assert res.shares["risk_points"] == pytest.approx(0.5) and res.shares["people"] == pytest.approx(0.5)
    assert res.areas[0].reached == 3 and [g.target.id for g in res.gaps] == ["t3", "t4", "t5"]


def test_a_station_that_cannot_use_the_graph_is_reported_not_counted() -> None:
    g = line_graph(4)
    g.add_node(99, lon=121.50, lat=28.65)                              # a road piece of its own
    g.add_node(98, lon=121.501, lat=28.65)
    g.add_edge(98, 99, time_s=10.0, length_m=100.0, speed_kmh=30.0, road="local")
    net = roads.RoadNetwork(g)
    st = [circle.Place("far", "远站", "micro_station", 122.5, 28.65),     # ~100 km from any road
          circle.Place("cut", "孤岛站", "micro_station", 121.50, 28.65),
          circle.Place("ok", "好站", "micro_station", 121.40, 28.65)]
    res = circle.rapid_response_circle(net, st, [circle.Place("t", "点", "risk_point", 121.41, 28.65)], 15)
    errors = {a.station.id: a.error for a in res.areas}
    assert "km from the nearest road" in errors["far"] and "cut off" in errors["cut"] and errors["ok"] is None
    assert res.targets[0].covered and res.targets[0].station_id == "ok"
    assert len(res.problems) == 2


def test_circle_agrees_with_networkx_on_the_demo_network() -> None:
    net = roads.RoadNetwork(roads.demo_roads())
    picks = [0, 500, 1000, 1700]
    st = [circle.Place(f"s{i}", "s", "micro_station", float(net.lon[i]), float(net.lat[i])) for i in picks]
    _, best, _ = circle.station_areas(net, st, 10, polygons=False)
    ref = nx.multi_source_dijkstra_path_length(net.graph, {net.nodes[i] for i in picks}, cutoff=600, weight="time_s")
    assert int(np.isfinite(best).sum()) == len(ref)
    for node, t in list(ref.items())[::50]:
        assert best[net.index[node]] == pytest.approx(t, abs=0.01)


def test_route_follows_the_graph_with_rising_times() -> None:
    net = roads.RoadNetwork(roads.demo_roads())
    path, cum = net.route(10, 1700)
    assert len(path) == len(cum) > 5 and all(b >= a for a, b in zip(cum, cum[1:]))
    ref = nx.shortest_path_length(net.graph, net.nodes[10], net.nodes[1700], weight="time_s")
    assert cum[-1] == pytest.approx(ref, rel=1e-6)


def test_position_on_a_route() -> None:
    route, cum = [[0.0, 0.0], [1.0, 0.0], [1.0, 2.0]], [0.0, 10.0, 30.0]
    assert tracker.position_on(route, cum, 5.0) == [0.5, 0.0]
    assert tracker.position_on(route, cum, 20.0) == [1.0, 1.0]
    assert tracker.position_on(route, cum, 99.0) == [1.0, 2.0]


# -- a host with the plugin ------------------------------------------------------------------------
@pytest.fixture
def app(make_twin_app, tmp_path):
    app = make_twin_app(builtin=True, plugin_allowlist=["command_center", "alerts"], run_sources=False,
                        public_screens=False)
    host = app.server.config["TWINBOARD_HOST"]
    host.update_settings("command_center", {"outbox": str(tmp_path / "outbox.jsonl"),
                                            "reports_dir": str(tmp_path / "reports")}, "test")
    users = Users(host.store)
    users.add("viewer1", "viewer-pass-1", "viewer", "test")
    users.add("manager1", "manager-pass-1", "manager", "test")
    return app


def host_of(app):
    return app.server.config["TWINBOARD_HOST"]


def settings_of(app):
    return host_of(app).plugins.records["command_center"].settings


def net_of(app):
    return _cc("places").road_network(settings_of(app).road_spacing_m)


def test_plugin_loads_its_resources(app) -> None:
    host = host_of(app)
    assert host.plugins.records["command_center"].status.value == "enabled"
    assert len(host.store.entities(kind="emergency_team")) == 5
    assert len(host.store.entities(kind="micro_station")) == 8


def test_an_incident_needs_a_location_and_nothing_is_stored_without_one(app) -> None:
    store = host_of(app).store
    with pytest.raises(incidents.IncidentError, match="needs a location"):
        incidents.open_incident(store, "m", kind="fire", title="无地点")
    with pytest.raises(incidents.IncidentError, match="lon/lat must be numbers"):
        incidents.open_incident(store, "m", kind="fire", title="坏地点", lon="east", lat="28")
    assert incidents.incidents(store) == []


def test_incident_from_intake_to_closure_with_its_timeline(app) -> None:
    store, net = host_of(app).store, net_of(app)
    inc = incidents.open_incident(store, "duty1", kind="fire", title="厂房火灾", lon=121.45, lat=28.675,
                                  reporter="张某", place="海门")
    incidents.assess(store, inc.id, "duty1", 2, "过火面积 200 平方米")
    with pytest.raises(incidents.IncidentError, match="cannot go back"):
        incidents._advance(store, incidents.get(store, inc.id), "intake", "duty1", "")
    cands = _cc("dispatching").candidates(store, net, incidents.get(store, inc.id))
    assert cands[0]["eta_s"] <= cands[-1]["eta_s"] or cands[-1]["eta_s"] is None
    first = cands[0]["id"]
    def depot():
        return next(e for e in store.entities(kind="material_depot") if e.id == "cc.depot.district")
    before = {i["sku"]: i["count"] for i in depot().properties["items"]}
    with pytest.raises(incidents.IncidentError, match="count must be"):
        incidents.dispatch(store, inc.id, "duty1", [], [{"depot": depot().id, "sku": "tent", "count": 10**6}])
    assert {i["sku"]: i["count"] for i in depot().properties["items"]} == before
    planned = _cc("dispatching").plan(store, net, incidents.get(store, inc.id), [first])
    incidents.dispatch(store, inc.id, "duty1", planned, [{"depot": depot().id, "sku": "tent", "count": 5}])
    with pytest.raises(incidents.IncidentError, match="not available"):
        incidents.dispatch(store, inc.id, "duty1", planned)
    after = {i["sku"]: i["count"] for i in depot().properties["items"]}
    assert after["tent"] == before["tent"] - 5
    incidents.arrive(store, inc.id, first, "duty1")
    incidents.message(store, inc.id, "duty1", "明火扑灭")
    with pytest.raises(ValueError, match="still open"):
        report.collect(store, inc.id)
    closed = incidents.close(store, inc.id, "duty1", "结案")
    assert closed.state == "closed" and closed.closed_at
    kinds = [e.kind for e in incidents.timeline(store, inc.id)]
    assert kinds == ["intake", "assessment", "dispatch", "handling", "message", "closed"]
    times = incidents.response_times(closed, incidents.timeline(store, inc.id))
    assert times["intake_to_dispatch_s"] >= 0 and times["dispatch_to_arrival_s"] >= 0
    team = next(e for e in store.entities(kind=cands[0]["kind"]) if e.id == first)
    assert team.properties["status"] == "returning"
    assert any(a.action == "incident.closed" for a in store.audit_log())
    with pytest.raises(incidents.IncidentError, match="closed"):
        incidents.message(store, inc.id, "duty1", "too late")


def test_severe_alert_opens_an_incident_switches_the_wall_and_nearby_alerts_join_it(app) -> None:
    host = host_of(app)
    store = host.store
    team = store.entities(kind="emergency_team")[0]          # any entity with a position
    a1 = host.raise_alert("alerts", AlertDraft("x.rule", team.id, Severity.I, "一号报警"))
    with store.session() as db:
        inc_id = db.get(Alert, a1.id).incident_id
    assert inc_id is not None
    assert wall_state(store)["mode"] == "incident" and wall_state(store)["incident_id"] == inc_id
    a2 = host.raise_alert("alerts", AlertDraft("y.rule", team.id, Severity.I, "二号报警"))
    with store.session() as db:
        assert db.get(Alert, a2.id).incident_id == inc_id
    a3 = host.raise_alert("alerts", AlertDraft("z.rule", team.id, Severity.III, "轻微"))
    with store.session() as db:
        assert db.get(Alert, a3.id).incident_id is None           # below the auto level
    a4 = host.raise_alert("alerts", AlertDraft("w.rule", "no.such.entity", Severity.I, "无位置"))
    with store.session() as db:
        assert db.get(Alert, a4.id).incident_id is None
    assert any(e.action == "incident.not_opened" and e.target == f"alert:{a4.id}" for e in store.audit_log())
    assert [e.action for e in store.audit_log()].count("wall.mode") == 1


def test_wall_mode_bad_input(app) -> None:
    store = host_of(app).store
    with pytest.raises(ValueError, match="must be one of"):
        set_wall_mode(store, None, "party", "m")
    with pytest.raises(ValueError, match="needs the incident"):
        set_wall_mode(store, None, "incident", "m")
    with pytest.raises(ValueError, match="no incident 404"):
        set_wall_mode(store, None, "incident", "m", 404)
    assert wall_state(store)["mode"] == "routine"


def test_publication_resolves_recipients_refuses_empty_lists_and_needs_review(app, tmp_path) -> None:
    store = host_of(app).store
    nowhere = {"type": "Polygon", "coordinates": [[[120.0, 20.0], [120.01, 20.0], [120.01, 20.01], [120.0, 20.0]]]}
    with pytest.raises(publish.PublicationError, match="recipient list is empty"):
        publish.draft(store, "m", level="red", title="t", message="", groups=["villages"], area=nowhere)
    with pytest.raises(publish.PublicationError, match="at least one recipient group"):
        publish.draft(store, "m", level="red", title="t", message="", groups=[], area=nowhere)
    with pytest.raises(publish.PublicationError, match="level"):
        publish.draft(store, "m", level="purple", title="t", message="", groups=["departments"], area=nowhere)
    assert publish.publications(store) == []
    pub = publish.draft(store, "m", level="orange", title="<script>alert(1)</script>", message="撤离",
                        groups=["departments"], area=nowhere)
    assert len(pub.recipients) == 6 and {r["group"] for r in pub.recipients} == {"departments"}
    outbox = tmp_path / "box.jsonl"
    with pytest.raises(publish.PublicationError, match="must be reviewed"):
        publish.publish(store, pub.id, "m", [publish.FileChannel(outbox)])
    publish.review(store, pub.id, "chief")
    done = publish.publish(store, pub.id, "m", [publish.FileChannel(outbox)])
    assert done.state == "published" and all(r["ok"] for r in done.results)
    lines = [json.loads(x) for x in outbox.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 6 and lines[0]["title"] == "<script>alert(1)</script>"
    assert [a.action for a in store.audit_log()][:3] == ["warning.publish", "warning.review", "warning.draft"]


def test_report_html_and_pdf_for_a_closed_incident(app, tmp_path) -> None:
    store, net = host_of(app).store, net_of(app)
    inc = incidents.open_incident(store, "m", kind="chemical_leak", title="<b>泄漏</b>", lon=121.52, lat=28.705)
    incidents.assess(store, inc.id, "m", 1, "严重")
    team = _cc("dispatching").candidates(store, net, incidents.get(store, inc.id))[0]["id"]
    incidents.dispatch(store, inc.id, "m", _cc("dispatching").plan(store, net, incidents.get(store, inc.id), [team]))
    incidents.arrive(store, inc.id, team)
    incidents.close(store, inc.id, "m", "已控制")
    paths = report.write_report(store, inc.id, net, tmp_path / "reports", "m")
    page = paths["html"].read_text(encoding="utf-8")
    assert "&lt;b&gt;泄漏&lt;/b&gt;" in page and "<b>泄漏</b>" not in page
    assert "应急评估报告" in page and "data:image/png;base64," in page and page.count("<tr>") > 8
    pdf = paths["pdf"].read_bytes()
    assert pdf.startswith(b"%PDF") and len(pdf) > 20_000 and b"/FontFile2" in pdf
    assert incidents.get(store, inc.id).properties["report"]["pdf"] == str(paths["pdf"])
    assert incidents.timeline(store, inc.id)[-1].kind == "report"


def test_drills_file_errors_name_file_line_and_field(tmp_path) -> None:
    bad = tmp_path / "drills.yaml"
    bad.write_text("drills:\n  - id: x\n    title: {zh: 演练, en: drill}\n    kind: volcano\n"
                   "    place: {name: p, lon: 121.4, lat: 28.6}\n    steps:\n      - {at_s: 0, do: alert}\n",
                   encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        drills.load_drills(bad)
    assert exc.value.line == 4 and "volcano" in str(exc.value)
    bad.write_text("drills:\n  - id: x\n    title: {zh: 演练, en: drill}\n    kind: fire\n"
                   "    place: {name: p, lon: 121.4, lat: 28.6}\n    steps:\n      - {at_s: 0, do: dance}\n",
                   encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        drills.load_drills(bad)
    assert exc.value.line == 7
    assert set(drills.load_drills(ROOT / "twin_models" / "command_center" / "drills.yaml")) == {
        "chem_leak", "forest_fire", "typhoon"}


def test_a_drill_runs_the_same_workflow_marked_as_a_drill(app) -> None:
    host = host_of(app)
    d = drills.load_drills(ROOT / "twin_models" / "command_center" / "drills.yaml")["chem_leak"]
    run = drills.DrillRun(d, host, net_of(app), settings_of(app), speed=200).start()
    assert run.done.wait(60) and run.error is None, run.error
    inc = incidents.get(host.store, run.incident_id)
    assert inc.is_drill and inc.title.startswith("【演练】") and inc.state == "closed"
    assert [e.kind for e in incidents.timeline(host.store, inc.id)][:4] == ["intake", "alert_linked", "assessment",
                                                                           "warning"]
    pubs = publish.publications(host.store)
    assert pubs[0].is_drill and pubs[0].title.startswith("【演练】") and pubs[0].state == "published"
    assert Path(run.report["pdf"]).exists() and "演练" in Path(run.report["html"]).read_text(encoding="utf-8")
    with host.store.session() as db:
        alerts = db.scalars(select(Alert).where(Alert.incident_id == inc.id)).all()
    assert alerts and all(a.title.startswith("【演练】") and a.details["drill"] for a in alerts)


def test_tracker_moves_a_dispatched_team_and_records_its_arrival(app) -> None:
    host = host_of(app)
    store, net = host.store, net_of(app)
    inc = incidents.open_incident(store, "m", kind="fire", title="火情", lon=121.44, lat=28.66)
    team = _cc("dispatching").candidates(store, net, inc)[0]["id"]
    incidents.dispatch(store, inc.id, "m", _cc("dispatching").plan(store, net, inc, [team]))
    s = settings_of(app).model_copy(update={"speedup": 1e6})
    ctx = types.SimpleNamespace(store=store)
    time.sleep(0.05)
    readings = tracker.TeamTracker(s).poll(ctx)
    assert incidents.get(store, inc.id).state == "handling"
    assert [e.kind for e in incidents.timeline(store, inc.id)][-1] == "handling"
    assert any(r.metric == "teams_on_scene" and r.value >= 1 for r in readings)
    assert any(r.metric.startswith("stock.") for r in readings)


@pytest.mark.parametrize("panel", ["one_map", "headline", "resources", "circle", "incident", "timeline", "soonest",
                                   "incident_map", "warnings", "incidents"])
def test_every_panel_renders_with_and_without_an_incident(app, panel: str) -> None:
    host = host_of(app)
    out = render_panel(app, f"command_center.{panel}")
    assert "Panel error" not in json.dumps(out, default=str, ensure_ascii=False)
    incidents.open_incident(host.store, "m", kind="flood", title="内涝", lon=121.45, lat=28.68, is_drill=True)
    out = json.dumps(render_panel(app, f"command_center.{panel}"), default=str, ensure_ascii=False)
    assert "Panel error" not in out
    if panel == "incident":
        assert "【演练】内涝" in out and "演练" in out


# -- the maps' symbols and legends (issue 19 point 8) ------------------------------------------------
def _lab(rgb) -> tuple[float, float, float]:
    """CIELAB (D65) of an sRGB colour."""
    def lin(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (lin(c) for c in rgb[:3])
    x, y, z = ((0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047, 0.2126 * r + 0.7152 * g + 0.0722 * b,
               (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883)

    def f(t: float) -> float:
        return t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116
    return 116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))


def delta_e(c1, c2) -> float:
    """CIEDE2000 difference of two sRGB colours: about 2 just noticeable, ≥ 18 another colour."""
    return delta_e_lab(_lab(c1), _lab(c2))


def delta_e_lab(lab1, lab2) -> float:
    """CIEDE2000 colour difference of two CIELAB colours (Sharma, Wu, Dalal 2005)."""
    import math
    (l1, a1, b1), (l2, a2, b2) = lab1, lab2
    cb = (math.hypot(a1, b1) + math.hypot(a2, b2)) / 2
    g = 0.5 * (1 - math.sqrt(cb ** 7 / (cb ** 7 + 25 ** 7)))
    a1, a2 = (1 + g) * a1, (1 + g) * a2
    c1p, c2p = math.hypot(a1, b1), math.hypot(a2, b2)
    h1, h2 = math.degrees(math.atan2(b1, a1)) % 360, math.degrees(math.atan2(b2, a2)) % 360
    dh = 0.0 if c1p * c2p == 0 else (h2 - h1 + 180) % 360 - 180
    dl, dc, dhh = l2 - l1, c2p - c1p, 2 * math.sqrt(c1p * c2p) * math.sin(math.radians(dh / 2))
    lb, cbp = (l1 + l2) / 2, (c1p + c2p) / 2
    if c1p * c2p == 0:
        hb = h1 + h2
    elif abs(h1 - h2) <= 180:
        hb = (h1 + h2) / 2
    else:
        hb = (h1 + h2 + 360) / 2 if h1 + h2 < 360 else (h1 + h2 - 360) / 2
    t = (1 - 0.17 * math.cos(math.radians(hb - 30)) + 0.24 * math.cos(math.radians(2 * hb))
         + 0.32 * math.cos(math.radians(3 * hb + 6)) - 0.20 * math.cos(math.radians(4 * hb - 63)))
    rt = (-2 * math.sqrt(cbp ** 7 / (cbp ** 7 + 25 ** 7))
          * math.sin(math.radians(60 * math.exp(-((hb - 275) / 25) ** 2))))
    sl = 1 + 0.015 * (lb - 50) ** 2 / math.sqrt(20 + (lb - 50) ** 2)
    sc, sh = 1 + 0.045 * cbp, 1 + 0.015 * cbp * t
    return math.sqrt((dl / sl) ** 2 + (dc / sc) ** 2 + (dhh / sh) ** 2 + rt * (dc / sc) * (dhh / sh))


def test_delta_e_matches_the_published_reference_pairs() -> None:
    # Sharma, Wu, Dalal (2005), table 1: pairs 1, 7, 17, 25 and 34
    for lab1, lab2, want in [((50, 2.6772, -79.7751), (50, 0, -82.7485), 2.0425),
                             ((50, 0, 0), (50, -1, 2), 2.3669),
                             ((50, 2.5, 0), (73, 25, -18), 27.1492),
                             ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
                             ((2.0776, 0.0795, -1.1350), (0.9033, -0.0636, -0.5514), 0.9082)]:
        assert delta_e_lab(lab1, lab2) == pytest.approx(want, abs=1e-3)
    assert _lab([255, 0, 0]) == pytest.approx((53.24, 80.09, 67.20), abs=0.05)    # sRGB red in CIELAB (D65)
    assert delta_e([232, 54, 59], [255, 80, 60]) < 10      # the old fire stations were the severity-1 red


def test_one_map_kinds_have_their_own_colour_and_symbol(app) -> None:
    from itertools import combinations
    from core.api import ICON_NAMES
    panels = _cc("panels")
    deck = render_panel(app, "command_center.one_map")
    layers = {layer["id"]: layer for layer in deck["layers"]}
    chips = [c for c in deck["tbLegend"] if c["ids"][0].startswith("res_")]
    assert [c["ids"][0] for c in chips] == [f"res_{k}" for k in _cc("places").LAYERS] and len(chips) == 11
    # a colour for each kind, far from every other kind's and from the incidents' severity colours
    for a, b in combinations(chips, 2):
        assert delta_e(a["color"], b["color"]) >= 18, (a["label"], b["label"], delta_e(a["color"], b["color"]))
    for c in chips:
        for level, sev in panels.SEV_RGB.items():
            assert delta_e(c["color"], sev) >= 18, (c["label"], f"severity {level}")
    # and a symbol of its own, which the map draws in the chip's colour (a team out on a job: its status's)
    icons = [c["icon"] for c in chips]
    assert len(set(icons)) == len(icons) and set(icons) <= set(ICON_NAMES)
    for c in chips:
        layer = layers[c["ids"][0]]
        assert layer["@@type"] == "IconLayer" and layer["pickable"] and layer["getSize"] >= 18, c["ids"][0]
        assert layer["iconAtlas"].startswith("/assets/tb-icons.png?v=") and layer["iconMapping"][c["icon"]]["mask"]
        assert all(r["icon"] == c["icon"] and r["name"] for r in layer["data"]), c["ids"][0]
        assert all(r["color"][:3] == c["color"] for r in layer["data"]
                   if c["ids"][0] not in ("res_teams", "res_micro", "res_fire")), c["ids"][0]
    assert all(layers[f"res_{k}"]["data"] for k in ("teams", "micro", "fire", "depots", "shelters"))
    # the atlas is served by the host itself, to a browser that is not signed in (a wall offline)
    atlas = app.server.test_client().get(layers["res_teams"]["iconAtlas"])
    assert atlas.status_code == 200 and atlas.data.startswith(b"\x89PNG")


def test_incident_map_has_a_legend_of_what_it_draws_and_frames_it(app) -> None:
    from core.web.labels import screen_xy
    host = host_of(app)
    store, net = host.store, net_of(app)
    inc = incidents.open_incident(store, "m", kind="fire", title="火情", lon=121.44, lat=28.66, severity=2)
    team = _cc("dispatching").candidates(store, net, inc)[0]["id"]
    incidents.dispatch(store, inc.id, "m", _cc("dispatching").plan(store, net, inc, [team]))
    deck = render_panel(app, "command_center.incident_map", {"incident": inc.id})
    layers = {layer["id"]: layer for layer in deck["layers"]}
    legend = deck["tbLegend"]
    # every chip turns layers the map has; every layer that draws something has a chip
    assert legend and all(i in layers for c in legend for i in c["ids"]), [c["ids"] for c in legend]
    toggled = {i for c in legend for i in c["ids"]}
    assert {lid for lid, layer in layers.items() if layer.get("data")} <= toggled
    chip = {c["ids"][0]: c for c in legend}
    assert chip["incidents"]["color"] == _cc("panels").SEV_RGB[2] and "Ⅱ级" in chip["incidents"]["label"]
    # the dispatched team: a shield in the status's colour, its route in the same chip
    assert chip["teams_dispatched"]["ids"] == ["teams_dispatched", "routes_dispatched"]
    assert chip["teams_dispatched"]["icon"] == "shield" and chip["teams_dispatched"]["color"] == [246, 211, 60]
    assert [r["name"] for r in layers["teams_dispatched"]["data"]] and layers["routes_dispatched"]["data"]
    # the places around it with the one map's symbols
    near = [c for c in legend if c["ids"][0].startswith("nearby_")]
    assert near and all(c["icon"] for c in near)
    assert team not in {r.get("id") for c in near for r in layers[c["ids"][0]]["data"]}   # drawn once, as a team
    # the view shows the incident, the teams' routes and the places around it whole, clear of the legend
    view = deck["initialViewState"]
    w, h = 918, 570
    points = [layers["incidents"]["data"][0]["position"]]
    points += [p for r in layers["routes_dispatched"]["data"] for p in r["path"]]
    points += [r["position"] for c in near for r in layers[c["ids"][0]]["data"]]
    for lon, lat in points:
        x, y = screen_xy(lon, lat, view, h)
        assert -w / 2 + 200 <= x <= w / 2 and -h / 2 <= y <= h / 2, (lon, lat, x, y, view)
    # the framing is stable: the same scene renders the same view (the wall does not re-fly)
    assert render_panel(app, "command_center.incident_map", {"incident": inc.id})["initialViewState"] == view


# -- routes: roles, CSRF, bad input --------------------------------------------------------------
def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def login(app, name: str, password: str):
    client = app.server.test_client()
    token = csrf_of(client.get("/login").get_data(as_text=True))
    assert client.post("/login", data={"username": name, "password": password, "csrf_token": token}).status_code == 302
    return client, token


CC = "/plugins/command_center"


def test_viewers_and_strangers_cannot_change_anything(app) -> None:
    anon = app.server.test_client()
    viewer, token = login(app, "viewer1", "viewer-pass-1")
    for client in (anon, viewer):
        for path in (f"{CC}/incidents", f"{CC}/warnings", f"{CC}/drills/chem_leak/start", f"{CC}/wall",
                     "/api/admin/wall"):
            resp = client.post(path, json={"kind": "fire", "title": "x", "lon": 121.4, "lat": 28.6, "mode": "routine"},
                               headers={"X-CSRFToken": token})
            assert resp.status_code in (302, 400, 401, 403), (path, resp.status_code)
        assert client.get(f"{CC}/console").status_code in (302, 401, 403)
    assert incidents.incidents(host_of(app).store) == []
    assert viewer.get("/api/wall").get_json()["mode"] == "routine"


def test_manager_runs_an_incident_through_the_json_api(app) -> None:
    client, _ = login(app, "manager1", "manager-pass-1")
    h = {"X-CSRFToken": csrf_of(client.get(f"{CC}/console").get_data(as_text=True))}
    assert client.post(f"{CC}/incidents", json={"kind": "fire", "title": "x"}, headers=h).status_code == 400
    assert "needs a location" in client.post(f"{CC}/incidents", json={"kind": "fire", "title": "x"},
                                             headers=h).get_json()["error"]
    resp = client.post(f"{CC}/incidents", json={"kind": "fire", "title": "'; DROP TABLE incident; --",
                                                "lon": 121.45, "lat": 28.67, "switch_wall": True}, headers=h)
    inc = resp.get_json()
    assert resp.status_code == 200 and client.get("/api/wall").get_json()["incident_id"] == inc["id"]
    cands = client.get(f"{CC}/incidents/{inc['id']}/candidates").get_json()
    assert client.post(f"{CC}/incidents/{inc['id']}/dispatch", json={"teams": [cands[0]["id"]]},
                       headers=h).status_code == 200
    assert client.post(f"{CC}/incidents/{inc['id']}/report", headers=h).status_code == 409
    assert client.post(f"{CC}/incidents/{inc['id']}/close", json={"text": "ok"}, headers=h).status_code == 200
    assert client.post(f"{CC}/incidents/{inc['id']}/report", headers=h).status_code == 200
    assert client.get(f"{CC}/incidents/{inc['id']}/report.pdf").data.startswith(b"%PDF")
    shown = client.get(f"{CC}/incidents/{inc['id']}").get_json()
    assert shown["title"] == "'; DROP TABLE incident; --" and len(shown["timeline"]) >= 4
    page = client.get(f"{CC}/console").get_data(as_text=True)
    assert "&#39;; DROP TABLE incident; --" in page
    assert client.post(f"{CC}/wall", json={"mode": "routine"}, headers=h).get_json()["mode"] == "routine"
    assert client.post(f"{CC}/incidents", data=b"x" * 400_000, headers={**h, "Content-Type": "application/json"}
                       ).status_code == 413
    assert client.post(f"{CC}/incidents", data="[1,2", headers={**h, "Content-Type": "application/json"}
                       ).status_code == 400
    assert client.get("/api/health").status_code == 200


def test_console_forms_with_csrf(app) -> None:
    client, _ = login(app, "manager1", "manager-pass-1")
    page = client.get(f"{CC}/console").get_data(as_text=True)
    token = csrf_of(page)
    assert client.post(f"{CC}/incidents", data={"kind": "fire", "title": "无令牌", "lon": "121.4",
                                                "lat": "28.6"}).status_code == 400
    resp = client.post(f"{CC}/incidents", data={"kind": "fire", "title": "表单事件", "lon": "121.44", "lat": "28.67",
                                                "csrf_token": token})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/console")
    assert [i.title for i in incidents.incidents(host_of(app).store)] == ["表单事件"]
    assert "表单事件" in client.get(f"{CC}/console").get_data(as_text=True)


def test_warning_for_a_circle_drawn_in_the_console(app) -> None:
    client, _ = login(app, "manager1", "manager-pass-1")
    h = {"X-CSRFToken": csrf_of(client.get(f"{CC}/console").get_data(as_text=True))}
    bad = client.post(f"{CC}/warnings", json={"level": "red", "title": "t", "groups": ["departments"],
                                               "center_lon": "x", "center_lat": 28.6, "radius_km": 3}, headers=h)
    assert bad.status_code == 400 and "must be numbers" in bad.get_json()["error"]
    empty = client.post(f"{CC}/warnings", json={"level": "red", "title": "t", "groups": [],
                                                 "center_lon": 121.45, "center_lat": 28.67, "radius_km": 3}, headers=h)
    assert empty.status_code == 400 and "recipient group" in empty.get_json()["error"]
    ok = client.post(f"{CC}/warnings", json={"level": "yellow", "title": "大风", "groups": ["departments"],
                                              "center_lon": 121.45, "center_lat": 28.67, "radius_km": 3}, headers=h)
    pub = ok.get_json()
    assert ok.status_code == 200 and pub["state"] == "draft" and pub["area"]["type"] == "Polygon"
    assert client.post(f"{CC}/warnings/{pub['id']}/publish", headers=h).status_code == 400
    assert client.post(f"{CC}/warnings/{pub['id']}/review", headers=h).get_json()["state"] == "reviewed"
    assert client.post(f"{CC}/warnings/{pub['id']}/publish", headers=h).get_json()["state"] == "published"


def test_realarm_after_closure_is_recorded_not_a_new_incident_and_plugins_can_be_limited(app) -> None:
    host = host_of(app)
    store = host.store
    team = store.entities(kind="emergency_team")[0]
    a1 = host.raise_alert("alerts", AlertDraft("x.rule", team.id, Severity.I, "首次报警"))
    with store.session() as db:
        inc_id = db.get(Alert, a1.id).incident_id
    incidents.close(store, inc_id, "m", "处置完毕", reason="报警复核后就地处置, 未研判调度")
    a2 = host.raise_alert("alerts", AlertDraft("x.rule", team.id, Severity.I, "再次报警"))
    with store.session() as db:
        assert db.get(Alert, a2.id).incident_id is None
    assert len(incidents.incidents(store)) == 1
    assert "再次报警" in incidents.timeline(store, inc_id)[-1].message
    host.update_settings("command_center", {"auto_incident_plugins": ["chemical_park"], "cooldown_min": 0}, "test")
    other = store.entities(kind="micro_station")[0]
    a3 = host.raise_alert("alerts", AlertDraft("y.rule", other.id, Severity.I, "其他插件报警"))
    with store.session() as db:
        assert db.get(Alert, a3.id).incident_id is None
    assert len(incidents.incidents(store)) == 1


def test_wall_long_poll_answers_when_the_mode_changes(app) -> None:
    import threading
    from core.runtime.wall import WallWatcher
    host = host_of(app)
    watcher = WallWatcher(host.bus)
    first = watcher.wait(host.store, "leaders", None, 5)            # no known state: answers at once
    inc = incidents.open_incident(host.store, "m", kind="fire", title="长轮询", lon=121.45, lat=28.67)
    got: list[dict] = []
    waiter = threading.Thread(target=lambda: got.append(watcher.wait(host.store, "leaders", first["since"], 20)))
    waiter.start()
    set_wall_mode(host.store, host.bus, "incident", "m", inc.id)
    waiter.join(25)
    assert got and got[0]["mode"] == "incident" and got[0]["incident_id"] == inc.id
    client = app.server.test_client()
    assert client.get("/api/wall?since=abc&wait=1").status_code in (400, 302, 401)


def test_screens_read_the_wall_mode_from_a_cache_that_a_switch_invalidates(app) -> None:
    """A screen build asks the wall's mode (the badge at first paint); the store is read again only after a
    WallModeChanged event, not on every build."""
    from core.runtime.wall import WallWatcher
    host = host_of(app)
    watcher = WallWatcher(host.bus)
    reads: list[str] = []
    import core.runtime.wall as wall_mod
    real = wall_mod.wall_state
    wall_mod.wall_state = lambda store, wall="leaders": reads.append(wall) or real(store, wall)
    try:
        before = watcher.state(host.store)
        for _ in range(5):
            assert watcher.state(host.store) == before
        assert len(reads) == 1
        inc = incidents.open_incident(host.store, "m", kind="fire", title="缓存", lon=121.45, lat=28.67)
        set_wall_mode(host.store, host.bus, "incident", "m", inc.id)   # publishes WallModeChanged
        now = watcher.state(host.store)
        assert now["mode"] == "incident" and now["incident_id"] == inc.id
        now["mode"] = "changed by a caller"                             # a copy: the cache stays right
        assert watcher.state(host.store)["mode"] == "incident"
    finally:
        wall_mod.wall_state = real
        set_wall_mode(host.store, host.bus, "routine", "m")


def test_incident_timeline_publication_and_wall_on_sqlite_and_postgresql(any_store) -> None:
    """The command centre's tables (migration 0004) through the same store code on both databases."""
    from core.data.migrate import upgrade
    upgrade(any_store.engine)
    inc = incidents.open_incident(any_store, "duty", kind="flood", title="内涝 <x>", lon=121.45, lat=28.67,
                                  description="'; DROP TABLE incident_event; --")
    incidents.assess(any_store, inc.id, "duty", 3, "积水 40 厘米")
    assert [e.kind for e in incidents.timeline(any_store, inc.id)] == ["intake", "assessment"]
    area = publish.circle_area((121.45, 28.67), 2000)
    with pytest.raises(publish.PublicationError, match="empty"):
        publish.draft(any_store, "duty", level="blue", title="t", message="", groups=["villages"], area=area)
    state = set_wall_mode(any_store, None, "incident", "duty", inc.id)
    assert state["incident_id"] == inc.id and wall_state(any_store)["mode"] == "incident"
    assert incidents.get(any_store, inc.id).properties["description"] == "'; DROP TABLE incident_event; --"


# -- English screens (issue 19 points 1 and 4) -------------------------------------------------------
def _screen_text(node, out: list[str], originals: list[str]) -> None:
    """What a rendered panel says, one string per leaf; the marked originals (a person's text) apart."""
    if isinstance(node, dict) and "props" in node:
        props = node["props"]
        if props.get("className") == "tb-original":
            originals.append(str(props.get("children")))
            return
        _screen_text(props.get("children"), out, originals)
    elif isinstance(node, (list, tuple)):
        for x in node:
            _screen_text(x, out, originals)
    elif isinstance(node, str):
        out.append(node)


def _panel_lines(app, panel: str, inc_id: int, locale: str) -> tuple[list[str], list[str]]:
    comp = render_panel(app, f"command_center.{panel}", {"incident": inc_id}, locale=locale)
    plain = json.loads(json.dumps(comp, default=lambda o: o.to_plotly_json()))
    out: list[str] = []
    originals: list[str] = []
    _screen_text(plain, out, originals)
    return out, originals


def test_the_drill_reads_in_english_on_english_screens_and_unchanged_in_chinese(app) -> None:
    """The incident card, timeline and warnings of the chlorine-leak drill: English on an English screen (the
    script's texts, team, material and place names, system lines), the same Chinese lines as before on a
    Chinese one."""
    from test_machine_text import english_problems, machine_text_problems
    host = host_of(app)
    d = drills.load_drills(ROOT / "twin_models" / "command_center" / "drills.yaml")["chem_leak"]
    run = drills.DrillRun(d, host, net_of(app), settings_of(app), speed=200).start()
    assert run.done.wait(60) and run.error is None, run.error
    shown, originals = [], []
    for panel in ("incident", "timeline", "warnings"):
        out, orig = _panel_lines(app, panel, run.incident_id, "en")
        shown.append("".join(out) if panel != "incident" else "\n".join(out))
        originals += orig
    text = "\n".join(shown)
    assert not originals, originals                 # the script carries English for all it says
    assert not english_problems(text) and not machine_text_problems(text), (english_problems(text), text)
    # the timeline leaves out the step word its badge already shows: "Dispatch: …" under "Dispatch"
    for line in ("System: [Drill] Chlorine tank leak at the Waisha chemical park", "System: Alert #",
                 "Drill script: Chlorine still leaking", "Drill script: Red warning published to",
                 "Drill script: District hazmat rescue team (ETA", "SCBA sets",
                 "Drill script: Source sealed", "Evaluation report generated", "Waisha Yantou chlorine tank farm",
                 "[Drill] Chlorine tank leak at the Waisha chemical park · Published"):
        assert line in text, (line, text)
    zh = "\n".join("".join(_panel_lines(app, p, run.incident_id, "zh_CN")[0]) for p in ("incident", "timeline",
                                                                                         "warnings"))
    for line in ("接报: 【演练】外沙化工园区液氯储罐泄漏", "研判: 液氯持续泄漏", "预警: 红色预警 已发布至",
                 "调度: 区危化品专业救援队(预计", "正压式空气呼吸器 12套", "结案: 泄漏源已封堵",
                 "外沙岩头化工园区液氯罐区", "【演练】外沙化工园区液氯储罐泄漏 · 已发布"):
        assert line in zh, (line, zh)
    assert not re.search(r"[A-Za-z]{4,}", "".join(e.message for e in incidents.timeline(host.store, run.incident_id)
                                                if e.kind not in ("message",)).replace("AEGL", "")), \
        "the stored lines (console, report) stay Chinese"


def test_old_timeline_lines_read_in_english_with_a_persons_text_as_the_marked_original(app) -> None:
    """Lines stored before English forms were kept (only the Chinese message and the step's data) still read in
    English: the step word, teams and materials in English, a person's text marked as the original."""
    from test_machine_text import english_problems
    store, net = host_of(app).store, net_of(app)
    inc = incidents.open_incident(store, "duty", kind="flood", title="内涝积水", lon=121.45, lat=28.67)
    team = _cc("dispatching").candidates(store, net, inc)[0]
    incidents.record(store, inc.id, "duty", "assessment", "研判: 积水深度约四十厘米", {"severity": 3})
    incidents.record(store, inc.id, "duty", "dispatch", f"调度: {team['name']}(预计 5 分钟)、正压式空气呼吸器 2套",
                     {"teams": [{"id": team["id"], "name": team["name"], "eta_s": 300}],
                      "materials": [{"depot": "cc.depot.chem", "sku": "scba", "name": "正压式空气呼吸器", "count": 2,
                                     "unit": "套"}]})
    incidents.record(store, inc.id, f"team:{team['id']}", "handling", f"到场: {team['name']}", {"team": team["id"]})
    incidents.record(store, inc.id, "system", "alert_linked", "报警 #7 转为事件", {"alert_id": 7})
    incidents.record(store, inc.id, "duty", "closed", "结案: 积水已排除(未经调度即结案, 理由: 误报)",
                     {"close_skipped": {"steps": ["dispatch"], "reason": "误报"}})
    out, originals = _panel_lines(app, "timeline", inc.id, "en")
    text = "".join(out)
    assert "积水深度约四十厘米" in originals and "内涝积水" in originals and "积水已排除" in originals
    assert f"duty: {team['name_en']} (ETA 5 min), 2 SCBA sets" in text
    assert f"On scene: {team['name_en']}" in text and "Alert #7 opened this incident" in text
    assert "closed without dispatch; reason: " in text
    parts = incidents.event_en(store, inc, incidents.timeline(store, inc.id)[1])
    assert parts[0] == "Assessment: " and parts[1] == ("积水深度约四十厘米", None)
    assert not english_problems(text), english_problems(text)


def test_every_drill_step_and_place_has_its_english_form() -> None:
    for d in drills.load_drills(ROOT / "twin_models" / "command_center" / "drills.yaml").values():
        assert d.place.name_en, d.id
        for i, s in enumerate(d.steps):
            assert bool(s.text) == bool(s.text_en), f"{d.id} step {i}: text and text_en go together"


def test_the_circle_panel_names_the_targets_reached_last_when_all_are_inside(make_twin_app) -> None:
    """Issue 19: the 15-minute panel no longer shows one word ("无") under its figures when every target is
    inside: it names the targets reached last and their station, in the screen's language."""
    from core.plugins.testing import panel_text
    app = make_twin_app(builtin=True, plugin_allowlist=["command_center", "alerts", "enterprise_park"],
                        run_sources=False)
    host = host_of(app)
    res = _cc("panels").circle_result(types.SimpleNamespace(settings=host.plugins.records["command_center"].settings,
                                                            store=host.store))
    assert res.targets and not res.gaps, (len(res.targets), res.problems)   # the demo district: all within 15 min
    last = max((t for t in res.targets if t.best_s is not None), key=lambda t: t.best_s)
    zh = panel_text(render_panel(app, "command_center.circle"))
    en = panel_text(render_panel(app, "command_center.circle", locale="en"))
    assert "最晚到达" in zh and last.target.name in zh and f"{last.best_s / 60:.1f} 分钟" in zh
    assert "reached last" in en and f"{last.best_s / 60:.1f} min" in en
    assert not re.search(r"[\u4e00-\u9fff]{4,}", en), en
