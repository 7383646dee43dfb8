"""``engine migrate status|up|down``: the schema version of a journal (``engine.journal.migrations``)."""

from __future__ import annotations

import argparse
from typing import Any

from engine.cli import EXIT_OK, UsageError

_DESCRIPTION = """\
Every schema object of a journal is made by a numbered migration with an
upgrade and a downgrade step; the applied versions are rows of the journal's
version table (journal_migrations in a SQLite file, <table>_migrations on
Postgres). Engines open only journals at the latest version.

  status       the current and latest version and each migration's state
  up [--to V]  apply the pending migrations in order (default: all), each in
               its own transaction with its version row; a journal made
               before migrations is adopted first (its version rows are
               written, its objects left as they are)
  down --to V  revert the migrations above V in reverse order; reverting 1
               drops the events table: refused while it holds records
               unless --force

up and down take the journal's writer lock: they refuse while a run writes."""


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "migrate",
        help="show, upgrade or downgrade a journal's schema version",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    journal = argparse.ArgumentParser(add_help=False)
    journal.add_argument(
        "--journal",
        required=True,
        metavar="JOURNAL",
        help="journal file (journal.db) or postgresql://user@host:port/db?table=NAME",
    )
    status = actions.add_parser(
        "status",
        parents=[journal],
        help="print the current, latest and each version",
        description="Print the journal's current and latest version and each migration's "
        "state (applied at, pending, or present but unrecorded).",
    )
    status.set_defaults(func=run)
    up = actions.add_parser(
        "up",
        parents=[journal],
        help="apply pending migrations",
        description="Apply the pending migrations in order, each in its own transaction.",
    )
    up.add_argument("--to", type=int, metavar="VERSION", help="stop at this version (default: the latest)")
    up.set_defaults(func=run)
    down = actions.add_parser(
        "down",
        parents=[journal],
        help="revert migrations above --to",
        description="Revert the migrations above VERSION in reverse order, each in its own "
        "transaction. Version 0 removes the journal's table: refused while it holds "
        "records unless --force.",
    )
    down.add_argument("--to", type=int, metavar="VERSION", required=True, help="the version to go down to (0: none)")
    down.add_argument("--force", action="store_true", help="drop the events table even when it holds records")
    down.set_defaults(func=run)


def _state_lines(status: Any) -> list[str]:
    lines = []
    for m in status.migrations:
        if status.applied is not None:
            state = f"applied {status.applied[m.version]}" if m.version in status.applied else "pending"
        else:
            state = "present, unrecorded" if m.version <= status.implied else "pending"
        lines.append(f"  {m.version}  {m.name:<24} {state:<34} {m.creates.replace('<table>', status.table)}")
    return lines


def _summary(status: Any) -> str:
    line = f"journal {status.journal} ({status.store}): version {status.current}, latest {status.latest}"
    if status.applied is None and status.exists:
        line += " (made before migrations: no version table; `engine migrate up` adopts it)"
    return line


def run(args: argparse.Namespace) -> int:
    from engine.journal.address import Lock, parse
    from engine.journal.errors import JournalError
    from engine.journal.migrations import MigrationError, downgrade, upgrade

    lock: Lock | None = None
    try:
        # the version asked for and the address are checked (a file that is not a journal is refused untouched)
        # before anything is opened for writing: a refused command makes no file
        journal = parse(args.journal)
        known = {m.version for m in journal.migrations} | {0}
        if getattr(args, "to", None) is not None and args.to not in known:
            raise MigrationError(f"no migration {args.to}: versions are 0 (nothing) to {max(known)}")
        if args.action == "up" and args.to == 0 and journal.missing():
            print(f"nothing to do: {args.journal} does not exist (version 0)")
            return EXIT_OK
        problem = None if args.action == "status" else journal.lock_problem()
        if problem is not None:
            raise MigrationError(problem)
        backend = journal.migration_backend(read_only=args.action == "status", create=args.action == "up")
        if args.action != "status":
            lock = journal.writer_lock()
            try:
                lock.acquire()
            except JournalError:
                backend.close()
                lock = None
                raise
        try:
            if args.action == "up":
                lines = upgrade(backend, args.to)
            elif args.action == "down":
                lines = downgrade(backend, args.to, force=args.force)
            else:
                found = backend.status()
                if found.foreign is not None:
                    raise MigrationError(found.foreign)
                lines = _state_lines(found)
            status = backend.status()
        finally:
            backend.close()
    except JournalError as exc:
        raise UsageError(str(exc)) from None
    finally:
        if lock is not None:
            lock.release()
    if args.action == "status":
        print(_summary(status))
        print("\n".join(lines))
    else:
        print("\n".join(lines) if lines else f"nothing to do: version {status.current}")
        print(_summary(status))
    return EXIT_OK
