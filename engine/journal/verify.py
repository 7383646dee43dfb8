"""Journal verification: density, envelope, hash chain and canonical encoding.

Streams every record once (memory bounded by the reader's page size) and stops at the
first record that fails, naming its sequence number. Checks 1-3 are the chain walk every reader
shares (``engine.journal.chain.walk``), 4 the one decoder (``engine.journal.read``); per record ``n``:

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

from collections.abc import Iterable
from dataclasses import dataclass

import msgspec

from engine.journal.address import JournalLike
from engine.journal.chain import GENESIS, StoredRecord, walk
from engine.journal.errors import RecordError
from engine.journal.read import DEFAULT_PAGE_SIZE, JournalReader, decode_payload
from journal_schema.catalogue import UPCASTERS
from journal_schema.codec import encode


@dataclass(frozen=True, slots=True)
class VerifyResult:
    records: int  # records that passed every check
    digest: bytes  # chain hash of the last record that passed (genesis if none)
    bad_seq: int | None = None  # first record that failed
    problem: str | None = None  # what failed there

    @property
    def ok(self) -> bool:
        return self.bad_seq is None


def _canonical_old_version(topic: str, payload: bytes) -> bool:
    """A record of an older event version decodes through its upcaster into the current type, whose
    bytes differ; it is canonical when its own JSON is compact and in the order it was written (a
    generic decode keeps the order, so re-encoding it gives the same bytes)."""
    return topic in UPCASTERS and msgspec.json.encode(msgspec.json.decode(payload)) == payload


def verify_records(records: Iterable[StoredRecord]) -> VerifyResult:
    """Verify a stream of records in journal order, starting at seq 1."""
    prev, count = GENESIS, 0
    try:
        for linked in walk(records):
            event = decode_payload(linked.seq, linked.topic, linked.payload)
            if encode(event) != linked.payload and not _canonical_old_version(linked.topic, linked.payload):
                return VerifyResult(
                    count, prev, linked.seq, "event is not canonical: re-encoding it gives different bytes"
                )
            prev, count = linked.hash, count + 1
    except RecordError as exc:  # out of place, off the chain, undecryptable (altered, or another key's), undecodable
        return VerifyResult(count, prev, exc.seq, exc.problem)
    return VerifyResult(count, prev)


def verify_journal(path: JournalLike, *, page_size: int = DEFAULT_PAGE_SIZE, key: str | None = None) -> VerifyResult:
    """Verify a stored journal. Raises JournalError when it cannot be opened as one. ``key``: the
    cipher key of an encrypted journal (None: ``ENGINE_CIPHER_KEY``)."""
    with JournalReader(path, page_size=page_size, key=key) as reader:
        return verify_records(reader.records())
