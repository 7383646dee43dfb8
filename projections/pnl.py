"""The P&L projection: per symbol and in total, ``net = realized + unrealized - fees``.

Unrealized P&L is marked to the last ``BarClosed`` close of each symbol (see ``Ledger``).
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.core.positions import PositionBook
from projections.render import Column, Table

TOTAL = "TOTAL"


@dataclass(frozen=True, slots=True)
class PnlRow:
    symbol: str
    realized: int  # 1e-8 USD, before fees
    unrealized: int  # 1e-8 USD
    fees: int  # 1e-8 USD

    @property
    def net(self) -> int:
        return self.realized + self.unrealized - self.fees


@dataclass(frozen=True, slots=True)
class Pnl:
    rows: list[PnlRow]  # one per symbol, sorted
    total: PnlRow


def pnl_of(book: PositionBook) -> Pnl:
    rows = [PnlRow(symbol, p.realized, p.unrealized(), p.fees) for symbol, p in book.traded()]
    total = PnlRow(
        TOTAL,
        sum(r.realized for r in rows),
        sum(r.unrealized for r in rows),
        sum(r.fees for r in rows),
    )
    return Pnl(rows, total)


PNL_COLUMNS = (
    Column("symbol"),
    Column("realized", "money"),
    Column("unrealized", "money"),
    Column("fees", "money"),
    Column("net", "money"),
)


def pnl_table(pnl: Pnl) -> Table:
    return Table(
        PNL_COLUMNS,
        [(r.symbol, r.realized, r.unrealized, r.fees, r.net) for r in [*pnl.rows, pnl.total]],
    )
