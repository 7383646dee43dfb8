"""Built-in SMA crossover strategy, per symbol, exact integer arithmetic.

It compares ``fast_sum * slow`` with ``slow_sum * fast`` (i.e. the two averages without
division) and emits a target when the sign of the difference changes: above -> long
``qty``; below -> flat when ``long_only`` else short ``qty``. No signal during warm-up
(fewer than ``slow`` bars) or on the first bar whose relation is known.
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from engine.core.strategy import StrategySpec, Target
from journal_schema.events import BarClosed
from journal_schema.units import div_round_half_even, to_fixed


class SmaCrossParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    fast: int = Field(10, ge=1, description="fast window, bars")
    slow: int = Field(30, ge=2, description="slow window, bars")
    qty: Decimal = Field(Decimal(100), gt=0, description="position size when in the market, shares")
    long_only: bool = Field(True, description="flat instead of short on a downward cross")
    edge_bps: Decimal | None = Field(
        None,
        ge=0,
        description="expected edge of a cross trade in bps, from your research; the cost gate skips "
        "entries whose expected cost plus costs.edge_buffer_bps exceeds it (none: no cost gate)",
    )

    @field_validator("edge_bps")
    @classmethod
    def _two_places(cls, v: Decimal | None) -> Decimal | None:
        if v is not None and v != v.quantize(Decimal("0.01")):
            raise ValueError("basis points are limited to two decimal places")
        return v

    @model_validator(mode="after")
    def _windows(self) -> SmaCrossParams:
        if self.fast >= self.slow:
            raise ValueError(f"fast ({self.fast}) must be smaller than slow ({self.slow})")
        return self


class SmaCross:
    __slots__ = ("fast", "slow", "qty", "long_only", "edge_cbp", "window", "fast_sum", "slow_sum", "relation")

    def __init__(self, params: SmaCrossParams, symbol: str) -> None:
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
        w = self.window
        n = len(w)
        if n >= self.fast:
            self.fast_sum -= w[n - self.fast]
        if n == self.slow:
            self.slow_sum -= w[0]
        w.append(close)
        self.fast_sum += close
        self.slow_sum += close
        if n + 1 < self.slow:
            return None
        diff = self.fast_sum * self.slow - self.slow_sum * self.fast
        relation = (diff > 0) - (diff < 0)
        previous, self.relation = self.relation, relation if relation else self.relation
        if previous == 0 or relation in (0, previous):
            return None
        features = {
            "fast_sma": div_round_half_even(self.fast_sum, self.fast),
            "slow_sma": div_round_half_even(self.slow_sum, self.slow),
        }
        if relation > 0:
            return Target(1, self.qty, features, edge_cbp=self.edge_cbp)
        if self.long_only:
            return Target(0, 0, features, edge_cbp=self.edge_cbp)
        return Target(-1, -self.qty, features, edge_cbp=self.edge_cbp)


SMA_CROSS = StrategySpec("sma_cross", SmaCrossParams, SmaCross)
