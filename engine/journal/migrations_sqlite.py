"""The SQLite journal's migrations and its migration backend (``engine.journal.migrations`` runs them).

1 the ``journal_events`` table (its primary key is its only index), 2 the append-only triggers,
3 the ``journal_settings`` table. ``sqlite_status`` judges whether a database is a journal of this
engine by its objects, recorded versions and settings, never by a table name.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from engine.journal.migrations import (
    GUARDS,
    SETTINGS_MIGRATION,
    SETTINGS_TABLE,
    TABLE,
    VERSION_TABLE,
    Migration,
    MigrationError,
    Status,
    foreign_settings,
    foreign_versions,
    now_text,
    require_current,
    upgrade,
)
from engine.journal.uris import read_only_uri

SQLITE_MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "events_table", f"table {TABLE} (primary key (originator_id, originator_version))"),
    Migration(2, "append_only_guards", f"triggers {GUARDS[0]} and {GUARDS[1]} refusing UPDATE and DELETE"),
    Migration(3, SETTINGS_MIGRATION, f"table {SETTINGS_TABLE} (key -> value: the journal's encryption, if any)"),
)
_SQLITE_UP: dict[int, tuple[str, ...]] = {
    1: (
        f"CREATE TABLE {TABLE} (originator_id TEXT, originator_version INTEGER, topic TEXT, state BLOB, "
        "PRIMARY KEY (originator_id, originator_version))",
    ),
    2: tuple(
        f"CREATE TRIGGER {TABLE}_no_{op.lower()} BEFORE {op} ON {TABLE} "
        f"BEGIN SELECT RAISE(ABORT, 'journal is append-only: {op} refused'); END"
        for op in ("UPDATE", "DELETE")
    ),
    3: (f"CREATE TABLE {SETTINGS_TABLE} (key TEXT PRIMARY KEY, value BLOB NOT NULL)",),
}
_SQLITE_DOWN: dict[int, tuple[str, ...]] = {
    1: (f"DROP TABLE IF EXISTS {TABLE}",),
    2: tuple(f"DROP TRIGGER IF EXISTS {name}" for name in GUARDS),
    3: (f"DROP TABLE IF EXISTS {SETTINGS_TABLE}",),
}
_SQLITE_VERSION_TABLE = (
    f"CREATE TABLE IF NOT EXISTS {VERSION_TABLE} (version INTEGER PRIMARY KEY, "
    "name TEXT NOT NULL, applied_at TEXT NOT NULL)"
)


@functools.cache
def _journal_objects() -> dict[str, tuple[str, str, str | None]]:
    """Every schema object a journal may hold, by name: ``(type, table, sql)`` as SQLite stores them after
    every migration (made in memory from the migrations themselves, the one definition of the schema)."""
    db = sqlite3.connect(":memory:")
    try:
        db.execute(_SQLITE_VERSION_TABLE)
        for m in SQLITE_MIGRATIONS:
            for statement in _SQLITE_UP[m.version]:
                db.execute(statement)
        rows = db.execute("SELECT name, type, tbl_name, sql FROM sqlite_master").fetchall()
    finally:
        db.close()
    return {str(name): (str(kind), str(table), sql) for name, kind, table, sql in rows}


def _foreign_objects(rows: Sequence[tuple[Any, ...]], journal: str) -> str | None:
    """Why the objects of ``sqlite_master`` are not a journal's: every object must be one a migration
    makes, with the very definition it makes (a table named like the journal's with other columns is
    not one). An empty database passes here (a writer makes a new journal in one); ``engine.journal.target``
    refuses an existing file that holds nothing."""
    known = _journal_objects()
    for name, kind, table, sql in sorted(rows, key=lambda r: (str(r[1]), str(r[0]))):
        expected = known.get(str(name))
        if expected is None:
            return f"{journal} is not a journal of this engine: it holds {kind} {name!r}, which a journal does not have"
        if expected != (str(kind), str(table), sql):
            return f"{journal} is not a journal of this engine: its {kind} {name!r} is not defined as a journal's"
    return None


def sqlite_status(cursor: Any, journal: str) -> Status:
    """The status of the SQLite journal behind a DB-API cursor (read-only queries); ``foreign`` says why
    the database is not a journal of this engine (its objects, its recorded versions or its settings)."""
    cursor.execute("SELECT name, type, tbl_name, sql FROM sqlite_master")
    rows = [tuple(r) for r in cursor.fetchall()]
    names = {str(row[0]) for row in rows}
    foreign = _foreign_objects(rows, journal)
    applied: dict[int, str] | None = None
    if foreign is None and VERSION_TABLE in names:
        cursor.execute(f"SELECT version, name, applied_at FROM {VERSION_TABLE}")
        recorded = [(int(v), str(n), str(at)) for v, n, at in cursor.fetchall()]
        applied = {v: at for v, _, at in recorded}
        foreign = foreign_versions(recorded, SQLITE_MIGRATIONS, journal)
    if foreign is None and SETTINGS_TABLE in names:
        blob = "CASE typeof(value) WHEN 'blob' THEN value END"  # nothing but bytes is read (a huge number is not)
        cursor.execute(f"SELECT key, typeof(value), {blob} FROM {SETTINGS_TABLE}")
        rows = cursor.fetchall()
        if any(kind != "blob" for _, kind, _ in rows):  # a journal writes bytes; text or numbers are someone's
            foreign = f"{journal} is not a journal of this engine: its settings hold values that are not bytes"
        else:
            foreign = foreign_settings({str(k): bytes(v) for k, _, v in rows}, journal)
    exists = TABLE in names
    implied = 0 if not exists else 2 if set(GUARDS) <= names else 1
    return Status(journal, "SQLite", TABLE, SQLITE_MIGRATIONS, applied, implied, exists, foreign)


class SqliteBackend:
    """A journal file; every step is one explicit ``BEGIN IMMEDIATE ... COMMIT``. ``read_only`` opens it
    with a ``mode=ro`` URI: nothing can be written, not even the WAL switch."""

    migrations: tuple[Migration, ...] = SQLITE_MIGRATIONS

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        self.path = path
        try:
            if read_only:
                self._db = sqlite3.connect(read_only_uri(path), uri=True, isolation_level=None, timeout=5.0)
            else:
                self._db = sqlite3.connect(path, isolation_level=None, timeout=5.0)
        except sqlite3.Error as exc:
            raise MigrationError(f"{path} is not a readable SQLite journal: {exc}") from None

    def status(self) -> Status:
        try:
            return sqlite_status(self._db.cursor(), str(self.path))
        except sqlite3.DatabaseError as exc:
            raise MigrationError(f"{self.path} is not a readable SQLite journal: {exc}") from None

    def record_count(self) -> int:
        return int(self._db.execute(f"SELECT count(*) FROM {TABLE}").fetchone()[0])

    def settings_count(self) -> int:
        if not self._db.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (SETTINGS_TABLE,)).fetchone():
            return 0
        return int(self._db.execute(f"SELECT count(*) FROM {SETTINGS_TABLE}").fetchone()[0])

    def _transaction(self, statements: Sequence[tuple[str, tuple[object, ...]]], what: str) -> None:
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for statement, params in statements:
                    self._db.execute(statement, params)
            except sqlite3.Error:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise MigrationError(f"{what} failed on {self.path}: {exc}") from None

    def _row(self, m: Migration) -> tuple[str, tuple[object, ...]]:
        return f"INSERT INTO {VERSION_TABLE} VALUES (?, ?, ?)", (m.version, m.name, now_text())

    def apply(self, migration: Migration, *, up: bool) -> str:
        v = migration.version
        if up:
            steps = [(_SQLITE_VERSION_TABLE, ()), *((s, ()) for s in _SQLITE_UP[v]), self._row(migration)]
        else:
            steps = [*((s, ()) for s in _SQLITE_DOWN[v]), (f"DELETE FROM {VERSION_TABLE} WHERE version = ?", (v,))]
        self._transaction(steps, f"migration {v} {migration.name} {'up' if up else 'down'}")
        return ""

    def adopt(self, versions: Sequence[Migration]) -> None:
        self._transaction([(_SQLITE_VERSION_TABLE, ()), *(self._row(m) for m in versions)], "adopting")

    def forget(self) -> None:
        self._transaction([(f"DELETE FROM {VERSION_TABLE}", ())], "forgetting versions")

    def close(self) -> None:
        self._db.close()


def prepare_sqlite(path: Path, *, new: bool) -> None:
    """For a writer: create a ``new`` journal (a path that did not exist) through every upgrade, or check
    that an existing one is a journal of this engine at the current version (refused otherwise, before
    anything is written: a database with nothing of ours in it is never made a journal). A journal that
    ``engine migrate down --to 0`` emptied is made again."""
    if not new:
        backend = SqliteBackend(path, read_only=True)
        try:
            status = backend.status()
        finally:
            backend.close()
        if not (status.is_new and status.applied is not None):
            require_current(status)
            return
    backend = SqliteBackend(path)
    try:
        upgrade(backend)
    finally:
        backend.close()
