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
import bisect
import math
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from engine.journal.store import JournalReader, JournalWriter, StoredRecord
from tools.bench import gen_minute_bars
from tools.bench._common import (
    ROOT,
    STAT_HEADERS,
    WORK,
    check_repeat,
    ensure_dirs,
    fmt,
    load_snapshot,
    rate,
    remove_journal,
    stat_row,
    summary,
    table,
    write_json,
)
from tools.bench.bench_append import make_events

GOAL_RATIO = 0.5
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"
GROUP = 10  # records per commit of the lag appender (default of --group)
POLL_S = 0.005
KEPT_UP_FINAL_LAG_S = 1.0
RATE_REACHED = 0.95  # achieved / target below this: the appender, not the worker, set the pace
EXIT_SKIP = 2

FULL = {"events": 200_000, "repeat": 5, "rates": "1000,5000", "seconds": 10.0}
QUICK = {"events": 20_000, "repeat": 3, "rates": "1000,5000", "seconds": 2.0}

Row = tuple[str, int, str, bytes]

RAW_DDL = ("CREATE TABLE {t} (originator_id text NOT NULL, originator_version bigint NOT NULL, topic text, "
           "state bytea, notification_id bigserial, PRIMARY KEY (originator_id, originator_version)) WITH ("
           "autovacuum_enabled = true, autovacuum_vacuum_threshold = 100000000, autovacuum_vacuum_scale_factor = 0.5, "
           "autovacuum_analyze_threshold = 1000, autovacuum_analyze_scale_factor = 0.01)",
           "CREATE UNIQUE INDEX {idx} ON {t} (notification_id ASC)")  # fmt: skip
INSERT = "INSERT INTO {t} (originator_id, originator_version, topic, state) VALUES (%s, %s, %s, %s)"
COPY = "COPY {t} (originator_id, originator_version, topic, state) FROM STDIN (FORMAT BINARY)"


# ------------------------------------------------------------------ database helpers
def connect(url: str) -> psycopg.Connection[Any]:
    return psycopg.connect(url, autocommit=True, connect_timeout=3)


def journal_url(url: str, table_name: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}table={table_name}"


_counter = iter(range(1, 10**9))


def fresh_name(kind: str) -> str:
    return f"bench_pg_{kind}_{os.getpid()}_{next(_counter)}"


def drop(url: str, name: str) -> None:
    """Drop a journal (or raw) table with what the migrations and the worker made next to it."""
    with connect(url) as conn:
        tables = [name, f"{name}_migrations", f"{name}_proj_orders", f"{name}_proj_positions", f"{name}_proj_position"]
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.SQL(", ").join(map(sql.Identifier, tables))))
        conn.execute(sql.SQL("DROP FUNCTION IF EXISTS {}() CASCADE").format(sql.Identifier(f"{name}_append_only")))


def server_info(url: str) -> dict[str, Any]:
    with connect(url) as conn:
        info: dict[str, Any] = {}
        for setting in ("server_version", "synchronous_commit", "fsync", "wal_level", "shared_buffers"):
            row = conn.execute(sql.SQL("SHOW {}").format(sql.Identifier(setting))).fetchone()
            info[setting] = row[0] if row else None
        return info


# ------------------------------------------------------------------ append
def time_journal(url: str, events: Sequence[Any], batch: int) -> tuple[float, float, str]:
    """(total seconds, seconds inside flush(), table name); the table is left for the caller to drop."""
    name = fresh_name("j")
    w = JournalWriter(journal_url(url, name))
    append, flush, perf = w.append, w.flush, time.perf_counter
    in_flush = 0.0
    t0 = perf()
    for ev in events:
        append((ev,))
        if w.staged >= batch:
            f0 = perf()
            flush()
            in_flush += perf() - f0
    f0 = perf()
    flush()
    t1 = perf()
    w.close()
    return t1 - t0, in_flush + (t1 - f0), name


def stored_rows(url: str, name: str) -> list[Row]:
    with connect(url) as conn:
        query = sql.SQL("SELECT originator_id, originator_version, topic, state FROM {} "
                        "ORDER BY originator_version").format(sql.Identifier(name))  # fmt: skip
        return [(str(a), int(b), str(c), bytes(d)) for a, b, c, d in conn.execute(query).fetchall()]


def _raw_table(conn: psycopg.Connection[Any], name: str) -> sql.Identifier:
    t = sql.Identifier(name)
    for ddl in RAW_DDL:
        conn.execute(sql.SQL(ddl).format(t=t, idx=sql.Identifier(f"{name}_notification_id_idx")))
    return t


def _count(conn: psycopg.Connection[Any], t: sql.Identifier) -> int:
    row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(t)).fetchone()
    return int(row[0]) if row else 0


def time_executemany(url: str, rows: list[Row], batch: int) -> float:
    name = fresh_name("m")
    try:
        with connect(url) as conn:
            t = _raw_table(conn, name)
            query = sql.SQL(INSERT).format(t=t)
            cur = conn.cursor()
            t0 = time.perf_counter()
            for i in range(0, len(rows), batch):
                with conn.transaction():
                    cur.executemany(query, rows[i:i + batch])
            secs = time.perf_counter() - t0
            assert _count(conn, t) == len(rows)
    finally:
        drop(url, name)
    return secs


def time_copy(url: str, rows: list[Row], batch: int) -> float:
    name = fresh_name("c")
    try:
        with connect(url) as conn:
            t = _raw_table(conn, name)
            query = sql.SQL(COPY).format(t=t)
            cur = conn.cursor()
            t0 = time.perf_counter()
            for i in range(0, len(rows), batch):
                with conn.transaction(), cur.copy(query) as cp:
                    cp.set_types(["text", "int8", "text", "bytea"])
                    for row in rows[i:i + batch]:
                        cp.write_row(row)
            secs = time.perf_counter() - t0
            assert _count(conn, t) == len(rows)
    finally:
        drop(url, name)
    return secs


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
        "journal": {"seconds": j, "events_per_s": rate(n_events, j), "flush_seconds": summary(f_times),
                    "append_seconds": summary([a - b for a, b in zip(j_times, f_times, strict=True)])},
        "raw_executemany": {"seconds": m, "events_per_s": rate(n_events, m)},
        "raw_copy": {"seconds": c, "events_per_s": rate(n_events, c)},
        "ratio_journal_over_executemany": over_m,  # per repetition: raw time / journal time
        "ratio_journal_over_copy": over_c,
        "goal_ratio": GOAL_RATIO,
        "meets_goal": over_m["median"] >= GOAL_RATIO,
    }


# ------------------------------------------------------------------ worker lag
def source_records(n_needed: int, bars: int | None) -> tuple[list[StoredRecord], dict[str, Any]]:
    """The records of a real run (SQLite journal of ``historical_run`` over generated minute bars)."""
    from engine.runner import historical_run
    from tools.bench.bench_run import _load_config

    n_bars = bars or (10_000 if n_needed <= 10_000 else 100_000 if n_needed <= 100_000 else n_needed)
    csv = gen_minute_bars.ensure(n_bars)
    cfg, snapshot = _load_config()
    path = WORK / "pg_lag_source.db"
    remove_journal(path)
    result = historical_run(cfg, snapshot, path, bars=csv)
    with JournalReader(path) as reader:
        records = list(reader.records())
    remove_journal(path)
    return records, {"bars": n_bars, "records": len(records), "digest": result.digest,
                     "counts": dict(result.counts)}


class Poller(threading.Thread):
    """Reads the worker's stored position every ``POLL_S`` seconds; keeps (time, last_seq) at each change."""

    def __init__(self, url: str, name: str, projection: str) -> None:
        super().__init__(daemon=True)
        self.conn = connect(url)
        self.query = sql.SQL("SELECT last_seq FROM {} WHERE name = %s").format(
            sql.Identifier(f"{name}_proj_position"))
        self.projection = projection
        self.times: list[float] = []
        self.seqs: list[int] = []
        self.polls = 0
        self.stop = threading.Event()

    def latest(self) -> int:
        return self.seqs[-1] if self.seqs else 0

    def run(self) -> None:
        nxt = time.perf_counter()
        while not self.stop.is_set():
            try:
                row = self.conn.execute(self.query, (self.projection,)).fetchone()
            except psycopg.errors.UndefinedTable:
                row = None
            t = time.perf_counter()
            self.polls += 1
            seq = int(row[0]) if row else 0
            if seq > self.latest():
                self.times.append(t)
                self.seqs.append(seq)
            nxt += POLL_S
            time.sleep(max(0.0, nxt - time.perf_counter()))
        self.conn.close()

    def seen_at(self, seq: int) -> float | None:
        i = bisect.bisect_left(self.seqs, seq)
        return self.times[i] if i < len(self.seqs) else None


def _cpu_s(pid: int) -> float:
    """utime + stime of a process, in seconds."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return math.nan
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _pct(values: Sequence[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, math.ceil(q * len(s)) - 1))]


def _start_worker(address: str, projection: str) -> tuple[subprocess.Popen[str], list[str]]:
    proc = subprocess.Popen([sys.executable, "-m", "engine.cli", "project", "--journal", address,
                             "--projection", projection], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    lines: list[str] = []
    ready = threading.Event()

    def pump() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line.rstrip())
            if "following" in line:
                ready.set()
        ready.set()

    threading.Thread(target=pump, daemon=True).start()
    if not ready.wait(30) or proc.poll() is not None:
        proc.kill()
        raise RuntimeError("projection worker did not start:\n" + "\n".join(lines))
    return proc, lines


def measure_lag(url: str, records: list[StoredRecord], target: float, seconds: float, group_size: int = GROUP,
                projection: str = "orders") -> dict[str, Any]:
    name = fresh_name("w")
    address = journal_url(url, name)
    n = min(len(records), int(target * seconds))
    groups = [records[i:i + group_size] for i in range(0, n, group_size)]
    writer = JournalWriter(address)  # makes the journal table the worker follows
    proc: subprocess.Popen[str] | None = None
    poller: Poller | None = None
    try:
        proc, stderr_lines = _start_worker(address, projection)
        poller = Poller(url, name, projection)
        poller.start()
        cpu0, own0 = _cpu_s(proc.pid), time.process_time()
        commits: list[tuple[float, int]] = []
        flush_s: list[float] = []
        late = 0
        interval = group_size / target
        perf = time.perf_counter
        t0 = perf()
        for k, group in enumerate(groups):
            if k and perf() - t0 >= seconds:  # an appender that falls behind stops at the window's end
                break
            due = t0 + k * interval
            wait = due - perf()
            if wait > 0:
                time.sleep(wait)
            elif wait < -interval:
                late += 1
            writer.append_stored(group)
            f0 = perf()
            writer.flush()
            t = perf()
            flush_s.append(t - f0)
            commits.append((t, group[-1].seq))
        t_end = perf()
        last = commits[-1][1]
        n = last
        deadline = t_end + max(30.0, 3 * seconds)
        while poller.latest() < last and perf() < deadline and proc.poll() is None:
            time.sleep(POLL_S)
        caught_up = poller.latest() >= last
        cpu1, own1 = _cpu_s(proc.pid), time.process_time()
        window = perf() - t0
    finally:
        if poller is not None:
            poller.stop.set()
            poller.join(5)
        stdout = ""
        if proc is not None:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            try:
                stdout, _ = proc.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                stdout, _ = proc.communicate()
        writer.close()
        drop(url, name)
    lags = []
    for t, seq in commits:
        seen = poller.seen_at(seq)
        if seen is not None:
            lags.append(seen - t)
    final_seen = poller.seen_at(last)
    final_lag = (final_seen - commits[-1][0]) if final_seen is not None else math.inf
    fifth = max(1, len(lags) // 5)
    append_s = t_end - t0
    return {
        "target_records_per_s": target,
        "records": n,
        "commits": len(commits),
        "group": group_size,
        "append_seconds": append_s,
        "achieved_records_per_s": n / append_s,
        "commits_late": late,
        "rate_reached": n / append_s >= RATE_REACHED * target,
        "flush_ms": {k: v * 1000 if k != "n" else v for k, v in summary(flush_s).items() if k != "values"},
        "lag_ms": {"median": 1000 * statistics.median(lags), "p95": 1000 * _pct(lags, 0.95),
                   "p99": 1000 * _pct(lags, 0.99), "max": 1000 * max(lags), "n": len(lags),
                   "first_fifth_median": 1000 * statistics.median(lags[:fifth]),
                   "last_fifth_median": 1000 * statistics.median(lags[-fifth:])} if lags else None,
        "final_lag_ms": 1000 * final_lag,
        "caught_up": caught_up,
        "kept_up": caught_up and final_lag <= KEPT_UP_FINAL_LAG_S,
        "worker_position_updates": len(poller.seqs),
        "polls": poller.polls,
        "worker_cpu_s": cpu1 - cpu0,
        "worker_cpu_share": (cpu1 - cpu0) / window,
        "bench_process_cpu_s": own1 - own0,
        "worker_exit_code": proc.returncode if proc is not None else None,
        "worker_stdout": stdout.strip(),
        "worker_stderr": stderr_lines,
    }


# ------------------------------------------------------------------ driver
def run(url: str, n_events: int, batch: int, repeat: int, rates: list[float], seconds: float,
        bars: int | None, group_size: int = GROUP) -> dict[str, Any]:
    ensure_dirs()
    from engine.workers import DEFAULT_BATCH, DEFAULT_POLL_SECONDS

    append = measure_append(url, n_events, batch, repeat)
    needed = int(max(rates) * seconds)
    records, source = source_records(needed, bars)
    lag = [measure_lag(url, records, r, seconds, group_size) for r in rates]
    return {
        "params": {"url": url, "events": n_events, "batch": batch, "repeat": repeat, "event_type": "BarClosed",
                   "rates": rates, "seconds": seconds, "lag_group": group_size, "poll_s": POLL_S,
                   "worker_batch": DEFAULT_BATCH, "worker_poll_seconds": DEFAULT_POLL_SECONDS,
                   "projection": "orders"},
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
        stat_row("ratio journal/executemany", a["ratio_journal_over_executemany"], "x",
                 f"goal >= {GOAL_RATIO}: {'met' if a['meets_goal'] else 'NOT met'}"),
        stat_row("ratio journal/COPY", a["ratio_journal_over_copy"], "x"),
        stat_row("journal: time in append()", j["append_seconds"], "s", "attribution"),
        stat_row("journal: time in flush()", j["flush_seconds"], "s", f"{100 * share:.0f}% of journal time"),
    ]
    out = [table(f"bench_pg append: {fmt(a['events'])} BarClosed, flush every {a['batch']}, "
                 f"{a['mean_state_bytes']} B/record, PostgreSQL {s['server_version']}, "
                 f"synchronous_commit={s['synchronous_commit']}", STAT_HEADERS, rows)]  # fmt: skip
    lag_rows = []
    for r in res["lag"]:
        lm = r["lag_ms"] or {}
        lag_rows.append([fmt(r["target_records_per_s"]), fmt(r["achieved_records_per_s"]), fmt(r["records"]),
                         fmt(lm.get("median", math.nan)), fmt(lm.get("p95", math.nan)), fmt(lm.get("max", math.nan)),
                         fmt(r["final_lag_ms"]), f"{100 * r['worker_cpu_share']:.0f}%",
                         "yes" if r["kept_up"] else "NO",
                         f"{fmt(r['flush_ms']['median'])} ms" + ("" if r["rate_reached"] else "; rate NOT reached")])
    src = res["lag_source"]
    out.append(table(f"bench_pg worker lag: projection {p['projection']}, records of a {fmt(src['bars'])}-bar run "
                     f"appended in commits of {p['lag_group']}, {p['seconds']:g} s per rate; lag in ms "
                     f"(position polled every {1000 * p['poll_s']:g} ms)",
                     ("rate target", "achieved", "records", "lag median", "p95", "max", "final", "worker CPU",
                      "kept up", "commit (flush)"), lag_rows))  # fmt: skip
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
    ap.add_argument("--url", default=os.environ.get("BENCH_PG_URL", DEFAULT_URL),
                    help=f"server and database, without ?table= (default: $BENCH_PG_URL or {DEFAULT_URL})")
    ap.add_argument("--events", type=int,
                    help=f"appended events (default {FULL['events']:,}; quick {QUICK['events']:,})")
    ap.add_argument("--batch", type=int, default=4096)
    ap.add_argument("--repeat", type=int,
                    help=f"append repetitions (default {FULL['repeat']}; quick {QUICK['repeat']})")
    ap.add_argument("--rates", help=f"records/s of the lag runs, comma-separated (default {FULL['rates']})")
    ap.add_argument("--seconds", type=float, help=f"seconds per lag rate (default {FULL['seconds']:g}; "
                                                  f"quick {QUICK['seconds']:g})")  # fmt: skip
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
    res = {**run(args.url, events, args.batch, check_repeat(repeat), rates, seconds, args.bars,
               args.group),
           "quick": args.quick, "load_start": start}
    print(report(res))
    print(f"-> {write_json('bench_pg', res)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
