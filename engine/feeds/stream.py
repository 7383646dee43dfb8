"""The ordered input stream of a historical run: calendar sessions and validated bars.

The stateful edge checks live here: unknown symbol, duplicate bar, timestamp not after
that symbol's previous bar, bar outside a session. ``SessionOpened`` is emitted before the
first row after a session's open, ``SessionClosed`` before the first row after its close
(and at the end), so sessions without bars are still journaled.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from engine.feeds.calendar import Sessions
from engine.feeds.table import COLUMNS, BarTable, describe_rejection
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


def events(table: BarTable, sessions: Sessions, universe: list[str], stats: StreamStats,
           clock: int = 0) -> Iterator[Event]:
    frame = table.frame
    ts_col = frame["ts"].fill_null(-1).to_numpy()
    session_idx = sessions.locate(ts_col).tolist()
    known = frozenset(universe)
    opens, closes, labels, cal = sessions.opens.tolist(), sessions.closes.tolist(), sessions.labels, sessions.calendar
    valid_ts = ts_col[ts_col >= 0]
    nxt = int(np.searchsorted(sessions.closes, valid_ts[0], side="left")) if len(valid_ts) else len(labels)
    current = -1  # index of the open session, -1 when none is open
    last: dict[str, tuple[int, int, int, int, int, int]] = {}
    cols = [frame[c].to_list() for c in ("row", "symbol", "open", "high", "low", "close", "volume", "reason")]
    raw_frame = frame.select([f"raw_{c}" for c in COLUMNS])  # read per rejected row only
    rejected = stats.rejected
    for i, (row, sym, o, h, lo, c, v, stateless) in enumerate(zip(*cols, strict=True)):
        ts = int(ts_col[i])
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
            elif session_idx[i] < 0:
                reason, detail = "OUTSIDE_SESSION", f"no {cal} session contains this timestamp"
            else:
                prev = last.get(sym)
                values = (ts, o, h, lo, c, v)
                if prev is not None and ts <= prev[0]:
                    if values == prev:
                        reason, detail = "DUPLICATE_BAR", "same bar as the previous one for this symbol"
                    else:
                        reason, detail = "TIMESTAMP_NOT_INCREASING", "not after this symbol's previous bar"
                else:
                    last[sym] = values
                    stats.bars_accepted += 1
                    yield BarClosed(ts=ts, symbol=sym, open=o, high=h, low=lo, close=c, volume=v)
                    continue
        raw = dict(zip(COLUMNS, raw_frame.row(i), strict=True))
        rejected[reason] = rejected.get(reason, 0) + 1
        yield BarRejected(
            ts=clock, reason=reason, detail=detail or describe_rejection(reason, raw),
            source_row=row, raw=RawBar(**raw),
        )
    if current >= 0:
        yield SessionClosed(ts=closes[current], session=labels[current], calendar=cal)
