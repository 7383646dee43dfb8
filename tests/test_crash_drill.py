"""The crash drill of the issue, in the suite: 50 engine processes killed with SIGKILL while they
trade against a separate venue process that drops answers (tools/crash_drill.py); and a short one
on a PostgreSQL journal (skipped, with the reason, when the server is unreachable)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from engine.cli import main
from engine.journal import read_events
from journal_schema.events import RunStarted
from tests.stores import DB, HOST, PORT, fresh_table, needs_pg, pg_url
from tools import crash_drill
from tools.drill import bar_file


@pytest.mark.slow
def test_fifty_kills_leave_no_duplicate_no_lost_order_and_equal_books(tmp_path: Path) -> None:
    report = crash_drill.run(cycles=50, seed=1, workdir=tmp_path)
    log = (tmp_path / "engine.log").read_text(errors="replace").splitlines()
    summary = {**report.as_dict(), "engine_log_tail": log[-30:]}
    assert report.audit.ok, summary
    kills = report.kills
    # every kind of moment was hit, by construction (tools/crash_drill.py): from outside, at both
    # sides of the broker call, and after an accepted order's answer was lost
    assert kills["outside"] >= 10 and kills["submit.before"] >= 1 and kills["submit.after"] >= 1, summary
    assert sum(kills.values()) == 50
    figures = report.audit.figures
    faults = figures["venue_faults"]
    assert faults["accept_then_drop"] + faults["accept_then_timeout"] >= 1, summary  # answers lost after accepting
    assert figures["not_found_at_broker"] >= 1, summary  # requests committed but never sent were looked up
    # how many orders the starts made depends on the machine's speed: only the forced ones are certain
    assert figures["intents"] >= 2, summary
    assert figures["replay"].startswith("identical: "), summary


@pytest.fixture
def pg_journal() -> Iterator[str]:
    """A fresh Postgres journal table, dropped afterwards (with the side tables a newer schema may add)."""
    with fresh_table() as table:
        try:
            yield pg_url(table)
        finally:
            with psycopg.connect(host=HOST, port=PORT, user="postgres", dbname=DB, autocommit=True) as conn:
                conn.execute(f"DROP TABLE IF EXISTS {table}_settings, {table}_inbox")


@pytest.mark.slow
@needs_pg
def test_a_short_drill_on_postgres_passes_its_audit(tmp_path: Path, pg_journal: str) -> None:
    """Five kills on a Postgres journal, among them both sides of the broker call (the forced first
    two): no order accepted twice, equal books, verify and replay pass on the table."""
    old = bar_file(tmp_path / "old.csv", days=20)
    assert main(["run", "--bars", str(old), "--journal", pg_journal]) == 0  # a stale journal: replaced at the start
    report = crash_drill.run(cycles=5, seed=1, workdir=tmp_path, journal_url=pg_journal)
    log = (tmp_path / "engine.log").read_text(errors="replace").splitlines()
    summary = {**report.as_dict(), "engine_log_tail": log[-30:]}
    assert report.audit.ok, summary
    assert sum(report.kills.values()) == 5 and report.kills["submit.before"] >= 1, summary
    assert report.kills["submit.after"] >= 1, summary
    figures = report.audit.figures
    faults = figures["venue_faults"]
    assert faults["accept_then_drop"] >= 1, summary
    assert figures["intents"] >= 2 and figures["venue_accepted"] == figures["intents"], summary
    # 5 killed starts and the final run (a start killed before it reached the broker journals none)
    assert 3 <= figures["run_segments"] <= 6 and figures["clean_ends"] == 1, summary
    assert figures["replay"].startswith("identical: "), summary
    started = [ev for _, ev in read_events(pg_journal, [RunStarted]) if isinstance(ev, RunStarted)]
    assert started and all(ev.dataset.startswith("venue ") for ev in started), summary  # the old journal is gone
    assert not (tmp_path / "journal.db").exists()  # the drill wrote to Postgres, not to the workdir
