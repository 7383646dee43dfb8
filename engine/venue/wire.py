"""JSON in and out, exactly as alpaca-py 0.44.0 sends and parses it (docs/design/alpaca-wire-contract.md).

In: ``POST /v2/orders`` bodies carry ``qty`` / ``limit_price`` as JSON floats (``10.0``); they are
decoded with ``parse_float=Decimal`` and normalised to exact decimal text (``"10"``). Query
datetimes are RFC 3339 with any offset. Out: decimal strings for quantities and money, UTC ``Z``
timestamps on orders, an explicit US/Eastern offset on the clock, UUIDs for every id.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from engine.venue.clock import ClockReading
from engine.venue.errors import CODE_MALFORMED, VenueError, validation
from engine.venue.orders import NewOrder, VenueOrder

_NY = ZoneInfo("America/New_York")
ASSET_NAMESPACE = uuid.UUID("2b8e6d14-7a3f-5c09-b1e2-9f4d6a7c8e31")
ACCOUNT_ID = "1d5493c9-ea39-4377-aa94-340734c368ae"
ACCOUNT_NUMBER = "PA0VENUE0001"
RATIO_QUANT = Decimal("0.00000001")
MAX_CLIENT_ORDER_ID = 128  # Alpaca's documented limit; unverified in alpaca-py (wire contract 2.1)

SIDES = frozenset({"buy", "sell"})
TYPES = frozenset({"market", "limit"})  # stop, stop_limit, trailing_stop: not served in this slice
TIME_IN_FORCE = frozenset({"day", "gtc", "opg", "cls", "ioc", "fok"})


def utc_text(moment: datetime) -> str:
    """``2024-01-02T14:30:00.123456Z``: fixed width, so text order is time order."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment!r}")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def decimal_text(value: Decimal) -> str:
    """Exact, normalised, never in exponent form: ``Decimal('10.0')`` -> ``"10"``."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text


def parse_json_body(body: bytes) -> Any:
    try:
        return json.loads(body.decode("utf-8"), parse_float=Decimal, parse_int=Decimal)
    except (UnicodeDecodeError, ValueError):
        raise VenueError(400, CODE_MALFORMED, "request body format is invalid") from None


def _positive_decimal(body: dict[str, Any], key: str) -> str:
    raw = body.get(key)
    if isinstance(raw, str):
        try:
            raw = Decimal(raw)
        except InvalidOperation:
            raise validation(f"invalid {key}") from None
    if not isinstance(raw, Decimal) or not raw.is_finite() or raw <= 0:
        raise validation(f"{key} must be a positive number")
    return decimal_text(raw)


def _choice(body: dict[str, Any], key: str, allowed: frozenset[str]) -> str:
    raw = body.get(key)
    if raw is None:
        raise validation(f"{key} is required")
    if not isinstance(raw, str) or raw not in allowed:
        raise validation(f"invalid {key}: {raw!r}")
    return raw


def decode_new_order(body: bytes) -> NewOrder:
    """Validate a ``POST /v2/orders`` body (simple market and limit orders by ``qty``)."""
    data = parse_json_body(body)
    if not isinstance(data, dict):
        raise VenueError(400, CODE_MALFORMED, "request body format is invalid")
    if data.get("order_class") not in (None, "", "simple"):
        raise validation(f"order_class {data['order_class']!r} is not supported by the venue")
    if data.get("notional") is not None:
        raise validation("notional orders are not supported by the venue")
    symbol = data.get("symbol")
    if not isinstance(symbol, str) or not symbol.strip():
        raise validation("symbol is required")
    side = _choice(data, "side", SIDES)
    order_type = _choice(data, "type", TYPES)
    tif = _choice(data, "time_in_force", TIME_IN_FORCE)
    if data.get("qty") is None:
        raise validation("qty is required")
    qty = _positive_decimal(data, "qty")
    limit_price: str | None = None
    if order_type == "limit":
        if data.get("limit_price") is None:
            raise validation("limit_price is required for limit orders")
        limit_price = _positive_decimal(data, "limit_price")
    elif data.get("limit_price") is not None or data.get("stop_price") is not None:
        raise validation("market orders must not carry a price")
    extended = data.get("extended_hours", False)
    if not isinstance(extended, bool):
        raise validation("extended_hours must be a boolean")
    cid = data.get("client_order_id")
    if cid is not None:
        if not isinstance(cid, str) or not cid:
            raise validation("client_order_id must be a non-empty string")
        if len(cid) > MAX_CLIENT_ORDER_ID:
            raise validation(f"client_order_id must be no more than {MAX_CLIENT_ORDER_ID} characters")
    return NewOrder(
        symbol=symbol.strip().upper(),
        side=side,
        type=order_type,
        time_in_force=tif,
        qty=qty,
        limit_price=limit_price,
        extended_hours=extended,
        client_order_id=cid,
    )


def parse_query_time(raw: str, name: str) -> str:
    """An RFC 3339 query datetime (any offset; naive means UTC) as venue UTC text."""
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise validation(f"invalid {name}: {raw!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return utc_text(moment)


def order_json(order: VenueOrder) -> dict[str, Any]:
    """The Order body (wire contract section 2.13, "recommended venue Order")."""
    return {
        "id": order.id,
        "client_order_id": order.client_order_id,
        "created_at": order.created_at,
        "updated_at": order.updated_at,
        "submitted_at": order.submitted_at,
        "filled_at": order.filled_at,
        "expired_at": order.expired_at,
        "canceled_at": order.canceled_at,
        "failed_at": None,
        "replaced_at": None,
        "replaced_by": None,
        "replaces": None,
        "asset_id": asset_id(order.symbol),
        "symbol": order.symbol,
        "asset_class": "us_equity",
        "notional": None,
        "qty": order.qty,
        "filled_qty": order.filled_qty,
        "filled_avg_price": order.filled_avg_price,
        "order_class": "simple",
        "order_type": order.type,
        "type": order.type,
        "side": order.side,
        "time_in_force": order.time_in_force,
        "limit_price": order.limit_price,
        "stop_price": None,
        "status": order.status,
        "extended_hours": order.extended_hours,
        "legs": None,
        "trail_percent": None,
        "trail_price": None,
        "hwm": None,
    }


def account_json(
    cash: Decimal, long_market_value: Decimal = Decimal(0), short_market_value: Decimal = Decimal(0)
) -> dict[str, Any]:
    """The paper cash account; money fields are strict strings (wire contract section 2.15).

    ``equity = portfolio_value = cash + long + short`` (short market value is negative);
    buying power is the cash (no margin). ``last_equity`` is reported as the current equity
    (the venue keeps no end-of-day equity history)."""
    equity = decimal_text(cash + long_market_value + short_market_value)
    text = decimal_text(cash)
    return {
        "id": ACCOUNT_ID,
        "account_number": ACCOUNT_NUMBER,
        "status": "ACTIVE",
        "currency": "USD",
        "cash": text,
        "buying_power": text,
        "regt_buying_power": text,
        "non_marginable_buying_power": text,
        "equity": equity,
        "last_equity": equity,
        "portfolio_value": equity,
        "long_market_value": decimal_text(long_market_value),
        "short_market_value": decimal_text(short_market_value),
        "initial_margin": "0",
        "maintenance_margin": "0",
        "multiplier": "1",
        "pattern_day_trader": False,
        "trading_blocked": False,
        "transfers_blocked": False,
        "account_blocked": False,
        "shorting_enabled": False,
        "trade_suspended_by_user": False,
    }


def asset_id(symbol: str) -> str:
    return str(uuid.uuid5(ASSET_NAMESPACE, symbol))


def _ratio(num: Decimal, den: Decimal) -> str:
    return decimal_text((num / den).quantize(RATIO_QUANT, rounding=ROUND_HALF_EVEN)) if den else "0"


def position_json(
    symbol: str,
    qty: Decimal,
    cost: Decimal,
    avg_entry_price: Decimal,
    current_price: Decimal,
    lastday_price: Decimal | None,
) -> dict[str, Any]:
    """The Position body, every amount a string (wire contract section 2.14). ``qty``,
    ``cost_basis``, ``market_value`` and the P&L are signed (negative when short); ratios are
    rounded half-even to 8 places. Without an earlier session close, the day fields are absent."""
    market_value = qty * current_price
    pl = market_value - cost
    body: dict[str, Any] = {
        "asset_id": asset_id(symbol),
        "symbol": symbol,
        "exchange": "NASDAQ",  # the venue does not know listings; any AssetExchange value parses
        "asset_class": "us_equity",
        "asset_marginable": False,
        "avg_entry_price": decimal_text(avg_entry_price),
        "qty": decimal_text(qty),
        "qty_available": decimal_text(qty),
        "side": "long" if qty > 0 else "short",
        "market_value": decimal_text(market_value),
        "cost_basis": decimal_text(cost),
        "unrealized_pl": decimal_text(pl),
        "unrealized_plpc": _ratio(pl, abs(cost)),
        "current_price": decimal_text(current_price),
    }
    if lastday_price is not None:
        intraday = qty * (current_price - lastday_price)
        body.update(
            {
                "lastday_price": decimal_text(lastday_price),
                "change_today": _ratio(current_price - lastday_price, lastday_price),
                "unrealized_intraday_pl": decimal_text(intraday),
                "unrealized_intraday_plpc": _ratio(intraday, abs(qty * lastday_price)),
            }
        )
    return body


def clock_json(reading: ClockReading) -> dict[str, Any]:
    """The Clock body with explicit US/Eastern offsets (wire contract section 2.16)."""
    return {
        "timestamp": reading.timestamp.astimezone(_NY).isoformat(timespec="microseconds"),
        "is_open": reading.is_open,
        "next_open": reading.next_open.astimezone(_NY).isoformat(),
        "next_close": reading.next_close.astimezone(_NY).isoformat(),
    }


def error_json(error: VenueError) -> dict[str, Any]:
    return {"code": error.code, "message": error.message}


def encode(payload: object) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode("utf-8")
