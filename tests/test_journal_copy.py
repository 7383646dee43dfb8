"""``engine journal copy``: a real run's journal goes SQLite -> Postgres -> SQLite with the same bytes and
digest, the Postgres copy verifies and replays, old event versions keep their bytes, and the copy
refuses what would lose or mix records. The Postgres cases need the server of tests/stores.py and are
skipped with that reason without it."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.cli import main
from engine.journal import JournalReader, JournalWriter, unwrap
from engine.journal.copy import CopyFailed, copy_journal
from engine.runner import historical_run
from journal_schema.events import SessionClosed
from tests.stores import STORES, fresh_table, journal_at, needs_pg, pg_url
from tests.test_old_journal import DATA as OLD_RECORDS
from tests.test_old_journal import old_journal  # noqa: F401  (the fixture)
from tests.test_pg_journal import bars, small_cfg


def records(journal: str | Path) -> list[tuple[int, str, bytes]]:
    with JournalReader(journal) as r:
        return [(rec.seq, rec.topic, rec.state) for rec in r.records()]


@pytest.fixture
def url() -> Iterator[str]:
    with fresh_table() as table:
        yield pg_url(table)


@pytest.fixture
def run_journal(tmp_path: Path) -> tuple[Path, str]:
    cfg, snap = small_cfg(tmp_path)
    run = historical_run(cfg, snap, tmp_path / "run.db", bars(tmp_path))  # type: ignore[arg-type]
    assert run.last_seq > 20 and run.counts.get("OrderFilled", 0) >= 1
    return tmp_path / "run.db", run.digest


def copy_cli(src: str | Path, dst: str | Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str, str]:
    code = main(["journal", "copy", str(src), str(dst), *extra])
    out, err = capsys.readouterr()
    return code, out, err


@needs_pg
def test_sqlite_to_postgres_and_back_keeps_every_byte_and_the_digest(
    run_journal: tuple[Path, str], url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src, digest = run_journal
    n = len(records(src))
    assert copy_cli(src, url, capsys) == (
        0,
        f"copied {n} records from {src} to {url}, chain digest {digest} (verified)\n",
        "",
    )
    back = tmp_path / "back.db"
    assert copy_cli(url, back, capsys) == (
        0,
        f"copied {n} records from {url} to {back}, chain digest {digest} (verified)\n",
        "",
    )
    assert records(url) == records(back) == records(src)
    assert main(["verify", url]) == 0
    assert capsys.readouterr().out == f"ok: {n} records, chain digest {digest}\n"
    assert main(["replay", "--from", url]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"identical: {n} records") and digest in out


def test_small_pages_copy_the_same_records(run_journal: tuple[Path, str], tmp_path: Path) -> None:
    src, digest = run_journal
    result = copy_journal(src, tmp_path / "paged.db", page_size=7)
    assert result.ok and result.digest.hex() == digest and result.records == len(records(src))
    assert records(tmp_path / "paged.db") == records(src)


@pytest.mark.parametrize("store", STORES)
def test_older_event_versions_copy_with_their_bytes_unchanged(
    old_journal: Path,  # noqa: F811
    tmp_path: Path,
    store: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    src = old_journal  # the previous release's 33 records, built by tests/test_old_journal.py
    expected = [
        (json.loads(line)["topic"], json.loads(line)["payload"].encode())
        for line in OLD_RECORDS.read_text().splitlines()
    ]
    with journal_at(store, tmp_path, "copy") as dst:
        code, out, _ = copy_cli(src, dst, capsys)
        assert code == 0 and out.startswith("copied 33 records") and out.endswith("(verified)\n")
        copied = records(dst)
        assert [(topic, unwrap(state)[1]) for _, topic, state in copied] == expected
        assert {"SignalGenerated.v2", "DecisionMade.v2", "OrderFilled.v1"} <= {t for _, t, _ in copied}
        assert copied == records(src)


def test_a_destination_with_records_is_refused_unless_replaced(
    run_journal: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src, digest = run_journal
    dst = tmp_path / "dst.db"
    with JournalWriter(dst) as w:
        w.append([SessionClosed(ts=1, session="2024-01-02", calendar="X")])
    assert copy_cli(src, dst, capsys) == (
        2,
        "",
        f"engine journal: error: {dst} already holds 1 records; --replace deletes them first\n",
    )
    assert len(records(dst)) == 1
    code, out, _ = copy_cli(src, dst, capsys, "--replace")
    assert code == 0 and digest in out and records(dst) == records(src)


@needs_pg
def test_a_postgres_destination_with_records_is_refused(
    run_journal: tuple[Path, str], url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    src, _ = run_journal
    assert copy_cli(src, url, capsys)[0] == 0
    code, _, err = copy_cli(src, url, capsys)
    assert code == 2 and f"already holds {len(records(src))} records" in err
    assert copy_cli(src, url, capsys, "--replace")[0] == 0
    assert records(url) == records(src)


def test_the_source_itself_is_refused_as_destination(
    run_journal: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    src, _ = run_journal
    before = records(src)
    same = src.parent / "." / src.name
    assert copy_cli(src, same, capsys, "--replace") == (
        2,
        "",
        f"engine journal: error: the destination {same} is the source journal; copy to another file or table\n",
    )
    assert records(src) == before


@needs_pg
def test_the_same_postgres_table_is_refused_even_spelled_differently(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with JournalWriter(url) as w:
        w.append([SessionClosed(ts=1, session="2024-01-02", calendar="X")])
    other_spelling = url.replace("127.0.0.1", "localhost").replace("postgres@", "postgres:pw@")
    code, _, err = copy_cli(url, other_spelling, capsys, "--replace")
    assert code == 2 and "is the source journal" in err and "pw" not in err
    assert len(records(url)) == 1


def test_a_missing_or_foreign_source_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dst = tmp_path / "dst.db"
    assert copy_cli(tmp_path / "nope.db", dst, capsys) == (
        2,
        "",
        f"engine journal: error: journal not found: {tmp_path / 'nope.db'}\n",
    )
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    code, _, err = copy_cli(other, dst, capsys)
    assert code == 2 and "is not a journal" in err and err.count("\n") == 1
    assert not dst.exists()


def test_a_destination_file_that_is_not_a_journal_is_refused(
    run_journal: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src, _ = run_journal
    dst = tmp_path / "notes.db"
    dst.write_text("not a database")
    assert copy_cli(src, dst, capsys) == (
        2,
        "",
        f"engine journal: error: {dst} is not a journal (not an SQLite database): it is left as it is; "
        "choose another path\n",
    )
    assert dst.read_text() == "not a database"
    assert copy_cli(src, dst, capsys, "--replace")[0] == 2  # --replace deletes only a journal
    assert dst.read_text() == "not a database"


@needs_pg
def test_a_missing_postgres_source_is_refused_without_its_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with fresh_table() as table:
        code, out, err = copy_cli(pg_url(table, password="s3cret"), tmp_path / "dst.db", capsys)
    assert (code, out) == (2, "") and "is not a journal" in err and "s3cret" not in err and "postgres:***@" in err


def test_a_source_being_written_is_copied_up_to_its_head(tmp_path: Path) -> None:
    src = tmp_path / "live.db"
    with JournalWriter(src) as writer:
        writer.append([SessionClosed(ts=1, session="2024-01-02", calendar="X")])
        writer.flush()
        result = copy_journal(src, tmp_path / "copy.db")  # the writer still holds src
        writer.append([SessionClosed(ts=2, session="2024-01-03", calendar="X")])
    assert result.ok and result.records == 1 == len(records(tmp_path / "copy.db"))
    assert len(records(src)) == 2


def test_a_tampered_source_fails_the_copy_with_exit_1(
    run_journal: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src, _ = run_journal
    db = sqlite3.connect(src)
    db.execute("DROP TRIGGER journal_events_no_update")
    (state,) = db.execute("SELECT state FROM journal_events WHERE rowid = 5").fetchone()
    db.execute("UPDATE journal_events SET state = ? WHERE rowid = 5", (state.replace(b'"ts":1', b'"ts":2', 1),))
    db.commit()
    db.close()
    code, out, _ = copy_cli(src, tmp_path / "copy.db", capsys)
    assert code == 1
    assert out.startswith("FAILED: ") and "record 5: hash mismatch: stored " in out
    assert "keeps the 0 records copied before it" in out and records(tmp_path / "copy.db") == []
    with pytest.raises(CopyFailed, match="keeps the 4 records copied before it"):  # pages of 2: 1-2, 3-4 committed
        copy_journal(src, tmp_path / "paged.db", page_size=2)
    assert records(tmp_path / "paged.db") == records(src)[:4]
