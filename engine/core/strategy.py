"""The strategy plug-in interface.

A strategy is described by a ``StrategySpec``: a name, a pydantic model of its
parameters (unknown keys are refused) and a factory that builds one ``Strategy`` per
symbol. ``Strategy.on_bar`` sees every accepted bar of its symbol, in journal order,
and returns a ``Target`` when it wants a different position, else ``None``.

Rules (they keep replay byte-identical): no I/O, no clock, no random numbers, no
builtin ``hash()``; only integer arithmetic on the 1e-8 fixed-point values it is given.
See docs/strategies.md for a worked example.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel

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
    name: str
    params_model: type[BaseModel]
    factory: Callable[[Any, str], Strategy]  # (validated params, symbol) -> Strategy


class StrategyError(ValueError):
    """The configured strategy cannot be found or its parameters are invalid."""


def builtin_specs() -> dict[str, StrategySpec]:
    from engine.core.sma import SMA_CROSS

    return {SMA_CROSS.name: SMA_CROSS}


def resolve_strategy(name: str) -> StrategySpec:
    """A built-in name, or ``package.module:ATTRIBUTE`` naming a user ``StrategySpec``."""
    builtins = builtin_specs()
    if name in builtins:
        return builtins[name]
    if ":" not in name:
        raise StrategyError(
            f"unknown strategy {name!r}; built-ins: {', '.join(sorted(builtins))}; "
            "or give 'package.module:SPEC' for your own"
        )
    module_name, _, attr = name.partition(":")
    try:
        spec = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        hint = (
            " (is its package importable? from the directory that holds it: PYTHONPATH=.)"
            if isinstance(exc, ImportError)
            else ""
        )
        raise StrategyError(f"cannot load strategy {name!r}: {exc}{hint}") from exc
    if not isinstance(spec, StrategySpec):
        raise StrategyError(f"{name!r} is not a StrategySpec")
    return spec
