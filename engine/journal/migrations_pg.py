"""The migrations of a Postgres journal (``engine.journal.migrations`` runs them).

1 ``events_table``: the table (as ``eventsourcing``'s ``PostgresApplicationRecorder`` makes it, with
  its autovacuum settings) and its unique notification index;
2 ``append_only_guards``: the trigger function ``<table>_append_only`` and the triggers
  ``<table>_no_change`` (UPDATE, DELETE) and ``<table>_no_truncate`` (TRUNCATE);
3 ``library_insert_function``: the composite type ``stored_event_text`` and the function
  ``es_insert_events_text`` the library creates with its table. The journal writes with its own
  INSERT and never calls them, and both are shared by every journal of the schema (the function
  inserts into, and notifies, the table that created it last), so reverting 3 keeps them while
  another journal of the schema has 3 applied;
4 ``journal_settings``: the table ``<table>_settings`` (key -> value, written once when the journal is
  made: an encrypted journal's cipher and key check, ``engine.journal.cipher``);
5 ``operator_inbox``: the table ``<table>_inbox`` of operator commands for the running engine
  (``engine kill`` / ``resume`` / ``approve`` / ``config set``, ``engine.operator.inbox``).

The version table is ``<table>_migrations``; every step runs in one transaction with its version row.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import sql

from engine.journal.migrations import (
    SETTINGS_MIGRATION,
    Migration,
    MigrationError,
    Status,
    require_current,
    upgrade,
)
from engine.journal.pg import PgLocation

SCHEMA = "public"
TYPE_NAME = "stored_event_text"
FUNCTION_NAME = "es_insert_events_text"

PG_MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "events_table", "table <table> and its unique index <table>_notification_id_idx"),
    Migration(
        2,
        "append_only_guards",
        "function <table>_append_only(), triggers <table>_no_change (UPDATE, "
        "DELETE) and <table>_no_truncate (TRUNCATE)",
    ),
    Migration(
        3,
        "library_insert_function",
        f"type {TYPE_NAME} and function {FUNCTION_NAME}() (the library's, shared by the schema's journals)",
    ),
    Migration(4, SETTINGS_MIGRATION, "table <table>_settings (key -> value: the journal's encryption, if any)"),
    Migration(5, "operator_inbox", "table <table>_inbox (operator commands for the running engine)"),
)


def _ids(table: str) -> dict[str, sql.Composable]:
    return {
        "s": sql.Identifier(SCHEMA),
        "t": sql.Identifier(table),
        "guard": sql.Identifier(f"{table}_append_only"),
        "no_change": sql.Identifier(f"{table}_no_change"),
        "no_truncate": sql.Identifier(f"{table}_no_truncate"),
        "index": sql.Identifier(f"{table}_notification_id_idx"),
        "type": sql.Identifier(TYPE_NAME),
        "fn": sql.Identifier(FUNCTION_NAME),
        "channel": sql.Identifier(table),
        "settings": sql.Identifier(f"{table}_settings"),
        "inbox": sql.Identifier(f"{table}_inbox"),
    }


_UP = {
    1: (
        "CREATE TABLE {s}.{t} (originator_id text NOT NULL, originator_version bigint NOT NULL, topic text, "
        "state bytea, notification_id bigserial, PRIMARY KEY (originator_id, originator_version)) WITH ("
        "autovacuum_enabled = true, autovacuum_vacuum_threshold = 100000000, autovacuum_vacuum_scale_factor = 0.5, "
        "autovacuum_analyze_threshold = 1000, autovacuum_analyze_scale_factor = 0.01)",
        "CREATE UNIQUE INDEX {index} ON {s}.{t} (notification_id ASC)",
    ),
    2: (
        "CREATE OR REPLACE FUNCTION {s}.{guard}() RETURNS trigger LANGUAGE plpgsql AS "
        "$$BEGIN RAISE EXCEPTION 'journal is append-only: % refused', TG_OP; END;$$",
        "CREATE TRIGGER {no_change} BEFORE UPDATE OR DELETE ON {s}.{t} FOR EACH ROW EXECUTE FUNCTION {s}.{guard}()",
        "CREATE TRIGGER {no_truncate} BEFORE TRUNCATE ON {s}.{t} FOR EACH STATEMENT EXECUTE FUNCTION {s}.{guard}()",
    ),
    3: (
        "DO $$BEGIN CREATE TYPE {s}.{type} AS (originator_id text, originator_version bigint, topic text, "
        "state bytea); EXCEPTION WHEN duplicate_object THEN NULL; END$$",
        "CREATE OR REPLACE FUNCTION {s}.{fn}(events {s}.{type}[]) RETURNS SETOF bigint LANGUAGE plpgsql AS "
        "$BODY$BEGIN    SET LOCAL lock_timeout = '0s';    NOTIFY {channel};    RETURN QUERY    INSERT INTO {s}.{t} "
        "AS t (    originator_id, originator_version, topic, state)    SELECT originator_id, originator_version, "
        "topic, state    FROM unnest(events)    RETURNING notification_id;END;$BODY$",
    ),
    4: ("CREATE TABLE {s}.{settings} (key text PRIMARY KEY, value bytea NOT NULL)",),
    5: (
        "CREATE TABLE {s}.{inbox} (seq bigserial PRIMARY KEY, command_id text UNIQUE NOT NULL, kind text NOT NULL, "
        "payload text NOT NULL, created_at text NOT NULL, journaled_seq bigint)",
    ),
}
_DOWN = {
    1: ("DROP TABLE IF EXISTS {s}.{t}",),
    2: (
        "DROP TRIGGER IF EXISTS {no_change} ON {s}.{t}",
        "DROP TRIGGER IF EXISTS {no_truncate} ON {s}.{t}",
        "DROP FUNCTION IF EXISTS {s}.{guard}()",
    ),
    3: ("DROP FUNCTION IF EXISTS {s}.{fn}({s}.{type}[])", "DROP TYPE IF EXISTS {s}.{type}"),
    4: ("DROP TABLE IF EXISTS {s}.{settings}",),
    5: ("DROP TABLE IF EXISTS {s}.{inbox}",),
}
_VERSION_TABLE = (
    "CREATE TABLE IF NOT EXISTS {s}.{v} (version integer PRIMARY KEY, name text NOT NULL, "
    "applied_at timestamptz NOT NULL)"
)
_OTHER_VERSION_TABLES = (
    "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'version' "
    "WHERE n.nspname = %s AND c.relkind = 'r' AND c.relname LIKE '%%\\_migrations' "
    "AND c.relname <> %s"
)


# the columns of the journal's tables as the migrations make them: (name, type, NOT NULL), in order
_COLUMNS: dict[str, tuple[tuple[str, str, bool], ...]] = {
    "": (
        ("originator_id", "text", True),
        ("originator_version", "bigint", True),
        ("topic", "text", False),
        ("state", "bytea", False),
        ("notification_id", "bigint", True),
    ),
    "_migrations": (
        ("version", "integer", True),
        ("name", "text", True),
        ("applied_at", "timestamp with time zone", True),
    ),
    "_settings": (("key", "text", True), ("value", "bytea", True)),
    "_inbox": (
        ("seq", "bigint", True),
        ("command_id", "text", True),
        ("kind", "text", True),
        ("payload", "text", True),
        ("created_at", "text", True),
        ("journaled_seq", "bigint", False),
    ),
}
_SHAPES = (
    "SELECT c.relname, c.relkind, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull "
    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_attribute a ON a.attrelid = c.oid "
    "WHERE n.nspname = %s AND c.relname = ANY(%s) AND a.attnum > 0 AND NOT a.attisdropped "
    "ORDER BY c.relname, a.attnum"
)
_PRIMARY_KEY = (
    "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
    "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = to_regclass(%s) AND i.indisprimary "
    "ORDER BY array_position(i.indkey, a.attnum)"
)


def _fail(loc: PgLocation, exc: psycopg.Error) -> MigrationError:
    return MigrationError(f"journal {loc}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")


class PgBackend:
    """One Postgres journal (a table of a database) on its own autocommit connection."""

    migrations: tuple[Migration, ...] = PG_MIGRATIONS

    def __init__(self, loc: PgLocation, *, read_only: bool = False) -> None:
        """``read_only``: every transaction of the connection is READ ONLY (status, and the readers' checks)."""
        self.loc = loc
        self.version_table = f"{loc.table}_migrations"
        self._ids = {**_ids(loc.table), "v": sql.Identifier(self.version_table)}
        options = "-c default_transaction_read_only=on" if read_only else ""
        try:
            self._conn: psycopg.Connection[Any] = psycopg.connect(
                **loc.conninfo(), autocommit=True, connect_timeout=5, options=options
            )
        except psycopg.Error as exc:
            raise MigrationError(f"cannot open journal {loc}: {str(exc).splitlines()[0]}") from None

    def _sql(self, text: str) -> sql.Composed:
        return sql.SQL(text).format(**self._ids)

    def status(self) -> Status:
        t, v = f"{SCHEMA}.{self.loc.table}", f"{SCHEMA}.{self.version_table}"
        try:
            row = self._conn.execute(
                "SELECT to_regclass(%s) IS NOT NULL, to_regclass(%s) IS NOT NULL, to_regprocedure(%s) IS NOT NULL, "
                "(SELECT count(*) FROM pg_trigger WHERE tgrelid = to_regclass(%s) AND tgname = ANY(%s))",
                (
                    t,
                    v,
                    f"{SCHEMA}.{self.loc.table}_append_only()",
                    t,
                    [f"{self.loc.table}_no_change", f"{self.loc.table}_no_truncate"],
                ),
            ).fetchone()
            assert row is not None
            exists, has_versions, has_guard, triggers = row
            applied = None
            if has_versions:
                rows = self._conn.execute(self._sql("SELECT version, applied_at FROM {s}.{v}")).fetchall()
                applied = {int(ver): at.isoformat(timespec="seconds") for ver, at in rows}
        except psycopg.Error as exc:
            raise _fail(self.loc, exc) from None
        implied = 0 if not exists else 2 if has_guard and triggers == 2 else 1
        foreign = self._foreign()
        return Status(str(self.loc), "Postgres", self.loc.table, PG_MIGRATIONS, applied, implied, bool(exists), foreign)

    def _foreign(self) -> str | None:
        """Why the tables named like the journal's are not a journal of this engine: another kind of relation,
        other columns, another primary key, version rows or settings a journal does not have (or None)."""
        t = self.loc.table
        names = [t + suffix for suffix in _COLUMNS]
        try:
            found: dict[str, list[tuple[str, str, bool]]] = {}
            kinds: dict[str, str] = {}
            for rel, kind, col, typ, notnull in self._conn.execute(_SHAPES, (SCHEMA, names)).fetchall():
                found.setdefault(str(rel), []).append((str(col), str(typ), bool(notnull)))
                kinds[str(rel)] = str(kind)
            key = [str(r[0]) for r in self._conn.execute(_PRIMARY_KEY, (f"{SCHEMA}.{t}",)).fetchall()]
        except psycopg.Error as exc:
            raise _fail(self.loc, exc) from None
        for suffix, columns in _COLUMNS.items():
            name = t + suffix
            if name not in found:
                continue
            if kinds[name] not in ("r", "p"):
                return f"{self.loc} is not a journal of this engine: {name} is not a table"
            if tuple(found[name]) != columns:
                return f"{self.loc} is not a journal of this engine: table {name} has other columns than a journal's"
        if t in found and key != ["originator_id", "originator_version"]:
            return f"{self.loc} is not a journal of this engine: table {t} has another primary key than a journal's"
        return self._foreign_rows(set(found))

    def _foreign_rows(self, tables: set[str]) -> str | None:
        from engine.journal.migrations import foreign_settings

        try:
            if self.version_table in tables:
                names = {m.version: m.name for m in PG_MIGRATIONS}
                for version, name in self._conn.execute(self._sql("SELECT version, name FROM {s}.{v}")).fetchall():
                    if names.get(int(version), str(name)) != str(name):
                        return (
                            f"{self.loc} is not a journal of this engine: its version table names migration "
                            f"{version} {name!r}"
                        )
            if f"{self.loc.table}_settings" in tables:
                rows = self._conn.execute(self._sql("SELECT key, value FROM {s}.{settings}")).fetchall()
                return foreign_settings({str(k): bytes(v) for k, v in rows}, str(self.loc))
        except psycopg.Error as exc:
            raise _fail(self.loc, exc) from None
        return None

    def record_count(self) -> int:
        row = self._conn.execute(self._sql("SELECT count(*) FROM {s}.{t}")).fetchone()
        return int(row[0]) if row else 0

    def settings_count(self) -> int:
        found = self._conn.execute("SELECT to_regclass(%s) IS NOT NULL", (f"{SCHEMA}.{self.loc.table}_settings",))
        row = found.fetchone()
        if not row or not row[0]:
            return 0
        count = self._conn.execute(self._sql("SELECT count(*) FROM {s}.{settings}")).fetchone()
        return int(count[0]) if count else 0

    def _row(self, m: Migration) -> tuple[sql.Composed, tuple[object, ...]]:
        applied_at = datetime.now(UTC)  # shell: migrations are not journal events
        return self._sql("INSERT INTO {s}.{v} VALUES (%s, %s, %s)"), (m.version, m.name, applied_at)

    def _others_with(self, version: int) -> list[str]:
        """Other journals of the schema that have ``version`` applied."""
        others = []
        for (name,) in self._conn.execute(_OTHER_VERSION_TABLES, (SCHEMA, self.version_table)).fetchall():
            try:
                with self._conn.transaction():
                    query = sql.SQL("SELECT 1 FROM {s}.{v} WHERE version = %s").format(
                        s=sql.Identifier(SCHEMA), v=sql.Identifier(name)
                    )
                    if self._conn.execute(query, (version,)).fetchone():
                        others.append(str(name).removesuffix("_migrations"))
            except psycopg.Error:
                continue  # a table of that name that is not a version table
        return others

    def apply(self, migration: Migration, *, up: bool) -> str:
        v, note = migration.version, ""
        try:
            with self._conn.transaction():
                if up:
                    self._conn.execute(self._sql(_VERSION_TABLE))
                    for statement in _UP[v]:
                        self._conn.execute(self._sql(statement))
                    self._conn.execute(*self._row(migration))
                else:
                    shared = self._others_with(v) if v == 3 else []
                    if shared:
                        first = ", ".join(sorted(shared)[:3]) + (", ..." if len(shared) > 3 else "")
                        note = f"objects kept: {len(shared)} other journal(s) of the schema have it ({first})"
                    else:
                        for statement in _DOWN[v]:
                            self._conn.execute(self._sql(statement))
                    self._conn.execute(self._sql("DELETE FROM {s}.{v} WHERE version = %s"), (v,))
        except psycopg.Error as exc:
            raise MigrationError(
                f"migration {v} {migration.name} {'up' if up else 'down'} failed on {self.loc}: "
                f"{str(exc).splitlines()[0]}"
            ) from None
        return note

    def adopt(self, versions: Sequence[Migration]) -> None:
        try:
            with self._conn.transaction():
                self._conn.execute(self._sql(_VERSION_TABLE))
                for m in versions:
                    self._conn.execute(*self._row(m))
        except psycopg.Error as exc:
            raise _fail(self.loc, exc) from None

    def forget(self) -> None:
        try:
            self._conn.execute(self._sql("DELETE FROM {s}.{v}"))
        except psycopg.Error as exc:
            raise _fail(self.loc, exc) from None

    def reset(self) -> None:
        """Drop the journal's own objects and its version table (``--replace``; only under the writer lock).
        The shared objects of migration 3 stay: the next upgrade replaces them."""
        try:
            with self._conn.transaction():
                for statement in (*_DOWN[5], *_DOWN[4], *_DOWN[2], *_DOWN[1], "DROP TABLE IF EXISTS {s}.{v}"):
                    self._conn.execute(self._sql(statement))
        except psycopg.Error as exc:
            raise _fail(self.loc, exc) from None

    def close(self) -> None:
        self._conn.close()


def prepare(loc: PgLocation, *, create: bool, replace: bool = False) -> None:
    """Before opening a recorder: a writer (``create``) makes a new journal through every upgrade
    (after dropping the old one when ``replace``); anyone else needs the journal at the latest version,
    and checks it through a read-only connection. Tables named like the journal's that are not a journal
    of this engine are refused, never written or dropped."""
    backend = PgBackend(loc, read_only=not (create or replace))
    try:
        status = backend.status()
        if status.foreign is not None:  # neither written nor dropped: it is someone else's
            raise MigrationError(status.foreign)
        if replace:
            backend.reset()
            status = backend.status()
        if create and status.is_new:
            upgrade(backend)
        elif status.exists:
            require_current(status)
    finally:
        backend.close()
