"""The cost gate of a decision (docs/execution.md#cost-gate), after the policy gate approved it.

Only an order that adds risk is checked (an exit is never held back by its cost). With
``costs.block_when_stale`` a symbol whose cost model is uncalibrated or stale REJECTS it
(``COST_MODEL_STALE_BLOCK``); when the strategy gives an expected edge and the edge is below the
expected cost plus ``costs.edge_buffer_bps`` it is SKIPPED (``COST_GATE_BLOCK``). Either way the
decision's context carries both numbers and the model's calibration.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from engine.core.costs.model import CostBook
from journal_schema.policy import PolicyContext


@dataclass(frozen=True, slots=True)
class CostCheck:
    outcome: str | None  # None: passes; else REJECTED | SKIPPED
    reason: str | None
    context: PolicyContext


def check(
    book: CostBook, context: PolicyContext, *, symbol: str, ts: int, qty: int, increase: int, edge_cbp: int | None
) -> CostCheck:
    """``qty``: the approved order (signed); ``increase``: the part of it that adds risk."""
    if increase == 0:
        return CostCheck(None, None, context)
    p = book.p
    est = book.estimate(symbol, abs(qty), ts)
    context = msgspec.structs.replace(
        context,
        expected_cost_cbp=est.cost_cbp,
        expected_edge_cbp=edge_cbp,
        cost_buffer_cbp=p.edge_buffer_cbp,
        cost_samples=est.samples,
        cost_age_ns=est.age_ns,
    )
    if p.block_when_stale and est.stale:
        return CostCheck("REJECTED", "COST_MODEL_STALE_BLOCK", context)
    if p.gate and edge_cbp is not None and edge_cbp < est.cost_cbp + p.edge_buffer_cbp:
        return CostCheck("SKIPPED", "COST_GATE_BLOCK", context)
    return CostCheck(None, None, context)
