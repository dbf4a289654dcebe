"""The production topology with real parts: gunicorn web processes, `twinboard worker` processes, Chromium,
on SQLite (events over Redis) and on the suite's private PostgreSQL (LISTEN/NOTIFY)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from core.data import twin
from core.data.store import open_store
from multiproc import REDIS, ROOT, Topology, get_json, get_status, start_redis, wait_until, write_topology_config

pytestmark = [pytest.mark.slow]


def _readings(url: str) -> list[float]:
    store = open_store(url)
    try:
        return [ts for ts, _v in store.series("pulse.meter", "count", limit=100000)]
    finally:
        store.engine.dispose()


def _running_holders(url: str) -> set[str]:
    store = open_store(url)
    try:
        with store.engine.connect() as conn:
            rows = conn.execute(select(twin.SourceHeartbeat.holder).where(twin.SourceHeartbeat.running.is_(True)))
            return {r.holder for r in rows}
    finally:
        store.engine.dispose()


def _add_manager(topo: Topology) -> None:
    res = subprocess.run(topo.cli("user", "add", "boss", "--role", "manager", "--password-stdin"),
                         input="boss-password-1\n", text=True, capture_output=True, cwd=ROOT, env=topo.env)
    assert res.returncode == 0, res.stderr


@pytest.fixture(params=["sqlite", "postgresql"])
def topology(request, tmp_path: Path):
    """(Topology, database URL) with Redis for SQLite, LISTEN/NOTIFY for PostgreSQL."""
    env = {}
    redis_proc = None
    if request.param == "sqlite":
        if REDIS is None:
            pytest.fail("redis-server is not installed: run `make test` (it installs Debian's redis-server)")
        redis_proc, port = start_redis(tmp_path)
        env["TWINBOARD_REDIS_URL"] = f"redis://127.0.0.1:{port}/0"
        url = f"sqlite:///{tmp_path / 'twin.sqlite'}"
    else:
        url = request.getfixturevalue("pg_cluster").new_database()
    topo = Topology(write_topology_config(tmp_path, url), env)
    yield topo, url
    topo.stop()
    if redis_proc is not None:
        redis_proc.kill()


@pytest.mark.browser
def test_web_processes_and_workers(topology, chromium, tmp_path: Path) -> None:
    topo, url = topology
    w1 = topo.worker(ttl_s=3)
    w1.wait_for("holds the sources lease", 90)
    w2 = topo.worker(ttl_s=3)
    w2.wait_for("waiting for the sources lease", 90)
    web_a = topo.web(workers=2)   # one machine with two web processes
    web_b = topo.web(workers=1)   # "another machine" behind the same load balancer
    _add_manager(topo)
    assert "holds the sources lease" not in w2.log()  # a second worker stands by
    holders = _running_holders(url)
    assert len(holders) == 1
    # a web process runs no source, yet shows the worker's heartbeats (freshness badges, /admin)
    pulse = next(p for p in get_json(web_b + "/api/health")["plugins"] if p["name"] == "pulse")
    assert pulse["sources"]["counter"]["running"] and pulse["sources"]["counter"]["last_data"]

    ctx = chromium.new_context(viewport={"width": 1920, "height": 1080})
    try:
        wall = ctx.new_page()
        wall.goto(web_b + "/playlist/leaders")
        wall.wait_for_selector("iframe")
        wall.evaluate("window.__tbMarker = 'same page'")
        screen = ctx.new_page()
        screen.goto(web_a + "/screen/pulse")
        screen.wait_for_selector(".pulse-label", timeout=30000)
        assert screen.locator(".pulse-label").inner_text() == "初始标签"

        # sessions and CSRF work whichever process answers: sign in on A, change settings on B
        screen.goto(web_a + "/login")
        screen.fill("input[name=username]", "boss")
        screen.fill("input[name=password]", "boss-password-1")
        screen.click("button[type=submit], input[type=submit]")
        screen.wait_for_load_state()
        token = next(c["value"] for c in ctx.cookies() if c["name"] == "_csrf_token")
        resp = screen.request.post(web_b + "/api/admin/plugins/pulse", data={"settings": {"label": "新标签"}},
                                   headers={"X-CSRFToken": token, "Referer": web_b + "/admin"})
        assert resp.status == 200, resp.text()
        screen.goto(web_a + "/screen/pulse")
        screen.wait_for_function("document.querySelector('.pulse-label') && "
                                 "document.querySelector('.pulse-label').innerText === '新标签'", timeout=20000)
        for _ in range(6):  # every web process of A applied it, whichever answers
            screen.reload()
            screen.wait_for_selector(".pulse-label", timeout=20000)
            screen.wait_for_function("document.querySelector('.pulse-label').innerText === '新标签'", timeout=10000)

        # an alert raised in the worker switches the wall served by the other machine
        (tmp_path / "trigger").write_text("go")
        wall.wait_for_function("document.querySelector('#tb-playlist-frame') && "
                               "document.querySelector('#tb-playlist-frame').src.indexOf('incident=') >= 0", timeout=30000)
        assert wall.evaluate("window.__tbMarker") == "same page"
        (tmp_path / "trigger").unlink()

        # a rolling restart of B's web processes: the wall keeps its page (no reload) and keeps working
        before = get_json(web_b + "/api/health")["process"]
        web_proc = [p for p in topo.procs if p.name.startswith("web:")][-1]
        web_proc.signal(signal.SIGHUP)
        wait_until(lambda: get_json(web_b + "/api/health")["process"] != before, 60, "a new web process answers")
        assert wall.evaluate("window.__tbMarker") == "same page"
        status, _ = get_status(web_b + "/api/ready")
        assert status == 200
    finally:
        ctx.close()

    # the active worker dies: the standby takes over, no reading is lost or stored twice
    before = _readings(url)
    assert len(before) > 3
    w1.signal(signal.SIGKILL)
    killed = time.monotonic()
    w2.wait_for("holds the sources lease", 20)
    takeover_s = time.monotonic() - killed
    print(f"takeover after SIGKILL: {takeover_s:.1f} s")
    wait_until(lambda: _readings(url)[-1] >= int(time.time()) - 1, 15, "the new worker writes current readings")
    after = _readings(url)
    assert after[: len(before)] == before
    assert after == [float(t) for t in range(int(after[0]), int(after[-1]) + 1)], "a second is missing or doubled"
    assert after[-1] - before[-1] >= takeover_s - 1
    wait_until(lambda: len(_running_holders(url)) == 1, 10, "only the new worker's sources run")

    # a clean stop (SIGTERM) hands the lease over at once
    w3 = topo.worker(ttl_s=30)
    w3.wait_for("waiting for the sources lease", 90)
    w2.signal(signal.SIGTERM)
    w3.wait_for("holds the sources lease", 10)
    assert "stopped" in w2.log()


def test_wrong_topology_settings_fail_at_start_with_one_message(tmp_path: Path) -> None:
    cfg = write_topology_config(tmp_path, f"sqlite:///{tmp_path / 't.sqlite'}")
    base = [sys.executable, "-m", "core.cli", "--config", str(cfg)]
    env = {"PATH": "/usr/bin:/bin", "TWINBOARD_REDIS_URL": "redis://127.0.0.1:1/0"}

    def run(*args: str, extra_env: dict | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([*base, *args], cwd=ROOT, capture_output=True, text=True, timeout=120,
                              env={**env, **(extra_env or {})})
    for cmd in (("serve", "--workers", "2", "--port", "1"), ("worker",)):
        res = run(*cmd)
        assert res.returncode == 2, res.stderr
        assert "TWINBOARD_REDIS_URL" in res.stderr and "Redis does not answer" in res.stderr
        assert len(res.stderr.strip().splitlines()) == 1, res.stderr
    res = run("serve", "--workers", "2", "--role", "all")
    assert res.returncode == 2 and "twinboard worker" in res.stderr
    res = run("worker", extra_env={"TWINBOARD_DATABASE_URL": "postgresql+psycopg://u@127.0.0.1:1/x"})
    assert res.returncode == 2 and "TWINBOARD_DATABASE_URL" in res.stderr


@pytest.mark.browser
@pytest.mark.skipif(REDIS is None, reason="redis-server not installed (Debian package redis-server)")
def test_walls_say_when_redis_is_away_and_recover(tmp_path: Path, chromium) -> None:
    redis_proc, port = start_redis(tmp_path)
    topo = Topology(write_topology_config(tmp_path, f"sqlite:///{tmp_path / 'twin.sqlite'}"),
                    {"TWINBOARD_REDIS_URL": f"redis://127.0.0.1:{port}/0"})
    page = None
    try:
        topo.worker().wait_for("holds the sources lease", 90)
        web = topo.web(workers=1)
        page = chromium.new_page(viewport={"width": 1920, "height": 1080})
        page.goto(web + "/screen/pulse")
        page.wait_for_selector(".pulse-label", timeout=30000)
        redis_proc.kill()
        redis_proc.wait(5)
        wait_until(lambda: get_status(web + "/api/ready")[0] == 503, 20, "/api/ready says 503")
        _, doc = get_status(web + "/api/ready")
        assert doc["database"]["ok"] and not doc["events"]["ok"] and doc["events"]["transport"] == "redis"
        page.wait_for_selector("#tb-offline", state="visible", timeout=20000)
        assert "事件通道中断" in page.locator("#tb-offline").inner_text()
        assert page.locator(".pulse-label").inner_text() == "初始标签"  # panels keep their values
        redis_proc, _ = start_redis(tmp_path, port)
        wait_until(lambda: get_status(web + "/api/ready")[0] == 200, 30, "ready again once Redis is back")
        page.wait_for_selector("#tb-offline", state="hidden", timeout=20000)
    finally:
        if page is not None:
            page.close()
        topo.stop()
        redis_proc.kill()


@pytest.mark.browser
def test_walls_keep_last_values_while_postgres_is_away(tmp_path: Path, chromium) -> None:
    from pgcluster import PgCluster
    cluster = PgCluster()
    cluster.start()
    topo = Topology(write_topology_config(tmp_path, cluster.new_database()))
    page = None
    try:
        topo.worker().wait_for("holds the sources lease", 90)
        web = topo.web(workers=1)
        page = chromium.new_page(viewport={"width": 1920, "height": 1080})
        page.goto(web + "/screen/pulse")
        page.wait_for_selector(".pulse-label", timeout=30000)
        cluster.pause()
        wait_until(lambda: get_status(web + "/api/ready", timeout=8)[0] == 503, 30, "/api/ready says 503")
        page.wait_for_selector("#tb-offline", state="visible", timeout=20000)
        assert "数据库连接中断" in page.locator("#tb-offline").inner_text()
        assert page.locator(".pulse-label").inner_text() == "初始标签"
        assert "tb-disconnected" in page.locator("#tb-canvas").get_attribute("class")
        cluster.resume()
        wait_until(lambda: get_status(web + "/api/ready", timeout=8)[0] == 200, 40, "ready again")
        page.wait_for_selector("#tb-offline", state="hidden", timeout=20000)
        assert "tb-disconnected" not in page.locator("#tb-canvas").get_attribute("class")
    finally:
        if page is not None:
            page.close()
        topo.stop()
        cluster.stop()
