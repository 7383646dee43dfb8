"""The venue's market clock: a bar file replayed one bar timestamp at a time.

``BarReplay`` holds the accepted rows of a ``BarTable`` (rows with a rejection reason are
left out) in timestamp order. Simulated time starts one bar spacing before the first bar (the
first bar's open) and each ``advance`` moves it to the next bar timestamp, where every
symbol's bar stamped at that time closes together. Bars are stamped at their close.

``ReplayDriver`` advances in real time: ``speed`` is simulated seconds per wall second, so at
speed 60 one-minute bars are replayed one per wall second. A gap longer than one bar spacing
(overnight, weekends, missing bars) costs one bar spacing of wall time, so closed-market time
is skipped instead of waited out.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from engine.feeds.table import BarTable

NANOS = 1_000_000_000
MINUTE_NS = 60 * NANOS
DAY_NS = 86_400 * NANOS
DAILY_MIN_SPACING_NS = 18 * 3600 * NANOS  # a spacing this long or longer means daily bars


@dataclass(frozen=True, slots=True)
class Bar:
    ts: int  # close time, ns UTC
    symbol: str
    open: int  # 1e-8 units
    high: int
    low: int
    close: int
    volume: int


def _timeframe(spacing_ns: int) -> tuple[str | None, int]:
    """Alpaca timeframe text of the file's bar spacing and its length in ns (None: not served)."""
    if spacing_ns >= DAILY_MIN_SPACING_NS:
        return "1Day", DAY_NS
    if spacing_ns % MINUTE_NS == 0:
        return f"{spacing_ns // MINUTE_NS}Min", spacing_ns
    return None, spacing_ns


class BarReplay:
    def __init__(self, table: BarTable, now_ns: int | None = None) -> None:
        frame = table.frame.filter(pl.col("reason").is_null()).sort(["ts", "symbol"], maintain_order=True)
        cols = ("ts", "symbol", "open", "high", "low", "close", "volume")
        bars = [Bar(*row) for row in frame.select(cols).iter_rows()]
        if not bars:
            raise ValueError(f"{table.source}: no usable bars to replay")
        self.by_ts: dict[int, list[Bar]] = {}
        self.by_symbol: dict[str, list[Bar]] = {}
        for bar in bars:
            self.by_ts.setdefault(bar.ts, []).append(bar)
            self.by_symbol.setdefault(bar.symbol, []).append(bar)
        self.times = sorted(self.by_ts)
        self._symbol_ts = {s: [b.ts for b in rows] for s, rows in self.by_symbol.items()}
        gaps = [b.ts - a.ts for rows in self.by_symbol.values() for a, b in zip(rows, rows[1:], strict=False)]
        self.spacing_ns = min(gaps) if gaps else MINUTE_NS
        self.timeframe, self.timeframe_ns = _timeframe(self.spacing_ns)
        self.origin_ns = self.times[0] - self.spacing_ns
        self._lock = threading.Lock()
        self._now = self.origin_ns if now_ns is None else now_ns

    @property
    def now_ns(self) -> int:
        with self._lock:
            return self._now

    def next_ts(self) -> int | None:
        """The next bar timestamp after the current simulated time, or None at the end."""
        with self._lock:
            i = bisect.bisect_right(self.times, self._now)
        return self.times[i] if i < len(self.times) else None

    def advance_to(self, ts: int) -> None:
        with self._lock:
            if ts < self._now:
                raise ValueError("the replay never moves backwards")
            self._now = ts

    def last_bar(self, symbol: str, at_or_before: int) -> Bar | None:
        """The latest bar of ``symbol`` closed at or before ``at_or_before``."""
        times = self._symbol_ts.get(symbol)
        if not times:
            return None
        i = bisect.bisect_right(times, at_or_before)
        return self.by_symbol[symbol][i - 1] if i else None

    def closed_bars(self, symbol: str, until_ns: int) -> list[Bar]:
        """Bars of ``symbol`` closed at or before ``until_ns`` (no look-ahead), oldest first."""
        times = self._symbol_ts.get(symbol, [])
        return self.by_symbol.get(symbol, [])[: bisect.bisect_right(times, until_ns)]

    def replayed(self) -> list[Bar]:
        """Every bar already replayed (closed at or before the current simulated time), in the
        order ``step`` meets them: by timestamp, then symbol."""
        done = self.times[: bisect.bisect_right(self.times, self.now_ns)]
        return [bar for ts in done for bar in self.by_ts[ts]]


class ReplayDriver:
    """Calls ``step`` in a background thread at ``speed`` simulated seconds per wall second."""

    def __init__(self, replay: BarReplay, step: Callable[[], int | None], speed: float) -> None:
        if not speed > 0:
            raise ValueError("speed must be positive (simulated seconds per wall second)")
        self.replay = replay
        self.step = step
        self.speed = speed
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def delay_seconds(self) -> float | None:
        """Wall seconds to wait before the next step, or None when the file is exhausted."""
        nxt = self.replay.next_ts()
        if nxt is None:
            return None
        gap = min(nxt - self.replay.now_ns, self.replay.spacing_ns)
        return max(gap, 0) / NANOS / self.speed

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="venue-replay", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            delay = self.delay_seconds()
            if delay is None or self._stop.wait(delay):
                return
            self.step()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
