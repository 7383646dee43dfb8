"""A journal's address: the text a user gives (``--journal``, ``--from``, ``--out``, ``SRC``/``DST``) parsed
once into the store it names, with every operation whose answer depends on that store.

``parse(text)`` gives a ``SqliteAddress`` (a file path) or a ``PgAddress`` (a ``postgresql://`` or
``postgres://`` URL, ``user[:password]@host:port/dbname?table=NAME``; without ``?table=`` the table is
``journal_events``, and an empty ``?table=`` is taken as not given). A malformed URL is a ``JournalError``
(category ``ADDRESS``). Nothing above this module asks which of the two it has: the reader and the writer
(``engine.journal.read``, ``engine.journal.store``), ``engine migrate``, the operator inbox, copies and
what-if replays call the address's methods.
"""

from __future__ import annotations

import sqlite3
from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from eventsourcing.persistence import PersistenceError

from engine.journal import lock, migrations_pg, migrations_sqlite, pg, target
from engine.journal.backends import PgStore, SqliteStore, Store
from engine.journal.errors import JournalError
from engine.journal.migrations import Backend, Migration
from engine.redact import strip_credentials

if TYPE_CHECKING:
    from engine.operator.command import CommandQueue

SCHEMES = ("postgresql://", "postgres://")


class Lock(Protocol):
    """A journal's single-writer lock (a file lock beside a SQLite journal, an advisory lock on Postgres)."""

    def acquire(self) -> object: ...
    def release(self) -> None: ...


class JournalAddress(ABC):
    """Where a journal is. ``str()`` is its shown form: never a password."""

    @abstractmethod
    def __str__(self) -> str: ...

    @property
    @abstractmethod
    def name(self) -> str:
        """A short name: the file's name, or the table's (a what-if's dataset, a comparison's file)."""

    @property
    @abstractmethod
    def label(self) -> str:
        """How a report names the journal: a file by its name alone (the same file gives the same report
        wherever it lies), a table by its URL (a table name alone does not say where it is)."""

    @abstractmethod
    def missing(self) -> bool:
        """Known not to exist without opening anything (a file path with nothing there)."""

    @abstractmethod
    def files(self) -> tuple[Path, ...]:
        """The files a command reads at this address (an output it writes must be none of them)."""

    @abstractmethod
    def beside(self, suffix: str) -> Path:
        """A file named after the journal: ``<file><suffix>`` next to it, ``<table><suffix>`` here."""

    @abstractmethod
    def same_journal(self, other: JournalAddress) -> bool:
        """The same file (under any name or link), or the same table of the same server."""

    @abstractmethod
    def open_store(self) -> Store:
        """The journal's store, read-only: it must exist and be a journal of this engine at the current
        version (a file that is not one is refused untouched)."""

    @abstractmethod
    def writer_lock(self) -> Lock:
        """The journal's single-writer lock (not taken)."""

    @abstractmethod
    def open_for_writing(self, *, replace: bool) -> tuple[Lock, Store, bool]:
        """Take the writer lock, then open (or make) the journal: ``(lock, store, created)``. ``replace``
        deletes an existing journal first, under the lock."""

    @abstractmethod
    def remove_made(self) -> None:
        """Remove a journal this process made and never wrote (a SQLite file; a Postgres table stays)."""

    def lock_problem(self) -> str | None:
        """Why the writer lock could not be taken because something else sits where it goes, or None."""
        return None

    @abstractmethod
    def writer_holder(self) -> str | None:
        """Who writes the journal now ("pid N ...", "backend pid N (...)"), or None when nobody is known to."""

    @abstractmethod
    def check_target(self) -> None:
        """For a command that will write here: ``PathRefused`` when the place may not be written."""

    @abstractmethod
    def refuse_existing(self, *, replace: bool) -> None:
        """For a command that writes a new journal here (a what-if's ``--out``): ``JournalError`` when what
        is there is not a journal of this engine, or, unless ``replace``, when a journal is already there."""

    @property
    @abstractmethod
    def migrations(self) -> tuple[Migration, ...]: ...

    @abstractmethod
    def migration_backend(self, *, read_only: bool = False, create: bool = False) -> Backend:
        """``engine migrate``'s view of the journal. ``read_only`` for ``status``; ``create`` (``up``) may
        make a new journal where none is."""

    @abstractmethod
    def open_inbox(self, *, create: bool = True) -> CommandQueue | None:
        """The journal's operator inbox; None when ``create`` is false and there is none yet."""

    def postgres_location(self, refusal: str) -> pg.PgLocation:
        """The Postgres location of a journal that must be one; ``refusal`` says why when it is not."""
        raise JournalError(f"{self}: {refusal}", category="ADDRESS")


class SqliteAddress(JournalAddress):
    """A journal in a SQLite file (``path`` as given; links are followed when it is opened)."""

    def __init__(self, path: str | Path) -> None:
        self.text = str(path)
        self.path = Path(path)

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"SqliteAddress({self.text!r})"

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def label(self) -> str:
        return self.path.name

    def missing(self) -> bool:
        return not self.path.exists()

    def files(self) -> tuple[Path, ...]:
        return (self.path,)

    def beside(self, suffix: str) -> Path:
        return Path(f"{self.path}{suffix}")

    def same_journal(self, other: JournalAddress) -> bool:
        return isinstance(other, SqliteAddress) and target.same_file(self.path, other.path)

    def open_store(self) -> Store:
        return SqliteStore(target.existing_journal_file(self.path, write=False), write=False)

    def writer_lock(self) -> Lock:
        return lock.WriterLock(self.path.resolve())

    def open_for_writing(self, *, replace: bool) -> tuple[Lock, Store, bool]:
        # a foreign file is refused before anything is made next to it; the lock is beside the real file
        real, _ = target.journal_to_write(self.path)
        held = lock.WriterLock(real).acquire()
        try:
            real, exists = target.journal_to_write(self.path)  # again, under the lock
            if replace and exists:
                self._delete(real)
                exists = False
            store = SqliteStore(real, write=True, new=not exists)
        except (JournalError, PersistenceError, sqlite3.Error, OSError):
            held.release()
            raise
        return held, store, not exists

    @staticmethod
    def _delete(journal: Path) -> None:
        """``--replace``: delete a journal of this engine (checked by the caller, under its writer lock) with
        SQLite's files and the journal's operator inbox; an inbox that is not one is refused, untouched."""
        inbox = target.inbox_path(journal)
        problem = target.inbox_problem(inbox)
        if problem is not None:
            raise target.PathRefused(f"--replace refused: {problem}")
        for name in (journal, inbox):
            for suffix in ("", "-wal", "-shm"):
                Path(f"{name}{suffix}").unlink(missing_ok=True)

    def remove_made(self) -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.path.resolve()}{suffix}").unlink(missing_ok=True)

    def lock_problem(self) -> str | None:
        return lock.lock_problem(self.path)

    def writer_holder(self) -> str | None:
        pid = lock.holder_pid(self.path)
        return None if pid is None else f"pid {pid} from the lock file"

    def check_target(self) -> None:
        p, _ = target.journal_to_write(self.path)
        problem = lock.lock_problem(p) or target.inbox_problem(target.inbox_path(p))  # the run takes both
        if problem is not None:
            raise target.PathRefused(problem)

    def refuse_existing(self, *, replace: bool) -> None:
        if target.journal_to_write(self.path)[1] and not replace:  # a file that is not a journal is refused
            raise JournalError(f"{self} already holds a journal; give a new path or --replace", category="REFUSED")

    @property
    def migrations(self) -> tuple[Migration, ...]:
        return migrations_sqlite.SQLITE_MIGRATIONS

    def migration_backend(self, *, read_only: bool = False, create: bool = False) -> Backend:
        if create:
            path, _ = target.journal_to_write(self.path)
        else:
            path = target.existing_journal_file(self.path, write=not read_only)
        return migrations_sqlite.SqliteBackend(path, read_only=read_only)

    def open_inbox(self, *, create: bool = True) -> CommandQueue | None:
        from engine.operator.inbox_sqlite import Inbox

        if not create and not target.inbox_path(self.path).exists():
            return None  # no file is made before a command is ever queued
        return Inbox(self.path)


class PgAddress(JournalAddress):
    """A journal in a table of a PostgreSQL database."""

    def __init__(self, url: str) -> None:
        self.location = pg.PgLocation(url)

    def __str__(self) -> str:
        return str(self.location)

    def __repr__(self) -> str:
        return f"PgAddress({str(self)!r})"

    @property
    def name(self) -> str:
        return self.location.table

    @property
    def label(self) -> str:
        return str(self.location)

    def missing(self) -> bool:
        return False  # not known without connecting

    def files(self) -> tuple[Path, ...]:
        return ()

    def beside(self, suffix: str) -> Path:
        return Path(f"{self.location.table}{suffix}")

    def same_journal(self, other: JournalAddress) -> bool:
        if not isinstance(other, PgAddress):
            return False
        a, b = self.location, other.location
        return (a.port, a.dbname, a.table) == (b.port, b.dbname, b.table) and pg.same_server(a.host, b.host)

    def open_store(self) -> Store:
        return PgStore(self.location, create=False)

    def writer_lock(self) -> Lock:
        return pg.PgWriterLock(self.location)

    def open_for_writing(self, *, replace: bool) -> tuple[Lock, Store, bool]:
        held = pg.PgWriterLock(self.location).acquire()
        try:
            store = PgStore(self.location, create=True, replace=replace)
        except (JournalError, PersistenceError):
            held.release()
            raise
        return held, store, False

    def remove_made(self) -> None:
        """A table made by a writer that never wrote stays (it holds no records)."""

    def writer_holder(self) -> str | None:
        try:
            return pg.writer_holder(self.location)
        except JournalError:
            return None  # unreachable now: treated as gone (opening the journal says why it cannot)

    def check_target(self) -> None:
        backend = migrations_pg.PgBackend(self.location, read_only=True)
        try:
            foreign = backend.status().foreign
        finally:
            backend.close()
        if foreign is not None:
            raise target.PathRefused(foreign)

    def refuse_existing(self, *, replace: bool) -> None:
        if replace:
            return  # the writer checks what is there, and drops the old journal
        try:
            store = self.open_store()
        except JournalError:
            return  # no journal there yet (or not one: the writer makes it, or says why it cannot)
        try:
            held = store.max_seq()
        finally:
            store.close()
        if held:
            raise JournalError(
                f"{self} already holds {held} records; give a new table or --replace", category="REFUSED"
            )

    @property
    def migrations(self) -> tuple[Migration, ...]:
        return migrations_pg.PG_MIGRATIONS

    def migration_backend(self, *, read_only: bool = False, create: bool = False) -> Backend:
        return migrations_pg.PgBackend(self.location, read_only=read_only)

    def open_inbox(self, *, create: bool = True) -> CommandQueue | None:
        from engine.operator.inbox_pg import PgInbox

        return PgInbox(self.location)

    def postgres_location(self, refusal: str) -> pg.PgLocation:
        return self.location


JournalLike = str | Path | JournalAddress


def parse(journal: JournalLike) -> JournalAddress:
    """The address ``journal`` names (an address is returned as it is)."""
    if isinstance(journal, JournalAddress):
        return journal
    if isinstance(journal, str) and journal.startswith(SCHEMES):
        return PgAddress(journal)
    return SqliteAddress(journal)


def shown(journal: JournalLike) -> str:
    """An address as the user may see it, even one that does not parse (never a password)."""
    return str(journal) if isinstance(journal, JournalAddress) else strip_credentials(str(journal))
