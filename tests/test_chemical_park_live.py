"""chemical_park live scene: patches through the real render callback, the camera on click and on alarm,
and the concentration at a clicked point."""

from __future__ import annotations

import time

import pytest

from core.api import AlertDraft, Severity
from core.web.deckpatch import apply_patch, spec_of
from core.plugins.testing import dashboard, make_twin_app, render_callback, render_panel  # noqa: F401

from test_chemical_park_plugin import ROOT, _feed_leak, _sim, model  # noqa: F401

TANK = "cp.tank.t202"


def _app(make_twin_app):
    board = dashboard("cp", {"key": "scene", "panel": "chemical_park.scene", "x": 0, "y": 0, "w": 920, "h": 716},
                      {"key": "receptor", "panel": "chemical_park.receptor", "x": 940, "y": 0, "w": 460, "h": 340})
    app = make_twin_app(plugins_dir=ROOT / "plugins", plugin_allowlist=["chemical_park", "alerts"], run_sources=False,
                        dashboards=[board])
    host = app.server.config["TWINBOARD_HOST"]
    rec = host.plugins.records["chemical_park"]
    assert rec.status.value == "enabled", rec.error
    rec.settings.stability = "D"
    return app, host


def _view(deck):
    return deck["initialViewState"]


def _click(model, entity_id=None, lon=None, lat=None, ts=None):
    if entity_id is not None:
        lon, lat = model.items[entity_id].point
    return {"id": entity_id, "lon": lon, "lat": lat, "ts": time.time() if ts is None else ts,
            "layer": "cp-test", "panel": "cp/scene"}


def test_rows_name_their_entities(make_twin_app, model):
    app, host = _app(make_twin_app)
    sim, _ = _sim(model, "normal_day")
    host.ingest("chemical_park", "simulator", sim.readings(time.time()))
    deck = render_panel(app, "chemical_park.scene")
    layers = {layer["id"]: layer for layer in deck["layers"]}
    assert {r["id"] for r in layers["cp-buildings"]["data"]} == {b.id for b in model.of("building")}
    fills = {r["id"] for lid, layer in layers.items() if lid.startswith("cp-tank-fill-") for r in layer["data"]}
    assert fills == {t.id for t in model.of("tank")}
    assert "cp.target.waisha" in {r["id"] for r in layers["cp-targets"]["data"]}
    assert "cp.ent.e1" in {f["properties"]["id"] for f in layers["cp-base"]["data"]["features"]}
    park = _view(deck)
    assert (park["longitude"], park["latitude"], park["zoom"]) == (*model.center, 13.6)


def test_click_on_an_entity_flies_there_and_bad_picks_are_ignored(make_twin_app, model):
    app, host = _app(make_twin_app)
    view = _view(render_panel(app, "chemical_park.scene", selection=_click(model, TANK)))
    lon, lat = model.items[TANK].point
    assert view["longitude"] == pytest.approx(lon, abs=1e-6) and view["latitude"] == pytest.approx(lat, abs=1e-6)
    assert view["zoom"] == 15.0 and view["transitionDuration"] == 1500
    assert view["transitionInterpolator"] == {"@@type": "FlyToInterpolator"}
    ent = _view(render_panel(app, "chemical_park.scene", selection=_click(model, "cp.zone.admin")))
    assert ent["longitude"] == pytest.approx(model.items["cp.zone.admin"].point[0], abs=1e-6)
    assert 12 <= ent["zoom"] < 15.0                                       # a functional zone is framed, not zoomed in
    ground = _view(render_panel(app, "chemical_park.scene", selection=_click(model, lon=121.4786, lat=28.6561)))
    assert ground["zoom"] == 13.6                                          # a bare ground point does not move the camera
    for bad in ({"id": TANK, "lon": 999, "lat": 28.7, "ts": 1}, {"lon": float("nan"), "lat": 1}, "x", {"id": 5}):
        assert _view(render_panel(app, "chemical_park.scene", selection=bad))["zoom"] == 13.6


def test_alarm_flies_to_its_tank_unless_the_operator_clicked_since(make_twin_app, model):
    app, host = _app(make_twin_app)
    before = time.time() - 5
    host.store.raise_alert(AlertDraft("chemical_park.limit", "cp.press.t202", Severity.II, "压力高高"), "chemical_park")
    view = _view(render_panel(app, "chemical_park.scene"))
    lon, lat = model.items[TANK].point                                    # the sensor's tank, not the sensor
    assert (view["longitude"], view["latitude"]) == pytest.approx((lon, lat), abs=1e-6) and view["zoom"] == 15.0
    later = _view(render_panel(app, "chemical_park.scene", selection=_click(model, "cp.target.waisha")))
    assert later["longitude"] == pytest.approx(model.items["cp.target.waisha"].point[0], abs=1e-6)
    older = _view(render_panel(app, "chemical_park.scene", selection=_click(model, "cp.target.waisha", ts=before)))
    assert older == view                                                  # a click from before the alarm: the alarm wins
    off = _view(render_panel(app, "chemical_park.scene", options={"fly_to_alarm": False}))
    assert off["zoom"] == 13.6
    # a lesser alarm opened after the click leaves the camera where the operator put it; a more severe one takes it
    click = _click(model, "cp.target.waisha")
    time.sleep(0.05)
    host.store.raise_alert(AlertDraft("chemical_park.rate", "cp.temp.t202", Severity.III, "温升"), "chemical_park")
    kept = _view(render_panel(app, "chemical_park.scene", selection=click))
    assert kept["longitude"] == pytest.approx(model.items["cp.target.waisha"].point[0], abs=1e-6)
    host.store.raise_alert(AlertDraft("chemical_park.limit", "cp.gas.t101", Severity.I, "有毒气体超限"), "chemical_park")
    taken = _view(render_panel(app, "chemical_park.scene", selection=click))
    assert taken["longitude"] == pytest.approx(model.items["cp.tank.t101"].point[0], abs=1e-6)


def test_a_release_frames_the_source_and_its_zones(make_twin_app, model):
    app, host = _app(make_twin_app)
    _feed_leak(host, model)
    deck = render_panel(app, "chemical_park.scene")
    view = _view(deck)
    src = model.items["cp.tank.t101"].point
    assert view["longitude"] < src[0]                                      # centred downwind (west) of the tank
    assert 11 <= view["zoom"] <= 16


def test_receptor_shows_the_clicked_point(make_twin_app, model):
    app, host = _app(make_twin_app)
    _feed_leak(host, model)
    sel = _click(model, lon=121.4791, lat=28.6621)                        # downwind (WSW) of T101
    text = str(render_panel(app, "chemical_park.receptor", selection=sel))
    assert "121.4791°E 28.6621°N 处模型浓度" in text and "AEGL" in text
    named = str(render_panel(app, "chemical_park.receptor", selection=_click(model, "cp.bldg.27")))
    assert "应急指挥中心 (" in named
    fixed = str(render_panel(app, "chemical_park.receptor", options={"follow_selection": False}, selection=sel))
    assert "外沙社区" in fixed


def test_live_updates_through_the_callback_send_only_what_changed_per_browser(make_twin_app, model):
    app, host = _app(make_twin_app)
    sim, now = _sim(model, "normal_day")
    t0 = time.time()
    host.ingest("chemical_park", "simulator", sim.readings(t0))
    a, b = app.server.test_client(), app.server.test_client()
    first, full_bytes = render_callback(a, app, "cp", "scene")
    assert first["deck"]["full"] and "cp-buildings" in first["deck"]["layers"]
    state_a = apply_patch(None, first["deck"])
    host.ingest("chemical_park", "simulator", sim.readings(t0 + 2))
    second, update_bytes = render_callback(a, app, "cp", "scene", have=state_a["have"], tick=2)
    patch = second["deck"]
    assert not patch["full"] and "props" not in patch
    sent = set(patch["layers"]) | set(patch["deltas"])
    assert sent and not sent & {"cp-base", "cp-buildings", "cp-racks", "cp-hazards", "cp-facilities", "cp-targets"}
    assert update_bytes < full_bytes / 4
    state_a = apply_patch(state_a, patch)
    fresh, _ = render_callback(b, app, "cp", "scene")                     # a second browser opens now: all of it
    assert fresh["deck"]["full"]
    state_b = apply_patch(None, fresh["deck"])
    assert spec_of(state_a) == spec_of(state_b)
    # browser A clicks a tank: its next render flies there; browser B, which did not click, stays
    clicked, _ = render_callback(a, app, "cp", "scene", have=state_a["have"], selection=_click(model, TANK), tick=3)
    assert clicked["deck"]["props"]["initialViewState"]["longitude"] == pytest.approx(model.items[TANK].point[0])
    state_a = apply_patch(state_a, clicked["deck"])
    again, _ = render_callback(a, app, "cp", "scene", have=state_a["have"], selection=_click(model, TANK), tick=4)
    assert "deck" not in again or "props" not in again["deck"]             # already there: the view is not resent
    other, _ = render_callback(b, app, "cp", "scene", have=state_b["have"], tick=2)
    assert "deck" not in other or "props" not in other["deck"]
    chart, _ = render_callback(a, app, "cp", "receptor", selection=_click(model, TANK))
    assert "T202" in str(chart["body"]) and "deck" not in chart


def test_the_release_frame_does_not_follow_every_sway_of_the_wind(model):
    from test_chemical_park_plume import load
    camera, plume, threat = load("camera"), load("plume"), load("threat")
    lon, lat = model.items["cp.tank.t101"].point
    frames = set()
    for wind_from, speed, rate in ((78, 4.2, 0.5), (74, 4.0, 0.52), (82, 4.4, 0.48)):
        p = plume.Plume(plume.chemical("chlorine"), rate, speed, wind_from, "D", "rural", height_m=2, lon=lon, lat=lat)
        sit = threat.Situation("release", plume=p, zones=plume.threat_zones(p), since=100.0)
        f, onset = camera.alarm_focus(model, sit, [], 920, 15)
        frames.add((f.reason, round(f.lon, 6), round(f.lat, 6), round(f.zoom, 2)))
        assert onset == 100.0 and f.lon < lon                             # downwind: west of the tank
    assert len(frames) == 1
    p = plume.Plume(plume.chemical("chlorine"), 0.5, 4.2, 170, "D", "rural", height_m=2, lon=lon, lat=lat)
    turned, _ = camera.alarm_focus(model, threat.Situation("release", plume=p, zones=plume.threat_zones(p)), [], 920, 15)
    assert turned.lat > lat and (turned.lon, turned.lat) != frames.pop()[1:3]   # wind from the south: frame north
