"""Polled broker bars to journal inputs, through the same edge checks as bar files.

Alpaca stamps a bar with its OPEN time ``t``; the journal stamps bars at their close: ``t +
timeframe`` for minute and hour bars, and the session close of the bar's New York trading date
for daily bars (Alpaca's daily ``t`` is midnight America/New_York of that date). A bar counts
once it has closed at the broker's clock. Bars already journaled (close at or before the last
journaled bar of the symbol) are dropped silently: they are the overlap of two polls, not bad
input. The rest become a text table checked by ``engine.feeds.table.parse`` (parse errors,
prices, ranges, volume, repeats, order) and streamed by ``engine.feeds.stream.events`` with a
``SessionCursor`` that lives across polls (universe, sessions, session boundaries).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import msgspec
import polars as pl

from engine.alpaca.model import BrokerBar
from engine.feeds.calendar import Sessions
from engine.feeds.stream import SessionCursor, StreamStats, events
from engine.feeds.table import COLUMNS, BarTable
from journal_schema.events import BarClosed, BarRejected, Event

NY = ZoneInfo("America/New_York")
NANOS = 1_000_000_000
_TIMEFRAME = re.compile(r"^([1-9][0-9]*)(Min|Hour|Day)$")
_UNIT_NS = {"Min": 60 * NANOS, "Hour": 3600 * NANOS}


@dataclass(frozen=True)
class Timeframe:
    text: str  # as Alpaca writes it: "1Day", "5Min", "1Hour"
    span_ns: int  # 0 for daily bars (their close comes from the calendar)

    @classmethod
    def parse(cls, text: str) -> Timeframe:
        m = _TIMEFRAME.match(text)
        if m is None:
            raise ValueError(f"unsupported timeframe {text!r}: use NMin, NHour or 1Day")
        amount, unit = int(m.group(1)), m.group(2)
        if unit == "Day":
            if amount != 1:
                raise ValueError(f"unsupported timeframe {text!r}: daily bars are 1Day")
            return cls(text, 0)
        return cls(text, amount * _UNIT_NS[unit])

    @property
    def daily(self) -> bool:
        return self.span_ns == 0


def to_utc(ns: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=ns // 1000)


def _ns(moment: datetime) -> int:
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * NANOS + delta.microseconds * 1000


def close_ts(bar_t: int, timeframe: Timeframe, sessions: Sessions) -> int:
    """The journal timestamp (close) of a bar that opened at ``bar_t``."""
    if not timeframe.daily:
        return bar_t + timeframe.span_ns
    day = to_utc(bar_t).astimezone(NY).date()
    close = sessions.close_of(day)
    # not a session of the calendar: stamp 16:00 New York, so the bar is rejected OUTSIDE_SESSION
    return close if close is not None else _ns(datetime.combine(day, time(16), NY).astimezone(UTC))


def query_start(last_close: int, timeframe: Timeframe) -> int:
    """The ``start`` (bar open time, inclusive) that asks for the bars after one closing at ``last_close``."""
    if not timeframe.daily:
        return last_close - timeframe.span_ns + 1
    day = to_utc(last_close).astimezone(NY).date()
    return _ns(datetime.combine(day, time(0), NY).astimezone(UTC)) + 1


def _iso(ns: int) -> str:
    return to_utc(ns).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def bar_events(
    bars: list[BrokerBar],
    timeframe: Timeframe,
    cursor: SessionCursor,
    universe: list[str],
    last_close: dict[str, int],
    now: int,
    stats: StreamStats,
) -> list[Event]:
    """Journal inputs for the bars of one poll that closed after ``last_close[symbol]`` and at or
    before ``now``, with the session events between them; each bar carries ``received_ts = now``
    (its data age for the policy gate). Updates ``last_close``."""
    sessions = cursor.sessions
    rows: list[tuple[int, BrokerBar]] = []
    for b in bars:
        ts = close_ts(b.t, timeframe, sessions)
        if ts <= now and ts > last_close.get(b.symbol, -1):
            rows.append((ts, b))
    if not rows:
        return []
    rows.sort(key=lambda r: (r[0], r[1].symbol))
    text = pl.DataFrame(
        [[_iso(ts), b.symbol, b.open, b.high, b.low, b.close, b.volume] for ts, b in rows],
        schema=list(COLUMNS),
        orient="row",
    )
    table = BarTable.from_text(text, "", "broker")
    out = [
        msgspec.structs.replace(e, received_ts=now) if type(e) is BarClosed else e
        for e in events(table, sessions, universe, stats, clock=rows[0][0], cursor=cursor)
    ]
    for ts, b in rows:
        last_close[b.symbol] = max(last_close.get(b.symbol, -1), ts)
    return out


def last_bar_close(ev: Event, last_close: dict[str, int]) -> None:
    """Fold a journaled bar (accepted or rejected) into ``last_close`` when the journal is reopened."""
    if type(ev) is BarClosed:
        assert isinstance(ev, BarClosed)
        last_close[ev.symbol] = max(last_close.get(ev.symbol, -1), ev.ts)
    elif type(ev) is BarRejected:
        assert isinstance(ev, BarRejected)
        raw = ev.raw
        if raw.symbol is None or raw.timestamp is None:
            return
        try:
            moment = datetime.fromisoformat(raw.timestamp.replace("Z", "+00:00"))
        except ValueError:
            return
        if moment.tzinfo is not None:
            last_close[raw.symbol] = max(last_close.get(raw.symbol, -1), _ns(moment))
