"""Journal storage: append-only, hash-chained, single writer.

A journal is named by an address (``engine.journal.address.parse``: a SQLite file or a ``postgresql://``
table), read by ``engine.journal.read.JournalReader`` (records, the chain walk, events) and written by
``engine.journal.store.JournalWriter``. Every failure is a ``JournalError``.
"""

from engine.journal.address import JournalAddress, JournalLike, parse
from engine.journal.chain import EnvelopeError, Linked, StoredRecord, link, unwrap, walk, wrap
from engine.journal.errors import JournalError, JournalLockedError, RecordError
from engine.journal.read import JournalReader, read_events
from engine.journal.store import JournalWriter

__all__ = [
    "EnvelopeError",
    "JournalAddress",
    "JournalError",
    "JournalLike",
    "JournalLockedError",
    "JournalReader",
    "JournalWriter",
    "Linked",
    "RecordError",
    "StoredRecord",
    "link",
    "parse",
    "read_events",
    "unwrap",
    "walk",
    "wrap",
]
