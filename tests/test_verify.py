"""`engine verify`: density, envelope, hash chain, decoding and canonical bytes.

Tampering is simulated the way an attacker with file access would do it: raw sqlite3,
after dropping the journal's append-only triggers. The tests of an untampered journal
(``stored_journal``) run on SQLite and on the real PostgreSQL server (tests/stores.py).
"""

import sqlite3

import pytest

from engine.cli import main
from engine.journal import JournalWriter, link, unwrap, wrap
from engine.journal.chain import GENESIS
from engine.journal.verify import verify_journal
from journal_schema.codec import encode
from tests.journal_factory import bar, trading_day, write_journal


@pytest.fixture
def journal(tmp_path):
    return write_journal(tmp_path / "journal.db", trading_day())


@pytest.fixture
def stored_journal(journal_url):
    """The same journal on each store (``journal`` is the SQLite one that the attacks rewrite)."""
    return write_journal(journal_url, trading_day())


def _head_hash(path):
    with JournalWriter(path) as w:
        return w.last_hash


def _state(path, seq):
    with sqlite3.connect(path) as db:
        (state,) = db.execute("SELECT state FROM journal_events WHERE rowid = ?", (seq,)).fetchone()
    return state


def _attack(path, *statements):
    db = sqlite3.connect(path)
    db.execute("DROP TRIGGER IF EXISTS journal_events_no_update")
    db.execute("DROP TRIGGER IF EXISTS journal_events_no_delete")
    for sql, params in statements:
        db.execute(sql, params)
    db.commit()
    db.close()


def _set_state(path, seq, state):
    _attack(path, ("UPDATE journal_events SET state = ? WHERE rowid = ?", (state, seq)))


def _verify_cli(path, capsys):
    code = main(["verify", str(path)])
    out, err = capsys.readouterr()
    return code, out, err


def test_clean_journal_prints_record_count_and_chain_digest(stored_journal, capsys):
    digest = _head_hash(stored_journal)
    assert _verify_cli(stored_journal, capsys) == (0, f"ok: 16 records, chain digest {digest.hex()}\n", "")


def test_empty_journal_has_the_genesis_digest(journal_url, capsys):
    path = journal_url
    JournalWriter(path).close()
    assert _verify_cli(path, capsys) == (0, f"ok: 0 records, chain digest {'0' * 64}\n", "")


@pytest.mark.parametrize("seq", [1, 7, 13])
def test_one_flipped_byte_in_an_event_names_that_seq(journal, capsys, seq):
    state = bytearray(_state(journal, seq))
    i = state.index(b'"ts":') + 6  # a digit of the event's timestamp
    state[i] ^= 0x01
    _set_state(journal, seq, bytes(state))
    code, out, _ = _verify_cli(journal, capsys)
    assert code == 1
    assert out.startswith(f"TAMPERED at seq {seq}: hash mismatch: stored ")


def test_one_changed_hex_digit_of_a_stored_hash_names_that_seq(journal, capsys):
    state = bytearray(_state(journal, 5))
    i = len(b'{"hash":"') + 10
    state[i] = ord("0") if state[i] != ord("0") else ord("1")
    _set_state(journal, 5, bytes(state))
    stored, payload = unwrap(bytes(state))
    chain = GENESIS
    for seq in (1, 2, 3, 4):
        chain = unwrap(_state(journal, seq))[0]
    recomputed = link(chain, 5, b"OrderAccepted.v1", payload)
    assert _verify_cli(journal, capsys) == (
        1,
        f"TAMPERED at seq 5: hash mismatch: stored {stored.hex()}, recomputed {recomputed.hex()}\n",
        "",
    )


def test_non_hex_hash_is_a_malformed_envelope(journal, capsys):
    state = bytearray(_state(journal, 6))
    state[len(b'{"hash":"')] = ord("z")
    _set_state(journal, 6, bytes(state))
    assert _verify_cli(journal, capsys) == (
        1,
        "TAMPERED at seq 6: malformed envelope: record hash is not 64 hex digits\n",
        "",
    )


def test_changed_topic_breaks_the_chain_at_that_seq(journal, capsys):
    _attack(journal, ("UPDATE journal_events SET topic = 'OrderPartiallyFilled.v1' WHERE rowid = 5", ()))
    code, out, _ = _verify_cli(journal, capsys)
    assert (code, out.split(": ")[0]) == (1, "TAMPERED at seq 5")
    assert "hash mismatch" in out


def test_deleted_record_is_a_gap_at_its_seq(journal, capsys):
    _attack(journal, ("DELETE FROM journal_events WHERE rowid = 9", ()))
    assert _verify_cli(journal, capsys) == (
        1,
        "TAMPERED at seq 9: record 9 is missing (the next stored record is 10)\n",
        "",
    )


def test_sequence_number_not_matching_its_position(journal, capsys):
    _attack(journal, ("UPDATE journal_events SET originator_version = 99 WHERE rowid = 13", ()))
    assert _verify_cli(journal, capsys) == (1, "TAMPERED at seq 13: stored sequence number 99 at position 13\n", "")


def _append_raw(path, topic, payload):
    """Append a record with a *correct* chain hash but the given payload bytes."""
    seq = 17
    prev = _head_hash(path)
    h = link(prev, seq, topic.encode(), payload)
    with sqlite3.connect(path) as db:
        db.execute(
            "INSERT INTO journal_events (originator_id, originator_version, topic, state) VALUES (?, ?, ?, ?)",
            ("journal", seq, topic, wrap(h, payload)),
        )


def test_hash_valid_but_non_canonical_event(journal, capsys):
    canonical = encode(bar(9, "AAPL", "11"))
    _append_raw(journal, "BarClosed.v1", canonical.replace(b',"symbol"', b', "symbol"'))
    assert _verify_cli(journal, capsys) == (
        1,
        "TAMPERED at seq 17: event is not canonical: re-encoding it gives different bytes\n",
        "",
    )


def test_hash_valid_but_undecodable_event(journal, capsys):
    canonical = encode(bar(9, "AAPL", "11"))
    _append_raw(journal, "BarClosed.v1", canonical[:-1] + b',"extra":1}')
    code, out, _ = _verify_cli(journal, capsys)
    assert code == 1
    assert out.startswith("TAMPERED at seq 17: event does not decode as BarClosed.v1: ")
    assert "extra" in out


def test_event_under_the_wrong_topic_does_not_decode(journal, capsys):
    _append_raw(journal, "SessionClosed.v1", encode(bar(9, "AAPL", "11")))
    code, out, _ = _verify_cli(journal, capsys)
    assert (code, out.startswith("TAMPERED at seq 17: event does not decode as SessionClosed.v1")) == (1, True)


def test_reports_the_first_bad_seq_across_pages(journal):
    for seq in (11, 5):
        state = bytearray(_state(journal, seq))
        state[-3] ^= 0x01
        _set_state(journal, seq, bytes(state))
    result = verify_journal(journal, page_size=2)
    assert (result.ok, result.bad_seq, result.records) == (False, 5, 4)
    assert result.digest == unwrap(_state(journal, 4))[0]


def test_paged_reading_gives_the_same_digest(stored_journal):
    assert verify_journal(stored_journal, page_size=3) == verify_journal(stored_journal)
    assert verify_journal(stored_journal, page_size=1).digest == _head_hash(stored_journal)


def test_missing_or_non_journal_file_is_a_usage_error(tmp_path, capsys):
    assert main(["verify", str(tmp_path / "nope.db")]) == 2
    assert capsys.readouterr().err == f"engine verify: error: journal not found: {tmp_path / 'nope.db'}\n"
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    assert main(["verify", str(other)]) == 2
    assert "is not a journal" in capsys.readouterr().err
