"""The journal: one append-only, hash-chained event stream in an eventsourcing recorder.

Storage goes through ``eventsourcing``'s ``SQLiteApplicationRecorder`` with the msgspec
transcoder of ``engine.journal.transcoder``: every event is a
stored event of the single originator ``"journal"`` whose ``originator_version`` is the
journal sequence number, equal to the recorder's notification id (SQLite rowid), so the
global order is dense and starts at 1. Triggers refuse UPDATE and DELETE. The schema objects are
made by the numbered migrations of ``engine.journal.migrations`` (a new journal runs them all; an
existing one must be at the latest version to be opened). A journal named
``postgresql://...`` is stored the same way in PostgreSQL (``engine.journal.pg``): the same
records, bytes and chain, so the same inputs give the same digest on both. Both stores are in
``engine.journal.backends``; either may hold its records encrypted (``engine.journal.cipher``), which
the reader and writer take care of, so the chain and digest are the plaintext's.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path

from eventsourcing.persistence import PersistenceError

from engine.journal import cipher, pg, target
from engine.journal.backends import (
    ORIGINATOR,
    ROWS_PER_INSERT,
    TABLE,
    PgStore,
    Row,
    SqliteStore,
    Store,
    StoredRecord,
    UndecryptableRecord,
)
from engine.journal.chain import GENESIS, link, seal_batch, unwrap
from engine.journal.errors import JournalError
from engine.journal.lock import WriterLock
from engine.journal.transcoder import TRANSCODER
from journal_schema.events import Event

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "ROWS_PER_INSERT",
    "TABLE",
    "JournalError",
    "JournalReader",
    "JournalWriter",
    "StoredRecord",
    "UndecryptableRecord",
    "journal_name",
]

DEFAULT_PAGE_SIZE = 10_000
WRITER_CACHE_KIB = 65_536


def _location(url: str) -> pg.PgLocation:
    try:
        return pg.PgLocation(url)
    except pg.PgJournalError as exc:
        raise JournalError(str(exc)) from None


def journal_name(path: str | Path) -> str | Path:
    """A Postgres address stays text (``Path`` would fold its ``//``); anything else is a file path."""
    return path if pg.is_postgres(path) else Path(path)


def _delete_journal_files(journal: Path) -> None:
    """``--replace``: delete a journal of this engine (checked by the caller, under its writer lock) with
    SQLite's files and the journal's operator inbox; an inbox that is not one is refused, untouched."""
    inbox = target.inbox_path(journal)
    problem = target.inbox_problem(inbox)
    if problem is not None:
        raise target.PathRefused(f"--replace refused: {problem}")
    for name in (journal, inbox):
        for suffix in ("", "-wal", "-shm"):
            Path(f"{name}{suffix}").unlink(missing_ok=True)


class JournalReader:
    """Streams records in pages; memory is bounded by the page size."""

    def __init__(self, path: str | Path, *, page_size: int = DEFAULT_PAGE_SIZE, key: str | None = None) -> None:
        """``key``: the cipher key of an encrypted journal; None takes ``ENGINE_CIPHER_KEY``."""
        self.path = journal_name(path)
        self.page_size = page_size
        if isinstance(self.path, str):
            self._store: Store = PgStore(_location(self.path), create=False)
        else:  # read-only: a file that is not a journal of this engine is refused untouched
            self._store = SqliteStore(target.existing_journal_file(self.path, write=False), write=False)
        try:
            self._store.use_cipher(key if key is not None else cipher.key_from_env(), encrypt=False)
        except JournalError:
            self._store.close()
            raise

    @property
    def encrypted(self) -> bool:
        return self._store.cipher is not None

    def last_seq(self) -> int:
        return self._store.max_seq()

    def records(self, start: int = 1, stop: int | None = None) -> Iterator[StoredRecord]:
        """Records with ``start <= seq <= stop`` in journal order."""
        next_id = start
        while True:
            page = self._store.page(next_id, self.page_size, stop)
            if not page:
                return
            if self._store.cipher is None:
                yield from page
            else:  # one at a time, so the records before an undecryptable one are still read
                yield from map(self._store.opened, page)
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

    def __init__(
        self, path: str | Path, *, replace: bool = False, encrypt: bool = False, key: str | None = None
    ) -> None:
        """Open (or create) a journal for appending. ``replace`` deletes an existing journal and
        its operator inbox (``<journal>.inbox``: commands queued for the old journal must not reach
        the new one) first, only after taking the writer lock, so a journal being written is never removed.
        ``encrypt`` makes a new journal encrypted (``engine.journal.cipher``); an encrypted journal stays
        encrypted whatever is asked. ``key``: its cipher key; None takes ``ENGINE_CIPHER_KEY``."""
        self.path = journal_name(path)
        self.created = False  # this writer made the journal (it did not exist, or --replace deleted it)
        self._lock: WriterLock | pg.PgWriterLock
        if isinstance(self.path, str):
            self._lock = self._open_pg(self.path, replace)
        else:
            self._lock = self._open_sqlite(self.path, replace)
        try:
            self._store.use_cipher(key if key is not None else cipher.key_from_env(), encrypt=encrypt)
            head_seq, head_hash = self._read_head()
        except (JournalError, PersistenceError, sqlite3.Error, OSError):
            self._store.close()
            self._remove_if_made()  # e.g. encryption asked without a key: no empty journal is left behind
            self._lock.release()
            raise
        # appended records go staged (encoded) -> sealed (chained rows) -> committed
        self.last_seq = self.committed_seq = self._sealed_seq = head_seq
        self._sealed_hash = head_hash
        self._staged: list[tuple[str, bytes, bytes]] = []  # (topic, topic bytes, payload)
        self._sealed: list[Row] = []
        self._broken = False

    def _open_sqlite(self, path: Path, replace: bool) -> WriterLock:
        # a foreign file is refused before anything is made next to it; the lock is beside the real file
        real, _ = target.journal_to_write(path)
        lock = WriterLock(real).acquire()
        try:
            real, exists = target.journal_to_write(path)  # again, under the lock
            if replace and exists:
                _delete_journal_files(real)
                exists = False
            store = SqliteStore(real, write=True, new=not exists)
            with store.recorder.datastore.get_connection(commit=True) as conn:
                conn.cursor().execute(f"PRAGMA cache_size = -{WRITER_CACHE_KIB}")  # fewer page spills per batch
        except (JournalError, PersistenceError, sqlite3.Error, OSError):
            lock.release()
            raise
        self._store: Store = store
        self.created = not exists
        return lock

    def _open_pg(self, url: str, replace: bool) -> pg.PgWriterLock:
        loc = _location(url)
        try:
            lock = pg.PgWriterLock(loc).acquire()
        except pg.PgJournalError as exc:
            raise JournalError(str(exc)) from None
        try:
            self._store = PgStore(loc, create=True, replace=replace)
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
    def encrypted(self) -> bool:
        return self._store.cipher is not None

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

    def discard(self) -> None:
        """Close after a failure: what was appended is committed (a prefix of a journal verifies), except
        that a journal file this writer made and never committed to is deleted, so a run that failed before
        its start leaves no journal behind. (A Postgres journal made that way stays, holding no records.)"""
        try:
            if self.last_seq > self.committed_seq and not self._broken:
                self.flush()
        finally:
            self._store.close()
            if self.committed_seq == 0:
                self._remove_if_made()
            self._lock.release()

    def _remove_if_made(self) -> None:
        if self.created and isinstance(self.path, Path):
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.path.resolve()}{suffix}").unlink(missing_ok=True)

    def __enter__(self) -> JournalWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
