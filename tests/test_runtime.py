"""The source supervisor and the bus: heartbeats, restart with back-off, clean stop, cursor."""

from __future__ import annotations

import threading
import time

from core.runtime.bus import Bus, ReadingsIngested
from core.plugins.contributions import Reading, SourceSpec
from core.runtime.sources import Runtime


def _wait(cond, timeout: float = 5.0) -> bool:
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return True
        time.sleep(0.02)
    return False


def test_poll_source_heartbeat_and_data() -> None:
    got = []
    rt = Runtime(lambda p, s, r: got.extend(r) or len(r))
    rt.start_plugin("p", [SourceSpec("a", interval_s=0.01, poll=lambda ctx: [Reading("e", "m", time.time(), 1)])],
                    None)
    assert _wait(lambda: len(got) >= 3)
    hb = rt.heartbeats("p")["p.a"]
    assert hb.last_data and hb.last_beat and rt.last_data("p") == hb.last_data
    rt.stop_all()
    n = len(got)
    time.sleep(0.1)
    assert len(got) == n and not hb.running


def test_failing_source_restarts_with_backoff() -> None:
    calls, failures = [], []

    def poll(ctx):
        calls.append(time.time())
        if len(calls) < 4:
            raise ConnectionError("stream dropped")
        return []
    rt = Runtime(lambda p, s, r: 0, on_failure=lambda p, s, tb: failures.append(tb), backoff=(0.05, 1.0))
    rt.start_plugin("p", [SourceSpec("cam", interval_s=0.01, poll=poll)], None)
    assert _wait(lambda: len(calls) >= 5)
    rt.stop_all()
    gaps = [b - a for a, b in zip(calls, calls[1:4])]
    assert gaps[1] > gaps[0] * 1.5  # back-off grows
    assert len(failures) == 3 and "stream dropped" in failures[0]
    assert rt.heartbeats() == {}


def test_run_source_stops_cleanly() -> None:
    started = threading.Event()

    def run(ctx):
        started.set()
        while not ctx.sleep(0.01):
            ctx.heartbeat()
    rt = Runtime(lambda p, s, r: 0)
    rt.start_plugin("p", [SourceSpec("loop", run=run)], None)
    assert started.wait(2)
    t0 = time.time()
    rt.stop_plugin("p")
    assert time.time() - t0 < 1.0


def test_bus_cursor_and_contained_subscriber() -> None:
    errors = []
    bus = Bus(on_error=lambda fn, ev, exc: errors.append(exc))
    got = []
    bus.subscribe(ReadingsIngested, lambda e: 1 / 0)
    bus.subscribe(ReadingsIngested, got.append)
    first = bus.publish(ReadingsIngested(plugin="p", count=1))
    bus.publish(ReadingsIngested(plugin="p", count=2))
    assert len(got) == 2 and len(errors) == 2
    assert [e.count for e in bus.since(first.seq)] == [2] and bus.cursor == first.seq + 1


def test_source_raises_alert_with_details_through_the_host(make_twin_app) -> None:
    from core.api import AlertDraft, AlertRaised, Severity, hookimpl
    from core.plugins.testing import make_manifest, plugin_module

    def poll(ctx):
        ctx.raise_alert(AlertDraft("cam.smoke", "cam1", Severity.II, "疑似烟雾", "score 0.8", 0.8,
                                   {"box": [0.1, 0.2, 0.3, 0.4], "frame": 7}))
        return []
    mod = plugin_module("cam", register_sources=hookimpl(lambda: [SourceSpec("det", interval_s=0.05, poll=poll)]))
    app = make_twin_app(plugins=[(mod, make_manifest("cam"))], start=False)
    host = app.server.config["TWINBOARD_HOST"]
    raised = []
    host.bus.subscribe(AlertRaised, raised.append)
    host.start()
    assert _wait(lambda: raised)
    [alert] = host.store.alerts()
    assert alert.details == {"box": [0.1, 0.2, 0.3, 0.4], "frame": 7} and alert.plugin == "cam"
    assert len(raised) == 1  # repeated drafts of the same (rule, entity) do not re-publish


def test_source_publishes_a_video_detection_that_every_plugin_receives(make_twin_app) -> None:
    """A detector plugin's source calls ctx.publish_detection; another plugin (which imports nothing of it)
    gets the VideoDetection through on_event, with its own settings; bad detections are refused."""
    import pytest
    from pydantic import BaseModel

    from core.api import VideoDetection, hookimpl
    from core.plugins.testing import make_manifest, plugin_module

    published, refused = [], []

    def poll(ctx):
        if not published:
            published.append(ctx.publish_detection("det.cam1", "person", 0.9, ts=1_790_000_000.0,
                                                   box=(0.1, 0.2, 0.3, 0.6), snapshot="/snap/1.jpg", event_id="e1"))
            for bad in ({"confidence": 1.5}, {"box": (0.5, 0.2, 0.3, 0.6)}, {"box": (0.1, 0.2, 0.3, 2.0)},
                        {"camera_id": ""}, {"confidence": float("nan")}):
                args = {"camera_id": "det.cam1", "kind": "person", "confidence": 0.5, **bad}
                try:
                    ctx.publish_detection(args.pop("camera_id"), args.pop("kind"), args.pop("confidence"), **args)
                except ValueError as exc:
                    refused.append(str(exc))
        return []

    class WatchSettings(BaseModel):
        min_confidence: float = 0.8

    got = []
    detector = plugin_module("det", register_sources=hookimpl(lambda: [SourceSpec("cam", interval_s=0.05, poll=poll)]))
    watcher = plugin_module("watch", register_settings_model=hookimpl(lambda: WatchSettings),
                            on_event=hookimpl(lambda event, settings: got.append((event, settings.min_confidence))
                                              if isinstance(event, VideoDetection) else None))
    app = make_twin_app(plugins=[(detector, make_manifest("det")), (watcher, make_manifest("watch"))])
    host = app.server.config["TWINBOARD_HOST"]
    assert _wait(lambda: got and len(refused) == 5)
    [(ev, min_conf)] = got
    assert min_conf == 0.8 and ev is published[0] and ev.seq > 0
    assert (ev.plugin, ev.source, ev.camera_id, ev.kind, ev.confidence) == ("det", "cam", "det.cam1", "person", 0.9)
    assert ev.box == (0.1, 0.2, 0.3, 0.6) and ev.ts == 1_790_000_000.0 and ev.as_dict()["topic"] == "VideoDetection"
    # the host stamps the publishing plugin: a detection cannot claim to come from someone else
    forged = host.publish_detection("det", VideoDetection(plugin="watch", camera_id="c", kind="smoke", confidence=0.5))
    assert forged.plugin == "det"
    with pytest.raises(ValueError, match="camera_id and a kind"):
        host.publish_detection("det", VideoDetection(camera_id="c", kind="", confidence=0.5))
    # without a host (tests, replays) there is nobody to tell: no error, nothing published
    from core.plugins.contributions import Heartbeat
    from core.runtime.sources import SourceContext
    assert SourceContext("det", "cam", None, threading.Event(), Heartbeat(), lambda *a: 0).publish_detection(
        "det.cam1", "person", 0.9) is None
