"""Which strategy a config names: the built-in specs and the loading of a user's ``package.module:SPEC``.

This is shell code: it imports user modules and validates parameters with pydantic. The core gets
the resolver (``CoreState.resolver``) and never imports either.
"""

from __future__ import annotations

import importlib
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from engine.core.sma import SmaCross
from engine.core.strategy import StrategyError, StrategySpec


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


SMA_CROSS = StrategySpec("sma_cross", SmaCrossParams, SmaCross)


def builtin_specs() -> dict[str, StrategySpec]:
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
