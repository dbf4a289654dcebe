"""Events across processes (event log + notifier) and the sources lease, on real SQLite, PostgreSQL and Redis."""

from __future__ import annotations

import threading
import time

import pytest

from core.data.store import open_store
from core.runtime.bus import AlertRaised, Bus, PluginStateChanged, VideoDetection, WallModeChanged, event_from_dict
from core.runtime.lease import AdvisoryLease, TableLease, make_lease
from core.runtime.relay import EventRelay, PollNotifier, PostgresNotifier, RedisNotifier, make_notifier
from multiproc import REDIS, start_redis, wait_until


def _pair(store_a, store_b, notifier_a, notifier_b):
    bus_a, bus_b = Bus(), Bus()
    relay_a = EventRelay(store_a, notifier_a, origin="a").start(bus_a)
    relay_b = EventRelay(store_b, notifier_b, origin="b").start(bus_b)
    return bus_a, bus_b, relay_a, relay_b


def _collect(bus: Bus) -> list:
    got: list = []
    bus.subscribe(WallModeChanged, got.append)
    bus.subscribe(AlertRaised, got.append)
    return got


def test_event_round_trips_through_its_dict() -> None:
    ev = VideoDetection(camera_id="cam", kind="smoke", confidence=0.7, box=(0.1, 0.2, 0.3, 0.4), bearing_deg=12.5)
    back = event_from_dict(ev.as_dict())
    assert back == ev and isinstance(back.box, tuple) and not back.remote
    assert event_from_dict({"topic": "NoSuchEvent"}) is None


def test_events_cross_processes_on_sqlite_by_polling(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'ev.sqlite'}"
    a, b = open_store(url), open_store(url)
    bus_a, bus_b, relay_a, relay_b = _pair(a, b, PollNotifier(0.05), PollNotifier(0.05))
    try:
        got_a, got_b = _collect(bus_a), _collect(bus_b)
        sent = bus_a.publish(WallModeChanged(mode="incident", incident_id=7, actor="duty"))
        wait_until(lambda: got_b, 5, "B receives A's event")
        ev = got_b[0]
        assert ev.remote and ev.incident_id == 7 and ev.seq == sent.seq
        assert got_a == [sent] and not got_a[0].remote  # A delivered its own once, locally, not again
        time.sleep(0.3)
        assert len(got_a) == 1 and len(got_b) == 1
        # one cursor for every process: B's "since" sees A's event under the same seq
        assert [e.seq for e in bus_b.since(0)] == [sent.seq] and bus_b.cursor == bus_a.cursor == sent.seq
        bus_b.publish(AlertRaised(alert_id=3, plugin="p", severity=1, title="x"))
        wait_until(lambda: len(got_a) == 2, 5, "A receives B's event")
        assert got_a[1].remote and got_a[1].alert_id == 3
        assert relay_a.trim(keep_s=0) == 2 and bus_a.since(0) == []
    finally:
        relay_a.stop()
        relay_b.stop()


def test_a_late_committed_row_is_still_delivered(tmp_path) -> None:
    """PostgreSQL can commit ids out of order: a row below the cursor that arrives late is not skipped."""
    url = f"sqlite:///{tmp_path / 'ev.sqlite'}"
    a, b = open_store(url), open_store(url)
    bus_b = Bus()
    relay_b = EventRelay(b, PollNotifier(0.05), origin="b")
    relay_b._bus = bus_b
    got = _collect(bus_b)
    relay_a = EventRelay(a, PollNotifier(0.05), origin="a")
    first = relay_a.append(WallModeChanged(mode="routine"))
    second = relay_a.append(WallModeChanged(mode="incident", incident_id=2))
    assert first < second
    relay_b._last = second  # as if B had read the newer row before the older one was committed ...
    relay_b._mark_seen(second)
    assert relay_b.pump() == 1 and got[0].mode == "routine"  # ... the older one still comes
    assert relay_b.pump() == 0


@pytest.mark.skipif(REDIS is None, reason="redis-server not installed (Debian package redis-server)")
def test_events_cross_processes_through_redis_and_survive_its_restart(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'ev.sqlite'}"
    proc, port = start_redis(tmp_path)
    redis_url = f"redis://127.0.0.1:{port}/0"
    a, b = open_store(url), open_store(url)
    # a long fallback poll: delivery within it proves the pub/sub wake-up
    bus_a, bus_b, relay_a, relay_b = _pair(a, b, RedisNotifier(redis_url), RedisNotifier(redis_url))
    relay_a.fallback_poll_s = relay_b.fallback_poll_s = 5.0
    try:
        got_b = _collect(bus_b)
        time.sleep(0.5)  # B's subscription is in place
        t0 = time.monotonic()
        bus_a.publish(WallModeChanged(mode="incident", incident_id=1))
        wait_until(lambda: got_b, 4, "B receives A's event over Redis")
        assert time.monotonic() - t0 < 4.5
        proc.kill()
        proc.wait(5)
        bus_a.publish(WallModeChanged(mode="routine"))  # Redis is away: the event is still in the log
        wait_until(lambda: not relay_a.status()["ok"], 10, "A notices Redis is away")
        wait_until(lambda: len(got_b) == 2, 12, "B still receives it from the log")
        proc, _ = start_redis(tmp_path, port)
        bus_a.publish(WallModeChanged(mode="incident", incident_id=2))
        wait_until(lambda: len(got_b) == 3, 12, "delivery after Redis is back")
        wait_until(lambda: relay_a.status()["ok"] and relay_b.status()["ok"], 15, "both report the transport ok")
    finally:
        relay_a.stop()
        relay_b.stop()
        proc.kill()


def test_events_cross_processes_through_postgres_notify(pg_cluster) -> None:
    url = pg_cluster.new_database()
    a, b = open_store(url), open_store(url)
    na, nb = make_notifier(a, None), make_notifier(b, None)
    assert isinstance(na, PostgresNotifier)
    bus_a, bus_b, relay_a, relay_b = _pair(a, b, na, nb)
    relay_a.fallback_poll_s = relay_b.fallback_poll_s = 5.0
    try:
        got_b = _collect(bus_b)
        wait_until(lambda: nb._conn is not None, 5, "B listens")
        t0 = time.monotonic()
        bus_a.publish(AlertRaised(alert_id=9, plugin="p", severity=1, title="氯气泄漏"))
        wait_until(lambda: got_b, 4, "B is notified")
        assert time.monotonic() - t0 < 4.5 and got_b[0].title == "氯气泄漏" and got_b[0].remote
    finally:
        relay_a.stop()
        relay_b.stop()
        a.engine.dispose()
        b.engine.dispose()


def test_redis_url_without_a_server_names_the_setting(tmp_path) -> None:
    from core.errors import ConfigError
    store = open_store(f"sqlite:///{tmp_path / 'x.sqlite'}")
    with pytest.raises(ConfigError, match="TWINBOARD_REDIS_URL"):
        make_notifier(store, "redis://127.0.0.1:1/0")


def test_table_lease_is_exclusive_expires_and_is_released(tmp_path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'lease.sqlite'}")
    one, two = TableLease(store, "sources", "w1", ttl_s=0.5), TableLease(store, "sources", "w2", ttl_s=0.5)
    assert isinstance(make_lease(store, "sources", "w3"), TableLease)
    assert one.acquire() and not two.acquire() and one.renew()
    assert one.holder_now() == "w1"
    time.sleep(0.7)  # w1 stopped renewing (killed): the lease expires
    assert two.acquire() and not one.renew() and two.holder_now() == "w2"
    two.release()
    assert one.acquire() and one.holder_now() == "w1"


def test_table_lease_race_has_one_winner(tmp_path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'lease.sqlite'}")
    leases = [TableLease(store, "sources", f"w{i}", ttl_s=30) for i in range(6)]
    results: list[bool] = []
    threads = [threading.Thread(target=lambda lz=lz: results.append(lz.acquire())) for lz in leases]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) == 1


def test_advisory_lease_goes_with_its_connection(pg_cluster) -> None:
    store = open_store(pg_cluster.new_database())
    one, two = make_lease(store, "sources", "w1"), make_lease(store, "sources", "w2")
    assert isinstance(one, AdvisoryLease)
    assert one.acquire() and not two.acquire() and one.renew()
    assert one.holder_now() == "w1"
    one._conn.close()  # what the server sees when a worker is killed: its connection is gone
    assert not one.renew()
    assert two.acquire() and two.holder_now() == "w2"
    two.release()
    assert one.acquire()
    one.release()
    store.engine.dispose()


def test_plugin_change_in_one_host_applies_in_another(tmp_path) -> None:
    """Two web hosts on one database: a plugin disabled through one is disabled in the other."""
    from core.api import PanelSpec, hookimpl
    from core.plugins.testing import make_manifest, plugin_module
    from core.runtime.host import Host
    from core.settings import Settings

    def module():
        return plugin_module("lamp", register_panels=hookimpl(lambda: [PanelSpec("lamp.p", "灯", "Lamp",
                                                                                lambda ctx: "on")]))
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'h.sqlite'}", var_dir=tmp_path / "var",
                        plugins_dir=tmp_path / "none", entry_points=False, plugin_allowlist=["lamp"])
    hosts = [Host(settings, extra_plugins=[(module(), make_manifest("lamp"))], role="web") for _ in range(2)]
    for h in hosts:
        h.relay.notifier.interval_s = 0.05
        h.start()
    try:
        assert all(h.panel("lamp.p")[1] is not None for h in hosts)
        changes: list = []
        hosts[1].bus.subscribe(PluginStateChanged, changes.append)
        hosts[0].set_enabled("lamp", False, actor="manager")
        wait_until(lambda: hosts[1].panel("lamp.p")[1] is None, 5, "the other host drops the plugin's panels")
        assert changes and changes[0].remote
        hosts[0].set_enabled("lamp", True, actor="manager")
        wait_until(lambda: hosts[1].panel("lamp.p")[1] is not None, 5, "the other host shows them again")
        assert not hosts[0].active and not hosts[1].active  # web hosts never run sources or on_event
    finally:
        for h in hosts:
            h.stop()
