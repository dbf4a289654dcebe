"""The five-level interconnection (issue 16 §4): signatures, the inbox's refusals, the outbox's retries, the
feeder, the operators' actions, and three real instances (street → district → city) with the city restarted."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlmodel import select
from werkzeug.serving import make_server

from core.data import twin
from core.data.users import Users
from core.runtime import federation_wire as wire
from core.web.serve import free_port

SECRETS = {"FED_TEST_STREET": "street-district-secret", "FED_TEST_CITY": "district-city-secret"}


@pytest.fixture(autouse=True)
def _secrets(monkeypatch):
    for k, v in SECRETS.items():
        monkeypatch.setenv(k, v)


def district_settings(city_url: str = "http://127.0.0.1:9", **extra) -> dict:
    return {"level": "district", "name": "linhai", "retry_base_s": 0.05, "retry_max_s": 0.2, "summary_interval_s": 0,
            "peers": [{"name": "gucheng", "direction": "down", "level": "street", "secret_env": "FED_TEST_STREET"},
                      {"name": "taizhou", "url": city_url, "direction": "up", "level": "city",
                       "secret_env": "FED_TEST_CITY"}], **extra}


def incident_msg(i: int = 1, **payload) -> dict:
    return wire.envelope("incident", "street", "gucheng", {"title": f"古城街道火情 {i}", "severity": 2, **payload},
                         msg_id=f"gucheng.test.{i:06d}")


def post(client, messages, *, peer="gucheng", secret=SECRETS["FED_TEST_STREET"], ts=None, body=None, sig=None):
    body = body if body is not None else wire.encode(messages)
    headers = wire.signed_headers(secret.encode(), peer, body, now=ts)
    if sig is not None:
        headers[wire.SIG_HEADER] = sig
    return client.post(wire.INBOX_PATH, data=body, headers=headers)


@pytest.fixture
def district(make_twin_app):
    # not started: no sender thread turns behind the test's back (the inbox answers all the same)
    app = make_twin_app(federation=district_settings(), start=False)
    return app, app.server.config["TWINBOARD_HOST"]


def rows(host, table):
    with host.store.session() as db:
        return list(db.scalars(select(table)).all())


def refusals(host):
    return [a for a in host.store.audit_log() if a.action == "federation.refused"]


# -- the wire -------------------------------------------------------------------------------------
def test_signature_covers_body_and_timestamp() -> None:
    body, secret = wire.encode([incident_msg()]), b"s3cret"
    sig = wire.sign(secret, "1700000000", body)
    assert sig.startswith("sha256=") and wire.verify(secret, "1700000000", body, sig)
    assert not wire.verify(secret, "1700000001", body, sig)                  # another timestamp
    assert not wire.verify(secret, "1700000000", body.replace(b"2", b"3"), sig)  # another body
    assert not wire.verify(b"other", "1700000000", body, sig)               # another secret
    assert not wire.verify(secret, "1700000000", body, "")


def test_malformed_envelopes_name_the_field() -> None:
    good = incident_msg()
    cases = {b"{not json": "body", b"[]": "body", json.dumps({"messages": []}).encode(): "messages",
             wire.encode([good, {**good, "id": "x"}]): "messages[1].id",
             wire.encode([{**good, "type": "gossip"}]): "messages[0].type",
             wire.encode([{**good, "origin": {"level": "county", "name": "x"}}]): "messages[0].origin.level",
             wire.encode([{**good, "payload": {"title": ""}}]): "messages[0].payload.title",
             wire.encode([{**good, "payload": {"title": "t", "severity": 7}}]): "messages[0].payload.severity",
             wire.encode([{**good, "created": "yesterday"}]): "messages[0].created",
             wire.encode([{**good, "colour": "red"}]): "messages[0].colour"}
    for body, field in cases.items():
        with pytest.raises(wire.WireError) as err:
            wire.parse_body(body)
        assert (err.value.status, err.value.field) == (400, field), body


def test_peers_must_fit_the_levels() -> None:
    from pydantic import ValidationError

    from core.settings import FederationSettings
    with pytest.raises(ValidationError, match=r"peers\[0\] \(taizhou\): a city peer cannot be 'down'"):
        FederationSettings(level="district", name="d", peers=[
            {"name": "taizhou", "url": "http://x", "direction": "down", "level": "city", "secret_env": "X"}])


# -- the inbox ------------------------------------------------------------------------------------
def test_received_once_forwarded_up_and_a_replay_stores_nothing(district) -> None:
    app, host = district
    client = app.server.test_client()
    resp = post(client, [incident_msg(1), incident_msg(2)])
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert [r["status"] for r in resp.get_json()["results"]] == ["stored", "stored"]
    again = post(client, [incident_msg(2), incident_msg(3)])
    assert [r["status"] for r in again.get_json()["results"]] == ["already_received", "stored"]
    inbox = rows(host, twin.FederationInbox)
    assert sorted(r.msg_id for r in inbox) == ["gucheng.test.000001", "gucheng.test.000002", "gucheng.test.000003"]
    assert {(r.origin_level, r.origin_name, r.peer) for r in inbox} == {("street", "gucheng", "gucheng")}
    # each went up once, to the city, with this instance on its way
    out = rows(host, twin.FederationOutbox)
    assert sorted((r.msg_id, r.peer) for r in out) == [(f"gucheng.test.00000{i}", "taizhou") for i in (1, 2, 3)]
    assert out[0].envelope["via"] == [{"level": "district", "name": "linhai"}]
    assert out[0].envelope["origin"] == {"level": "street", "name": "gucheng"}


@pytest.mark.parametrize("case", ["wrong_signature", "unknown_peer", "stale", "no_timestamp", "oversized",
                                  "malformed", "wrong_direction"])
def test_bad_requests_are_refused_logged_and_store_nothing(district, case, caplog) -> None:
    app, host = district
    client = app.server.test_client()
    good = incident_msg(1)
    if case == "wrong_signature":
        resp, status = post(client, [good], secret="guessed"), 401
    elif case == "unknown_peer":
        resp, status = post(client, [good], peer="intruder"), 401
    elif case == "stale":
        resp, status = post(client, [good], ts=time.time() - 3600), 401
    elif case == "no_timestamp":
        body = wire.encode([good])
        resp = client.post(wire.INBOX_PATH, data=body, headers={wire.PEER_HEADER: "gucheng",
                                                                  wire.SIG_HEADER: wire.sign(b"x", "", body)})
        status = 401
    elif case == "oversized":
        resp, status = post(client, [incident_msg(1, message="x" * 4000)] * 300), 413
    elif case == "malformed":
        resp, status = post(client, [good, {**incident_msg(2), "payload": {"severity": 1}}]), 400
        assert resp.get_json()["field"] == "messages[1].payload.title"
    else:
        instruction = wire.envelope("instruction", "street", "gucheng", {"title": "越级指令"}, msg_id="gucheng.bad.0001")
        resp, status = post(client, [instruction]), 403
        assert resp.get_json()["field"] == "messages[0].type"
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.get_json()["error"]
    assert rows(host, twin.FederationInbox) == [] and rows(host, twin.FederationOutbox) == []
    audit = refusals(host)
    assert len(audit) == 1 and audit[0].new["status"] == status
    assert "federation: refused a request" in caplog.text


def test_inbox_without_federation_is_404(make_twin_app) -> None:
    app = make_twin_app()
    assert app.server.test_client().post(wire.INBOX_PATH, data=b"{}").status_code == 404


# -- the outbox -----------------------------------------------------------------------------------
def _serve(app, port: int):
    srv = make_server("127.0.0.1", port, app.server, threaded=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def test_outbox_retries_while_the_peer_is_down_then_delivers_once(make_twin_app) -> None:
    import requests
    port = free_port()
    street = make_twin_app(federation={
        "level": "street", "name": "gucheng", "retry_base_s": 0.05, "retry_max_s": 0.2, "summary_interval_s": 0,
        "peers": [{"name": "linhai", "url": f"http://127.0.0.1:{port}", "direction": "up", "level": "district",
                   "secret_env": "FED_TEST_STREET"}]}, start=False)
    fed = street.server.config["TWINBOARD_HOST"].federation  # not started: this test turns the sender by hand
    envs = [fed.send("incident", {"title": f"火情 {i}"}, fed.up()) for i in range(5)]
    session = requests.Session()
    peer = fed.peers["linhai"]
    assert fed.deliver(peer, session) == 0  # nobody listens on the port
    out = rows(street.server.config["TWINBOARD_HOST"], twin.FederationOutbox)
    assert {(r.state, r.attempts) for r in out} == {("pending", 1)} and all("ConnectionError" in r.last_error for r in out)
    assert all(r.next_at > r.created_at for r in out)
    for attempts in range(2, 4):  # still down: each turn backs off further
        while fed.deliver(peer, session) == 0 and rows(street.server.config["TWINBOARD_HOST"],
                                                       twin.FederationOutbox)[0].attempts < attempts:
            time.sleep(0.02)
    district = make_twin_app(federation=district_settings())
    srv = _serve(district, port)
    try:
        delivered = 0
        for _ in range(500):
            delivered += fed.deliver(peer, session)
            if delivered >= 5:
                break
            time.sleep(0.02)
        assert delivered == 5
        assert fed.deliver(peer, session) == 0  # nothing is sent twice
        out = rows(street.server.config["TWINBOARD_HOST"], twin.FederationOutbox)
        assert {r.state for r in out} == {"sent"} and min(r.attempts for r in out) >= 3
        inbox = rows(district.server.config["TWINBOARD_HOST"], twin.FederationInbox)
        assert sorted(r.msg_id for r in inbox) == sorted(e["id"] for e in envs)
    finally:
        srv.shutdown()


def test_backoff_grows_with_jitter_and_a_cap(district) -> None:
    fed = district[1].federation
    fed.settings = fed.settings.model_copy(update={"retry_base_s": 1.0, "retry_max_s": 60.0})
    for attempts, full in [(1, 1.0), (2, 2.0), (5, 16.0), (9, 60.0), (40, 60.0)]:
        waits = {round(fed.backoff(attempts), 6) for _ in range(20)}
        assert all(full / 2 <= w <= full for w in waits) and len(waits) > 1


# -- the feeder and the operators -----------------------------------------------------------------
def test_incident_steps_warnings_and_alert_summaries_are_queued(district) -> None:
    _app, host = district
    fed = host.federation
    fed._init_cursors()
    with host.store.session() as db:
        inc = twin.Incident(kind="fire", title="古城街道民房火灾", severity=2,
                            geometry={"type": "Point", "coordinates": [121.1, 28.8]})
        db.add(inc)
        db.commit()
        db.refresh(inc)
        db.add(twin.IncidentEvent(incident_id=inc.id, actor="duty", kind="intake", message="接报"))
        db.add(twin.IncidentEvent(incident_id=inc.id, actor="duty", kind="assessment", message="研判为II级"))
        db.add(twin.WarningPublication(level="orange", title="大风橙色预警", state="published", created_by="duty",
                                       published_at=time.time() + 1))
        db.add(twin.Alert(plugin="demo", rule_id="r", entity_id="e", severity=1, title="泄漏"))
        db.commit()
    assert fed.feed(force=True) == 3
    assert fed.feed(force=True) == 0  # cursors moved: nothing twice
    out = rows(host, twin.FederationOutbox)
    ups = sorted(r.envelope["payload"].get("event", "warning") for r in out if r.peer == "taizhou")
    assert ups == ["assessment", "intake", "warning"]
    assert [r.peer for r in out if r.type == "warning"] == ["taizhou"]  # street peer has no URL: nothing queued
    inc_msg = next(r.envelope for r in out if r.type == "incident")
    assert inc_msg["payload"]["lon"] == 121.1 and inc_msg["origin"] == {"level": "district", "name": "linhai"}
    summary = fed.alert_summary()
    assert summary["open"] == {"1": 1, "2": 0, "3": 0, "4": 0} and summary["newest"][0]["title"] == "泄漏"


def test_instruction_down_and_republish_are_audited(make_twin_app) -> None:
    app = make_twin_app(federation={
        "level": "district", "name": "linhai", "summary_interval_s": 0,
        "peers": [{"name": "gucheng", "url": "http://127.0.0.1:9", "direction": "down", "level": "street",
                   "secret_env": "FED_TEST_STREET"},
                  {"name": "taizhou", "direction": "up", "level": "city", "secret_env": "FED_TEST_CITY"}]}, start=False)
    host = app.server.config["TWINBOARD_HOST"]
    Users(host.store).add("manager1", "manager-pass-1", "manager", "test")
    client = app.server.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    assert client.post("/login", data={"username": "manager1", "password": "manager-pass-1",
                                       "csrf_token": token}).status_code == 302
    # a warning from the city arrives ...
    warning = wire.envelope("warning", "city", "taizhou", {"title": "台风红色预警", "level": "red"},
                            msg_id="taizhou.warn.0001")
    assert post(client, [warning], peer="taizhou", secret=SECRETS["FED_TEST_CITY"]).status_code == 200
    page = client.get("/admin/federation").get_data(as_text=True)
    assert "台风红色预警" in page and "市 · taizhou" in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    inbox_id = rows(host, twin.FederationInbox)[0].id
    # ... and is re-published downward with one click
    assert client.post(f"/admin/federation/republish/{inbox_id}", data={"csrf_token": token}).status_code == 302
    assert client.post("/admin/federation/instruct", data={"csrf_token": token, "title": "立即转移危险区群众",
                                                           "message": "18时前完成"}).status_code == 302
    assert client.post("/admin/federation/instruct", data={"csrf_token": token, "title": ""}).status_code == 302
    out = sorted(rows(host, twin.FederationOutbox), key=lambda r: r.id)
    assert [(r.type, r.peer) for r in out] == [("warning", "gucheng"), ("instruction", "gucheng")]
    assert out[0].envelope["payload"]["republished_from"] == {"id": "taizhou.warn.0001", "level": "city",
                                                              "name": "taizhou"}
    assert out[0].envelope["origin"] == {"level": "district", "name": "linhai"}
    actions = [a.action for a in host.store.audit_log()]
    assert "federation.republish" in actions and actions.count("federation.instruction") == 1
    assert rows(host, twin.FederationInbox)[0].republished_by == "manager1"
    page = client.get("/admin/federation").get_data(as_text=True)
    assert "title: must be a non-empty string" in page  # the empty instruction was refused, naming the field


# -- three real instances -------------------------------------------------------------------------
def _count(db: Path) -> tuple[int, int]:
    with sqlite3.connect(db, timeout=30) as conn:
        total, distinct = conn.execute("SELECT count(*), count(DISTINCT msg_id) FROM federation_inbox").fetchone()
    return int(total), int(distinct)


def test_three_instances_with_the_city_restarted_deliver_every_event_once(tmp_path) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from bench.federation import Topology
    topo = Topology(tmp_path, retry_max_s=0.5)
    try:
        topo.start()
        sent = topo.add_incident_events(60)
        topo.wait_city(lambda n: n >= 10)
        topo.restart_city(between=lambda: sent.extend(topo.add_incident_events(60, start=60)))
        total = topo.wait_city(lambda n: n >= 120, timeout=120)
        time.sleep(1.0)  # anything still in flight would land now
        assert _count(topo.db("city")) == (120, 120) == (total, total)
        ids = set(topo.city_ids())
        assert len(ids) == 120 and all(i.startswith("gucheng.ie.") for i in ids)
        assert topo.city_hops() == {'[{"level": "district", "name": "linhai"}]'}
        assert _count(topo.db("district"))[0] == 120
    finally:
        topo.stop()


# -- the district screen --------------------------------------------------------------------------
def test_exchange_panel_shows_received_items_with_their_origin_level(make_twin_app) -> None:
    from core.plugins.testing import render_panel
    app = make_twin_app(builtin=True, plugin_allowlist=["federation", "alerts"], federation=district_settings())
    host = app.server.config["TWINBOARD_HOST"]
    assert "暂无上下级消息" in str(render_panel(app, "federation.exchange"))
    client = app.server.test_client()
    summary = wire.envelope("alert_summary", "street", "gucheng", {"open": {"1": 0, "2": 1, "3": 2, "4": 0}},
                            msg_id="gucheng.sum.0001")
    assert post(client, [incident_msg(1), summary]).status_code == 200
    warning = wire.envelope("warning", "city", "taizhou", {"title": "台风红色预警"}, msg_id="taizhou.warn.0002")
    assert post(client, [warning], peer="taizhou", secret=SECRETS["FED_TEST_CITY"]).status_code == 200
    text = str(render_panel(app, "federation.exchange"))
    assert "gucheng · 事件 · 古城街道火情 1" in text and "街道" in text
    assert "taizhou · 预警 · 台风红色预警" in text and "'市'" in text
    assert "Ⅰ0 Ⅱ1 Ⅲ2 Ⅳ0" in text
    assert "City" in str(render_panel(app, "federation.exchange", locale="en"))
    assert host.federation is not None
