"""The market and portfolio context a policy decision was made in (part of ``DecisionMade``).

Every value is an integer: scores, ratios and correlations in basis points (1/10,000), money in
1e-8 USD, ages in nanoseconds, so the decision an auditor reads is the one the core compared.
"""

from __future__ import annotations

import msgspec

from journal_schema.reasons import TradingState
from journal_schema.units import Fixed8


class PolicyContext(msgspec.Struct, frozen=True, gc=False, forbid_unknown_fields=True, omit_defaults=True):
    """What the policy gate saw. ``gross_exposure`` and ``symbol_weight_bp`` are after the order."""

    trading_state: TradingState
    data_age_ns: int  # stream time (live: when the bar was received) minus the bar's close
    max_data_age_ns: int  # the limit the age was compared with (live setting, or one bar in replay)
    market_open: bool
    blackout: str  # the reason of the event blackout covering the bar, "" when none
    liquidity_bp: int  # liquidity score x 10,000 (capped at 10,000)
    confidence_bp: int  # the strategy's confidence x 10,000
    correlation_bp: int  # correlation of the symbol's returns with the book's x 10,000 (0: too little data)
    daily_drawdown_bp: int  # (session peak equity - equity) / session peak equity x 10,000
    equity: Fixed8  # capital + realized + unrealized - fees, at the last marks
    gross_exposure: Fixed8  # sum of |position value| after the approved quantity
    net_exposure: Fixed8  # sum of position values after the approved quantity
    symbol_weight_bp: int  # |symbol position value| / capital x 10,000 after the approved quantity
    # the cost gate (engine.core.costs), in hundredths of a basis point of the order's notional;
    # None when it did not run (a risk-reducing order, or a decision the gate never reached)
    expected_cost_cbp: int | None = None  # spread + slippage + fees the cost model expects
    expected_edge_cbp: int | None = None  # the strategy's expected edge (None: it gives none)
    cost_buffer_cbp: int | None = None  # the margin the edge must clear on top of the cost
    cost_samples: int | None = None  # fills the symbol's cost model was calibrated on
    cost_age_ns: int | None = None  # stream time since its last calibrating fill (None: never calibrated)
