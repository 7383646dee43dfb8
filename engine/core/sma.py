"""Built-in SMA crossover strategy, per symbol, exact integer arithmetic.

It compares ``fast_sum * slow`` with ``slow_sum * fast`` (i.e. the two averages without
division) and emits a target when the sign of the difference changes: above -> long
``qty``; below -> flat when ``long_only`` else short ``qty``. No signal during warm-up
(fewer than ``slow`` bars) or on the first bar whose relation is known.
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal
from typing import Protocol

from engine.core.strategy import Target
from journal_schema.events import BarClosed
from journal_schema.units import div_round_half_even, to_fixed


class SmaCrossSettings(Protocol):
    """The validated parameters (``engine.strategies.SmaCrossParams``)."""

    @property
    def fast(self) -> int: ...
    @property
    def slow(self) -> int: ...
    @property
    def qty(self) -> Decimal: ...
    @property
    def long_only(self) -> bool: ...
    @property
    def edge_bps(self) -> Decimal | None: ...


class SmaCross:
    __slots__ = ("fast", "slow", "qty", "long_only", "edge_cbp", "window", "fast_sum", "slow_sum", "relation")

    def __init__(self, params: SmaCrossSettings, symbol: str) -> None:
        self.fast = params.fast
        self.slow = params.slow
        self.qty = to_fixed(params.qty)
        self.long_only = params.long_only
        self.edge_cbp = int(params.edge_bps * 100) if params.edge_bps is not None else None
        self.window: deque[int] = deque(maxlen=params.slow)
        self.fast_sum = 0
        self.slow_sum = 0
        self.relation = 0  # sign(fast_sma - slow_sma) on the previous bar; 0 = unknown

    def on_bar(self, bar: BarClosed) -> Target | None:
        close = bar.close
        w, fast, slow = self.window, self.fast, self.slow
        n = len(w)
        fast_sum, slow_sum = self.fast_sum + close, self.slow_sum + close
        if n >= fast:
            fast_sum -= w[n - fast]
        if n == slow:
            slow_sum -= w[0]
        w.append(close)
        self.fast_sum, self.slow_sum = fast_sum, slow_sum
        if n + 1 < slow:
            return None
        diff = fast_sum * slow - slow_sum * fast
        relation = (diff > 0) - (diff < 0)
        previous = self.relation
        if relation:
            self.relation = relation
        if previous == 0 or relation in (0, previous):
            return None
        features = {
            "fast_sma": div_round_half_even(fast_sum, fast),
            "slow_sma": div_round_half_even(slow_sum, slow),
        }
        if relation > 0:
            return Target(1, self.qty, features, edge_cbp=self.edge_cbp)
        if self.long_only:
            return Target(0, 0, features, edge_cbp=self.edge_cbp)
        return Target(-1, -self.qty, features, edge_cbp=self.edge_cbp)
