"""Ingest throughput: Store.ingest versus raw sqlite3 executemany into the same schema.

Both sides write the same readings, batch by batch in alternation, (batches of --batch readings cycling over --sensors
sensors, one commit per batch) into a fresh SQLite file whose schema open_store created.
The raw side uses the same connection pragmas as the store (WAL, synchronous=NORMAL,
foreign_keys=ON) so only the Python/SQLAlchemy path differs.

    .venv/bin/python bench/ingest.py [--quick] [--readings N] [--batch N] [--sensors N]

Last line: {"ingest_ratio": store/raw, "store_rows_per_s": ..., "raw_rows_per_s": ...}
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.plugins.contributions import Reading  # noqa: E402
from core.data.store import open_store  # noqa: E402

T0 = 1_700_000_000.0
METRIC, UNIT = "gas_ppm", "ppm"


def entity(i: int) -> str:
    return f"sensor-{i:05d}"


def make_batches(n_readings: int, batch: int, sensors: int) -> list[list[Reading]]:
    """Batch k holds readings k*batch .. k*batch+batch-1; reading j is sensor j % sensors at tick j // sensors."""
    out: list[list[Reading]] = []
    for start in range(0, n_readings, batch):
        out.append([Reading(entity(j % sensors), METRIC, T0 + j // sensors, float(j % 997) / 10.0, UNIT)
                    for j in range(start, min(start + batch, n_readings))])
    return out


def warm_batches(batch: int, sensors: int) -> list[list[Reading]]:
    """One reading per sensor at T0-1: creates every series (untimed) on both sides."""
    rs = [Reading(entity(i), METRIC, T0 - 1, 0.0, UNIT) for i in range(sensors)]
    return [rs[i:i + batch] for i in range(0, len(rs), batch)]


def open_raw(path: Path, sensors: int) -> tuple[sqlite3.Connection, dict[tuple[str, str], int]]:
    """A plain sqlite3 connection on a schema made by open_store, with the store's pragmas and series rows."""
    open_store(f"sqlite:///{path}").engine.dispose()  # the same schema, made by the store
    con = sqlite3.connect(path, isolation_level="DEFERRED")
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "busy_timeout=10000"):
        con.execute(f"PRAGMA {pragma}")
    with con:
        con.executemany("INSERT INTO series (entity_id, metric, unit) VALUES (?, ?, ?)",
                        [(entity(i), METRIC, UNIT) for i in range(sensors)])
    ids = {(e, m): sid for sid, e, m in con.execute("SELECT id, entity_id, metric FROM series")}
    return con, ids


RAW_SQL = "INSERT INTO reading (series_id, ts, value) VALUES (?, ?, ?)"


def run(tmp: Path, batches: list[list[Reading]], warm: list[list[Reading]],
        sensors: int) -> tuple[float, float, float, int, int]:
    """Both sides batch by batch, alternating which goes first, so drift (disk, CPU clock) hits both alike."""
    store = open_store(f"sqlite:///{tmp / 'store.sqlite'}")
    con, ids = open_raw(tmp / "raw.sqlite", sensors)
    try:
        for b in warm:  # untimed: creates the series on the store side, same rows on the raw side
            store.ingest(b)
            con.executemany(RAW_SQL, [(ids[(r.entity_id, r.metric)], r.ts, r.value) for r in b])
            con.commit()
        # Raw tuples are built outside the timed region: the raw figure is the floor of executemany + commit.
        rows = [[(ids[(r.entity_id, r.metric)], r.ts, r.value) for r in b] for b in batches]
        store_s = raw_s = 0.0
        store_n = raw_n = 0
        for k, (b, raw_b) in enumerate(zip(batches, rows)):
            for side in ((0, 1) if k % 2 == 0 else (1, 0)):
                t = time.perf_counter()
                if side == 0:
                    store_n += store.ingest(b)
                    store_s += time.perf_counter() - t
                else:
                    con.executemany(RAW_SQL, raw_b)
                    con.commit()
                    raw_s += time.perf_counter() - t
                    raw_n += len(raw_b)
        t = time.perf_counter()  # for reference: the tuple-building step the raw side skipped
        for b in batches:
            [(ids[(r.entity_id, r.metric)], r.ts, r.value) for r in b]
        convert_s = time.perf_counter() - t
        assert con.execute("SELECT COUNT(*) FROM reading").fetchone()[0] == raw_n + sensors
        assert store.reading_count() == store_n + sensors
        return store_s, raw_s, convert_s, store_n, raw_n
    finally:
        con.close()
        store.engine.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--readings", type=int, default=500_000)
    ap.add_argument("--batch", type=int, default=5_000)
    ap.add_argument("--sensors", type=int, default=10_000)
    ap.add_argument("--quick", action="store_true", help="100,000 readings")
    a = ap.parse_args()
    if a.quick:
        a.readings = min(a.readings, 100_000)

    print(f"ingest: {a.readings:,} readings, batches of {a.batch:,}, {a.sensors:,} sensors, "
          f"sqlite {sqlite3.sqlite_version}")
    batches = make_batches(a.readings, a.batch, a.sensors)
    warm = warm_batches(a.batch, a.sensors)
    with tempfile.TemporaryDirectory(prefix="tb-bench-ingest-") as tmp:
        store_s, raw_s, convert_s, store_n, raw_n = run(Path(tmp), batches, warm, a.sensors)
    assert store_n == raw_n == a.readings, (store_n, raw_n, a.readings)
    store_rate, raw_rate = store_n / store_s, raw_n / raw_s
    print(f"  Store.ingest        {store_s:8.2f} s  {store_rate:12,.0f} readings/s")
    print(f"  raw executemany     {raw_s:8.2f} s  {raw_rate:12,.0f} readings/s")
    print(f"  (raw tuple-building from Reading objects, not in the raw figure: {convert_s:.2f} s)")
    ratio = store_rate / raw_rate
    print(f"  ingest_ratio (store rate / raw rate) = {ratio:.3f}")
    print(json.dumps({"ingest_ratio": round(ratio, 4), "store_rows_per_s": round(store_rate),
                      "raw_rows_per_s": round(raw_rate), "readings": a.readings, "batch": a.batch,
                      "sensors": a.sensors}))


if __name__ == "__main__":
    main()
