"""Journal storage: append-only, hash-chained, single writer."""

from engine.journal.chain import EnvelopeError, link, unwrap, wrap
from engine.journal.lock import JournalLockedError
from engine.journal.store import JournalError, JournalReader, JournalWriter, StoredRecord

__all__ = [
    "EnvelopeError",
    "JournalError",
    "JournalLockedError",
    "JournalReader",
    "JournalWriter",
    "StoredRecord",
    "link",
    "unwrap",
    "wrap",
]
