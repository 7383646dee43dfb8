"""What a broker order snapshot tells the journal: the reports that carry our order from the
state the journal has to the state the broker shows. Pure.

Alpaca reports an order as a snapshot (status, cumulative ``filled_qty`` and average price), not
as a stream of executions, so each new fill is the difference between the snapshot and the
journal: quantity ``filled_qty - cum_qty`` at the price that makes the journal's notional equal
the broker's (``filled_qty x filled_avg_price - notional``) / quantity, rounded half-even to 1e-8
(``fill_price`` says what is done when that is not positive).
An order filled in full is done: a terminal status that says canceled, expired or replaced at the
same time adds nothing.
Reports are stamped with the broker's own timestamps. Fees are 0 (Alpaca equities are commission
free and order snapshots carry no fee).

Applying the returned reports and calling ``reports_for`` again with the same snapshot returns
nothing: the translation is idempotent, so a snapshot seen twice (another poll, a restart) adds
nothing to the journal.

A snapshot that cannot be trusted produces one ``BrokerReportRejected`` (reason code, the raw
status) and no reports; an order under our client order id that is not the order we requested
produces a ``ReconciliationMismatch`` (``CLIENT_ORDER_ID_CONFLICT``).
"""

from __future__ import annotations

from engine.alpaca.model import BrokerOrder
from engine.alpaca.status import UnknownBrokerStatus, meaning
from engine.core.orders import TERMINAL_STATUSES, Order
from journal_schema.events import (
    Event,
    OrderAccepted,
    OrderCanceled,
    OrderExpired,
    OrderFilled,
    OrderPartiallyFilled,
    OrderRejected,
    OrderReplaced,
)
from journal_schema.live_events import (
    BrokerReportRejected,
    ReconciliationMismatch,
)
from journal_schema.units import div_round_half_even, exact

RAW_LIMIT = 2000


def snapshot_key(snap: BrokerOrder) -> str:
    """What identifies a snapshot for dedupe of edge rejections (the raw status and progress)."""
    return f"{snap.status}|{snap.filled_qty}|{snap.filled_avg_price}|{snap.updated_at}"[:RAW_LIMIT]


def conflict(order: Order, snap: BrokerOrder) -> str:
    """Why the broker's order under our client order id is not ours ('' when it is)."""
    mine = (order.symbol, order.side, order.qty, order.order_type, order.limit_price, order.time_in_force)
    theirs = (snap.symbol, snap.side, snap.qty, snap.order_type, snap.limit_price, snap.time_in_force)
    if mine == theirs:
        return ""
    names = ("symbol", "side", "qty", "type", "limit_price", "time_in_force")
    return "; ".join(f"{n}: journal {a!r}, broker {b!r}" for n, a, b in zip(names, mine, theirs, strict=True) if a != b)


def reports_for(order: Order, snap: BrokerOrder) -> list[Event]:
    """The events that bring ``order`` (as the journal folds it) to the broker's ``snap``."""
    if order.status in TERMINAL_STATUSES:
        return []
    cid = order.client_order_id
    why = conflict(order, snap)
    if why:
        return [
            ReconciliationMismatch(
                ts=snap.updated_at or snap.created_at,
                kind="CLIENT_ORDER_ID_CONFLICT",
                symbol=order.symbol,
                client_order_id=cid,
                journal_qty=order.qty,
                broker_qty=snap.qty or 0,
                broker_avg_price=0,
                detail=f"broker order {snap.id} is not the order the journal requested: {why}",
            )
        ]
    try:
        lifecycle = meaning(snap.status).lifecycle
    except UnknownBrokerStatus as exc:
        return _edge(order, snap, "UNKNOWN_BROKER_STATUS", str(exc))
    if snap.filled_qty < order.cum_qty:
        return _edge(
            order,
            snap,
            "FILLED_QTY_DECREASED",
            f"broker filled_qty {exact(snap.filled_qty)} < journaled {exact(order.cum_qty)}",
        )
    if lifecycle == "FILLED" and snap.filled_qty != order.qty:
        return _edge(
            order,
            snap,
            "INCONSISTENT_BROKER_ORDER",
            f"status filled but filled_qty {exact(snap.filled_qty)} of qty {exact(order.qty)}",
        )
    if lifecycle == "REJECTED" and snap.filled_qty:
        return _edge(
            order, snap, "INCONSISTENT_BROKER_ORDER", f"status rejected but filled_qty {exact(snap.filled_qty)}"
        )
    delta = snap.filled_qty - order.cum_qty
    if delta and (snap.filled_avg_price is None or snap.filled_avg_price <= 0):
        return _edge(order, snap, "INCONSISTENT_BROKER_ORDER", f"filled_qty {exact(snap.filled_qty)} without a price")
    out: list[Event] = []
    stamp = snap.updated_at or snap.created_at
    if order.status == "SUBMIT_REQUESTED":
        if lifecycle == "REJECTED" and not delta:
            detail = f"broker order {snap.id} status rejected"
            return [
                OrderRejected(ts=snap.failed_at or stamp, client_order_id=cid, reason="BROKER_REJECTED", detail=detail)
            ]
        out.append(OrderAccepted(ts=snap.submitted_at or snap.created_at, client_order_id=cid, broker_order_id=snap.id))
    if delta:
        assert snap.filled_avg_price is not None
        cum = snap.filled_qty
        price = fill_price(cum, snap.filled_avg_price, order.notional, delta)
        final = cum == order.qty
        fill_ts = (snap.filled_at or stamp) if final else stamp
        out.append(
            (OrderFilled if final else OrderPartiallyFilled)(
                ts=fill_ts,
                client_order_id=cid,
                fill_id=f"{snap.id}:{cum}",
                fill_qty=delta,
                fill_price=price,
                fee=0,
                cum_qty=cum,
                leaves_qty=order.qty - cum,
            )
        )
    rest = order.qty - snap.filled_qty
    if not rest:
        return out  # all of it filled: a "canceled" / "expired" / "replaced" status adds nothing (Alpaca-API #71)
    if lifecycle == "CANCELED":
        out.append(
            OrderCanceled(
                ts=snap.canceled_at or stamp, client_order_id=cid, canceled_qty=rest, reason="canceled at the broker"
            )
        )
    elif lifecycle == "EXPIRED":
        out.append(
            OrderExpired(
                ts=snap.expired_at or stamp,
                client_order_id=cid,
                expired_qty=rest,
                reason="expired at the broker (time in force)",
            )
        )
    elif lifecycle == "REPLACED":
        out.append(OrderReplaced(ts=snap.replaced_at or stamp, client_order_id=cid, replaced_by=snap.replaced_by))
    elif lifecycle == "REJECTED":
        out.append(
            OrderRejected(
                ts=snap.failed_at or stamp,
                client_order_id=cid,
                reason="BROKER_REJECTED",
                detail=f"broker order {snap.id} status rejected",
            )
        )
    return out


def fill_price(cum: int, avg: int, notional: int, delta: int) -> int:
    """The price of the newest ``delta`` of ``cum`` filled: what makes the journal's notional equal
    ``cum x avg``. ``avg`` is rounded to 1e-8 by the broker, so the true price lies within
    ``cum / (2 delta)`` units of that. A fill tiny next to what was filled before can make the derived
    price zero or negative; then the price is the point of that interval above zero nearest ``avg``."""
    derived = div_round_half_even(cum * avg - notional, delta)
    if derived > 0:
        return derived
    bound = cum // (2 * delta) + 1
    return max(1, min(avg, derived + bound))


def _edge(order: Order, snap: BrokerOrder, reason: str, detail: str) -> list[Event]:
    key = snapshot_key(snap)
    if order.rejected_snapshot == key:
        return []  # journaled already (this poll or an earlier one)
    return [
        BrokerReportRejected(
            ts=snap.updated_at or snap.created_at,
            client_order_id=order.client_order_id,
            reason=reason,  # type: ignore[arg-type]
            detail=detail,
            raw=key,
        )
    ]
