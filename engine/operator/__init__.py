"""Operator commands for a running engine: the ``<journal>.inbox`` sidecar and its drain
(``engine kill`` / ``engine resume`` / ``engine approve``; ``engine.cli.operator_cmd``)."""

from engine.operator.inbox import (
    KINDS,
    UNKNOWN_SEQ,
    Command,
    Inbox,
    InboxError,
    Kind,
    drain,
    drain_inbox,
    inbox_path,
    journal_command,
)

__all__ = [
    "KINDS",
    "UNKNOWN_SEQ",
    "Command",
    "Inbox",
    "InboxError",
    "Kind",
    "drain",
    "drain_inbox",
    "inbox_path",
    "journal_command",
]
