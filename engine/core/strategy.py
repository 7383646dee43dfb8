"""The strategy plug-in interface.

A strategy is described by a ``StrategySpec``: a name, a pydantic model of its
parameters (unknown keys are refused) and a factory that builds one ``Strategy`` per
symbol. The shell resolves a configured name to its spec (``engine.strategies``).
``Strategy.on_bar`` sees every accepted bar of its symbol, in journal order, and returns
a ``Target`` when it wants a different position, else ``None``.

Rules (they keep replay byte-identical): no I/O, no clock, no random numbers, no
builtin ``hash()``; only integer arithmetic on the 1e-8 fixed-point values it is given.
See docs/strategies.md for a worked example.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from journal_schema.events import BarClosed


@dataclass(frozen=True, slots=True)
class Target:
    """Desired position: ``direction`` +1 long, -1 short, 0 flat; ``qty`` signed, 1e-8 units;
    ``confidence`` from 0 to 1 in 1e-8 units (the policy gate's LOW_CONFIDENCE rule reads it);
    ``edge_cbp`` the expected edge of the trade in hundredths of a basis point, or None (the cost
    gate compares it with the expected cost)."""

    direction: int
    qty: int
    features: dict[str, int]
    horizon: str = "next_bar"
    confidence: int = 100_000_000
    edge_cbp: int | None = None


class Strategy(Protocol):
    def on_bar(self, bar: BarClosed) -> Target | None: ...


@dataclass(frozen=True)
class StrategySpec:
    """A strategy: its name, the model of its parameters (a pydantic model class: ``model_validate``
    checks the ``[strategy]`` keys and refuses unknown ones) and a factory of one ``Strategy`` per symbol."""

    name: str
    params_model: type[Any]
    factory: Callable[[Any, str], Strategy]  # (validated params, symbol) -> Strategy

    def validate(self, raw: dict[str, Any]) -> Any:
        """The validated parameters of a ``[strategy]`` table (without its ``name``)."""
        return self.params_model.model_validate(raw)


class StrategyError(ValueError):
    """The configured strategy cannot be found or its parameters are invalid."""
