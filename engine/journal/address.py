"""Which store a journal address names: a SQLite file path or a ``postgresql://`` URL."""

from __future__ import annotations

from pathlib import Path

from engine.journal import migrations_pg, pg, target
from engine.journal.migrations import Backend, MigrationError
from engine.journal.migrations_sqlite import SqliteBackend


def open_backend(journal: str | Path, *, read_only: bool = False, create: bool = False) -> Backend:
    """The migration backend of a journal address (a file path or ``postgresql://...``). ``read_only`` for
    ``engine migrate status``, which changes nothing; ``create`` (``engine migrate up``) may make a new
    journal file where none exists. An existing file must hold a journal of this engine
    (``engine.journal.target``)."""
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
