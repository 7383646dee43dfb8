"""The core's risk controls outside a single decision: trading state (ACTIVE / REDUCING / HALTED),
the kill switch and resume, review approvals and expiries, dependency breakers and shell errors,
quarantines, and session hygiene. Pure; each handler returns the derived events of one input."""

from __future__ import annotations

from collections.abc import Callable

from engine.core import oms
from engine.core.decide import decide, request_cancel, trading_state
from engine.core.orders import Order
from engine.core.risk import portfolio, quarantine
from engine.core.state import CoreState
from journal_schema.events import (
    AlertRaised,
    Event,
    KillSwitchEngaged,
    KillSwitchReleased,
    OrderRejected,
    SessionClosed,
    SessionOpened,
    TradingResumed,
)
from journal_schema.risk_events import (
    CircuitClosed,
    CircuitOpened,
    Quarantined,
    QuarantineLifted,
    ReviewApproved,
    ReviewResolved,
    SessionSummarized,
    ShellErrorReported,
    TradingReduced,
)
from journal_schema.units import fmt_fixed

NO_EVENTS = oms.NO_EVENTS
EXPOSURE_LIMITS = frozenset({"GROSS_EXPOSURE_LIMIT", "NET_EXPOSURE_LIMIT", "SYMBOL_WEIGHT_LIMIT"})
SHELL_HALTS = {
    "AUTH": "BROKER_AUTH_FAILED",
    "INVARIANT_VIOLATION": "SHELL_INVARIANT_VIOLATION",
    "PROGRAMMING_ERROR": "SHELL_PROGRAMMING_ERROR",
}


# --- trading state ---------------------------------------------------------------------------


def reduce(state: CoreState, ev: Event, seq: int, reason: str, detail: str) -> list[Event]:
    """Enter REDUCING (once; a halt takes precedence)."""
    if state.halted is not None or state.risk.reducing is not None:
        return NO_EVENTS
    state.risk.reducing = reason
    return [
        TradingReduced(ts=ev.ts, cause_seq=seq, reason=reason, detail=detail),  # type: ignore[arg-type]
        AlertRaised(
            ts=ev.ts,
            cause_seq=seq,
            severity="WARNING",
            code="TRADING_REDUCED",
            subject="run",
            detail=f"{reason}: {detail}",
        ),
    ]


def _resume_reducing(state: CoreState, ev: Event, seq: int, reason: str) -> list[Event]:
    was, state.risk.reducing = state.risk.reducing, None
    return [TradingResumed(ts=ev.ts, cause_seq=seq, reason=reason, halt_reason=was)]  # type: ignore[arg-type]


def after_mark(state: CoreState, ev: Event, seq: int, symbol: str) -> list[Event]:
    """After a bar marked ``symbol``: review expiries, quarantine ends, then the limits, when the
    mark moved equity (a held symbol; fills check the limits themselves)."""
    out = (
        [*expire_reviews(state, ev, seq), *lift_quarantines(state, ev, seq)]
        if (state.risk.reviews or state.risk.quarantine.until)
        else []
    )
    if state.positions.qty(symbol):
        out += check_limits(state, ev, seq)
    return out


def check_limits(state: CoreState, ev: Event, seq: int) -> list[Event]:
    """After a mark or a fill moved equity: the session's peak equity, the daily loss limit (realized
    and unrealized) and the exposure caps. A daily loss outranks an exposure breach as the reason
    for REDUCING; only an exposure reason clears when the book is back under its caps."""
    risk, p = state.risk, state.risk.p
    eq, gross = portfolio.book(p, state.positions)
    if risk.session_peak is not None:
        risk.session_peak = max(risk.session_peak, eq)
    out: list[Event] = []
    start = risk.session_start_equity
    loss = start is not None and start - eq >= p.max_daily_loss
    if loss and start is not None:
        detail = f"session loss {fmt_fixed(start - eq, 2)} reached max_daily_loss {fmt_fixed(p.max_daily_loss, 2)}"
        if p.on_daily_loss == "HALTED":
            out += oms.halt(state, ev, seq, "DAILY_LOSS_LIMIT", detail)
        elif risk.reducing in EXPOSURE_LIMITS:
            risk.reducing = None  # the reason changes: journal it
            out += reduce(state, ev, seq, "DAILY_LOSS_LIMIT", detail)
        else:
            out += reduce(state, ev, seq, "DAILY_LOSS_LIMIT", detail)
    found = portfolio.breach(p, state.positions, gross)
    if found is not None:
        out += reduce(state, ev, seq, *found)
    elif risk.reducing in EXPOSURE_LIMITS:
        out += _resume_reducing(state, ev, seq, "LIMITS_CLEARED")
    return out


# --- operator inputs -------------------------------------------------------------------------


def on_kill(state: CoreState, ev: KillSwitchEngaged, seq: int) -> list[Event]:
    state.kill_switch = True
    state.commands.add(ev.command_id)
    out: list[Event] = [
        AlertRaised(
            ts=ev.ts,
            cause_seq=seq,
            severity="CRITICAL",
            code="KILL_SWITCH_ENGAGED",
            subject="run",
            detail=f"{ev.actor}: {ev.reason}",
        )
    ]
    if ev.cancel_all:
        out += cancel_open(state, ev, seq, "KILL_SWITCH", lambda o: True)
    return out


def on_release(state: CoreState, ev: KillSwitchReleased, seq: int) -> list[Event]:
    """``engine resume``: the kill switch is off and a halt or reduce-only state is lifted."""
    state.kill_switch = False
    state.commands.add(ev.command_id)
    out: list[Event] = []
    if state.halted is not None:
        was, state.halted = state.halted, None
        out.append(TradingResumed(ts=ev.ts, cause_seq=seq, reason="OPERATOR_RESUMED", halt_reason=was))  # type: ignore[arg-type]
    if state.risk.reducing is not None:
        out += _resume_reducing(state, ev, seq, "OPERATOR_RESUMED")
    return out


def on_review_approved(state: CoreState, ev: ReviewApproved, seq: int) -> list[Event]:
    state.commands.add(ev.command_id)
    risk, cfg = state.risk, state.config
    assert cfg is not None
    review = next((r for r in risk.reviews.values() if r.decision_id == ev.decision_id), None)
    if review is None:
        return [
            ReviewResolved(
                ts=ev.ts,
                cause_seq=seq,
                decision_id=ev.decision_id,
                symbol="",
                outcome="NOT_FOUND",
                actor=ev.actor,
                detail="no decision with this id waits for review",
            )
        ]
    del risk.reviews[review.symbol]
    if ev.ts > review.expires_ts:
        return [
            ReviewResolved(
                ts=ev.ts,
                cause_seq=seq,
                decision_id=review.decision_id,
                symbol=review.symbol,
                outcome="EXPIRED",
                actor=ev.actor,
                detail=f"expired at ts {review.expires_ts}",
            )
        ]
    resolved = ReviewResolved(
        ts=ev.ts,
        cause_seq=seq,
        decision_id=review.decision_id,
        symbol=review.symbol,
        outcome="APPROVED",
        actor=ev.actor,
        detail=ev.reason,
    )
    stats = risk.market.symbols.get(review.symbol)
    age = (0, 0) if stats is None else (0, stats.interval)
    return [
        resolved,
        *decide(state, cfg, review.symbol, ev.ts, seq, review.signal_id, review.target, data_age=age, waived=True),
    ]


def expire_reviews(state: CoreState, ev: Event, seq: int) -> list[Event]:
    reviews = state.risk.reviews
    if not reviews:
        return NO_EVENTS
    out: list[Event] = []
    for symbol, r in sorted(reviews.items()):
        if ev.ts > r.expires_ts:
            del reviews[symbol]
            out.append(
                ReviewResolved(
                    ts=ev.ts,
                    cause_seq=seq,
                    decision_id=r.decision_id,
                    symbol=symbol,
                    outcome="EXPIRED",
                    actor="",
                    detail=f"not approved by ts {r.expires_ts}",
                )
            )
    return out


# --- dependencies ----------------------------------------------------------------------------


def on_circuit_opened(state: CoreState, ev: CircuitOpened, seq: int) -> list[Event]:
    state.risk.circuits[ev.dependency] = ev.until_ts
    out: list[Event] = [
        AlertRaised(
            ts=ev.ts,
            cause_seq=seq,
            severity="WARNING",
            code="CIRCUIT_OPEN",
            subject=ev.dependency,
            detail=f"{ev.category}: {ev.detail}",
        )
    ]
    metrics = quarantine.on_breaker_open(state.risk.quarantine, state.risk.p, ev.ts)
    if metrics is not None:
        out += _quarantine(state, ev, seq, "STRATEGY", quarantine.STRATEGY, "REPEATED_BREAKER_OPENS", metrics)
    return out


def on_circuit_closed(state: CoreState, ev: CircuitClosed, seq: int) -> list[Event]:
    state.risk.circuits.pop(ev.dependency, None)
    return NO_EVENTS


def on_shell_error(state: CoreState, ev: ShellErrorReported, seq: int) -> list[Event]:
    if ev.action != "HALT_TRADING":
        return NO_EVENTS
    code = SHELL_HALTS.get(ev.category, "UNKNOWN_ERROR")
    return oms.halt(state, ev, seq, code, f"{ev.dependency} {ev.error_type}: {ev.detail}")


# --- quarantine ------------------------------------------------------------------------------


def _quarantine(
    state: CoreState, ev: Event, seq: int, scope: str, subject: str, reason: str, metrics: dict[str, int]
) -> list[Event]:
    q, p = state.risk.quarantine, state.risk.p
    until = ev.ts + p.quarantine_ns
    q.until[(scope, subject)] = (until, reason)
    name = subject if scope == "SYMBOL" else (state.config.strategy_name if state.config else subject)
    return [
        Quarantined(
            ts=ev.ts,
            cause_seq=seq,
            scope=scope,  # type: ignore[arg-type]
            subject=name,
            reason=reason,  # type: ignore[arg-type]
            until_ts=until,
            metrics=metrics,
        ),
        AlertRaised(
            ts=ev.ts,
            cause_seq=seq,
            severity="WARNING",
            code="QUARANTINED",
            subject=name,
            detail=f"{scope} {name} quarantined until ts {until}: {reason} {metrics}",
        ),
    ]


def lift_quarantines(state: CoreState, ev: Event, seq: int) -> list[Event]:
    q = state.risk.quarantine
    if not q.until:
        return NO_EVENTS
    out: list[Event] = []
    for (scope, subject), (until, reason) in sorted(q.until.items()):
        if ev.ts >= until:
            del q.until[(scope, subject)]
            name = subject if scope == "SYMBOL" else (state.config.strategy_name if state.config else subject)
            out.append(QuarantineLifted(ts=ev.ts, cause_seq=seq, scope=scope, subject=name, reason=reason))  # type: ignore[arg-type]
    return out


def after_report(
    state: CoreState,
    order: Order,
    ev: Event,
    seq: int,
    realized_before: int,
    first_ack: bool,
    fill_fee: int,
    qty_before: int,
) -> list[Event]:
    """Quarantine bookkeeping of one applied report (acknowledgement / rejection, closing fills: a
    fill that took the position towards flat, at a gain, a loss or even), then the limits after a fill."""
    p, q = state.risk.p, state.risk.quarantine
    out: list[Event] = []
    symbol = order.symbol
    if type(ev) is OrderRejected or first_ack:
        metrics = quarantine.on_order_outcome(q, p, symbol, type(ev) is OrderRejected)
        if metrics is not None and not q.active("SYMBOL", symbol):
            out += _quarantine(state, ev, seq, "SYMBOL", symbol, "REJECT_RATE", metrics)
    realized = state.positions.get(symbol).realized - realized_before
    qty_after = state.positions.qty(symbol)
    closing = qty_before != 0 and (abs(qty_after) < abs(qty_before) or (qty_after > 0) != (qty_before > 0))
    if closing:
        state.risk.tally.realized += realized
        pnl = realized - fill_fee
        for scope, subject in (("SYMBOL", symbol), ("STRATEGY", quarantine.STRATEGY)):
            metrics = quarantine.on_closing_fill(q, p, subject, pnl)
            if metrics is not None and not q.active(scope, subject):
                out += _quarantine(state, ev, seq, scope, subject, "NEGATIVE_EXPECTANCY", metrics)
    if qty_after != qty_before:
        out += check_limits(state, ev, seq)
    return out


# --- sessions --------------------------------------------------------------------------------


def cancel_open(state: CoreState, ev: Event, seq: int, reason: str, pick: Callable[[Order], bool]) -> list[Event]:
    """A cancel request for every open order ``pick`` picks that has none out yet (request order)."""
    todo = [o for book in state.orders.open_by_symbol.values() for o in book.values()]
    return [
        request_cancel(state, o.client_order_id, ev.ts, seq, reason) for o in todo if o.cancel_state is None and pick(o)
    ]


def on_run_started(state: CoreState, ev: Event, seq: int) -> list[Event]:
    if not state.risk.p.cancel_leftovers_at_start:
        return NO_EVENTS
    return cancel_open(state, ev, seq, "START_CLEANUP", lambda o: True)


def on_session_opened(state: CoreState, ev: SessionOpened, seq: int) -> list[Event]:
    risk = state.risk
    eq = portfolio.equity(state.risk.p, state.positions)
    risk.session_start_equity = risk.session_peak = eq
    risk.tally = type(risk.tally)()
    if risk.reducing == "DAILY_LOSS_LIMIT":
        return _resume_reducing(state, ev, seq, "NEW_SESSION")
    return NO_EVENTS


def on_session_closed(state: CoreState, ev: SessionClosed, seq: int) -> list[Event]:
    risk, p = state.risk, state.risk.p
    out: list[Event] = []
    if p.cancel_day_orders_at_close:
        out += cancel_open(state, ev, seq, "SESSION_END", lambda o: o.time_in_force == "day")
    t = risk.tally
    open_orders = sum(len(b) for b in state.orders.open_by_symbol.values())  # ints
    out.append(
        SessionSummarized(
            ts=ev.ts,
            cause_seq=seq,
            session=ev.session,
            decisions=dict(sorted(t.decisions.items())),
            intents=dict(sorted(t.intents.items())),
            fills=t.fills,
            realized_pnl=t.realized,
            fees=t.fees,
            equity=portfolio.equity(p, state.positions),
            open_orders=open_orders,
            trading_state=trading_state(state),  # type: ignore[arg-type]
        )
    )
    risk.session_start_equity = risk.session_peak = None
    return out
