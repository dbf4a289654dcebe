"""AI patrol across plugins: forest_fire's smoke detector fires on a camera, the host publishes a
VideoDetection, enterprise_park receives it through ``on_event`` and places it on its own twin (a
camera it knows → that camera's enterprise; one it does not know → an unassigned detection awaiting
review). Both plugins run in one host and neither imports the other."""

from __future__ import annotations

import ast
import sys
import threading
import time
from pathlib import Path

import pytest

from core.api import Entity, SourceContext, VideoDetection
from core.plugins.contributions import Heartbeat
from core.plugins.testing import make_twin_app  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]
PLUGINS = ("enterprise_park", "forest_fire")


def plugin_mod(plugin: str, name: str):
    """A module of a plugin as the host loaded it (not a second copy imported by the test)."""
    return sys.modules[f"twinboard_plugins.{plugin}.{name}"]


class FakeDetector:
    """A smoke box centred at ``x`` from the third frame on (the rendered plume starts there)."""

    model_path = Path("fake.pt")

    def __init__(self, box_cls, x: float) -> None:
        self.box_cls, self.x, self.n = box_cls, x, 0

    def detect(self, frame, infrared=False):
        self.n += 1
        return [] if self.n <= 2 else [self.box_cls((self.x - 0.04, 0.35, self.x + 0.04, 0.6), 0.8)]


@pytest.fixture
def host(make_twin_app, tmp_path, monkeypatch):
    app = make_twin_app(plugins_dir=ROOT / "plugins", plugin_allowlist=list(PLUGINS), start=False, run_sources=False)
    host = app.server.config["TWINBOARD_HOST"]
    host.store.set_plugin_settings("enterprise_park", {"demo_broker": False, "demo_publisher": False,
                                                       "demo_inspections": False}, "test")
    host.start()
    for name in PLUGINS:
        assert host.plugins.records[name].status.value == "enabled", host.plugins.records[name].error
    monkeypatch.setattr(plugin_mod("forest_fire", "source"), "SNAP_DIR", tmp_path / "snaps")
    plugin_mod("forest_fire", "source").STATE.cameras.clear()
    return host


def run_camera(host, cam_id: str, tmp_path: Path, x: float = 0.43) -> None:
    """forest_fire's own camera loop (its rule, snapshot, alert) on 8 rendered frames, wired to the host the
    way the runtime wires a source: ingest, raise_alert, publish_detection."""
    from plugins.forest_fire.demo_feeds import FeedSpec, render_frames, write_video
    source, rule = plugin_mod("forest_fire", "source"), plugin_mod("forest_fire", "rule")
    settings = host.plugins.records["forest_fire"].settings
    cam = {c.id: c for c in source.configured_cameras(settings)}[cam_id]
    video = write_video(tmp_path / f"{source.source_name(cam)}.avi",
                        render_frames(FeedSpec(seed=11, plume_x=x, frames=8, smoke_from=3)))
    feed = source.CameraFeed(source.open_source(str(video)), interval_s=cam.interval_s)
    worker = source.CameraWorker(cam, settings, FakeDetector(rule.Detection, x), feed=feed)
    ctx = SourceContext("forest_fire", source.source_name(cam), settings, threading.Event(), Heartbeat(),
                        host.ingest, host.store, host.raise_alert, host.publish_detection)
    t0 = time.time() - 60
    for i in range(8):
        worker.step(ctx, now=t0 + i * 2)
    assert worker.rule.alert_on


def test_neither_plugin_imports_the_other():
    for name in PLUGINS:
        other = next(p for p in PLUGINS if p != name)
        for f in (ROOT / "plugins" / name).rglob("*.py"):
            for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
                mods = ([a.name for a in node.names] if isinstance(node, ast.Import)
                        else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
                assert not any(other in m for m in mods), f"{f} imports {other}"


def test_forest_fire_smoke_becomes_an_unassigned_park_detection_awaiting_review(host, tmp_path):
    ai_patrol = plugin_mod("enterprise_park", "ai_patrol")
    seen: list[VideoDetection] = []
    host.bus.subscribe(VideoDetection, seen.append)
    run_camera(host, "forest_fire.cam_baiyun", tmp_path)

    assert seen
    assert {(d.plugin, d.camera_id, d.kind) for d in seen} == {("forest_fire", "forest_fire.cam_baiyun", "smoke")}
    det = seen[0]
    ff_alert = next(a for a in host.store.alerts() if a.rule_id == "forest_fire.smoke")
    assert det.alert_id == ff_alert.id and det.snapshot == ff_alert.details["snapshot"] and det.box
    assert det.confidence == pytest.approx(0.8)       # the detector's own confidence, not the rule's pooled score
    # the park brain does not know this camera: an unassigned detection, waiting for a person
    [alert] = ai_patrol.unassigned(host.store)
    assert alert.plugin == "enterprise_park" and alert.rule_id == "enterprise_park.ai_patrol.smoke_fire"
    assert alert.entity_id == "forest_fire.cam_baiyun" and alert.state == "open"
    assert ai_patrol.UNASSIGNED_MARK in alert.title and ai_patrol.PENDING_MARK in alert.title
    d = alert.details
    assert d["assigned"] is False and d["source_plugin"] == "forest_fire" and d["snapshot"] == det.snapshot
    assert d["enterprise"] is None and d["box"] == list(det.box)
    assert [a.id for a in ai_patrol.pending(host.store)] == [alert.id]
    # the reviewer places it: confirmed for an enterprise, it becomes that enterprise's hazard inspection
    out = ai_patrol.review(host.store, alert.id, "值班员", confirmed=True, note="园区外围烟雾",
                           enterprise_id="ep.ent.tz-mould")
    insp = plugin_mod("enterprise_park", "inspections").get(host.store, out["inspection"])
    assert insp.enterprise == "ep.ent.tz-mould" and insp.source == "ai_patrol" and insp.level == "major"
    assert ai_patrol.pending(host.store) == []


def test_forest_fire_smoke_on_a_camera_the_park_knows_goes_to_its_enterprise(host, tmp_path):
    ai_patrol = plugin_mod("enterprise_park", "ai_patrol")
    # the same physical camera, registered in the park twin with the id forest_fire's detector gives it
    cam = host.store.entity("ep.cam.tz-mould.workshop")
    assert cam is not None and cam.properties["enterprise"] == "ep.ent.tz-mould"
    host.store.upsert([Entity(id=cam.id, site_id=cam.site_id, kind=cam.kind, name=cam.name, name_en=cam.name_en,
                              plugin=cam.plugin, geometry=cam.geometry,
                              properties={**cam.properties, "detector_ids": ["forest_fire.cam_fengshan@west"]})])
    run_camera(host, "forest_fire.cam_fengshan@west", tmp_path, x=0.41)

    [alert] = ai_patrol.pending(host.store)
    assert alert.entity_id == "ep.ent.tz-mould" and ai_patrol.UNASSIGNED_MARK not in alert.title
    d = alert.details
    assert d["assigned"] is True and d["camera"] == "ep.cam.tz-mould.workshop" and d["park"] == "ep.park.xiachen"
    assert d["source_camera"] == "forest_fire.cam_fengshan@west" and d["bearing_deg"] is not None
    assert ai_patrol.unassigned(host.store) == []
    out = ai_patrol.review(host.store, alert.id, "值班员", confirmed=True)
    assert out["enterprise"] == "ep.ent.tz-mould" and out["inspection"]


def test_which_detections_the_park_takes(host):
    """Kinds that are no patrol finding, low confidence, and (when switched off) unknown cameras are left alone;
    a detection on a park camera keeps the camera as its entity."""
    ai_patrol = plugin_mod("enterprise_park", "ai_patrol")

    def publish(**kw):
        host.publish_detection("some_detector", VideoDetection(**{"camera_id": "x.cam", "kind": "fire",
                                                                   "confidence": 0.9, **kw}))
        return ai_patrol.pending(host.store)
    assert publish(kind="vehicle") == [] and publish(confidence=0.3) == []
    host.update_settings("enterprise_park", {"ai_accept_unassigned": False}, "test")
    assert publish() == []
    [gate] = publish(camera_id="ep.cam.xiachen.gate", kind="blocked_exit")
    assert gate.entity_id == "ep.cam.xiachen.gate" and gate.details["park"] == "ep.park.xiachen"
    host.update_settings("enterprise_park", {"ai_accept_unassigned": True, "ai_min_confidence": 0.95}, "test")
    assert len(publish()) == 1                                   # 0.9 < 0.95
    assert len(publish(confidence=0.97)) == 2                    # the unknown camera, unassigned
    # a detection the park's schema refuses (a snapshot reference too long) is logged, never fails the plugin
    publish(confidence=0.99, camera_id="y.cam", snapshot="x" * 600)
    assert host.plugins.records["enterprise_park"].status.value == "enabled"
