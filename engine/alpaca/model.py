"""Broker data as the engine sees it, parsed from Alpaca's JSON by ``engine.alpaca.parse``.

Every price, quantity and money amount is a Fixed8 ``int`` (1e-8 units, ``journal_schema.units``)
converted with ``to_fixed`` from the exact decimal text Alpaca sent; every time is ``int``
nanoseconds UTC. Nothing here is validated beyond its shape: an order's ``status`` is the raw
text (the runner maps it with ``engine.alpaca.status.meaning`` and journals unknown ones), and a
bar's numbers are the text received (the runner runs the engine's bar checks on them).
"""

from __future__ import annotations

import msgspec


class BrokerOrder(msgspec.Struct, frozen=True):
    id: str
    client_order_id: str
    symbol: str
    side: str  # "buy" | "sell"
    order_type: str  # "market", "limit", ... as sent
    time_in_force: str
    qty: int | None  # None for a notional order
    filled_qty: int
    filled_avg_price: int | None
    limit_price: int | None
    status: str  # the RAW status text, not validated here
    created_at: int
    updated_at: int | None
    submitted_at: int | None
    filled_at: int | None
    canceled_at: int | None
    expired_at: int | None
    failed_at: int | None
    replaced_at: int | None
    replaced_by: str | None


class UnparseableOrder(msgspec.Struct, frozen=True):
    """One order in a list that did not parse; the others are still returned."""

    client_order_id: str | None  # when the raw object has it as a string
    order_id: str | None
    detail: str  # why it did not parse (one line)
    raw: str  # the order as JSON text, at most RAW_LIMIT characters


class BrokerPosition(msgspec.Struct, frozen=True):
    symbol: str
    qty: int  # signed: negative when short
    avg_entry_price: int


class BrokerAccount(msgspec.Struct, frozen=True):
    status: str
    cash: int
    equity: int
    buying_power: int
    trading_blocked: bool


class BrokerClock(msgspec.Struct, frozen=True):
    timestamp: int
    is_open: bool
    next_open: int
    next_close: int


class BrokerBar(msgspec.Struct, frozen=True):
    symbol: str
    t: int  # the bar's OPEN time as sent, ns UTC
    open: str  # decimal text as received: str() of the decoded JSON number ("nan"/"inf" survive)
    high: str
    low: str
    close: str
    volume: str


RAW_LIMIT = 2000
