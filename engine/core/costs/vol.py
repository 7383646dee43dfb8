"""Per-bar volatility of one symbol: the root mean square of its last ``window`` close-to-close
simple returns, in hundredths of a basis point (1e-6 of price).

One implementation for the fill simulator (``engine.broker.fills``), which prices a fill with the
volatility known before the bar it fills on, and for the cost model (``engine.core.costs.model``),
which must see the same number to recover the simulator's parameters. Only IEEE-754 ``+ - * /`` and
``sqrt`` (all correctly rounded) are used, so every platform computes the same bits. The sum of squares
is kept incrementally and re-summed from the window every ``window`` updates, so rounding drift stays
bounded and happens at the same points in every run.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

DEFAULT_WINDOW = 20


def rms_cbp(sumsq: float, n: int) -> float:
    """Root mean square of ``n`` returns whose squares sum to ``sumsq``, in 1e-6 (0 for none)."""
    return math.sqrt(max(0.0, sumsq) / n) * 1e6 if n else 0.0


@dataclass(slots=True)
class VolTracker:
    window: int = DEFAULT_WINDOW
    last_close: int = 0
    returns: deque[float] = field(default_factory=deque)
    sumsq: float = 0.0  # sum of the window's squared returns
    updates: int = 0

    def update(self, close: int) -> None:
        """Fold one bar's close (1e-8 units); non-positive closes are ignored."""
        if close <= 0:
            return
        last, self.last_close = self.last_close, close
        if last <= 0:
            return
        x = close / last - 1.0
        r, window = self.returns, self.window
        r.append(x)
        sumsq = self.sumsq + x * x
        if len(r) > window:
            y = r.popleft()
            sumsq -= y * y
        updates = self.updates = self.updates + 1
        if updates % window == 0:  # re-sum: bounded rounding drift, at fixed points
            sumsq = math.fsum(v * v for v in r)
        self.sumsq = sumsq

    @property
    def sigma_cbp(self) -> float:
        """Volatility per bar, 1e-6 of price; 0 until two closes are known."""
        return rms_cbp(self.sumsq, len(self.returns))
