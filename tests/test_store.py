"""The twin store on a real SQLite file: ingest, latest values, alerts, audit, durability under SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.plugins.contributions import AlertDraft, Reading, Severity
from core.errors import StoreError
from core.data.store import open_store


def test_ingest_and_latest(any_store) -> None:
    n = any_store.ingest([Reading(f"s{i}", "t", 100.0 + j, float(i * 10 + j), "C")
                           for i in range(50) for j in range(5)])
    assert n == 250
    latest = {lv.entity_id: lv for lv in any_store.latest()}
    assert len(latest) == 50 and latest["s7"].value == 74.0 and latest["s7"].ts == 104.0
    assert [lv.entity_id for lv in any_store.latest(["s1", "s2"], metric="t")] == ["s1", "s2"]
    assert any_store.series("s3", "t", since=102.0) == [(102.0, 32.0), (103.0, 33.0), (104.0, 34.0)]


def test_reading_is_a_frozen_value_with_a_fast_constructor() -> None:
    import dataclasses
    import pickle
    r = Reading("e1", "level", 1.5, 2.0)
    assert r == Reading(entity_id="e1", metric="level", ts=1.5, value=2.0, unit="") and r.unit == ""
    assert hash(r) == hash(Reading("e1", "level", 1.5, 2.0)) and len({r, Reading("e1", "level", 1.5, 2.0)}) == 1
    assert r != Reading("e1", "level", 1.5, 2.0, "m") and repr(r).startswith("Reading(entity_id='e1'")
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.value = 3.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        Reading("e1", "level", 1.5)  # type: ignore[call-arg]
    assert dataclasses.replace(r, value=3.0).value == 3.0 and pickle.loads(pickle.dumps(r)) == r
    assert dataclasses.asdict(r) == {"entity_id": "e1", "metric": "level", "ts": 1.5, "value": 2.0, "unit": ""}


def test_redelivered_readings_are_not_duplicated(any_store) -> None:
    batch = [Reading("a", "m", 1.0, 1.0), Reading("a", "m", 2.0, 2.0)]
    any_store.ingest(batch)
    any_store.ingest(batch + [Reading("a", "m", 3.0, 3.0)])
    assert any_store.reading_count() == 3


def test_latest_for_many_sensors_is_one_query(any_store) -> None:
    from sqlalchemy import event
    any_store.ingest([Reading(f"s{i}", "m", float(t), float(t)) for i in range(2000) for t in range(3)])
    statements = []
    event.listen(any_store.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    values = any_store.latest([f"s{i}" for i in range(800)])
    assert len(values) == 800 and {v.value for v in values} == {2.0}
    assert len(statements) == 1


def test_alert_dedupe_escalate_ack_close(any_store) -> None:
    a, new = any_store.raise_alert(AlertDraft("r", "e1", Severity.III, "高"), "p")
    again, changed = any_store.raise_alert(AlertDraft("r", "e1", Severity.III, "高"), "p")
    assert new and not changed and again.id == a.id
    worse, changed = any_store.raise_alert(AlertDraft("r", "e1", Severity.I, "高"), "p")
    assert changed and worse.severity == 1
    any_store.set_alert_state(a.id, "acknowledged", "zhang")
    assert any_store.alerts()[0].acknowledged_by == "zhang"
    any_store.set_alert_state(a.id, "closed", "zhang")
    assert any_store.alerts() == []
    log = any_store.audit_log()
    assert [e.action for e in log[:2]] == ["alert.closed", "alert.acknowledged"] and log[0].old == "acknowledged"
    with pytest.raises(StoreError, match="no alert with id 999"):
        any_store.set_alert_state(999, "closed", "zhang")


def test_plugin_state_is_audited(any_store) -> None:
    any_store.set_plugin_enabled("demo", False, "li")
    any_store.set_plugin_enabled("demo", True, "li")
    assert any_store.plugin_state("demo").enabled
    entries = any_store.audit_log()
    assert (entries[0].action, entries[0].old, entries[0].new) == ("plugin.enable", False, True)
    assert (entries[1].action, entries[1].old, entries[1].new) == ("plugin.disable", None, False)


def test_sqlite_file_uses_wal(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'sub' / 'db.sqlite'}")
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    assert (tmp_path / "sub" / "db.sqlite").exists()


def test_unreachable_database_gives_clear_error() -> None:
    with pytest.raises(StoreError, match=r"cannot connect to database postgresql\+psycopg://u:\*\*\*@127.0.0.1:1/x"):
        open_store("postgresql+psycopg://u:secret@127.0.0.1:1/x")


def test_invalid_database_url() -> None:
    with pytest.raises(StoreError, match="not a valid SQLAlchemy URL"):
        open_store("not a url")


WRITER = """
import sys, time
from core.data.store import open_store
from core.plugins.contributions import Reading
store = open_store(sys.argv[1])
batch = 0
while True:
    store.ingest([Reading(f"s{i}", "m", batch + i / 1000, float(batch)) for i in range(200)])
    batch += 1
    print(batch, flush=True)
"""


def test_sigkill_during_ingest_loses_no_committed_reading(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'kill.sqlite'}"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, url], stdout=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parent.parent)
    committed = 0
    deadline = time.time() + 30
    while committed < 40 and time.time() < deadline:
        committed = int(proc.stdout.readline())
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    store = open_store(url)
    assert committed >= 40
    assert store.reading_count() >= committed * 200  # every batch reported as committed is there
    assert store.reading_count() % 200 == 0  # and no half batch


def test_alert_keeps_worst_level_and_its_message(any_store) -> None:
    any_store.raise_alert(AlertDraft("r", "e", Severity.I, "高", "v=60 (limit 50)", 60.0), "p")
    alert, changed = any_store.raise_alert(AlertDraft("r", "e", Severity.II, "高", "v=41 (limit 35)", 41.0), "p")
    assert not changed and alert.severity == 1 and alert.message == "v=60 (limit 50)" and alert.value == 60.0


def test_non_finite_values_are_dropped_not_the_batch(any_store) -> None:
    n = any_store.ingest([Reading("a", "m", 1.0, float("nan")), Reading("a", "m", 2.0, 2.0),
                          Reading("b", "m", 1.0, float("inf"))])
    assert n == 1 and any_store.rejected == 2
    assert [(lv.entity_id, lv.value) for lv in any_store.latest()] == [("a", 2.0)]
