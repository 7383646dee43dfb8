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

The shell may use the wall clock here (``created_at``) and an external id (``command_id``, a
uuid4): both are recorded as inputs, never computed by the core.
"""

from __future__ import annotations

import sqlite3
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, cast, get_args

import orjson

from engine.journal.pg import is_postgres
from engine.journal.target import inbox_path, inbox_problem
from engine.shell import Engine
from journal_schema.events import ConfigChanged, Event, KillSwitchEngaged, KillSwitchReleased
from journal_schema.risk_events import ReviewApproved

Kind = Literal["KILL", "RESUME", "APPROVE", "CONFIG"]
KINDS: tuple[Kind, ...] = get_args(Kind)
UNKNOWN_SEQ = -1  # marked for a command found already journaled (a crash came between journal and mark)
BUSY_TIMEOUT_MS = 5000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS {table} (
    rowid INTEGER PRIMARY KEY,
    command_id TEXT UNIQUE NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('KILL', 'RESUME', 'APPROVE', 'CONFIG')),
    payload TEXT NOT NULL,
    created_at TEXT NOT NULL,
    journaled_seq INTEGER
)
"""


def new_command_id() -> str:
    """A fresh operator command id. Shell only: a random uuid4 is fine here because the id is
    journaled as part of the input (the core only compares it, never makes one)."""
    return uuid.uuid4().hex  # shell: the id is an input once journaled; the core never makes one


class InboxError(RuntimeError):
    """The inbox cannot be read or written as asked."""


@dataclass(frozen=True, slots=True)
class Command:
    """One operator command as queued. ``event`` is the journal input that carries it out."""

    command_id: str
    kind: Kind
    reason: str = ""
    actor: str = ""
    cancel_all: bool = False  # KILL only
    decision_id: str = ""  # APPROVE only
    created_at: str = ""
    config: dict[str, Any] | None = None  # CONFIG only: the whole new snapshot
    config_hash: str = ""  # CONFIG only
    previous_config_hash: str = ""  # CONFIG only: the running config it replaces

    def payload(self) -> str:
        """The command's fields as the inbox stores them (JSON text)."""
        fields: dict[str, Any] = {
            "reason": self.reason,
            "actor": self.actor,
            "cancel_all": self.cancel_all,
            "decision_id": self.decision_id,
        }
        if self.kind == "CONFIG":
            fields |= {
                "config": self.config,
                "config_hash": self.config_hash,
                "previous_config_hash": self.previous_config_hash,
            }
        return orjson.dumps(fields).decode()

    def event(self, ts: int) -> Event:
        """The input at event time ``ts``: KillSwitchEngaged, KillSwitchReleased or ReviewApproved."""
        if self.kind == "KILL":
            return KillSwitchEngaged(
                ts=ts, reason=self.reason, actor=self.actor, cancel_all=self.cancel_all, command_id=self.command_id
            )
        if self.kind == "RESUME":
            return KillSwitchReleased(ts=ts, reason=self.reason, actor=self.actor, command_id=self.command_id)
        if self.kind == "CONFIG":
            return ConfigChanged(
                ts=ts,
                config=self.config or {},
                config_hash=self.config_hash,
                previous_config_hash=self.previous_config_hash,
                actor=self.actor,
                reason=self.reason,
                command_id=self.command_id,
            )
        return ReviewApproved(
            ts=ts, decision_id=self.decision_id, actor=self.actor, reason=self.reason, command_id=self.command_id
        )

    @property
    def event_name(self) -> str:
        return {
            "KILL": "KillSwitchEngaged",
            "RESUME": "KillSwitchReleased",
            "APPROVE": "ReviewApproved",
            "CONFIG": "ConfigChanged",
        }[self.kind]


class CommandQueue(ABC):
    """An inbox of either store (``Inbox``: the SQLite sidecar file; ``PgInbox``: the Postgres table)."""

    @abstractmethod
    def queue(self, cmd: Command) -> str:
        """Queue a command under a new ``command_id``; returns it."""

    @abstractmethod
    def pending(self) -> list[Command]:
        """Commands not journaled yet, in the order they were queued."""

    @abstractmethod
    def mark(self, command_id: str, seq: int) -> None:
        """Record that the command is journaled at ``seq`` (``UNKNOWN_SEQ`` when the seq is not known)."""

    @abstractmethod
    def status(self, command_id: str) -> int | None:
        """The journal seq the command was journaled at, or None while it is pending (``KeyError``: unknown id)."""

    @abstractmethod
    def close(self) -> None: ...

    def put(
        self, kind: Kind, *, reason: str = "", actor: str = "", cancel_all: bool = False, decision_id: str = ""
    ) -> str:
        """Queue a KILL, RESUME or APPROVE command; returns its new ``command_id``."""
        return self.queue(
            Command(
                command_id="", kind=kind, reason=reason, actor=actor, cancel_all=cancel_all, decision_id=decision_id
            )
        )


class Inbox(CommandQueue):
    """The ``<journal>.inbox`` SQLite file (WAL, so the CLI's inserts and the writer's reads and
    marks do not block each other; a busy file is waited for up to 5 s). Created on open."""

    def __init__(self, journal_path: str | Path) -> None:
        self.path = inbox_path(journal_path)
        problem = inbox_problem(self.path)
        if problem is not None:
            raise InboxError(problem)  # another file of that name is never written
        try:
            self._con = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        except sqlite3.Error as exc:
            raise InboxError(f"cannot open the operator inbox {self.path}: {exc}") from None
        try:
            self._con.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self._con.execute("PRAGMA journal_mode = WAL")
            self._con.execute(_SCHEMA.format(table="commands"))
            self._widen_kinds()
        except sqlite3.Error as exc:
            self._con.close()
            raise InboxError(f"{self.path} is not a usable operator inbox: {exc}") from None

    def _widen_kinds(self) -> None:
        """An inbox made before ``engine reconfigure`` allows only KILL, RESUME and APPROVE (a CHECK, which
        SQLite cannot alter): copy its rows into a table of today's schema, in one transaction."""
        row = self._con.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'commands'").fetchone()
        if row is None or "'CONFIG'" in str(row[0]):
            return
        self._con.execute("BEGIN IMMEDIATE")
        try:
            self._con.execute(_SCHEMA.format(table="commands_widened"))
            self._con.execute("INSERT INTO commands_widened SELECT * FROM commands")
            self._con.execute("DROP TABLE commands")
            self._con.execute("ALTER TABLE commands_widened RENAME TO commands")
        except sqlite3.Error:
            self._con.execute("ROLLBACK")
            raise
        self._con.execute("COMMIT")

    def queue(self, cmd: Command) -> str:
        """Queue a command under a new ``command_id``; returns it."""
        command_id, payload, created_at = stamped(cmd)
        self._execute(
            "INSERT INTO commands (command_id, kind, payload, created_at) VALUES (?, ?, ?, ?)",
            (command_id, cmd.kind, payload, created_at),
        )
        return command_id

    def pending(self) -> list[Command]:
        """Commands not journaled yet, in the order they were queued."""
        rows = self._execute(
            "SELECT command_id, kind, payload, created_at FROM commands WHERE journaled_seq IS NULL ORDER BY rowid"
        ).fetchall()
        return [command_of(*row) for row in rows]

    def mark(self, command_id: str, seq: int) -> None:
        """Record that the command is journaled at ``seq`` (``UNKNOWN_SEQ`` when the seq is not known)."""
        cur = self._execute("UPDATE commands SET journaled_seq = ? WHERE command_id = ?", (seq, command_id))
        if cur.rowcount != 1:
            raise KeyError(command_id)

    def status(self, command_id: str) -> int | None:
        """The journal seq the command was journaled at, or None while it is pending.
        Raises ``KeyError`` for a command id the inbox does not hold."""
        row = self._execute("SELECT journaled_seq FROM commands WHERE command_id = ?", (command_id,)).fetchone()
        if row is None:
            raise KeyError(command_id)
        seq: int | None = row[0]
        return seq

    def _execute(self, sql: str, params: tuple[object, ...] = ()) -> sqlite3.Cursor:
        try:
            return self._con.execute(sql, params)
        except sqlite3.Error as exc:
            raise InboxError(f"operator inbox {self.path}: {exc}") from None

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> Inbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def stamped(cmd: Command) -> tuple[str, str, str]:
    """``(command_id, payload, created_at)`` of a command about to be queued (shell: a new uuid, the wall clock)."""
    if cmd.kind not in KINDS:
        raise ValueError(f"unknown command kind {cmd.kind!r}; expected one of {', '.join(KINDS)}")
    created_at = datetime.now(UTC).isoformat(timespec="microseconds")  # shell: wall clock is fine
    return new_command_id(), cmd.payload(), created_at


def command_of(command_id: str, kind: str, payload: str, created_at: str) -> Command:
    """A queued command from its stored row."""
    try:
        fields = orjson.loads(payload)
        if kind not in KINDS or not isinstance(fields, dict):
            raise TypeError(kind)
        config = fields.get("config")
        return Command(
            command_id=command_id,
            kind=kind,
            reason=str(fields.get("reason", "")),
            actor=str(fields.get("actor", "")),
            cancel_all=bool(fields.get("cancel_all", False)),
            decision_id=str(fields.get("decision_id", "")),
            created_at=created_at,
            config=config if isinstance(config, dict) else None,
            config_hash=str(fields.get("config_hash", "")),
            previous_config_hash=str(fields.get("previous_config_hash", "")),
        )
    except (orjson.JSONDecodeError, TypeError) as exc:
        raise InboxError(f"operator command {command_id} has an unreadable payload: {exc}") from None


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


def open_inbox(journal: str | Path) -> CommandQueue:
    """The inbox of a journal: ``<journal>.inbox`` (created on open) or the Postgres table ``<T>_inbox``."""
    if is_postgres(journal):
        from engine.operator.inbox_pg import PgInbox

        return PgInbox(str(journal))
    return Inbox(journal)


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
    """``drain`` the inbox of the engine's journal if there is one (no file is created when no
    command was ever queued: a stat per call; a Postgres journal's inbox table always exists: one
    SELECT per call on a connection the engine keeps open)."""
    journal = engine.writer.path
    if is_postgres(journal):
        if engine.inbox is None:
            engine.inbox = open_inbox(journal)  # kept open until the engine closes: one SELECT per call
        return drain(engine, cast(CommandQueue, engine.inbox), ts, apply)  # only this function sets it
    if not inbox_path(journal).exists():
        return []
    with Inbox(journal) as inbox:
        return drain(engine, inbox, ts, apply)
