"""Risk controls outside one decision (engine.core.controls): kill switch and resume,
dependency breakers, quarantines, shell and core errors, session hygiene, and the risk profiles."""

from __future__ import annotations

import copy
import re
from typing import Any

import msgspec
import pytest

from engine.config import ConfigError, config_hash, resolve
from engine.config_risk import PROFILES
from engine.core.risk.params import RiskParams
from journal_schema.codec import encode
from journal_schema.events import (
    AlertRaised,
    DecisionMade,
    KillSwitchEngaged,
    KillSwitchReleased,
    OrderCanceled,
    OrderCancelRequested,
    OrderIntentCreated,
    OrderPartiallyFilled,
    OrderResubmitRequested,
    OrderSubmitRequested,
    TradingHalted,
    TradingResumed,
)
from journal_schema.risk_events import (
    CircuitClosed,
    CircuitOpened,
    Quarantined,
    QuarantineLifted,
    ReviewResolved,
    SessionSummarized,
    ShellErrorReported,
)
from tests.risk_support import CLOSE, MINUTE, NS, Run, S, at, last, names, of, raising, tgt

ORDER_MESSAGES = (OrderIntentCreated, OrderSubmitRequested, OrderResubmitRequested)


def kill(ts: int, cancel_all: bool = False, cmd: str = "k1") -> KillSwitchEngaged:
    return KillSwitchEngaged(ts=ts, reason="desk", actor="ops", cancel_all=cancel_all, command_id=cmd)


def release(ts: int, cmd: str = "r1") -> KillSwitchReleased:
    return KillSwitchReleased(ts=ts, reason="all clear", actor="ops", command_id=cmd)


def opened(ts: int, dep: str = "BROKER_SUBMIT") -> CircuitOpened:
    return CircuitOpened(
        ts=ts,
        dependency=dep,
        category="TRANSIENT_NETWORK",
        failures=5,
        window_seconds=60,  # type: ignore[arg-type]
        open_seconds=30,
        until_ts=ts + 30 * NS,
        detail="5 timeouts in 60 s",
    )


def shell_error(ts: int, category: str, action: str = "HALT_TRADING") -> ShellErrorReported:
    return ShellErrorReported(
        ts=ts,
        dependency="BROKER_READS",
        category=category,
        action=action,  # type: ignore[arg-type]
        error_type="HTTPError",
        detail="401 Unauthorized",
    )


# --- kill switch --------------------------------------------------------------------------------


def test_kill_switch_alerts_and_skips_every_decision() -> None:
    r = Run()
    out = r.feed(kill(at(1) - 1))
    assert names(out) == ["AlertRaised"]
    assert (out[0].severity, out[0].code, out[0].subject, out[0].detail) == (
        "CRITICAL",
        "KILL_SWITCH_ENGAGED",
        "run",
        "ops: desk",
    )
    assert r.state.kill_switch and "k1" in r.state.commands
    for sym in ("AAA", "BBB"):
        d = r.signal(sym, at(1), 100, tgt(10))
        assert (d.outcome, d.reason_codes, d.approved_qty, d.context) == ("SKIPPED", ["KILL_SWITCH_ENGAGED"], 0, None)
    assert not of(r.log, *ORDER_MESSAGES, OrderCancelRequested)


def open_orders(r: Run) -> dict[str, str]:
    """AAA: working, with an OPPOSITE_SIGNAL cancel out; BBB: submit requested; CCC: partially
    filled; DDD: filled. Returns symbol -> client order id."""
    a = last(r.bar("AAA", at(1), 100, tgt(10)), OrderSubmitRequested)
    r.accept(a)
    b = last(r.bar("BBB", at(1), 100, tgt(10)), OrderSubmitRequested)
    c = last(r.bar("CCC", at(1), 100, tgt(10)), OrderSubmitRequested)
    r.accept(c)
    r.feed(
        OrderPartiallyFilled(
            ts=at(1),
            client_order_id=c.client_order_id,
            fill_id="p1",
            fill_qty=4 * S,
            fill_price=100 * S,
            fee=0,
            cum_qty=4 * S,
            leaves_qty=6 * S,
        )
    )
    d = last(r.bar("DDD", at(1), 100, tgt(10)), OrderSubmitRequested)
    r.fill(d)
    out = r.bar("AAA", at(2), 100, tgt(-10))
    assert [(e.client_order_id, e.reason) for e in of(out, OrderCancelRequested)] == [
        (a.client_order_id, "OPPOSITE_SIGNAL")
    ]
    return {"AAA": a.client_order_id, "BBB": b.client_order_id, "CCC": c.client_order_id, "DDD": d.client_order_id}


def test_kill_switch_with_cancel_all_cancels_each_open_order_once() -> None:
    r = Run({"pretrade": {"max_cancels_per_window": 1}}, universe=["AAA", "BBB", "CCC", "DDD"])
    cids = open_orders(r)
    out = r.feed(kill(at(2) + 1, cancel_all=True))
    assert names(out) == ["AlertRaised", "OrderCancelRequested", "OrderCancelRequested"]
    assert [(e.client_order_id, e.reason, e.cause_seq) for e in out[1:]] == [
        (cids["BBB"], "KILL_SWITCH", r.seq),
        (cids["CCC"], "KILL_SWITCH", r.seq),
    ]  # not throttled
    assert not of(r.feed(kill(at(2) + 2, cancel_all=True, cmd="k2")), OrderCancelRequested)  # once
    for sym in ("AAA", "BBB", "CCC"):
        assert len([e for e in of(r.log, OrderCancelRequested) if e.client_order_id == cids[sym]]) == 1
    assert not [e for e in of(r.log, OrderCancelRequested) if e.client_order_id == cids["DDD"]]  # filled
    # the short target waiting for AAA's cancel is decided again under the kill switch: skipped
    out = r.feed(OrderCanceled(ts=at(3), client_order_id=cids["AAA"], canceled_qty=10 * S, reason="canceled"))
    assert [d.reason_codes for d in of(out, DecisionMade)] == [["KILL_SWITCH_ENGAGED"]]
    assert not of(out, *ORDER_MESSAGES)


def test_kill_switch_without_cancel_all_leaves_orders_working() -> None:
    r = Run(universe=["AAA", "BBB", "CCC", "DDD"])
    open_orders(r)
    assert names(r.feed(kill(at(2) + 1))) == ["AlertRaised"]


def test_release_lifts_the_kill_switch_and_trading_goes_on() -> None:
    r = Run()
    r.feed(kill(at(1) - 1))
    assert r.signal("AAA", at(1), 100, tgt(10)).outcome == "SKIPPED"
    assert r.feed(release(at(1) + 1)) == []  # nothing was halted
    assert not r.state.kill_switch and "r1" in r.state.commands
    assert r.signal("AAA", at(2), 100, tgt(10)).outcome == "ACCEPTED"


def test_release_lifts_a_halt_and_a_reduce_only_state() -> None:
    r = Run({"limits": {"max_symbol_weight_pct": "10"}})
    r.hold("AAA", at(1), 100, 1000)
    r.bar("AAA", at(2), 101)  # REDUCING: SYMBOL_WEIGHT_LIMIT
    r.feed(shell_error(at(2) + 1, "UNKNOWN"))
    assert (r.state.halted, r.state.risk.reducing) == ("UNKNOWN_ERROR", "SYMBOL_WEIGHT_LIMIT")
    assert r.signal("BBB", at(3), 50, tgt(10)).reason_codes == ["TRADING_HALTED"]
    out = r.feed(release(at(3) + 1))
    assert [(e.reason, e.halt_reason) for e in of(out, TradingResumed)] == [
        ("OPERATOR_RESUMED", "UNKNOWN_ERROR"),
        ("OPERATOR_RESUMED", "SYMBOL_WEIGHT_LIMIT"),
    ]
    assert (r.state.halted, r.state.risk.reducing) == (None, None)


def test_kill_switch_takes_precedence_over_a_halt() -> None:
    r = Run()
    r.feed(shell_error(at(1) - 2, "AUTH"), kill(at(1) - 1))
    assert r.signal("AAA", at(1), 100, tgt(10)).reason_codes == ["KILL_SWITCH_ENGAGED"]


# --- dependency breakers ----------------------------------------------------------------------------


def test_circuit_opened_alerts_and_blocks_until_closed() -> None:
    r = Run()
    out = r.feed(opened(at(1) - 1, "MARKET_DATA"))
    assert [(e.severity, e.code, e.subject, e.detail) for e in out] == [
        ("WARNING", "CIRCUIT_OPEN", "MARKET_DATA", "TRANSIENT_NETWORK: 5 timeouts in 60 s")
    ]
    assert r.signal("AAA", at(1), 100, tgt(10)).reason_codes == ["CIRCUIT_OPEN_MARKET_DATA"]
    assert r.feed(CircuitClosed(ts=at(1) + 1, dependency="MARKET_DATA")) == []
    assert r.signal("AAA", at(2), 100, tgt(10)).outcome == "ACCEPTED"
    assert not of(r.log, Quarantined)


def test_repeated_breaker_opens_quarantine_the_strategy_until_its_end() -> None:
    r = Run({"quarantine": {"seconds": 600}})  # balanced: 3 opens within 3600 s
    t = at(1)
    quarantines = []
    for i, dt in enumerate((0, 1000, 2000)):
        out = r.feed(opened(t + dt * NS), CircuitClosed(ts=t + dt * NS + 1, dependency="BROKER_SUBMIT"))
        quarantines += of(out, Quarantined)
        assert bool(of(out, Quarantined)) == (i == 2)
    (q,) = quarantines
    until = t + 2000 * NS + 600 * NS
    assert (q.scope, q.subject, q.reason, q.until_ts) == ("STRATEGY", "sma_cross", "REPEATED_BREAKER_OPENS", until)
    assert q.metrics == {"breaker_opens": 3, "window_seconds": 3600}
    (alert,) = [a for a in of(r.log, AlertRaised) if a.code == "QUARANTINED"]
    assert (alert.severity, alert.subject) == ("WARNING", "sma_cross") and str(until) in alert.detail
    d = r.signal("AAA", until - 1, 100, tgt(10))
    assert (d.outcome, d.reason_codes) == ("REJECTED", ["STRATEGY_QUARANTINED"])
    out = r.bar("AAA", until, 100, tgt(10))
    assert names(out)[:2] == ["QuarantineLifted", "SignalGenerated"]
    assert (out[0].scope, out[0].subject, out[0].reason) == ("STRATEGY", "sma_cross", "REPEATED_BREAKER_OPENS")
    assert last(out, DecisionMade).outcome == "ACCEPTED"
    assert not of(r.bar("AAA", until + MINUTE, 100), QuarantineLifted)  # once


def test_breaker_opens_spread_over_more_than_the_window_do_not_quarantine() -> None:
    r = Run({"quarantine": {"breaker_window_seconds": 3600}})
    t = at(1)
    for dt in (0, 1800, 3600):  # the first one leaves the window as the third arrives
        r.feed(opened(t + dt * NS), CircuitClosed(ts=t + dt * NS + 1, dependency="BROKER_SUBMIT"))
    assert not of(r.log, Quarantined)
    r.feed(opened(t + 3601 * NS))
    assert [q.metrics for q in of(r.log, Quarantined)] == [{"breaker_opens": 3, "window_seconds": 3600}]


def test_quarantine_disabled_never_quarantines() -> None:
    r = Run({"quarantine": {"enabled": False}})
    for i in range(5):
        r.feed(opened(at(1) + i))
    assert not of(r.log, Quarantined)


# --- symbol quarantines ----------------------------------------------------------------------------


def test_a_symbol_with_many_broker_rejects_is_quarantined_with_metrics() -> None:
    r = Run({"quarantine": {"seconds": 3600}})  # balanced: at least 5 rejects, 50% of the last 20
    k = 0
    for shares in (10, 20, 30):
        k += 1
        r.fill(last(r.bar("AAA", at(k), 100, tgt(shares)), OrderSubmitRequested))
    for n in range(5):
        k += 1
        out = r.reject(last(r.bar("AAA", at(k), 100, tgt(40)), OrderSubmitRequested))
        assert bool(of(out, Quarantined)) == (n == 4)
    (q,) = of(r.log, Quarantined)
    assert (q.scope, q.subject, q.reason, q.until_ts) == ("SYMBOL", "AAA", "REJECT_RATE", at(k) + 3600 * NS)
    assert q.metrics == {"rejects": 5, "orders": 8, "reject_rate_bp": 6250}
    d = r.signal("AAA", at(k + 1), 100, tgt(40))
    assert (d.outcome, d.reason_codes) == ("REJECTED", ["SYMBOL_QUARANTINED"])
    assert r.signal("BBB", at(k + 1), 100, tgt(40)).outcome == "ACCEPTED"
    out = r.bar("AAA", at(k) + 3600 * NS, 100)
    assert [(e.scope, e.subject, e.reason) for e in of(out, QuarantineLifted)] == [("SYMBOL", "AAA", "REJECT_RATE")]


def test_a_reject_rate_under_the_threshold_does_not_quarantine() -> None:
    r = Run()
    k = 0
    for shares in range(1, 7):  # 6 acknowledged
        k += 1
        r.fill(last(r.bar("AAA", at(k), 100, tgt(shares)), OrderSubmitRequested))
    for _ in range(5):  # 5 of 11 rejected: 45%
        k += 1
        r.reject(last(r.bar("AAA", at(k), 100, tgt(10)), OrderSubmitRequested))
    assert not of(r.log, Quarantined)


def round_trip(r: Run, k: int, buy: float, sell: float, fee: int = 0) -> list[Any]:
    """Buy 10 AAA at ``buy`` on bar k, sell them at ``sell`` on bar k+1: the closing fill's events."""
    r.fill(last(r.bar("AAA", at(k), buy, tgt(10)), OrderSubmitRequested), price=buy)
    return r.fill(last(r.bar("AAA", at(k + 1), sell, tgt(0)), OrderSubmitRequested), price=sell, fee=fee)


def test_negative_expectancy_quarantines_the_symbol_and_the_strategy() -> None:
    r = Run({"quarantine": {"min_closing_fills": 3}})
    assert not of(round_trip(r, 1, 100, 99), Quarantined)
    assert not of(round_trip(r, 3, 100, 99), Quarantined)
    out = round_trip(r, 5, 100, 99)
    qs = of(out, Quarantined)
    assert [(q.scope, q.subject, q.reason) for q in qs] == [
        ("SYMBOL", "AAA", "NEGATIVE_EXPECTANCY"),
        ("STRATEGY", "sma_cross", "NEGATIVE_EXPECTANCY"),
    ]
    metrics = {"closing_fills": 3, "pnl_after_fees": -30 * S, "mean_pnl_after_fees": -10 * S}
    assert [q.metrics for q in qs] == [metrics, metrics]
    assert [a.subject for a in of(out, AlertRaised) if a.code == "QUARANTINED"] == ["AAA", "sma_cross"]
    assert r.signal("BBB", at(7), 100, tgt(10)).reason_codes == ["STRATEGY_QUARANTINED"]
    assert r.signal("AAA", at(7), 100, tgt(10)).reason_codes == ["SYMBOL_QUARANTINED", "STRATEGY_QUARANTINED"]


def test_expectancy_counts_winners_over_its_window() -> None:
    r = Run({"quarantine": {"min_closing_fills": 3, "expectancy_window": 3}})
    round_trip(r, 1, 100, 99)  # -10
    round_trip(r, 3, 100, 99)  # -10
    assert not of(round_trip(r, 5, 100, 102), Quarantined)  # +20: the mean is 0
    assert not of(round_trip(r, 7, 100, 99), Quarantined)  # the last 3 fills: -10, +20, -10
    assert of(round_trip(r, 9, 100, 95), Quarantined)  # +20, -10, -50


def test_expectancy_is_after_the_closing_fill_s_fee() -> None:
    r = Run({"quarantine": {"min_closing_fills": 3}})
    round_trip(r, 1, 100, 101, fee=11 * S)  # +10 realized, -1 after the fee
    round_trip(r, 3, 100, 101, fee=11 * S)
    out = round_trip(r, 5, 100, 101, fee=11 * S)
    assert [q.metrics for q in of(out, Quarantined)] == [
        {"closing_fills": 3, "pnl_after_fees": -3 * S, "mean_pnl_after_fees": -S}
    ] * 2


def test_a_closing_fill_at_the_entry_price_is_a_closing_fill_too() -> None:
    """Round trips that exit at their entry price lose their fees: negative expectancy after fees."""
    r = Run({"quarantine": {"min_closing_fills": 3}})
    for k in (1, 3, 5):
        round_trip(r, k, 100, 100, fee=S)
    assert [(q.scope, q.reason, q.metrics["pnl_after_fees"]) for q in of(r.log, Quarantined)] == [
        ("SYMBOL", "NEGATIVE_EXPECTANCY", -3 * S),
        ("STRATEGY", "NEGATIVE_EXPECTANCY", -3 * S),
    ]


# --- shell and core errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("category", "code"),
    [
        ("AUTH", "BROKER_AUTH_FAILED"),
        ("PROGRAMMING_ERROR", "SHELL_PROGRAMMING_ERROR"),
        ("UNKNOWN", "UNKNOWN_ERROR"),
        ("INVARIANT_VIOLATION", "SHELL_INVARIANT_VIOLATION"),
        ("BAD_DATA", "UNKNOWN_ERROR"),
    ],
)
def test_a_shell_error_that_halts_trading(category: str, code: str) -> None:
    r = Run()
    out = r.feed(shell_error(at(1) - 1, category))
    halt, alert = out
    assert isinstance(halt, TradingHalted)
    assert (halt.reason, halt.detail, halt.cause_seq) == (code, "BROKER_READS HTTPError: 401 Unauthorized", r.seq)
    assert (alert.severity, alert.code, alert.detail) == ("CRITICAL", "TRADING_HALTED", f"{code}: {halt.detail}")
    d = r.signal("AAA", at(1), 100, tgt(10))
    assert (d.outcome, d.reason_codes) == ("SKIPPED", ["TRADING_HALTED"])
    assert r.feed(shell_error(at(1) + 1, "AUTH")) == []  # halted once


@pytest.mark.parametrize("action", ["RETRY", "SKIP_SYMBOL", "DISABLE_PROVIDER"])
def test_a_shell_error_with_another_action_does_not_halt(action: str) -> None:
    r = Run()
    assert r.feed(shell_error(at(1) - 1, "AUTH", action)) == []
    assert r.signal("AAA", at(1), 100, tgt(10)).outcome == "ACCEPTED"


def test_a_strategy_that_raises_halts_trading_and_the_step_returns() -> None:
    r = Run()
    r.script[("AAA", at(1))] = lambda bar: 1 // 0
    out = r.bar("AAA", at(1), 100)  # does not raise
    assert names(out) == ["TradingHalted", "AlertRaised"]
    assert (out[0].reason, out[0].detail) == (
        "CORE_PROGRAMMING_ERROR",
        "while stepping BarClosed: ZeroDivisionError: integer division or modulo by zero",
    )
    assert (out[1].severity, out[1].code) == ("CRITICAL", "TRADING_HALTED")
    assert r.state.halted == "CORE_PROGRAMMING_ERROR"
    assert r.bar("AAA", at(2), 100, tgt(10))[-1].reason_codes == ["TRADING_HALTED"]
    r.script[("AAA", at(3))] = lambda bar: 1 // 0
    assert r.bar("AAA", at(3), 100) == []  # halted once


def _address_run() -> list[bytes]:
    r = Run()
    r.script[("AAA", at(1))] = raising(lambda: ValueError(f"cannot use {object()!r} or {r!r}"))
    r.bar("AAA", at(1), 100)
    return [encode(e) for e in r.log]


def test_the_halt_detail_carries_no_memory_addresses_and_replays_identically() -> None:
    a, b = _address_run(), _address_run()
    halt = msgspec.json.decode(a[0])
    assert halt["reason"] == "CORE_PROGRAMMING_ERROR" and halt["detail"].startswith(
        "while stepping BarClosed: ValueError: cannot use <object object at "
    )
    assert not re.search(r"0x[0-9a-fA-F]", halt["detail"]) and not re.search(r"at [0-9a-fA-F]{6,}", halt["detail"])
    assert a == b


def test_a_strategy_that_raises_undoes_its_whole_bar_and_halts_on_the_state_before_it() -> None:
    """An input is applied whole or not at all: the bar whose strategy raises leaves the market book,
    the review it would have expired and the strategies as they were before it; the halt is derived
    on that state, and the review expires on a later input."""
    r = Run({"policy": {"review_seconds": 60}})
    d = r.signal("AAA", at(1), 100, tgt(10, confidence="0.5"))
    market, inputs = copy.deepcopy(r.state.risk.market), r.state.inputs
    r.script[("BBB", at(3))] = lambda bar: 1 // 0
    out = r.bar("BBB", at(3), 50)
    assert names(out) == ["TradingHalted", "AlertRaised"]
    assert r.state.halted == "CORE_PROGRAMMING_ERROR"
    assert r.state.risk.market == market  # the bar marked nothing
    assert "AAA" in r.state.risk.reviews and r.state.inputs == inputs + 1
    later = r.bar("BBB", at(4), 50)
    assert [(e.outcome, e.decision_id) for e in of(later, ReviewResolved)] == [("EXPIRED", d.decision_id)]


# --- session hygiene ------------------------------------------------------------------------------


def day_orders(r: Run) -> dict[str, str]:
    """AAA working, BBB submit requested, CCC filled."""
    a = last(r.bar("AAA", at(1), 100, tgt(10)), OrderSubmitRequested)
    r.accept(a)
    b = last(r.bar("BBB", at(1), 100, tgt(10)), OrderSubmitRequested)
    c = last(r.bar("CCC", at(1), 100, tgt(10)), OrderSubmitRequested)
    r.fill(c)
    return {"AAA": a.client_order_id, "BBB": b.client_order_id, "CCC": c.client_order_id}


def test_day_orders_are_canceled_at_the_close_when_configured() -> None:
    r = Run({"session": {"cancel_day_orders_at_close": True}})
    cids = day_orders(r)
    out = r.close_session()
    assert names(out) == ["OrderCancelRequested", "OrderCancelRequested", "SessionSummarized"]
    assert [(e.client_order_id, e.reason) for e in out[:2]] == [
        (cids["AAA"], "SESSION_END"),
        (cids["BBB"], "SESSION_END"),
    ]


def test_no_cancels_at_the_close_by_default_or_for_gtc_orders() -> None:
    r = Run()
    day_orders(r)
    assert names(r.close_session()) == ["SessionSummarized"]
    r = Run({"session": {"cancel_day_orders_at_close": True}}, cfg={"orders": {"time_in_force": "gtc"}})
    day_orders(r)
    assert names(r.close_session()) == ["SessionSummarized"]


def test_orders_left_open_are_canceled_at_a_later_start_when_configured() -> None:
    r = Run({"session": {"cancel_leftovers_at_start": True}})
    assert not of(r.log, OrderCancelRequested)  # nothing was open at the first start
    cids = day_orders(r)
    out = r.feed(msgspec.structs.replace(r.started, ts=at(5), run_id="run-2"))
    assert [(e.client_order_id, e.reason) for e in out] == [
        (cids["AAA"], "START_CLEANUP"),
        (cids["BBB"], "START_CLEANUP"),
    ]
    r = Run()
    day_orders(r)
    assert r.feed(msgspec.structs.replace(r.started, ts=at(5), run_id="run-2")) == []


def test_a_session_summary_at_each_close() -> None:
    r = Run()
    a = last(r.bar("AAA", at(1), 100, tgt(10)), OrderSubmitRequested)
    r.fill(a, fee=S)  # ACCEPTED; intent SUBMITTED; one fill, fee 1
    r.bar("AAA", at(2), 102, tgt(10))  # SKIPPED: already at target
    r.bar("BBB", at(2), 50, tgt(10, confidence="0.5"))  # REVIEW
    c = last(r.bar("CCC", at(2), 20, tgt(10)), OrderSubmitRequested)
    r.accept(c)  # stays open
    d = last(r.bar("DDD", at(2), 20, tgt(10)), OrderSubmitRequested)
    r.reject(d)  # intent FAILED
    (s,) = r.close_session()
    assert isinstance(s, SessionSummarized)
    assert (s.session, s.ts, s.cause_seq) == ("2030-01-01", CLOSE, r.seq)
    assert s.decisions == {"ACCEPTED": 3, "REVIEW": 1, "SKIPPED": 1}
    assert s.intents == {"FAILED": 1, "SUBMITTED": 2}
    assert (s.fills, s.realized_pnl, s.fees) == (1, 0, S)
    assert s.equity == 1_000_000 * S - S + 20 * S  # the fee, and AAA up 2 on 10 shares
    assert (s.open_orders, s.trading_state) == (1, "ACTIVE")
    # the next session counts from zero
    r.open_session(1)
    r.fill(last(r.bar("AAA", at(1, day=1), 110, tgt(0)), OrderSubmitRequested))
    (s,) = r.close_session(1)
    assert (s.session, s.decisions, s.intents, s.fills, s.realized_pnl, s.fees) == (
        "2030-01-02",
        {"ACCEPTED": 1},
        {"SUBMITTED": 1},
        1,
        100 * S,
        0,
    )
    assert s.open_orders == 1


def test_the_summary_reports_the_trading_state() -> None:
    r = Run()
    r.feed(kill(at(1)))
    assert r.close_session()[-1].trading_state == "HALTED"
    r = Run({"limits": {"max_symbol_weight_pct": "10"}})
    r.hold("AAA", at(1), 100, 1000)
    r.bar("AAA", at(2), 101)
    assert r.close_session()[-1].trading_state == "REDUCING"


# --- profiles -------------------------------------------------------------------------------------


def snapshot(risk: dict[str, Any] | None = None, **raw: Any) -> dict[str, Any]:
    return resolve({**raw, **({"risk": risk} if risk is not None else {})})[1]


def test_the_three_profiles_resolve_to_different_thresholds() -> None:
    snaps = {p: snapshot({"profile": p})["risk"] for p in PROFILES}
    assert [snaps[p]["profile"] for p in PROFILES] == list(PROFILES)
    trade = {p: snaps[p]["limits"]["max_trade_notional"] for p in PROFILES}
    assert trade == {"conservative": "50000", "balanced": "100000", "aggressive": "250000"}
    age = {p: snaps[p]["policy"]["max_data_age_seconds"] for p in PROFILES}
    assert age == {"conservative": "15", "balanced": "30", "aggressive": "60"}
    assert {p: snaps[p]["limits"]["on_daily_loss"] for p in PROFILES} == {
        "conservative": "HALTED",
        "balanced": "REDUCING",
        "aggressive": "REDUCING",
    }
    assert snaps["conservative"]["policy"]["actions"]["low_liquidity"] == "REJECT"
    assert snaps["balanced"]["policy"]["actions"]["low_liquidity"] == "REVIEW"
    params = {p: RiskParams.from_snapshot(snaps[p]) for p in PROFILES}
    assert params["conservative"].weight_bp < params["balanced"].weight_bp < params["aggressive"].weight_bp
    confidence = [params[p].min_confidence for p in PROFILES]
    assert confidence == sorted(confidence, reverse=True) and len(set(confidence)) == 3
    assert len({config_hash(snapshot({"profile": p})) for p in PROFILES}) == 3
    assert snapshot() == snapshot({"profile": "balanced"})  # balanced is the default


def test_an_explicit_key_overrides_only_itself() -> None:
    base = snapshot({"profile": "conservative"})["risk"]
    over = snapshot(
        {
            "profile": "conservative",
            "limits": {"max_trade_notional": "75000"},
            "policy": {"actions": {"low_confidence": "REJECT"}},
        }
    )["risk"]
    assert over["limits"]["max_trade_notional"] == "75000"
    assert over["policy"]["actions"]["low_confidence"] == "REJECT"
    over["limits"]["max_trade_notional"] = base["limits"]["max_trade_notional"]
    over["policy"]["actions"]["low_confidence"] = base["policy"]["actions"]["low_confidence"]
    assert over == base
    # an explicit value equal to the profile's hashes the same as leaving it out
    same = snapshot({"profile": "conservative", "limits": {"max_trade_notional": "50000"}})
    assert config_hash(same) == config_hash(snapshot({"profile": "conservative"}))


def test_an_unknown_profile_is_a_one_line_config_error_naming_the_choices() -> None:
    with pytest.raises(ConfigError) as exc:
        resolve({"risk": {"profile": "reckless"}})
    msg = str(exc.value)
    assert "\n" not in msg
    assert "reckless" in msg and "conservative, balanced, aggressive" in msg


def test_run_mode_and_risk_profile_are_independent() -> None:
    paper = snapshot({"profile": "conservative"}, run={"mode": "paper"}, broker={"kind": "venue"})
    backtest = snapshot({"profile": "conservative"})
    assert (paper["run"]["mode"], backtest["run"]["mode"]) == ("paper", "backtest")
    assert paper["risk"] == backtest["risk"]
    aggressive_paper = snapshot({"profile": "aggressive"}, run={"mode": "paper"}, broker={"kind": "venue"})
    assert aggressive_paper["run"] == paper["run"] and aggressive_paper["risk"] != paper["risk"]


def test_the_core_trades_under_the_profile_s_thresholds() -> None:
    d = Run({"profile": "conservative"}).signal("AAA", at(1), 100, tgt(600))
    assert (d.reason_codes, d.approved_qty) == (["SIGNAL_ACCEPTED", "CLIPPED_TRADE_SIZE"], 500 * S)
    d = Run().signal("AAA", at(1), 100, tgt(600))
    assert (d.reason_codes, d.approved_qty) == (["SIGNAL_ACCEPTED"], 600 * S)
    d = Run({"profile": "conservative"}).signal("AAA", at(1), 100, tgt(10), volume=50 * S)
    assert (d.outcome, d.reason_codes) == ("REJECTED", ["LOW_LIQUIDITY"])
