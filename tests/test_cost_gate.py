"""The cost gate through step(): COST_GATE_BLOCK with both numbers, exits exempt,
COST_MODEL_STALE_BLOCK, and calibration from the quoted fills the core is fed."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from journal_schema.events import DecisionMade, OrderFilled, OrderSubmitRequested
from journal_schema.reasons import DECISION_REASONS
from tests.risk_support import Run, S, at, last, of, tgt


def edge(shares: int, bps: float) -> Any:
    return replace(tgt(shares), edge_cbp=round(bps * 100))


def quoted_fill(r: Run, req: OrderSubmitRequested, ts: int, quote: bool = True) -> None:
    """Accept and fill ``req`` at mid + 3 bp with a 2 bp half-spread quote around the last mark."""
    mid = r.state.positions.get(req.symbol).last_price or 0
    half = mid * 2 // 10_000
    side = 1 if req.side == "buy" else -1
    r.accept(req, ts)
    r.feed(
        OrderFilled(
            ts=ts,
            client_order_id=req.client_order_id,
            fill_id="f-" + req.client_order_id,
            fill_qty=req.qty,
            fill_price=mid + side * mid * 3 // 10_000,
            fee=0,
            cum_qty=req.qty,
            leaves_qty=0,
            bid=mid - half if quote else None,
            ask=mid + half if quote else None,
        )
    )


def test_an_edge_below_cost_plus_buffer_is_skipped_with_both_numbers() -> None:
    r = Run()
    d = r.signal("AAA", at(1), 100, edge(10, 4))  # priors: 2 bp spread + 1 bp slippage; buffer 2 bp
    assert (d.outcome, d.reason_codes, d.approved_qty) == ("SKIPPED", ["COST_GATE_BLOCK"], 0)
    assert "COST_GATE_BLOCK" in DECISION_REASONS
    ctx = d.context
    assert ctx is not None
    assert (ctx.expected_edge_cbp, ctx.expected_cost_cbp, ctx.cost_buffer_cbp, ctx.cost_samples) == (400, 300, 200, 0)
    assert not of(r.log, OrderSubmitRequested)


def test_an_edge_that_clears_the_cost_trades_and_the_context_still_says_so() -> None:
    r = Run()
    d = r.signal("AAA", at(1), 100, edge(10, 5))
    assert d.outcome == "ACCEPTED" and d.context is not None and d.context.expected_cost_cbp == 300
    assert last(r.log, OrderSubmitRequested).qty == 10 * S


def test_no_edge_no_cost_gate_but_the_expected_cost_is_journaled() -> None:
    r = Run()
    d = r.signal("AAA", at(1), 100, tgt(10))
    assert d.outcome == "ACCEPTED" and d.context is not None
    assert (d.context.expected_cost_cbp, d.context.expected_edge_cbp) == (300, None)


def test_the_gate_can_be_switched_off() -> None:
    r = Run(cfg={"costs": {"gate": False}})
    assert r.signal("AAA", at(1), 100, edge(10, 0)).outcome == "ACCEPTED"


def test_an_exit_is_never_held_back_by_its_cost() -> None:
    r = Run()
    r.hold("AAA", at(1), 100, 10)
    d = r.signal("AAA", at(2), 100, edge(0, 0))
    assert d.outcome == "ACCEPTED" and d.context is not None and d.context.expected_cost_cbp is None


def test_a_stale_model_rejects_entries_when_configured_and_quoted_fills_calibrate_it() -> None:
    r = Run(cfg={"costs": {"block_when_stale": True, "min_samples": 2, "max_age_days": "1"}})
    d = r.signal("AAA", at(1), 100, tgt(10))
    assert (d.outcome, d.reason_codes) == ("REJECTED", ["COST_MODEL_STALE_BLOCK"])
    r.state.costs.p = replace(r.state.costs.p, block_when_stale=False)  # let two orders through
    for k in (2, 4):
        quoted_fill(r, last(r.bar("AAA", at(k), 100, tgt(10 * k)), OrderSubmitRequested), at(k + 1))
        r.bar("AAA", at(k + 1), 100)
    r.state.costs.p = replace(r.state.costs.p, block_when_stale=True)
    d = r.signal("AAA", at(7), 100, tgt(60))
    assert d.outcome == "ACCEPTED", d.reason_codes
    assert d.context is not None and d.context.cost_samples == 2
    assert d.context.cost_age_ns == at(7) - at(5)
    half, base, _, _, calibrated = r.state.costs.fit("AAA")
    assert calibrated and round(half) == 200 and round(base) == 100  # 3 bp over mid = 2 bp spread + 1 bp


def test_fills_without_a_quote_do_not_calibrate() -> None:
    r = Run()
    quoted_fill(r, last(r.bar("AAA", at(1), 100, tgt(10)), OrderSubmitRequested), at(2), quote=False)
    r.bar("AAA", at(2), 100)
    assert r.state.costs.symbols["AAA"].samples == 0


def test_decisions_replay_identically_with_the_cost_fields() -> None:
    def decisions() -> list[DecisionMade]:
        r = Run()
        r.signal("AAA", at(1), 100, edge(10, 4))
        r.signal("AAA", at(2), 101, edge(10, 9))
        return of(r.log, DecisionMade)

    assert decisions() == decisions()
