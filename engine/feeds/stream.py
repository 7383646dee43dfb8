"""The ordered input stream of a historical run: calendar sessions and validated bars.

The run-dependent edge checks live here: unknown symbol and bar outside a session (the
file-order checks are in ``engine.feeds.table``). ``SessionOpened`` is emitted before the
first row after a session's open, ``SessionClosed`` before the first row after its close
(and at the end), so sessions without bars are still journaled.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from engine.feeds.calendar import Sessions
from engine.feeds.table import BarTable, describe_rejection
from journal_schema.events import BarClosed, BarRejected, Event, RawBar, SessionClosed, SessionOpened


@dataclass
class StreamStats:
    bars_read: int = 0
    bars_accepted: int = 0
    rejected: dict[str, int] = field(default_factory=dict)

    @property
    def bars_rejected(self) -> int:
        return sum(self.rejected.values())


def universe_of(table: BarTable, configured: list[str]) -> list[str]:
    """The configured universe, or every symbol that appears in a row of the file."""
    if configured:
        return sorted(set(configured))
    syms = table.frame["symbol"].drop_nulls().unique().to_list()
    return sorted(s for s in syms if s)


def start_ts(table: BarTable, sessions: Sessions) -> int:
    """Stream start: the open of the first session touching the data (else the first bar)."""
    ts = table.frame["ts"].drop_nulls()
    if ts.is_empty():
        return 0
    first = int(ts.min())  # type: ignore[arg-type]
    idx = int(np.searchsorted(sessions.closes, first, side="left"))
    if idx < len(sessions) and int(sessions.opens[idx]) < first:
        return int(sessions.opens[idx])
    return first


CHUNK = 65_536  # rows turned into Python objects at a time: bounds memory on big files

_Row = tuple[int, int, int, str, int, int, int, int, int, str | None]


def _rows(table: BarTable, sessions: Sessions) -> Iterator[_Row]:
    """(row, ts or -1, session index or -1, symbol, o, h, l, c, v, stateless reason), chunk by chunk."""
    for chunk in table.frame.iter_slices(CHUNK):
        ts = chunk["ts"].fill_null(-1).to_numpy()
        cols = [chunk[c].to_list() for c in ("row", "symbol", "open", "high", "low", "close", "volume", "reason")]
        yield from zip(cols[0], ts.tolist(), sessions.locate(ts).tolist(), *cols[1:], strict=True)


def events(table: BarTable, sessions: Sessions, universe: list[str], stats: StreamStats,
           clock: int = 0) -> Iterator[Event]:
    known = frozenset(universe)
    opens, closes, labels, cal = sessions.opens.tolist(), sessions.closes.tolist(), sessions.labels, sessions.calendar
    first_ts = table.frame["ts"].drop_nulls().head(1).to_list()
    nxt = int(np.searchsorted(sessions.closes, first_ts[0], side="left")) if first_ts else len(labels)
    current = -1  # index of the open session, -1 when none is open
    rejected = stats.rejected
    for row, ts, session, sym, o, h, lo, c, v, stateless in _rows(table, sessions):
        stats.bars_read += 1
        if ts >= 0:
            if current >= 0 and closes[current] < ts:
                yield SessionClosed(ts=closes[current], session=labels[current], calendar=cal)
                current = -1
            while nxt < len(labels) and opens[nxt] < ts:
                yield SessionOpened(ts=opens[nxt], session=labels[nxt], close_ts=closes[nxt], calendar=cal)
                if closes[nxt] < ts:
                    yield SessionClosed(ts=closes[nxt], session=labels[nxt], calendar=cal)
                else:
                    current = nxt
                nxt += 1
            clock = ts
        detail = ""
        reason = stateless
        if reason is None:
            if sym not in known:
                reason, detail = "UNKNOWN_SYMBOL", f"{sym!r} is not in the universe"
            elif session < 0:
                reason, detail = "OUTSIDE_SESSION", f"no {cal} session contains this timestamp"
            else:
                stats.bars_accepted += 1
                yield BarClosed(ts=ts, symbol=sym, open=o, high=h, low=lo, close=c, volume=v)
                continue
        raw = table.raw_values(row)
        rejected[reason] = rejected.get(reason, 0) + 1
        yield BarRejected(
            ts=clock, reason=reason, detail=detail or describe_rejection(reason, raw),  # type: ignore[arg-type]
            source_row=row, raw=RawBar(**raw),
        )
    if current >= 0:
        yield SessionClosed(ts=closes[current], session=labels[current], calendar=cal)
