"""``engine migrate``: every schema object of a journal comes from a numbered migration; up, down and
up again really create and drop them (checked in sqlite_master / pg_catalog), on SQLite and on the
real PostgreSQL server; journals behind the latest version are refused with what to run; journals
made before migrations are adopted.

The Postgres cases run in a database of their own (``mig_<pid>``, dropped afterwards) so that the
schema-wide objects of migration 3 are really dropped; each test uses a fresh table, dropped
afterwards. Without the server at 127.0.0.1:5432 they are skipped with that reason."""

from __future__ import annotations

import itertools
import os
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from engine.cli import main
from engine.journal import JournalError, JournalReader, JournalWriter
from engine.runner import historical_run
from journal_schema.events import SessionClosed
from tests.stores import HOST, PORT, needs_pg
from tests.test_pg_journal import bars, small_cfg

Capsys = pytest.CaptureFixture[str]
DB = f"mig_{os.getpid()}"
_tables = itertools.count(1)
SQLITE_AT = {
    0: {"journal_migrations"},
    1: {"journal_migrations", "journal_events", "sqlite_autoindex_journal_events_1"},
    2: {
        "journal_migrations",
        "journal_events",
        "sqlite_autoindex_journal_events_1",
        "journal_events_no_update",
        "journal_events_no_delete",
    },
}
SQLITE_AT[3] = SQLITE_AT[2] | {"journal_settings", "sqlite_autoindex_journal_settings_1"}
SQLITE_LATEST, PG_LATEST = 3, 5


def pg_at(table: str, version: int) -> set[str]:
    objects = {f"table {table}_migrations", f"index {table}_migrations_pkey"}
    if version >= 1:
        objects |= {
            f"table {table}",
            f"index {table}_pkey",
            f"index {table}_notification_id_idx",
            f"sequence {table}_notification_id_seq",
        }
    if version >= 2:
        objects |= {f"function {table}_append_only", f"trigger {table}_no_change", f"trigger {table}_no_truncate"}
    if version >= 3:
        objects |= {"type stored_event_text", "function es_insert_events_text"}
    if version >= 4:
        objects |= {f"table {table}_settings", f"index {table}_settings_pkey"}
    if version >= 5:
        objects |= {
            f"table {table}_inbox",
            f"index {table}_inbox_pkey",
            f"index {table}_inbox_command_id_key",
            f"sequence {table}_inbox_seq_seq",
        }
    return objects


def sqlite_objects(path: Path) -> set[str]:
    with sqlite3.connect(path) as db:
        return {name for (name,) in db.execute("SELECT name FROM sqlite_master")}


def _pg(dbname: str = DB) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(host=HOST, port=PORT, user="postgres", dbname=dbname, autocommit=True)


def pg_objects() -> set[str]:
    """Every object of the test database's public schema, by kind."""
    query = """
        SELECT CASE c.relkind WHEN 'r' THEN 'table' WHEN 'i' THEN 'index' WHEN 'S' THEN 'sequence' ELSE 'rel' END
               || ' ' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'i', 'S')
        UNION ALL SELECT 'function ' || p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
         WHERE n.nspname = 'public'
        UNION ALL SELECT 'trigger ' || t.tgname FROM pg_trigger t WHERE NOT t.tgisinternal
        UNION ALL SELECT 'type ' || t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
         WHERE n.nspname = 'public' AND t.typtype = 'c' AND t.typrelid IN (SELECT oid FROM pg_class WHERE relkind = 'c')
    """
    with _pg() as conn:
        return {str(name) for (name,) in conn.execute(query).fetchall()}


@pytest.fixture(scope="module")
def pg_database() -> Iterator[str]:
    with _pg("test") as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB}")
        conn.execute(f"CREATE DATABASE {DB}")
    yield DB
    with _pg("test") as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")


@pytest.fixture
def pg_journal(pg_database: str) -> Iterator[tuple[str, str]]:
    """(address, table) of a fresh Postgres table, dropped afterwards with its version table and guard."""
    table = f"t_mig_{next(_tables)}"
    yield f"postgresql://postgres@{HOST}:{PORT}/{pg_database}?table={table}", table
    with _pg() as conn:
        conn.execute(f"DROP TABLE IF EXISTS {table}, {table}_migrations, {table}_settings, {table}_inbox")
        conn.execute(f"DROP FUNCTION IF EXISTS {table}_append_only")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=needs_pg)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    """(journal address, table) of a journal that does not exist yet, on each store."""
    if request.param == "sqlite":
        return str(tmp_path / "journal.db"), "journal_events"
    journal: tuple[str, str] = request.getfixturevalue("pg_journal")
    return journal


def objects(address: str, table: str) -> set[str]:
    if address.startswith("postgresql://"):
        return {o for o in pg_objects() if table in o or "stored_event" in o or "es_insert" in o}
    return sqlite_objects(Path(address))


def expected(address: str, table: str, version: int) -> set[str]:
    return pg_at(table, version) if address.startswith("postgresql://") else SQLITE_AT[version]


def migrate(*args: str) -> int:
    return main(["migrate", *args])


def write_some(address: str, n: int = 3) -> None:
    with JournalWriter(address) as w:
        for i in range(n):
            w.append([SessionClosed(ts=i + 1, session="2024-01-02", calendar="X")])


def test_up_down_and_up_again_create_and_drop_every_object(store: tuple[str, str], capsys: Capsys) -> None:
    address, table = store  # a file that does not exist yet, or a table: version 0
    latest = PG_LATEST if address.startswith("postgresql://") else SQLITE_LATEST
    assert migrate("up", "--to", "1", "--journal", address) == 0
    assert objects(address, table) == expected(address, table, 1)
    assert migrate("up", "--journal", address) == 0
    assert objects(address, table) == expected(address, table, latest)
    out = capsys.readouterr().out
    assert f"applied {latest} " in out and f"version {latest}, latest {latest}" in out
    for version in reversed(range(latest)):
        assert migrate("down", "--to", str(version), "--journal", address) == 0
        assert objects(address, table) == expected(address, table, version)
    assert f"reverted 1 events_table\njournal {address}" in capsys.readouterr().out
    assert migrate("up", "--journal", address) == 0
    assert objects(address, table) == expected(address, table, latest)
    write_some(address)
    assert [r.seq for r in JournalReader(address).records()] == [1, 2, 3]


def test_a_new_journal_is_made_by_the_migrations_and_status_says_so(store: tuple[str, str], capsys: Capsys) -> None:
    address, table = store
    write_some(address)
    latest = PG_LATEST if address.startswith("postgresql://") else SQLITE_LATEST
    assert objects(address, table) == expected(address, table, latest)
    capsys.readouterr()
    assert migrate("status", "--journal", address) == 0
    lines = capsys.readouterr().out.splitlines()
    store_name = "Postgres" if address.startswith("postgresql://") else "SQLite"
    assert lines[0] == f"journal {address} ({store_name}): version {latest}, latest {latest}"
    stamp = r"applied \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00"
    assert re.fullmatch(rf"  1  events_table +{stamp} +table .*", lines[1])
    assert re.fullmatch(rf"  2  append_only_guards +{stamp} +.*", lines[2])
    assert len(lines) == 1 + latest
    assert migrate("up", "--journal", address) == 0
    assert f"nothing to do: version {latest}" in capsys.readouterr().out


def test_to_stops_at_a_version_and_bad_targets_are_one_line_errors(store: tuple[str, str], capsys: Capsys) -> None:
    address, table = store
    write_some(address)
    assert migrate("down", "--to", "1", "--journal", address) == 0
    capsys.readouterr()
    assert migrate("status", "--journal", address) == 0
    out = capsys.readouterr().out
    assert "version 1, latest" in out and re.search(r"  2  append_only_guards +pending", out)
    for args, message in [
        (("up", "--to", "9"), "no migration 9"),
        (("up", "--to", "0"), "above 0: use `engine migrate down --to 0`"),
        (("down", "--to", "2"), "below 2: use `engine migrate up --to 2`"),
    ]:
        assert migrate(*args, "--journal", address) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1
    with pytest.raises(SystemExit):
        migrate("down", "--journal", address)  # --to is required
    assert objects(address, table) == expected(address, table, 1)


def test_reverting_1_is_refused_while_the_table_holds_records_unless_forced(
    store: tuple[str, str], capsys: Capsys
) -> None:
    address, table = store
    write_some(address, 3)
    latest = PG_LATEST if address.startswith("postgresql://") else SQLITE_LATEST
    assert migrate("down", "--to", "0", "--journal", address) == 2
    err = capsys.readouterr().err
    assert f"drops table {table} of {address} holding 3 records, which would be lost; pass --force" in err
    assert objects(address, table) == expected(address, table, latest)  # nothing changed, guards included
    assert migrate("down", "--to", "0", "--force", "--journal", address) == 0
    assert objects(address, table) == expected(address, table, 0)
    write_some(address, 1)  # a writer makes it again from version 0
    assert objects(address, table) == expected(address, table, latest)


def test_a_journal_behind_the_latest_version_is_refused_with_what_to_run(
    store: tuple[str, str], capsys: Capsys
) -> None:
    address, _ = store
    write_some(address)
    assert migrate("down", "--to", "1", "--journal", address) == 0
    run_up = f"run `engine migrate up --journal {address}`"
    with pytest.raises(JournalError, match=re.escape(run_up)):
        JournalReader(address)
    with pytest.raises(JournalError, match=re.escape(run_up)):
        JournalWriter(address)
    capsys.readouterr()
    assert main(["verify", address]) == 2
    err = capsys.readouterr().err
    assert "is at schema version 1, this engine needs" in err and err.count("\n") == 1
    assert migrate("up", "--journal", address) == 0
    assert main(["verify", address]) == 0


def test_migrate_refuses_while_a_writer_holds_the_journal(store: tuple[str, str], capsys: Capsys) -> None:
    address, table = store
    write_some(address)
    with JournalWriter(address):
        assert migrate("down", "--to", "1", "--journal", address) == 2
    assert "already open for writing" in capsys.readouterr().err
    assert migrate("status", "--journal", address) == 0  # status only reads


def test_a_journal_at_the_latest_version_verifies_and_replays(
    store: tuple[str, str], tmp_path: Path, capsys: Capsys
) -> None:
    address, _ = store
    cfg, snap = small_cfg(tmp_path)
    run = historical_run(cfg, snap, address, bars(tmp_path))  # type: ignore[arg-type]
    assert migrate("down", "--to", "1", "--journal", address) == 0
    assert migrate("up", "--journal", address) == 0
    capsys.readouterr()
    assert main(["verify", address]) == 0
    assert capsys.readouterr().out == f"ok: {run.last_seq} records, chain digest {run.digest}\n"
    assert main(["replay", "--from", address]) == 0
    assert run.digest in capsys.readouterr().out


OLD_SQLITE_SCHEMA = (  # what JournalRecorder.create_table made before migrations existed
    "CREATE TABLE IF NOT EXISTS journal_events (originator_id TEXT, originator_version INTEGER, topic TEXT, "
    "state BLOB, PRIMARY KEY (originator_id, originator_version))",
    "CREATE TRIGGER IF NOT EXISTS journal_events_no_update BEFORE UPDATE ON journal_events "
    "BEGIN SELECT RAISE(ABORT, 'journal is append-only: UPDATE refused'); END",
    "CREATE TRIGGER IF NOT EXISTS journal_events_no_delete BEFORE DELETE ON journal_events "
    "BEGIN SELECT RAISE(ABORT, 'journal is append-only: DELETE refused'); END",
)


def old_sqlite_journal(tmp_path: Path, *, guards: bool = True) -> tuple[Path, str]:
    """A journal made the old way (no version table) holding the records of a real run; its digest."""
    cfg, snap = small_cfg(tmp_path)
    source = tmp_path / "source.db"
    digest = historical_run(cfg, snap, source, bars(tmp_path)).digest  # type: ignore[arg-type]
    old = tmp_path / "old.db"
    with sqlite3.connect(old) as db, sqlite3.connect(source) as src:
        for statement in OLD_SQLITE_SCHEMA[: 3 if guards else 1]:
            db.execute(statement)
        db.executemany(
            "INSERT INTO journal_events VALUES (?, ?, ?, ?)",
            src.execute("SELECT * FROM journal_events ORDER BY rowid").fetchall(),
        )
    return old, digest


def test_an_old_sqlite_journal_is_read_then_adopted_by_up(tmp_path: Path, capsys: Capsys) -> None:
    old, digest = old_sqlite_journal(tmp_path)
    assert "journal_migrations" not in sqlite_objects(old)
    assert main(["verify", str(old)]) == 2  # version 2: refused with what to run
    assert "at schema version 2, this engine needs 3: run `engine migrate up" in capsys.readouterr().err
    assert migrate("status", "--journal", str(old)) == 0
    out = capsys.readouterr().out
    assert "version 2, latest 3 (made before migrations: no version table; `engine migrate up` adopts it)" in out
    assert re.search(r"  1  events_table +present, unrecorded", out)
    assert migrate("down", "--to", "1", "--journal", str(old)) == 2
    assert "run `engine migrate up` first to adopt it" in capsys.readouterr().err
    assert migrate("up", "--journal", str(old)) == 0
    out = capsys.readouterr().out
    assert out.startswith("adopted 1 events_table (present, now recorded)\nadopted 2 append_only_guards")
    assert "applied 3 journal_settings" in out
    with sqlite3.connect(old) as db:
        assert [r[:2] for r in db.execute("SELECT * FROM journal_migrations ORDER BY version")] == [
            (1, "events_table"),
            (2, "append_only_guards"),
            (3, "journal_settings"),
        ]
    assert sqlite_objects(old) == SQLITE_AT[3]
    assert main(["verify", str(old)]) == 0 and digest in capsys.readouterr().out
    assert main(["replay", "--from", str(old)]) == 0 and digest in capsys.readouterr().out
    with JournalWriter(old) as w:
        assert w.last_seq > 20


def test_an_old_journal_without_guards_is_refused_then_upgraded(tmp_path: Path, capsys: Capsys) -> None:
    old, digest = old_sqlite_journal(tmp_path, guards=False)
    with pytest.raises(JournalError, match="at schema version 1, this engine needs 3"):
        JournalReader(old)
    assert migrate("up", "--journal", str(old)) == 0
    assert capsys.readouterr().out.startswith("adopted 1 events_table (present, now recorded)\napplied 2 ")
    assert sqlite_objects(old) == SQLITE_AT[3]
    assert main(["verify", str(old)]) == 0 and digest in capsys.readouterr().out


@needs_pg
def test_an_old_postgres_journal_is_refused_then_adopted_and_upgraded(
    pg_journal: tuple[str, str], capsys: Capsys
) -> None:
    address, table = pg_journal
    write_some(address)
    with _pg() as conn:  # what a Postgres journal made before migrations has: the objects, no version table
        conn.execute(f"DROP TABLE {table}_migrations, {table}_settings, {table}_inbox")
    with pytest.raises(JournalError, match="at schema version 2, this engine needs 5"):
        JournalReader(address)
    assert migrate("up", "--journal", address) == 0
    assert capsys.readouterr().out.startswith(
        "adopted 1 events_table (present, now recorded)\n"
        "adopted 2 append_only_guards (present, now recorded)\napplied 3 "
    )
    assert objects(address, table) == pg_at(table, 5)
    assert [r.seq for r in JournalReader(address).records()] == [1, 2, 3]


def test_a_missing_sqlite_journal_is_a_one_line_error(tmp_path: Path, capsys: Capsys) -> None:
    assert migrate("status", "--journal", str(tmp_path / "nope.db")) == 2
    assert capsys.readouterr().err == f"engine migrate: error: journal not found: {tmp_path / 'nope.db'}\n"
    assert not (tmp_path / "nope.db").exists()


@needs_pg
def test_reverting_3_keeps_the_shared_objects_while_another_journal_has_them(
    pg_journal: tuple[str, str], capsys: Capsys
) -> None:
    address, table = pg_journal
    other = f"t_mig_other_{next(_tables)}"
    other_address = address.replace(f"table={table}", f"table={other}")
    try:
        write_some(address)
        write_some(other_address)
        assert migrate("down", "--to", "2", "--journal", address) == 0
        assert f"objects kept: 1 other journal(s) of the schema have it ({other})" in capsys.readouterr().out
        assert {"type stored_event_text", "function es_insert_events_text"} <= pg_objects()
        assert migrate("down", "--to", "2", "--journal", other_address) == 0
        assert not {"type stored_event_text", "function es_insert_events_text"} & pg_objects()
    finally:
        with _pg() as conn:
            conn.execute(f"DROP TABLE IF EXISTS {other}, {other}_migrations, {other}_settings, {other}_inbox")
            conn.execute(f"DROP FUNCTION IF EXISTS {other}_append_only")


def test_a_table_dropped_by_hand_is_made_again_by_the_next_writer(tmp_path: Path, capsys: Capsys) -> None:
    path = tmp_path / "journal.db"
    write_some(str(path))
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE journal_events")  # its triggers go with it; the version rows stay
    with pytest.raises(JournalError, match="holds no journal"):
        JournalReader(path)
    assert migrate("down", "--to", "0", "--journal", str(path)) == 0  # nothing to count, nothing refused
    assert migrate("up", "--to", "1", "--journal", str(path)) == 0
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE journal_events")
    write_some(str(path), 2)
    assert sqlite_objects(path) == SQLITE_AT[3]
    capsys.readouterr()
    assert migrate("status", "--journal", str(path)) == 0
    assert capsys.readouterr().out.startswith(f"journal {path} (SQLite): version 3, latest 3\n")
