"""Order fold: the status of every order, from its submit request to a terminal report.

Pure. The core uses it to know open quantity and to detect invariant violations; the
orders projection uses the same fold. Issue-level status names are fixed here once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from engine.core.positions import PositionBook
from journal_schema.events import (
    Event,
    OrderAccepted,
    OrderCanceled,
    OrderExpired,
    OrderFilled,
    OrderPartiallyFilled,
    OrderRejected,
    OrderSubmitRequested,
)
from journal_schema.units import div_round_half_even

Status = Literal[
    "SUBMIT_REQUESTED", "ACCEPTED", "PARTIALLY_FILLED", "FILLED", "CANCELED", "REJECTED", "EXPIRED"
]
TERMINAL_STATUSES: frozenset[str] = frozenset({"FILLED", "CANCELED", "REJECTED", "EXPIRED"})
REPORT_TYPES = (OrderAccepted, OrderRejected, OrderPartiallyFilled, OrderFilled, OrderCanceled, OrderExpired)


def apply_report(orders: OrderBook, positions: PositionBook, ev: Event) -> Order:
    """Apply a broker report to the order fold and its fill to the position fold.
    The one routing of reports used by the core and the projections. Raises OrderViolation."""
    order, fill = orders.report(ev)
    if fill:
        assert isinstance(ev, (OrderFilled, OrderPartiallyFilled))
        positions.apply_fill(order.symbol, fill, ev.fill_price, ev.fee)
    return order


class OrderViolation(Exception):
    """A broker report that breaks an order invariant. ``code`` is a HaltReason."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass(slots=True)
class Order:
    client_order_id: str
    symbol: str
    side: str
    qty: int
    order_type: str
    limit_price: int | None
    requested_ts: int
    status: str = "SUBMIT_REQUESTED"
    broker_order_id: str | None = None
    cum_qty: int = 0
    notional: int = 0  # sum of fill_qty * fill_price, 1e-16 USD
    fees: int = 0
    last_ts: int = 0
    reason: str | None = None

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
        """Signed quantity still working at the broker for ``symbol``."""
        book = self.open_by_symbol.get(symbol)
        return sum(o.signed_leaves for o in book.values()) if book else 0

    def working_side(self, symbol: str, side: str) -> bool:
        """Whether an order on ``side`` is still working for ``symbol``."""
        book = self.open_by_symbol.get(symbol)
        return bool(book) and any(o.side == side for o in book.values())  # type: ignore[union-attr]

    def request(self, ev: OrderSubmitRequested) -> Order:
        order = Order(ev.client_order_id, ev.symbol, ev.side, ev.qty, ev.order_type,
                      ev.limit_price, ev.ts, last_ts=ev.ts)
        self.orders[ev.client_order_id] = order
        self.open_by_symbol.setdefault(ev.symbol, {})[ev.client_order_id] = order
        return order

    def report(self, ev: Event) -> tuple[Order, int]:
        """Apply a broker report. Returns (order, signed fill qty). Raises OrderViolation."""
        cid: str = ev.client_order_id  # type: ignore[attr-defined]
        order = self.orders.get(cid)
        if order is None:
            raise OrderViolation("UNKNOWN_ORDER_REPORT", f"{type(ev).__name__} for unknown client_order_id {cid}")
        if order.status in TERMINAL_STATUSES:
            raise OrderViolation(
                "REPORT_AFTER_TERMINAL", f"{type(ev).__name__} for {cid} already {order.status}"
            )
        fill = 0
        if isinstance(ev, OrderAccepted):
            order.status = "ACCEPTED"
            order.broker_order_id = ev.broker_order_id
        elif isinstance(ev, (OrderPartiallyFilled, OrderFilled)):
            if order.cum_qty + ev.fill_qty > order.qty or ev.fill_qty <= 0:
                raise OrderViolation(
                    "OVERFILL", f"{cid}: fill {ev.fill_qty} on cum {order.cum_qty} of qty {order.qty}"
                )
            order.cum_qty += ev.fill_qty
            order.notional += ev.fill_qty * ev.fill_price
            order.fees += ev.fee
            fill = ev.fill_qty if order.side == "buy" else -ev.fill_qty
            full = order.cum_qty == order.qty
            order.status = "FILLED" if full else "PARTIALLY_FILLED"
        elif isinstance(ev, OrderRejected):
            order.status, order.reason = "REJECTED", ev.reason
        elif isinstance(ev, OrderCanceled):
            order.status, order.reason = "CANCELED", ev.reason
        elif isinstance(ev, OrderExpired):
            order.status, order.reason = "EXPIRED", ev.reason
        order.last_ts = ev.ts
        if order.status in TERMINAL_STATUSES:
            book = self.open_by_symbol.get(order.symbol)
            if book is not None:
                book.pop(cid, None)
        return order, fill
