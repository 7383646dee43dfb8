"""The journal on PostgreSQL: the same records, chain and sequence as on SQLite.

``--journal postgresql://user@host:port/dbname?table=NAME`` (``table`` defaults to
``journal_events``) stores the journal through ``eventsourcing``'s ``PostgresApplicationRecorder``
(psycopg 3): one row per record of the single originator ``"journal"`` whose ``originator_version``
is the journal sequence number. The sequence is the primary key, so it is dense and starts at 1
whatever the ``notification_id`` serial does (a rolled-back transaction leaves a gap in a serial).
Triggers refuse UPDATE, DELETE and TRUNCATE; every schema object comes from the numbered migrations of
``engine.journal.migrations_pg``. The single writer holds a session-level advisory lock
keyed by the table for its lifetime; the server releases it when the writer's connection dies
(``kill -9`` included), so there is no stale lock. A refusal names the holder's pid, host and
command (its ``application_name``). Every commit NOTIFYs the channel named like the table, so a
follower (a projection worker) can LISTEN instead of polling.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import os
import socket
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import psycopg
from eventsourcing.persistence import PersistenceError
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from psycopg import sql

from engine.journal.errors import JournalError, JournalLockedError, first_line
from engine.redact import strip_credentials

ORIGINATOR = "journal"
DEFAULT_TABLE = "journal_events"
_TABLE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")

Row = tuple[str, int, str, bytes]


def _bad_address(message: str) -> JournalError:
    return JournalError(message, category="ADDRESS")


class PgLocation:
    """A parsed ``postgresql://`` journal address; ``str()`` hides the password. Without ``?table=`` the
    table is ``journal_events``. A malformed address is a ``JournalError`` (category ``ADDRESS``)."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        table = query.pop("table", [DEFAULT_TABLE])[-1]
        if query:
            raise _bad_address(
                f"unknown parameter(s) {', '.join(sorted(query))} in {self.redact(url)}; only ?table=NAME is understood"
            )
        if not table or set(table) - _TABLE_CHARS or table[0].isdigit() or len(table) > 50:
            raise _bad_address(f"table {table!r}: use 1-50 lowercase letters, digits and _ (not first a digit)")
        dbname = unquote(parts.path.lstrip("/"))
        if not dbname:
            raise _bad_address(f"{self.redact(url)}: name the database (postgresql://user@host:port/DBNAME)")
        try:
            port = parts.port
        except ValueError:
            raise _bad_address(f"{self.redact(url)}: the port is not a number from 0 to 65535") from None
        self.url = url
        self.host = parts.hostname or "127.0.0.1"
        self.port = port or 5432
        self.user = unquote(parts.username or "postgres")
        self.password = unquote(parts.password or "")
        self.dbname = dbname
        self.table = table

    @staticmethod
    def redact(url: str) -> str:
        return strip_credentials(url)

    def __str__(self) -> str:
        return self.redact(self.url)

    def conninfo(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "password": self.password,
            "dbname": self.dbname,
        }

    def lock_key(self) -> int:
        """A stable signed 64-bit advisory-lock key of the database and table (sha256, not ``hash()``)."""
        digest = hashlib.sha256(f"engine-journal:{self.dbname}:{self.table}".encode()).digest()
        return int.from_bytes(digest[:8], "big", signed=True)


class PgRecorder(PostgresApplicationRecorder):
    """The library's recorder with the journal's own reads and batch insert. Its schema objects are made by
    ``engine.journal.migrations_pg``, never by the library's ``create_table``."""

    def __init__(self, datastore: PostgresDatastore, table: str) -> None:
        super().__init__(datastore, events_table_name=table)
        self._table = sql.Identifier(table)

    def exists(self) -> bool:
        with self.datastore.transaction(commit=False) as c:
            c.execute("SELECT to_regclass(%s) IS NOT NULL AS present", (self.events_table_name,))
            row = c.fetchone()
            return bool(row and row["present"])

    def max_seq(self) -> int:
        with self.datastore.transaction(commit=False) as c:
            c.execute(sql.SQL("SELECT MAX(originator_version) AS m FROM {t}").format(t=self._table))
            row = c.fetchone()
            return int(row["m"] or 0) if row else 0

    def state_of(self, seq: int) -> bytes:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                sql.SQL("SELECT state FROM {t} WHERE originator_id = %s AND originator_version = %s").format(
                    t=self._table
                ),
                (ORIGINATOR, seq),
            )
            row = c.fetchone()
            if row is None:
                raise JournalError(f"record {seq} is missing")
            return bytes(row["state"])

    def rows(self, start: int, limit: int, stop: int | None) -> list[tuple[int, str, bytes]]:
        """(seq, topic, state) of records ``start <= seq <= stop``, in order, at most ``limit``."""
        query = sql.SQL(
            "SELECT originator_version AS seq, topic, state FROM {t} WHERE originator_id = %s "
            "AND originator_version >= %s AND originator_version <= %s "
            "ORDER BY originator_version LIMIT %s"
        ).format(t=self._table)
        with self.datastore.transaction(commit=False) as c:
            c.execute(query, (ORIGINATOR, start, stop if stop is not None else 2**62, limit))
            return [(int(r["seq"]), str(r["topic"]), bytes(r["state"])) for r in c.fetchall()]

    def settings(self) -> dict[str, bytes]:
        with self.datastore.transaction(commit=False) as c:
            table = sql.Identifier(f"{self.events_table_name}_settings")
            c.execute(sql.SQL("SELECT key, value FROM {t}").format(t=table))
            return {str(r["key"]): bytes(r["value"]) for r in c.fetchall()}

    def add_settings(self, settings: Mapping[str, bytes]) -> None:
        query = sql.SQL("INSERT INTO {t} (key, value) VALUES (%s, %s)").format(
            t=sql.Identifier(f"{self.events_table_name}_settings")
        )
        with self.datastore.transaction(commit=True) as c:
            c.executemany(query, list(settings.items()))

    def insert_rows(self, rows: Sequence[Row]) -> None:
        """Insert rows in one transaction; the sequence must continue the stored one densely."""
        if not rows:
            return
        query = sql.SQL(
            "INSERT INTO {t} (originator_id, originator_version, topic, state) VALUES (%s, %s, %s, %s)"
        ).format(t=self._table)
        with self.datastore.transaction(commit=True) as c:
            c.execute(sql.SQL("SELECT MAX(originator_version) AS m FROM {t}").format(t=self._table))
            row = c.fetchone()
            head = int(row["m"] or 0) if row else 0
            if rows[0][1] != head + 1:
                raise JournalError(f"journal sequence is not dense: stored head {head}, next row {rows[0][1]}")
            c.executemany(query, rows)
            c.execute(sql.SQL("NOTIFY {channel}").format(channel=sql.Identifier(self.channel_name)))  # on commit


class ReadOnlyPgDatastore(PostgresDatastore):
    """The library's datastore whose every transaction is READ ONLY: a reader cannot write the journal."""

    def after_connect_func(self) -> Callable[[psycopg.Connection[Any]], None]:
        library = super().after_connect_func()

        def after_connect(conn: psycopg.Connection[Any]) -> None:
            library(conn)
            conn.execute("SET default_transaction_read_only = on")

        return after_connect


def open_recorder(loc: PgLocation, *, write: bool) -> PgRecorder:
    """A recorder of the journal at ``loc`` (made and checked by ``migrations_pg.prepare`` first): a
    writer's, or a reader's whose every transaction is READ ONLY."""
    try:
        kind = PostgresDatastore if write else ReadOnlyPgDatastore
        datastore = kind(
            loc.dbname,
            loc.host,
            loc.port,
            loc.user,
            loc.password,
            pool_size=1,
            max_overflow=1,
            originator_id_type="text",
            pool_open_timeout=5.0,
        )
        recorder = PgRecorder(datastore, loc.table)
        if not recorder.exists():
            datastore.close()
            raise JournalError(f"{loc} is not a journal (no table {loc.table!r})", category="REFUSED")
    except (PersistenceError, psycopg.Error) as exc:
        raise JournalError(f"cannot open journal {loc}: {first_line(exc)}") from None
    return recorder


_HOLDER = (
    "SELECT a.pid, a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
    "WHERE l.locktype = 'advisory' AND l.granted AND ((l.classid::bigint << 32) | l.objid::bigint) = %s::bigint"
)


def _holder(conn: psycopg.Connection[Any], key: int) -> str | None:
    row = conn.execute(_HOLDER, (key,)).fetchone()
    return f"backend pid {row[0]} ({row[1]})" if row else None


def writer_holder(loc: PgLocation) -> str | None:
    """Who holds the journal's writer lock ("backend pid N (application name)"), or None when nobody does."""
    try:
        with psycopg.connect(**loc.conninfo(), autocommit=True, connect_timeout=5) as conn:
            return _holder(conn, loc.lock_key())
    except psycopg.Error as exc:
        raise JournalError(f"cannot connect to {loc}: {first_line(exc)}") from None


class PgWriterLock:
    """The single-writer lock: ``pg_try_advisory_lock`` on a connection held for the writer's life."""

    def __init__(self, loc: PgLocation) -> None:
        self.loc = loc
        self._conn: psycopg.Connection[Any] | None = None

    def acquire(self) -> PgWriterLock:
        command = strip_credentials(" ".join(sys.argv))  # a journal address's password stays out
        name = f"engine writer pid {os.getpid()} on {socket.gethostname()}: {command}"[:63]
        try:
            conn = psycopg.connect(**self.loc.conninfo(), autocommit=True, application_name=name, connect_timeout=5)
        except psycopg.Error as exc:
            raise JournalError(f"cannot connect to {self.loc}: {first_line(exc)}") from None
        key = self.loc.lock_key()
        row = conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
        if not row or not row[0]:
            holder = _holder(conn, key)
            conn.close()
            who = holder or "another session"
            raise JournalLockedError(
                f"journal {self.loc} is already open for writing by {who}; only one writer may append to a journal"
            )
        self._conn = conn
        return self

    def release(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            # unlock first: closing alone frees the lock only once the server has ended the session, so
            # a writer opened right after could be refused; on a dead connection the server drops it anyway
            with contextlib.suppress(psycopg.OperationalError, psycopg.InterfaceError):
                conn.execute("SELECT pg_advisory_unlock(%s)", (self.loc.lock_key(),))
            conn.close()


def _addresses(host: str) -> frozenset[str]:
    """The server's addresses (any loopback address is one), so that two spellings of a host compare equal."""
    try:
        found = {str(info[4][0]) for info in socket.getaddrinfo(host, None)}
    except (OSError, UnicodeError):
        found = {host.lower()}
    return frozenset("loopback" if _is_ip(a) and ipaddress.ip_address(a).is_loopback else a for a in found)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def same_server(a: str, b: str) -> bool:
    """Whether two host names reach the same server (one of their addresses is shared)."""
    return bool(_addresses(a) & _addresses(b))
