"""Risk controls in a running live process against the local venue: operator commands reach it
through the inbox, dependency breakers open and close, shell errors are classified and halt."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine.alpaca.errors import BrokerError
from engine.kernel import RunError
from engine.live.breakers import SECOND_NS, Breakers
from engine.live.runner import LiveRunner
from engine.operator import Inbox
from engine.venue.server import VenueServer
from journal_schema.events import (
    DecisionMade,
    KillSwitchEngaged,
    OrderCancelRequested,
    OrderIntentCreated,
    OrderSubmitRequested,
    TradingHalted,
)
from journal_schema.risk_events import CircuitClosed, CircuitOpened, ShellErrorReported
from replay import replay_journal
from tests.test_live_runner import run

# limit buys 5% under the last close: they stay working at the venue, so there is something to cancel
RESTING = {"type": "limit", "limit_offset_bps": "-500"}


def _seqs(journal: Path) -> list[tuple[int, Any]]:
    from engine.journal import read_events

    return list(read_events(journal))


def test_engine_kill_reaches_a_running_process_and_cancels_every_open_order_once(
    venue: VenueServer, tmp_path: Path
) -> None:
    journal = tmp_path / "j.db"
    queued: list[str] = []

    def kill_when_orders_rest(runner: LiveRunner) -> None:
        book = runner.engine.state.orders
        if not queued and book.with_status("ACCEPTED"):
            inbox = Inbox(journal)
            queued.append(inbox.put("KILL", reason="drill", actor="test", cancel_all=True))
            inbox.close()

    run(venue, journal, 40, tif="gtc", orders=RESTING, between=kill_when_orders_rest)
    assert queued, "no order was resting at the venue: the test did not exercise cancel-all"
    journaled = _seqs(journal)
    ((kill_seq, kill),) = [(s, e) for s, e in journaled if type(e) is KillSwitchEngaged]
    assert (kill.command_id, kill.cancel_all, kill.actor) == (queued[0], True, "test")
    cancels = [e for s, e in journaled if type(e) is OrderCancelRequested and e.reason == "KILL_SWITCH"]
    assert cancels and len({c.client_order_id for c in cancels}) == len(cancels)  # once each
    after = [e for s, e in journaled if s > kill_seq]
    assert not any(type(e) in (OrderIntentCreated, OrderSubmitRequested) for e in after)
    assert all(d.reason_codes == ["KILL_SWITCH_ENGAGED"] for d in after if type(d) is DecisionMade)
    assert not Inbox(journal).pending()
    assert replay_journal(journal).identical


def test_a_failing_submit_endpoint_opens_its_breaker_and_a_later_probe_closes_it(
    venue: VenueServer, tmp_path: Path
) -> None:
    journal = tmp_path / "j.db"
    clock = [0]
    calls: list[int] = []

    def flaky(broker: Any) -> None:
        real = broker.submit_order

        def submit_order(req: Any) -> Any:
            calls.append(clock[0])
            if len(calls) <= 3:
                raise BrokerError("TRANSIENT_NETWORK", "connection", "refused")
            return real(req)

        broker.submit_order = submit_order

    def tick(runner: LiveRunner) -> None:
        clock[0] += 20 * SECOND_NS  # 20 s of wall time between cycles
        runner.ctx.wall_ns = lambda: clock[0]

    run(venue, journal, 40, patch=flaky, breakers=Breakers(), between=tick, max_submit_attempts=50)
    journaled = [e for _, e in _seqs(journal)]
    opened = [e for e in journaled if type(e) is CircuitOpened]
    closed = [e for e in journaled if type(e) is CircuitClosed]
    assert len(calls) > 3, "too few submits to open the breaker"
    assert [(o.dependency, o.failures, o.window_seconds, o.open_seconds) for o in opened] == [
        ("BROKER_SUBMIT", 3, 60, 60)
    ]
    assert [c.dependency for c in closed] == ["BROKER_SUBMIT"]
    # nothing was sent while it was open: the call after the third failure is the probe at or after until
    assert calls[3] - calls[2] >= 60 * SECOND_NS
    assert replay_journal(journal).identical


def _refuse(broker: Any, method: str) -> None:
    """From now on the broker refuses our credentials on ``method``."""

    def refused(*args: Any, **kwargs: Any) -> Any:
        raise BrokerError("AUTH", "unauthorized", "401 unauthorized")

    setattr(broker, method, refused)


def test_an_auth_failure_on_a_read_halts_trading(venue: VenueServer, tmp_path: Path) -> None:
    journal = tmp_path / "j.db"
    run(venue, journal, 3)

    runner = run(venue, journal, 4, between=lambda r: _refuse(r.ctx.broker, "bars") if r.cycle == 2 else None)
    assert runner.cycle == 4
    journaled = [e for _, e in _seqs(journal)]
    reported = [e for e in journaled if type(e) is ShellErrorReported]
    assert [(r.dependency, r.category, r.action) for r in reported] == [("MARKET_DATA", "AUTH", "HALT_TRADING")]
    assert [h.reason for h in journaled if type(h) is TradingHalted] == ["BROKER_AUTH_FAILED"]


def test_an_auth_failure_at_start_stops_the_run_with_a_clear_error(venue: VenueServer, tmp_path: Path) -> None:
    journal = tmp_path / "j.db"
    run(venue, journal, 2)

    with pytest.raises(RunError, match="AUTH .*check the API keys"):
        run(venue, journal, 2, patch=lambda broker: _refuse(broker, "open_orders"))
    assert [h.reason for _, h in _seqs(journal) if type(h) is TradingHalted] == ["BROKER_AUTH_FAILED"]


def test_a_programming_error_in_the_shell_is_classified_and_halts_but_the_run_goes_on(
    venue: VenueServer, tmp_path: Path
) -> None:
    journal = tmp_path / "j.db"

    def broken(broker: Any) -> None:
        def bars(*args: Any, **kwargs: Any) -> Any:
            raise TypeError("bars() got an unexpected keyword argument")

        broker.bars = bars

    runner = run(venue, journal, 4, patch=broken)
    journaled = [e for _, e in _seqs(journal)]
    reported = [e for e in journaled if type(e) is ShellErrorReported]
    assert [(r.dependency, r.category, r.error_type) for r in reported] == [
        ("MARKET_DATA", "PROGRAMMING_ERROR", "TypeError")
    ]
    assert [h.reason for h in journaled if type(h) is TradingHalted] == ["SHELL_PROGRAMMING_ERROR"]
    assert runner.cycle == 4  # every cycle ran: halted trading, not a stopped process
