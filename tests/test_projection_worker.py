"""Projection workers (``engine project``) on a real PostgreSQL server: the stored rows equal a fresh
in-process fold, also after the worker is killed with SIGKILL again and again while another process
appends; a lost notification does not stall it; LISTEN wakes it without waiting for the poll.

Needs the server at 127.0.0.1:5432 (trust auth, database ``test``); without it every test here is
skipped with that reason, never passed."""

from __future__ import annotations

import functools
import itertools
import math
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest

from engine.cli import main
from engine.config import load
from engine.journal import JournalReader, JournalWriter
from engine.runner import historical_run
from projections import OrderRow, PositionRow, build
from tests.stores import DB, HOST, PORT, needs_pg
from tests.test_pg_journal import bars, small_cfg

pytestmark = needs_pg
_names = itertools.count(1)
SUFFIXES = ("", "_proj_orders", "_proj_positions", "_proj_position", "_migrations", "_proj_tca", "_inbox", "_settings")


def _db() -> psycopg.Connection[Any]:
    return psycopg.connect(host=HOST, port=PORT, user="postgres", dbname=DB, autocommit=True)


def _address(table: str) -> str:
    return f"postgresql://postgres@{HOST}:{PORT}/{DB}?table={table}"


@contextmanager
def table_maker() -> Iterator[Callable[[], str]]:
    """Fresh journal table names (as addresses); each table and its projection tables are dropped afterwards."""
    made: list[str] = []

    def fresh() -> str:
        made.append(f"t_worker_{os.getpid()}_{next(_names)}")
        return _address(made[-1])

    yield fresh
    with _db() as conn:
        for table in made:
            for suffix in SUFFIXES:
                conn.execute(f"DROP TABLE IF EXISTS {table}{suffix}")
            conn.execute(f"DROP FUNCTION IF EXISTS {table}_append_only")


@pytest.fixture
def tables() -> Iterator[Callable[[], str]]:
    with table_maker() as fresh:
        yield fresh


def _table(address: str) -> str:
    return address.rsplit("=", 1)[1]


def _int(v: object) -> Any:
    return int(v) if isinstance(v, Decimal) else v


def stored(address: str) -> tuple[int, int, list[OrderRow], list[PositionRow]]:
    """(orders position, positions position, order rows in request order, position rows by symbol)."""
    t = _table(address)
    pos: dict[str, int] = {}
    orders: list[OrderRow] = []
    positions: list[PositionRow] = []
    with _db() as conn:  # a table is missing until a worker has got as far as creating it
        if _exists(f"{t}{SUFFIXES[3]}"):
            pos = dict(conn.execute(f"SELECT name, last_seq FROM {t}_proj_position").fetchall())
        if _exists(f"{t}_proj_orders"):
            orders = [
                OrderRow(*map(_int, r[1:])) for r in conn.execute(f"SELECT * FROM {t}_proj_orders ORDER BY row_no")
            ]
        if _exists(f"{t}_proj_positions"):
            positions = [
                PositionRow(*map(_int, r)) for r in conn.execute(f"SELECT * FROM {t}_proj_positions ORDER BY symbol")
            ]
    return pos.get("orders", 0), pos.get("positions", 0), orders, positions


def wide_bars(tmp_path: Path, minutes: int = 380) -> Path:
    """Two symbols oscillating through one session: dozens of orders and fills."""
    lines = ["timestamp,symbol,open,high,low,close,volume\n"]
    for m in range(minutes):
        for k, sym in enumerate(("AAPL", "MSFT")):
            p = 20 + 5 * k + round(4 * math.sin((m + 3 * k) / 3))
            hh, mm = divmod(14 * 60 + 30 + m, 60)
            lines.append(f"2024-01-02T{hh:02d}:{mm:02d}:00Z,{sym},{p},{p + 1},{p - 1},{p},100\n")
    csv = tmp_path / "wide.csv"
    csv.write_text("".join(lines))
    return csv


def worker(address: str, projection: str, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "engine.cli", "project", "--journal", address, "--projection", projection, *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def kill_at_a_random_moment(proc: subprocess.Popen[str], rng: random.Random) -> None:
    """SIGKILL a worker during its start-up re-fold (a quarter of the time) or once it has resumed, while it
    catches up or follows."""
    if rng.random() < 0.25:
        time.sleep(rng.uniform(0.1, 1.0))
    else:
        assert proc.stderr is not None and "resumed at seq" in proc.stderr.readline()
        time.sleep(rng.uniform(0.0, 0.6))
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def wait_until(what: str, check: Callable[[], bool], timeout: float = 120.0) -> float:
    """Seconds until ``check`` holds; ``timeout`` is a liveness bound for a loaded machine, not a pace."""
    t0 = time.monotonic()
    while not check():
        assert time.monotonic() - t0 < timeout, f"timed out waiting for {what}"
        time.sleep(0.02)
    return time.monotonic() - t0


def backend_gone(pid: int) -> bool:
    with _db() as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE %s", (f"engine project % pid {pid} %",)
        ).fetchone()
    return row is not None and row[0] == 0


def test_once_stores_exactly_the_rows_of_a_fresh_fold(
    tables: Callable[[], str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = tables()
    cfg, snap = small_cfg(tmp_path)
    run = historical_run(cfg, snap, url, wide_bars(tmp_path, 120))  # type: ignore[arg-type]
    for projection in ("orders", "positions"):
        assert main(["project", "--journal", url, "--projection", projection, "--once"]) == 0
    out = capsys.readouterr().out
    assert f"orders: position {run.last_seq} (journal head {run.last_seq}); {run.last_seq} record(s) folded" in out
    fresh = build(url)
    assert stored(url) == (run.last_seq, run.last_seq, fresh.orders, fresh.positions)
    assert len(fresh.orders) >= 5 and len(fresh.positions) == 2
    # a second --once finds nothing to do and changes nothing
    assert main(["project", "--journal", url, "--projection", "orders", "--once"]) == 0
    assert "0 record(s) folded in 0 transaction(s), 0 row(s) written" in capsys.readouterr().out
    assert stored(url)[2] == fresh.orders


APPENDER = """
import sys, time
from engine.journal import JournalReader, JournalWriter
src, dst, chunk, pause = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
with JournalReader(src) as r:
    recs = list(r.records())
with JournalWriter(dst) as w:
    for i in range(0, len(recs), chunk):
        w.append_stored(recs[i:i + chunk])
        w.flush()
        time.sleep(pause)
"""


def test_workers_killed_again_and_again_while_another_process_appends_end_equal_to_a_fresh_fold(
    tables: Callable[[], str], tmp_path: Path
) -> None:
    source, url = tables(), tables()
    cfg, snap = small_cfg(tmp_path)
    head = historical_run(cfg, snap, source, wide_bars(tmp_path)).last_seq  # type: ignore[arg-type]
    appender = subprocess.Popen([sys.executable, "-c", APPENDER, source, url, "10", "0.04"])
    wait_until("the journal table", lambda: _exists(_table(url)))
    rng, kills, seen = random.Random(6), 0, []
    try:
        while appender.poll() is None or kills < 4:
            procs = {p: worker(url, p, "--poll-seconds", "0.2", "--batch", "7") for p in ("orders", "positions")}
            for proc in procs.values():
                kill_at_a_random_moment(proc, rng)
                kills += 1
            seen.append(stored(url)[:2])
            for proc in procs.values():
                wait_until("the killed worker's backend to go", functools.partial(backend_gone, proc.pid))
    finally:
        appender.wait(timeout=30)
    assert appender.returncode == 0
    # the kills landed mid-way: some committed work survived them, some was still to do
    assert any(0 < o < head or 0 < p < head for o, p in seen), seen
    final = {p: worker(url, p, "--poll-seconds", "0.2", "--batch", "7") for p in ("orders", "positions")}
    for proc in final.values():  # up, its signal handlers installed
        assert proc.stderr is not None and "resumed at seq" in proc.stderr.readline()
    wait_until("the restarted workers to reach the head", lambda: stored(url)[:2] == (head, head))
    for proc in final.values():
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
        assert proc.returncode == 0, err
        assert f"position {head} (journal head {head})" in out
    fresh = build(url)
    assert stored(url) == (head, head, fresh.orders, fresh.positions)
    assert fresh.orders == build(source).orders and len(fresh.orders) >= 20


def _exists(table: str) -> bool:
    with _db() as conn:
        row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()
    return bool(row and row[0])


def _split_journal(tables: Callable[[], str], tmp_path: Path) -> tuple[str, str, list[tuple[int, str, bytes]]]:
    """A finished run's journal and a second journal holding its first half (the rest returned as rows)."""
    source, url = tables(), tables()
    cfg, snap = small_cfg(tmp_path)
    historical_run(cfg, snap, source, bars(tmp_path))  # type: ignore[arg-type]
    with JournalReader(source) as r:
        recs = list(r.records())
    half = len(recs) // 2
    with JournalWriter(url) as w:
        w.append_stored(recs[:half])
    return source, url, [(rec.seq, rec.topic, rec.state) for rec in recs[half:]]


def test_a_lost_notification_does_not_stall_the_worker(tables: Callable[[], str], tmp_path: Path) -> None:
    source, url, rest = _split_journal(tables, tmp_path)
    proc = worker(url, "orders", "--poll-seconds", "0.3")
    try:
        wait_until("the first half", lambda: stored(url)[0] == rest[0][0] - 1)
        with _db() as conn:  # rows appended behind the journal's back: no NOTIFY at all
            conn.cursor().executemany(
                f"INSERT INTO {_table(url)} (originator_id, originator_version, topic, state) "
                "VALUES ('journal', %s, %s, %s)",
                rest,
            )
        wait_until("the poll to pick up the rows", lambda: stored(url)[0] == rest[-1][0])
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=10)
    assert proc.returncode == 0  # the poll picked the rows up (wait_until would have failed otherwise)
    assert stored(url)[2] == build(source).orders


def test_a_notification_wakes_the_worker_long_before_its_poll(tables: Callable[[], str], tmp_path: Path) -> None:
    source, url, rest = _split_journal(tables, tmp_path)
    proc = worker(url, "orders", "--poll-seconds", "1200")  # so only a NOTIFY can wake it in time
    try:
        wait_until("the first half", lambda: stored(url)[0] == rest[0][0] - 1)
        time.sleep(0.3)  # the worker is now waiting on LISTEN
        with JournalReader(source) as r, JournalWriter(url) as w:
            w.append_stored(list(r.records(rest[0][0])))  # commits with NOTIFY
        lag = wait_until("the notified worker", lambda: stored(url)[0] == rest[-1][0], timeout=600)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=10)
        stopped_in = time.monotonic() - t0
    finally:
        proc.kill()
    # both far below the 1200 s poll: the NOTIFY woke it, and SIGTERM ended its wait
    assert proc.returncode == 0 and lag < 600 and stopped_in < 600


def test_a_replaced_journal_is_refused_and_deleting_the_position_rebuilds(
    tables: Callable[[], str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = tables()
    cfg, snap = small_cfg(tmp_path)
    historical_run(cfg, snap, url, wide_bars(tmp_path, 120))  # type: ignore[arg-type]
    assert main(["project", "--journal", url, "--projection", "orders", "--once"]) == 0
    other = tmp_path / "other.toml"
    other.write_text('[strategy]\nfast = 3\nslow = 7\nqty = 10\n[risk.policy]\nmin_liquidity_score = "0"\n')
    cfg2, snap2 = load(other)
    head = historical_run(cfg2, snap2, url, bars(tmp_path), replace=True).last_seq
    capsys.readouterr()
    assert main(["project", "--journal", url, "--projection", "orders", "--once"]) == 2
    err = capsys.readouterr().err
    assert "the journal was replaced; to rebuild it from seq 1, DELETE FROM" in err and err.count("\n") == 1, err
    with _db() as conn:
        conn.execute(f"DELETE FROM {_table(url)}_proj_position WHERE name = 'orders'")
    assert main(["project", "--journal", url, "--projection", "orders", "--once"]) == 0
    assert stored(url)[0] == head and stored(url)[2] == build(url).orders


def test_one_worker_per_projection_and_one_line_errors(
    tables: Callable[[], str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, url, _ = _split_journal(tables, tmp_path)
    proc = worker(url, "orders", "--poll-seconds", "0.2")
    try:
        wait_until("the first worker", lambda: stored(url)[0] > 0)
        assert main(["project", "--journal", url, "--projection", "orders", "--once"]) == 2
        assert "is already kept by backend pid" in capsys.readouterr().err
        assert main(["project", "--journal", url, "--projection", "positions", "--once"]) == 0  # another projection
        capsys.readouterr()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=10)
    cases = [
        (["--journal", "j.db", "--projection", "orders"], "projection workers need a postgresql:// journal"),
        (["--journal", _address("t_worker_absent"), "--projection", "orders"], "is not a journal"),
        (["--journal", _address("t" * 49), "--projection", "orders"], "is too long for its projection tables"),
        (["--journal", url, "--projection", "orders", "--poll-seconds", "0"], "--poll-seconds must be > 0"),
    ]
    for argv, message in cases:
        assert main(["project", *argv, "--once"]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err
