"""Journal verification: density, envelope, hash chain and canonical encoding.

Streams every record once (memory bounded by the reader's page size) and stops at the
first record that fails, naming its sequence number. Checks, per record ``n``:

1. density: the record at position ``n`` exists, and ``originator_version == rowid == n``;
2. the stored envelope is well-formed;
3. the stored hash equals ``link(hash of n-1, n, topic, event bytes)``, chained from genesis;
4. the event bytes decode under the record's topic (an encrypted journal's record must first
   decrypt: AES-GCM's tag fails on any altered byte);
5. re-encoding the decoded event gives the identical bytes (the record is canonical).

The digest (the last record's hash) commits to the whole journal; comparing it with a
digest kept elsewhere is what detects a journal truncated or rewritten from some seq on.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import msgspec
from eventsourcing.persistence import PersistenceError

from engine.journal.chain import GENESIS, EnvelopeError, link, unwrap
from engine.journal.store import DEFAULT_PAGE_SIZE, JournalError, JournalReader, StoredRecord, UndecryptableRecord
from journal_schema.catalogue import UPCASTERS
from journal_schema.codec import UnknownTopicError, decode_topic, encode


@dataclass(frozen=True, slots=True)
class VerifyResult:
    records: int  # records that passed every check
    digest: bytes  # chain hash of the last record that passed (genesis if none)
    bad_seq: int | None = None  # first record that failed
    problem: str | None = None  # what failed there

    @property
    def ok(self) -> bool:
        return self.bad_seq is None


class _Failed(Exception):
    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


def _check(record: StoredRecord, expected: int, prev: bytes) -> bytes:
    """Check one record; return its hash or raise _Failed."""
    if record.rowid != expected:
        raise _Failed(f"record {expected} is missing (the next stored record is {record.rowid})")
    if record.seq != expected:
        raise _Failed(f"stored sequence number {record.seq} at position {expected}")
    if not isinstance(record.state, bytes):
        raise _Failed("malformed envelope: stored state is not a byte string")
    try:
        stored, payload = unwrap(record.state)
    except EnvelopeError as exc:
        raise _Failed(f"malformed envelope: {exc}") from None
    computed = link(prev, expected, record.topic.encode(), payload)
    if computed != stored:
        raise _Failed(f"hash mismatch: stored {stored.hex()}, recomputed {computed.hex()}")
    try:
        event = decode_topic(record.topic, payload)
    except (UnknownTopicError, msgspec.DecodeError) as exc:
        raise _Failed(f"event does not decode as {record.topic}: {exc}") from None
    if encode(event) != payload and not _canonical_old_version(record.topic, payload):
        raise _Failed("event is not canonical: re-encoding it gives different bytes")
    return computed


def _canonical_old_version(topic: str, payload: bytes) -> bool:
    """A record of an older event version decodes through its upcaster into the current type, whose
    bytes differ; it is canonical when its own JSON is compact and in the order it was written (a
    generic decode keeps the order, so re-encoding it gives the same bytes)."""
    return topic in UPCASTERS and msgspec.json.encode(msgspec.json.decode(payload)) == payload


def verify_records(records: Iterable[StoredRecord]) -> VerifyResult:
    """Verify a stream of records in journal order, starting at seq 1."""
    prev, count = GENESIS, 0
    try:
        for record in records:
            try:
                prev = _check(record, count + 1, prev)
            except _Failed as failed:
                return VerifyResult(count, prev, count + 1, failed.problem)
            count += 1
    except UndecryptableRecord as exc:  # an encrypted journal's record that was altered (or is another key's)
        return VerifyResult(count, prev, exc.seq, str(exc))
    return VerifyResult(count, prev)


def verify_journal(path: str | Path, *, page_size: int = DEFAULT_PAGE_SIZE, key: str | None = None) -> VerifyResult:
    """Verify a stored journal. Raises JournalError when it cannot be opened as one. ``key``: the
    cipher key of an encrypted journal (None: ``ENGINE_CIPHER_KEY``)."""
    try:
        reader = JournalReader(path, page_size=page_size, key=key)
    except (PersistenceError, sqlite3.Error) as exc:
        raise JournalError(f"cannot read journal {path}: {exc}") from exc
    with reader:
        return verify_records(reader.records())
