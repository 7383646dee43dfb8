"""The ordered input stream of a historical run: calendar sessions and validated bars.

The run-dependent edge checks live here: unknown symbol and bar outside a session (the
file-order checks are in ``engine.feeds.table``). ``SessionOpened`` is emitted before the
first row after a session's open, ``SessionClosed`` before the first row after its close
(and at the end), so sessions without bars are still journaled.
"""

from __future__ import annotations

import bisect
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
    examples: dict[str, tuple[int, str, str]] = field(default_factory=dict)  # reason -> first (row, timestamp, detail)
    symbols: set[str] = field(default_factory=set)  # the symbols of accepted bars

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


NEVER = 2**63  # a boundary beyond every timestamp


class SessionCursor:
    """Which calendar sessions have been journaled open / closed: ``current`` is the index of the
    open session (-1 when none), ``nxt`` the index of the next session to open. Historical runs
    make one per file; live runs keep one across poll cycles (``rebase`` when sessions reload)."""

    __slots__ = ("sessions", "current", "nxt")

    def __init__(self, sessions: Sessions, current: int = -1, nxt: int = 0) -> None:
        self.sessions, self.current, self.nxt = sessions, current, nxt

    @classmethod
    def before(cls, sessions: Sessions, ts: int) -> SessionCursor:
        """Nothing journaled yet; the first session to open is the one containing or after ``ts``."""
        return cls(sessions, -1, int(np.searchsorted(sessions.closes, ts, side="left")))

    def boundary(self) -> int:
        """The next time a session opens or closes (rows at or before it cross nothing)."""
        s = self.sessions
        if self.current >= 0:
            return int(s.closes[self.current])
        return int(s.opens[self.nxt]) if self.nxt < len(s) else NEVER

    def cross(self, ts: int) -> list[Event]:
        """Session events for every open / close strictly before ``ts``, in time order."""
        s = self.sessions
        out: list[Event] = []
        if self.current >= 0 and s.closes[self.current] < ts:
            i, self.current = self.current, -1
            out.append(SessionClosed(ts=int(s.closes[i]), session=s.labels[i], calendar=s.calendar))
        while self.nxt < len(s) and s.opens[self.nxt] < ts:
            i = self.nxt
            out.append(
                SessionOpened(ts=int(s.opens[i]), session=s.labels[i], close_ts=int(s.closes[i]), calendar=s.calendar)
            )
            if s.closes[i] < ts:
                out.append(SessionClosed(ts=int(s.closes[i]), session=s.labels[i], calendar=s.calendar))
            else:
                self.current = i
            self.nxt += 1
        return out

    def close_open(self) -> list[Event]:
        """Close the open session now (the end of a historical stream)."""
        if self.current < 0:
            return []
        s, i = self.sessions, self.current
        self.current = -1
        return [SessionClosed(ts=int(s.closes[i]), session=s.labels[i], calendar=s.calendar)]

    def rebase(self, sessions: Sessions) -> None:
        """Carry the position over to a reloaded ``sessions`` (matched by session label)."""
        old = self.sessions
        last = old.labels[self.nxt - 1] if self.nxt > 0 else None
        self.current = sessions.labels.index(old.labels[self.current]) if self.current >= 0 else -1
        self.nxt = bisect.bisect_right(sessions.labels, last) if last is not None else 0
        self.sessions = sessions


CHUNK = 16_384  # rows turned into Python objects at a time: bounds memory on big files

_Row = tuple[int, int, int, str, int, int, int, int, int, str | None]


def _rows(table: BarTable, sessions: Sessions) -> Iterator[_Row]:
    """(row, ts or -1, session index or -1, symbol, o, h, l, c, v, stateless reason), chunk by chunk."""
    for chunk in table.frame.iter_slices(CHUNK):
        ts = chunk["ts"].fill_null(-1).to_numpy()
        cols = [chunk[c].to_list() for c in ("row", "symbol", "open", "high", "low", "close", "volume", "reason")]
        yield from zip(cols[0], ts.tolist(), sessions.locate(ts).tolist(), *cols[1:], strict=True)


def events(
    table: BarTable,
    sessions: Sessions,
    universe: list[str],
    stats: StreamStats,
    clock: int = 0,
    cursor: SessionCursor | None = None,
) -> Iterator[Event]:
    """Session events and validated bars of ``table`` in processing order. Without ``cursor`` the
    stream starts at the first row's session and closes the last one at the end (a historical
    run); with one it continues from there and leaves the open session open (a live poll)."""
    known = frozenset(universe)
    cal = sessions.calendar
    historical = cursor is None
    if cursor is None:
        first_ts = table.frame["ts"].drop_nulls().head(1).to_list()
        cursor = SessionCursor.before(sessions, first_ts[0]) if first_ts else SessionCursor(sessions, -1, len(sessions))
    bound = cursor.boundary()
    rejected, examples, symbols = stats.rejected, stats.examples, stats.symbols
    for row, ts, session, sym, o, h, lo, c, v, stateless in _rows(table, sessions):
        stats.bars_read += 1
        if ts >= 0:
            if ts > bound:
                yield from cursor.cross(ts)
                bound = cursor.boundary()
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
                symbols.add(sym)
                yield BarClosed(ts=ts, symbol=sym, open=o, high=h, low=lo, close=c, volume=v)
                continue
        raw = table.raw_values(row)
        rejected[reason] = rejected.get(reason, 0) + 1
        detail = detail or describe_rejection(reason, raw)
        if reason not in examples:
            examples[reason] = (row, str(raw["timestamp"]), detail)
        yield BarRejected(
            ts=clock,
            reason=reason,  # type: ignore[arg-type]
            detail=detail,
            source_row=row,
            raw=RawBar(**raw),
        )
    if historical:
        yield from cursor.close_open()
