"""Canonical encoding: one encoder for everything stored or hashed.

msgspec JSON, struct fields in declaration order, dict keys sorted, integers only
(no floats anywhere in the catalogue), UTF-8. Decoding is strict: unknown fields,
wrong types and constraint violations raise ``msgspec.ValidationError``.
"""

from __future__ import annotations

import hashlib
from typing import Any

import msgspec

from journal_schema.catalogue import TOPIC_TO_TYPE, UPCASTERS, AnyEvent
from journal_schema.events import Event

_encoder = msgspec.json.Encoder(order="deterministic")
_decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(AnyEvent)
_type_decoders: dict[type[Event], msgspec.json.Decoder[Any]] = {
    t: msgspec.json.Decoder(t) for t in TOPIC_TO_TYPE.values()
}

encode = _encoder.encode
"""Canonical bytes of an event (or any msgspec-encodable value)."""


class UnknownTopicError(ValueError):
    pass


def decode(payload: bytes | memoryview) -> Event:
    """Decode canonical bytes of any catalogue event (dispatch on its ``type`` tag)."""
    event: Event = _decoder.decode(payload)
    return event


def decode_topic(topic: str, payload: bytes | memoryview) -> Event:
    """Decode a stored payload under its topic; the tag inside must agree with the topic."""
    t = TOPIC_TO_TYPE.get(topic)
    if t is None:
        old = UPCASTERS.get(topic)
        if old is None:
            raise UnknownTopicError(f"unknown topic {topic!r} (no event type/version by that name)")
        current, upcast = old
        fields = upcast(msgspec.json.decode(payload))
        return msgspec.convert(fields, current)
    event: Event = _type_decoders[t].decode(payload)
    return event


def canonical_json(value: Any) -> bytes:
    """Canonical JSON for non-event values (config snapshots, ids): sorted keys."""
    return _encoder.encode(value)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
