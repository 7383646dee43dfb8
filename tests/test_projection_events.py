"""The events listing: seq, ISO time, type, symbol / client_order_id, canonical JSON."""

import sqlite3

import pytest

from engine.journal import JournalError, unwrap
from projections import event_rows
from projections.render import iso_utc
from tests.journal_factory import T0, trading_day, write_journal


@pytest.fixture
def journal(tmp_path):
    return write_journal(tmp_path / "journal.db", trading_day())


def test_lists_every_record_with_its_stored_bytes(journal):
    rows = event_rows(journal)
    assert [r.seq for r in rows] == list(range(1, 17))
    with sqlite3.connect(journal) as db:
        stored = [unwrap(s)[1] for (s,) in db.execute("SELECT state FROM journal_events ORDER BY rowid")]
    assert [r.json for r in rows] == stored
    bar, fill = rows[1], rows[5]
    assert (bar.ts, bar.type, bar.symbol, bar.client_order_id) == (T0 + 60 * 10**9, "BarClosed", "AAPL", None)
    assert (fill.type, fill.symbol, fill.client_order_id) == ("OrderFilled", None, "c-buy")
    assert rows[3].symbol == "AAPL" and rows[3].client_order_id == "c-buy"  # the submit request has both


def test_type_filter_limit_and_at(journal):
    assert [r.seq for r in event_rows(journal, types=["BarClosed"])] == [2, 7, 16]
    assert [r.seq for r in event_rows(journal, types=["BarClosed"], limit=2)] == [2, 7]
    assert [r.seq for r in event_rows(journal, types=["BarClosed"], at=12)] == [2, 7]
    assert [r.seq for r in event_rows(journal, types=["OrderFilled", "OrderPartiallyFilled"])] == [6, 11, 12, 15]
    assert [r.seq for r in event_rows(journal, limit=3)] == [1, 2, 3]
    assert event_rows(journal, types=["RunStarted"]) == []


def test_unknown_type_name_lists_the_known_ones(journal):
    with pytest.raises(JournalError, match=r"unknown event type Fill \(known: AlertRaised, BarClosed, BarRejected,"):
        event_rows(journal, types=["Fill"])


def test_undecodable_record_is_reported_with_its_seq(journal):
    with sqlite3.connect(journal) as db:
        db.execute("DROP TRIGGER journal_events_no_update")
        db.execute("UPDATE journal_events SET topic = 'Nope.v1' WHERE originator_version = 4")
    with pytest.raises(JournalError, match=r"record 4 cannot be read .*unknown topic 'Nope.v1'"):
        event_rows(journal)
    assert [r.seq for r in event_rows(journal, at=3)] == [1, 2, 3]


@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (0, "1970-01-01T00:00:00Z"),
        (T0, "2024-01-02T13:00:00Z"),
        (T0 + 1, "2024-01-02T13:00:00.000000001Z"),
        (T0 + 500_000_000, "2024-01-02T13:00:00.5Z"),
        (T0 + 123_456_000, "2024-01-02T13:00:00.123456Z"),
    ],
)
def test_iso_utc_keeps_nanoseconds(ns, text):
    assert iso_utc(ns) == text
