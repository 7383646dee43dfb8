"""The live runner against the local venue, in one process, over real HTTP.

The venue replays real daily bars (the bundled AAPL/MSFT data) in manual mode: the test steps it
once per engine cycle, so every run is the same. A "crash" is an exception raised at the exact
point of the protocol (after the request is committed and before the broker is called, or after
the broker accepted and before the answer is journaled); the runner closes the journal the way a
killed process leaves it (what was committed stays) and a new runner starts on the same journal.
The separate-process kill -9 drill is tests/test_crash_drill.py.
"""

from __future__ import annotations

import functools
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, TimeInForce
from alpaca.trading.requests import LimitOrderRequest, MarketOrderRequest

from engine.alpaca.errors import BrokerError
from engine.config import resolve
from engine.journal import read_events
from engine.kernel import StopRequest
from engine.live import runner as live_runner
from engine.live.breakers import SECOND_NS, BreakerRule, Breakers
from engine.live.runner import LiveRunner
from engine.live.setup import connect
from engine.venue.server import VenueServer
from journal_schema.events import Event
from projections import build
from replay import replay_journal

S = 100_000_000


class Crash(BaseException):
    """Stands in for kill -9 at a point of the protocol."""


def crash(*args: Any) -> None:
    raise Crash


def config(
    venue: VenueServer, tif: str = "day", orders: dict[str, Any] | None = None, **oms: Any
) -> tuple[Any, dict[str, Any]]:
    return resolve(
        {
            "run": {"universe": ["AAPL", "MSFT"]},
            "strategy": {"fast": 3, "slow": 8},
            "orders": {"time_in_force": tif, **(orders or {})},
            "broker": {
                "kind": "venue",
                "venue_url": venue.base_url,
                "poll_interval_seconds": "0.001",
                "rate_limit_per_minute": 6000,
                "timeout_seconds": 2,
                "session_close_grace_seconds": 0,
            },
            "oms": oms,
        }
    )


NO_BREAKERS = Breakers(rules=(BreakerRule(10**6, SECOND_NS, SECOND_NS),))  # never opens


def run(
    venue: VenueServer,
    journal: Path,
    cycles: int,
    *,
    patch: Any = None,
    tif: str = "day",
    orders: dict[str, Any] | None = None,
    breakers: Breakers | None = None,
    between: Any = None,
    **oms: Any,
) -> LiveRunner:
    """One runner segment of ``cycles`` cycles; the venue steps one bar between cycles (and
    ``between(runner)`` runs there)."""
    cfg, snap = config(venue, tif, orders, **oms)
    where, broker = connect(cfg)
    if patch is not None:
        patch(broker)
    runner = LiveRunner(cfg, snap, journal, where, broker, StopRequest(), cycles=cycles)
    if breakers is not None:
        runner.ctx.breakers = breakers

    def nap(seconds: float) -> None:
        venue.step()
        if between is not None:
            between(runner)

    runner._nap = nap  # type: ignore[method-assign]
    runner.run()
    return runner


def events(journal: Path, *names: str) -> list[Event]:
    return [ev for _, ev in read_events(journal) if not names or type(ev).__name__ in names]


def accepted_at_venue(venue: VenueServer) -> Counter[str]:
    return Counter(cid for _, event, cid, _ in venue.store.log() if event == "accepted")


def venue_positions(venue: VenueServer) -> dict[str, int]:
    assert venue.market is not None
    return {p.symbol: p.qty for p in venue.market.positions()}


def journal_positions(journal: Path) -> dict[str, int]:
    return {p.symbol: p.qty for p in build(journal).positions if p.qty}


def trading(venue: VenueServer) -> TradingClient:
    client = TradingClient(api_key="k", secret_key="s", paper=True, url_override=venue.base_url)
    client._retry = 0
    client._session.request = functools.partial(client._session.request, timeout=(3.05, 5))  # type: ignore[method-assign]
    return client


def test_a_run_trades_and_the_journal_matches_the_venue(venue: VenueServer, tmp_path: Path) -> None:
    journal = tmp_path / "j.db"
    run(venue, journal, 45)
    requests = events(journal, "OrderSubmitRequested")
    assert len(requests) >= 4
    resolved = events(journal, "OrderIntentResolved")
    assert [(e.outcome, e.reason, e.attempts) for e in resolved] == [("SUBMITTED", "BROKER_ACKNOWLEDGED", 1)] * len(
        requests
    )
    assert set(accepted_at_venue(venue).values()) == {1} and len(accepted_at_venue(venue)) == len(requests)
    run(venue, journal, 1)  # a restart reconciles the fills that landed after the last cycle
    assert journal_positions(journal) == venue_positions(venue)
    names = [
        type(e).__name__ for e in events(journal, "RunStarted", "ReconciliationCompleted", "RunEnded", "SessionClosed")
    ]
    assert [n for n in names if n.startswith("Run")] == ["RunStarted", "RunEnded"] * 2
    after_start = [
        next(m for m in names[i + 1 :] if m != "SessionClosed") for i, n in enumerate(names) if n == "RunStarted"
    ]  # sessions the clock passed while stopped come first
    assert after_start == ["ReconciliationCompleted"] * 2
    # session hygiene: every session close is followed by a reconciliation with the broker
    closes = [i for i, n in enumerate(names) if n == "SessionClosed"]
    assert closes and all(names[i + 1] in ("ReconciliationCompleted", "SessionClosed", "RunEnded") for i in closes)
    assert names.count("ReconciliationCompleted") > 2
    # every start journals its manifest right after RunStarted; the broker endpoint is the dataset
    everything = events(journal)
    starts = [i for i, e in enumerate(everything) if type(e).__name__ == "RunStarted"]
    manifests = [everything[i + 1] for i in starts]
    assert [type(m).__name__ for m in manifests] == ["RunManifest"] * 2
    for i, m in zip(starts, manifests, strict=True):
        started = everything[i]
        assert (m.run_id, m.ts, m.mode, m.config_hash) == (
            started.run_id,
            started.ts,
            "paper",  # type: ignore[attr-defined]
            started.config_hash,
        )  # type: ignore[attr-defined]
        assert [(d.name, d.fingerprint) for d in m.datasets] == [  # type: ignore[attr-defined]
            (started.dataset, started.dataset_fingerprint)
        ]  # type: ignore[attr-defined]
        assert started.dataset.startswith(f"venue {venue.base_url}")  # type: ignore[attr-defined]
    assert replay_journal(journal).identical


def test_crash_after_the_request_is_committed_resubmits_once(
    venue: VenueServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = tmp_path / "j.db"
    monkeypatch.setattr(live_runner, "submit", crash)
    with pytest.raises(Crash):
        run(venue, journal, 60)
    (request,) = events(journal, "OrderSubmitRequested")  # committed, never sent
    assert accepted_at_venue(venue) == Counter()
    monkeypatch.undo()
    run(venue, journal, 1)
    cid = request.client_order_id  # type: ignore[attr-defined]
    chain = [
        (type(e).__name__, getattr(e, "attempt", None))
        for e in events(journal)
        if getattr(e, "client_order_id", None) == cid
    ]
    assert chain[:6] == [
        ("OrderIntentCreated", None),
        ("OrderSubmitRequested", None),
        ("OrderNotFoundAtBroker", None),
        ("OrderResubmitRequested", 2),
        ("OrderAccepted", None),
        ("OrderIntentResolved", None),
    ]
    assert accepted_at_venue(venue)[cid] == 1
    assert replay_journal(journal).identical


def test_crash_after_the_broker_accepted_finds_the_order_and_sends_nothing(venue: VenueServer, tmp_path: Path) -> None:
    journal = tmp_path / "j.db"

    def accept_then_die(broker: Any) -> None:
        real = broker.submit_order

        def submit_order(req: Any) -> Any:
            real(req)
            raise Crash

        broker.submit_order = submit_order

    with pytest.raises(Crash):
        run(venue, journal, 60, patch=accept_then_die)
    (request,) = events(journal, "OrderSubmitRequested")
    cid = request.client_order_id  # type: ignore[attr-defined]
    assert accepted_at_venue(venue)[cid] == 1 and not events(journal, "OrderAccepted")
    run(venue, journal, 1)
    assert [type(e).__name__ for e in events(journal) if getattr(e, "client_order_id", None) == cid][:4] == [
        "OrderIntentCreated",
        "OrderSubmitRequested",
        "OrderAccepted",
        "OrderIntentResolved",
    ]
    assert not events(journal, "OrderResubmitRequested", "OrderNotFoundAtBroker")
    assert accepted_at_venue(venue)[cid] == 1
    assert replay_journal(journal).identical


def test_an_unanswered_submit_is_looked_up_before_anything_is_resent(venue: VenueServer, tmp_path: Path) -> None:
    """First submit reaches the venue but the answer is lost; second never reaches it."""
    journal = tmp_path / "j.db"
    calls: list[str] = []

    def flaky(broker: Any) -> None:
        real = broker.submit_order

        def submit_order(req: Any) -> Any:
            calls.append(req.client_order_id)
            if len(calls) == 1:
                real(req)
                raise BrokerError("TRANSIENT_NETWORK", "connection", "dropped after accept")
            if len(calls) == 2:
                raise BrokerError("TRANSIENT_NETWORK", "timeout", "never reached")
            return real(req)

        broker.submit_order = submit_order

    run(venue, journal, 60, patch=flaky)
    first, second = calls[0], calls[1]
    uncertain = events(journal, "OrderSubmitUncertain")
    assert [(e.client_order_id, e.category) for e in uncertain][:2] == [
        (first, "TRANSIENT_NETWORK"),  # type: ignore[attr-defined]
        (second, "TRANSIENT_NETWORK"),
    ]
    assert [e.client_order_id for e in events(journal, "OrderNotFoundAtBroker")] == [second]  # type: ignore[attr-defined]
    assert [(e.client_order_id, e.attempt) for e in events(journal, "OrderResubmitRequested")] == [(second, 2)]  # type: ignore[attr-defined]
    assert calls.count(first) == 1 and calls.count(second) == 2
    outcome = {e.client_order_id: (e.outcome, e.attempts) for e in events(journal, "OrderIntentResolved")}  # type: ignore[attr-defined]
    assert outcome[first] == ("SUBMITTED", 1) and outcome[second] == ("SUBMITTED", 2)
    assert set(accepted_at_venue(venue).values()) == {1}
    assert replay_journal(journal).identical


def test_attempts_run_out_and_the_intent_fails_with_its_error_category(venue: VenueServer, tmp_path: Path) -> None:
    """GTC orders, so that no request goes stale before its attempts are used up (a day order whose
    session ended while it was unanswered is SKIPPED with STALE_REQUEST instead: see the next test)."""
    journal = tmp_path / "j.db"

    def always_429(broker: Any) -> None:
        def submit_order(req: Any) -> Any:
            raise BrokerError("RATE_LIMIT", "rate_limited", "429", status=429, retry_after=0.0)

        broker.submit_order = submit_order

    run(venue, journal, 30, patch=always_429, tif="gtc", max_submit_attempts=2)
    resolved = events(journal, "OrderIntentResolved")
    assert resolved and all((e.outcome, e.reason, e.attempts) == ("FAILED", "RATE_LIMIT", 2) for e in resolved)  # type: ignore[attr-defined]
    assert {o.status for o in build(journal).orders} == {"FAILED"}
    assert {e.code for e in events(journal, "AlertRaised")} == {"ORDER_SUBMIT_FAILED"}  # type: ignore[attr-defined]
    assert accepted_at_venue(venue) == Counter()


def test_a_day_order_the_broker_never_saw_is_skipped_once_its_session_is_over(
    venue: VenueServer, tmp_path: Path
) -> None:
    journal = tmp_path / "j.db"

    def unreachable(broker: Any) -> None:
        def submit_order(req: Any) -> Any:
            raise BrokerError("TRANSIENT_NETWORK", "connection", "refused")

        broker.submit_order = submit_order

    run(venue, journal, 30, patch=unreachable, max_submit_attempts=50, breakers=NO_BREAKERS)
    resolved = events(journal, "OrderIntentResolved")
    assert resolved and {(e.outcome, e.reason) for e in resolved} == {("SKIPPED", "STALE_REQUEST")}  # type: ignore[attr-defined]
    assert {o.status for o in build(journal).orders} == {"REJECTED"}
    assert replay_journal(journal).identical


def test_a_position_the_journal_does_not_know_halts_unless_adopted(venue: VenueServer, tmp_path: Path) -> None:
    journal = tmp_path / "j.db"
    run(venue, journal, 3)
    client = trading(venue)
    client.submit_order(
        MarketOrderRequest(
            symbol="AAPL", qty=7, side=OrderSide.BUY, time_in_force=TimeInForce.GTC, client_order_id="manual-aapl"
        )
    )
    client.submit_order(
        LimitOrderRequest(
            symbol="IBM",
            qty=1,
            side=OrderSide.BUY,
            time_in_force=TimeInForce.GTC,
            limit_price=1,
            client_order_id="manual-ibm",
        )
    )
    venue.step()  # the manual AAPL order fills; IBM has no bars and stays open
    run(venue, journal, 2)
    (foreign,) = events(journal, "ForeignActivitySeen")
    assert (foreign.kind, foreign.client_order_id, foreign.symbol) == ("ORDER", "manual-ibm", "IBM")  # type: ignore[attr-defined]
    mismatches = events(journal, "ReconciliationMismatch")  # at the start, and again at each session close
    assert {(m.kind, m.symbol, m.journal_qty, m.broker_qty) for m in mismatches} == {  # type: ignore[attr-defined]
        ("POSITION_QTY", "AAPL", 0, 7 * S)
    }
    (halt,) = events(journal, "TradingHalted")
    assert halt.reason == "RECONCILIATION_MISMATCH"  # type: ignore[attr-defined]
    assert "manual-ibm" in {o["client_order_id"] for o in _open(venue)}  # left alone
    run(venue, journal, 1, adopt_broker_positions=True)
    (adopted,) = events(journal, "PositionAdopted")
    assert (adopted.symbol, adopted.broker_qty) == ("AAPL", 7 * S)  # type: ignore[attr-defined]
    assert [e.halt_reason for e in events(journal, "TradingResumed")] == ["RECONCILIATION_MISMATCH"]  # type: ignore[attr-defined]
    assert journal_positions(journal)["AAPL"] == venue_positions(venue)["AAPL"]
    assert replay_journal(journal).identical


def _open(venue: VenueServer) -> list[dict[str, Any]]:
    import json
    import urllib.request

    req = urllib.request.Request(
        venue.base_url + "/v2/orders?status=open", headers={"APCA-API-KEY-ID": "k", "APCA-API-SECRET-KEY": "s"}
    )
    with urllib.request.urlopen(req, timeout=5) as answer:
        return list(json.loads(answer.read()))


def test_an_unknown_broker_status_is_journaled_once_with_an_alert(venue: VenueServer, tmp_path: Path) -> None:
    journal = tmp_path / "j.db"

    def weird(broker: Any) -> None:
        real_submit, real_open = broker.submit_order, broker.open_orders

        def submit_order(req: Any) -> Any:
            return _with_status(real_submit(req), "weird_new_status")

        def open_orders() -> Any:
            return [_with_status(o, "weird_new_status") for o in real_open()]

        def by_cid(cid: str) -> Any:
            raise BrokerError("TRANSIENT_NETWORK", "timeout", "down")  # the order stays in the open list

        broker.submit_order, broker.open_orders, broker.order_by_client_id = submit_order, open_orders, by_cid

    run(venue, journal, 40, patch=weird)
    rejected = events(journal, "BrokerReportRejected")
    assert rejected and {e.reason for e in rejected} == {"UNKNOWN_BROKER_STATUS"}  # type: ignore[attr-defined]
    per_order = Counter((e.client_order_id, e.raw) for e in rejected)  # type: ignore[attr-defined]
    assert set(per_order.values()) == {1}  # once per snapshot, not once per poll
    alerts = [e for e in events(journal, "AlertRaised") if e.code == "UNKNOWN_BROKER_STATUS"]  # type: ignore[attr-defined]
    assert len(alerts) == len(rejected)
    assert {o.status for o in build(journal).orders} == {"SUBMIT_REQUESTED"}  # nothing was guessed
    assert replay_journal(journal).identical


def _with_status(order: Any, status: str) -> Any:
    import msgspec

    return msgspec.structs.replace(order, status=status) if hasattr(order, "status") else order


def test_api_keys_never_reach_the_journal_or_the_logs(
    venue: VenueServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    key, secret = "PKDRILLKEY0123456789", "sEcReT-9f8e7d6c5b4a-never-log-me"
    journal = tmp_path / "j.db"
    cfg, snap = config(venue)
    where, broker = connect(cfg, env={"APCA_API_KEY_ID": key, "APCA_API_SECRET_KEY": secret})
    caplog.set_level("DEBUG")
    runner = LiveRunner(cfg, snap, journal, where, broker, StopRequest(), cycles=40)
    runner._nap = lambda seconds: venue.step()  # type: ignore[method-assign]
    runner.run()
    assert events(journal, "OrderAccepted")  # the keys were used for real calls
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("j.db*"))
    for text in (key, secret):
        assert text.encode() not in stored
        assert text not in caplog.text and text not in repr(broker) and text not in repr(where)


def test_sigint_stops_a_live_run_at_an_input_boundary_with_exit_0(venue: VenueServer, tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    journal = tmp_path / "j.db"
    (tmp_path / "c.toml").write_text(
        f'[run]\nuniverse = ["AAPL", "MSFT"]\n[broker]\nkind = "venue"\nvenue_url = "{venue.base_url}"\n'
        "poll_interval_seconds = 0.02\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "engine.cli", "run", "--config", str(tmp_path / "c.toml"), "--journal", str(journal)],
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
    )
    deadline = time.monotonic() + 30
    while not any(type(e).__name__ == "ReconciliationCompleted" for e in _committed(journal)):
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.stderr else ""
        venue.step()
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert b"INTERRUPTED" in out
    last = events(journal)[-1]
    assert type(last).__name__ == "RunEnded" and last.reason == "INTERRUPTED"  # type: ignore[attr-defined]
    assert replay_journal(journal).identical


def _committed(journal: Path) -> list[Event]:
    if not journal.exists():
        return []
    try:
        return events(journal)
    except Exception:  # noqa: BLE001 - the writer may not have created the table yet
        return []


RESTING = {"type": "limit", "limit_offset_bps": -300}  # buys 3% under the close, sells 3% over: many rest


def test_an_opposite_signal_cancels_the_resting_order_first_then_trades(venue: VenueServer, tmp_path: Path) -> None:
    journal = tmp_path / "j.db"
    run(venue, journal, 60, tif="gtc", orders=RESTING)
    cancels = events(journal, "OrderCancelRequested")
    assert cancels, "no opposite signal met a resting order"
    answered = {e.client_order_id: e.result for e in events(journal, "OrderCancelAnswered")}  # type: ignore[attr-defined]
    assert {answered[c.client_order_id] for c in cancels} <= {"ACCEPTED", "NOT_CANCELABLE"}  # type: ignore[attr-defined]
    canceled_at_venue = {cid for _, event, cid, _ in venue.store.log() if event == "canceled"}
    assert canceled_at_venue == {c.client_order_id for c in cancels if answered[c.client_order_id] == "ACCEPTED"}  # type: ignore[attr-defined]
    # every order whose cancel was requested ended before anything was sent the other way
    book = build(journal).orders
    status = {o.client_order_id: o.status for o in book}
    assert all(status[c.client_order_id] in ("CANCELED", "FILLED") for c in cancels)  # type: ignore[attr-defined]
    # each target that waited is decided again by the report that ended the order it waited for
    # (long only: after the cancel the flat target is met, ALREADY_AT_TARGET)
    seqs = {seq: ev for seq, ev in read_events(journal)}
    waited = {
        d.signal_id
        for d in events(journal, "DecisionMade")  # type: ignore[attr-defined]
        if d.reason_codes == ["OPPOSITE_ORDER_CANCEL_REQUESTED"]
    }  # type: ignore[attr-defined]
    again = [
        d
        for d in events(journal, "DecisionMade")
        if d.signal_id in waited  # type: ignore[attr-defined]
        and d.reason_codes != ["OPPOSITE_ORDER_CANCEL_REQUESTED"]
    ]  # type: ignore[attr-defined]
    assert len(again) == len(waited)
    assert {type(seqs[d.cause_seq]).__name__ for d in again} <= {"OrderCanceled", "OrderFilled"}  # type: ignore[attr-defined]
    run(venue, journal, 1, tif="gtc", orders=RESTING)
    assert journal_positions(journal) == venue_positions(venue)
    assert replay_journal(journal).identical


def test_a_crash_after_the_cancel_request_is_committed_sends_it_on_restart(
    venue: VenueServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = tmp_path / "j.db"
    monkeypatch.setattr(live_runner, "cancel", crash)
    with pytest.raises(Crash):
        run(venue, journal, 60, tif="gtc", orders=RESTING)
    (request,) = events(journal, "OrderCancelRequested")
    cid = request.client_order_id  # type: ignore[attr-defined]
    assert not events(journal, "OrderCancelAnswered")
    assert cid in {o["client_order_id"] for o in _open(venue)}  # the venue never heard of the cancel
    monkeypatch.undo()
    run(venue, journal, 2, tif="gtc", orders=RESTING)
    (answer,) = [e for e in events(journal, "OrderCancelAnswered") if e.client_order_id == cid]  # type: ignore[attr-defined]
    assert answer.result == "ACCEPTED"  # type: ignore[attr-defined]
    assert [o.status for o in build(journal).orders if o.client_order_id == cid] == ["CANCELED"]
    assert replay_journal(journal).identical
