"""The core's decisions and halts, through step() directly."""

from __future__ import annotations

from engine.config import config_hash, resolve
from engine.core.state import CoreState
from engine.core.step import step
from engine.strategies import resolve_strategy
from journal_schema.events import (
    BarClosed,
    ConfigChanged,
    DecisionMade,
    KillSwitchEngaged,
    KillSwitchReleased,
    OrderAccepted,
    OrderCanceled,
    OrderCancelRequested,
    OrderFilled,
    OrderIntentResolved,
    OrderReportRejected,
    OrderSubmitRequested,
    SessionOpened,
    TradingHalted,
)
from journal_schema.live_events import (
    OrderCancelAnswered,
)
from tests.support import run_started

S = 100_000_000


def feed(state, events, start=1):
    out = []
    for i, ev in enumerate(events, start):
        derived = step(state, ev, i)
        out.extend(derived)
    return out


def bars(closes, symbol="AAA", t0=1000):
    return [
        BarClosed(
            ts=t0 + i, symbol=symbol, open=c * S, high=c * S + S, low=c * S - S // 2, close=c * S, volume=10**7 * S
        )
        for i, c in enumerate(closes)
    ]


CFG = {"strategy": {"fast": 2, "slow": 3, "qty": 10}}
UP_CROSS = [10, 9, 8, 9, 12]  # the 5th bar crosses upwards


def started():
    state = CoreState(resolver=resolve_strategy)
    feed(state, [run_started(CFG), SessionOpened(ts=1, session="2030-01-01", close_ts=10**6, calendar="X")])
    return state


def test_upward_cross_creates_signal_decision_intent_and_request():
    out = feed(started(), bars(UP_CROSS), start=10)
    assert [type(e).__name__ for e in out] == [
        "SignalGenerated",
        "DecisionMade",
        "OrderIntentCreated",
        "OrderSubmitRequested",
    ]
    decision, req = out[1], out[3]
    assert decision.outcome == "ACCEPTED" and decision.reason_codes == ["SIGNAL_ACCEPTED"]
    assert decision.config_hash == config_hash(resolve(CFG)[1])
    assert (req.side, req.qty, req.order_type, req.cause_seq) == ("buy", 10 * S, "market", 14)
    assert all(e.cause_seq == 14 and e.ts == 1004 for e in out)


def test_working_order_counts_toward_the_target():
    state = started()
    feed(state, bars(UP_CROSS), start=10)
    assert state.orders.open_qty("AAA") == 10 * S
    # cross down, then up again before the buy fills: the down-cross asks to cancel the working
    # buy (nothing is sent against it); the up-cross nets out the working buy
    out = feed(state, bars([5, 20], t0=2000), start=20)
    decisions = [e for e in out if isinstance(e, DecisionMade)]
    assert [(d.target_qty, d.open_order_qty, d.order_qty, d.reason_codes) for d in decisions] == [
        (0, 10 * S, -10 * S, ["OPPOSITE_ORDER_CANCEL_REQUESTED"]),
        (10 * S, 10 * S, 0, ["ALREADY_AT_TARGET"]),
    ]
    assert not any(isinstance(e, OrderSubmitRequested) for e in out)
    (cancel,) = [e for e in out if isinstance(e, OrderCancelRequested)]
    assert (cancel.reason, cancel.cause_seq) == ("OPPOSITE_SIGNAL", 20)


def _short_state():
    state = CoreState(resolver=resolve_strategy)
    cfg = {"strategy": {"fast": 2, "slow": 3, "qty": 10, "long_only": False}}
    feed(state, [run_started(cfg), SessionOpened(ts=1, session="2030-01-01", close_ts=10**6, calendar="X")])
    (buy,) = [e for e in feed(state, bars(UP_CROSS), start=10) if isinstance(e, OrderSubmitRequested)]
    feed(state, [OrderAccepted(ts=1500, client_order_id=buy.client_order_id, broker_order_id="b1")], start=19)
    return state, buy


def test_an_opposite_signal_cancels_first_and_decides_again_when_the_cancel_is_done():
    state, buy = _short_state()
    out = feed(state, bars([5], t0=2000), start=20)  # down-cross: target -10 while the buy of 10 works
    assert [type(e).__name__ for e in out] == ["SignalGenerated", "DecisionMade", "OrderCancelRequested"]
    signal = out[0]
    assert state.orders.orders[buy.client_order_id].cancel_state == "REQUESTED"
    assert (
        feed(
            state,
            [
                OrderCancelAnswered(
                    ts=2001, client_order_id=buy.client_order_id, result="ACCEPTED", category=None, detail=""
                )
            ],
            start=21,
        )
        == []
    )
    out = feed(
        state, [OrderCanceled(ts=2002, client_order_id=buy.client_order_id, canceled_qty=10 * S, reason="x")], start=22
    )
    decision, intent, request = out
    assert (decision.reason_codes, decision.order_qty, decision.cause_seq, decision.signal_id) == (
        ["SIGNAL_ACCEPTED"],
        -10 * S,
        22,
        signal.signal_id,
    )  # the same signal, decided again
    assert (request.side, request.qty, request.cause_seq) == ("sell", 10 * S, 22)
    assert intent.client_order_id == request.client_order_id != buy.client_order_id
    assert state.pending == {}


def test_when_the_order_fills_instead_the_target_is_decided_against_the_new_position():
    state, buy = _short_state()
    feed(state, bars([5], t0=2000), start=20)
    out = feed(
        state,
        [
            OrderFilled(
                ts=2002,
                client_order_id=buy.client_order_id,
                fill_id="f",
                fill_qty=10 * S,
                fill_price=12 * S,
                fee=0,
                cum_qty=10 * S,
                leaves_qty=0,
            )
        ],
        start=22,
    )
    decision, _, request = out
    assert (decision.position_qty, decision.order_qty) == (10 * S, -20 * S)
    assert (request.side, request.qty) == ("sell", 20 * S)


def test_a_new_target_while_a_cancel_is_out_is_decided_again_after_it():
    state, buy = _short_state()
    feed(state, bars([5], t0=2000), start=20)  # cancel of the buy requested
    out = feed(state, bars([20], t0=3000), start=30)  # up-cross again: the working buy already covers it
    assert [d.reason_codes for d in out if isinstance(d, DecisionMade)] == [["ALREADY_AT_TARGET"]]
    out = feed(
        state, [OrderCanceled(ts=3002, client_order_id=buy.client_order_id, canceled_qty=10 * S, reason="x")], start=31
    )
    decision, _, request = out  # the cancel went through after all: buy again what the target needs
    assert (decision.target_qty, decision.order_qty, request.side) == (10 * S, 10 * S, "buy")


def test_strategy_returning_an_invalid_target_halts_trading():
    from engine.core.sma import SmaCross
    from engine.core.strategy import Target

    class Bad(SmaCross):
        def on_bar(self, bar):
            t = super().on_bar(bar)
            return None if t is None else Target(t.direction, t.qty, {"fast_sma": 1.5})

    state = started()
    state.strategies["AAA"] = Bad(state.config.strategy_params, "AAA")
    out = feed(state, bars(UP_CROSS), start=10)
    assert [type(e).__name__ for e in out] == ["TradingHalted", "AlertRaised"]
    assert out[0].reason == "STRATEGY_CONTRACT_VIOLATION" and "features must map str to int" in out[0].detail
    assert (out[1].severity, out[1].code) == ("CRITICAL", "TRADING_HALTED")
    assert state.halted == "STRATEGY_CONTRACT_VIOLATION"


def test_kill_switch_skips_decisions_with_reason_until_released():
    state = started()
    feed(state, [KillSwitchEngaged(ts=2, reason="desk", actor="ops")], start=5)
    out = feed(state, bars(UP_CROSS), start=10)
    assert [type(e).__name__ for e in out] == ["SignalGenerated", "DecisionMade"]
    assert out[1].outcome == "SKIPPED" and out[1].reason_codes == ["KILL_SWITCH_ENGAGED"]
    feed(state, [KillSwitchReleased(ts=3000, reason="ok", actor="ops")], start=20)
    out = feed(state, bars([5, 20], t0=4000), start=30)
    assert [e.reason_codes for e in out if isinstance(e, DecisionMade)] == [["ALREADY_AT_TARGET"], ["SIGNAL_ACCEPTED"]]


def test_report_for_unknown_order_halts_trading_once():
    state = started()
    out = feed(state, [OrderAccepted(ts=5, client_order_id="CID1-nope", broker_order_id="b")], start=5)
    assert [type(e).__name__ for e in out] == ["TradingHalted", "AlertRaised"]
    assert (out[0].reason, out[0].cause_seq) == ("UNKNOWN_ORDER_REPORT", 5)
    (again,) = feed(state, [OrderAccepted(ts=6, client_order_id="CID1-x", broker_order_id="b")], start=6)
    assert (type(again).__name__, again.severity, again.code) == ("AlertRaised", "CRITICAL", "INVARIANT_VIOLATION")
    assert "UNKNOWN_ORDER_REPORT" in again.detail and state.halted == "UNKNOWN_ORDER_REPORT"  # halted once
    out = feed(state, bars(UP_CROSS), start=10)
    assert out[1].reason_codes == ["TRADING_HALTED"] and len(out) == 2


def test_report_after_terminal_is_refused_and_overfill_halts():
    state = started()
    (req,) = [e for e in feed(state, bars(UP_CROSS), start=10) if isinstance(e, OrderSubmitRequested)]
    fill = OrderFilled(
        ts=2000,
        client_order_id=req.client_order_id,
        fill_id="f1",
        fill_qty=req.qty,
        fill_price=12 * S,
        fee=0,
        cum_qty=req.qty,
        leaves_qty=0,
    )
    (resolved,) = feed(state, [fill], start=20)
    assert isinstance(resolved, OrderIntentResolved)
    assert (resolved.outcome, resolved.reason, resolved.cause_seq) == ("SUBMITTED", "BROKER_ACKNOWLEDGED", 20)
    assert state.positions.qty("AAA") == 10 * S
    refused, alert = feed(state, [fill], start=21)
    assert isinstance(refused, OrderReportRejected)
    assert (refused.reason, refused.status, refused.report) == ("REPORT_AFTER_TERMINAL", "FILLED", "OrderFilled")
    assert (alert.code, alert.subject) == ("REPORT_AFTER_TERMINAL", req.client_order_id)
    assert state.positions.qty("AAA") == 10 * S and state.halted is None

    state2 = started()
    (req2,) = [e for e in feed(state2, bars(UP_CROSS), start=10) if isinstance(e, OrderSubmitRequested)]
    over = OrderFilled(
        ts=2000,
        client_order_id=req2.client_order_id,
        fill_id="f1",
        fill_qty=req2.qty + 1,
        fill_price=12 * S,
        fee=0,
        cum_qty=req2.qty + 1,
        leaves_qty=0,
    )
    halt2, alert2 = feed(state2, [over], start=20)
    assert isinstance(halt2, TradingHalted)
    assert halt2.reason == "OVERFILL" and state2.positions.qty("AAA") == 0 and alert2.severity == "CRITICAL"


def test_config_change_applies_new_hash_and_restarts_warmup():
    state = started()
    feed(state, bars([10, 9, 8]), start=10)
    _, snap = resolve({"strategy": {"fast": 2, "slow": 3, "qty": 20}})
    new_hash = config_hash(snap)
    feed(
        state,
        [
            ConfigChanged(
                ts=1500, config=snap, config_hash=new_hash, previous_config_hash=state.config.config_hash, actor="ops"
            )
        ],
        start=20,
    )
    out = feed(state, bars([9, 12], t0=2000), start=30)
    assert out == []  # indicators warm up again under the new parameters
    out = feed(state, bars([8, 7, 9, 13], t0=3000), start=40)
    decisions = [e for e in out if isinstance(e, DecisionMade)]
    assert [d.target_qty for d in decisions] == [0, 20 * S]  # down-cross while flat, then up-cross
    assert {d.config_hash for d in decisions} == {new_hash}


def test_bar_without_open_session_is_skipped_with_reason():
    state = CoreState(resolver=resolve_strategy)
    feed(state, [run_started(CFG)])
    out = feed(state, bars(UP_CROSS), start=10)
    assert (out[1].outcome, out[1].reason_codes) == ("REJECTED", ["SESSION_CLOSED"])


def test_step_is_deterministic_for_equal_states():
    import copy

    a = started()
    b = copy.deepcopy(a)
    evs = bars(UP_CROSS + [3, 30, 2, 40])
    assert feed(a, evs) == feed(b, evs)


def test_a_day_order_is_stale_once_the_session_it_was_for_is_over():
    from journal_schema.events import SessionClosed
    from journal_schema.live_events import OrderNotFoundAtBroker

    def request_at(ts_of_last_bar: int, close: int):
        state = CoreState(resolver=resolve_strategy)
        feed(state, [run_started(CFG), SessionOpened(ts=1, session="2030-01-01", close_ts=close, calendar="X")])
        closes = UP_CROSS
        evs = [
            BarClosed(
                ts=ts_of_last_bar - len(closes) + 1 + i,
                symbol="AAA",
                open=c * S,
                high=c * S + S,
                low=c * S - S // 2,
                close=c * S,
                volume=10**7 * S,
            )
            for i, c in enumerate(closes)
        ]
        (req,) = [e for e in feed(state, evs, start=10) if isinstance(e, OrderSubmitRequested)]
        return state, req.client_order_id

    def not_found(state, cid, seq):
        return [
            type(e).__name__ + ":" + getattr(e, "reason", "")
            for e in feed(state, [OrderNotFoundAtBroker(ts=seq, client_order_id=cid)], start=seq)
        ]

    # decided inside the session: over when that session closes
    state, cid = request_at(1004, close=5000)
    assert not_found(state, cid, 20) == ["OrderResubmitRequested:"]
    feed(state, [SessionClosed(ts=5000, session="2030-01-01", calendar="X")], start=21)
    assert not_found(state, cid, 22) == ["OrderIntentResolved:STALE_REQUEST"]
    # decided at the very close (a daily bar): it lives through the next session, as at a broker
    state, cid = request_at(5000, close=5000)
    feed(
        state,
        [
            SessionClosed(ts=5000, session="2030-01-01", calendar="X"),
            SessionOpened(ts=6000, session="2030-01-02", close_ts=9000, calendar="X"),
        ],
        start=20,
    )
    assert not_found(state, cid, 22) == ["OrderResubmitRequested:"]
    feed(state, [SessionClosed(ts=9000, session="2030-01-02", calendar="X")], start=23)
    assert not_found(state, cid, 24) == ["OrderIntentResolved:STALE_REQUEST"]


def test_a_bar_of_an_earlier_session_is_seen_but_never_traded_on():
    """A live run catching up after a stop journals the sessions by the broker clock first, so the
    bars it missed arrive while a later session is open: the strategy sees them, the core skips."""
    state = CoreState(resolver=resolve_strategy)
    feed(state, [run_started(CFG), SessionOpened(ts=5000, session="2030-01-02", close_ts=9000, calendar="X")])
    out = feed(state, bars(UP_CROSS, t0=1000), start=10)  # bars of 1000..1004: before this session opened
    (decision,) = [e for e in out if isinstance(e, DecisionMade)]
    assert decision.reason_codes == ["SESSION_CLOSED"] and not any(isinstance(e, OrderSubmitRequested) for e in out)
    out = feed(state, bars([5, 20], t0=6000), start=20)  # in the open session: traded as usual
    assert [d.reason_codes for d in out if isinstance(d, DecisionMade)][-1] == ["SIGNAL_ACCEPTED"]
