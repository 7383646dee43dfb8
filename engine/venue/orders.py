"""The venue's orders as stored: the two order tables, the row types and their conversion.

Quantities and prices are exact decimal TEXT (normalised, no exponent); timestamps are ISO-8601 UTC
text ending in ``Z``. ``engine.venue.store`` reads and writes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from engine.alpaca.status import TERMINAL_ALPACA_STATUSES

SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    client_order_id TEXT NOT NULL UNIQUE,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL,
    type TEXT NOT NULL,
    time_in_force TEXT NOT NULL,
    qty TEXT NOT NULL,
    limit_price TEXT,
    extended_hours INTEGER NOT NULL,
    status TEXT NOT NULL,
    filled_qty TEXT NOT NULL,
    filled_avg_price TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    submitted_at TEXT NOT NULL,
    filled_at TEXT,
    canceled_at TEXT,
    expired_at TEXT
);
CREATE TABLE IF NOT EXISTS order_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    event TEXT NOT NULL,
    client_order_id TEXT NOT NULL,
    order_id TEXT
);
"""

ORDER_COLUMNS = (
    "id, client_order_id, symbol, side, type, time_in_force, qty, limit_price, extended_hours, status, "
    "filled_qty, filled_avg_price, created_at, updated_at, submitted_at, filled_at, canceled_at, expired_at"
)

StatusFilter = Literal["open", "closed", "all"]
Direction = Literal["asc", "desc"]


@dataclass(frozen=True)
class NewOrder:
    """A validated submit request (decimal fields already normalised text)."""

    symbol: str
    side: str
    type: str
    time_in_force: str
    qty: str
    limit_price: str | None
    extended_hours: bool
    client_order_id: str | None


@dataclass(frozen=True)
class VenueOrder:
    id: str
    client_order_id: str
    symbol: str
    side: str
    type: str
    time_in_force: str
    qty: str
    limit_price: str | None
    extended_hours: bool
    status: str
    filled_qty: str
    filled_avg_price: str | None
    created_at: str
    updated_at: str
    submitted_at: str
    filled_at: str | None
    canceled_at: str | None
    expired_at: str | None

    @property
    def is_open(self) -> bool:
        return self.status not in TERMINAL_ALPACA_STATUSES


@dataclass(frozen=True)
class OrderQuery:
    status: StatusFilter = "open"
    limit: int = 50
    direction: Direction = "desc"
    symbols: tuple[str, ...] = ()
    side: str | None = None
    after: str | None = None  # UTC "...Z" text, exclusive
    until: str | None = None  # UTC "...Z" text, exclusive


def row_to_order(row: tuple[object, ...]) -> VenueOrder:
    (
        oid,
        cid,
        symbol,
        side,
        typ,
        tif,
        qty,
        limit_price,
        ext,
        status,
        filled_qty,
        avg,
        created,
        updated,
        submitted,
        filled_at,
        canceled_at,
        expired_at,
    ) = row
    return VenueOrder(
        id=str(oid),
        client_order_id=str(cid),
        symbol=str(symbol),
        side=str(side),
        type=str(typ),
        time_in_force=str(tif),
        qty=str(qty),
        limit_price=optional_text(limit_price),
        extended_hours=bool(ext),
        status=str(status),
        filled_qty=str(filled_qty),
        filled_avg_price=optional_text(avg),
        created_at=str(created),
        updated_at=str(updated),
        submitted_at=str(submitted),
        filled_at=optional_text(filled_at),
        canceled_at=optional_text(canceled_at),
        expired_at=optional_text(expired_at),
    )


def optional_text(value: object) -> str | None:
    return None if value is None else str(value)
