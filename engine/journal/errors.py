"""The journal's one error type, below every module that raises it.

Every way a journal cannot be opened, read or written as asked is a ``JournalError``: its ``str()`` is
the one line the CLI shows, its ``category`` says what kind of failure it is. A few kinds are
subclasses because a caller acts on them (``JournalLockedError``: queue instead; ``RecordError``: a
record, named by its ``seq``, is damaged; ``PathRefused``: a file the command may not use).
"""

from __future__ import annotations

from typing import Literal

Category = Literal[
    "ADDRESS",  # the journal address does not parse (bad URL, bad table name)
    "REFUSED",  # a path or table that is not a journal of this engine, or may not be written
    "LOCKED",  # another writer holds the journal
    "VERSION",  # the journal's schema is not at the version this engine needs (or a migration failed)
    "CIPHER",  # the journal's encryption cannot be used as asked (key missing, wrong, malformed)
    "RANGE",  # a sequence number outside the journal, or a filter that names nothing
    "TAMPERED",  # a record breaks the sequence or the hash chain
    "UNDECRYPTABLE",  # a record of an encrypted journal does not decrypt
    "UNDECODABLE",  # a record's event does not decode under its topic
    "STORE",  # the database failed (connection lost, file unreadable, commit failed)
]

VERIFY_HINT = "run `engine verify`"


class JournalError(RuntimeError):
    """The journal cannot be opened, read or written as asked (the message is one line for the user)."""

    category: Category = "STORE"

    def __init__(self, message: str, *, category: Category | None = None) -> None:
        super().__init__(message)
        if category is not None:
            self.category = category


class RecordError(JournalError):
    """Record ``seq`` cannot be used: it breaks the chain (``TAMPERED``), does not decrypt
    (``UNDECRYPTABLE``) or does not decode (``UNDECODABLE``). ``problem`` is what is wrong with it
    (what ``engine verify`` prints after ``TAMPERED at seq N:``); the message also names the record and
    says to run ``engine verify``."""

    def __init__(self, seq: int, problem: str, *, category: Category, message: str | None = None) -> None:
        super().__init__(f"{message or f'record {seq}: {problem}'}; {VERIFY_HINT}", category=category)
        self.seq = seq
        self.problem = problem


class JournalLockedError(JournalError):
    """Another process holds the journal's writer lock."""

    category: Category = "LOCKED"


def first_line(exc: BaseException) -> str:
    """The first line of an exception's text (a database error may run over several), or its type's name."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
