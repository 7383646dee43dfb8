"""The core's order management decisions: what each broker report and reconciliation finding
means for an intent, a resubmission, a halt or an alert. Pure, like the rest of the core.

- A report the order state machine allows is applied; the first broker acknowledgement of an
  order resolves its intent ``SUBMITTED``; a rejection or a failed submit resolves it ``FAILED``.
- A refused report becomes ``OrderReportRejected`` plus a ``WARNING`` alert, never applied.
- ``OrderNotFoundAtBroker`` (the broker has never seen a requested order) gives a write-ahead
  ``OrderResubmitRequested`` unless the kill switch is on, trading is halted, a day order's
  session is over (intent ``SKIPPED``) or the attempts are used up (intent ``FAILED``).
- A reconciliation mismatch halts trading, unless the config adopts the broker's positions.
- A report that ends an order a pending target waited for decides that target again
  (``engine.core.decide``).
"""

from __future__ import annotations

from engine.core.decide import decide_pending
from engine.core.orders import TERMINAL_STATUSES, Order, OrderViolation, ReportRefused, apply_report
from engine.core.state import CoreState
from journal_schema.events import (
    AlertRaised,
    Event,
    OrderIntentResolved,
    OrderRejected,
    OrderReportRejected,
    OrderResubmitRequested,
    PositionAdopted,
    TradingHalted,
    TradingResumed,
)
from journal_schema.live_events import (
    BrokerReportRejected,
    OrderCancelAnswered,
    OrderNotFoundAtBroker,
    OrderSubmitFailed,
    OrderSubmitUncertain,
    ReconciliationCompleted,
    ReconciliationMismatch,
)

NO_EVENTS: list[Event] = []
_NOT_ACKNOWLEDGEMENTS = (OrderRejected, OrderSubmitFailed, OrderSubmitUncertain, OrderNotFoundAtBroker)


def halt(state: CoreState, ev: Event, seq: int, code: str, detail: str) -> list[Event]:
    """Halt trading (once) with a reason code and a CRITICAL alert."""
    if state.halted is not None:
        return NO_EVENTS
    state.halted = code
    return [
        TradingHalted(ts=ev.ts, cause_seq=seq, reason=code, detail=detail),  # type: ignore[arg-type]
        AlertRaised(
            ts=ev.ts,
            cause_seq=seq,
            severity="CRITICAL",
            code="TRADING_HALTED",
            subject="run",
            detail=f"{code}: {detail}",
        ),
    ]


def violation(state: CoreState, ev: Event, seq: int, v: OrderViolation) -> list[Event]:
    """A report that would make the books wrong: halt; already halted, a CRITICAL alert all the
    same, so that no refused report goes unrecorded."""
    if state.halted is None:
        return halt(state, ev, seq, v.code, v.detail)
    return [
        AlertRaised(
            ts=ev.ts,
            cause_seq=seq,
            severity="CRITICAL",
            code="INVARIANT_VIOLATION",
            subject="run",
            detail=f"{v.code}: {v.detail} (not applied; trading already halted: {state.halted})",
        )
    ]


def on_report(state: CoreState, ev: Event, seq: int) -> list[Event]:
    try:
        order = apply_report(state.orders, state.positions, ev)
    except OrderViolation as v:
        return violation(state, ev, seq, v)
    except ReportRefused as r:
        cid = r.order.client_order_id
        return [
            OrderReportRejected(
                ts=ev.ts,
                cause_seq=seq,
                client_order_id=cid,
                report=type(ev).__name__,
                status=r.order.status,
                reason=r.code,  # type: ignore[arg-type]
                detail=r.detail,
            ),
            AlertRaised(
                ts=ev.ts,
                cause_seq=seq,
                severity="WARNING",
                code=r.code,  # type: ignore[arg-type]
                subject=cid,
                detail=r.detail,
            ),
        ]
    out = _after_report(state, order, ev, seq)
    if order.status in TERMINAL_STATUSES and order.symbol in state.pending:
        out = [*out, *decide_pending(state, order.symbol, ev.ts, seq)]  # a cancel it waited for is done
    return out


def _after_report(state: CoreState, order: Order, ev: Event, seq: int) -> list[Event]:
    t = type(ev)
    if t is OrderNotFoundAtBroker:
        return _on_not_found(state, order, ev, seq)
    if order.outcome is not None or t is OrderSubmitUncertain:
        return NO_EVENTS
    if t is OrderRejected:
        return _resolve(state, order, ev, seq, "FAILED", "ORDER_REJECTED", ev.detail)  # type: ignore[attr-defined]
    if t is OrderSubmitFailed:
        assert isinstance(ev, OrderSubmitFailed)
        out = _resolve(state, order, ev, seq, "FAILED", ev.category, ev.detail)
        if ev.category == "AUTH":
            out += halt(state, ev, seq, "BROKER_AUTH_FAILED", f"submit of {order.client_order_id}: {ev.detail}")
        return out
    assert not isinstance(ev, _NOT_ACKNOWLEDGEMENTS)
    return _resolve(state, order, ev, seq, "SUBMITTED", "BROKER_ACKNOWLEDGED", "")


def _resolve(
    state: CoreState, order: Order, ev: Event, seq: int, outcome: str, reason: str, detail: str
) -> list[Event]:
    resolved = OrderIntentResolved(
        ts=ev.ts,
        cause_seq=seq,
        intent_id=order.intent_id,
        client_order_id=order.client_order_id,
        outcome=outcome,  # type: ignore[arg-type]
        reason=reason,  # type: ignore[arg-type]
        attempts=max(order.attempts, 1),
        detail=detail,
    )
    state.orders.apply_derived(resolved)
    if outcome != "FAILED":
        return [resolved]
    alert = AlertRaised(
        ts=ev.ts,
        cause_seq=seq,
        severity="WARNING",
        code="ORDER_SUBMIT_FAILED",
        subject=order.client_order_id,
        detail=f"{reason}: {detail}",
    )
    return [resolved, alert]


def _on_not_found(state: CoreState, order: Order, ev: Event, seq: int) -> list[Event]:
    cfg = state.config
    assert cfg is not None
    skip = None
    if state.kill_switch:
        skip = "KILL_SWITCH_ENGAGED"
    elif state.halted is not None:
        skip = "TRADING_HALTED"
    elif order.day_expiry is not None and state.sessions_closed >= order.day_expiry:
        skip = "STALE_REQUEST"  # the session the day order was for is over
    if skip is not None:
        return _resolve(state, order, ev, seq, "SKIPPED", skip, f"not at the broker after {order.attempts} attempt(s)")
    if order.attempts >= cfg.max_submit_attempts:
        return _resolve(
            state,
            order,
            ev,
            seq,
            "FAILED",
            order.last_error or "UNKNOWN",
            f"not at the broker after {order.attempts} attempt(s)",
        )
    again = OrderResubmitRequested(
        ts=ev.ts, cause_seq=seq, client_order_id=order.client_order_id, attempt=order.attempts + 1
    )
    state.orders.apply_derived(again)
    return [again]


def on_cancel_answered(state: CoreState, ev: OrderCancelAnswered, seq: int) -> list[Event]:
    try:
        state.orders.cancel_answered(ev)
    except OrderViolation as v:
        return violation(state, ev, seq, v)
    return NO_EVENTS


def on_edge_rejection(state: CoreState, ev: BrokerReportRejected, seq: int) -> list[Event]:
    state.orders.note_edge_rejection(ev)
    return [
        AlertRaised(
            ts=ev.ts, cause_seq=seq, severity="WARNING", code=ev.reason, subject=ev.client_order_id, detail=ev.detail
        )
    ]


def on_mismatch(state: CoreState, ev: ReconciliationMismatch, seq: int) -> list[Event]:
    cfg = state.config
    assert cfg is not None
    subject = ev.client_order_id or ev.symbol
    if ev.kind == "POSITION_QTY" and cfg.adopt_broker_positions:
        state.positions.adopt(ev.symbol, ev.broker_qty, ev.broker_avg_price)
        return [
            PositionAdopted(
                ts=ev.ts,
                cause_seq=seq,
                symbol=ev.symbol,
                journal_qty=ev.journal_qty,
                broker_qty=ev.broker_qty,
                broker_avg_price=ev.broker_avg_price,
            ),
            AlertRaised(
                ts=ev.ts,
                cause_seq=seq,
                severity="WARNING",
                code="RECONCILIATION_MISMATCH",
                subject=subject,
                detail=f"adopted the broker's position: {ev.detail}",
            ),
        ]
    state.unadopted_mismatches += 1
    alert = AlertRaised(
        ts=ev.ts,
        cause_seq=seq,
        severity="CRITICAL",
        code="RECONCILIATION_MISMATCH",
        subject=subject,
        detail=f"{ev.kind}: {ev.detail}",
    )
    return [alert, *halt(state, ev, seq, "RECONCILIATION_MISMATCH", f"{ev.kind} {subject}: {ev.detail}")]


def on_reconciled(state: CoreState, ev: ReconciliationCompleted, seq: int) -> list[Event]:
    """A reconciliation that found nothing unadopted lifts an earlier reconciliation halt."""
    if state.halted != "RECONCILIATION_MISMATCH" or state.unadopted_mismatches:
        return NO_EVENTS
    state.halted = None
    return [TradingResumed(ts=ev.ts, cause_seq=seq, reason="RECONCILED", halt_reason="RECONCILIATION_MISMATCH")]
