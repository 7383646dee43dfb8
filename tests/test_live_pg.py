"""The paper/live runner on a PostgreSQL journal: the in-process runner against the local venue over
real HTTP (the venue stepped once per cycle, as in tests/test_live_runner.py), a crash and a restart,
a second writer refused, and ``engine verify`` / ``engine replay`` on the table it wrote.

Needs the server at 127.0.0.1:5432 (trust auth, database ``test``); without it every test here is
skipped with that reason, never passed. The separate-process ``kill -9`` drill on Postgres is in
tests/test_crash_drill.py."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from engine.cli import main
from engine.journal import JournalLockedError, JournalReader, JournalWriter
from engine.live import runner as live_runner
from engine.venue.server import VenueServer
from journal_schema.events import Event
from replay import replay_journal
from tests.stores import HOST, fresh_table, needs_pg, pg_url
from tests.test_live_runner import Crash, accepted_at_venue, crash, run, venue_positions

pytestmark = needs_pg


@pytest.fixture
def url() -> Iterator[str]:
    """A fresh journal table, dropped afterwards with what its migrations made next to it."""
    with fresh_table() as table:
        yield pg_url(table)


def _run(venue: VenueServer, journal: str, cycles: int, **kw: Any) -> live_runner.LiveRunner:
    return run(venue, cast(Path, journal), cycles, **kw)  # the helper takes any journal LiveRunner takes


def events(journal: str, *names: str) -> list[Event]:
    from engine.journal import read_events

    return [ev for _, ev in read_events(journal) if not names or type(ev).__name__ in names]


def journal_positions(journal: str) -> dict[str, int]:
    from projections import build

    return {p.symbol: p.qty for p in build(journal).positions if p.qty}


def test_a_paper_run_on_postgres_trades_reconciles_and_verifies(
    venue: VenueServer, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    first = _run(venue, url, 45)
    requests = events(url, "OrderSubmitRequested")
    assert len(requests) >= 4
    resolved = events(url, "OrderIntentResolved")
    assert [(e.outcome, e.reason) for e in resolved] == [("SUBMITTED", "BROKER_ACKNOWLEDGED")] * len(requests)  # type: ignore[attr-defined]
    accepted = accepted_at_venue(venue)
    assert len(accepted) == len(requests) and set(accepted.values()) == {1}
    assert events(url, "OrderFilled")  # fills journaled
    second = _run(venue, url, 1)  # a restart on the same table continues it and reconciles the late fills
    assert second.engine.writer.last_seq > first.engine.writer.last_seq
    assert journal_positions(url) == venue_positions(venue) != {}
    names = [type(e).__name__ for e in events(url, "RunStarted", "RunEnded")]
    assert names == ["RunStarted", "RunEnded"] * 2
    with JournalReader(url) as reader:
        last = reader.last_seq()
    assert last == second.engine.writer.last_seq
    assert main(["verify", url]) == 0
    assert capsys.readouterr().out == f"ok: {last} records, chain digest {second.engine.writer.last_hash.hex()}\n"
    assert main(["replay", "--from", url]) == 0
    out = capsys.readouterr().out
    assert out.startswith("identical: ") and second.engine.writer.last_hash.hex() in out
    assert replay_journal(url).identical


def test_a_crash_after_the_commit_on_postgres_resubmits_once(
    venue: VenueServer, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live_runner, "submit", crash)
    with pytest.raises(Crash):
        _run(venue, url, 60)
    (request,) = events(url, "OrderSubmitRequested")  # committed on the server, never sent
    assert accepted_at_venue(venue) == Counter()
    monkeypatch.undo()
    _run(venue, url, 1)  # the crashed runner's lock was released with its connection
    cid = request.client_order_id  # type: ignore[attr-defined]
    chain = [type(e).__name__ for e in events(url) if getattr(e, "client_order_id", None) == cid]
    assert chain[:5] == [
        "OrderIntentCreated",
        "OrderSubmitRequested",
        "OrderNotFoundAtBroker",
        "OrderResubmitRequested",
        "OrderAccepted",
    ]
    assert accepted_at_venue(venue)[cid] == 1
    assert replay_journal(url).identical


def test_a_second_runner_on_the_same_table_is_refused(venue: VenueServer, url: str) -> None:
    _run(venue, url, 2)
    with JournalWriter(url), pytest.raises(JournalLockedError, match="already open for writing"):
        _run(venue, url, 1)
    _run(venue, url, 1)  # the lock went with its holder


def test_the_password_of_the_journal_address_stays_out_of_the_log_and_the_result(
    venue: VenueServer, url: str, caplog: pytest.LogCaptureFixture
) -> None:
    table = url.rsplit("=", 1)[1]
    with caplog.at_level("INFO", logger="engine.live"):
        runner = _run(venue, pg_url(table, password="s3cret"), 2)  # trust auth: the password is not checked
    assert "s3cret" not in caplog.text and f"postgres:***@{HOST}" in caplog.text
    assert runner._result("CYCLE_LIMIT").journal == pg_url(table, password="***")


def test_a_command_queued_in_the_postgres_inbox_is_journaled_by_the_running_live_engine(
    venue: VenueServer, url: str
) -> None:
    from engine.operator import open_inbox
    from journal_schema.events import KillSwitchEngaged

    _run(venue, url, 3)  # the journal (and its inbox table) exist; the run stopped
    inbox = open_inbox(url)
    command_id = inbox.put("KILL", reason="desk says stop", actor="ops", cancel_all=True)
    _run(venue, url, 3)  # drains its inbox every cycle
    (engaged,) = events(url, "KillSwitchEngaged")
    assert isinstance(engaged, KillSwitchEngaged) and engaged.command_id == command_id and engaged.cancel_all
    assert inbox.status(command_id) is not None and not inbox.pending()
    inbox.close()
