"""The operator inbox: commands for a running engine (``engine kill`` / ``resume`` / ``approve`` /
``reconfigure``).

Only one process may write a journal, so an operator command cannot be journaled while a run
holds the writer lock. The CLI puts it in an inbox instead: a sidecar SQLite file
``<journal>.inbox`` next to a SQLite journal, the table ``<T>_inbox`` next to a Postgres journal
``T`` (its migration 5; ``engine.operator.inbox_pg``). The writer journals it at its next input
boundary (``drain``): every cycle of a live run, every ``DEFAULT_BATCH`` inputs of a historical run
and once before its ``RunEnded``.

The journal is the truth, the inbox only bookkeeping. ``drain`` journals a command and commits the
journal (write-ahead) before it marks the command in the inbox with the command's journal sequence.
A crash between the two leaves the command pending although it is journaled; the core remembers
the ids of the commands it was given (``CoreState.commands``, rebuilt by folding the journal), so
the next drain marks it with ``UNKNOWN_SEQ`` instead of journaling it twice.

The commands and the inbox interface are ``engine.operator.command``; the two inboxes are
``engine.operator.inbox_sqlite`` and ``engine.operator.inbox_pg``, and a journal's address opens its own
(``JournalAddress.open_inbox``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from engine.journal.address import JournalLike, parse
from engine.operator.command import (
    KINDS,
    UNKNOWN_SEQ,
    Command,
    CommandQueue,
    InboxError,
    Kind,
    command_of,
    new_command_id,
    stamped,
)
from engine.operator.inbox_sqlite import Inbox
from engine.shell import Engine
from journal_schema.events import Event

__all__ = [
    "KINDS",
    "UNKNOWN_SEQ",
    "Command",
    "CommandQueue",
    "Inbox",
    "InboxError",
    "Kind",
    "command_of",
    "drain",
    "drain_inbox",
    "journal_command",
    "new_command_id",
    "open_inbox",
    "stamped",
]


# ---------------------------------------------------------------- journaling


def journal_command(engine: Engine, cmd: Command, ts: int, apply: Callable[[Event], object] | None = None) -> int:
    """Journal one command as an input at ``ts`` and commit; returns the input's seq (its derived
    events follow it in the same group). ``apply`` is how the caller journals an input:
    ``Engine.feed`` by default (a simulated broker answers the cancels a cancel-all derives), the
    live runner's ``Context.input`` (its cycle sends them)."""
    seq = engine.writer.last_seq + 1
    (engine.feed if apply is None else apply)(cmd.event(ts))
    engine.writer.flush()  # write-ahead: journaled and committed before the inbox is marked
    return seq


def open_inbox(journal: JournalLike) -> CommandQueue:
    """The inbox of a journal: ``<journal>.inbox`` (created on open) or the Postgres table ``<T>_inbox``."""
    inbox = parse(journal).open_inbox()
    assert inbox is not None  # created on open
    return inbox


def drain(
    engine: Engine, inbox: CommandQueue, ts: int, apply: Callable[[Event], object] | None = None
) -> list[tuple[Command, int]]:
    """Journal every pending command in queue order at event time ``ts`` (not earlier than the
    journal's last event: the caller's stream time), committing each before marking it. A command
    whose id the core already knows (journaled before a crash, not marked) is marked
    ``UNKNOWN_SEQ`` and not journaled again. Returns ``(command, seq)`` of what was journaled."""
    done: list[tuple[Command, int]] = []
    for cmd in inbox.pending():
        if cmd.command_id in engine.state.commands:
            inbox.mark(cmd.command_id, UNKNOWN_SEQ)
            continue
        seq = journal_command(engine, cmd, ts, apply)
        inbox.mark(cmd.command_id, seq)
        done.append((cmd, seq))
    return done


def drain_inbox(engine: Engine, ts: int, apply: Callable[[Event], object] | None = None) -> list[tuple[Command, int]]:
    """``drain`` the inbox of the engine's journal if there is one. The inbox is opened once and kept open
    until the engine closes (one SELECT per call); a SQLite journal's inbox file is not made before a
    command is ever queued (until then, a stat per call)."""
    if engine.inbox is None:
        engine.inbox = engine.writer.address.open_inbox(create=False)
        if engine.inbox is None:
            return []
    return drain(engine, cast(CommandQueue, engine.inbox), ts, apply)  # only this function sets it
