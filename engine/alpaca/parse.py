"""Alpaca JSON (as ``raw_data=True`` returns it: decoded dicts and lists) to ``engine.alpaca.model``.

Each body is first checked against a msgspec ``Struct`` of the fields the engine needs (extra
fields are ignored), then converted: decimal text to Fixed8 with ``to_fixed`` (JSON numbers
that are floats are refused, ints are exact and accepted), RFC 3339 timestamps to int ns
exactly, without going through float or ``datetime`` fractions. Anything that does not fit
raises ``ParseError`` (or ``msgspec.ValidationError``); the client maps both to
``PROVIDER_SCHEMA`` / ``unparseable``. An order's status is passed through as text.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Literal

import msgspec

from engine.alpaca.model import (
    RAW_LIMIT,
    BrokerAccount,
    BrokerBar,
    BrokerClock,
    BrokerOrder,
    BrokerPosition,
    UnparseableOrder,
)
from journal_schema.units import FixedPointError, to_fixed, ts_accepted

Decimalish = str | int  # what Alpaca sends for a decimal (it sends strings; ints are exact too)
Number = int | float | str  # a bar value as JSON decoded it
NANOS = 1_000_000_000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_EXPONENT = 30  # decimal digits either side of the point that a broker number may have
_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):?(\d{2}))$"
)


class ParseError(ValueError):
    """A broker body has the right shape but a value that cannot be used."""


class _Order(msgspec.Struct):
    id: str
    client_order_id: str
    symbol: str
    side: Literal["buy", "sell"]
    time_in_force: str
    status: str
    created_at: str
    filled_qty: Decimalish
    qty: Decimalish | None = None
    filled_avg_price: Decimalish | None = None
    limit_price: Decimalish | None = None
    order_type: str | None = None
    type: str | None = None
    updated_at: str | None = None
    submitted_at: str | None = None
    filled_at: str | None = None
    canceled_at: str | None = None
    expired_at: str | None = None
    failed_at: str | None = None
    replaced_at: str | None = None
    replaced_by: str | None = None


class _Position(msgspec.Struct):
    symbol: str
    qty: Decimalish
    side: Literal["long", "short"]
    avg_entry_price: Decimalish


class _Account(msgspec.Struct):
    status: str
    cash: Decimalish
    equity: Decimalish
    buying_power: Decimalish
    trading_blocked: bool


class _Clock(msgspec.Struct):
    timestamp: str
    is_open: bool
    next_open: str
    next_close: str


class _CancelResult(msgspec.Struct):
    id: str
    status: int


class _Bar(msgspec.Struct):
    t: str
    o: Number
    h: Number
    low: Number = msgspec.field(name="l")
    c: Number
    v: Number


class _BarsPage(msgspec.Struct):
    bars: dict[str, list[_Bar]]
    next_page_token: str | None = None


def rfc3339_ns(text: str, name: str = "timestamp") -> int:
    """``2024-01-02T14:30:00.123456789Z`` or ``...-05:00`` to int ns UTC, exactly; a time outside what a
    journal holds (``journal_schema.units.ts_accepted``) is a ``ParseError``."""
    match = _RFC3339.match(text)
    if match is None:
        raise ParseError(f"{name}: not an RFC 3339 timestamp with a zone: {text[:60]!r}")
    y, mo, d, h, mi, s, frac, z, sign, oh, om = match.groups()
    offset = timedelta(0) if z else (1 if sign == "+" else -1) * timedelta(hours=int(oh), minutes=int(om))
    try:
        moment = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), tzinfo=timezone(offset))
    except ValueError as exc:  # day 31 of February, hour 25, an offset of a day or more
        raise ParseError(f"{name}: {exc}: {text[:60]!r}") from None
    delta = moment - EPOCH
    whole = (delta.days * 86_400 + delta.seconds) * NANOS
    ns = whole + (int(frac.ljust(9, "0")) if frac else 0)
    if not ts_accepted(ns):
        raise ParseError(f"{name}: outside the range a journal holds (1970-01-02 to 2262-04-01): {text[:60]!r}")
    return ns


def ns_to_datetime(ns: int) -> datetime:
    """int ns UTC to an aware datetime, truncated to microseconds (what alpaca-py can send)."""
    return EPOCH + timedelta(microseconds=ns // 1000)


def _fixed(name: str, value: Decimalish) -> int:
    """Exact decimal text (or an int) to Fixed8, half-even past 8 places. Magnitudes are bounded
    first: ``"1e999999999"`` is a valid Decimal whose Fixed8 int would take minutes to build."""
    try:
        magnitude = Decimal(value).adjusted() if isinstance(value, str) else len(str(abs(value))) - 1
    except InvalidOperation:
        raise ParseError(f"{name}: not a decimal number: {str(value)[:40]!r}") from None
    if not -MAX_EXPONENT <= magnitude <= MAX_EXPONENT:
        raise ParseError(f"{name}: out of range: {str(value)[:40]!r}")
    try:
        return to_fixed(value)
    except FixedPointError as exc:
        raise ParseError(f"{name}: {exc}") from None


def _opt_fixed(name: str, value: Decimalish | None) -> int | None:
    return None if value is None else _fixed(name, value)


def _opt_ns(name: str, value: str | None) -> int | None:
    return None if value is None else rfc3339_ns(value, name)


def order(raw: object) -> BrokerOrder:
    o = msgspec.convert(raw, _Order)
    order_type = o.order_type or o.type
    if not order_type:
        raise ParseError("order has neither order_type nor type")
    return BrokerOrder(
        id=o.id,
        client_order_id=o.client_order_id,
        symbol=o.symbol,
        side=o.side,
        order_type=order_type,
        time_in_force=o.time_in_force,
        qty=_opt_fixed("qty", o.qty),
        filled_qty=_fixed("filled_qty", o.filled_qty),
        filled_avg_price=_opt_fixed("filled_avg_price", o.filled_avg_price),
        limit_price=_opt_fixed("limit_price", o.limit_price),
        status=o.status,
        created_at=rfc3339_ns(o.created_at, "created_at"),
        updated_at=_opt_ns("updated_at", o.updated_at),
        submitted_at=_opt_ns("submitted_at", o.submitted_at),
        filled_at=_opt_ns("filled_at", o.filled_at),
        canceled_at=_opt_ns("canceled_at", o.canceled_at),
        expired_at=_opt_ns("expired_at", o.expired_at),
        failed_at=_opt_ns("failed_at", o.failed_at),
        replaced_at=_opt_ns("replaced_at", o.replaced_at),
        replaced_by=o.replaced_by,
    )


def raw_text(raw: object) -> str:
    """JSON text of a decoded value, at most ``RAW_LIMIT`` characters."""
    try:
        text = json.dumps(raw, ensure_ascii=False, default=repr)
    except (TypeError, ValueError):  # a circular structure cannot come from JSON; be safe anyway
        text = repr(raw)
    return text[:RAW_LIMIT]


def _text_field(raw: object, key: str) -> str | None:
    value = raw.get(key) if isinstance(raw, dict) else None
    return value if isinstance(value, str) else None


def order_or_unparseable(raw: object) -> BrokerOrder | UnparseableOrder:
    try:
        return order(raw)
    except (msgspec.ValidationError, ValueError) as exc:  # ParseError is a ValueError
        detail = " ".join(str(exc).split())
    return UnparseableOrder(_text_field(raw, "client_order_id"), _text_field(raw, "id"), detail, raw_text(raw))


def order_list(raw: object) -> list[BrokerOrder | UnparseableOrder]:
    """A JSON array of orders; one bad order does not hide the others."""
    if not isinstance(raw, list):
        raise ParseError(f"expected a JSON array of orders, got {type(raw).__name__}")
    return [order_or_unparseable(item) for item in raw]


def submitted_ns(item: BrokerOrder | UnparseableOrder, raw: object) -> int | None:
    """When an order in a list was submitted (pagination key); None when it cannot be told."""
    if isinstance(item, BrokerOrder):
        return item.submitted_at if item.submitted_at is not None else item.created_at
    text = _text_field(raw, "submitted_at") or _text_field(raw, "created_at")
    if text is None:
        return None
    try:
        return rfc3339_ns(text)
    except ParseError:
        return None


def positions(raw: object) -> list[BrokerPosition]:
    out = []
    for p in msgspec.convert(raw, list[_Position]):
        qty = _fixed(f"{p.symbol} qty", p.qty)
        if p.side == "long" and qty < 0:
            raise ParseError(f"{p.symbol}: long position with negative qty")
        out.append(
            BrokerPosition(
                p.symbol,
                -abs(qty) if p.side == "short" else qty,
                _fixed(f"{p.symbol} avg_entry_price", p.avg_entry_price),
            )
        )
    return out


def account(raw: object) -> BrokerAccount:
    a = msgspec.convert(raw, _Account)
    return BrokerAccount(
        a.status,
        _fixed("cash", a.cash),
        _fixed("equity", a.equity),
        _fixed("buying_power", a.buying_power),
        a.trading_blocked,
    )


def clock(raw: object) -> BrokerClock:
    c = msgspec.convert(raw, _Clock)
    return BrokerClock(
        rfc3339_ns(c.timestamp, "timestamp"),
        c.is_open,
        rfc3339_ns(c.next_open, "next_open"),
        rfc3339_ns(c.next_close, "next_close"),
    )


def cancel_results(raw: object) -> list[tuple[str, int]]:
    return [(r.id, r.status) for r in msgspec.convert(raw, list[_CancelResult])]


def _number_text(value: Number) -> str:
    return value if isinstance(value, str) else str(value)  # float: shortest repr; nan/inf as "nan"/"inf"


def bars_page(raw: object) -> tuple[list[BrokerBar], str | None]:
    """One ``/v2/stocks/bars`` page: its bars and the next page token (None on the last page)."""
    page = msgspec.convert(raw, _BarsPage)
    out = [
        BrokerBar(
            symbol,
            rfc3339_ns(b.t, f"{symbol} t"),
            _number_text(b.o),
            _number_text(b.h),
            _number_text(b.low),
            _number_text(b.c),
            _number_text(b.v),
        )
        for symbol, rows in page.bars.items()
        for b in rows
    ]
    return out, page.next_page_token or None
