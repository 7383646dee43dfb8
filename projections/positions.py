"""The positions projection: one row per symbol ever filled, sorted by symbol."""

from __future__ import annotations

from dataclasses import dataclass

from engine.core.positions import PositionBook
from journal_schema.units import mul_fixed
from projections.render import Column, Table


@dataclass(frozen=True, slots=True)
class PositionRow:
    symbol: str
    qty: int  # signed, 1e-8 shares
    avg_price: int  # 1e-8 USD, 0 when flat
    last_price: int | None  # last BarClosed close, 1e-8 USD; None before any bar
    market_value: int | None  # qty x last price, 1e-8 USD
    unrealized: int  # 1e-8 USD
    realized: int  # 1e-8 USD, before fees
    fees: int  # 1e-8 USD


def position_rows(book: PositionBook) -> list[PositionRow]:
    rows = []
    for symbol, p in book.traded():
        last = p.last_price
        rows.append(
            PositionRow(
                symbol=symbol,
                qty=p.qty,
                avg_price=p.avg_price,
                last_price=last,
                market_value=None if last is None else mul_fixed(p.qty, last),
                unrealized=p.unrealized(),
                realized=p.realized,
                fees=p.fees,
            )
        )
    return rows


POSITION_COLUMNS = (
    Column("symbol"),
    Column("qty", "qty"),
    Column("avg_price", "price"),
    Column("last_price", "price"),
    Column("market_value", "money"),
    Column("unrealized", "money"),
    Column("realized", "money"),
    Column("fees", "money"),
)


def positions_table(rows: list[PositionRow]) -> Table:
    return Table(
        POSITION_COLUMNS,
        [(r.symbol, r.qty, r.avg_price, r.last_price, r.market_value, r.unrealized, r.realized, r.fees) for r in rows],
    )
