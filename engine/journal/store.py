"""The journal: one append-only, hash-chained event stream in an eventsourcing recorder.

Storage goes through ``eventsourcing``'s ``SQLiteApplicationRecorder`` with the msgspec
transcoder of ``engine.journal.transcoder``: every event is a
stored event of the single originator ``"journal"`` whose ``originator_version`` is the
journal sequence number, equal to the recorder's notification id (SQLite rowid), so the
global order is dense and starts at 1. Triggers refuse UPDATE and DELETE. The schema objects are
made by the numbered migrations of ``engine.journal.migrations`` (a new journal runs them all; an
existing one must be at the latest version to be opened). A journal named
``postgresql://...`` is stored the same way in PostgreSQL (``engine.journal.pg``): the same
records, bytes and chain, so the same inputs give the same digest on both.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any

import psycopg
from eventsourcing.persistence import PersistenceError, StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor, SQLiteDatastore

from engine.journal import migrations, pg
from engine.journal.chain import GENESIS, link, seal_batch, unwrap
from engine.journal.lock import WriterLock
from engine.journal.transcoder import TRANSCODER
from journal_schema.events import Event

TABLE = migrations.TABLE
ORIGINATOR = "journal"
DEFAULT_PAGE_SIZE = 10_000
WRITER_CACHE_KIB = 65_536


Row = tuple[str, int, str, bytes]  # (originator_id, originator_version, topic, state)


class JournalError(RuntimeError):
    """The journal cannot be opened or written as asked."""


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """One record as stored: its sequence, topic, hash and canonical event bytes."""

    seq: int
    rowid: int
    topic: str
    state: bytes


ROWS_PER_INSERT = 64


class JournalRecorder(SQLiteApplicationRecorder):
    """The library's application recorder with batched inserts (``executemany`` of 64-row INSERT
    statements): the library's version executes row by row to collect rowids, which we already
    know because our sequence is dense. Its table and append-only triggers are made by
    ``engine.journal.migrations``, never by the library's ``create_table``.
    """

    def __init__(self, datastore: SQLiteDatastore, events_table_name: str = TABLE) -> None:
        super().__init__(datastore, events_table_name)
        self._multi_insert = f"INSERT INTO {self.events_table_name} VALUES " + ",".join(
            ["(?,?,?,?)"] * ROWS_PER_INSERT
        )

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **_: Any
    ) -> Sequence[int] | None:
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
        sql = f"SELECT rowid, originator_version, topic, state FROM {TABLE} WHERE rowid >= ? "
        params: list[int] = [start]
        if stop is not None:
            sql += "AND rowid <= ? "
            params.append(stop)
        params.append(limit)
        with self.datastore.transaction(commit=False) as c:
            c.execute(sql + "ORDER BY rowid LIMIT ?", params)
            return [StoredRecord(r[1], r[0], r[2], r[3]) for r in c.fetchall()]

    def _insert_rows(self, c: SQLiteCursor, rows: Sequence[Row]) -> None:
        if not rows:
            return
        # 64 rows per INSERT statement: one sqlite3_step per 64 rows instead of per row
        # (+40% rows/s on this table layout); the remainder goes row by row.
        full = len(rows) - len(rows) % ROWS_PER_INSERT
        if full:
            flat = list(chain.from_iterable(rows[:full]))
            width = 4 * ROWS_PER_INSERT
            c.executemany(self._multi_insert, [flat[i:i + width] for i in range(0, len(flat), width)])
        if full < len(rows):
            c.executemany(self.insert_events_statement, rows[full:])
        c.execute(f"SELECT MAX(rowid) FROM {TABLE}")
        last_rowid = c.fetchone()[0]
        expected = rows[-1][1]
        if last_rowid != expected:
            raise JournalError(f"journal sequence is not dense: rowid {last_rowid} != sequence {expected}")


def _open_recorder(path: Path, *, create: bool) -> JournalRecorder:
    if not create and not path.exists():
        raise JournalError(f"journal not found: {path}")
    try:
        if create:
            migrations.prepare_sqlite(path)  # a new journal is made by the migrations
    except migrations.MigrationError as exc:
        raise JournalError(str(exc)) from None
    datastore = SQLiteDatastore(str(path), pool_size=1, max_overflow=2, originator_id_type="text")
    recorder = JournalRecorder(datastore, events_table_name=TABLE)
    try:
        with datastore.transaction(commit=False) as c:
            status = migrations.sqlite_status(c, str(path))
            if not status.exists:
                raise JournalError(f"{path} is not a journal (no table {TABLE!r})")
            problem = migrations.version_error(status)
            if problem:
                raise JournalError(problem)
    except (PersistenceError, sqlite3.DatabaseError) as exc:
        datastore.close()
        raise JournalError(f"{path} is not a readable SQLite journal: {exc}") from None
    except JournalError:
        datastore.close()
        raise
    return recorder


class _SqliteStore:
    """The SQLite file of a journal, behind the few operations the reader and writer need."""

    def __init__(self, path: Path, *, create: bool) -> None:
        self.recorder = _open_recorder(path, create=create)

    def max_seq(self) -> int:
        return int(self.recorder.max_notification_id() or 0)

    def state_of(self, seq: int) -> bytes:
        (n,) = self.recorder.select_notifications(seq, 1)
        return bytes(n.state)

    def page(self, start: int, limit: int, stop: int | None) -> list[StoredRecord]:
        return self.recorder.select_records(start, limit, stop)

    def insert_rows(self, rows: Sequence[Row]) -> None:
        self.recorder.insert_rows(rows)

    def close(self) -> None:
        self.recorder.datastore.close()


class _PgStore:
    """A Postgres journal (``engine.journal.pg``) behind the same operations."""

    def __init__(self, loc: pg.PgLocation, *, create: bool, replace: bool = False) -> None:
        try:
            self.recorder = pg.open_recorder(loc, create=create, replace=replace)
        except pg.PgJournalError as exc:
            raise JournalError(str(exc)) from None

    def max_seq(self) -> int:
        return self.recorder.max_seq()

    def state_of(self, seq: int) -> bytes:
        return self.recorder.state_of(seq)

    def page(self, start: int, limit: int, stop: int | None) -> list[StoredRecord]:
        return [StoredRecord(seq, seq, topic, state) for seq, topic, state in self.recorder.rows(start, limit, stop)]

    def insert_rows(self, rows: Sequence[Row]) -> None:
        try:
            self.recorder.insert_rows(rows)
        except (pg.PgJournalError, psycopg.Error) as exc:
            raise JournalError(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from None

    def close(self) -> None:
        self.recorder.datastore.close()


def _location(url: str) -> pg.PgLocation:
    try:
        return pg.PgLocation(url)
    except pg.PgJournalError as exc:
        raise JournalError(str(exc)) from None


def journal_name(path: str | Path) -> str | Path:
    """A Postgres address stays text (``Path`` would fold its ``//``); anything else is a file path."""
    return path if pg.is_postgres(path) else Path(path)


class JournalReader:
    """Streams records in pages; memory is bounded by the page size."""

    def __init__(self, path: str | Path, *, page_size: int = DEFAULT_PAGE_SIZE) -> None:
        self.path = journal_name(path)
        self.page_size = page_size
        if isinstance(self.path, str):
            self._store: _SqliteStore | _PgStore = _PgStore(_location(self.path), create=False)
        else:
            self._store = _SqliteStore(self.path, create=False)

    def last_seq(self) -> int:
        return self._store.max_seq()

    def records(self, start: int = 1, stop: int | None = None) -> Iterator[StoredRecord]:
        """Records with ``start <= seq <= stop`` in journal order."""
        next_id = start
        while True:
            page = self._store.page(next_id, self.page_size, stop)
            if not page:
                return
            yield from page
            next_id = page[-1].rowid + 1

    def close(self) -> None:
        self._store.close()

    def __enter__(self) -> JournalReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class JournalWriter:
    """The only writer of a journal. Appends are staged and committed by ``flush``.

    An input and everything derived from it are staged by one ``append`` call and so
    always land in the same transaction. ``flush`` commits every staged group in one
    transaction; callers must flush before any side effect visible outside the process.
    """

    def __init__(self, path: str | Path, *, replace: bool = False) -> None:
        """Open (or create) a journal for appending. ``replace`` deletes an existing journal and
        its operator inbox (``<journal>.inbox``: commands queued for the old journal must not reach
        the new one) first, only after taking the writer lock, so a journal being written is never removed."""
        self.path = journal_name(path)
        self._lock: WriterLock | pg.PgWriterLock
        if isinstance(self.path, str):
            self._lock = self._open_pg(self.path, replace)
        else:
            self._lock = self._open_sqlite(self.path, replace)
        try:
            head_seq, head_hash = self._read_head()
        except (JournalError, PersistenceError, sqlite3.Error, OSError):
            self._store.close()
            self._lock.release()
            raise
        # appended records go staged (encoded) -> sealed (chained rows) -> committed
        self.last_seq = self.committed_seq = self._sealed_seq = head_seq
        self._sealed_hash = head_hash
        self._staged: list[tuple[str, bytes, bytes]] = []  # (topic, topic bytes, payload)
        self._sealed: list[Row] = []
        self._broken = False

    def _open_sqlite(self, path: Path, replace: bool) -> WriterLock:
        lock = WriterLock(path).acquire()
        try:
            if replace:
                for suffix in ("", "-wal", "-shm", ".inbox", ".inbox-wal", ".inbox-shm"):
                    Path(f"{path}{suffix}").unlink(missing_ok=True)
            store = _SqliteStore(path, create=True)
            with store.recorder.datastore.get_connection(commit=True) as conn:
                conn.cursor().execute(f"PRAGMA cache_size = -{WRITER_CACHE_KIB}")  # fewer page spills per batch
        except (JournalError, PersistenceError, sqlite3.Error, OSError):
            lock.release()
            raise
        self._store: _SqliteStore | _PgStore = store
        return lock

    def _open_pg(self, url: str, replace: bool) -> pg.PgWriterLock:
        loc = _location(url)
        try:
            lock = pg.PgWriterLock(loc).acquire()
        except pg.PgJournalError as exc:
            raise JournalError(str(exc)) from None
        try:
            self._store = _PgStore(loc, create=True, replace=replace)
        except (JournalError, PersistenceError) as exc:
            lock.release()
            raise JournalError(str(exc)) from None
        return lock

    def _read_head(self) -> tuple[int, bytes]:
        last = self._store.max_seq()
        if last == 0:
            return 0, GENESIS
        stored_hash, _ = unwrap(self._store.state_of(last))
        return last, stored_hash

    def append(self, events: Sequence[Event]) -> int:
        """Stage one causal group (an input and its derived events); returns the last seq."""
        if self._broken:
            raise JournalError("journal writer is unusable after a failed commit; reopen it")
        items = TRANSCODER.encode_group(events)  # all or nothing
        self._staged += items
        self.last_seq += len(items)
        return self.last_seq

    def append_stored(self, records: Sequence[StoredRecord]) -> int:
        """Append records exactly as another journal stores them (``engine journal copy``): each must
        continue this journal's sequence and chain (its stored hash is recomputed and compared), so
        the copy holds the same bytes and reaches the same digest. Staged like ``append``; returns
        the last seq."""
        if self._broken:
            raise JournalError("journal writer is unusable after a failed commit; reopen it")
        if self._staged:
            self._seal()
        seq, prev, rows = self._sealed_seq, self._sealed_hash, []
        for rec in records:
            stored, payload = unwrap(rec.state)
            if rec.seq != seq + 1:
                raise JournalError(f"record {rec.seq} does not continue the journal at seq {seq + 1}")
            if link(prev, rec.seq, rec.topic.encode(), payload) != stored:
                raise JournalError(f"record {rec.seq}: its stored hash does not chain from the previous record")
            rows.append((ORIGINATOR, rec.seq, rec.topic, rec.state))
            seq, prev = rec.seq, stored
        self._sealed.extend(rows)
        self._sealed_seq = self.last_seq = seq
        self._sealed_hash = prev
        return seq

    @property
    def staged(self) -> int:
        """Records appended but not yet committed."""
        return self.last_seq - self.committed_seq

    @property
    def last_hash(self) -> bytes:
        """Chain hash of the last appended record (seals what is staged; does not commit)."""
        if self._staged:
            self._seal()
        return self._sealed_hash

    def _seal(self) -> None:
        staged, self._staged = self._staged, []
        self._sealed_hash, rows = seal_batch(self._sealed_hash, self._sealed_seq + 1, ORIGINATOR, staged)
        self._sealed_seq += len(staged)
        self._sealed.extend(rows)

    def flush(self) -> None:
        """Commit every staged group atomically (one transaction)."""
        if self._staged:
            self._seal()
        if not self._sealed:
            return
        batch, self._sealed = self._sealed, []
        try:
            self._store.insert_rows(batch)
        except (PersistenceError, sqlite3.Error, JournalError) as exc:
            self._broken = True
            raise JournalError(f"journal commit failed at seq {batch[0][1]}: {exc}") from exc
        self.committed_seq = batch[-1][1]

    def close(self) -> None:
        try:
            if not self._broken:
                self.flush()
        finally:
            self._store.close()
            self._lock.release()

    def __enter__(self) -> JournalWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
