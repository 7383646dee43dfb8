"""Where a test's journal lives: a SQLite file or a fresh table on the real PostgreSQL server.

``journal_url`` (a fixture, registered in conftest.py) and ``STORES`` (for ``parametrize``, e.g. inside
hypothesis tests, which need a fresh journal per example: ``journal_at``) run a test on both stores.
The Postgres case needs the server at 127.0.0.1:5432 (trust auth, database ``test``); without it
the case is skipped with that reason, never passed."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

HOST, PORT, DB = "127.0.0.1", 5432, "test"


def _unreachable() -> str | None:
    try:
        psycopg.connect(host=HOST, port=PORT, user="postgres", dbname=DB, connect_timeout=2).close()
    except psycopg.Error as exc:
        return f"PostgreSQL not reachable at {HOST}:{PORT} (database {DB}): {str(exc).splitlines()[0]}"
    return None


PG_UNREACHABLE = _unreachable()
needs_pg = pytest.mark.skipif(PG_UNREACHABLE is not None, reason=PG_UNREACHABLE or "")
STORES = [pytest.param("sqlite", id="sqlite"), pytest.param("postgres", id="postgres", marks=needs_pg)]
_tables = itertools.count(1)


def pg_url(table: str, password: str = "") -> str:
    auth = f"postgres:{password}" if password else "postgres"
    return f"postgresql://{auth}@{HOST}:{PORT}/{DB}?table={table}"


def drop_table(table: str) -> None:
    """Drop a test journal with what its migrations made next to it (version table, trigger function)."""
    with psycopg.connect(host=HOST, port=PORT, user="postgres", dbname=DB, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {table}, {table}_migrations, {table}_settings, {table}_inbox")
        conn.execute(f"DROP FUNCTION IF EXISTS {table}_append_only() CASCADE")


@contextmanager
def fresh_table() -> Iterator[str]:
    """A table name no other test uses; the table (if made) is dropped afterwards."""
    table = f"t_store_{os.getpid()}_{next(_tables)}"
    try:
        yield table
    finally:
        drop_table(table)


@contextmanager
def journal_at(store: str, directory: Path, name: str) -> Iterator[str | Path]:
    """A journal that does not exist yet: ``directory/name.db``, or a fresh Postgres table."""
    if store == "sqlite":
        yield directory / f"{name}.db"
        return
    with fresh_table() as table:
        yield pg_url(table)


@pytest.fixture(params=STORES)
def journal_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str | Path]:
    """A fresh journal on each store: ``tmp_path/journal.db``, then a new Postgres table."""
    with journal_at(request.param, tmp_path, "journal") as journal:
        yield journal
