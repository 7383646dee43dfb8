"""The policy gate: every candidate order of a signal gets APPROVE, REVIEW or REJECT with reasons,
the approved size and an expiry (docs/risk.md#policy-gate).

Fixed REJECT rules: the market is closed (``SESSION_CLOSED``), a dependency breaker is open
(``CIRCUIT_OPEN_*``), the symbol or strategy is quarantined, trading is REDUCING and the order only
adds risk (``REDUCE_ONLY``), or no quantity fits a portfolio cap (``*_LIMIT``). Configurable rules
(REJECT or REVIEW, ``risk.policy.actions``): ``STALE_DATA``, ``SYMBOL_NOT_ALLOWED``,
``EVENT_BLACKOUT`` for every order; ``DAILY_DRAWDOWN_LIMIT``, ``LOW_LIQUIDITY``, ``LOW_CONFIDENCE``,
``HIGH_CORRELATION`` only for orders that add risk (a risk-reducing order is never held back by
them). Precedence REJECT > REVIEW > APPROVE; the reasons are every rule that tripped, REJECTs first.
Canary mode (``run.canary_symbols``): an order of another symbol that only adds risk is REJECTED
``CANARY_SYMBOL_EXCLUDED``; a flip of one is approved for its part to flat (the same code, as a clip).
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.core.orders import OrderBook
from engine.core.positions import PositionBook
from engine.core.risk import portfolio
from engine.core.risk.quarantine import STRATEGY
from engine.core.risk.state import RiskState
from journal_schema.policy import PolicyContext
from journal_schema.units import SCALE


@dataclass(frozen=True, slots=True)
class Verdict:
    verdict: str  # APPROVE | REVIEW | REJECT
    reasons: list[str]  # REJECT reasons first, then REVIEW reasons, then clip reasons
    approved_qty: int
    context: PolicyContext


def evaluate(
    risk: RiskState,
    positions: PositionBook,
    orders: OrderBook,
    *,
    symbol: str,
    ts: int,
    order_qty: int,
    confidence: int,
    in_session: bool,
    data_age: tuple[int, int],
    trading_state: str,
    waive_review: bool,
) -> Verdict:
    """``data_age``: (age, limit) of the signal's bar when it was seen (a decision taken again after
    cancels or an approval keeps its signal's age)."""
    p = risk.params
    assert p is not None
    last = positions.get(symbol).last_price or 0
    # canary mode: outside the canary symbols only the part towards flat may go (an exit is never trapped)
    to_flat, adds = portfolio.split(positions.qty(symbol) + orders.open_qty(symbol), order_qty)
    canary_cut = bool(p.canary) and symbol not in p.canary and adds != 0
    sized = portfolio.size(
        p,
        positions,
        orders,
        symbol,
        to_flat if canary_cut and to_flat else order_qty,
        last,
        reducing_only=trading_state == "REDUCING",
    )
    rejects: list[str] = []
    reviews: list[str] = []

    def rule(code: str, tripped: bool) -> None:
        if tripped:
            (rejects if p.actions[code] == "REJECT" else reviews).append(code)

    if not in_session:
        rejects.append("SESSION_CLOSED")
    rejects += [f"CIRCUIT_OPEN_{dep}" for dep in sorted(risk.circuits)]
    if risk.quarantine.active("SYMBOL", symbol):
        rejects.append("SYMBOL_QUARANTINED")
    if risk.quarantine.active("STRATEGY", STRATEGY):
        rejects.append("STRATEGY_QUARANTINED")
    if canary_cut and not to_flat:
        rejects.append("CANARY_SYMBOL_EXCLUDED")
    if sized.rejected_by is not None:
        rejects.append(sized.rejected_by)
    age, max_age = data_age
    rule("STALE_DATA", age > max_age)
    rule("SYMBOL_NOT_ALLOWED", bool(p.allowlist) and symbol not in p.allowlist)
    blackout = next((b.reason for b in p.blackouts if b.covers(symbol, ts)), "")
    rule("EVENT_BLACKOUT", bool(blackout))
    eq = portfolio.equity(p, positions)
    peak = max(risk.session_peak or eq, eq)
    drawdown_bp = (peak - eq) * 10_000 // peak if peak > 0 else 0
    increase = portfolio.split(positions.qty(symbol) + orders.open_qty(symbol), sized.approved)[1]
    notional = abs(increase) * last // SCALE
    liquidity = risk.market.liquidity_bp(symbol, notional, p.participation_bp)
    book = portfolio.values(positions, orders)
    correlation = risk.market.correlation_bp(symbol, book, p.min_correlation_bars) if increase else 0
    if sized.increasing:
        rule("DAILY_DRAWDOWN_LIMIT", drawdown_bp >= p.max_drawdown_bp)
        rule("LOW_LIQUIDITY", liquidity < p.min_liquidity_bp)
        rule("LOW_CONFIDENCE", confidence < p.min_confidence)
        # the book's return is of its signed values: a short adds risk when it moves against the book
        rule("HIGH_CORRELATION", (correlation if increase > 0 else -correlation) > p.max_correlation_bp)
    if waive_review and reviews:
        reviews = []
    verdict = "REJECT" if rejects else "REVIEW" if reviews else "APPROVE"
    clip = [sized.clipped_by] if sized.clipped_by is not None and verdict != "REJECT" else []
    if canary_cut and to_flat and verdict != "REJECT":
        clip.append("CANARY_SYMBOL_EXCLUDED")  # a flip of a symbol outside the canary: approved to flat only
    context = PolicyContext(
        trading_state=trading_state,  # type: ignore[arg-type]
        data_age_ns=age,
        max_data_age_ns=max_age,
        market_open=in_session,
        blackout=blackout,
        liquidity_bp=liquidity,
        confidence_bp=confidence * 10_000 // SCALE,
        correlation_bp=correlation,
        daily_drawdown_bp=drawdown_bp,
        equity=eq,
        gross_exposure=sized.gross,
        net_exposure=sized.net,
        symbol_weight_bp=sized.weight_bp,
    )
    approved = sized.approved if verdict != "REJECT" else 0
    return Verdict(verdict, rejects + reviews + clip, approved, context)
