"""Operator commands and the inbox they wait in: what ``engine kill`` / ``resume`` / ``approve`` /
``reconfigure`` queue for a running engine, the interface of an inbox of either store (the SQLite sidecar
``engine.operator.inbox_sqlite``, the Postgres table ``engine.operator.inbox_pg``; a journal's address
opens the right one) and the rows they store.

The shell may use the wall clock here (``created_at``) and an external id (``command_id``, a
uuid4): both are recorded as inputs, never computed by the core.
"""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, get_args

import orjson

from journal_schema.events import ConfigChanged, Event, KillSwitchEngaged, KillSwitchReleased
from journal_schema.risk_events import ReviewApproved

Kind = Literal["KILL", "RESUME", "APPROVE", "CONFIG"]
KINDS: tuple[Kind, ...] = get_args(Kind)
UNKNOWN_SEQ = -1  # marked for a command found already journaled (a crash came between journal and mark)


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
