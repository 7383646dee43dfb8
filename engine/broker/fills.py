"""Fill pricing of the execution simulator. Pure integer arithmetic, 1e-8 units.

Costs are in hundredths of a basis point ("centi-bps", 1e-6 of price). A buy pays
``open x (1 + (half_spread + slippage + jitter))``, a sell receives ``open x (1 - ...)``,
rounded half-even to 1e-8. A limit order fills only when the bar trades *through* the
limit (buy: low < limit; sell: high > limit), at the better of the limit and the
cost-adjusted open.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from journal_schema.units import SCALE, div_round_half_even

MILLION = 1_000_000  # 1.0 expressed in centi-bps


@dataclass(frozen=True, slots=True)
class CostModel:
    half_spread_centibps: int = 200
    slippage_centibps: int = 100
    jitter_centibps: int = 0  # upper bound of the seeded uniform extra slippage
    fee_per_share: int = 0  # 1e-8 USD per share
    fee_centibps: int = 0  # of notional


def order_cost(model: CostModel, seed: int, client_order_id: str) -> int:
    """Total cost of one order's fills in centi-bps: half-spread + slippage + its jitter.

    The jitter is drawn from ``random.Random(f"{seed}:{client_order_id}")`` (seeded through
    sha512 of the string, not builtin ``hash()``), so it depends only on the seed and the
    order, never on processing order. Used by the paper broker and the venue alike."""
    jitter = 0
    if model.jitter_centibps > 0:
        jitter = random.Random(f"{seed}:{client_order_id}").randint(0, model.jitter_centibps)
    return model.half_spread_centibps + model.slippage_centibps + jitter


def market_price(open_: int, side: str, cost_centibps: int) -> int:
    factor = MILLION + cost_centibps if side == "buy" else MILLION - cost_centibps
    return div_round_half_even(open_ * factor, MILLION)


def limit_price_fill(open_: int, high: int, low: int, side: str, limit: int, cost_centibps: int) -> int | None:
    """Fill price of a limit order on this bar, or None when the bar does not trade through."""
    if side == "buy":
        if not low < limit:
            return None
        return min(limit, market_price(open_, side, cost_centibps))
    if not high > limit:
        return None
    return max(limit, market_price(open_, side, cost_centibps))


def fee(model: CostModel, qty: int, price: int) -> int:
    """Fee in 1e-8 USD for ``qty`` (1e-8 shares) at ``price``."""
    per_share = div_round_half_even(qty * model.fee_per_share, SCALE)
    notional = div_round_half_even(qty * price, SCALE)
    return per_share + div_round_half_even(notional * model.fee_centibps, MILLION)
