"""Adversarial suite, Postgres: tables named like a journal's that are someone else's are never written,
adopted or dropped (``--replace`` included), and readers run in read-only transactions. Needs the server
at 127.0.0.1:5432; skipped, with the reason, without it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from eventsourcing.persistence import PersistenceError

from engine.journal import JournalReader
from engine.journal.store import JournalWriter
from tests.adversarial import assert_refused, run_cli, write_bars
from tests.stores import DB, HOST, PORT, fresh_table, needs_pg, pg_url

pytestmark = [pytest.mark.adversarial, needs_pg]

FOREIGN = {
    "other_columns": "CREATE TABLE {t} (id serial PRIMARY KEY, note text)",
    "a_view": "CREATE VIEW {t} AS SELECT 1 AS originator_id",
    "journal_columns_other_key": "CREATE TABLE {t} (originator_id text NOT NULL, originator_version bigint NOT NULL, "
    "topic text, state bytea, notification_id bigserial, PRIMARY KEY (notification_id))",
    "settings_of_another_program": "CREATE TABLE {t}_settings (key text PRIMARY KEY, value bytea NOT NULL); "
    "INSERT INTO {t}_settings VALUES ('theme', 'dark')",
    "version_table_of_another_program": "CREATE TABLE {t}_migrations (version integer PRIMARY KEY, name text NOT NULL, "
    "applied_at timestamptz NOT NULL); INSERT INTO {t}_migrations VALUES (1, 'create_users', now())",
}


def sql(statement: str) -> list[tuple[object, ...]]:
    with psycopg.connect(host=HOST, port=PORT, user="postgres", dbname=DB, autocommit=True) as conn:
        cur = conn.execute(statement)
        return list(cur.fetchall()) if cur.description else []


def snapshot(table: str) -> list[tuple[object, ...]]:
    """Every column of every relation named like the journal's, and the rows of each."""
    shape = sql(
        "SELECT c.relname, c.relkind, a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_attribute a ON a.attrelid = c.oid "
        f"WHERE n.nspname = 'public' AND c.relname LIKE '{table}%' AND a.attnum > 0 ORDER BY 1, a.attnum"
    )
    rows: list[tuple[object, ...]] = []
    for (name,) in sql(f"SELECT relname FROM pg_class WHERE relname LIKE '{table}%' AND relkind IN ('r', 'v')"):
        rows += [(name, *r) for r in sql(f"SELECT * FROM {name} ORDER BY 1")]
    return shape + rows


@pytest.fixture
def foreign_table(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    with fresh_table() as table:
        for statement in FOREIGN[request.param].format(t=table).split("; "):
            sql(statement)
        try:
            yield table, pg_url(table)
        finally:
            if sql(f"SELECT 1 FROM pg_class WHERE relname = '{table}' AND relkind = 'v'"):
                sql(f"DROP VIEW {table}")


@pytest.mark.parametrize("foreign_table", sorted(FOREIGN), indirect=True)
@pytest.mark.parametrize(
    "command",
    ["run", "run_replace", "verify", "query", "migrate_up", "migrate_down", "migrate_status", "copy_into", "kill"],
)
def test_a_table_named_like_the_journal_is_never_written_adopted_or_dropped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], foreign_table: tuple[str, str], command: str
) -> None:
    table, url = foreign_table
    bars = write_bars(tmp_path / "bars.csv")
    args = {
        "run": ["run", "--bars", str(bars), "--journal", url],
        "run_replace": ["run", "--bars", str(bars), "--journal", url, "--replace"],
        "verify": ["verify", url],
        "query": ["query", "pnl", "--journal", url],
        "migrate_up": ["migrate", "up", "--journal", url],
        "migrate_down": ["migrate", "down", "--to", "0", "--force", "--journal", url],
        "migrate_status": ["migrate", "status", "--journal", url],
        "copy_into": ["journal", "copy", str(tmp_path / "j.db"), url, "--replace"],
        "kill": ["kill", "--journal", url, "--reason", "r", "--wait", "0"],
    }[command]
    if command == "copy_into":
        assert run_cli(["run", "--bars", str(bars), "--journal", str(tmp_path / "j.db")], capsys)[0] == 0
    before = snapshot(table)
    code, _, err = run_cli(args, capsys)
    if command == "verify" and FOREIGN_NO_JOURNAL_TABLE(table):
        assert code == 2 and "is not a journal" in err
    else:
        assert_refused(code, err, "not a journal")
    assert snapshot(table) == before


def FOREIGN_NO_JOURNAL_TABLE(table: str) -> bool:  # noqa: N802 - reads like the condition it is
    return not sql(f"SELECT 1 FROM pg_class WHERE relname = '{table}'")


def test_a_reader_cannot_write_the_journal(tmp_path: Path) -> None:
    with fresh_table() as table:
        url = pg_url(table)
        JournalWriter(url).close()
        reader = JournalReader(url)
        try:
            recorder = reader._store.recorder  # type: ignore[attr-defined]
            with (
                pytest.raises(PersistenceError, match="read-only transaction"),
                recorder.datastore.transaction(commit=True) as cur,
            ):
                cur.execute(f"INSERT INTO {table}_settings VALUES ('x', 'y')")
        finally:
            reader.close()
        assert sql(f"SELECT count(*) FROM {table}_settings") == [(0,)]
