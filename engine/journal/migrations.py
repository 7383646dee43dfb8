"""Numbered schema migrations of a journal, with an upgrade and a downgrade step each.

Every schema object the project creates in a journal database is made by a migration and nothing
else: a new journal is created by running every upgrade (``JournalWriter``), an existing one must
be at the latest version to be opened (``engine migrate up --journal ...`` brings it there). The
applied versions are rows of a version table (``journal_migrations`` in the SQLite file,
``<table>_migrations`` on Postgres: version, name, applied_at). Each step runs in its own
transaction together with its version row (DDL is transactional on both stores), so a failed step
leaves the journal at the previous version.

SQLite (this module): 1 the ``journal_events`` table (its primary key is its only index),
2 the append-only triggers, 3 the ``journal_settings`` table (key -> value, written once when the journal
is made: an encrypted journal's cipher and key check, ``engine.journal.cipher``). Postgres:
``engine.journal.migrations_pg``. Reverting the settings migration of a journal that has settings
would make an encrypted journal look unencrypted, so it needs ``--force``.

A journal made before migrations existed has the objects but no version table: its version is
what its objects imply (2 when the table and its guards exist) and ``engine migrate up`` adopts it
by writing the version rows without touching the objects.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

TABLE = "journal_events"
VERSION_TABLE = "journal_migrations"
SETTINGS_TABLE = "journal_settings"
SETTINGS_MIGRATION = "journal_settings"
GUARDS = (f"{TABLE}_no_update", f"{TABLE}_no_delete")


class MigrationError(RuntimeError):
    """A migration cannot be run, or a journal is not at the version this engine needs (one line)."""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    creates: str  # what the upgrade creates (and the downgrade drops), for status and docs


@dataclass(frozen=True, slots=True)
class Status:
    """Where a journal stands. ``applied`` is None when it has no version table (made before migrations)."""

    journal: str
    store: str
    table: str
    migrations: tuple[Migration, ...]
    applied: Mapping[int, str] | None  # version -> applied_at
    implied: int  # the version its objects imply (used when there is no version table)
    exists: bool  # the events table exists
    foreign: str | None = None  # why the database is not a journal of this engine (then nothing is changed)

    @property
    def current(self) -> int:
        return max(self.applied, default=0) if self.applied is not None else self.implied

    @property
    def latest(self) -> int:
        return self.migrations[-1].version

    @property
    def is_new(self) -> bool:
        """No events table (never made, reverted to 0, or dropped by hand) in a database that holds nothing
        else: a writer creates it through every upgrade."""
        return not self.exists and self.foreign is None


class Backend(Protocol):
    """One journal database behind the operations the migration runner needs."""

    migrations: tuple[Migration, ...]

    def status(self) -> Status: ...
    def record_count(self) -> int: ...
    def settings_count(self) -> int: ...  # rows of the settings table (0 when it does not exist)
    def apply(self, migration: Migration, *, up: bool) -> str: ...  # returns a note for the user, or ""
    def adopt(self, versions: Sequence[Migration]) -> None: ...
    def forget(self) -> None: ...  # delete every version row
    def close(self) -> None: ...


def now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")  # shell: migrations are not journal events


def version_error(status: Status) -> str | None:
    """Why a journal at this status cannot be opened by this engine, or None."""
    if status.foreign is not None:
        return status.foreign
    if status.current < status.latest:
        return (f"journal {status.journal} is at schema version {status.current}, this engine needs "
                f"{status.latest}: run `engine migrate up --journal {status.journal}`")  # fmt: skip
    if status.current > status.latest:
        return (f"journal {status.journal} is at schema version {status.current}, newer than this engine "
                f"knows ({status.latest}): use a newer engine")  # fmt: skip
    return None


def require_current(status: Status) -> None:
    problem = version_error(status)
    if problem:
        raise MigrationError(problem)


def upgrade(backend: Backend, to: int | None = None) -> list[str]:
    """Adopt a journal made before migrations, then apply pending upgrades in order up to ``to``
    (default latest), each in its own transaction. Returns one line per step."""
    status = backend.status()
    if status.foreign is not None:  # never adopted, never written: its objects are someone else's
        raise MigrationError(status.foreign)
    target = status.latest if to is None else to
    known = [m.version for m in backend.migrations]
    if target not in known and target != 0:
        raise MigrationError(f"no migration {target}: versions are {', '.join(map(str, known))}")
    if target < status.current:
        raise MigrationError(f"journal {status.journal} is at version {status.current}, above {target}: "
                             f"use `engine migrate down --to {target}`")  # fmt: skip
    lines = []
    if not status.exists and status.current:  # the table was dropped outside the migrations
        backend.forget()
        lines.append(f"forgot versions 1-{status.current}: their events table is gone")
        status = backend.status()
    if status.applied is None and status.implied:
        adopted = [m for m in backend.migrations if m.version <= status.implied]
        backend.adopt(adopted)
        lines += [f"adopted {m.version} {m.name} (present, now recorded)" for m in adopted]
    for m in backend.migrations:
        if status.current < m.version <= target:
            note = backend.apply(m, up=True)
            lines.append(f"applied {m.version} {m.name}" + (f" ({note})" if note else ""))
    return lines


def downgrade(backend: Backend, to: int, *, force: bool = False) -> list[str]:
    """Revert applied migrations above ``to`` in reverse order, each in its own transaction. Refuses
    before changing anything when it would drop the events table with records unless ``force``."""
    status = backend.status()
    if status.foreign is not None:
        raise MigrationError(status.foreign)
    if to < 0 or (to and to not in {m.version for m in backend.migrations}):
        raise MigrationError(f"no migration {to}: versions are 0 (nothing) to {status.latest}")
    if status.applied is None and status.exists:
        raise MigrationError(f"journal {status.journal} has no version table (made before migrations): "
                             "run `engine migrate up` first to adopt it")  # fmt: skip
    if to > status.current:
        raise MigrationError(f"journal {status.journal} is at version {status.current}, below {to}: "
                             f"use `engine migrate up --to {to}`")  # fmt: skip
    if to == 0 and status.exists and not force:
        records = backend.record_count()
        if records:
            raise MigrationError(f"reverting migration 1 drops table {status.table} of {status.journal} holding "
                                 f"{records} records, which would be lost; pass --force to drop them")  # fmt: skip
    settings = [m.version for m in backend.migrations if m.name == SETTINGS_MIGRATION]
    if settings and to < settings[0] <= status.current and not force and backend.settings_count():
        raise MigrationError(f"reverting migration {settings[0]} drops the settings of {status.journal}, which "
                             "say its records are encrypted (they would read as damaged); pass --force to drop "
                             "them")  # fmt: skip
    lines = []
    for m in reversed(backend.migrations):
        if to < m.version <= status.current:
            note = backend.apply(m, up=False)
            lines.append(f"reverted {m.version} {m.name}" + (f" ({note})" if note else ""))
    return lines


def open_backend(journal: str | Path, *, read_only: bool = False, create: bool = False) -> Backend:
    """The migration backend of a journal address (a file path or ``postgresql://...``). ``read_only`` for
    ``engine migrate status``, which changes nothing; ``create`` (``engine migrate up``) may make a new
    journal file where none exists. An existing file must hold a journal of this engine
    (``engine.journal.target``)."""
    from engine.journal import migrations_pg, pg, target

    if pg.is_postgres(journal):
        try:
            return migrations_pg.PgBackend(pg.PgLocation(str(journal)), read_only=read_only)
        except pg.PgJournalError as exc:
            raise MigrationError(str(exc)) from None
    try:
        if create:
            path, _ = target.journal_to_write(journal)
        else:
            path = target.existing_journal_file(journal, write=not read_only)
    except target.PathRefused as exc:
        raise MigrationError(str(exc)) from None
    return SqliteBackend(path, read_only=read_only)


# ---- SQLite ------------------------------------------------------------------------------------

SQLITE_MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "events_table", f"table {TABLE} (primary key (originator_id, originator_version))"),
    Migration(2, "append_only_guards", f"triggers {GUARDS[0]} and {GUARDS[1]} refusing UPDATE and DELETE"),
    Migration(3, SETTINGS_MIGRATION, f"table {SETTINGS_TABLE} (key -> value: the journal's encryption, if any)"),
)
_SQLITE_UP: dict[int, tuple[str, ...]] = {
    1: (f"CREATE TABLE {TABLE} (originator_id TEXT, originator_version INTEGER, topic TEXT, state BLOB, "
        "PRIMARY KEY (originator_id, originator_version))",),
    2: tuple(f"CREATE TRIGGER {TABLE}_no_{op.lower()} BEFORE {op} ON {TABLE} "
             f"BEGIN SELECT RAISE(ABORT, 'journal is append-only: {op} refused'); END" for op in ("UPDATE", "DELETE")),
    3: (f"CREATE TABLE {SETTINGS_TABLE} (key TEXT PRIMARY KEY, value BLOB NOT NULL)",),
}  # fmt: skip
_SQLITE_DOWN: dict[int, tuple[str, ...]] = {
    1: (f"DROP TABLE IF EXISTS {TABLE}",),
    2: tuple(f"DROP TRIGGER IF EXISTS {name}" for name in GUARDS),
    3: (f"DROP TABLE IF EXISTS {SETTINGS_TABLE}",),
}
_SQLITE_VERSION_TABLE = (f"CREATE TABLE IF NOT EXISTS {VERSION_TABLE} (version INTEGER PRIMARY KEY, "
                         "name TEXT NOT NULL, applied_at TEXT NOT NULL)")  # fmt: skip


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
        foreign = _foreign_versions(recorded, SQLITE_MIGRATIONS, journal)
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


def _foreign_versions(
    recorded: Sequence[tuple[int, str, str]], known: tuple[Migration, ...], journal: str
) -> str | None:
    names = {m.version: m.name for m in known}
    for version, name, _ in recorded:
        if names.get(version, name) != name:
            return f"{journal} is not a journal of this engine: its version table names migration {version} {name!r}"
    return None


def foreign_settings(settings: Mapping[str, object], journal: str) -> str | None:
    """Why a settings table does not hold a journal's settings (``engine.journal.cipher``'s keys), or None."""
    from engine.journal.cipher import SETTING_KEYS

    unknown = sorted(set(settings) - set(SETTING_KEYS))
    if unknown:
        return f"{journal} is not a journal of this engine: its settings hold {unknown[0]!r}"
    return None


class SqliteBackend:
    """A journal file; every step is one explicit ``BEGIN IMMEDIATE ... COMMIT``. ``read_only`` opens it
    with a ``mode=ro`` URI: nothing can be written, not even the WAL switch."""

    migrations: tuple[Migration, ...] = SQLITE_MIGRATIONS

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        from engine.journal.target import read_only_uri

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
