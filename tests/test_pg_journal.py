"""The journal on a real PostgreSQL server: the same records and chain digest as on SQLite, verify and
replay on it, one writer at a time (also after ``kill -9``), append-only, clear errors.

Needs the server at 127.0.0.1:5432 (trust auth, database ``test``); without it every test here is
skipped with that reason, never passed."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from engine.cli import main
from engine.config import load
from engine.journal import JournalError, JournalLockedError, JournalReader, JournalWriter
from engine.runner import historical_run
from journal_schema.events import SessionClosed
from tests.stores import DB, HOST, PORT, fresh_table, needs_pg, pg_url

pytestmark = needs_pg


@pytest.fixture
def url() -> Iterator[str]:
    """A fresh journal table, dropped afterwards with what its migrations made."""
    with fresh_table() as table:
        yield pg_url(table)


def bars(tmp_path: Path) -> Path:
    csv = tmp_path / "bars.csv"
    prices = [10, 9, 8, 7, 8, 9, 10, 11, 12, 11, 10, 9, 8, 7, 8, 9, 10, 11]
    csv.write_text(
        "timestamp,symbol,open,high,low,close,volume\n"
        + "".join(f"2024-01-02T15:{m:02d}:00Z,AAPL,{p},{p + 1},{p - 1},{p},100\n" for m, p in enumerate(prices))
    )
    return csv


def small_cfg(tmp_path: Path) -> tuple[object, dict[str, object]]:
    toml = tmp_path / "c.toml"
    toml.write_text('[strategy]\nfast = 2\nslow = 4\nqty = 10\n[risk.policy]\nmin_liquidity_score = "0"\n')
    return load(toml)


def records(journal: str | Path) -> list[tuple[int, str, bytes]]:
    with JournalReader(journal) as r:
        return [(rec.seq, rec.topic, rec.state) for rec in r.records()]


def test_a_run_on_postgres_stores_the_same_records_and_digest_as_on_sqlite(url: str, tmp_path: Path) -> None:
    cfg, snap = small_cfg(tmp_path)
    on_sqlite = historical_run(cfg, snap, tmp_path / "j.db", bars(tmp_path))  # type: ignore[arg-type]
    on_pg = historical_run(cfg, snap, url, bars(tmp_path))  # type: ignore[arg-type]
    assert on_pg.digest == on_sqlite.digest and on_pg.last_seq == on_sqlite.last_seq > 20
    assert on_sqlite.counts.get("OrderFilled", 0) >= 1
    assert records(url) == records(tmp_path / "j.db")


def test_verify_replay_and_query_work_on_postgres(url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg, snap = small_cfg(tmp_path)
    run = historical_run(cfg, snap, url, bars(tmp_path))  # type: ignore[arg-type]
    assert main(["verify", url]) == 0
    assert capsys.readouterr().out == f"ok: {run.last_seq} records, chain digest {run.digest}\n"
    assert main(["replay", "--from", url]) == 0
    assert run.digest in capsys.readouterr().out
    assert main(["query", "orders", "--journal", url, "--format", "json"]) == 0
    assert '"FILLED"' in capsys.readouterr().out


def test_a_second_writer_is_refused_naming_the_first(url: str) -> None:
    locked = r"already open for writing by backend pid \d+ \(engine writer"
    with JournalWriter(url), pytest.raises(JournalLockedError, match=locked):
        JournalWriter(url)
    JournalWriter(url).close()  # released on close


def test_the_lock_dies_with_a_killed_writer(url: str) -> None:
    code = (
        "import sys, time; from engine.journal import JournalWriter; w = JournalWriter(sys.argv[1]); "
        "print('open', flush=True); time.sleep(60)"
    )
    child = subprocess.Popen([sys.executable, "-c", code, url], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline() == "open\n"
        with pytest.raises(JournalLockedError):
            JournalWriter(url)
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        deadline = time.monotonic() + 10
        while True:  # the server notices the dead connection at once on a local socket; allow a little
            try:
                JournalWriter(url).close()
                break
            except JournalLockedError:
                assert time.monotonic() < deadline, "the advisory lock outlived its killed holder"
                time.sleep(0.1)
    finally:
        child.kill()


def test_the_table_is_append_only(url: str) -> None:
    with JournalWriter(url) as w:
        w.append([SessionClosed(ts=1, session="2024-01-02", calendar="X")])
    table = url.rsplit("=", 1)[1]
    with psycopg.connect(host=HOST, port=PORT, user="postgres", dbname=DB, autocommit=True) as conn:
        for statement in (f"UPDATE {table} SET topic = 'x'", f"DELETE FROM {table}", f"TRUNCATE {table}"):
            with pytest.raises(psycopg.errors.RaiseException, match="journal is append-only"):
                conn.execute(statement)
    assert len(records(url)) == 1


def test_reopening_continues_the_sequence_and_chain(url: str) -> None:
    with JournalWriter(url) as w:
        w.append([SessionClosed(ts=1, session="2024-01-02", calendar="X")])
    with JournalWriter(url) as w:
        assert w.last_seq == 1
        w.append([SessionClosed(ts=2, session="2024-01-03", calendar="X")])
    assert [s for s, _, _ in records(url)] == [1, 2]
    assert main(["verify", url]) == 0


def test_replace_drops_the_old_journal_under_the_lock(url: str) -> None:
    with JournalWriter(url) as w:
        w.append([SessionClosed(ts=1, session="2024-01-02", calendar="X")])
    with JournalWriter(url, replace=True) as w:
        assert w.last_seq == 0


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("postgresql://postgres@127.0.0.1:5432/test?table=Bad-Name", "table 'Bad-Name': use 1-50 lowercase"),
        ("postgresql://postgres@127.0.0.1:5432/test?tbl=x", "unknown parameter(s) tbl"),
        ("postgresql://postgres@127.0.0.1:5432/?table=x", "name the database"),
        ("postgresql://postgres:s3cret@127.0.0.1:5432/test?table=t_never_made", "postgres:***@"),
    ],
)
def test_bad_addresses_are_one_line_errors(address: str, message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", address]) == 2
    err = capsys.readouterr().err
    assert message in err and "s3cret" not in err and err.count("\n") == 1


def test_reading_a_missing_table_says_it_is_not_a_journal(url: str) -> None:
    with pytest.raises(JournalError, match="is not a journal"):
        JournalReader(url)
