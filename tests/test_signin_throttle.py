"""Sign-in throttling: failed sign-ins per user name and per address lock them, 429 with Retry-After,
audited, listed in /admin and unlocked by a manager; counted in the database (every process together)
or in Redis (issue 18, item 16)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from core.data.users import Users
from core.web.throttle import ADDRESS_LIMIT, LOCK_S, USER_LIMIT

USER_MAX = int(USER_LIMIT.split("/")[0])
ADDRESS_MAX = int(ADDRESS_LIMIT.split("/")[0])


def _token(client) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)


def _try(client, name: str, password: str, address: str = "10.0.0.1", lang: str = ""):
    return client.post("/login" + (f"?lang={lang}" if lang else ""),
                       data={"username": name, "password": password, "csrf_token": _token(client)},
                       environ_base={"REMOTE_ADDR": address})


def _setup(make_twin_app, **settings):
    app = make_twin_app(public_screens=False, **settings)
    host = app.server.config["TWINBOARD_HOST"]
    users = Users(host.store)
    users.add("alice", "alice-pass-1", "viewer", "test")
    users.add("boss", "boss-pass-1", "manager", "test")
    users.add("root", "root-pass-1", "admin", "test")
    return app, host


def _signed_in(app, name: str, password: str, address: str = "10.9.9.9"):
    client = app.server.test_client()
    assert _try(client, name, password, address).status_code == 302
    return client


def test_twelve_wrong_passwords_lock_the_user_with_429_and_retry_after(make_twin_app) -> None:
    app, host = _setup(make_twin_app)
    client = app.server.test_client()
    answers = [_try(client, "alice", f"wrong-{i}") for i in range(12)]
    assert [r.status_code for r in answers] == [401] * (USER_MAX - 1) + [429] * (12 - USER_MAX + 1)
    locked = answers[-1]
    assert 0 < int(locked.headers["Retry-After"]) <= LOCK_S
    assert "登录失败次数过多" in locked.get_data(as_text=True) and "15 分钟" in locked.get_data(as_text=True)
    english = _try(client, "alice", "wrong", lang="en")
    assert english.status_code == 429 and "Too many failed sign-ins: locked for 15 more minutes" in \
        english.get_data(as_text=True)
    # while locked the password is not even checked: the right one is refused too, from any address
    assert _try(client, "alice", "alice-pass-1", address="10.0.0.77").status_code == 429
    # another user from the same address is not locked (the address has fewer than its limit)
    assert _try(client, "boss", "boss-pass-1").status_code == 302
    [entry] = [e for e in host.store.audit_log() if e.action == "signin.lock"]
    assert entry.target == "user:alice" and entry.new["failures"] == USER_MAX and entry.new["address"] == "10.0.0.1"


def test_locks_are_listed_in_admin_and_a_manager_unlocks_them(make_twin_app) -> None:
    app, host = _setup(make_twin_app)
    for i in range(USER_MAX):
        _try(app.server.test_client(), "alice", f"wrong-{i}")
    root = _signed_in(app, "root", "root-pass-1")
    page = root.get("/admin/users?lang=en").get_data(as_text=True)
    assert 'id="tb-signin-locks"' in page and 'data-kind="user" data-subject="alice"' in page

    boss = _signed_in(app, "boss", "boss-pass-1")
    assert boss.get("/admin/users").status_code == 403            # the users page is the admin's
    page = boss.get("/admin/signin-locks").get_data(as_text=True)  # the locks page is the managers'
    assert 'data-subject="alice"' in page and "解锁" in page
    lock_id = re.search(r'name="unlock" value="(\d+)"', page).group(1)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    resp = boss.post("/admin/signin-locks", data={"unlock": lock_id, "csrf_token": token})
    assert resp.status_code == 302
    assert 'id="tb-signin-locks-none"' in boss.get("/admin/signin-locks").get_data(as_text=True)
    unlock = next(e for e in host.store.audit_log() if e.action == "signin.unlock")
    assert unlock.actor == "boss" and unlock.target == "user:alice"
    # unlocked: the count starts again, and the right password works
    assert _try(app.server.test_client(), "alice", "alice-pass-1").status_code == 302
    # unlocking again is refused with a message, nothing changes
    again = boss.post("/admin/signin-locks", data={"unlock": lock_id, "csrf_token": token})
    assert again.status_code == 302 and len([e for e in host.store.audit_log() if e.action == "signin.unlock"]) == 1


def test_a_viewer_cannot_unlock(make_twin_app) -> None:
    app, host = _setup(make_twin_app)
    for i in range(USER_MAX):
        _try(app.server.test_client(), "boss", f"wrong-{i}")
    alice = _signed_in(app, "alice", "alice-pass-1")
    assert alice.get("/admin/signin-locks").status_code == 403
    lock = app.server.config["TWINBOARD_SIGNIN_THROTTLE"].active()[0]
    token = re.search(r'value="([^"]+)"', alice.get("/login").get_data(as_text=True)).group(1)
    assert alice.post("/admin/signin-locks", data={"unlock": lock.id, "csrf_token": token}).status_code == 403
    assert [lk.subject for lk in app.server.config["TWINBOARD_SIGNIN_THROTTLE"].active()] == ["boss"]


def test_one_address_trying_many_names_is_locked(make_twin_app) -> None:
    app, host = _setup(make_twin_app)
    client = app.server.test_client()
    codes = [_try(client, f"guess{i}", "x", address="10.0.0.66").status_code for i in range(ADDRESS_MAX)]
    assert codes == [401] * (ADDRESS_MAX - 1) + [429]
    # a real user's right password from that address is refused; from another address it works
    refused = _try(client, "alice", "alice-pass-1", address="10.0.0.66")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert _try(client, "alice", "alice-pass-1", address="10.0.0.67").status_code == 302
    assert any(e.action == "signin.lock" and e.target == "address:10.0.0.66" for e in host.store.audit_log())


def test_processes_sharing_the_database_count_together(make_twin_app, tmp_path: Path) -> None:
    """Two apps (as two gunicorn workers) on one database: failures on either count toward one lock."""
    url = f"sqlite:///{tmp_path / 'shared.sqlite'}"
    a, _ = _setup(make_twin_app, database_url=url)
    b = make_twin_app(public_screens=False, database_url=url)
    ca, cb = a.server.test_client(), b.server.test_client()
    codes = [_try(ca if i % 2 else cb, "alice", f"wrong-{i}").status_code for i in range(USER_MAX)]
    assert codes == [401] * (USER_MAX - 1) + [429]
    assert _try(ca, "alice", "alice-pass-1").status_code == 429
    assert _try(cb, "alice", "alice-pass-1").status_code == 429


def test_with_redis_the_counts_live_in_redis(make_twin_app, tmp_path: Path) -> None:
    from multiproc import REDIS, start_redis
    if REDIS is None:
        pytest.skip("redis-server not installed (Debian package redis-server)")
    import redis
    proc, port = start_redis(tmp_path)
    try:
        url = f"redis://127.0.0.1:{port}/0"
        app, host = _setup(make_twin_app, redis_url=url)
        assert app.server.config["TWINBOARD_SIGNIN_THROTTLE"].backend == "redis"
        client = app.server.test_client()
        codes = [_try(client, "alice", f"wrong-{i}").status_code for i in range(USER_MAX)]
        assert codes == [401] * (USER_MAX - 1) + [429]
        keys = [k.decode() for k in redis.Redis(port=port).keys("*signin*")]
        assert any("alice" in k for k in keys) and any("10.0.0.1" in k for k in keys)
        with host.store.engine.connect() as conn:
            from sqlalchemy import text
            assert conn.execute(text("SELECT count(*) FROM rate_counter")).scalar() == 0
    finally:
        proc.terminate()
        proc.wait(10)


def test_database_counter_storage_counts_expires_and_purges(make_twin_app) -> None:
    """The ``limits`` storage in the database: atomic counts per key, a window that ends, old rows purged."""
    import time as _time
    from sqlalchemy import func, select
    from core.data.twin import RateCounter
    from core.web.throttle import SqlCounterStorage
    app = make_twin_app()
    storage = SqlCounterStorage(app.server.config["TWINBOARD_HOST"].store.engine)
    assert [storage.incr("k", 60) for _ in range(3)] == [1, 2, 3] and storage.get("k") == 3
    assert storage.get("other") == 0 and storage.check()
    assert storage.incr("short", 1) == 1
    end = _time.time() + 5
    while storage.get("short") and _time.time() < end:   # its one-second window ends
        _time.sleep(0.1)
    assert storage.get("short") == 0 and storage.incr("short", 60) == 1   # a new window starts at 1
    storage.incr("gone", 1)
    _time.sleep(1.1)
    storage._hits = storage.PURGE_EVERY - 1
    storage.incr("k", 60)
    with storage.engine.connect() as conn:
        keys = conn.execute(select(RateCounter.key)).scalars().all()
        assert sorted(keys) == ["k", "short"] and conn.execute(select(func.count()).select_from(RateCounter)).scalar() == 2
    storage.clear("k")
    assert storage.get("k") == 0

