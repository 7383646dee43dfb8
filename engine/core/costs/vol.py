"""Per-bar volatility of one symbol: the root mean square of its last ``window`` close-to-close
simple returns, in hundredths of a basis point (1e-6 of price).

One implementation for the fill simulator (``engine.broker.fills``), which prices a fill with the
volatility known before the bar it fills on, and for the cost model (``engine.core.costs.model``),
which must see the same number to recover the simulator's parameters. Only IEEE-754 ``+ - * /`` and
``sqrt`` (all correctly rounded) are used, so every platform computes the same bits; the returns are
re-summed from the window on every bar, so no rounding drift accumulates.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

DEFAULT_WINDOW = 20


@dataclass(slots=True)
class VolTracker:
    window: int = DEFAULT_WINDOW
    last_close: int = 0
    returns: deque[float] = field(default_factory=deque)
    sigma_cbp: float = 0.0  # volatility per bar, 1e-6 of price; 0 until two closes are known

    def update(self, close: int) -> None:
        """Fold one bar's close (1e-8 units); non-positive closes are ignored."""
        if close <= 0:
            return
        if self.last_close > 0:
            r = self.returns
            r.append(close / self.last_close - 1.0)
            if len(r) > self.window:
                r.popleft()
            self.sigma_cbp = math.sqrt(sum(x * x for x in r) / len(r)) * 1e6
        self.last_close = close
