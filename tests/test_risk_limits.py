"""Portfolio limits (engine.core.risk.portfolio): clipping to whole shares under each cap, *_LIMIT
rejections, REDUCING after a price move breaks a cap and its end, and the daily loss limit."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from journal_schema.codec import decode, encode
from journal_schema.events import (
    AlertRaised,
    DecisionMade,
    KillSwitchReleased,
    OrderSubmitRequested,
    TradingHalted,
    TradingResumed,
)
from journal_schema.reasons import DECISION_REASONS
from journal_schema.risk_events import TradingReduced
from tests.risk_support import Run, S, at, last, of, tgt


def limits(**kw: Any) -> dict[str, Any]:
    return {"limits": kw}


def assert_approved(d: DecisionMade, qty: float, clip: str | None) -> None:
    assert d.outcome == "ACCEPTED"
    assert d.reason_codes == ["SIGNAL_ACCEPTED", *([clip] if clip else [])]
    assert d.approved_qty == round(qty * S)


# --- clipping ---------------------------------------------------------------------------------


def test_clipped_to_whole_shares_by_max_trade_notional() -> None:
    r = Run()  # balanced: max_trade_notional 100,000
    out = r.bar("AAA", at(1), 30, tgt(5000))
    d = last(out, DecisionMade)
    assert_approved(d, 3333, "CLIPPED_TRADE_SIZE")  # 100,000 / 30 = 3333.33
    assert last(out, OrderSubmitRequested).qty == 3333 * S
    assert d.order_qty == 5000 * S and d.target_qty == 5000 * S
    assert_approved(Run().signal("AAA", at(1), 100, tgt(1000)), 1000, None)  # exactly the maximum
    assert_approved(Run().signal("AAA", at(1), 100, tgt(-1500)), -1000, "CLIPPED_TRADE_SIZE")  # shorts too


def test_clipped_by_max_symbol_weight_counting_positions_and_working_orders() -> None:
    risk = limits(max_symbol_weight_pct="10", max_trade_notional="500000")  # 100,000 per symbol
    r = Run(risk)
    d = r.signal("AAA", at(1), 30, tgt(5000))
    assert_approved(d, 3333, "CLIPPED_SYMBOL_WEIGHT")
    assert d.context.symbol_weight_bp == 999  # 99,990 / 1,000,000
    r = Run(risk)
    r.hold("AAA", at(1), 100, 600)
    assert_approved(r.signal("AAA", at(2), 100, tgt(1500)), 400, "CLIPPED_SYMBOL_WEIGHT")
    r = Run(risk)
    r.bar("AAA", at(1), 100, tgt(600))  # working, not filled
    d = r.signal("AAA", at(2), 100, tgt(1500))
    assert d.open_order_qty == 600 * S
    assert_approved(d, 400, "CLIPPED_SYMBOL_WEIGHT")


def test_clipped_by_gross_exposure() -> None:
    r = Run(limits(max_gross_exposure_pct="20", max_trade_notional="500000"))  # 200,000 gross
    r.hold("AAA", at(1), 100, 1500)
    d = r.signal("BBB", at(1), 100, tgt(1000))
    assert_approved(d, 500, "CLIPPED_GROSS_EXPOSURE")
    assert (d.context.gross_exposure, d.context.net_exposure) == (200_000 * S, 200_000 * S)
    r = Run(limits(max_gross_exposure_pct="20", max_trade_notional="500000"))
    r.hold("AAA", at(1), 100, 1500)
    assert_approved(r.signal("BBB", at(1), 100, tgt(-1000)), -500, "CLIPPED_GROSS_EXPOSURE")  # shorts count too


def test_clipped_by_net_exposure_only_in_its_direction() -> None:
    risk = limits(max_net_exposure_pct="10", max_symbol_weight_pct="50", max_trade_notional="500000")
    r = Run(risk)
    r.hold("AAA", at(1), 100, 800)
    d = r.signal("BBB", at(1), 100, tgt(500))
    assert_approved(d, 200, "CLIPPED_NET_EXPOSURE")
    assert d.context.net_exposure == 100_000 * S
    r = Run(risk)
    r.hold("AAA", at(1), 100, 800)
    d = r.signal("BBB", at(1), 100, tgt(-500))  # a short against the long book lowers net exposure
    assert_approved(d, -500, None)
    assert (d.context.net_exposure, d.context.gross_exposure) == (30_000 * S, 130_000 * S)


def test_the_tightest_cap_names_the_clip() -> None:
    risk = limits(max_symbol_weight_pct="30", max_gross_exposure_pct="40", max_trade_notional="250000")
    r = Run(risk)
    r.hold("AAA", at(1), 100, 2500)  # trade size 2500, weight 3000, gross 4000
    assert r.state.positions.qty("AAA") == 2500 * S
    assert_approved(r.signal("BBB", at(1), 100, tgt(2500)), 1500, "CLIPPED_GROSS_EXPOSURE")  # gross room 1500
    d = Run(risk).signal("BBB", at(1), 100, tgt(3500))
    assert_approved(d, 2500, "CLIPPED_TRADE_SIZE")


def test_only_the_increasing_part_of_a_flip_is_clipped() -> None:
    r = Run()
    r.hold("AAA", at(1), 100, 500)
    d = r.signal("AAA", at(2), 100, tgt(-2000))  # sell 500 to flat (not clipped), then 1000 of the 1500 short
    assert_approved(d, -1500, "CLIPPED_TRADE_SIZE")


def test_a_purely_reducing_order_is_never_clipped() -> None:
    """max_trade_notional limits the risk an order adds; an exit larger than it goes out whole
    (ORDER_SIZE_BLOCK, risk.pretrade.max_order_notional, is the cap on any order)."""
    r = Run(limits(max_trade_notional="60000"))
    r.hold("AAA", at(1), 100, 600)
    r.hold("AAA", at(2), 100, 1200)
    assert_approved(r.signal("AAA", at(3), 100, tgt(0)), -1200, None)  # an exit of 120,000


# --- nothing fits -----------------------------------------------------------------------------


def assert_limit(d: DecisionMade, code: str) -> None:
    assert (d.outcome, d.reason_codes, d.approved_qty) == ("REJECTED", [code], 0)


def test_symbol_weight_limit_when_no_whole_share_fits() -> None:
    r = Run(limits(max_symbol_weight_pct="10"))
    r.hold("AAA", at(1), 100, 1000)  # exactly at the cap
    assert_limit(r.signal("AAA", at(2), 100, tgt(1100)), "SYMBOL_WEIGHT_LIMIT")
    r = Run(limits(max_symbol_weight_pct="10"))
    r.hold("AAA", at(1), 100.5, 995)  # 99,997.50: room for 0.02 of a share
    assert_limit(r.signal("AAA", at(2), 100.5, tgt(996)), "SYMBOL_WEIGHT_LIMIT")
    r = Run(limits(max_symbol_weight_pct="10"))
    r.hold("AAA", at(1), 100, 999)
    assert_approved(r.signal("AAA", at(2), 100, tgt(1010)), 1, "CLIPPED_SYMBOL_WEIGHT")


def test_gross_exposure_limit() -> None:
    r = Run(limits(max_gross_exposure_pct="20", max_trade_notional="500000"))
    r.hold("AAA", at(1), 100, 2000)
    assert_limit(r.signal("BBB", at(1), 100, tgt(10)), "GROSS_EXPOSURE_LIMIT")
    assert_limit(r.signal("CCC", at(1), 100, tgt(-10)), "GROSS_EXPOSURE_LIMIT")


def test_net_exposure_limit() -> None:
    r = Run(limits(max_net_exposure_pct="10", max_symbol_weight_pct="50"))
    r.hold("AAA", at(1), 100, 1000)
    assert_limit(r.signal("BBB", at(1), 100, tgt(10)), "NET_EXPOSURE_LIMIT")
    assert_approved(r.signal("CCC", at(1), 100, tgt(-10)), -10, None)


def test_a_share_priced_above_max_trade_notional_is_rejected_with_a_catalogued_reason() -> None:
    r = Run(limits(max_trade_notional="1000"))
    d = r.signal("AAA", at(1), 1500, tgt(1))  # not one share fits
    assert (d.outcome, d.approved_qty) == ("REJECTED", 0)
    assert not of(r.log, OrderSubmitRequested)
    assert set(d.reason_codes) <= set(DECISION_REASONS), d.reason_codes
    assert decode(encode(d)) == d  # the journal must be able to read it back


# --- REDUCING after a price move ----------------------------------------------------------------


def test_a_price_move_over_the_weight_cap_reduces_until_back_within() -> None:
    r = Run(limits(max_symbol_weight_pct="10"))
    r.hold("AAA", at(1), 100, 1000)
    out = r.bar("AAA", at(2), 101)
    reduced, alert = of(out, TradingReduced, AlertRaised)
    assert (reduced.reason, reduced.detail) == ("SYMBOL_WEIGHT_LIMIT", "AAA value 101000.00 above 10% of capital")
    assert (alert.severity, alert.code, alert.subject) == ("WARNING", "TRADING_REDUCED", "run")
    assert alert.detail == f"SYMBOL_WEIGHT_LIMIT: {reduced.detail}"
    assert not of(r.bar("AAA", at(3), 102), TradingReduced, AlertRaised)  # once
    d = r.signal("BBB", at(3), 50, tgt(10))
    assert (d.outcome, d.reason_codes, d.context.trading_state) == ("REJECTED", ["REDUCE_ONLY"], "REDUCING")
    assert_approved(r.signal("AAA", at(4), 102, tgt(900)), -100, None)
    out = r.bar("AAA", at(5), 100)
    (resumed,) = of(out, TradingResumed)
    assert (resumed.reason, resumed.halt_reason) == ("LIMITS_CLEARED", "SYMBOL_WEIGHT_LIMIT")
    assert r.state.risk.reducing is None
    d = r.signal("BBB", at(5), 50, tgt(10))
    assert d.outcome == "ACCEPTED" and d.context.trading_state == "ACTIVE"


def test_reducing_ends_when_a_fill_brings_the_book_back() -> None:
    r = Run(limits(max_symbol_weight_pct="10"))
    r.hold("AAA", at(1), 100, 1000)
    r.bar("AAA", at(2), 110)
    assert r.state.risk.reducing == "SYMBOL_WEIGHT_LIMIT"
    req = last(r.bar("AAA", at(3), 110, tgt(500)), OrderSubmitRequested)
    out = r.fill(req)  # the limits are checked after every fill, not only at the next mark
    assert [(e.reason, e.halt_reason) for e in of(out, TradingResumed)] == [("LIMITS_CLEARED", "SYMBOL_WEIGHT_LIMIT")]
    assert not of(r.bar("BBB", at(4), 50), TradingResumed)


@pytest.mark.parametrize(
    ("risk", "code", "detail"),
    [
        (limits(max_gross_exposure_pct="20"), "GROSS_EXPOSURE_LIMIT", "gross exposure 201000.00 above 20% of capital"),
        (limits(max_net_exposure_pct="20"), "NET_EXPOSURE_LIMIT", "net exposure 201000.00 above 20% of capital"),
    ],
)
def test_a_price_move_over_the_gross_or_net_cap_reduces(risk: dict[str, Any], code: str, detail: str) -> None:
    r = Run(risk)
    r.hold("AAA", at(1), 100, 1000)
    r.hold("BBB", at(1), 100, 1000)  # 200,000: at the cap
    assert not of(r.log, TradingReduced)
    out = r.bar("AAA", at(2), 101)
    assert [(e.reason, e.detail) for e in of(out, TradingReduced)] == [(code, detail)]
    d = r.signal("CCC", at(2), 10, tgt(10))  # the book is over the cap itself: either reason holds it
    assert d.outcome == "REJECTED" and d.reason_codes in (["REDUCE_ONLY"], [code])
    assert_approved(r.signal("BBB", at(2), 100, tgt(900)), -100, None)
    out = r.bar("AAA", at(3), 99)
    assert [e.reason for e in of(out, TradingResumed)] == ["LIMITS_CLEARED"]


# --- the daily loss limit -------------------------------------------------------------------------


def loss(action: str) -> tuple[Run, list[Any]]:
    """1000 AAA at 100, marked at 95: a session loss of 5,000, the limit."""
    r = Run(limits(max_daily_loss="5000", on_daily_loss=action))
    r.hold("AAA", at(1), 100, 1000)
    assert not of(r.bar("AAA", at(2), 95.01), TradingHalted, TradingReduced)  # 4,990
    return r, r.bar("AAA", at(3), 95)


def test_daily_loss_halts_with_halted() -> None:
    r, out = loss("HALTED")
    halt, alert = of(out, TradingHalted, AlertRaised)
    assert (halt.reason, halt.detail) == ("DAILY_LOSS_LIMIT", "session loss 5000.00 reached max_daily_loss 5000.00")
    assert (alert.severity, alert.code) == ("CRITICAL", "TRADING_HALTED")
    assert r.state.halted == "DAILY_LOSS_LIMIT"
    for sym, target in (("BBB", 10), ("AAA", 0)):  # halted: even an exit is skipped
        d = r.signal(sym, at(4), 95, tgt(target))
        assert (d.outcome, d.reason_codes) == ("SKIPPED", ["TRADING_HALTED"])
    # a new session does not lift a halt; engine resume does
    r.close_session()
    assert not of(r.open_session(1), TradingResumed)
    assert r.signal("BBB", at(1, day=1), 95, tgt(20)).reason_codes == ["TRADING_HALTED"]
    out = r.feed(KillSwitchReleased(ts=at(2, day=1), reason="checked", actor="ops", command_id="c1"))
    assert [(e.reason, e.halt_reason) for e in of(out, TradingResumed)] == [("OPERATOR_RESUMED", "DAILY_LOSS_LIMIT")]
    assert r.signal("BBB", at(3, day=1), 95, tgt(30)).outcome == "ACCEPTED"


def test_daily_loss_reduces_with_reducing_until_the_next_session() -> None:
    r, out = loss("REDUCING")
    reduced, alert = of(out, TradingReduced, AlertRaised)
    assert (reduced.reason, reduced.detail) == (
        "DAILY_LOSS_LIMIT",
        "session loss 5000.00 reached max_daily_loss 5000.00",
    )
    assert (alert.severity, alert.code) == ("WARNING", "TRADING_REDUCED")
    assert r.state.halted is None and not of(out, TradingHalted)
    assert r.signal("BBB", at(4), 50, tgt(10)).reason_codes == ["REDUCE_ONLY"]
    assert_approved(r.signal("AAA", at(4), 95, tgt(500)), -500, None)
    assert not of(r.bar("AAA", at(5), 94), TradingReduced)  # once
    assert not of(r.close_session(), TradingResumed)
    out = r.open_session(1)
    assert [(e.reason, e.halt_reason) for e in of(out, TradingResumed)] == [("NEW_SESSION", "DAILY_LOSS_LIMIT")]
    d = r.signal("BBB", at(1, day=1), 50, tgt(10))
    assert d.outcome == "ACCEPTED" and d.context.trading_state == "ACTIVE"
    # the new session's loss counts from its own start
    assert not of(r.bar("AAA", at(2, day=1), 90), TradingReduced)


def test_a_realized_session_loss_counts_towards_the_daily_loss_limit() -> None:
    """The position is closed at a loss of 6,000 (limit 5,000): the book is flat afterwards."""
    r = Run(limits(max_daily_loss="5000", on_daily_loss="REDUCING"))
    r.hold("AAA", at(1), 100, 1000)
    req = last(r.bar("AAA", at(2), 100, tgt(0)), OrderSubmitRequested)
    r.fill(req, price=94)
    assert r.state.positions.get("AAA").realized == -6000 * S
    out = r.bar("AAA", at(3), 94)
    out += r.bar("BBB", at(3), 50)
    assert [e.reason for e in of(r.log, TradingReduced)] == ["DAILY_LOSS_LIMIT"], [type(e).__name__ for e in out]
    assert r.signal("BBB", at(4), 50, tgt(10)).reason_codes == ["REDUCE_ONLY"]


def test_clearing_an_exposure_cap_does_not_lift_a_daily_loss_limit_reached_on_the_same_bar() -> None:
    """REDUCING for the weight cap; the price falls back under the cap and, on the same bar, the
    session loss passes max_daily_loss: trading stays REDUCING and an order adding risk is held."""
    r = Run(limits(max_symbol_weight_pct="10", max_daily_loss="5000", on_daily_loss="REDUCING"))
    r.hold("AAA", at(1), 100, 1000)
    r.bar("AAA", at(2), 101)
    assert r.state.risk.reducing == "SYMBOL_WEIGHT_LIMIT"
    out = r.bar("AAA", at(3), 90, tgt(1050))  # value 90,000 (under the cap), session loss 10,000
    d = last(out, DecisionMade)
    assert r.state.risk.reducing == "DAILY_LOSS_LIMIT", [type(e).__name__ for e in out]
    assert (d.outcome, d.reason_codes) == ("REJECTED", ["REDUCE_ONLY"])
    assert not of(out, OrderSubmitRequested)


def test_no_daily_loss_check_outside_a_session() -> None:
    r = Run(limits(max_daily_loss="5000", on_daily_loss="HALTED"))
    r.hold("AAA", at(1), 100, 1000)
    r.close_session()
    assert not of(r.bar("AAA", at(1, day=1) - 60 * 60 * 10**9, 80), TradingHalted)


def test_decisions_round_trip_the_codec() -> None:
    r = Run(limits(max_symbol_weight_pct="10"))
    r.hold("AAA", at(1), 100, 1000)
    r.bar("AAA", at(2), 101)
    r.signal("BBB", at(2), 50, tgt(10))
    for e in r.log:
        assert msgspec.json.decode(encode(e)) is not None
        assert decode(encode(e)) == e
