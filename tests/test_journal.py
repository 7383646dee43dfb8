"""The journal store on real SQLite: append-only, dense, chained, atomic, single writer.

The tests taking ``journal_url`` (tests/stores.py) run on SQLite and on the real PostgreSQL server;
the rest reach into SQLite itself (its triggers, its lock, its recorder)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap

import pytest

from engine.journal import JournalError, JournalLockedError, JournalReader, JournalWriter, unwrap
from engine.journal.chain import GENESIS, link
from journal_schema.codec import decode_topic
from journal_schema.events import BarClosed, RunEnded


def bar(i: int) -> BarClosed:
    return BarClosed(ts=i + 1, symbol="A", open=1, high=2, low=1, close=2, volume=3)


def test_dense_sequence_and_chain(journal_url):
    path = journal_url
    with JournalWriter(path) as w:
        w.append([bar(0), bar(1)])
        w.append([bar(2)])
        w.flush()
        w.append([bar(3)])
    with JournalReader(path, page_size=3) as r:
        recs = list(r.records())
    assert [x.seq for x in recs] == [1, 2, 3, 4] == [x.rowid for x in recs]
    prev = GENESIS
    for rec in recs:
        stored, payload = unwrap(rec.state)
        prev = link(prev, rec.seq, rec.topic.encode(), payload)
        assert stored == prev
        assert decode_topic(rec.topic, payload) == bar(rec.seq - 1)


def test_batches_of_full_multi_row_statements_and_a_remainder(journal_url):
    from engine.journal.store import ROWS_PER_INSERT

    path = journal_url
    n = 3 * ROWS_PER_INSERT + 5
    with JournalWriter(path) as w:
        for i in range(n):
            w.append([bar(i)])
        w.flush()
        assert w.committed_seq == n and w.staged == 0
        head = w.last_hash
    with JournalReader(path, page_size=50) as r:
        recs = list(r.records())
    assert [x.seq for x in recs] == list(range(1, n + 1)) == [x.rowid for x in recs]
    prev = GENESIS
    for rec in recs:
        stored, payload = unwrap(rec.state)
        prev = link(prev, rec.seq, rec.topic.encode(), payload)
        assert stored == prev and decode_topic(rec.topic, payload) == bar(rec.seq - 1)
    assert prev == head


def test_reopen_continues_the_chain(journal_url):
    path = journal_url
    with JournalWriter(path) as w:
        w.append([bar(0)])
        first_hash = w.last_hash
    with JournalWriter(path) as w:
        assert (w.last_seq, w.last_hash) == (1, first_hash)
        w.append([bar(1)])
    with JournalReader(path) as r:
        assert r.last_seq() == 2


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE journal_events SET state = x'00' WHERE rowid = 1",
        "DELETE FROM journal_events WHERE rowid = 1",
    ],
)
def test_update_and_delete_are_refused_by_the_database(tmp_path, sql):
    path = tmp_path / "j.db"
    with JournalWriter(path) as w:
        w.append([bar(0)])
    con = sqlite3.connect(path)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        con.execute(sql)
    con.close()


def test_second_writer_is_refused_naming_the_holder(journal_url):
    path = journal_url
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
            import sys, time
            from engine.journal import JournalWriter
            w = JournalWriter({str(path)!r}); print("locked", flush=True); sys.stdin.readline()
        """),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(JournalLockedError, match=rf"pid {holder.pid} on .* only one writer"):
            JournalWriter(path)
    finally:
        holder.kill()
        holder.wait()
    JournalWriter(path).close()  # the kernel (or the server) released the lock when the holder died


def test_a_group_is_committed_whole_or_not_at_all(tmp_path):
    path = tmp_path / "j.db"
    w = JournalWriter(path)
    w.append([bar(0)])
    w.flush()
    w.append([bar(1), RunEnded(ts=5, run_id="r", reason="END_OF_DATA")])
    # another connection takes the write lock so the commit fails
    con = sqlite3.connect(path, timeout=0.1)
    con.execute("BEGIN IMMEDIATE")
    with w._store.recorder.datastore.get_connection(commit=False) as conn:  # noqa: SLF001
        conn.cursor().execute("PRAGMA busy_timeout = 0")  # fail at once instead of waiting 5 s
    with pytest.raises(JournalError, match="commit failed at seq 2"):
        w.flush()
    con.rollback()
    con.close()
    with pytest.raises(JournalError, match="unusable"):
        w.append([bar(2)])
    w.close()
    with JournalReader(path) as r:
        assert [x.seq for x in r.records()] == [1]


def test_reader_refuses_missing_and_foreign_files(tmp_path):
    with pytest.raises(JournalError, match="journal not found"):
        JournalReader(tmp_path / "nope.db")
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(JournalError, match="is not a journal"):
        JournalReader(other)


def test_reading_is_paged(tmp_path, monkeypatch):
    path = tmp_path / "j.db"
    with JournalWriter(path) as w:
        w.append([bar(i) for i in range(25)])
    with JournalReader(path, page_size=10) as r:
        calls = []
        original = r._store.recorder.select_records  # noqa: SLF001

        def spy(start, limit, stop):
            page = original(start, limit, stop)
            calls.append(len(page))
            return page

        monkeypatch.setattr(r._store.recorder, "select_records", spy)  # noqa: SLF001
        assert sum(1 for _ in r.records()) == 25
    assert calls == [10, 10, 5, 0]


def test_the_journal_transcoder_is_an_eventsourcing_transcoder_with_canonical_bytes():
    from eventsourcing.persistence import Transcoder

    from engine.journal.read import decode_payload
    from engine.journal.transcoder import TRANSCODER

    assert isinstance(TRANSCODER, Transcoder)
    ev = RunEnded(ts=5, run_id="r", reason="END_OF_DATA")
    raw = TRANSCODER.encode(ev)
    assert raw == b'{"type":"RunEnded","ts":5,"run_id":"r","reason":"END_OF_DATA"}'
    assert TRANSCODER.decode(raw) == ev == decode_payload(1, "RunEnded.v1", raw)
