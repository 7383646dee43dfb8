"""Journal append throughput: ``JournalWriter`` vs a raw ``sqlite3`` baseline, same run.

    python -m tools.bench.bench_append [--events 200000] [--batch 4096] [--repeat 5]

* **journal**: a fresh ``JournalWriter``; one ``append((event,))`` per BarClosed and a
  ``flush()`` whenever ``--batch`` records are staged (how ``engine.shell.Engine``
  drives it), then a final flush. Timed from the first append to the end of the final
  flush: canonical encoding, the sha256 chain, the envelope, staging, and the recorder's
  insert + commit (one transaction per flush). Opening/closing the journal is excluded.
  The time spent inside ``flush()`` is recorded separately (attribution: database part vs
  the per-event Python part in ``append()``).
* **raw sqlite3**: the *same stored bytes* (topic and envelope of every record, read back
  from a journal written by ``JournalWriter`` before timing) inserted with ``executemany``
  into ``(seq INTEGER PRIMARY KEY, topic TEXT, state BLOB)``: WAL, the ``PRAGMA synchronous``
  the journal's own connection reports, one ``BEGIN ... COMMIT`` per batch, autocommit-mode
  connection like eventsourcing's.
* **raw sqlite3, journal schema** (attribution only): the same rows into the journal's own
  table layout (``originator_id TEXT, originator_version INTEGER, topic TEXT, state BLOB,
  PRIMARY KEY (originator_id, originator_version)``: a rowid table plus a composite index).

Variants are interleaved within each repetition. Goal: journal >= 0.5x raw.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import numpy as np

from engine.journal.backends import SqliteStore
from engine.journal.store import TABLE, JournalWriter
from journal_schema.events import BarClosed
from tools.bench._common import (
    STAT_HEADERS,
    WORK,
    ensure_dirs,
    events_main,
    fmt,
    rate,
    remove_journal,
    stat_row,
    summary,
    table,
    time_appends,
)

GOAL_RATIO = 0.5
SCALE = 10**8


def make_events(n: int, seed: int = 11) -> list[BarClosed]:
    """Synthetic minute bars (1e-8 units, ns timestamps), valid OHLC."""
    rng = np.random.Generator(np.random.PCG64(seed))
    close = np.maximum(np.rint(10_000 * np.exp(np.cumsum(rng.normal(0, 8e-4, n)))), 1).astype(np.int64)
    open_ = np.concatenate([[10_000], close[:-1]])
    high = (np.maximum(open_, close) + rng.integers(0, 5, n)) * (SCALE // 100)
    low = np.maximum(np.minimum(open_, close) - rng.integers(0, 5, n), 1) * (SCALE // 100)
    vol = rng.integers(100, 100_000, n) * SCALE
    t0 = 1_704_205_860 * 10**9  # 2024-01-02T14:31Z
    ts = t0 + np.arange(n, dtype=np.int64) * 60 * 10**9
    o, c = open_ * (SCALE // 100), close * (SCALE // 100)
    return [
        BarClosed(
            ts=int(ts[i]),
            symbol="SYN",
            open=int(o[i]),
            high=int(high[i]),
            low=int(low[i]),
            close=int(c[i]),
            volume=int(vol[i]),
        )
        for i in range(n)
    ]


def journal_pragmas(path: Path) -> tuple[int, str]:
    """``PRAGMA synchronous`` and ``journal_mode`` of the journal's own connection."""
    w = JournalWriter(path)
    store = w._store
    assert isinstance(store, SqliteStore)
    try:
        with store.recorder.datastore.transaction(commit=False) as c:
            c.execute("PRAGMA synchronous")
            sync = int(c.fetchone()[0])
            c.execute("PRAGMA journal_mode")
            mode = str(c.fetchone()[0])
    finally:
        w.close()
    return sync, mode


def time_journal(events: list[BarClosed], path: Path, batch: int) -> tuple[float, float]:
    """(total seconds, seconds inside flush())."""
    remove_journal(path)
    w = JournalWriter(path)
    try:
        return time_appends(w, events, batch)
    finally:
        w.close()


def stored_rows(path: Path) -> list[tuple[str, int, str, bytes]]:
    """(originator_id, seq, topic, state) of every record, exactly as the journal stored them."""
    con = sqlite3.connect(path)
    try:
        return con.execute(
            f"SELECT originator_id, originator_version, topic, state FROM {TABLE} ORDER BY rowid"
        ).fetchall()
    finally:
        con.close()


PLAIN_SCHEMA = (
    "CREATE TABLE events (seq INTEGER PRIMARY KEY, topic TEXT, state BLOB)",
    "INSERT INTO events VALUES (?,?,?)",
)
JOURNAL_SCHEMA = (
    "CREATE TABLE events (originator_id TEXT, originator_version INTEGER, topic TEXT, "
    "state BLOB, PRIMARY KEY (originator_id, originator_version))",
    "INSERT INTO events VALUES (?,?,?,?)",
)


def time_raw(
    rows: list[tuple[Any, ...]], path: Path, batch: int, synchronous: int, schema: tuple[str, str] = PLAIN_SCHEMA
) -> float:
    remove_journal(path)
    con = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute(f"PRAGMA synchronous={synchronous}")
    con.execute(schema[0])
    cur = con.cursor()
    stmt = schema[1]
    t0 = time.perf_counter()
    for i in range(0, len(rows), batch):
        cur.execute("BEGIN")
        cur.executemany(stmt, rows[i : i + batch])
        cur.execute("COMMIT")
    secs = time.perf_counter() - t0
    (count,) = con.execute("SELECT COUNT(*) FROM events").fetchone()
    con.close()
    assert count == len(rows)
    return secs


def measure(events: list[BarClosed], batch: int, repeat: int, sync: int) -> dict[str, Any]:
    n = len(events)
    jpath, rpath = WORK / "append_journal.db", WORK / "append_raw.db"
    time_journal(events, jpath, batch)  # warm-up, and the source of the baseline's bytes
    rows4 = stored_rows(jpath)
    assert len(rows4) == n
    rows3 = [(seq, topic, state) for _, seq, topic, state in rows4]
    time_raw(rows3[: batch * 2], rpath, batch, sync)  # warm-up
    j_times, f_times, r_times, s_times = [], [], [], []
    for _ in range(repeat):  # interleaved so machine drift affects every variant alike
        total, in_flush = time_journal(events, jpath, batch)
        j_times.append(total)
        f_times.append(in_flush)
        r_times.append(time_raw(rows3, rpath, batch, sync))
        s_times.append(time_raw(rows4, rpath, batch, sync, JOURNAL_SCHEMA))
    remove_journal(jpath)
    remove_journal(rpath)
    j, r, rs = summary(j_times), summary(r_times), summary(s_times)
    ratios = summary([rt / jt for jt, rt in zip(j_times, r_times, strict=True)])
    return {
        "batch": batch,
        "mean_state_bytes": round(sum(len(row[3]) for row in rows4) / n, 1),
        "journal": {
            "seconds": j,
            "events_per_s": rate(n, j),
            "flush_seconds": summary(f_times),
            "append_seconds": summary([a - b for a, b in zip(j_times, f_times, strict=True)]),
        },
        "raw_sqlite3": {"seconds": r, "events_per_s": rate(n, r)},
        "raw_sqlite3_journal_schema": {"seconds": rs, "events_per_s": rate(n, rs)},
        "ratio_journal_over_raw": ratios,  # per repetition: raw time / journal time
        "meets_goal": ratios["median"] >= GOAL_RATIO,
    }


def run(n_events: int = 200_000, batch: int = 4096, repeat: int = 5) -> dict[str, Any]:
    from engine.shell import DEFAULT_BATCH

    ensure_dirs()
    events = make_events(n_events)
    probe = WORK / "append_probe.db"
    remove_journal(probe)
    sync, mode = journal_pragmas(probe)
    remove_journal(probe)
    batches = [batch] + ([DEFAULT_BATCH] if batch != DEFAULT_BATCH else [])
    results = [measure(events, b, repeat, sync) for b in batches]
    return {
        "params": {
            "events": n_events,
            "batch": batch,
            "engine_default_batch": DEFAULT_BATCH,
            "repeat": repeat,
            "event_type": "BarClosed",
            "synchronous": sync,
            "journal_mode": mode,
        },
        **results[0],
        "goal_ratio": GOAL_RATIO,
        "other_batches": results[1:],
    }


SYNC_NAMES = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}


def _rows(res: dict[str, Any]) -> list[list[str]]:
    j = res["journal"]
    share = j["flush_seconds"]["median"] / j["seconds"]["median"]
    return [
        stat_row("journal (JournalWriter)", j["events_per_s"], "ev/s"),
        stat_row("raw sqlite3 executemany", res["raw_sqlite3"]["events_per_s"], "ev/s"),
        stat_row(
            "ratio journal/raw",
            res["ratio_journal_over_raw"],
            "x",
            f"goal >= {GOAL_RATIO}: {'met' if res['meets_goal'] else 'NOT met'}",
        ),
        stat_row(
            "raw sqlite3, journal schema", res["raw_sqlite3_journal_schema"]["events_per_s"], "ev/s", "attribution"
        ),
        stat_row("journal: time in append()", j["append_seconds"], "s", "attribution"),
        stat_row("journal: time in flush()", j["flush_seconds"], "s", f"{100 * share:.0f}% of journal time"),
    ]


def report(res: dict[str, Any]) -> str:
    p = res["params"]
    out = []
    for r in [res, *res["other_batches"]]:
        title = (
            f"bench_append: {fmt(p['events'])} BarClosed, flush every {r['batch']}, "
            f"synchronous={SYNC_NAMES.get(p['synchronous'], p['synchronous'])}, "
            f"journal_mode={p['journal_mode']}, {r['mean_state_bytes']} B/record"
        )
        if r is not res:
            title += " (engine's current default batch; secondary)"
        out.append(table(title, STAT_HEADERS, _rows(r)))
    return "\n\n".join(out)


def main(argv: list[str] | None = None) -> int:
    return events_main("bench_append", __doc__ or "", run, report, argv)


if __name__ == "__main__":
    raise SystemExit(main())
