"""The order state machine: every order from its intent to a terminal status, as a fold.

Pure. The core uses it to know open quantity and to check each broker report; the orders
projection folds the same journal events through the same code. Statuses, which of them are
terminal and which report each status accepts are defined here once (docs/oms.md)::

    NEW -> SUBMIT_REQUESTED -> ACCEPTED -> PARTIALLY_FILLED* -> FILLED | CANCELED | REJECTED
                                                                | EXPIRED | FAILED | REPLACED

A report the table does not allow from the order's status is refused (``ReportRefused``, the
core journals ``OrderReportRejected`` plus an alert) and not applied. A report that would make
the books wrong (an overfill, an order the journal never requested) raises ``OrderViolation``:
the core halts trading.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, get_args

from engine.core.positions import PositionBook
from journal_schema.events import (
    Event,
    OrderAccepted,
    OrderCanceled,
    OrderCancelRequested,
    OrderExpired,
    OrderFilled,
    OrderIntentCreated,
    OrderIntentResolved,
    OrderPartiallyFilled,
    OrderRejected,
    OrderReplaced,
    OrderResubmitRequested,
    OrderSubmitRequested,
)
from journal_schema.live_events import (
    BrokerReportRejected,
    OrderCancelAnswered,
    OrderNotFoundAtBroker,
    OrderSubmitFailed,
    OrderSubmitUncertain,
)
from journal_schema.units import div_round_half_even

Status = Literal[
    "NEW",
    "SUBMIT_REQUESTED",
    "ACCEPTED",
    "PARTIALLY_FILLED",
    "FILLED",
    "CANCELED",
    "REJECTED",
    "EXPIRED",
    "FAILED",
    "REPLACED",
]
STATUSES: tuple[str, ...] = get_args(Status)
TERMINAL_STATUSES: frozenset[str] = frozenset({"FILLED", "CANCELED", "REJECTED", "EXPIRED", "FAILED", "REPLACED"})
WORKING_STATUSES: frozenset[str] = frozenset({"ACCEPTED", "PARTIALLY_FILLED"})  # live at the broker

# Inputs that speak about one order (they carry ``client_order_id``).
REPORT_TYPES: tuple[type[Event], ...] = (
    OrderAccepted,
    OrderRejected,
    OrderPartiallyFilled,
    OrderFilled,
    OrderCanceled,
    OrderExpired,
    OrderReplaced,
    OrderSubmitFailed,
    OrderSubmitUncertain,
    OrderNotFoundAtBroker,
)
_BROKER_FINAL = (OrderPartiallyFilled, OrderFilled, OrderCanceled, OrderExpired)

# Which report each non-terminal status accepts. SUBMIT_REQUESTED accepts every first answer (the
# broker may have filled or canceled the order before we learnt it was accepted) plus the
# shell's observations about an unanswered submit; a working order takes fills and endings.
ALLOWED: dict[str, frozenset[type[Event]]] = {
    "NEW": frozenset(),
    "SUBMIT_REQUESTED": frozenset(
        {
            OrderAccepted,
            OrderRejected,
            *_BROKER_FINAL,
            OrderSubmitFailed,
            OrderSubmitUncertain,
            OrderNotFoundAtBroker,
        }
    ),
    "ACCEPTED": frozenset({*_BROKER_FINAL, OrderRejected, OrderReplaced}),
    "PARTIALLY_FILLED": frozenset({*_BROKER_FINAL, OrderReplaced}),
}
_ENDING: dict[type[Event], str] = {
    OrderRejected: "REJECTED",
    OrderCanceled: "CANCELED",
    OrderExpired: "EXPIRED",
    OrderReplaced: "REPLACED",
    OrderSubmitFailed: "FAILED",
}


class OrderViolation(Exception):
    """A broker report that would make the books wrong. ``code`` is a HaltReason."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


class ReportRefused(Exception):
    """A report the state machine does not allow now. ``code`` is a ReportRefusal."""

    def __init__(self, code: str, order: Order, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.order = order
        self.detail = detail


@dataclass(slots=True)
class Order:
    client_order_id: str
    intent_id: str
    symbol: str
    side: str
    qty: int
    order_type: str
    limit_price: int | None
    time_in_force: str
    requested_ts: int
    status: str = "NEW"
    broker_order_id: str | None = None
    cum_qty: int = 0
    notional: int = 0  # sum of fill_qty * fill_price, 1e-16 USD
    fees: int = 0
    last_ts: int = 0
    reason: str | None = None
    attempts: int = 0  # submissions requested (1 with the first request)
    last_error: str | None = None  # error category of the last unanswered submit
    outcome: str | None = None  # the intent's outcome once resolved (SUBMITTED | SKIPPED | FAILED)
    rejected_snapshot: str | None = None  # last broker snapshot refused at the edge (dedupe key)
    cancel_state: str | None = None  # None, REQUESTED (journaled, not yet taken by the broker) or SENT
    day_expiry: int | None = None  # day orders: the count of closed sessions at which the order is over

    @property
    def leaves_qty(self) -> int:
        return 0 if self.status in TERMINAL_STATUSES else self.qty - self.cum_qty

    @property
    def signed_leaves(self) -> int:
        return self.leaves_qty if self.side == "buy" else -self.leaves_qty

    @property
    def avg_fill_price(self) -> int:
        return div_round_half_even(self.notional, self.cum_qty) if self.cum_qty else 0


@dataclass(slots=True)
class OrderBook:
    orders: dict[str, Order] = field(default_factory=dict)
    open_by_symbol: dict[str, dict[str, Order]] = field(default_factory=dict)

    def open_qty(self, symbol: str) -> int:
        """Signed quantity requested or working at the broker for ``symbol``."""
        book = self.open_by_symbol.get(symbol)
        return sum(o.signed_leaves for o in book.values()) if book else 0  # ints

    def open_orders(self, symbol: str) -> list[Order]:
        """The orders of ``symbol`` that are not terminal, in request order."""
        book = self.open_by_symbol.get(symbol)
        return list(book.values()) if book else []

    def with_status(self, *statuses: str) -> list[Order]:
        """Orders in any of ``statuses``, in request order."""
        wanted = frozenset(statuses)
        return [o for o in self.orders.values() if o.status in wanted]

    # --- derived events (the core's own decisions, folded the same way everywhere) -------------

    def apply_derived(self, ev: Event) -> None:
        t = type(ev)
        if t is OrderIntentCreated:
            self._intent(ev)  # type: ignore[arg-type]
        elif t is OrderSubmitRequested:
            self._request(ev)  # type: ignore[arg-type]
        elif t is OrderResubmitRequested:
            self.orders[ev.client_order_id].attempts = ev.attempt  # type: ignore[attr-defined]
        elif t is OrderCancelRequested:
            self.orders[ev.client_order_id].cancel_state = "REQUESTED"  # type: ignore[attr-defined]
        elif t is OrderIntentResolved:
            assert isinstance(ev, OrderIntentResolved)
            order = self.orders[ev.client_order_id]
            order.outcome = ev.outcome
            if order.status == "SUBMIT_REQUESTED" and ev.outcome != "SUBMITTED":
                # the broker never took it: the engine skipped it (REJECTED) or it failed (FAILED)
                self._end(order, "REJECTED" if ev.outcome == "SKIPPED" else "FAILED", ev.reason, ev.ts)

    def _intent(self, ev: OrderIntentCreated) -> None:
        order = Order(
            ev.client_order_id,
            ev.intent_id,
            ev.symbol,
            ev.side,
            ev.qty,
            ev.order_type,
            ev.limit_price,
            ev.time_in_force,
            ev.ts,
            last_ts=ev.ts,
        )
        self.orders[ev.client_order_id] = order
        self.open_by_symbol.setdefault(ev.symbol, {})[ev.client_order_id] = order

    def _request(self, ev: OrderSubmitRequested) -> None:
        order = self.orders[ev.client_order_id]
        order.status, order.attempts, order.requested_ts, order.last_ts = "SUBMIT_REQUESTED", 1, ev.ts, ev.ts

    def _end(self, order: Order, status: str, reason: str | None, ts: int) -> None:
        order.status, order.reason, order.last_ts = status, reason, ts
        book = self.open_by_symbol.get(order.symbol)
        if book is not None:
            book.pop(order.client_order_id, None)

    # --- broker reports and shell observations (inputs) ---------------------------------------

    def cancel_answered(self, ev: OrderCancelAnswered) -> Order:
        """The broker's answer to a cancel request: taken (SENT) or still to send (UNCERTAIN)."""
        order = self.orders.get(ev.client_order_id)
        if order is None:
            raise OrderViolation(
                "UNKNOWN_ORDER_REPORT", f"OrderCancelAnswered for unknown client_order_id {ev.client_order_id}"
            )
        if ev.result != "UNCERTAIN" and order.cancel_state == "REQUESTED":
            order.cancel_state = "SENT"
        return order

    def note_edge_rejection(self, ev: BrokerReportRejected) -> None:
        order = self.orders.get(ev.client_order_id)
        if order is not None:
            order.rejected_snapshot = ev.raw

    def report(self, ev: Event) -> tuple[Order, int]:
        """Apply one report. Returns (order, signed fill qty). Raises OrderViolation / ReportRefused."""
        cid: str = ev.client_order_id  # type: ignore[attr-defined]
        order = self.orders.get(cid)
        t = type(ev)
        if order is None:
            raise OrderViolation("UNKNOWN_ORDER_REPORT", f"{t.__name__} for unknown client_order_id {cid}")
        if order.status in TERMINAL_STATUSES:
            raise ReportRefused("REPORT_AFTER_TERMINAL", order, f"{t.__name__} for {cid} already {order.status}")
        if t not in ALLOWED[order.status]:
            raise ReportRefused("ILLEGAL_TRANSITION", order, f"{t.__name__} not allowed for {cid} in {order.status}")
        fill = 0
        if t is OrderAccepted:
            order.status = "ACCEPTED"
            order.broker_order_id = ev.broker_order_id  # type: ignore[attr-defined]
        elif t is OrderPartiallyFilled or t is OrderFilled:
            fill = self._fill(order, ev)  # type: ignore[arg-type]
        elif t is OrderSubmitUncertain:
            order.last_error = ev.category  # type: ignore[attr-defined]
        elif t is OrderNotFoundAtBroker:
            pass  # the core decides: resubmit, skip or fail
        else:
            detail = getattr(ev, "reason", None) or getattr(ev, "category", None)
            self._end(order, _ENDING[t], detail, ev.ts)
            if t is OrderSubmitFailed:
                order.last_error = ev.category  # type: ignore[attr-defined]
            return order, 0
        order.last_ts = ev.ts
        if order.status in TERMINAL_STATUSES:
            self._end(order, order.status, order.reason, ev.ts)
        return order, fill

    @staticmethod
    def _fill(order: Order, ev: OrderPartiallyFilled | OrderFilled) -> int:
        cid = order.client_order_id
        if ev.fill_qty <= 0 or order.cum_qty + ev.fill_qty > order.qty:
            raise OrderViolation("OVERFILL", f"{cid}: fill {ev.fill_qty} on cum {order.cum_qty} of qty {order.qty}")
        cum = order.cum_qty + ev.fill_qty
        final = type(ev) is OrderFilled
        if ev.cum_qty != cum or ev.leaves_qty != order.qty - cum or final != (cum == order.qty):
            raise ReportRefused(
                "INCONSISTENT_FILL",
                order,
                (
                    f"{type(ev).__name__} for {cid}: cum_qty {ev.cum_qty} / leaves_qty {ev.leaves_qty} do not follow "
                    f"from cum {order.cum_qty} + fill {ev.fill_qty} of qty {order.qty}"
                ),
            )
        order.cum_qty = cum
        order.notional += ev.fill_qty * ev.fill_price
        order.fees += ev.fee
        order.status = "FILLED" if final else "PARTIALLY_FILLED"
        return ev.fill_qty if order.side == "buy" else -ev.fill_qty


def apply_report(orders: OrderBook, positions: PositionBook, ev: Event) -> Order:
    """Apply a broker report to the order fold and its fill to the position fold: the one routing
    of reports used by the core and the projections. Raises OrderViolation / ReportRefused."""
    order, fill = orders.report(ev)
    if fill:
        assert isinstance(ev, (OrderFilled, OrderPartiallyFilled))
        positions.apply_fill(order.symbol, fill, ev.fill_price, ev.fee)
    return order
