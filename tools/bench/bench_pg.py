"""Postgres journal: append throughput against raw psycopg, and projection-worker lag, same run.

    python -m tools.bench.bench_pg [--url postgresql://postgres@127.0.0.1:5432/test] [--events 200000]
        [--batch 4096] [--repeat 5] [--rates 1000,5000] [--seconds 10] [--group 10] [--bars N] [--quick]

**Append** (goal: journal >= 0.5x raw ``executemany``):

* **journal**: a fresh ``JournalWriter`` on ``<url>?table=<fresh>`` (table made by the journal's
  migrations; opening/closing excluded); one ``append((event,))`` per BarClosed (the payloads of
  ``bench_append``) and a ``flush()`` whenever ``--batch`` records are staged, then a final flush.
  Each flush is one transaction: ``SELECT MAX`` (the density check), ``executemany`` of the rows,
  ``NOTIFY``, commit.
* **raw executemany**: the *same stored rows* ``(originator_id, originator_version, topic, state)``
  (read back from a journal written before the timing) inserted by a plain psycopg connection with
  ``cursor.executemany`` of a one-row ``INSERT``, one transaction per ``--batch`` rows, into a table
  identical to the journal's (same columns, primary key, ``notification_id`` bigserial and its unique
  index, same storage options) but without the append-only triggers.
* **raw COPY**: the same rows into the same kind of table with ``COPY ... FROM STDIN (FORMAT BINARY)``,
  one ``COPY`` and one transaction per ``--batch`` rows.

Variants are interleaved within each repetition; every repetition uses fresh tables, dropped
afterwards (with the journal's ``<table>_migrations`` and ``<table>_append_only()``).

**Worker lag**: the records of a real run (``historical_run``, SMA 10/30 as ``bench_run``, over the
generated minute bars, into a SQLite journal) re-appended to a fresh Postgres journal with
``JournalWriter.append_stored`` + ``flush()`` in groups of ``--group`` (10) records on a fixed
schedule (group k is due at ``k * group / rate`` s), for ``--seconds`` per rate (an appender that
falls behind its schedule stops at the end of the window; the achieved rate is reported), while
``python -m engine.cli project --projection orders`` follows it in a child process. A thread of this
process polls ``<table>_proj_position.last_seq`` every 5 ms on its own connection. Lag of a commit =
the first poll that sees ``last_seq >=`` the commit's last seq (time at the poll's return, so up to
one poll interval plus one query is included) minus the time ``flush()`` returned. "Final lag" is
that lag for the last commit; the worker kept up when it reached the last commit within 1 s of it.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from psycopg import sql

from engine.journal.store import JournalWriter
from tools.bench._common import (
    STAT_HEADERS,
    check_repeat,
    ensure_dirs,
    fmt,
    load_snapshot,
    rate,
    stat_row,
    summary,
    table,
    time_appends,
    write_json,
)
from tools.bench.bench_append import make_events
from tools.bench.pg_common import Row, connect, drop, fresh_name, journal_url, server_info
from tools.bench.pg_lag import GROUP, POLL_S, measure_lag, source_records

GOAL_RATIO = 0.5
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"
EXIT_SKIP = 2

FULL: dict[str, Any] = {"events": 200_000, "repeat": 5, "rates": "1000,5000", "seconds": 10.0}
QUICK: dict[str, Any] = {"events": 20_000, "repeat": 3, "rates": "1000,5000", "seconds": 2.0}

RAW_DDL = (
    "CREATE TABLE {t} (originator_id text NOT NULL, originator_version bigint NOT NULL, topic text, "
    "state bytea, notification_id bigserial, PRIMARY KEY (originator_id, originator_version)) WITH ("
    "autovacuum_enabled = true, autovacuum_vacuum_threshold = 100000000, autovacuum_vacuum_scale_factor = 0.5, "
    "autovacuum_analyze_threshold = 1000, autovacuum_analyze_scale_factor = 0.01)",
    "CREATE UNIQUE INDEX {idx} ON {t} (notification_id ASC)",
)
INSERT = "INSERT INTO {t} (originator_id, originator_version, topic, state) VALUES (%s, %s, %s, %s)"
COPY = "COPY {t} (originator_id, originator_version, topic, state) FROM STDIN (FORMAT BINARY)"


# ------------------------------------------------------------------ append
def time_journal(url: str, events: Sequence[Any], batch: int) -> tuple[float, float, str]:
    """(total seconds, seconds inside flush(), table name); the table is left for the caller to drop."""
    name = fresh_name("j")
    w = JournalWriter(journal_url(url, name))
    try:
        total, in_flush = time_appends(w, events, batch)
    finally:
        w.close()
    return total, in_flush, name


def stored_rows(url: str, name: str) -> list[Row]:
    with connect(url) as conn:
        query = sql.SQL(
            "SELECT originator_id, originator_version, topic, state FROM {} ORDER BY originator_version"
        ).format(sql.Identifier(name))
        return [(str(a), int(b), str(c), bytes(d)) for a, b, c, d in conn.execute(query).fetchall()]


def _raw_table(conn: psycopg.Connection[Any], name: str) -> sql.Identifier:
    t = sql.Identifier(name)
    for ddl in RAW_DDL:
        conn.execute(sql.SQL(ddl).format(t=t, idx=sql.Identifier(f"{name}_notification_id_idx")))
    return t


def _count(conn: psycopg.Connection[Any], t: sql.Identifier) -> int:
    row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(t)).fetchone()
    return int(row[0]) if row else 0


def _time_raw(
    url: str,
    rows: list[Row],
    batch: int,
    kind: str,
    write: Callable[[psycopg.Cursor[Any], sql.Identifier, list[Row]], None],
) -> float:
    """Seconds to write ``rows`` into a fresh plain table, one transaction per ``batch`` rows."""
    name = fresh_name(kind)
    try:
        with connect(url) as conn:
            t = _raw_table(conn, name)
            cur = conn.cursor()
            t0 = time.perf_counter()
            for i in range(0, len(rows), batch):
                with conn.transaction():
                    write(cur, t, rows[i : i + batch])
            secs = time.perf_counter() - t0
            assert _count(conn, t) == len(rows)
    finally:
        drop(url, name)
    return secs


def _executemany(cur: psycopg.Cursor[Any], t: sql.Identifier, rows: list[Row]) -> None:
    cur.executemany(sql.SQL(INSERT).format(t=t), rows)


def _copy(cur: psycopg.Cursor[Any], t: sql.Identifier, rows: list[Row]) -> None:
    with cur.copy(sql.SQL(COPY).format(t=t)) as cp:
        cp.set_types(["text", "int8", "text", "bytea"])
        for row in rows:
            cp.write_row(row)


def time_executemany(url: str, rows: list[Row], batch: int) -> float:
    return _time_raw(url, rows, batch, "m", _executemany)


def time_copy(url: str, rows: list[Row], batch: int) -> float:
    return _time_raw(url, rows, batch, "c", _copy)


def measure_append(url: str, n_events: int, batch: int, repeat: int) -> dict[str, Any]:
    events = make_events(n_events)
    _, _, warm = time_journal(url, events, batch)  # warm-up, and the source of the baseline's rows
    try:
        rows = stored_rows(url, warm)
    finally:
        drop(url, warm)
    assert len(rows) == n_events
    time_executemany(url, rows[: batch * 2], batch)  # warm-up
    time_copy(url, rows[: batch * 2], batch)
    j_times, f_times, m_times, c_times = [], [], [], []
    for _ in range(repeat):  # interleaved so machine drift affects every variant alike
        total, in_flush, name = time_journal(url, events, batch)
        drop(url, name)
        j_times.append(total)
        f_times.append(in_flush)
        m_times.append(time_executemany(url, rows, batch))
        c_times.append(time_copy(url, rows, batch))
    j, m, c = summary(j_times), summary(m_times), summary(c_times)
    over_m = summary([mt / jt for jt, mt in zip(j_times, m_times, strict=True)])
    over_c = summary([ct / jt for jt, ct in zip(j_times, c_times, strict=True)])
    return {
        "events": n_events,
        "batch": batch,
        "mean_state_bytes": round(sum(len(r[3]) for r in rows) / n_events, 1),
        "journal": {
            "seconds": j,
            "events_per_s": rate(n_events, j),
            "flush_seconds": summary(f_times),
            "append_seconds": summary([a - b for a, b in zip(j_times, f_times, strict=True)]),
        },
        "raw_executemany": {"seconds": m, "events_per_s": rate(n_events, m)},
        "raw_copy": {"seconds": c, "events_per_s": rate(n_events, c)},
        "ratio_journal_over_executemany": over_m,  # per repetition: raw time / journal time
        "ratio_journal_over_copy": over_c,
        "goal_ratio": GOAL_RATIO,
        "meets_goal": over_m["median"] >= GOAL_RATIO,
    }


# ------------------------------------------------------------------ driver
def run(
    url: str,
    n_events: int,
    batch: int,
    repeat: int,
    rates: list[float],
    seconds: float,
    bars: int | None,
    group_size: int = GROUP,
) -> dict[str, Any]:
    ensure_dirs()
    from engine.workers import DEFAULT_BATCH, DEFAULT_POLL_SECONDS

    append = measure_append(url, n_events, batch, repeat)
    needed = int(max(rates) * seconds)
    records, source = source_records(needed, bars)
    lag = [measure_lag(url, records, r, seconds, group_size) for r in rates]
    return {
        "params": {
            "url": url,
            "events": n_events,
            "batch": batch,
            "repeat": repeat,
            "event_type": "BarClosed",
            "rates": rates,
            "seconds": seconds,
            "lag_group": group_size,
            "poll_s": POLL_S,
            "worker_batch": DEFAULT_BATCH,
            "worker_poll_seconds": DEFAULT_POLL_SECONDS,
            "projection": "orders",
        },
        "server": server_info(url),
        "append": append,
        "lag_source": source,
        "lag": lag,
    }


def report(res: dict[str, Any]) -> str:
    a, p, s = res["append"], res["params"], res["server"]
    j = a["journal"]
    share = j["flush_seconds"]["median"] / j["seconds"]["median"]
    rows = [
        stat_row("journal (JournalWriter)", j["events_per_s"], "ev/s"),
        stat_row("raw psycopg executemany", a["raw_executemany"]["events_per_s"], "ev/s"),
        stat_row("raw psycopg COPY (binary)", a["raw_copy"]["events_per_s"], "ev/s"),
        stat_row(
            "ratio journal/executemany",
            a["ratio_journal_over_executemany"],
            "x",
            f"goal >= {GOAL_RATIO}: {'met' if a['meets_goal'] else 'NOT met'}",
        ),
        stat_row("ratio journal/COPY", a["ratio_journal_over_copy"], "x"),
        stat_row("journal: time in append()", j["append_seconds"], "s", "attribution"),
        stat_row("journal: time in flush()", j["flush_seconds"], "s", f"{100 * share:.0f}% of journal time"),
    ]
    out = [
        table(
            f"bench_pg append: {fmt(a['events'])} BarClosed, flush every {a['batch']}, "
            f"{a['mean_state_bytes']} B/record, PostgreSQL {s['server_version']}, "
            f"synchronous_commit={s['synchronous_commit']}",
            STAT_HEADERS,
            rows,
        )
    ]
    lag_rows = []
    for r in res["lag"]:
        lm = r["lag_ms"] or {}
        lag_rows.append(
            [
                fmt(r["target_records_per_s"]),
                fmt(r["achieved_records_per_s"]),
                fmt(r["records"]),
                fmt(lm.get("median", math.nan)),
                fmt(lm.get("p95", math.nan)),
                fmt(lm.get("max", math.nan)),
                fmt(r["final_lag_ms"]),
                f"{100 * r['worker_cpu_share']:.0f}%",
                "yes" if r["kept_up"] else "NO",
                f"{fmt(r['flush_ms']['median'])} ms" + ("" if r["rate_reached"] else "; rate NOT reached"),
            ]
        )
    src = res["lag_source"]
    out.append(
        table(
            f"bench_pg worker lag: projection {p['projection']}, records of a {fmt(src['bars'])}-bar run "
            f"appended in commits of {p['lag_group']}, {p['seconds']:g} s per rate; lag in ms "
            f"(position polled every {1000 * p['poll_s']:g} ms)",
            (
                "rate target",
                "achieved",
                "records",
                "lag median",
                "p95",
                "max",
                "final",
                "worker CPU",
                "kept up",
                "commit (flush)",
            ),
            lag_rows,
        )
    )
    return "\n\n".join(out)


def _reachable(url: str) -> str | None:
    try:
        with connect(url) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.bench.bench_pg", description=__doc__.split("\n")[0])
    ap.add_argument(
        "--url",
        default=os.environ.get("BENCH_PG_URL", DEFAULT_URL),
        help=f"server and database, without ?table= (default: $BENCH_PG_URL or {DEFAULT_URL})",
    )
    ap.add_argument(
        "--events", type=int, help=f"appended events (default {FULL['events']:,}; quick {QUICK['events']:,})"
    )
    ap.add_argument("--batch", type=int, default=4096)
    ap.add_argument(
        "--repeat", type=int, help=f"append repetitions (default {FULL['repeat']}; quick {QUICK['repeat']})"
    )
    ap.add_argument("--rates", help=f"records/s of the lag runs, comma-separated (default {FULL['rates']})")
    ap.add_argument(
        "--seconds", type=float, help=f"seconds per lag rate (default {FULL['seconds']:g}; quick {QUICK['seconds']:g})"
    )
    ap.add_argument("--group", type=int, default=GROUP, help=f"records per commit of the lag runs (default {GROUP})")
    ap.add_argument("--bars", type=int, help="bars of the run whose records the lag runs append (default: enough)")
    ap.add_argument("--quick", action="store_true", help="small defaults for a smoke run")
    args = ap.parse_args(argv)
    base = QUICK if args.quick else FULL
    events = args.events or int(base["events"])
    repeat = args.repeat or int(base["repeat"])
    rates = [float(x) for x in str(args.rates or base["rates"]).split(",") if x.strip()]
    seconds = args.seconds or float(base["seconds"])
    problem = _reachable(args.url)
    if problem is not None:
        print(f"bench_pg: skipped: PostgreSQL at {args.url} is unreachable ({problem})", file=sys.stderr)
        return EXIT_SKIP
    start = load_snapshot()
    res = {
        **run(args.url, events, args.batch, check_repeat(repeat), rates, seconds, args.bars, args.group),
        "quick": args.quick,
        "load_start": start,
    }
    print(report(res))
    print(f"-> {write_json('bench_pg', res)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
