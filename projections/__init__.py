"""Folds over the journal: events listing, orders, positions and P&L."""

from projections.events import EventRow, event_rows
from projections.fold import Projection, fold
from projections.ledger import Anomaly, Ledger
from projections.orders import OrderRow
from projections.pnl import Pnl, PnlRow
from projections.positions import PositionRow
from projections.snapshot import Snapshot, build, snapshot_of

__all__ = [
    "Anomaly",
    "EventRow",
    "Ledger",
    "OrderRow",
    "Pnl",
    "PnlRow",
    "PositionRow",
    "Projection",
    "Snapshot",
    "build",
    "event_rows",
    "fold",
    "snapshot_of",
]
