"""The one way to read a journal (``engine.journal.read``) and the one chain walk (``engine.journal.chain.walk``):
the event iterator's filters, the decoder's and the reader's errors, and tampering found at its exact seq."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from engine.journal import JournalError, JournalReader, JournalWriter, RecordError, StoredRecord, read_events, walk
from engine.journal.chain import GENESIS, seal_batch
from engine.journal.read import decode_record
from journal_schema.catalogue import TOPICS
from journal_schema.codec import encode
from journal_schema.events import BarClosed, Event, OrderFilled, OrderSubmitRequested, SessionOpened
from tests.support import SCALE, run_engine, synthetic_stream

CLOSES = [10, 11, 12, 13, 12, 11, 9, 10, 14, 15, 13, 8, 9, 12, 14, 15]


@pytest.fixture(scope="module")
def journal(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real run over two symbols with orders and fills (the SMA strategy trades on these closes)."""
    bars = [(sym, c * SCALE) for c in CLOSES for sym in ("AAA", "BBB")]
    inputs, _ = synthetic_stream(bars, per_session=8)
    path = tmp_path_factory.mktemp("read") / "j.db"
    run_engine(path, inputs, {"strategy": {"fast": 2, "slow": 3, "qty": 10}})
    return path


def _all(journal: Path) -> list[tuple[int, Event]]:
    return list(read_events(journal))


def test_every_filter_keeps_exactly_the_events_it_names(journal: Path) -> None:
    everything = _all(journal)
    assert [seq for seq, _ in everything] == list(range(1, len(everything) + 1))
    cids = sorted({e.client_order_id for _, e in everything if isinstance(e, OrderSubmitRequested)})
    assert len(cids) >= 2 and any(isinstance(e, OrderFilled) for _, e in everything)
    cases: list[tuple[dict[str, object], object]] = [
        ({"types": [BarClosed]}, lambda s, e: isinstance(e, BarClosed)),
        ({"types": [OrderFilled, SessionOpened]}, lambda s, e: isinstance(e, OrderFilled | SessionOpened)),
        ({"symbol": "BBB"}, lambda s, e: getattr(e, "symbol", None) == "BBB"),
        ({"client_order_id": cids[1]}, lambda s, e: getattr(e, "client_order_id", None) == cids[1]),
        ({"start": 10, "at": 40}, lambda s, e: 10 <= s <= 40),
        ({"at": 7}, lambda s, e: s <= 7),
        (
            {"types": [BarClosed], "symbol": "AAA", "start": 5, "at": 60},
            lambda s, e: isinstance(e, BarClosed) and e.symbol == "AAA" and 5 <= s <= 60,
        ),
    ]
    for kwargs, keep in cases:
        types = kwargs.pop("types", None)
        got = list(read_events(journal, types, **kwargs))  # type: ignore[call-overload]
        assert got == [(s, e) for s, e in everything if keep(s, e)], kwargs  # type: ignore[operator]
        assert got, kwargs  # each case selects something


def test_the_reader_takes_a_range_and_stops_at_the_head_it_saw(journal: Path) -> None:
    with JournalReader(journal, page_size=3) as reader:
        head = reader.last_seq()
        assert [s for s, _ in reader.events(start=4, stop=9)] == [4, 5, 6, 7, 8, 9]
        assert [s for s, _ in reader.events(start=head - 1)] == [head - 1, head]
        assert list(reader.events(start=head + 1)) == []
        assert list(reader.events(start=5, stop=4)) == []


@pytest.mark.parametrize(
    ("at", "message"),
    [(0, "sequence number must be >= 1, got 0"), (10**9, "sequence number 1000000000 is beyond the end")],
)
def test_at_outside_the_journal_is_a_range_error(journal: Path, at: int, message: str) -> None:
    with pytest.raises(JournalError, match=message) as info:
        list(read_events(journal, at=at))
    assert info.value.category == "RANGE"


def test_a_missing_journal_is_one_error_whatever_reads_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope.db"
    with pytest.raises(JournalError, match=f"^journal not found: {missing}$") as info:
        list(read_events(missing))
    assert info.value.category == "REFUSED"


def _copy(journal: Path, directory: Path) -> Path:
    directory.mkdir(exist_ok=True)
    out = directory / "copy.db"
    src, dst = sqlite3.connect(journal), sqlite3.connect(out)
    src.backup(dst)
    src.close()
    dst.close()
    return out


def _edit(path: Path, sql: str, *params: object) -> None:
    with sqlite3.connect(path) as db:
        db.execute("DROP TRIGGER IF EXISTS journal_events_no_update")
        db.execute("DROP TRIGGER IF EXISTS journal_events_no_delete")
        db.execute(sql, params)


def test_a_database_failure_mid_read_is_a_store_error(journal: Path, tmp_path: Path) -> None:
    path = _copy(journal, tmp_path)
    with JournalReader(path, page_size=4) as reader:
        records = reader.records()
        assert next(records).seq == 1
        _edit(path, "DROP TABLE journal_events")
        with pytest.raises(JournalError, match=f"^cannot read journal {path}: no such table: journal_events$") as info:
            list(records)
    assert info.value.category == "STORE"


def test_an_undecodable_record_is_named_by_its_seq_and_records_before_it_are_read(
    journal: Path, tmp_path: Path
) -> None:
    path = _copy(journal, tmp_path)
    _edit(path, "UPDATE journal_events SET topic = 'Nope.v1' WHERE rowid = 6")
    seen: list[int] = []
    with pytest.raises(RecordError) as info:
        for seq, _ in read_events(path):
            seen.append(seq)
    assert seen == [1, 2, 3, 4, 5]
    err = info.value
    assert (err.seq, err.category) == (6, "UNDECODABLE")
    assert str(err).startswith("record 6 cannot be read (event does not decode as Nope.v1: unknown topic 'Nope.v1'")
    assert str(err).endswith("; run `engine verify`")
    assert [s for s, _ in read_events(path, types=[BarClosed], at=5)] == [
        s for s, _ in read_events(journal, [BarClosed], at=5)
    ]


def test_a_malformed_envelope_is_tampering_at_its_seq() -> None:
    with pytest.raises(RecordError, match=r"^record 3: malformed envelope: record envelope is malformed") as info:
        decode_record(StoredRecord(3, 3, "RunEnded.v1", b'{"event":{}}'))
    assert info.value.category == "TAMPERED"


# ---------------------------------------------------------------- the chain walk


def _records(n: int, changed: int = 0) -> tuple[list[StoredRecord], bytes]:
    """``n`` records as a writer seals them (no database), record ``changed`` with another event, and the digest."""
    events = [
        BarClosed(ts=i + 1, symbol="A", open=1, high=2, low=1, close=2 + (i + 1 == changed), volume=3) for i in range(n)
    ]
    items = [(TOPICS[BarClosed], TOPICS[BarClosed].encode(), encode(e)) for e in events]
    digest, rows = seal_batch(GENESIS, 1, "journal", items)
    return [StoredRecord(seq, seq, topic, state) for _, seq, topic, state in rows], digest


def test_an_intact_chain_walks_to_its_digest_from_genesis_or_from_the_middle() -> None:
    records, digest = _records(9)
    linked = list(walk(records))
    assert [x.seq for x in linked] == list(range(1, 10)) and linked[-1].hash == digest
    assert list(walk(records[4:], prev=linked[3].hash, first=5)) == linked[4:]
    with pytest.raises(RecordError, match="^record 5: hash mismatch"):
        list(walk(records[4:], first=5))  # not from genesis


def test_a_tail_rewritten_with_consistent_hashes_walks_but_changes_the_digest() -> None:
    """What the walk cannot see (docs/operations.md: keep the digest elsewhere)."""
    records, digest = _records(9)
    rewritten, other = _records(9, changed=3)
    assert [x.seq for x in walk(rewritten)] == list(range(1, 10))
    assert other != digest and rewritten[:2] == records[:2]


@pytest.mark.parametrize("bad", [1, 2, 5, 9])
@pytest.mark.parametrize(
    ("plant", "problem"),
    [
        (
            lambda r: StoredRecord(r.seq, r.rowid, r.topic, r.state.replace(b'"ts":', b'"ts":1', 1)),
            "hash mismatch: stored ",
        ),
        (lambda r: StoredRecord(r.seq, r.rowid, "BarClosed.v1", r.state), "hash mismatch: stored "),
        (lambda r: StoredRecord(r.seq, r.rowid, r.topic, r.state[:20] + b"zz" + r.state[22:]), "malformed envelope: "),
        (lambda r: StoredRecord(r.seq, r.rowid, r.topic, r.state[1:]), "malformed envelope: "),
        (lambda r: StoredRecord(r.seq + 100, r.rowid, r.topic, r.state), "stored sequence number "),
        (lambda r: StoredRecord(r.seq, r.rowid + 1, r.topic, r.state), "is missing (the next stored record is "),
    ],
    ids=["event", "topic", "hash-hex", "envelope", "seq", "gap"],
)
def test_planted_tampering_is_found_at_the_exact_seq(bad: int, plant: object, problem: str) -> None:
    records, _ = _records(9)
    records[bad - 1] = plant(records[bad - 1])  # type: ignore[operator]
    passed: list[int] = []
    with pytest.raises(RecordError) as info:
        for linked in walk(records):
            passed.append(linked.seq)
    assert passed == list(range(1, bad))
    assert (info.value.seq, info.value.category) == (bad, "TAMPERED")
    assert problem in info.value.problem and str(info.value).endswith("; run `engine verify`")


def test_the_reader_walks_from_genesis_or_from_the_middle(journal: Path, tmp_path: Path) -> None:
    path = _copy(journal, tmp_path)
    with JournalReader(path) as reader:
        head, digest = reader.head()
        assert [x.seq for x in reader.linked()] == list(range(1, head + 1))
        assert reader.hash_of(head) == digest == list(reader.linked(start=head - 3))[-1].hash
    (state,) = sqlite3.connect(path).execute("SELECT state FROM journal_events WHERE rowid = 12").fetchone()
    _edit(path, "UPDATE journal_events SET state = ? WHERE rowid = 12", state.replace(b'"ts":1', b'"ts":2', 1))
    with JournalReader(path) as reader:
        with pytest.raises(RecordError, match=r"^record 12: hash mismatch") as info:
            list(reader.linked())
        assert info.value.seq == 12
        assert [x.seq for x in reader.linked(start=13)][-1] == head  # after it the chain holds again
        with pytest.raises(RecordError, match="^record 12: hash mismatch"):
            list(reader.linked(start=12))


def test_a_writer_refuses_to_chain_onto_a_tampered_head_but_resumes_an_intact_one(
    journal: Path, tmp_path: Path
) -> None:
    path = _copy(journal, tmp_path)
    with JournalReader(path) as reader:
        head, digest = reader.head()
    with JournalWriter(path) as writer:  # resumes at the head, chained from its stored hash
        assert (writer.last_seq, writer.last_hash) == (head, digest)
    (state,) = sqlite3.connect(path).execute("SELECT state FROM journal_events WHERE rowid = ?", (head,)).fetchone()
    _edit(path, "UPDATE journal_events SET state = ? WHERE rowid = ?", state.replace(b'"ts":', b'"ts":9', 1), head)
    with pytest.raises(RecordError, match=f"^record {head}: hash mismatch") as info:
        JournalWriter(path)
    assert info.value.seq == head
    gap = _copy(journal, tmp_path / "gap")
    _edit(gap, "DELETE FROM journal_events WHERE rowid = ?", head - 1)
    with pytest.raises(RecordError, match=f"^record {head - 1} is missing \\(the next stored record is {head}\\)"):
        JournalWriter(gap)
