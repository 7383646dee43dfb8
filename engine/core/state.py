"""The core's state: everything ``step`` needs, rebuilt by folding the journal."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engine.core.costs.model import CostBook
from engine.core.orders import OrderBook
from engine.core.positions import PositionBook
from engine.core.risk.state import RiskState
from engine.core.strategy import Strategy, StrategySpec


@dataclass(slots=True)
class CoreConfig:
    """The parts of the run config the core acts on (validated copies)."""

    config_hash: str
    strategy_name: str
    strategy_spec: StrategySpec
    strategy_params: Any
    order_type: str
    limit_offset_centibps: int
    time_in_force: str
    max_submit_attempts: int
    adopt_broker_positions: bool


@dataclass(slots=True)
class CoreState:
    """Mutable state owned by one core. ``step`` updates it in place and returns it.

    ``resolver`` turns a configured strategy name into its spec; the shell gives it
    (``engine.strategies.resolve_strategy``), since resolving may import a user's module."""

    resolver: Callable[[str], StrategySpec] | None = None
    config: CoreConfig | None = None
    strategies: dict[str, Strategy] = field(default_factory=dict)
    positions: PositionBook = field(default_factory=PositionBook)
    orders: OrderBook = field(default_factory=OrderBook)
    session: str | None = None
    session_open: int | None = None  # open (ns) of the open session
    session_close: int | None = None  # scheduled close (ns) of the open session
    sessions_closed: int = 0  # SessionClosed inputs folded so far (day orders expire by this count)
    kill_switch: bool = False
    halted: str | None = None  # halt reason code, once halted
    unadopted_mismatches: int = 0  # reconciliation mismatches not adopted since the last RunStarted
    pending: dict[str, Any] = field(default_factory=dict)  # symbol -> decide.Pending: waits for cancels
    risk: RiskState = field(default_factory=RiskState)
    costs: CostBook = field(default_factory=CostBook)
    commands: set[str] = field(default_factory=set)  # operator command ids journaled (the inbox dedupes by them)
    run_id: str | None = None
    inputs: int = 0  # inputs folded so far

    def strategy_for(self, symbol: str) -> Strategy:
        s = self.strategies.get(symbol)
        if s is None:
            assert self.config is not None
            s = self.strategies[symbol] = self.config.strategy_spec.factory(self.config.strategy_params, symbol)
        return s
