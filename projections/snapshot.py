"""``build``: orders, positions and P&L as of a sequence number, in one pass."""

from __future__ import annotations

from dataclasses import dataclass

from engine.journal.address import JournalLike
from projections.fold import fold
from projections.ledger import Anomaly, Ledger
from projections.orders import OrderRow, order_rows
from projections.pnl import Pnl, pnl_of
from projections.positions import PositionRow, position_rows


@dataclass(frozen=True, slots=True)
class Snapshot:
    seq: int  # last sequence number folded (0 for an empty journal)
    orders: list[OrderRow]
    positions: list[PositionRow]
    pnl: Pnl
    anomalies: list[Anomaly]


def snapshot_of(ledger: Ledger) -> Snapshot:
    """The rows of a ledger (also usable on a ledger fed live, event by event)."""
    return Snapshot(
        seq=ledger.seq,
        orders=order_rows(ledger.orders),
        positions=position_rows(ledger.positions),
        pnl=pnl_of(ledger.positions),
        anomalies=list(ledger.anomalies),
    )


def build(path: JournalLike, at: int | None = None) -> Snapshot:
    """Fold records ``1..at`` (the whole journal when ``at`` is None) into a snapshot."""
    ledger = Ledger()
    fold(path, [ledger], at=at)
    return snapshot_of(ledger)
