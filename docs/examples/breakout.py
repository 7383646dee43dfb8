"""N-bar breakout: an example strategy plug-in (walked through in docs/strategies.md).

Per symbol: go long ``qty`` when a bar closes above the highest close of the previous
``lookback`` bars; go flat when a bar closes below the lowest close of the previous
``lookback`` bars. No signal until ``lookback`` bars have been seen, and no signal that
would repeat the current target. Integer arithmetic only: prices arrive as 1e-8
fixed-point ints and are only compared, never divided.

Select it in a run configuration (run from the repository root so ``docs`` is importable)::

    [strategy]
    name = "docs.examples.breakout:SPEC"
    lookback = 20
    qty = 100
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from engine.core.strategy import StrategySpec, Target
from journal_schema.events import BarClosed
from journal_schema.units import to_fixed


class BreakoutParams(BaseModel):
    """The ``[strategy]`` keys besides ``name``. Unknown keys are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lookback: int = Field(20, ge=1, description="bars in the channel, not counting the current bar")
    qty: Decimal = Field(Decimal(100), gt=0, description="position size when long, shares")


class Breakout:
    """One instance per symbol, created by the engine on the symbol's first accepted bar."""

    __slots__ = ("closes", "long", "lookback", "qty")

    def __init__(self, params: BreakoutParams, symbol: str) -> None:
        self.lookback = params.lookback
        self.qty = to_fixed(params.qty)  # shares in 1e-8 units
        self.closes: deque[int] = deque(maxlen=params.lookback)  # previous closes, oldest first
        self.long = False  # the last target this instance asked for

    def on_bar(self, bar: BarClosed) -> Target | None:
        closes = self.closes
        target: Target | None = None
        if len(closes) == self.lookback:
            highest, lowest = max(closes), min(closes)
            features = {"highest": highest, "lowest": lowest}
            if bar.close > highest and not self.long:
                self.long = True
                target = Target(direction=1, qty=self.qty, features=features)
            elif bar.close < lowest and self.long:
                self.long = False
                target = Target(direction=0, qty=0, features=features)
        closes.append(bar.close)
        return target


SPEC = StrategySpec(name="breakout", params_model=BreakoutParams, factory=Breakout)
