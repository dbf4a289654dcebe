"""The source supervisor and the bus: heartbeats, restart with back-off, clean stop, cursor."""

from __future__ import annotations

import threading
import time

from core.bus import Bus, ReadingsIngested
from core.contributions import Reading, SourceSpec
from core.runtime import Runtime


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
    from core.testing import make_manifest, plugin_module

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
