"""The sha256 hash chain and the stored record envelope.

Each stored record's ``state`` is the JSON envelope
``{"hash":"<64 hex>","event":<canonical event JSON>}`` and
``hash = sha256(prev_hash || seq as 8-byte big-endian || topic || 0x00 || event bytes)``,
with ``prev_hash`` of the first record being 32 zero bytes. A change to any stored byte
of record ``n`` (its event, its hash or its topic) makes record ``n`` fail verification.
"""

from __future__ import annotations

import hashlib
from binascii import hexlify as _hexlify

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
