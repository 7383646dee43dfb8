"""Per-symbol market statistics the policy gate needs: stream clock, bar spacing, data age,
average dollar volume (liquidity) and recent returns (correlation with the book). Pure; fed every
accepted bar in journal order.

Returns are floats: Python's IEEE-754 arithmetic gives the same bits on every run in the same
order, and only the rounded basis-point result is journaled.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from journal_schema.events import BarClosed
from journal_schema.units import SCALE


@dataclass(slots=True)
class SymbolStats:
    last_ts: int = 0
    interval: int = 0  # ns between the last two bars (one bar of age in replay)
    last_close: int = 0
    prev_close: int = 0
    dollar_volume: deque[int] = field(default_factory=deque)  # close x volume, 1e-8 USD (maxlen: the window)
    dv_sum: int = 0
    returns: deque[tuple[int, float]] = field(default_factory=deque)  # (bar ts, simple return) (maxlen: window)


@dataclass(slots=True)
class MarketBook:
    liquidity_window: int = 20
    correlation_window: int = 60
    clock: int = 0  # latest bar close seen (stream time)
    symbols: dict[str, SymbolStats] = field(default_factory=dict)

    def on_bar(self, bar: BarClosed) -> None:
        s = self.symbols.get(bar.symbol)
        if s is None:
            s = self.symbols[bar.symbol] = SymbolStats(
                dollar_volume=deque(maxlen=self.liquidity_window), returns=deque(maxlen=self.correlation_window)
            )
        ts, close = bar.ts, bar.close
        last_ts, last_close = s.last_ts, s.last_close
        if last_ts:
            s.interval = ts - last_ts
            if last_close > 0:
                s.returns.append((ts, close / last_close - 1.0))  # a full deque drops its oldest
        s.prev_close, s.last_close, s.last_ts = last_close, close, ts
        dv = close * bar.volume // SCALE
        window = s.dollar_volume
        if len(window) == window.maxlen:
            s.dv_sum = s.dv_sum - window[0] + dv
        else:
            s.dv_sum += dv
        window.append(dv)
        self.clock = max(self.clock, ts)

    def data_age(self, bar: BarClosed, live_limit: int) -> tuple[int, int]:
        """(age, limit): live bars by when they were received against ``live_limit``; historical
        bars by the stream clock against one bar of the symbol."""
        if bar.received_ts is not None:
            return max(0, bar.received_ts - bar.ts), live_limit
        s = self.symbols.get(bar.symbol)
        return max(0, self.clock - bar.ts), (s.interval if s is not None else 0)

    def liquidity_bp(self, symbol: str, order_notional: int, participation_bp: int) -> int:
        """min(1, average dollar volume x participation / order notional), in basis points."""
        s = self.symbols.get(symbol)
        if s is None or not s.dollar_volume or order_notional <= 0:
            return 10_000 if order_notional <= 0 else 0
        capacity = s.dv_sum * participation_bp // (len(s.dollar_volume) * 10_000)
        return min(10_000, capacity * 10_000 // order_notional)

    def correlation_bp(self, symbol: str, book: dict[str, int], min_bars: int) -> int:
        """Correlation of ``symbol``'s returns with the book's (``book``: other symbol -> signed value
        weight), over the bars they share; 0 when the book is empty or they share fewer than ``min_bars``."""
        mine = self.symbols.get(symbol)
        weights = {s: w for s, w in sorted(book.items()) if s != symbol and w}
        if mine is None or not weights:
            return 0
        series = [dict(self.symbols[s].returns) for s in weights if s in self.symbols]
        if len(series) != len(weights):
            return 0
        total = sum(abs(w) for w in weights.values())  # ints
        wlist = [w / total for w in weights.values()]
        xs, ys = [], []
        for ts, r in mine.returns:
            if all(ts in d for d in series):
                xs.append(r)
                ys.append(math.fsum(w * d[ts] for w, d in zip(wlist, series, strict=True)))
        if len(xs) < min_bars:
            return 0
        n = len(xs)
        mx, my = math.fsum(xs) / n, math.fsum(ys) / n
        sxy = math.fsum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
        sxx = math.fsum((x - mx) ** 2 for x in xs)
        syy = math.fsum((y - my) ** 2 for y in ys)
        if sxx <= 0 or syy <= 0:
            return 0
        return round(10_000 * sxy / math.sqrt(sxx * syy))
