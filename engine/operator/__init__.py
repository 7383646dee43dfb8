"""Operator commands for a running engine: the inbox (the ``<journal>.inbox`` sidecar of a SQLite
journal, the ``<T>_inbox`` table of a Postgres one) and its drain (``engine kill`` / ``resume`` /
``approve`` / ``reconfigure``; ``engine.cli.operator_cmd``)."""

from engine.journal.target import inbox_path
from engine.operator.inbox import (
    KINDS,
    UNKNOWN_SEQ,
    Command,
    CommandQueue,
    Inbox,
    InboxError,
    Kind,
    drain,
    drain_inbox,
    journal_command,
    open_inbox,
)

__all__ = [
    "KINDS",
    "UNKNOWN_SEQ",
    "Command",
    "CommandQueue",
    "Inbox",
    "InboxError",
    "Kind",
    "drain",
    "drain_inbox",
    "inbox_path",
    "journal_command",
    "open_inbox",
]
