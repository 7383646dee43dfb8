"""The orders projection: one row per ``client_order_id``, in request order."""

from __future__ import annotations

from dataclasses import dataclass

from engine.core.orders import OrderBook
from projections.render import Column, Table


@dataclass(frozen=True, slots=True)
class OrderRow:
    client_order_id: str
    symbol: str
    side: str
    qty: int  # 1e-8 shares
    order_type: str
    limit_price: int | None  # 1e-8 USD
    status: str
    cum_qty: int  # 1e-8 shares
    avg_fill_price: int | None  # 1e-8 USD, None before the first fill
    fees: int  # 1e-8 USD
    requested_ts: int  # ns UTC
    last_ts: int  # ns UTC
    reason: str | None


def order_rows(book: OrderBook) -> list[OrderRow]:
    return [
        OrderRow(
            client_order_id=o.client_order_id,
            symbol=o.symbol,
            side=o.side,
            qty=o.qty,
            order_type=o.order_type,
            limit_price=o.limit_price,
            status=o.status,
            cum_qty=o.cum_qty,
            avg_fill_price=o.avg_fill_price if o.cum_qty else None,
            fees=o.fees,
            requested_ts=o.requested_ts,
            last_ts=o.last_ts,
            reason=o.reason,
        )
        for o in book.orders.values()
    ]


ORDER_COLUMNS = (
    Column("client_order_id"),
    Column("symbol"),
    Column("side"),
    Column("qty", "qty"),
    Column("type"),
    Column("limit", "price"),
    Column("status"),
    Column("cum_qty", "qty"),
    Column("avg_price", "price"),
    Column("fees", "money"),
    Column("requested", "ts"),
    Column("last", "ts"),
    Column("reason"),
)


def orders_table(rows: list[OrderRow]) -> Table:
    return Table(
        ORDER_COLUMNS,
        [
            (
                r.client_order_id,
                r.symbol,
                r.side,
                r.qty,
                r.order_type,
                r.limit_price,
                r.status,
                r.cum_qty,
                r.avg_fill_price,
                r.fees,
                r.requested_ts,
                r.last_ts,
                r.reason,
            )
            for r in rows
        ],
    )
