"""The projection-worker lag part of ``bench_pg`` (its module docstring describes the method)."""

from __future__ import annotations

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
    WORK,
    remove_journal,
    summary,
)
from tools.bench.pg_common import connect, drop, fresh_name, journal_url

GROUP = 10  # records per commit of the lag appender (default of --group)
POLL_S = 0.005
KEPT_UP_FINAL_LAG_S = 1.0
RATE_REACHED = 0.95  # achieved / target below this: the appender, not the worker, set the pace


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
    return records, {"bars": n_bars, "records": len(records), "digest": result.digest, "counts": dict(result.counts)}


class Poller(threading.Thread):
    """Reads the worker's stored position every ``POLL_S`` seconds; keeps (time, last_seq) at each change."""

    def __init__(self, url: str, name: str, projection: str) -> None:
        super().__init__(daemon=True)
        self.conn = connect(url)
        self.query = sql.SQL("SELECT last_seq FROM {} WHERE name = %s").format(sql.Identifier(f"{name}_proj_position"))
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
    proc = subprocess.Popen(
        [sys.executable, "-m", "engine.cli", "project", "--journal", address, "--projection", projection],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
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


def measure_lag(
    url: str,
    records: list[StoredRecord],
    target: float,
    seconds: float,
    group_size: int = GROUP,
    projection: str = "orders",
) -> dict[str, Any]:
    name = fresh_name("w")
    address = journal_url(url, name)
    n = min(len(records), int(target * seconds))
    groups = [records[i : i + group_size] for i in range(0, n, group_size)]
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
        "lag_ms": {
            "median": 1000 * statistics.median(lags),
            "p95": 1000 * _pct(lags, 0.95),
            "p99": 1000 * _pct(lags, 0.99),
            "max": 1000 * max(lags),
            "n": len(lags),
            "first_fifth_median": 1000 * statistics.median(lags[:fifth]),
            "last_fifth_median": 1000 * statistics.median(lags[-fifth:]),
        }
        if lags
        else None,
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
