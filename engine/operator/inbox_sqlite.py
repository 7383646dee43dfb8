"""The operator inbox of a SQLite journal: the sidecar file ``<journal>.inbox`` (``engine.operator.command``
says what it holds; ``engine.operator.inbox`` how the writer drains it)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from engine.journal.target import inbox_path, inbox_problem
from engine.operator.command import Command, CommandQueue, InboxError, command_of, stamped

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
