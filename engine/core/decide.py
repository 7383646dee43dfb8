"""The decision policy: from a strategy's target to a decision, and an order when one is needed.

``order_qty = target_qty - position_qty - open_order_qty`` (all signed). The decision is SKIPPED
with a reason when the kill switch is on, trading is halted or the target is already met. Otherwise
the policy gate (``engine.core.risk.gate``) decides: REJECTED, REVIEW (held for ``engine approve``
until its expiry) or approved for a size the portfolio limits allow. When orders on the other side
are working for the symbol, an approved target cancels them first (``OrderCancelRequested``,
write-ahead like a submit; SKIPPED ``OPPOSITE_ORDER_CANCEL_REQUESTED``) and is kept as pending;
once every order whose cancel was requested has ended, the same target is decided again, against
the position it left. Otherwise the decision is ACCEPTED and the order goes through the pre-trade
checks (``engine.core.risk.pretrade``): blocked (``OrderBlocked``) or an intent and its submit request.
A new target for the symbol replaces a pending one and supersedes one held for review.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.core.costs import gate as cost_gate
from engine.core.ids import client_order_id, content_id
from engine.core.risk import gate, portfolio, pretrade
from engine.core.risk.state import Review
from engine.core.state import CoreConfig, CoreState
from engine.core.strategy import Target
from journal_schema.events import (
    AlertRaised,
    DecisionMade,
    Event,
    OrderCancelRequested,
    OrderIntentCreated,
    OrderSubmitRequested,
)
from journal_schema.risk_events import OrderBlocked, ReviewResolved
from journal_schema.units import div_round_half_even, fmt_fixed


@dataclass(frozen=True, slots=True)
class Pending:
    """A target waiting for the cancels of the orders against it."""

    signal_id: str
    target: Target
    data_age: tuple[int, int]
    waived: bool  # an operator approved it: REVIEW rules do not apply again


def trading_state(state: CoreState) -> str:
    if state.kill_switch or state.halted is not None:
        return "HALTED"
    return "REDUCING" if state.risk.reducing is not None else "ACTIVE"


def decide(
    state: CoreState,
    cfg: CoreConfig,
    symbol: str,
    ts: int,
    seq: int,
    signal_id: str,
    target: Target,
    *,
    data_age: tuple[int, int] = (0, 0),
    in_session: bool | None = None,
    waived: bool = False,
) -> list[Event]:
    """Decide ``target`` for ``symbol`` now (a new signal, a pending one whose cancels are done, or
    one an operator approved). ``in_session``: whether the signal's bar lies in the open session
    (default: a session is open)."""
    state.pending.pop(symbol, None)
    out: list[Event] = _supersede(state, symbol, ts, seq, signal_id)
    position = state.positions.qty(symbol)
    working = state.orders.open_qty(symbol)
    order_qty = target.qty - position - working
    side = "buy" if order_qty > 0 else "sell"
    verdict = None
    if state.kill_switch:
        outcome, reasons = "SKIPPED", ["KILL_SWITCH_ENGAGED"]
    elif state.halted is not None:
        outcome, reasons = "SKIPPED", ["TRADING_HALTED"]
    elif order_qty == 0:
        outcome, reasons = "SKIPPED", ["ALREADY_AT_TARGET"]
    else:
        verdict = gate.evaluate(
            state.risk,
            state.positions,
            state.orders,
            symbol=symbol,
            ts=ts,
            order_qty=order_qty,
            confidence=target.confidence,
            in_session=state.session is not None and in_session is not False,
            data_age=data_age,
            trading_state=trading_state(state),
            waive_review=waived,
        )
        outcome = {"REJECT": "REJECTED", "REVIEW": "REVIEW", "APPROVE": "ACCEPTED"}[verdict.verdict]
        reasons = verdict.reasons if outcome != "ACCEPTED" else ["SIGNAL_ACCEPTED", *verdict.reasons]
        if waived and outcome == "ACCEPTED":
            reasons.insert(1, "OPERATOR_APPROVED")
    approved = verdict.approved_qty if verdict is not None and outcome != "REJECTED" else 0
    context = verdict.context if verdict is not None else None
    if outcome == "ACCEPTED" and context is not None:
        costs = cost_gate.check(
            state.costs,
            context,
            symbol=symbol,
            ts=ts,
            qty=approved,
            increase=portfolio.split(position + working, approved)[1],
            edge_cbp=target.edge_cbp,
        )
        context = costs.context
        if costs.outcome is not None:
            outcome, reasons, approved = costs.outcome, [costs.reason or ""], 0
    opposite = [o for o in state.orders.open_orders(symbol) if o.side != side] if outcome == "ACCEPTED" else []
    if opposite:
        cancels = sum(o.cancel_state is None for o in opposite)  # ints
        if not pretrade.cancels_allowed(state.risk.p, state.risk.log, ts, cancels):
            outcome, reasons, approved, opposite = "REJECTED", ["CANCEL_THROTTLED"], 0, []
        else:
            outcome, reasons = "SKIPPED", ["OPPOSITE_ORDER_CANCEL_REQUESTED"]
    if state.risk.p.canary:
        reasons = [*reasons, "CANARY_MODE"]  # every decision of a canary run says so, last
    expires = ts + state.risk.p.review_ns if outcome == "REVIEW" else None
    decision_id = content_id(
        "dec", signal_id, cfg.config_hash, outcome, reasons, position, working, order_qty, approved, waived
    )
    decision = DecisionMade(
        ts=ts,
        cause_seq=seq,
        decision_id=decision_id,
        signal_id=signal_id,
        symbol=symbol,
        outcome=outcome,  # type: ignore[arg-type]
        reason_codes=reasons,  # type: ignore[arg-type]
        config_hash=cfg.config_hash,
        position_qty=position,
        open_order_qty=working,
        target_qty=target.qty,
        order_qty=order_qty,
        approved_qty=approved,
        expires_ts=expires,
        context=context,
    )
    out.append(decision)
    state.risk.tally.decisions[outcome] += 1
    state.risk.decisions[outcome] += 1
    if outcome != "ACCEPTED":
        state.risk.held_back.update(r for r in reasons if r != "CANARY_MODE")
    if opposite or (outcome != "REVIEW" and any(o.cancel_state is not None for o in state.orders.open_orders(symbol))):
        # a cancel is out for this symbol: decide this target again once it is done
        state.pending[symbol] = Pending(signal_id, target, data_age, waived)
    if opposite:
        for order in opposite:
            if order.cancel_state is None:
                out.append(request_cancel(state, order.client_order_id, ts, seq, "OPPOSITE_SIGNAL"))
        return out
    if outcome == "REVIEW":
        state.risk.reviews[symbol] = Review(decision_id, symbol, signal_id, target, target.confidence, expires or ts)
        out.append(
            AlertRaised(
                ts=ts,
                cause_seq=seq,
                severity="WARNING",
                code="REVIEW_REQUIRED",
                subject=decision_id,
                detail=f"{symbol} {side} {fmt_fixed(abs(approved), 2)} shares: {', '.join(reasons)}; "
                f"engine approve {decision_id} before ts {expires}",
            )
        )
        return out
    if outcome != "ACCEPTED":
        return out
    return [*out, *_order(state, cfg, symbol, ts, seq, signal_id, target, decision_id, approved)]


def _order(
    state: CoreState,
    cfg: CoreConfig,
    symbol: str,
    ts: int,
    seq: int,
    signal_id: str,
    target: Target,
    decision_id: str,
    approved: int,
) -> list[Event]:
    """The pre-trade checks, then an intent and its write-ahead submit request, or ``OrderBlocked``."""
    side = "buy" if approved > 0 else "sell"
    qty = abs(approved)
    session = state.session or ""
    last = state.positions.get(symbol).last_price or 0
    limit_price = _limit_price(last, side, cfg) if cfg.order_type == "limit" else None
    cid = client_order_id(
        strategy=cfg.strategy_name,
        symbol=symbol,
        side=side,
        session=session,
        horizon=target.horizon,
        signal_id=signal_id,
        qty=qty,
    )
    blocked = pretrade.check(
        state.risk.p,
        state.orders,
        state.risk.log,
        cid=cid,
        symbol=symbol,
        side=side,
        qty=qty,
        ts=ts,
        limit_price=limit_price,
        last=last,
    )
    if blocked is not None:
        code, detail = blocked
        return [
            OrderBlocked(
                ts=ts,
                cause_seq=seq,
                decision_id=decision_id,
                client_order_id=cid,
                symbol=symbol,
                side=side,  # type: ignore[arg-type]
                qty=qty,
                limit_price=limit_price,
                reason=code,  # type: ignore[arg-type]
                detail=detail,
            ),
            AlertRaised(
                ts=ts,
                cause_seq=seq,
                severity="WARNING",
                code="PRE_TRADE_BLOCK",
                subject=cid,
                detail=f"{code}: {detail}",
            ),
        ]
    intent_id = content_id("int", decision_id, side, qty, cfg.order_type, limit_price, cfg.time_in_force)
    intent = OrderIntentCreated(
        ts=ts,
        cause_seq=seq,
        intent_id=intent_id,
        decision_id=decision_id,
        client_order_id=cid,
        symbol=symbol,
        side=side,  # type: ignore[arg-type]
        qty=qty,
        order_type=cfg.order_type,  # type: ignore[arg-type]
        limit_price=limit_price,
        time_in_force=cfg.time_in_force,  # type: ignore[arg-type]
    )
    request = OrderSubmitRequested(
        ts=ts,
        cause_seq=seq,
        client_order_id=cid,
        intent_id=intent_id,
        symbol=symbol,
        side=side,  # type: ignore[arg-type]
        qty=qty,
        order_type=cfg.order_type,  # type: ignore[arg-type]
        limit_price=limit_price,
        time_in_force=cfg.time_in_force,  # type: ignore[arg-type]
    )
    state.orders.apply_derived(intent)
    state.orders.apply_derived(request)
    state.risk.log.order_sent(symbol, ts)
    if cfg.time_in_force == "day":
        # as brokers do: a day order lives until the first session close after it is sent; one sent
        # at the very close (daily bars are stamped there) lives through the next session
        at_close = state.session_close is not None and ts >= state.session_close
        state.orders.orders[cid].day_expiry = state.sessions_closed + (2 if at_close else 1)
    return [intent, request]


def request_cancel(state: CoreState, cid: str, ts: int, seq: int, reason: str) -> OrderCancelRequested:
    """A write-ahead cancel request for one open order (recorded for the throttles)."""
    cancel = OrderCancelRequested(ts=ts, cause_seq=seq, client_order_id=cid, reason=reason)  # type: ignore[arg-type]
    state.orders.apply_derived(cancel)
    order = state.orders.orders[cid]
    state.risk.log.cancel_sent(order.symbol, ts, replace=reason == "OPPOSITE_SIGNAL")
    return cancel


def _supersede(state: CoreState, symbol: str, ts: int, seq: int, signal_id: str) -> list[Event]:
    review = state.risk.reviews.get(symbol)
    if review is None or review.signal_id == signal_id:
        return []
    del state.risk.reviews[symbol]
    return [
        ReviewResolved(
            ts=ts,
            cause_seq=seq,
            decision_id=review.decision_id,
            symbol=symbol,
            outcome="SUPERSEDED",
            actor="",
            detail=f"a newer signal {signal_id} replaced it",
        )
    ]


def decide_pending(state: CoreState, symbol: str, ts: int, seq: int) -> list[Event]:
    """Decide a pending target again once no order of ``symbol`` waits for its cancel."""
    pending, cfg = state.pending.get(symbol), state.config
    if pending is None or cfg is None:
        return []
    if any(o.cancel_state is not None for o in state.orders.open_orders(symbol)):
        return []
    return decide(
        state, cfg, symbol, ts, seq, pending.signal_id, pending.target, data_age=pending.data_age, waived=pending.waived
    )


CENT = 1_000_000  # $0.01 in 1e-8 units
SUB_PENNY = 10_000  # $0.0001


def _limit_price(close: int, side: str, cfg: CoreConfig) -> int:
    """Last close moved by the configured offset, rounded half-even to the US equity tick
    ($0.01 at or above $1, $0.0001 below)."""
    factor = 1_000_000 + (cfg.limit_offset_centibps if side == "buy" else -cfg.limit_offset_centibps)
    raw = div_round_half_even(close * factor, 1_000_000)
    tick = CENT if raw >= 100 * CENT else SUB_PENNY
    return max(tick, div_round_half_even(raw, tick) * tick)
