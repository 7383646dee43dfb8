"""``GET /v2/stocks/bars`` as ``StockHistoricalDataClient.get_stock_bars`` sends it (wire contract
sections 2.11, 2.12, 2.17).

The file's bars are served as they are, never resampled: a request whose ``timeframe`` is not
the file's bar spacing gets 422. The file stamps bars at their close; ``t`` is stamped the way
real Alpaca stamps it:
- intraday files: the bar's OPEN time, ``t = close - timeframe`` (so ``t + timeframe`` is again
  the close);
- daily files (``1Day``): 00:00 America/New_York of the New York date of the bar's close, e.g. the
  session closing 2021-02-01T21:00:00Z is served as ``t = "2021-02-01T05:00:00Z"`` (04:00Z in
  summer time). A reader maps a daily ``t`` back to its session close with the exchange calendar.
  Daily files are expected to be stamped at (or at least on the New York date of) the session close.
The ``start`` / ``end`` filters compare against that ``t`` (both inclusive). Only bars closed at
or before the current simulated time are served (no look-ahead). Bars are ordered by symbol, then
time (``sort=desc`` reverses time within a symbol); ``limit`` counts bars across symbols; the page
token is the opaque ``(symbol, close ns)`` of the last bar served, ``null`` on the last page.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from engine.venue.clock import EPOCH, ns_to_datetime
from engine.venue.errors import validation
from engine.venue.replay import Bar, BarReplay
from journal_schema.units import to_decimal

MAX_LIMIT = 10_000  # alpaca-py's page size
DEFAULT_LIMIT = 1000
_TIMEFRAME = re.compile(r"^(\d+)(Min|T|Hour|H|Day|D|Week|W|Month|M)$")
_MINUTES = {"Min": 1, "T": 1, "Hour": 60, "H": 60}
_NY = ZoneInfo("America/New_York")
DAILY = "1Day"


def _canonical(timeframe: str) -> str:
    match = _TIMEFRAME.match(timeframe)
    if match is None:
        raise validation(f"invalid timeframe: {timeframe!r}")
    amount, unit = int(match.group(1)), match.group(2)
    if unit in _MINUTES:
        return f"{amount * _MINUTES[unit]}Min"
    return f"{amount}{unit[0]}"


def _file_canonical(timeframe: str) -> str:
    return "1D" if timeframe == DAILY else timeframe


def bar_t_ns(close_ns: int, timeframe: str | None, timeframe_ns: int) -> int:
    """The ``t`` of the bar closing at ``close_ns``: ``close - timeframe`` intraday, midnight
    America/New_York of the close's New York date for daily bars."""
    if timeframe != DAILY:
        return close_ns - timeframe_ns
    day = ns_to_datetime(close_ns).astimezone(_NY).date()
    midnight = datetime(day.year, day.month, day.day, tzinfo=_NY)
    return (midnight - EPOCH) // timedelta(microseconds=1) * 1000


def _time(raw: str | None, name: str) -> int | None:
    if raw is None or raw == "":
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise validation(f"invalid {name}: {raw!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


def _token(symbol: str, ts: int) -> str:
    return base64.urlsafe_b64encode(f"{symbol}|{ts}".encode()).decode("ascii")


def _untoken(token: str) -> tuple[str, int]:
    try:
        symbol, ts = base64.urlsafe_b64decode(token.encode("ascii")).decode("utf-8").rsplit("|", 1)
        return symbol, int(ts)
    except (ValueError, UnicodeError, binascii.Error):
        raise validation("invalid page_token") from None


def _number(units: int) -> float:
    return float(to_decimal(units))  # shortest repr of the exact 8-place decimal


def bar_json(bar: Bar, t_ns: int) -> dict[str, Any]:
    t = ns_to_datetime(t_ns).strftime("%Y-%m-%dT%H:%M:%SZ")
    volume = to_decimal(bar.volume)
    v: float | int = int(volume) if volume == volume.to_integral_value() else float(volume)
    return {
        "t": t,
        "o": _number(bar.open),
        "h": _number(bar.high),
        "l": _number(bar.low),
        "c": _number(bar.close),
        "v": v,
        "n": None,
        "vw": None,
    }


def bars_page(replay: BarReplay, query: dict[str, list[str]], page_size: int = MAX_LIMIT) -> dict[str, Any]:
    """One page: at most ``min(limit, page_size)`` bars (Alpaca's own pages hold at most 10,000)."""

    def one(name: str) -> str | None:
        values = query.get(name)
        return values[-1] if values else None

    symbols = sorted({s.strip().upper() for s in (one("symbols") or "").split(",") if s.strip()})
    if not symbols:
        raise validation("symbols is required")
    timeframe = one("timeframe")
    if not timeframe:
        raise validation("timeframe is required")
    if replay.timeframe is None or _canonical(timeframe) != _file_canonical(replay.timeframe):
        served = replay.timeframe or "no timeframe (irregular bar spacing)"
        raise validation(f"timeframe {timeframe} is not served: the bar file has {served} bars (no resampling)")
    raw_limit = one("limit") or str(DEFAULT_LIMIT)
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_LIMIT:
        raise validation(f"invalid limit: {raw_limit!r} (1..{MAX_LIMIT})")
    sort = one("sort") or "asc"
    if sort not in ("asc", "desc"):
        raise validation(f"invalid sort: {sort!r}")
    start, end = _time(one("start"), "start"), _time(one("end"), "end")
    token = one("page_token")
    after = _untoken(token) if token else None
    now = replay.now_ns

    def t_of(bar: Bar) -> int:
        return bar_t_ns(bar.ts, replay.timeframe, replay.timeframe_ns)

    selected: list[Bar] = []
    for symbol in symbols:
        rows = [
            b
            for b in replay.closed_bars(symbol, now)
            if (start is None or t_of(b) >= start) and (end is None or t_of(b) <= end)
        ]
        selected.extend(reversed(rows) if sort == "desc" else rows)
    if after is not None:
        keys = [(b.symbol, b.ts) for b in selected]
        selected = selected[keys.index(after) + 1 :] if after in keys else []
    size = min(int(raw_limit), page_size)
    page, rest = selected[:size], selected[size:]
    body: dict[str, list[dict[str, Any]]] = {}
    for bar in page:
        body.setdefault(bar.symbol, []).append(bar_json(bar, t_of(bar)))
    last = page[-1] if page else None
    return {"bars": body, "next_page_token": _token(last.symbol, last.ts) if rest and last else None}
