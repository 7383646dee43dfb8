"""The ledger fold: orders, positions and last closes, using the core's own folds.

``OrderBook`` and ``PositionBook`` from ``engine.core`` do all order and position math;
this module only routes journal events to them, the way the core's ``step`` does: the
core's own derived events (intents, requests, resubmits, cancel requests, intent outcomes,
adoptions) are
folded with the same ``OrderBook.apply_derived``. A broker report the order fold refuses
(``OrderViolation`` or ``ReportRefused``) is recorded as an anomaly and skipped: the core
journaled a ``TradingHalted`` or an ``OrderReportRejected`` for it and the projection keeps going.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.core.orders import REPORT_TYPES, OrderBook, OrderViolation, ReportRefused, apply_report
from engine.core.positions import PositionBook
from journal_schema.events import (
    BarClosed,
    Event,
    OrderCancelRequested,
    OrderIntentCreated,
    OrderIntentResolved,
    OrderResubmitRequested,
    OrderSubmitRequested,
    PositionAdopted,
)
from journal_schema.live_events import (
    BrokerReportRejected,
    OrderCancelAnswered,
)

_DERIVED_ORDER_EVENTS = (
    OrderIntentCreated,
    OrderSubmitRequested,
    OrderResubmitRequested,
    OrderCancelRequested,
    OrderIntentResolved,
)


@dataclass(frozen=True, slots=True)
class Anomaly:
    """A broker report the order fold refused. ``code`` is a HaltReason or a ReportRefusal."""

    seq: int
    code: str
    detail: str


@dataclass(slots=True)
class Ledger:
    orders: OrderBook = field(default_factory=OrderBook)
    positions: PositionBook = field(default_factory=PositionBook)
    last_close: dict[str, int] = field(default_factory=dict)  # symbol -> last BarClosed close
    anomalies: list[Anomaly] = field(default_factory=list)
    seq: int = 0  # last sequence number applied

    def apply(self, seq: int, event: Event) -> None:
        self.seq = seq
        if isinstance(event, BarClosed):
            self.last_close[event.symbol] = event.close
            self.positions.mark(event.symbol, event.close)
        elif isinstance(event, _DERIVED_ORDER_EVENTS):
            self.orders.apply_derived(event)
        elif isinstance(event, REPORT_TYPES):
            self._report(seq, event)
        elif isinstance(event, BrokerReportRejected):
            self.orders.note_edge_rejection(event)
        elif isinstance(event, PositionAdopted):
            self.positions.adopt(event.symbol, event.broker_qty, event.broker_avg_price)
        elif isinstance(event, OrderCancelAnswered):
            try:
                self.orders.cancel_answered(event)
            except OrderViolation as refused:
                self.anomalies.append(Anomaly(seq, refused.code, refused.detail))

    def _report(self, seq: int, event: Event) -> None:
        try:
            apply_report(self.orders, self.positions, event)
        except (OrderViolation, ReportRefused) as refused:
            self.anomalies.append(Anomaly(seq, refused.code, refused.detail))
