"""The journal's eventsourcing ``Transcoder``: the catalogue's canonical msgspec encoding.

eventsourcing separates storage (recorders, ``StoredEvent`` bytes) from serialisation
(transcoders). This is the msgspec transcoder the journal writes with: struct fields in
declaration order, dict keys sorted, integers only, so equal events give equal bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import Transcoder

from journal_schema.catalogue import TOPICS
from journal_schema.codec import decode, encode
from journal_schema.events import Event

_TOPICS = {t: (name, name.encode()) for t, name in TOPICS.items()}


class MsgspecTranscoder(Transcoder):
    """The writer's encoder. Stored records are decoded by ``engine.journal.read`` (under their topic,
    with the upcasters of older versions), never through the transcoder."""

    def encode(self, obj: Any) -> bytes:
        """Canonical bytes of an event."""
        return encode(obj)

    def encode_one(self, event: Event) -> tuple[str, bytes, bytes]:
        """(topic, topic bytes, canonical bytes) of one event: a group of one, the most common."""
        topic, topic_bytes = _TOPICS[type(event)]
        return topic, topic_bytes, encode(event)

    def encode_group(self, events: Sequence[Event]) -> list[tuple[str, bytes, bytes]]:
        """(topic, topic bytes, canonical bytes) of each event: the writer's hot path,
        one call per appended group instead of one per event."""
        return [(*_TOPICS[type(e)], encode(e)) for e in events]

    def decode(self, data: bytes) -> Event:
        """Any catalogue event, by its ``type`` tag (strict: unknown fields are errors)."""
        return decode(data)


TRANSCODER = MsgspecTranscoder()
