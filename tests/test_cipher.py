"""Journal records encrypted at rest (``run.encrypt_journal``, ``engine journal copy --encrypt``) with
the library's AES-GCM cipher, on SQLite and on PostgreSQL: the stored bytes hold no plaintext, the chain
and digest are the plaintext's, and every key problem is a one-line start-up error, never a
plaintext fallback."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.cli import main
from engine.config import load
from engine.journal import JournalError, JournalReader, JournalWriter
from engine.journal.cipher import KEY_ENV, CipherError, JournalCipher, new_key
from engine.runner import historical_run
from tests.stores import DB, HOST, PORT, fresh_table, needs_pg, pg_url
from tests.test_pg_journal import bars

Capsys = pytest.CaptureFixture[str]
KEY, OTHER = new_key(), new_key()
SECRET_TEXT = (b"AAPL", b"sma_cross", b"run_id", b"min_liquidity_score")  # plaintext every run's records hold


def cfg_file(tmp_path: Path, *, encrypt: bool) -> Path:
    toml = tmp_path / ("enc.toml" if encrypt else "plain.toml")
    run = "[run]\nencrypt_journal = true\n" if encrypt else ""
    toml.write_text(run + '[strategy]\nfast = 2\nslow = 4\nqty = 10\n[risk.policy]\nmin_liquidity_score = "0"\n')
    return toml


def run(tmp_path: Path, journal: str | Path, *, encrypt: bool) -> str:
    cfg, snap = load(cfg_file(tmp_path, encrypt=encrypt))
    digest: str = historical_run(cfg, snap, journal, bars(tmp_path)).digest  # type: ignore[arg-type]
    return digest


def stored_states(journal: str | Path) -> list[bytes]:
    """The record bytes as the database holds them (no decryption)."""
    if isinstance(journal, Path):
        with sqlite3.connect(journal) as db:
            return [bytes(s) for (s,) in db.execute("SELECT state FROM journal_events ORDER BY rowid")]
    table = journal.rsplit("table=", 1)[1]
    with psycopg.connect(host=HOST, port=PORT, user="postgres", dbname=DB) as conn:
        rows = conn.execute(f"SELECT state FROM {table} ORDER BY originator_version").fetchall()
        return [bytes(s) for (s,) in rows]


def cli(*args: str) -> int:
    return main(list(args))


def test_the_cipher_round_trips_and_refuses_other_keys_and_damage() -> None:
    cipher = JournalCipher(KEY)
    sealed = cipher.encrypt(b"payload")
    assert sealed != cipher.encrypt(b"payload")  # a fresh nonce per record
    assert cipher.decrypt(sealed, "r") == b"payload"
    assert cipher.matches(cipher.key_check()) and not JournalCipher(OTHER).matches(cipher.key_check())
    with pytest.raises(CipherError, match="r cannot be decrypted"):
        JournalCipher(OTHER).decrypt(sealed, "r")
    with pytest.raises(CipherError, match="r cannot be decrypted"):
        cipher.decrypt(sealed[:-1] + bytes([sealed[-1] ^ 1]), "r")
    for bad in ("not base64!", "c2hvcnQ="):  # not base64; 5 bytes
        with pytest.raises(CipherError, match=f"{KEY_ENV} is not a usable key") as info:
            JournalCipher(bad)
        assert bad not in str(info.value)  # the key is never echoed


def test_an_encrypted_run_stores_no_plaintext_and_verifies_and_replays_with_its_key(
    journal_url: str | Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Capsys
) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    digest = run(tmp_path, journal_url, encrypt=True)
    states = stored_states(journal_url)
    assert len(states) > 20
    blob = b"".join(states)
    assert not any(text in blob for text in SECRET_TEXT)
    with JournalReader(journal_url) as reader:
        assert reader.encrypted
        plain = b"".join(r.state for r in reader.records())
    assert all(text in plain for text in SECRET_TEXT)
    assert cli("verify", str(journal_url)) == 0 and digest in capsys.readouterr().out
    assert cli("replay", "--from", str(journal_url)) == 0
    assert f"identical: 45 records (29 inputs, 16 derived), digest {digest}" in capsys.readouterr().out
    assert cli("query", "orders", "--journal", str(journal_url)) == 0 and "FILLED" in capsys.readouterr().out


def test_without_the_key_or_with_another_key_an_encrypted_journal_is_a_start_up_error(
    journal_url: str | Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Capsys
) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    run(tmp_path, journal_url, encrypt=True)
    monkeypatch.delenv(KEY_ENV)
    with pytest.raises(JournalError, match=f"is encrypted: set {KEY_ENV} to its key"):
        JournalReader(journal_url)
    with pytest.raises(JournalError, match=f"is encrypted: set {KEY_ENV}"):
        JournalWriter(journal_url)
    assert cli("verify", str(journal_url)) == 2
    err = capsys.readouterr().err
    assert f"is encrypted: set {KEY_ENV} to its key" in err and err.count("\n") == 1
    monkeypatch.setenv(KEY_ENV, OTHER)
    with pytest.raises(JournalError, match=f"{KEY_ENV} is not the key journal .* is encrypted with"):
        JournalReader(journal_url)
    assert cli("replay", "--from", str(journal_url)) == 2
    assert "is not the key" in capsys.readouterr().err
    monkeypatch.setenv(KEY_ENV, "c2hvcnQ=")
    with pytest.raises(JournalError, match="is not a usable key"):
        JournalReader(journal_url)
    with JournalWriter(journal_url, key=KEY) as writer:  # the writer lock is free again after each refusal
        assert writer.encrypted and writer.last_seq > 20


def test_asking_for_encryption_without_a_key_or_on_a_plaintext_journal_is_refused(
    journal_url: str | Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Capsys
) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    with pytest.raises(JournalError, match=f"run.encrypt_journal is on but {KEY_ENV} is not set"):
        run(tmp_path, journal_url, encrypt=True)
    if isinstance(journal_url, Path):  # nothing was written, not even in plaintext: no journal is left behind
        assert not journal_url.exists()
    else:  # the table the writer made stays, holding nothing
        with JournalReader(journal_url) as reader:
            assert reader.last_seq() == 0 and not reader.encrypted
    run(tmp_path, journal_url, encrypt=False)
    monkeypatch.setenv(KEY_ENV, KEY)
    with pytest.raises(JournalError, match="unencrypted records and cannot be encrypted in place: copy it"):
        JournalWriter(journal_url, encrypt=True)
    with JournalReader(journal_url) as reader:  # a plaintext journal reads with or without a key set
        assert not reader.encrypted and reader.last_seq() > 20


def test_copy_encrypts_rekeys_and_decrypts_keeping_the_digest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Capsys
) -> None:
    plain, enc, rekeyed, back = (tmp_path / f"{n}.db" for n in ("plain", "enc", "rekeyed", "back"))
    digest = run(tmp_path, plain, encrypt=False)
    monkeypatch.setenv(KEY_ENV, KEY)
    assert cli("journal", "copy", str(plain), str(enc), "--encrypt") == 0
    assert f"chain digest {digest} (verified)" in capsys.readouterr().out
    assert stored_states(enc) != stored_states(plain) and not any(
        t in b"".join(stored_states(enc)) for t in SECRET_TEXT
    )
    assert cli("journal", "copy", str(enc), str(tmp_path / "x.db")) == 2  # a plaintext copy is never made unasked
    assert "is encrypted: pass --encrypt to keep the copy encrypted or --decrypt" in capsys.readouterr().err
    monkeypatch.setenv("OLD_KEY", KEY)
    monkeypatch.setenv(KEY_ENV, OTHER)
    assert cli("journal", "copy", str(enc), str(rekeyed), "--encrypt", "--source-key-env", "OLD_KEY") == 0
    assert f"chain digest {digest} (verified)" in capsys.readouterr().out
    with pytest.raises(JournalError, match="is not the key"):
        JournalReader(rekeyed, key=KEY)
    assert cli("journal", "copy", str(rekeyed), str(back), "--decrypt") == 0
    assert f"chain digest {digest} (verified)" in capsys.readouterr().out
    assert stored_states(back) == stored_states(plain)  # byte for byte the original
    assert cli("journal", "copy", str(plain), str(tmp_path / "y.db"), "--decrypt") == 2
    assert "is not encrypted: --decrypt has nothing to do" in capsys.readouterr().err


def test_reverting_the_settings_migration_of_an_encrypted_journal_needs_force(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Capsys
) -> None:
    journal = tmp_path / "enc.db"
    monkeypatch.setenv(KEY_ENV, KEY)
    run(tmp_path, journal, encrypt=True)
    assert cli("migrate", "down", "--to", "2", "--journal", str(journal)) == 2
    assert "say its records are encrypted" in capsys.readouterr().err
    with JournalReader(journal) as reader:
        assert reader.encrypted


@pytest.mark.parametrize("as_text", [False, True], ids=["blob", "text"])
def test_an_altered_encrypted_record_is_tampered_at_its_seq_and_projections_name_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Capsys, as_text: bool
) -> None:
    journal = tmp_path / "enc.db"
    monkeypatch.setenv(KEY_ENV, KEY)
    run(tmp_path, journal, encrypt=True)
    flip = "substr(state, 1, 40) || X'00' || substr(state, 42)"  # || makes TEXT (not UTF-8) of a BLOB
    with sqlite3.connect(journal) as db:
        db.execute("DROP TRIGGER journal_events_no_update")
        db.execute(f"UPDATE journal_events SET state = {flip if as_text else f'CAST({flip} AS BLOB)'} WHERE rowid = 7")
    assert cli("verify", str(journal)) == 1
    out = capsys.readouterr().out
    assert out.startswith("TAMPERED at seq 7: record 7 of ") and "cannot be decrypted (Invalid cipher tag)" in out
    assert cli("query", "orders", "--journal", str(journal)) == 2
    err = capsys.readouterr().err
    assert "record 7 of" in err and "run `engine verify`" in err and err.count("\n") == 1


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=2048), at=st.integers(min_value=0), bit=st.integers(min_value=0, max_value=7))
def test_any_record_round_trips_and_any_altered_byte_is_refused(data: bytes, at: int, bit: int) -> None:
    cipher = JournalCipher(KEY)
    sealed = cipher.encrypt(data)
    assert cipher.decrypt(sealed, "r") == data and len(sealed) == len(data) + 28  # nonce 12 + tag 16
    assert len(data) < 8 or data not in sealed  # (a shorter one may occur by chance in random bytes)
    altered = bytearray(sealed)
    altered[at % len(altered)] ^= 1 << bit
    with pytest.raises(CipherError, match="cannot be decrypted"):
        cipher.decrypt(bytes(altered), "r")
    with pytest.raises(CipherError):
        JournalCipher(OTHER).decrypt(sealed, "r")


@needs_pg
def test_a_projection_worker_reads_an_encrypted_postgres_journal_with_its_key_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Capsys
) -> None:
    with fresh_table() as table:
        url = pg_url(table)
        monkeypatch.setenv(KEY_ENV, KEY)
        run(tmp_path, url, encrypt=True)
        try:
            assert cli("project", "--journal", url, "--projection", "orders", "--once") == 0
            assert f"{table}_proj_orders" in capsys.readouterr().out
            with psycopg.connect(host=HOST, port=PORT, user="postgres", dbname=DB) as conn:
                statuses = [s for (s,) in conn.execute(f"SELECT status FROM {table}_proj_orders").fetchall()]
            assert statuses and set(statuses) == {"FILLED"}
            monkeypatch.delenv(KEY_ENV)
            assert cli("project", "--journal", url, "--projection", "positions", "--once") == 2
            assert f"is encrypted: set {KEY_ENV} to its key" in capsys.readouterr().err
        finally:
            with psycopg.connect(host=HOST, port=PORT, user="postgres", dbname=DB, autocommit=True) as conn:
                conn.execute(f"DROP TABLE IF EXISTS {table}_proj_orders, {table}_proj_positions, {table}_proj_position")
