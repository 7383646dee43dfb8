"""The cost model's and the cost gate's parameters, as integers, from the ``costs`` snapshot."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

DAY_NS = 86_400 * 1_000_000_000


def _cbp(v: Any) -> int:
    """Basis points (decimal text) to hundredths of a basis point."""
    return int(Decimal(v) * 100)


@dataclass(frozen=True, slots=True)
class CostParams:
    gate: bool = True
    edge_buffer_cbp: int = 200
    block_when_stale: bool = False
    min_samples: int = 20
    max_age_ns: int = 5 * DAY_NS
    alpha: float = 0.05
    prior_half_spread_cbp: int = 200
    prior_slippage_cbp: int = 100
    prior_k: float = 1.0
    max_cost_cbp: int = 50_000
    max_k: float = 20.0
    vol_window: int = 20
    volume_window: int = 20

    @classmethod
    def from_snapshot(cls, c: dict[str, Any]) -> CostParams:
        return cls(
            gate=bool(c["gate"]),
            edge_buffer_cbp=_cbp(c["edge_buffer_bps"]),
            block_when_stale=bool(c["block_when_stale"]),
            min_samples=int(c["min_samples"]),
            max_age_ns=int(Decimal(c["max_age_days"]) * DAY_NS),
            alpha=float(Decimal(c["ewma_alpha"])),
            prior_half_spread_cbp=_cbp(c["prior_half_spread_bps"]),
            prior_slippage_cbp=_cbp(c["prior_slippage_bps"]),
            prior_k=float(Decimal(c["prior_impact_k"])),
            max_cost_cbp=_cbp(c["max_cost_bps"]),
            max_k=float(Decimal(c["max_impact_k"])),
            vol_window=int(c["vol_window_bars"]),
            volume_window=int(c["volume_window_bars"]),
        )
