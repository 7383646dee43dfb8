"""The two stores of a journal (SQLite file, Postgres table) behind the few operations the reader and
writer need, and the encryption of records at rest (``engine.journal.cipher``) on top of either.

SQLite goes through ``eventsourcing``'s ``SQLiteApplicationRecorder`` (``JournalRecorder``, with
batched inserts), Postgres through its ``PostgresApplicationRecorder`` (``engine.journal.pg``). Each
store reads and writes record bytes as they are meant (plaintext); with a cipher it encrypts them
on the way in and decrypts them on the way out, so nothing above this module sees ciphertext.
"""

from __future__ import annotations

import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from itertools import chain
from pathlib import Path
from typing import Any

import psycopg
from eventsourcing.persistence import PersistenceError, StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor, SQLiteDatastore

from engine.journal import migrations, migrations_pg, migrations_sqlite, pg
from engine.journal.chain import StoredRecord
from engine.journal.cipher import CipherError, JournalCipher, open_cipher
from engine.journal.errors import JournalError, RecordError, first_line
from engine.journal.migrations import SETTINGS_TABLE
from engine.journal.uris import read_only_uri

TABLE = migrations.TABLE
ORIGINATOR = "journal"

Row = tuple[str, int, str, bytes]  # (originator_id, originator_version, topic, state)

ROWS_PER_INSERT = 64


class JournalRecorder(SQLiteApplicationRecorder):
    """The library's application recorder with batched inserts (``executemany`` of 64-row INSERT
    statements): the library's version executes row by row to collect rowids, which we already
    know because our sequence is dense. Its table and append-only triggers are made by
    ``engine.journal.migrations``, never by the library's ``create_table``.
    """

    def __init__(self, datastore: SQLiteDatastore, events_table_name: str = TABLE) -> None:
        super().__init__(datastore, events_table_name)
        self._multi_insert = f"INSERT INTO {self.events_table_name} VALUES " + ",".join(["(?,?,?,?)"] * ROWS_PER_INSERT)

    def _insert_events(self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **_: Any) -> Sequence[int] | None:
        self._insert_rows(c, [(str(s.originator_id), s.originator_version, s.topic, s.state) for s in stored_events])
        return None

    def insert_rows(self, rows: Sequence[Row]) -> None:
        """Insert ``(originator_id, originator_version, topic, state)`` rows in one transaction.
        The hot path: the writer stages plain tuples instead of StoredEvent objects."""
        with self.datastore.transaction(commit=True) as c:
            self._insert_rows(c, rows)

    def select_records(self, start: int, limit: int, stop: int | None) -> list[StoredRecord]:
        """A page of records with ``start <= rowid <= stop``. Like ``select_notifications``
        but without a Notification object per row (a third of replay time)."""
        # CAST: a value stored as TEXT (an edit by hand) still reads as its bytes, for verify to judge
        sql = f"SELECT rowid, originator_version, topic, CAST(state AS BLOB) FROM {TABLE} WHERE rowid >= ? "
        params: list[int] = [start]
        if stop is not None:
            sql += "AND rowid <= ? "
            params.append(stop)
        params.append(limit)
        with self.datastore.transaction(commit=False) as c:
            c.execute(sql + "ORDER BY rowid LIMIT ?", params)
            return [StoredRecord(r[1], r[0], r[2], r[3]) for r in c.fetchall()]

    def settings(self) -> dict[str, bytes]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT key, value FROM {SETTINGS_TABLE}")
            return {str(k): bytes(v) for k, v in c.fetchall()}

    def add_settings(self, settings: Mapping[str, bytes]) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.executemany(f"INSERT INTO {SETTINGS_TABLE} (key, value) VALUES (?, ?)", list(settings.items()))

    def _insert_rows(self, c: SQLiteCursor, rows: Sequence[Row]) -> None:
        if not rows:
            return
        # 64 rows per INSERT statement: one sqlite3_step per 64 rows instead of per row
        # (+40% rows/s on this table layout); the remainder goes row by row.
        full = len(rows) - len(rows) % ROWS_PER_INSERT
        if full:
            flat = list(chain.from_iterable(rows[:full]))
            width = 4 * ROWS_PER_INSERT
            c.executemany(self._multi_insert, [flat[i : i + width] for i in range(0, len(flat), width)])
        if full < len(rows):
            c.executemany(self.insert_events_statement, rows[full:])
        c.execute(f"SELECT MAX(rowid) FROM {TABLE}")
        last_rowid = c.fetchone()[0]
        expected = rows[-1][1]
        if last_rowid != expected:
            raise JournalError(f"journal sequence is not dense: rowid {last_rowid} != sequence {expected}")


class ReadOnlyDatastore(SQLiteDatastore):
    """The library's datastore on a ``mode=ro`` URI: a reader can write nothing, and the file is never
    switched to WAL (the library switches a file on its first connection unless it is known to be WAL)."""

    def __init__(self, path: Path) -> None:
        super().__init__(read_only_uri(path), pool_size=1, max_overflow=2, originator_id_type="text")
        self.pool.is_journal_mode_wal = True  # a reader leaves the journal mode as it is


def _open_recorder(path: Path, *, write: bool, new: bool = False) -> JournalRecorder:
    """A recorder of the journal file ``path`` (checked by ``engine.journal.target`` first): a writer's
    (``write``; ``new`` makes the journal through the migrations) or a reader's (read-only)."""
    if write:
        migrations_sqlite.prepare_sqlite(path, new=new)
    if write:
        datastore = SQLiteDatastore(str(path), pool_size=1, max_overflow=2, originator_id_type="text")
    else:
        datastore = ReadOnlyDatastore(path)
    recorder = JournalRecorder(datastore, events_table_name=TABLE)
    try:
        with datastore.transaction(commit=False) as c:
            status = migrations_sqlite.sqlite_status(c, str(path))
            if not status.exists and status.foreign is None:
                raise JournalError(
                    f"{path} holds no journal (its events table was dropped): `engine migrate up "
                    f"--journal {path}` makes it again"
                )
            problem = migrations.version_error(status)
            if problem:
                raise JournalError(problem)
    except (PersistenceError, sqlite3.DatabaseError) as exc:
        datastore.close()
        raise JournalError(f"{path} is not a readable SQLite journal: {exc}") from None
    except JournalError:
        datastore.close()
        raise
    return recorder  # a writer keeps SQLite's default page cache (2 MiB): it holds a batch


class Store(ABC):
    """A journal's records, settings and cipher, whichever database holds them."""

    name: str
    cipher: JournalCipher | None = None

    def use_cipher(self, key: str | None, *, encrypt: bool) -> None:
        """Take the journal's cipher (see ``cipher.open_cipher``); a writer asking to ``encrypt`` a new
        journal writes its settings. Raises ``JournalError`` with the reason on any mismatch."""
        self.cipher, add = open_cipher(self.name, self._settings(), key, encrypt=encrypt, records=self.max_seq())
        if add:
            self._add_settings(add)

    @abstractmethod
    def max_seq(self) -> int: ...

    def state_of(self, seq: int) -> bytes:
        return self._open(seq, self._state_of(seq))

    def page(self, start: int, limit: int, stop: int | None) -> list[StoredRecord]:
        """Records as stored: still encrypted when the journal is (``opened`` decrypts one)."""
        return self._page(start, limit, stop)

    def opened(self, record: StoredRecord) -> StoredRecord:
        """The record with its plaintext bytes; ``RecordError`` (``UNDECRYPTABLE``) when they cannot be decrypted."""
        return StoredRecord(record.seq, record.rowid, record.topic, self._open(record.seq, record.state))

    def insert_rows(self, rows: Sequence[Row]) -> None:
        cipher = self.cipher
        self._insert_rows(rows if cipher is None else [(o, v, t, cipher.encrypt(s)) for o, v, t, s in rows])

    def _open(self, seq: int, state: bytes) -> bytes:
        if self.cipher is None:
            return state
        try:
            return self.cipher.decrypt(state, f"record {seq} of {self.name}")
        except CipherError as exc:
            raise RecordError(seq, str(exc), category="UNDECRYPTABLE", message=str(exc)) from None

    @abstractmethod
    def _settings(self) -> dict[str, bytes]: ...

    @abstractmethod
    def _add_settings(self, settings: Mapping[str, bytes]) -> None: ...

    @abstractmethod
    def _state_of(self, seq: int) -> bytes: ...

    @abstractmethod
    def _page(self, start: int, limit: int, stop: int | None) -> list[StoredRecord]: ...

    @abstractmethod
    def _insert_rows(self, rows: Sequence[Row]) -> None: ...

    @abstractmethod
    def close(self) -> None: ...


class SqliteStore(Store):
    """The SQLite file of a journal, for a writer (``write``; ``new``: make it) or a reader (read-only)."""

    def __init__(self, path: Path, *, write: bool, new: bool = False) -> None:
        self.name = str(path)
        self.recorder = _open_recorder(path, write=write, new=new)

    def max_seq(self) -> int:
        return int(self.recorder.max_notification_id() or 0)

    def _settings(self) -> dict[str, bytes]:
        return self.recorder.settings()

    def _add_settings(self, settings: Mapping[str, bytes]) -> None:
        self.recorder.add_settings(settings)

    def _state_of(self, seq: int) -> bytes:
        (n,) = self.recorder.select_notifications(seq, 1)
        return bytes(n.state)

    def _page(self, start: int, limit: int, stop: int | None) -> list[StoredRecord]:
        return self.recorder.select_records(start, limit, stop)

    def _insert_rows(self, rows: Sequence[Row]) -> None:
        self.recorder.insert_rows(rows)

    def close(self) -> None:
        self.recorder.datastore.close()


class PgStore(Store):
    """A Postgres journal (``engine.journal.pg``): a writer's (``create``: made through the migrations when
    new, after dropping the old one when ``replace``) or a reader's (read-only; at the latest version)."""

    def __init__(self, loc: pg.PgLocation, *, create: bool, replace: bool = False) -> None:
        self.name = str(loc)
        migrations_pg.prepare(loc, create=create, replace=replace)
        self.recorder = pg.open_recorder(loc, write=create)

    def max_seq(self) -> int:
        return self.recorder.max_seq()

    def _settings(self) -> dict[str, bytes]:
        return self.recorder.settings()

    def _add_settings(self, settings: Mapping[str, bytes]) -> None:
        self.recorder.add_settings(settings)

    def _state_of(self, seq: int) -> bytes:
        return self.recorder.state_of(seq)

    def _page(self, start: int, limit: int, stop: int | None) -> list[StoredRecord]:
        return [StoredRecord(seq, seq, topic, state) for seq, topic, state in self.recorder.rows(start, limit, stop)]

    def _insert_rows(self, rows: Sequence[Row]) -> None:
        try:
            self.recorder.insert_rows(rows)
        except psycopg.Error as exc:
            raise JournalError(first_line(exc)) from None

    def close(self) -> None:
        self.recorder.datastore.close()
