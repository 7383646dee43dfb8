"""Engine values to alpaca-py request objects, checked before any HTTP.

alpaca-py sends ``qty`` and ``limit_price`` as JSON floats (wire contract section 2.1), so a
Fixed8 value goes Fixed8 -> exact ``Decimal`` -> ``float``, and the float's shortest text must
read back as the same Fixed8, or the request is refused here (``ValueError``) rather than sent
with a different number. Everything raised here is a ``ValueError`` (pydantic's
``ValidationError`` is one): the client maps it to ``PROGRAMMING_ERROR`` / ``bad_request``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from typing import Any

from alpaca.data.enums import Adjustment, DataFeed
from alpaca.data.requests import StockBarsRequest
from alpaca.data.timeframe import TimeFrame, TimeFrameUnit
from alpaca.trading.enums import OrderSide, QueryOrderStatus, TimeInForce
from alpaca.trading.requests import GetOrdersRequest, LimitOrderRequest, MarketOrderRequest

from engine.alpaca.parse import ns_to_datetime
from journal_schema.events import OrderSubmitRequested
from journal_schema.units import to_decimal, to_fixed

_TIMEFRAME = re.compile(r"^([1-9]\d*)(Min|Hour|Day|Week|Month)$")
_UNITS = {
    "Min": TimeFrameUnit.Minute,
    "Hour": TimeFrameUnit.Hour,
    "Day": TimeFrameUnit.Day,
    "Week": TimeFrameUnit.Week,
    "Month": TimeFrameUnit.Month,
}
BARS_PAGE_LIMIT = 10_000  # what alpaca-py's get_stock_bars asks for per page


def wire_float(units: int, name: str) -> float:
    """A Fixed8 value as the float alpaca-py will put in the JSON body, exactly."""
    value = float(to_decimal(units))
    if to_fixed(repr(value)) != units:
        raise ValueError(f"{name} {to_decimal(units)} cannot be sent exactly as a JSON float")
    return value


def order_request(req: OrderSubmitRequested) -> MarketOrderRequest | LimitOrderRequest:
    if req.qty <= 0:
        raise ValueError(f"qty must be positive, got {to_decimal(req.qty)}")
    common: dict[str, Any] = {
        "symbol": req.symbol,
        "qty": wire_float(req.qty, "qty"),
        "side": OrderSide(req.side),
        "time_in_force": TimeInForce(req.time_in_force),
        "client_order_id": req.client_order_id,
    }
    if req.order_type == "market":
        if req.limit_price is not None:
            raise ValueError("a market order must not carry a limit_price")
        return MarketOrderRequest(**common)
    if req.order_type == "limit":
        if req.limit_price is None:
            raise ValueError("a limit order needs a limit_price")
        return LimitOrderRequest(**common, limit_price=wire_float(req.limit_price, "limit_price"))
    raise ValueError(f"order type {req.order_type!r} is not supported")


def open_orders_request(limit: int, after_ns: int | None) -> GetOrdersRequest:
    """``status=open&direction=asc&limit=N`` and, after the first page, ``after`` one microsecond
    before the last submission seen (``after`` is exclusive; see ``AlpacaBroker.open_orders``)."""
    after = None if after_ns is None else ns_to_datetime(after_ns - 1000)
    return GetOrdersRequest(status=QueryOrderStatus.OPEN, limit=limit, direction="asc", after=after)


def uuid_text(order_id: str) -> str:
    """alpaca-py refuses a non-UUID id with ValueError before any HTTP (wire contract 1.5)."""
    return str(uuid.UUID(order_id))


def timeframe(text: str) -> TimeFrame:
    """``1Min``, ``5Min``, ``1Hour``, ``1Day``, ``1Week``, ``1Month`` -> alpaca-py's TimeFrame."""
    match = _TIMEFRAME.match(text)
    if match is None:
        raise ValueError(f"timeframe {text!r} is not <n>Min|Hour|Day|Week|Month")
    return TimeFrame(int(match.group(1)), _UNITS[match.group(2)])  # raises ValueError for e.g. 60Min


def bars_params(symbols: Sequence[str], timeframe_text: str, start: int, end: int | None, feed: str) -> dict[str, Any]:
    """The query of every page (alpaca-py converts aware datetimes to UTC, section 2.11)."""
    if isinstance(symbols, str) or not symbols:
        raise ValueError("symbols must be a non-empty sequence of symbols")
    request = StockBarsRequest(
        symbol_or_symbols=list(symbols),
        timeframe=timeframe(timeframe_text),
        start=ns_to_datetime(start),
        end=None if end is None else ns_to_datetime(end),
        feed=DataFeed(feed),
        adjustment=Adjustment.RAW,
    )
    params: dict[str, Any] = request.to_request_fields()
    params["limit"] = BARS_PAGE_LIMIT
    return params
