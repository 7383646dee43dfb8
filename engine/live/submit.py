"""Sending one journaled request to the broker and journaling what came back.

Called only for requests that are already committed (the outbox is performed after a flush).
The answer decides what is journaled:

| broker answer | journaled |
| --- | --- |
| the order (2xx) | its reports: ``OrderAccepted`` (+ fills, ...), via ``engine.live.reports`` |
| 422 "client_order_id must be unique" | the order looked up by client order id: its reports |
| refused for good (ORDER_REJECTED: 400/403/422) | ``OrderRejected(BROKER_REJECTED)`` with the broker's words |
| AUTH, PROGRAMMING_ERROR, BAD_DATA, INVARIANT_VIOLATION | ``OrderSubmitFailed(category)``: the intent FAILS |
| no answer or not a usable one (TRANSIENT_NETWORK, RATE_LIMIT, PROVIDER_SCHEMA, UNKNOWN) | ``OrderSubmitUncertain`` |

After ``OrderSubmitUncertain`` the order stays SUBMIT_REQUESTED; the next cycle looks it up by its
client order id (``engine.live.sync``) and only a "never seen" answer leads to a resubmission.

A journaled ``OrderCancelRequested`` is sent (``cancel``) once the order is working at the broker
(it needs the broker's order id), and its answer is journaled as ``OrderCancelAnswered``: ACCEPTED
(204), NOT_CANCELABLE (422: it is filled or ended; its own report will say so) or UNCERTAIN, after
which it is sent again in the next cycle while the order works (a cancel is idempotent).
"""

from __future__ import annotations

import logging

from engine.alpaca.errors import BrokerError
from engine.core.orders import Order
from engine.live.context import Context
from engine.live.crashpoints import CrashPoints
from engine.live.reports import reports_for
from journal_schema.events import (
    OrderRejected,
    OrderSubmitRequested,
)
from journal_schema.live_events import (
    OrderCancelAnswered,
    OrderSubmitFailed,
    OrderSubmitUncertain,
)

log = logging.getLogger("engine.live")
_DEFINITIVE_FAILURES = frozenset({"AUTH", "PROGRAMMING_ERROR", "BAD_DATA", "INVARIANT_VIOLATION"})


def request_of(order: Order) -> OrderSubmitRequested:
    """The submit request of ``order`` (what the broker is sent on every attempt)."""
    return OrderSubmitRequested(
        ts=order.requested_ts,
        cause_seq=1,
        client_order_id=order.client_order_id,
        intent_id=order.intent_id,
        symbol=order.symbol,
        side=order.side,  # type: ignore[arg-type]
        qty=order.qty,
        order_type=order.order_type,  # type: ignore[arg-type]
        limit_price=order.limit_price,
        time_in_force=order.time_in_force,  # type: ignore[arg-type]
    )


def submit(ctx: Context, cid: str, attempt: int, crash: CrashPoints) -> None:
    order = ctx.engine.state.orders.orders[cid]
    if order.status != "SUBMIT_REQUESTED":
        return  # answered meanwhile (e.g. found by a lookup in this cycle)
    crash.hit("submit.before")
    try:
        snap = ctx.broker.submit_order(request_of(order))
    except BrokerError as error:
        ctx.failed(error, "BROKER_SUBMIT")
        _failed(ctx, order, attempt, error)
        return
    ctx.succeeded("BROKER_SUBMIT")
    crash.hit("submit.after")
    for ev in reports_for(order, snap):
        ctx.input(ev)


def _failed(ctx: Context, order: Order, attempt: int, error: BrokerError) -> None:
    cid = order.client_order_id
    if error.kind == "duplicate_client_order_id":
        try:
            snap = ctx.broker.order_by_client_id(cid)
        except BrokerError as lookup:
            ctx.failed(lookup, "BROKER_READS")
            snap, error = None, lookup
        if snap is not None:
            for ev in reports_for(order, snap):
                ctx.input(ev)
            return
    log.warning("submit %s attempt %d: %s %s: %s", cid, attempt, error.category, error.kind, error.detail)
    if error.category == "ORDER_REJECTED":
        ctx.input(OrderRejected(ts=ctx.now, client_order_id=cid, reason="BROKER_REJECTED", detail=error.detail))
    elif error.category in _DEFINITIVE_FAILURES:
        ctx.input(OrderSubmitFailed(ts=ctx.now, client_order_id=cid, category=error.category, detail=error.detail))
    else:
        ctx.input(
            OrderSubmitUncertain(
                ts=ctx.now,
                client_order_id=cid,
                attempt=attempt,
                category=error.category,
                detail=f"{error.kind}: {error.detail}",
            )
        )


def cancel(ctx: Context, order: Order, crash: CrashPoints) -> None:
    """Send the journaled cancel request of a working order once and journal the answer."""
    cid, bid = order.client_order_id, order.broker_order_id
    assert bid is not None and order.cancel_state == "REQUESTED"
    crash.hit("cancel.before")
    try:
        ctx.broker.cancel_order(bid)
    except BrokerError as error:
        ctx.failed(error, "BROKER_SUBMIT")
        if error.kind in ("not_cancelable", "not_found"):
            ctx.input(
                OrderCancelAnswered(
                    ts=ctx.now, client_order_id=cid, result="NOT_CANCELABLE", category=None, detail=error.detail
                )
            )
        else:
            log.warning("cancel %s: %s %s: %s", cid, error.category, error.kind, error.detail)
            ctx.input(
                OrderCancelAnswered(
                    ts=ctx.now,
                    client_order_id=cid,
                    result="UNCERTAIN",
                    category=error.category,
                    detail=f"{error.kind}: {error.detail}",
                )
            )
        return
    ctx.succeeded("BROKER_SUBMIT")
    crash.hit("cancel.after")
    ctx.input(OrderCancelAnswered(ts=ctx.now, client_order_id=cid, result="ACCEPTED", category=None, detail=""))
