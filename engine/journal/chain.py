"""The sha256 hash chain and the stored record envelope.

Each stored record's ``state`` is the JSON envelope
``{"hash":"<64 hex>","event":<canonical event JSON>}`` and
``hash = sha256(prev_hash || seq as 8-byte big-endian || topic || 0x00 || event bytes)``,
with ``prev_hash`` of the first record being 32 zero bytes. A change to any stored byte
of record ``n`` (its event, its hash or its topic) makes record ``n`` fail verification.

``walk`` is the one walk along the chain: ``engine verify``, ``engine replay``, ``engine journal copy``
(``JournalWriter.append_stored``), the writer's resume at its head and the projection workers all
check records with it.
"""

from __future__ import annotations

import hashlib
from binascii import hexlify as _hexlify
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import NamedTuple

from engine.journal.errors import RecordError

GENESIS = bytes(32)
_PREFIX = b'{"hash":"'
_MIDDLE = b'","event":'
_SUFFIX = b"}"
_HASH_START = len(_PREFIX)
_HASH_END = _HASH_START + 64
_EVENT_START = _HASH_END + len(_MIDDLE)
_sha256 = hashlib.sha256


class EnvelopeError(ValueError):
    """Stored bytes are not a well-formed record envelope."""


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """One record as stored: its sequence, the store's row id, its topic and its envelope bytes."""

    seq: int
    rowid: int
    topic: str
    state: bytes


class Linked(NamedTuple):
    """A record whose stored hash chains from the record before it."""

    seq: int
    topic: str
    payload: bytes  # the canonical event bytes
    hash: bytes  # its chain hash (the stored one, which equals the recomputed one)


def link(prev_hash: bytes, seq: int, topic: bytes, payload: bytes) -> bytes:
    """The chain hash of one record."""
    return _sha256(prev_hash + seq.to_bytes(8, "big") + topic + b"\x00" + payload).digest()


def seal_batch(
    prev_hash: bytes, first_seq: int, originator: str, items: list[tuple[str, bytes, bytes]]
) -> tuple[bytes, list[tuple[str, int, str, bytes]]]:
    """``link`` and ``wrap`` over a batch of (topic, topic bytes, payload) in one tight loop
    (the writer's hot path). Returns the last hash and ``(originator, seq, topic, state)`` rows."""
    rows: list[tuple[str, int, str, bytes]] = []
    add = rows.append
    prev, seq = prev_hash, first_seq
    join, sha, hexlify = b"".join, _sha256, _hexlify
    for topic, topic_bytes, payload in items:
        prev = sha(prev + seq.to_bytes(8, "big") + topic_bytes + b"\x00" + payload).digest()
        add((originator, seq, topic, join((_PREFIX, hexlify(prev), _MIDDLE, payload, _SUFFIX))))
        seq += 1
    return prev, rows


def wrap(hash_: bytes, payload: bytes) -> bytes:
    return _PREFIX + hash_.hex().encode() + _MIDDLE + payload + _SUFFIX


def unwrap(state: bytes) -> tuple[bytes, bytes]:
    """Split an envelope into (stored hash, event payload bytes)."""
    if (
        len(state) < _EVENT_START + 2
        or not state.startswith(_PREFIX)
        or state[_HASH_END:_EVENT_START] != _MIDDLE
        or not state.endswith(_SUFFIX)
    ):
        raise EnvelopeError("record envelope is malformed")
    try:
        stored = bytes.fromhex(state[_HASH_START:_HASH_END].decode("ascii"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise EnvelopeError("record hash is not 64 hex digits") from exc
    return stored, state[_EVENT_START:-1]


def _tampered(seq: int, problem: str, message: str | None = None) -> RecordError:
    return RecordError(seq, problem, category="TAMPERED", message=message)


def walk(records: Iterable[StoredRecord], *, prev: bytes = GENESIS, first: int = 1) -> Iterator[Linked]:
    """Each record, checked to be the next one (``first``, ``first + 1``, ... with no gap) and to chain
    from ``prev`` (the hash of record ``first - 1``; genesis before record 1). Raises ``RecordError``
    (``TAMPERED``) at the first record that is missing, out of place, malformed or whose stored hash is
    not the recomputed one, naming its sequence number; the records before it have been yielded."""
    expected = first
    for record in records:
        if record.rowid != expected:
            problem = f"record {expected} is missing (the next stored record is {record.rowid})"
            raise _tampered(expected, problem, problem)
        if record.seq != expected:
            raise _tampered(expected, f"stored sequence number {record.seq} at position {expected}")
        state = record.state
        if not isinstance(state, bytes):
            raise _tampered(expected, "malformed envelope: stored state is not a byte string")
        try:
            stored, payload = unwrap(state)
        except EnvelopeError as exc:
            raise _tampered(expected, f"malformed envelope: {exc}") from None
        computed = _sha256(prev + expected.to_bytes(8, "big") + record.topic.encode() + b"\x00" + payload).digest()
        if computed != stored:
            raise _tampered(expected, f"hash mismatch: stored {stored.hex()}, recomputed {computed.hex()}")
        yield Linked(expected, record.topic, payload, computed)
        prev = computed
        expected += 1


def stored_hash(record: StoredRecord) -> bytes:
    """The hash a record's envelope holds (not checked); ``RecordError`` when the envelope is malformed."""
    try:
        return unwrap(record.state)[0]
    except EnvelopeError as exc:
        raise _tampered(record.seq, f"malformed envelope: {exc}") from None
