"""The operator inbox of a Postgres journal ``T``: the table ``T_inbox`` next to it (made by the journal's
migration 5), with the same rows and the same write-ahead protocol as the SQLite sidecar file
(``engine.operator.inbox_sqlite``; drained by ``engine.operator.inbox``): the CLI inserts a command, the
writer journals it, commits the journal, then sets ``journaled_seq``. Every call is one autocommit
statement on the inbox's own connection, so the CLI and the writer never hold each other up beyond a
row lock.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from engine.journal.pg import PgLocation
from engine.operator.command import Command, CommandQueue, InboxError, command_of, stamped


class PgInbox(CommandQueue):
    """``T_inbox`` of the journal at ``loc``."""

    def __init__(self, loc: PgLocation) -> None:
        self.loc = loc
        self.path = f"{self.loc} (table {self.loc.table}_inbox)"  # what messages name
        self._table = sql.Identifier(f"{self.loc.table}_inbox")
        try:
            self._conn: psycopg.Connection[Any] = psycopg.connect(
                **self.loc.conninfo(),
                autocommit=True,
                connect_timeout=5,
                application_name=f"engine operator inbox {self.loc.table}"[:63],
            )
        except psycopg.Error as exc:
            raise InboxError(f"cannot open the operator inbox of {self.loc}: {str(exc).splitlines()[0]}") from None
        found = self._execute("SELECT to_regclass(%s) IS NOT NULL", (f"public.{self.loc.table}_inbox",)).fetchone()
        if not found or not found[0]:
            self._conn.close()
            raise InboxError(
                f"journal {self.loc} has no operator inbox table {self.loc.table}_inbox: "
                f"run `engine migrate up --journal {self.loc}`"
            )

    def queue(self, cmd: Command) -> str:
        command_id, payload, created_at = stamped(cmd)
        self._execute(
            "INSERT INTO {t} (command_id, kind, payload, created_at) VALUES (%s, %s, %s, %s)",
            (command_id, cmd.kind, payload, created_at),
        )
        return command_id

    def pending(self) -> list[Command]:
        rows = self._execute(
            "SELECT command_id, kind, payload, created_at FROM {t} WHERE journaled_seq IS NULL ORDER BY seq"
        ).fetchall()
        return [command_of(*row) for row in rows]

    def mark(self, command_id: str, seq: int) -> None:
        cur = self._execute("UPDATE {t} SET journaled_seq = %s WHERE command_id = %s", (seq, command_id))
        if cur.rowcount != 1:
            raise KeyError(command_id)

    def status(self, command_id: str) -> int | None:
        row = self._execute("SELECT journaled_seq FROM {t} WHERE command_id = %s", (command_id,)).fetchone()
        if row is None:
            raise KeyError(command_id)
        return None if row[0] is None else int(row[0])

    def _execute(self, query: str, params: tuple[object, ...] = ()) -> psycopg.Cursor[Any]:
        try:
            return self._conn.execute(sql.SQL(query).format(t=self._table), params)
        except psycopg.Error as exc:
            raise InboxError(f"operator inbox of {self.loc}: {str(exc).splitlines()[0]}") from None

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> PgInbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
