"""Folds over the journal: events listing, orders, positions and P&L."""

from projections.events import EventRow, event_rows
from projections.fold import Projection, ProjectionError, fold, iter_events
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
    "ProjectionError",
    "Snapshot",
    "build",
    "event_rows",
    "fold",
    "iter_events",
    "snapshot_of",
]
