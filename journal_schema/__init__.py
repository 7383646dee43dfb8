"""Event catalogue: frozen msgspec Structs, one tagged union, canonical encoding."""

from journal_schema.catalogue import (
    ALL_TYPES,
    DERIVED_TYPES,
    INPUT_TYPES,
    TOPICS,
    AnyEvent,
    is_input,
    json_schema,
    schema_fingerprint,
)
from journal_schema.codec import canonical_json, decode, decode_topic, encode
from journal_schema.events import *  # noqa: F403
from journal_schema.events import Event
from journal_schema.live_events import *  # noqa: F403
from journal_schema.risk_events import *  # noqa: F403
from journal_schema.run_events import *  # noqa: F403

__all__ = [
    "ALL_TYPES",
    "DERIVED_TYPES",
    "INPUT_TYPES",
    "TOPICS",
    "AnyEvent",
    "Event",
    "canonical_json",
    "decode",
    "decode_topic",
    "encode",
    "is_input",
    "json_schema",
    "schema_fingerprint",
]
