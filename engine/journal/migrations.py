"""Numbered schema migrations of a journal, with an upgrade and a downgrade step each.

Every schema object the project creates in a journal database is made by a migration and nothing
else: a new journal is created by running every upgrade (``JournalWriter``), an existing one must
be at the latest version to be opened (``engine migrate up --journal ...`` brings it there). The
applied versions are rows of a version table (``journal_migrations`` in the SQLite file,
``<table>_migrations`` on Postgres: version, name, applied_at). Each step runs in its own
transaction together with its version row (DDL is transactional on both stores), so a failed step
leaves the journal at the previous version.

SQLite (``engine.journal.migrations_sqlite``): 1 the ``journal_events`` table (its primary key is its only index),
2 the append-only triggers, 3 the ``journal_settings`` table (key -> value, written once when the journal
is made: an encrypted journal's cipher and key check, ``engine.journal.cipher``). Postgres:
``engine.journal.migrations_pg``. Reverting the settings migration of a journal that has settings
would make an encrypted journal look unencrypted, so it needs ``--force``.

A journal made before migrations existed has the objects but no version table: its version is
what its objects imply (2 when the table and its guards exist) and ``engine migrate up`` adopts it
by writing the version rows without touching the objects.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from engine.journal.errors import Category, JournalError

TABLE = "journal_events"
VERSION_TABLE = "journal_migrations"
SETTINGS_TABLE = "journal_settings"
SETTINGS_MIGRATION = "journal_settings"
GUARDS = (f"{TABLE}_no_update", f"{TABLE}_no_delete")


class MigrationError(JournalError):
    """A migration cannot be run, or a journal is not at the version this engine needs (one line)."""

    category: Category = "VERSION"


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
        return (
            f"journal {status.journal} is at schema version {status.current}, this engine needs "
            f"{status.latest}: run `engine migrate up --journal {status.journal}`"
        )
    if status.current > status.latest:
        return (
            f"journal {status.journal} is at schema version {status.current}, newer than this engine "
            f"knows ({status.latest}): use a newer engine"
        )
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
        raise MigrationError(
            f"journal {status.journal} is at version {status.current}, above {target}: "
            f"use `engine migrate down --to {target}`"
        )
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
        raise MigrationError(
            f"journal {status.journal} has no version table (made before migrations): "
            "run `engine migrate up` first to adopt it"
        )
    if to > status.current:
        raise MigrationError(
            f"journal {status.journal} is at version {status.current}, below {to}: use `engine migrate up --to {to}`"
        )
    if to == 0 and status.exists and not force:
        records = backend.record_count()
        if records:
            raise MigrationError(
                f"reverting migration 1 drops table {status.table} of {status.journal} holding "
                f"{records} records, which would be lost; pass --force to drop them"
            )
    settings = [m.version for m in backend.migrations if m.name == SETTINGS_MIGRATION]
    if settings and to < settings[0] <= status.current and not force and backend.settings_count():
        raise MigrationError(
            f"reverting migration {settings[0]} drops the settings of {status.journal}, which "
            "say its records are encrypted (they would read as damaged); pass --force to drop "
            "them"
        )
    lines = []
    for m in reversed(backend.migrations):
        if to < m.version <= status.current:
            note = backend.apply(m, up=False)
            lines.append(f"reverted {m.version} {m.name}" + (f" ({note})" if note else ""))
    return lines


def foreign_versions(
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
