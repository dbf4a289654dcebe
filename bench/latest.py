"""Latest value of every series: Store.latest() versus a hand-written SQL query.

Builds a database of --sensors series and --readings readings (raw sqlite3 executemany in
(series_id, ts) order into the schema open_store made), then times Store.latest() for all
sensors and a hand-written GROUP BY query on a plain sqlite3 connection, --repeat times each,
alternating, and compares medians. Both must return the same rows.

    .venv/bin/python bench/latest.py [--quick] [--readings N] [--sensors N] [--repeat N]

Last line: {"latest_ms": ..., "handwritten_ms": ..., "latest_ratio": handwritten_ms / latest_ms}
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import event  # noqa: E402

from core.data.store import open_store  # noqa: E402

T0 = 1_700_000_000.0
METRIC, UNIT = "gas_ppm", "ppm"

HANDWRITTEN = """
SELECT s.entity_id, s.metric, s.unit, r.ts, r.value
FROM reading r
JOIN series s ON s.id = r.series_id
JOIN (SELECT series_id, MAX(ts) AS ts FROM reading GROUP BY series_id) m
  ON m.series_id = r.series_id AND m.ts = r.ts
"""


def value_of(sid: int, k: int) -> float:
    return float((sid * 31 + k * 7) % 1000) / 10.0


def build(path: Path, sensors: int, readings: int) -> dict[str, tuple[float, float]]:
    """Fill the database; returns the expected newest (ts, value) per entity id."""
    open_store(f"sqlite:///{path}").engine.dispose()  # the schema, exactly as the store makes it
    con = sqlite3.connect(path, isolation_level=None)
    try:
        con.execute("PRAGMA journal_mode=OFF")  # set-up only; switched back to WAL below
        con.execute("PRAGMA synchronous=OFF")
        con.execute("PRAGMA cache_size=-262144")  # 256 MiB
        con.execute("BEGIN")
        con.executemany("INSERT INTO series (entity_id, metric, unit) VALUES (?, ?, ?)",
                        [(f"sensor-{i:05d}", METRIC, UNIT) for i in range(sensors)])
        sids = [sid for (sid,) in con.execute("SELECT id FROM series ORDER BY id")]
        base, extra = divmod(readings, sensors)
        counts = [base + (1 if i < extra else 0) for i in range(sensors)]
        con.executemany("INSERT INTO reading (series_id, ts, value) VALUES (?, ?, ?)",
                        ((sid, T0 + k, value_of(sid, k)) for sid, n in zip(sids, counts) for k in range(n)))
        con.execute("COMMIT")
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("ANALYZE")
        expected = {f"sensor-{i:05d}": (T0 + n - 1, value_of(sid, n - 1))
                    for i, (sid, n) in enumerate(zip(sids, counts)) if n > 0}
        return expected
    finally:
        con.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--readings", type=int, default=5_000_000)
    ap.add_argument("--sensors", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--quick", action="store_true", help="500,000 readings")
    a = ap.parse_args()
    if a.quick:
        a.readings = min(a.readings, 500_000)

    print(f"latest: {a.sensors:,} sensors, {a.readings:,} readings, sqlite {sqlite3.sqlite_version}")
    with tempfile.TemporaryDirectory(prefix="tb-bench-latest-") as tmp:
        path = Path(tmp) / "latest.sqlite"
        t = time.perf_counter()
        expected = build(path, a.sensors, a.readings)
        print(f"  set-up: {time.perf_counter() - t:.1f} s, file {path.stat().st_size / 2**20:.0f} MiB")

        store = open_store(f"sqlite:///{path}")
        con = sqlite3.connect(path)
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "busy_timeout=10000"):
            con.execute(f"PRAGMA {pragma}")
        try:
            # The exact SQL the store sends, to run it on the plain connection too (where the store's time goes).
            sent: list[tuple[str, object]] = []

            def capture(_conn, _cur, statement, params, _ctx, _many):  # type: ignore[no-untyped-def]
                sent.append((statement, params))

            event.listen(store.engine, "before_cursor_execute", capture)
            store.latest()  # also warms the page cache and SQLAlchemy's compiled-statement cache
            event.remove(store.engine, "before_cursor_execute", capture)
            store_sql, store_params = sent[-1]
            con.execute(HANDWRITTEN).fetchall()

            runs: dict[str, list[float]] = {"store": [], "hand": [], "store_sql": []}
            calls = {"store": store.latest,
                     "hand": lambda: con.execute(HANDWRITTEN).fetchall(),
                     "store_sql": lambda: con.execute(store_sql, store_params).fetchall()}
            got: dict[str, object] = {}
            order = list(calls)
            for i in range(a.repeat):  # rotate the order so drift hits every side alike
                for name in order[i % 3:] + order[:i % 3]:
                    t = time.perf_counter()
                    got[name] = calls[name]()
                    runs[name].append((time.perf_counter() - t) * 1000)
            store_ms, hand_ms, raw_store_sql_ms = runs["store"], runs["hand"], runs["store_sql"]

            s_rows = sorted((v.entity_id, v.metric, v.unit, v.ts, v.value) for v in got["store"])  # type: ignore[attr-defined]
            h_rows = sorted(got["hand"])  # type: ignore[call-overload]
            want = sorted((e, METRIC, UNIT, ts, v) for e, (ts, v) in expected.items())
            assert len(s_rows) == len(expected), (len(s_rows), len(expected))
            assert s_rows == h_rows == want, "Store.latest() and the hand-written query disagree"
            print(f"  both return the same {len(s_rows):,} rows, equal to the newest reading of each sensor")
            for name, sql in (("store", store_sql), ("handwritten", HANDWRITTEN)):
                params = store_params if sql is store_sql else ()
                plan = [row[3] for row in con.execute("EXPLAIN QUERY PLAN " + sql, params)]
                print(f"  plan {name:12s}: " + " | ".join(plan))
        finally:
            con.close()
            store.engine.dispose()

    latest = statistics.median(store_ms)
    hand = statistics.median(hand_ms)
    raw_store = statistics.median(raw_store_sql_ms)
    print(f"  Store.latest()                    median {latest:9.1f} ms  (runs: "
          + ", ".join(f"{x:.0f}" for x in store_ms) + ")")
    print(f"  hand-written GROUP BY (sqlite3)   median {hand:9.1f} ms  (runs: "
          + ", ".join(f"{x:.0f}" for x in hand_ms) + ")")
    print(f"  store's SQL on plain sqlite3      median {raw_store:9.1f} ms  "
          f"(so SQLAlchemy + LatestValue cost ≈ {latest - raw_store:.1f} ms)")
    ratio = hand / latest
    print(f"  latest_ratio (handwritten_ms / latest_ms) = {ratio:.2f}")
    print(json.dumps({"latest_ms": round(latest, 2), "handwritten_ms": round(hand, 2),
                      "latest_ratio": round(ratio, 3), "readings": a.readings, "sensors": a.sensors}))


if __name__ == "__main__":
    main()
