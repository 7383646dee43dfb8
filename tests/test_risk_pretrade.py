"""Pre-trade checks (engine.core.risk.pretrade) at the OMS boundary: each block with its detail,
no intent and no submit request, a PRE_TRADE_BLOCK alert, and windows in event time."""

from __future__ import annotations

from typing import Any

import pytest

from journal_schema.events import (
    DecisionMade,
    OrderCanceled,
    OrderCancelRequested,
    OrderIntentCreated,
    OrderSubmitRequested,
)
from journal_schema.reasons import PRE_TRADE_BLOCKS
from journal_schema.risk_events import OrderBlocked
from tests.risk_support import MINUTE, NS, Run, S, at, last, names, of, tgt

ORDER_MESSAGES = (OrderIntentCreated, OrderSubmitRequested)


def pretrade(**kw: Any) -> dict[str, Any]:
    return {"pretrade": kw}


def assert_blocked(r: Run, out: list[Any], code: str, detail: str) -> OrderBlocked:
    """``out`` (one input's events) ends in an ACCEPTED decision whose order was blocked."""
    assert code in PRE_TRADE_BLOCKS
    assert names(out)[-3:] == ["DecisionMade", "OrderBlocked", "AlertRaised"], names(out)
    d, blocked, alert = out[-3:]
    assert d.outcome == "ACCEPTED"
    assert (blocked.reason, blocked.detail, blocked.decision_id) == (code, detail, d.decision_id)
    assert (blocked.symbol, blocked.side, blocked.qty) == (
        d.symbol,
        "buy" if d.approved_qty > 0 else "sell",
        abs(d.approved_qty),
    )
    assert (alert.severity, alert.code, alert.subject, alert.detail) == (
        "WARNING",
        "PRE_TRADE_BLOCK",
        blocked.client_order_id,
        f"{code}: {detail}",
    )
    assert not of(out, *ORDER_MESSAGES)
    assert all(e.cause_seq == r.seq and e.ts == d.ts for e in out[-3:])
    return blocked  # type: ignore[no-any-return]


def test_order_size_block_on_notional() -> None:
    r = Run(pretrade(max_order_notional="5000"))
    out = r.bar("AAA", at(1), 100, tgt(60))
    blocked = assert_blocked(r, out, "ORDER_SIZE_BLOCK", "notional 6000.00 above max_order_notional 5000.00")
    assert blocked.limit_price is None
    assert blocked.client_order_id not in r.state.orders.orders and r.state.orders.open_qty("AAA") == 0
    # at the maximum it passes; the next signal asks for the whole target again
    out = r.bar("AAA", at(2), 100, tgt(50))
    assert of(out, OrderSubmitRequested)[0].qty == 50 * S


def test_order_size_block_on_shares() -> None:
    r = Run(pretrade(max_order_shares="50"))
    out = r.bar("AAA", at(1), 1, tgt(51))
    assert_blocked(r, out, "ORDER_SIZE_BLOCK", "51.00 shares above max_order_shares 50.00")
    assert of(r.bar("AAA", at(2), 1, tgt(50)), OrderSubmitRequested)


LIMIT = {"orders": {"type": "limit", "limit_offset_bps": "600"}}


@pytest.mark.parametrize(("target", "limit", "text"), [(10, 106, "106.0000"), (-10, 94, "94.0000")])
def test_price_collar_block_on_limit_orders(target: int, limit: int, text: str) -> None:
    r = Run(cfg=LIMIT)  # 600 bps offset, balanced collar 500 bps
    out = r.bar("AAA", at(1), 100, tgt(target))
    blocked = assert_blocked(
        r, out, "PRICE_COLLAR_BLOCK", f"limit price {text} more than 500 bps from the last close 100.0000"
    )
    assert blocked.limit_price == limit * S


def test_a_limit_price_at_the_collar_passes_and_market_orders_are_not_collared() -> None:
    r = Run(cfg={"orders": {"type": "limit", "limit_offset_bps": "500"}})
    (req,) = of(r.bar("AAA", at(1), 100, tgt(10)), OrderSubmitRequested)
    assert (req.order_type, req.limit_price) == ("limit", 105 * S)
    r = Run(pretrade(price_collar_bps=1), cfg={"orders": {"limit_offset_bps": "600"}})  # market orders
    (req,) = of(r.bar("AAA", at(1), 100, tgt(10)), OrderSubmitRequested)
    assert (req.order_type, req.limit_price) == ("market", None)


def test_size_is_checked_on_the_limit_price() -> None:
    r = Run(pretrade(max_order_notional="1050"), cfg={"orders": {"type": "limit", "limit_offset_bps": "100"}})
    out = r.bar("AAA", at(1), 100, tgt(10))  # limit 101.00 x 10 = 1010
    assert of(out, OrderSubmitRequested)
    out = r.bar("BBB", at(1), 100, tgt(11))  # limit 101.00 x 11 = 1111
    assert_blocked(r, out, "ORDER_SIZE_BLOCK", "notional 1111.00 above max_order_notional 1050.00")


def test_duplicate_client_order_id() -> None:
    """The same bar seen twice after its order was rejected: the same signal, the same order id."""
    r = Run()
    req = last(r.bar("AAA", at(1), 100, tgt(10)), OrderSubmitRequested)
    r.reject(req)
    out = r.bar("AAA", at(1), 100, tgt(10))
    blocked = assert_blocked(
        r, out, "DUPLICATE_ORDER_BLOCK", f"client_order_id {req.client_order_id} already exists (REJECTED)"
    )
    assert blocked.client_order_id == req.client_order_id
    assert r.state.orders.orders[req.client_order_id].status == "REJECTED"  # the old order is untouched


def test_duplicate_order_for_the_same_bar() -> None:
    """A second target for the same bar asks for the same side and quantity as the working order."""
    r = Run()
    first = last(r.bar("AAA", at(1), 100, [tgt(10), tgt(20)]), OrderSubmitRequested)
    out = r.bar("AAA", at(1), 100)
    blocked = assert_blocked(
        r, out, "DUPLICATE_ORDER_BLOCK", f"{first.client_order_id} is the same order for the same bar"
    )
    assert blocked.client_order_id != first.client_order_id
    assert r.state.orders.open_qty("AAA") == 10 * S
    # the next bar is another bar: the same quantity passes
    out = r.bar("AAA", at(2), 100, tgt(20))
    assert last(out, OrderSubmitRequested).qty == 10 * S


def test_duplicate_is_checked_before_size() -> None:
    r = Run(pretrade(max_order_notional="500"))
    r.bar("AAA", at(1), 100, tgt(1))
    req = last(r.log, OrderSubmitRequested)
    r.reject(req)
    out = r.bar("AAA", at(1), 100, tgt(1))
    assert last(out, OrderBlocked).reason == "DUPLICATE_ORDER_BLOCK"
    out = r.bar("AAA", at(2), 100, tgt(6))
    assert last(out, OrderBlocked).reason == "ORDER_SIZE_BLOCK"


def test_rate_throttle_all_symbols_in_event_time() -> None:
    r = Run(pretrade(max_orders_per_window=2, throttle_window_seconds=60))
    assert of(r.bar("AAA", at(1), 100, tgt(10)), OrderSubmitRequested)
    assert of(r.bar("BBB", at(1), 100, tgt(10)), OrderSubmitRequested)
    out = r.bar("CCC", at(1), 100, tgt(10))
    assert_blocked(r, out, "RATE_THROTTLE_BLOCK", "2 orders already in the throttle window")
    out = r.bar("CCC", at(1) + 59 * NS, 100, tgt(10))
    assert_blocked(r, out, "RATE_THROTTLE_BLOCK", "2 orders already in the throttle window")
    out = r.bar("CCC", at(2), 100, tgt(10))  # 60 s after the two orders: they left the window
    assert last(out, OrderSubmitRequested).symbol == "CCC"


def test_rate_throttle_per_symbol() -> None:
    r = Run(pretrade(max_orders_per_symbol_per_window=1, throttle_window_seconds=120))
    assert of(r.bar("AAA", at(1), 100, tgt(10)), OrderSubmitRequested)
    out = r.bar("AAA", at(2), 100, tgt(20))
    assert_blocked(r, out, "RATE_THROTTLE_BLOCK", "1 orders of AAA already in the throttle window")
    assert of(r.bar("BBB", at(2), 100, tgt(10)), OrderSubmitRequested)  # another symbol
    out = r.bar("AAA", at(3), 100, tgt(20))
    assert last(out, OrderSubmitRequested).qty == 10 * S


def test_blocked_orders_do_not_count_towards_the_throttle() -> None:
    r = Run(pretrade(max_orders_per_window=1, max_order_notional="500"))
    assert of(r.bar("AAA", at(1), 100, tgt(6)), OrderBlocked)  # size
    assert of(r.bar("BBB", at(1), 100, tgt(1)), OrderSubmitRequested)


def flip(r: Run, k: int) -> list[Any]:
    """At bar ``k`` a long of 10 AAA is working; a short target cancels it; the cancel is done."""
    req = last(r.bar("AAA", at(k), 100, tgt(10)), OrderSubmitRequested)
    r.accept(req)
    out = r.bar("AAA", at(k + 1), 100, tgt(-10))
    assert last(out, DecisionMade).reason_codes == ["OPPOSITE_ORDER_CANCEL_REQUESTED"]
    assert [c.reason for c in of(out, OrderCancelRequested)] == ["OPPOSITE_SIGNAL"]
    return r.feed(
        OrderCanceled(ts=at(k + 1) + NS, client_order_id=req.client_order_id, canceled_qty=10 * S, reason="canceled")
    )


def test_cancel_loop_block() -> None:
    r = Run(pretrade(cancel_loop_limit=1, cancel_loop_window_seconds=600))
    out = flip(r, 1)
    assert_blocked(r, out, "CANCEL_LOOP_BLOCK", "1 cancel-and-replace cycles of AAA in the loop-guard window")
    assert r.state.pending == {}
    # still inside the 600 s window after the cancel at at(2)
    out = r.bar("AAA", at(11), 100, tgt(-10))
    assert last(out, OrderBlocked).reason == "CANCEL_LOOP_BLOCK"
    assert of(r.bar("BBB", at(11), 100, tgt(-10)), OrderSubmitRequested)  # another symbol
    out = r.bar("AAA", at(12), 100, tgt(-10))  # 600 s after the cancel: out of the window
    assert (last(out, OrderSubmitRequested).side, last(out, OrderSubmitRequested).qty) == ("sell", 10 * S)


def test_cancel_loop_counts_cycles_up_to_the_limit() -> None:
    r = Run(pretrade(cancel_loop_limit=2))
    out = flip(r, 1)
    assert last(out, OrderSubmitRequested).side == "sell"  # one cycle: under the limit of 2


def test_opposite_cancels_over_the_cancel_throttle_reject_the_decision() -> None:
    r = Run(pretrade(max_cancels_per_window=1))
    r.accept(last(r.bar("AAA", at(1), 100, tgt(10)), OrderSubmitRequested))
    r.accept(last(r.bar("AAA", at(2), 100, tgt(20)), OrderSubmitRequested))
    out = r.bar("AAA", at(3), 100, tgt(-10))
    d = last(out, DecisionMade)
    assert (d.outcome, d.reason_codes, d.approved_qty) == ("REJECTED", ["CANCEL_THROTTLED"], 0)
    assert not of(out, OrderCancelRequested, *ORDER_MESSAGES) and r.state.pending == {}
    assert r.state.orders.open_qty("AAA") == 20 * S


def test_alerts_and_blocks_replay_identically() -> None:
    def run() -> list[Any]:
        r = Run(pretrade(max_orders_per_window=1))
        for k in range(1, 6):
            r.bar("AAA", at(k) + k * 7 * MINUTE // 60, 100, tgt(10 * k))
            r.bar("BBB", at(k) + k * 7 * MINUTE // 60, 100, tgt(10 * k))
        return r.log

    a, b = run(), run()
    assert a == b and of(a, OrderBlocked)
