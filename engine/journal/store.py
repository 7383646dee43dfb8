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
the reader and writer take care of, so the chain and digest are the plaintext's. Which store a journal
is in is its address's business (``engine.journal.address``); reading is ``engine.journal.read``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from eventsourcing.persistence import PersistenceError

from engine.journal import cipher
from engine.journal.address import JournalAddress, JournalLike, parse
from engine.journal.backends import ORIGINATOR, ROWS_PER_INSERT, TABLE, Row, Store
from engine.journal.chain import GENESIS, StoredRecord, seal_batch, stored_hash, walk
from engine.journal.errors import JournalError
from engine.journal.read import DEFAULT_PAGE_SIZE, JournalReader
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
]


class JournalWriter:
    """The only writer of a journal. Appends are staged and committed by ``flush``.

    An input and everything derived from it are staged by one ``append`` call and so
    always land in the same transaction. ``flush`` commits every staged group in one
    transaction; callers must flush before any side effect visible outside the process.
    """

    def __init__(
        self, journal: JournalLike, *, replace: bool = False, encrypt: bool = False, key: str | None = None
    ) -> None:
        """Open (or create) a journal for appending. ``replace`` deletes an existing journal and
        its operator inbox (``<journal>.inbox``: commands queued for the old journal must not reach
        the new one) first, only after taking the writer lock, so a journal being written is never removed.
        ``encrypt`` makes a new journal encrypted (``engine.journal.cipher``); an encrypted journal stays
        encrypted whatever is asked. ``key``: its cipher key; None takes ``ENGINE_CIPHER_KEY``."""
        self.address: JournalAddress = parse(journal)
        # created: this writer made the journal (it did not exist, or --replace deleted it)
        self._lock, self._store, self.created = self.address.open_for_writing(replace=replace)
        try:
            self._store.use_cipher(key if key is not None else cipher.key_from_env(), encrypt=encrypt)
            head_seq, head_hash = _head(self._store)
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

    def append(self, events: Sequence[Event]) -> int:
        """Stage one causal group (an input and its derived events); returns the last seq."""
        if self._broken:
            raise JournalError("journal writer is unusable after a failed commit; reopen it")
        if len(events) == 1:  # an input that derived nothing: most groups
            self._staged.append(TRANSCODER.encode_one(events[0]))
            self.last_seq += 1
            return self.last_seq
        items = TRANSCODER.encode_group(events)  # all or nothing
        self._staged += items
        self.last_seq += len(items)
        return self.last_seq

    def append_stored(self, records: Sequence[StoredRecord]) -> int:
        """Append records exactly as another journal stores them (``engine journal copy``): each must
        continue this journal's sequence and chain (``chain.walk``: its stored hash is recomputed and
        compared, ``RecordError`` otherwise), so the copy holds the same bytes and reaches the same digest.
        Staged like ``append``; returns the last seq."""
        if self._broken:
            raise JournalError("journal writer is unusable after a failed commit; reopen it")
        if self._staged:
            self._seal()
        seq, prev, rows = self._sealed_seq, self._sealed_hash, []
        for rec, linked in zip(
            records, walk(records, prev=self._sealed_hash, first=self._sealed_seq + 1), strict=False
        ):
            rows.append((ORIGINATOR, rec.seq, rec.topic, rec.state))
            seq, prev = linked.seq, linked.hash
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
        if self.created:
            self.address.remove_made()

    def __enter__(self) -> JournalWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _head(store: Store) -> tuple[int, bytes]:
    """Where a writer resumes: the last record's seq and hash, the record checked to chain from the hash
    of the one before it (``chain.walk``), so nothing is ever chained onto a record that was altered."""
    last = store.max_seq()
    if last == 0:
        return 0, GENESIS
    first = max(1, last - 1)
    rows = [store.opened(record) for record in store.page(first, 2, last)]
    prev = GENESIS
    if first < last and rows[0].rowid == first:  # else record 1 is the head, or the record before it is missing
        prev, rows, first = stored_hash(rows[0]), rows[1:], last
    *_, head = walk(rows, prev=prev, first=first)
    return last, head.hash
