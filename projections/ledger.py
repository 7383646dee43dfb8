"""The ledger fold: orders, positions and last closes, using the core's own folds.

``OrderBook`` and ``PositionBook`` from ``engine.core`` do all order and position math;
this module only routes journal events to them, the way the core's ``step`` does. A
broker report the order fold refuses (``OrderViolation``) is recorded as an anomaly and
skipped: the core journaled a ``TradingHalted`` for it and the projection keeps going.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.core.orders import REPORT_TYPES, OrderBook, OrderViolation, apply_report
from engine.core.positions import PositionBook
from journal_schema.events import (
    BarClosed,
    Event,
    OrderSubmitRequested,
)


@dataclass(frozen=True, slots=True)
class Anomaly:
    """A broker report the order fold refused. ``code`` is a HaltReason."""

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
        elif isinstance(event, OrderSubmitRequested):
            self.orders.request(event)
        elif isinstance(event, REPORT_TYPES):
            self._report(seq, event)

    def _report(self, seq: int, event: Event) -> None:
        try:
            apply_report(self.orders, self.positions, event)
        except OrderViolation as violation:
            self.anomalies.append(Anomaly(seq, violation.code, violation.detail))
