"""The policy gate (engine.core.risk.gate) through step(): every rule, its reason code and action
switch, precedence, risk-reducing orders, and the review flow (approve, expire, supersede)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from journal_schema.events import (
    AlertRaised,
    DecisionMade,
    OrderIntentCreated,
    OrderSubmitRequested,
)
from journal_schema.reasons import DECISION_REASONS, DEPENDENCIES
from journal_schema.risk_events import (
    CircuitClosed,
    CircuitOpened,
    Quarantined,
    ReviewApproved,
    ReviewResolved,
    TradingReduced,
)
from tests.risk_support import MINUTE, NS, Run, S, at, iso, last, names, of, tgt

ORDER_MESSAGES = (OrderIntentCreated, OrderSubmitRequested)


def actions(**kw: str) -> dict[str, Any]:
    return {"policy": {"actions": kw}}


def approve(r: Run, decision_id: str, ts: int, reason: str = "looked at it") -> list[Any]:
    cmd = "cmd-" + reason
    return r.feed(ReviewApproved(ts=ts, decision_id=decision_id, actor="ops", reason=reason, command_id=cmd))


def circuit(dep: str, ts: int, until: int | None = None) -> CircuitOpened:
    return CircuitOpened(
        ts=ts,
        dependency=dep,
        category="TRANSIENT_NETWORK",
        failures=3,
        window_seconds=60,  # type: ignore[arg-type]
        open_seconds=30,
        until_ts=until or ts + 30 * NS,
        detail="timeouts",
    )


# --- one scenario per configurable rule: it trips that rule and nothing else ---------------


def stale_historical(risk: dict[str, Any]) -> tuple[Run, DecisionMade]:
    """BBB's bars are a minute apart; its next bar arrives when AAA's stream is two minutes ahead."""
    r = Run(risk)
    for k in (1, 2):
        r.bar("AAA", at(k), 100)
        r.bar("BBB", at(k), 50)
    for k in (3, 4, 5):
        r.bar("AAA", at(k), 100)
    return r, r.signal("BBB", at(3), 50, tgt(10))


def stale_live(risk: dict[str, Any]) -> tuple[Run, DecisionMade]:
    r = Run(risk)
    return r, r.signal("AAA", at(1), 100, tgt(10), received_ts=at(1) + 31 * NS)  # balanced limit: 30 s


def not_allowed(risk: dict[str, Any]) -> tuple[Run, DecisionMade]:
    r = Run({"allowlist": ["BBB"], **risk})
    return r, r.signal("AAA", at(1), 100, tgt(10))


def drawdown(risk: dict[str, Any]) -> tuple[Run, DecisionMade]:
    """1000 AAA bought at 100 and marked at 89: equity 989,000 from a session peak of 1,000,000."""
    r = Run({"policy": {"max_daily_drawdown_pct": "1", **risk.get("policy", {})}})
    r.hold("AAA", at(1), 100, 1000)
    r.bar("AAA", at(2), 89)
    return r, r.signal("BBB", at(2), 50, tgt(10))


def blackout(risk: dict[str, Any]) -> tuple[Run, DecisionMade]:
    window = {"start": iso(at(2)), "end": iso(at(4)), "reason": "FOMC", "symbols": ["AAA"]}
    r = Run({"blackouts": [window], **risk})
    return r, r.signal("AAA", at(3), 100, tgt(10))


def low_liquidity(risk: dict[str, Any]) -> tuple[Run, DecisionMade]:
    """$1,000 order, dollar volume $5,000 x 1% participation: score 0.05 (balanced minimum 0.7)."""
    r = Run(risk)
    return r, r.signal("AAA", at(1), 100, tgt(10), volume=50 * S)


def low_confidence(risk: dict[str, Any]) -> tuple[Run, DecisionMade]:
    r = Run(risk)
    return r, r.signal("AAA", at(1), 100, tgt(10, confidence="0.5"))


PATH = [100 + d for d in (0, 1, -1, 2, 0, 3, 1, -2, 0, 2, 4, 1, -1, 3, 5, 2, 0, 1, 3, -1, 2, 4, 1)]  # 23 closes


def correlated_book(r: Run, *, hold_bbb: int = 0, bars: int = len(PATH) - 1) -> None:
    """AAA and BBB with identical closes (identical returns); AAA held from the first bar."""
    r.hold("AAA", at(1), PATH[0], 100)
    if hold_bbb:
        r.hold("BBB", at(1), PATH[0], hold_bbb)
    else:
        r.bar("BBB", at(1), PATH[0])
    for k in range(2, bars + 1):
        r.bar("AAA", at(k), PATH[k - 1])
        r.bar("BBB", at(k), PATH[k - 1])
    r.bar("AAA", at(bars + 1), PATH[bars])


def high_correlation(risk: dict[str, Any]) -> tuple[Run, DecisionMade]:
    r = Run(risk)
    correlated_book(r)
    return r, r.signal("BBB", at(len(PATH)), PATH[-1], tgt(100))


SCENARIOS: dict[str, tuple[str, str, Callable[[dict[str, Any]], tuple[Run, DecisionMade]]]] = {
    # name: (reason code, risk.policy.actions key, scenario)
    "stale_historical": ("STALE_DATA", "stale_data", stale_historical),
    "stale_live": ("STALE_DATA", "stale_data", stale_live),
    "symbol_not_allowed": ("SYMBOL_NOT_ALLOWED", "symbol_not_allowed", not_allowed),
    "daily_drawdown": ("DAILY_DRAWDOWN_LIMIT", "daily_drawdown", drawdown),
    "event_blackout": ("EVENT_BLACKOUT", "event_blackout", blackout),
    "low_liquidity": ("LOW_LIQUIDITY", "low_liquidity", low_liquidity),
    "low_confidence": ("LOW_CONFIDENCE", "low_confidence", low_confidence),
    "high_correlation": ("HIGH_CORRELATION", "high_correlation", high_correlation),
}


@pytest.mark.parametrize("action", ["REJECT", "REVIEW"])
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_each_configurable_rule_trips_with_its_reason_and_configured_action(name: str, action: str) -> None:
    code, key, scenario = SCENARIOS[name]
    r, d = scenario(actions(**{key: action}))
    assert d.reason_codes == [code]
    assert code in DECISION_REASONS
    after = r.log[r.log.index(d) + 1 :]
    if action == "REJECT":
        assert (d.outcome, d.approved_qty, d.expires_ts) == ("REJECTED", 0, None)
        assert not of(after, *ORDER_MESSAGES, AlertRaised) and r.state.risk.reviews == {}
    else:
        assert d.outcome == "REVIEW" and d.approved_qty == d.order_qty
        assert d.expires_ts == d.ts + 900 * NS  # balanced review_seconds
        assert not of(after, *ORDER_MESSAGES)
        (alert,) = of(after, AlertRaised)
        assert (alert.code, alert.subject, alert.severity) == ("REVIEW_REQUIRED", d.decision_id, "WARNING")
        assert code in alert.detail and d.decision_id in alert.detail
        assert r.state.risk.reviews[d.symbol].decision_id == d.decision_id


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_balanced_default_actions(name: str) -> None:
    code, _, scenario = SCENARIOS[name]
    _, d = scenario({})
    review = {"LOW_LIQUIDITY", "LOW_CONFIDENCE", "HIGH_CORRELATION"}
    assert d.outcome == ("REVIEW" if code in review else "REJECTED")


def test_a_plain_signal_is_accepted_with_its_context() -> None:
    r = Run()
    out = r.bar("AAA", at(1), 100, tgt(10))
    assert names(out) == ["SignalGenerated", "DecisionMade", "OrderIntentCreated", "OrderSubmitRequested"]
    d = out[1]
    assert (d.outcome, d.reason_codes, d.approved_qty, d.expires_ts) == ("ACCEPTED", ["SIGNAL_ACCEPTED"], 10 * S, None)
    c = d.context
    assert (c.trading_state, c.market_open, c.blackout, c.liquidity_bp, c.confidence_bp) == (
        "ACTIVE",
        True,
        "",
        10_000,
        10_000,
    )
    assert (c.equity, c.gross_exposure, c.net_exposure, c.symbol_weight_bp) == (1_000_000 * S, 1_000 * S, 1_000 * S, 10)


# --- the fixed rules and each rule's figures -----------------------------------------------


def test_session_closed_without_an_open_session() -> None:
    r = Run(session=False)
    d = r.signal("AAA", at(1), 100, tgt(10))
    assert (d.outcome, d.reason_codes, d.context.market_open) == ("REJECTED", ["SESSION_CLOSED"], False)
    assert not of(r.log, *ORDER_MESSAGES)


def test_session_closed_for_a_bar_outside_the_open_session() -> None:
    r = Run()
    assert r.signal("BBB", at(390), 100, tgt(10)).outcome == "ACCEPTED"  # the last bar of the session
    d = r.signal("AAA", at(391), 100, tgt(10))  # after the session's close
    assert (d.outcome, d.reason_codes, d.context.market_open) == ("REJECTED", ["SESSION_CLOSED"], False)
    d = Run().signal("AAA", at(0), 100, tgt(10))  # at the open: the session is (open, close]
    assert d.reason_codes == ["SESSION_CLOSED"]


def test_stale_data_historical_is_one_bar_of_the_symbol_behind_the_stream() -> None:
    _, d = stale_historical({})
    assert (d.context.data_age_ns, d.context.max_data_age_ns) == (2 * MINUTE, MINUTE)
    # exactly one bar behind is not stale
    r = Run()
    for k in (1, 2):
        r.bar("AAA", at(k), 100)
        r.bar("BBB", at(k), 50)
    for k in (3, 4):
        r.bar("AAA", at(k), 100)
    d = r.signal("BBB", at(3), 50, tgt(10))
    assert (d.outcome, d.context.data_age_ns, d.context.max_data_age_ns) == ("ACCEPTED", MINUTE, MINUTE)


def test_stale_data_live_compares_received_ts_with_max_data_age() -> None:
    _, d = stale_live({})
    assert (d.context.data_age_ns, d.context.max_data_age_ns) == (31 * NS, 30 * NS)
    r = Run()
    d = r.signal("AAA", at(1), 100, tgt(10), received_ts=at(1) + 30 * NS)  # at the limit: fresh
    assert d.outcome == "ACCEPTED" and d.context.data_age_ns == 30 * NS
    r = Run({"policy": {"max_data_age_seconds": "5"}})
    d = r.signal("AAA", at(1), 100, tgt(10), received_ts=at(1) + 6 * NS)
    assert d.reason_codes == ["STALE_DATA"] and d.context.max_data_age_ns == 5 * NS


def test_symbol_not_allowed_spares_allowed_symbols_and_an_empty_allowlist_allows_all() -> None:
    r, d = not_allowed({})
    assert d.reason_codes == ["SYMBOL_NOT_ALLOWED"]
    assert r.signal("BBB", at(2), 100, tgt(10)).outcome == "ACCEPTED"
    assert Run().signal("ZZZ", at(1), 100, tgt(10)).outcome == "ACCEPTED"


def test_daily_drawdown_figures() -> None:
    _, d = drawdown({})
    assert d.reason_codes == ["DAILY_DRAWDOWN_LIMIT"]
    assert (d.context.daily_drawdown_bp, d.context.equity) == (110, 989_000 * S)
    # 0.9% down is under the 1% limit
    r = Run({"policy": {"max_daily_drawdown_pct": "1"}})
    r.hold("AAA", at(1), 100, 1000)
    r.bar("AAA", at(2), 91)
    d = r.signal("BBB", at(2), 50, tgt(10))
    assert d.outcome == "ACCEPTED" and d.context.daily_drawdown_bp == 90


def test_event_blackout_covers_its_window_and_symbols_only() -> None:
    r, d = blackout({})
    assert d.reason_codes == ["EVENT_BLACKOUT"] and d.context.blackout == "FOMC"
    assert r.signal("BBB", at(3), 100, tgt(10)).outcome == "ACCEPTED"  # another symbol
    d = r.signal("AAA", at(4), 100, tgt(10))  # the end is exclusive
    assert d.outcome == "ACCEPTED" and d.context.blackout == ""
    # no symbols: every symbol; a risk-reducing order is held as well
    window = {"start": iso(at(2)), "end": iso(at(4)), "reason": "CPI release"}
    r = Run({"blackouts": [window]})
    r.hold("AAA", at(1), 100, 10)
    d = r.signal("AAA", at(2), 100, tgt(0))
    assert (d.outcome, d.reason_codes, d.context.blackout) == ("REJECTED", ["EVENT_BLACKOUT"], "CPI release")
    assert r.signal("CCC", at(3), 100, tgt(10)).reason_codes == ["EVENT_BLACKOUT"]


def test_low_liquidity_score_and_its_boundary() -> None:
    _, d = low_liquidity({})
    assert d.reason_codes == ["LOW_LIQUIDITY"] and d.context.liquidity_bp == 500
    # $70,000 dollar volume x 1% = $700 capacity for a $1,000 order: score 0.7, the minimum
    d = Run().signal("AAA", at(1), 100, tgt(10), volume=700 * S)
    assert d.outcome == "ACCEPTED" and d.context.liquidity_bp == 7000
    d = Run().signal("AAA", at(1), 100, tgt(10), volume=699 * S)
    assert d.reason_codes == ["LOW_LIQUIDITY"] and d.context.liquidity_bp == 6990


def test_low_liquidity_averages_over_the_window() -> None:
    r = Run({"policy": {"liquidity_window_bars": 2}})
    r.bar("AAA", at(1), 100, volume=1300 * S)  # dollar volumes 130,000 and 10,000: average 70,000
    d = r.signal("AAA", at(2), 100, tgt(10), volume=100 * S)
    assert d.outcome == "ACCEPTED" and d.context.liquidity_bp == 7000
    d = r.signal("AAA", at(3), 100, tgt(20), volume=100 * S)  # the 130,000 bar left the window
    assert d.reason_codes == ["LOW_LIQUIDITY"] and d.context.liquidity_bp == 1000


def test_low_confidence_and_its_boundary() -> None:
    _, d = low_confidence({})
    assert d.reason_codes == ["LOW_CONFIDENCE"] and d.context.confidence_bp == 5000
    d = Run().signal("AAA", at(1), 100, tgt(10, confidence="0.6"))
    assert d.outcome == "ACCEPTED" and d.context.confidence_bp == 6000
    d = Run({"policy": {"min_confidence": "0.9"}}).signal("AAA", at(1), 100, tgt(10, confidence="0.8"))
    assert d.reason_codes == ["LOW_CONFIDENCE"]


def test_high_correlation_with_the_book() -> None:
    _, d = high_correlation({})
    assert d.reason_codes == ["HIGH_CORRELATION"] and d.context.correlation_bp == 10_000
    # too few common returns: correlation 0
    r = Run()
    correlated_book(r, bars=10)
    d = r.signal("BBB", at(11), PATH[10], tgt(100))
    assert d.outcome == "ACCEPTED" and d.context.correlation_bp == 0
    # nothing else in the book: correlation 0
    r = Run()
    for k in range(1, len(PATH)):
        r.bar("AAA", at(k), PATH[k - 1])
        r.bar("BBB", at(k), PATH[k - 1])
    d = r.signal("BBB", at(len(PATH)), PATH[-1], tgt(100))
    assert d.outcome == "ACCEPTED" and d.context.correlation_bp == 0


def test_a_short_against_a_correlated_long_book_is_not_correlated_risk() -> None:
    r = Run()
    correlated_book(r)
    d = r.signal("BBB", at(len(PATH)), PATH[-1], tgt(-100))
    assert d.outcome == "ACCEPTED" and d.context.correlation_bp == 10_000


@pytest.mark.parametrize("dep", DEPENDENCIES)
def test_circuit_open_blocks_with_the_dependency_and_closing_unblocks(dep: str) -> None:
    r = Run(actions(**{k: "REVIEW" for k in ("stale_data", "symbol_not_allowed")}))
    r.feed(circuit(dep, at(1) - 1))
    d = r.signal("AAA", at(1), 100, tgt(10))
    assert (d.outcome, d.reason_codes) == ("REJECTED", [f"CIRCUIT_OPEN_{dep}"])
    assert f"CIRCUIT_OPEN_{dep}" in DECISION_REASONS
    assert not of(r.log, *ORDER_MESSAGES)
    r.feed(CircuitClosed(ts=at(2) - 1, dependency=dep))  # type: ignore[arg-type]
    assert r.signal("AAA", at(2), 100, tgt(10)).outcome == "ACCEPTED"


def test_every_open_circuit_is_a_reason_in_order() -> None:
    r = Run()
    r.feed(circuit("MARKET_DATA", at(1) - 2), circuit("BROKER_SUBMIT", at(1) - 1))
    d = r.signal("AAA", at(1), 100, tgt(10))
    assert d.reason_codes == ["CIRCUIT_OPEN_BROKER_SUBMIT", "CIRCUIT_OPEN_MARKET_DATA"]


def test_symbol_quarantined() -> None:
    r = Run({"quarantine": {"min_rejects": 2}})
    for k in (1, 2):
        r.reject(last(r.bar("AAA", at(k), 100, tgt(10)), OrderSubmitRequested))
    assert [(q.scope, q.subject) for q in of(r.log, Quarantined)] == [("SYMBOL", "AAA")]
    d = r.signal("AAA", at(3), 100, tgt(10))
    assert (d.outcome, d.reason_codes) == ("REJECTED", ["SYMBOL_QUARANTINED"])
    assert r.signal("BBB", at(3), 100, tgt(10)).outcome == "ACCEPTED"


def test_strategy_quarantined() -> None:
    r = Run()
    for i in range(3):  # balanced: 3 breaker opens in an hour
        r.feed(circuit("BROKER_READS", at(1) + i), CircuitClosed(ts=at(1) + i + 1, dependency="BROKER_READS"))
    assert [(q.scope, q.reason) for q in of(r.log, Quarantined)] == [("STRATEGY", "REPEATED_BREAKER_OPENS")]
    for sym in ("AAA", "BBB"):
        d = r.signal(sym, at(2), 100, tgt(10))
        assert (d.outcome, d.reason_codes) == ("REJECTED", ["STRATEGY_QUARANTINED"])


def weight_breach() -> Run:
    """10% weight cap; 1000 AAA at 100 (exactly at the cap), then AAA marks 101: REDUCING."""
    r = Run({"limits": {"max_symbol_weight_pct": "10"}})
    r.hold("AAA", at(1), 100, 1000)
    out = r.bar("AAA", at(2), 101)
    assert [e.reason for e in of(out, TradingReduced)] == ["SYMBOL_WEIGHT_LIMIT"]
    return r


def test_reduce_only_rejects_orders_that_add_risk() -> None:
    r = weight_breach()
    d = r.signal("BBB", at(2), 50, tgt(10))
    assert (d.outcome, d.reason_codes, d.context.trading_state) == ("REJECTED", ["REDUCE_ONLY"], "REDUCING")
    d = r.signal("AAA", at(3), 101, tgt(1100))  # AAA is over its own cap as well: either reason holds it
    assert d.outcome == "REJECTED" and d.approved_qty == 0
    assert d.reason_codes in (["REDUCE_ONLY"], ["SYMBOL_WEIGHT_LIMIT"])
    d = r.signal("AAA", at(4), 101, tgt(500))
    assert (d.outcome, d.reason_codes, d.approved_qty) == ("ACCEPTED", ["SIGNAL_ACCEPTED"], -500 * S)


def test_reduce_only_clips_a_flip_to_its_risk_reducing_part() -> None:
    r = weight_breach()
    d = r.signal("AAA", at(3), 101, tgt(-500))
    assert (d.outcome, d.reason_codes, d.approved_qty) == ("ACCEPTED", ["SIGNAL_ACCEPTED", "REDUCE_ONLY"], -1000 * S)
    assert last(r.log, OrderSubmitRequested).qty == 1000 * S


# --- precedence ------------------------------------------------------------------------------


def test_reject_beats_review_and_lists_both_reject_first() -> None:
    r = Run({"allowlist": ["BBB"]})
    d = r.signal("AAA", at(1), 100, tgt(10, confidence="0.5"))
    assert (d.outcome, d.reason_codes, d.approved_qty, d.expires_ts) == (
        "REJECTED",
        ["SYMBOL_NOT_ALLOWED", "LOW_CONFIDENCE"],
        0,
        None,
    )
    assert r.state.risk.reviews == {} and not of(r.log, AlertRaised, *ORDER_MESSAGES)


def test_reasons_list_every_tripped_rule_fixed_rejects_first() -> None:
    r = Run({"allowlist": ["BBB"]}, session=False)
    r.feed(circuit("BROKER_SUBMIT", at(1) - 1))
    d = r.signal("AAA", at(1), 100, tgt(10, confidence="0.5"), volume=50 * S)
    assert d.reason_codes == [
        "SESSION_CLOSED",
        "CIRCUIT_OPEN_BROKER_SUBMIT",
        "SYMBOL_NOT_ALLOWED",
        "LOW_LIQUIDITY",
        "LOW_CONFIDENCE",
    ]


def test_only_review_rules_give_review_with_an_expiry() -> None:
    r = Run({"policy": {"review_seconds": 120}})
    out = r.bar("AAA", at(1), 100, tgt(10, confidence="0.5"), volume=50 * S)
    d = last(out, DecisionMade)
    assert (d.outcome, d.reason_codes, d.approved_qty) == ("REVIEW", ["LOW_LIQUIDITY", "LOW_CONFIDENCE"], 10 * S)
    assert d.expires_ts == at(1) + 120 * NS
    assert names(out) == ["SignalGenerated", "DecisionMade", "AlertRaised"]
    assert str(d.expires_ts) in out[-1].detail


def test_review_keeps_the_clip_reason_and_a_reject_drops_it() -> None:
    d = Run().signal("AAA", at(1), 100, tgt(1500, confidence="0.5"))  # max_trade_notional 100,000
    assert (d.outcome, d.reason_codes, d.approved_qty) == ("REVIEW", ["LOW_CONFIDENCE", "CLIPPED_TRADE_SIZE"], 1000 * S)
    d = Run({"allowlist": ["BBB"]}).signal("AAA", at(1), 100, tgt(1500))
    assert (d.reason_codes, d.approved_qty) == (["SYMBOL_NOT_ALLOWED"], 0)


# --- risk-reducing orders ---------------------------------------------------------------------


def _dd_setup() -> tuple[Run, int, float, int]:
    r = Run({"policy": {"max_daily_drawdown_pct": "1"}})
    r.hold("AAA", at(1), 100, 1000)
    r.bar("AAA", at(2), 89)
    return r, at(3), 89, BIG


def _liq_setup() -> tuple[Run, int, float, int]:
    r = Run({"policy": {"liquidity_window_bars": 1}})
    r.hold("AAA", at(1), 100, 1000)
    return r, at(2), 100, 1 * S


def _conf_setup() -> tuple[Run, int, float, int]:
    r = Run()
    r.hold("AAA", at(1), 100, 1000)
    return r, at(2), 100, BIG


def _corr_setup() -> tuple[Run, int, float, int]:
    r = Run()
    correlated_book(r, hold_bbb=100)
    return r, at(len(PATH)), PATH[-1], BIG


BIG = 1_000_000 * S
REDUCING_CASES = {
    # rule: (setup -> (run, ts, close, volume) of a signal in the symbol held, symbol, confidence)
    "DAILY_DRAWDOWN_LIMIT": (_dd_setup, "AAA", "1"),
    "LOW_LIQUIDITY": (_liq_setup, "AAA", "1"),
    "LOW_CONFIDENCE": (_conf_setup, "AAA", "0.1"),
    "HIGH_CORRELATION": (_corr_setup, "BBB", "1"),
}


@pytest.mark.parametrize("rule", sorted(REDUCING_CASES))
@pytest.mark.parametrize("target", [0, 0.5])  # flat, or half the position
def test_risk_reducing_orders_are_not_held_by_the_risk_adding_rules(rule: str, target: float) -> None:
    setup, symbol, confidence = REDUCING_CASES[rule]
    r, ts, close, volume = setup()
    held = r.state.positions.qty(symbol) // S
    d = r.signal(symbol, ts, close, tgt(held * target, confidence), volume=volume)
    assert (d.outcome, d.reason_codes) == ("ACCEPTED", ["SIGNAL_ACCEPTED"])
    assert last(r.log, OrderSubmitRequested).side == "sell"
    # the same state and bar with an order that adds risk trips the rule
    r, ts, close, volume = setup()
    d = r.signal(symbol, ts, close, tgt(held * 2, confidence), volume=volume)
    assert rule in d.reason_codes and d.outcome in ("REJECTED", "REVIEW")


# --- the review flow --------------------------------------------------------------------------


def held_for_review(**risk: Any) -> tuple[Run, DecisionMade]:
    r = Run(risk or None)
    d = r.signal("AAA", at(1), 100, tgt(10, confidence="0.5"))
    assert d.outcome == "REVIEW"
    return r, d


def test_an_approved_review_is_decided_again_and_ordered() -> None:
    r, d = held_for_review()
    out = approve(r, d.decision_id, at(1) + 60 * NS, reason="news checked")
    assert names(out) == ["ReviewResolved", "DecisionMade", "OrderIntentCreated", "OrderSubmitRequested"]
    resolved, again, intent, req = out
    assert (resolved.outcome, resolved.decision_id, resolved.symbol, resolved.actor, resolved.detail) == (
        "APPROVED",
        d.decision_id,
        "AAA",
        "ops",
        "news checked",
    )
    assert (again.outcome, again.reason_codes, again.signal_id) == (
        "ACCEPTED",
        ["SIGNAL_ACCEPTED", "OPERATOR_APPROVED"],
        d.signal_id,
    )
    assert again.decision_id != d.decision_id and intent.decision_id == again.decision_id
    assert (req.symbol, req.side, req.qty, req.ts) == ("AAA", "buy", 10 * S, at(1) + 60 * NS)
    assert r.state.risk.reviews == {} and "cmd-news checked" in r.state.commands


def test_an_approval_exactly_at_the_expiry_is_in_time() -> None:
    r, d = held_for_review()
    out = approve(r, d.decision_id, d.expires_ts)
    assert out[0].outcome == "APPROVED" and of(out, OrderSubmitRequested)


def test_an_approval_keeps_clip_reasons_after_operator_approved() -> None:
    r = Run()
    d = r.signal("AAA", at(1), 100, tgt(1500, confidence="0.5"))
    again = of(approve(r, d.decision_id, at(2)), DecisionMade)[0]
    assert (again.reason_codes, again.approved_qty) == (
        ["SIGNAL_ACCEPTED", "OPERATOR_APPROVED", "CLIPPED_TRADE_SIZE"],
        1000 * S,
    )


def test_an_approval_does_not_waive_reject_rules() -> None:
    r, d = held_for_review()
    r.feed(circuit("BROKER_SUBMIT", at(1) + 1))
    out = approve(r, d.decision_id, at(1) + 2)
    assert out[0].outcome == "APPROVED"
    again = last(out, DecisionMade)
    assert (again.outcome, again.reason_codes) == ("REJECTED", ["CIRCUIT_OPEN_BROKER_SUBMIT"])
    assert not of(out, *ORDER_MESSAGES)


def test_an_approval_after_the_expiry_is_expired_and_orders_nothing() -> None:
    r, d = held_for_review()
    out = approve(r, d.decision_id, d.expires_ts + 1)
    assert names(out) == ["ReviewResolved"]
    assert (out[0].outcome, out[0].decision_id, out[0].actor) == ("EXPIRED", d.decision_id, "ops")
    assert str(d.expires_ts) in out[0].detail
    assert approve(r, d.decision_id, d.expires_ts + 2)[0].outcome == "NOT_FOUND"
    assert not of(r.log, *ORDER_MESSAGES)


def test_a_review_expires_at_the_first_input_after_its_expiry() -> None:
    r, d = held_for_review(policy={"review_seconds": 300})
    assert not of(r.bar("BBB", at(6), 50), ReviewResolved)  # at(1) + 300 s: not yet
    out = r.bar("BBB", at(7), 50)
    (expired,) = of(out, ReviewResolved)
    assert (expired.outcome, expired.decision_id, expired.symbol) == ("EXPIRED", d.decision_id, "AAA")
    assert expired.actor == ""
    assert r.state.risk.reviews == {}
    (nf,) = approve(r, d.decision_id, at(8))
    assert (nf.outcome, nf.decision_id) == ("NOT_FOUND", d.decision_id)
    assert not of(r.log, *ORDER_MESSAGES)


def test_an_approval_of_an_unknown_id_is_not_found() -> None:
    r, d = held_for_review()
    out = approve(r, "dec-nope", at(2))
    assert names(out) == ["ReviewResolved"]
    assert (out[0].outcome, out[0].decision_id, out[0].symbol, out[0].actor) == ("NOT_FOUND", "dec-nope", "", "ops")
    assert r.state.risk.reviews["AAA"].decision_id == d.decision_id  # the held review still waits


def test_an_approval_of_an_accepted_decision_is_not_found() -> None:
    r = Run()
    d = r.signal("AAA", at(1), 100, tgt(10))
    assert approve(r, d.decision_id, at(2))[0].outcome == "NOT_FOUND"
    assert len(of(r.log, OrderSubmitRequested)) == 1


def test_a_newer_signal_supersedes_a_held_review() -> None:
    r, d = held_for_review()
    assert not of(r.bar("AAA", at(2), 100), ReviewResolved)  # a bar without a signal keeps it
    assert not of(r.bar("BBB", at(2), 50, tgt(5)), ReviewResolved)  # a signal of another symbol too
    out = r.bar("AAA", at(3), 100, tgt(20, confidence="0.5"))
    assert names(out) == ["SignalGenerated", "ReviewResolved", "DecisionMade", "AlertRaised"]
    sup, new = out[1], out[2]
    assert (sup.outcome, sup.decision_id, sup.symbol) == ("SUPERSEDED", d.decision_id, "AAA")
    assert out[0].signal_id in sup.detail
    assert new.outcome == "REVIEW" and new.decision_id != d.decision_id
    assert approve(r, d.decision_id, at(4))[0].outcome == "NOT_FOUND"
    out = approve(r, new.decision_id, at(4), reason="fine")
    assert out[0].outcome == "APPROVED" and last(out, OrderSubmitRequested).qty == 20 * S


def test_an_accepted_newer_signal_also_supersedes() -> None:
    r, d = held_for_review()
    out = r.bar("AAA", at(2), 100, tgt(10))
    assert [e.outcome for e in of(out, ReviewResolved)] == ["SUPERSEDED"]
    assert last(out, DecisionMade).outcome == "ACCEPTED"
    assert approve(r, d.decision_id, at(3))[0].outcome == "NOT_FOUND"
    assert len(of(r.log, OrderSubmitRequested)) == 1


def test_every_emitted_reason_code_is_a_catalogued_decision_reason() -> None:
    seen = set()
    for name in SCENARIOS:
        for action in ("REJECT", "REVIEW"):
            _, d = SCENARIOS[name][2](actions(**{SCENARIOS[name][1]: action}))
            seen.update(d.reason_codes)
    assert seen <= set(DECISION_REASONS)
