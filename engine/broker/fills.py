"""The execution simulator: one implementation, used by the in-process paper broker
(``engine.broker.paper``) and the local venue (``engine.venue.market``). docs/execution.md.

Per bar of a symbol, every working order of that symbol that reached the market before the bar
(accepted before it and submitted at least ``latency_ns`` before its close) may fill one slice:
- the quote is centred on the bar's open (``mid``): bid and ask are ``mid x (1 -/+ half_spread)``,
  where the half-spread is fixed, or estimated from the bar's range (``range_fraction`` of
  ``(high - low) / open``, halved, never below the fixed half-spread nor above ``max_half_spread``);
- slippage beyond the touch grows with volatility and participation:
  ``base + k x sigma x sqrt(slice / bar volume)`` plus a seeded uniform jitter in ``[0, jitter]``;
  ``sigma`` is the symbol's per-bar volatility known before this bar (``engine.core.costs.vol``);
- a slice is capped by ``max_participation`` of the bar's volume, shared by the symbol's orders in
  submission order, in whole shares; the rest keeps working (a partial fill);
- a limit order fills only when the bar trades through its limit (buy: low < limit; sell: high >
  limit), at the better of the limit and the cost-adjusted price: the limit is always honoured;
- a buy pays ``mid x (1 + half_spread + slippage)``, a sell receives ``mid x (1 - ...)``, rounded
  half-even to 1e-8; the fee is per share plus a fraction of notional.

Costs are integers in hundredths of a basis point ("centi-bps", 1e-6 of price). The jitter of slice
``n`` of an order is drawn from ``random.Random(f"{seed}:{client_order_id}:{n}")`` (seeded through
sha512 of the string, not builtin ``hash()``), so it depends only on the seed, the order and the
slice, never on processing order. Pure: the caller feeds bars in time order.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from engine.core.costs.vol import DEFAULT_WINDOW, VolTracker
from journal_schema.units import SCALE, div_round_half_even

MILLION = 1_000_000  # 1.0 expressed in centi-bps


@dataclass(frozen=True, slots=True)
class CostModel:
    """The simulator's parameters (``[paper]`` in the config, docs/configuration.md)."""

    half_spread_centibps: int = 200
    slippage_centibps: int = 100  # base slippage beyond the touch
    jitter_centibps: int = 0  # upper bound of the seeded uniform extra slippage
    fee_per_share: int = 0  # 1e-8 USD per share
    fee_centibps: int = 0  # of notional
    spread_from_range: bool = False  # estimate the half-spread from the bar's range
    range_fraction_ppm: int = 100_000  # share of (high - low) / open taken as the quoted spread
    max_half_spread_centibps: int = 5_000
    impact_k_ppm: int = 1_000_000  # k of k x sigma x sqrt(participation), 1e-6 units
    max_participation_ppm: int = 100_000  # share of a bar's volume one symbol's orders may take
    latency_ns: int = 0  # submit-to-market latency
    vol_window: int = DEFAULT_WINDOW


class BarLike(Protocol):
    @property
    def ts(self) -> int: ...
    @property
    def symbol(self) -> str: ...
    @property
    def open(self) -> int: ...
    @property
    def high(self) -> int: ...
    @property
    def low(self) -> int: ...
    @property
    def close(self) -> int: ...
    @property
    def volume(self) -> int: ...


@dataclass(frozen=True, slots=True)
class WorkingOrder:
    """What the simulator needs of one working order (1e-8 units, ns)."""

    client_order_id: str
    side: str  # buy | sell
    order_type: str  # market | limit
    limit_price: int | None
    leaves_qty: int
    submitted_ts: int
    accepted_ts: int
    slices: int  # fills so far


@dataclass(frozen=True, slots=True)
class SliceFill:
    client_order_id: str
    n: int  # 1-based slice number of the order
    qty: int
    price: int
    fee: int
    bid: int
    ask: int


def half_spread(model: CostModel, bar: BarLike) -> int:
    """Quoted half-spread on ``bar`` in centi-bps."""
    if not model.spread_from_range or bar.open <= 0:
        return model.half_spread_centibps
    estimated = (bar.high - bar.low) * model.range_fraction_ppm // (2 * bar.open)
    return min(model.max_half_spread_centibps, max(model.half_spread_centibps, estimated))


def slippage(model: CostModel, sigma_cbp: float, qty: int, volume: int) -> int:
    """Slippage beyond the touch in centi-bps, before jitter: base + k x sigma x sqrt(qty / volume)."""
    if volume <= 0:
        return model.slippage_centibps
    impact = model.impact_k_ppm / MILLION * sigma_cbp * math.sqrt(qty / volume)
    return model.slippage_centibps + round(impact)


def jitter(model: CostModel, seed: int, client_order_id: str, n: int) -> int:
    if model.jitter_centibps <= 0:
        return 0
    return random.Random(f"{seed}:{client_order_id}:{n}").randint(0, model.jitter_centibps)


def participation_cap(model: CostModel, volume: int) -> int:
    """Whole shares (1e-8 units) one symbol's orders may fill on a bar of ``volume``."""
    return max(0, volume) * model.max_participation_ppm // MILLION // SCALE * SCALE


def scaled(price: int, side: str, cost_centibps: int) -> int:
    """``price`` moved against the taker by ``cost_centibps``, half-even to 1e-8."""
    factor = MILLION + cost_centibps if side == "buy" else MILLION - cost_centibps
    return div_round_half_even(price * factor, MILLION)


def trades_through(side: str, limit: int, bar: BarLike) -> bool:
    return bar.low < limit if side == "buy" else bar.high > limit


def fee(model: CostModel, qty: int, price: int) -> int:
    """Fee in 1e-8 USD for ``qty`` (1e-8 shares) at ``price``."""
    per_share = div_round_half_even(qty * model.fee_per_share, SCALE)
    notional = div_round_half_even(qty * price, SCALE)
    return per_share + div_round_half_even(notional * model.fee_centibps, MILLION)


class FillSimulator:
    """Fills per bar, with each symbol's volatility state (fed every bar, filled or not)."""

    def __init__(self, model: CostModel, seed: int) -> None:
        self.model = model
        self.seed = seed
        self._vol: dict[str, VolTracker] = {}

    def sigma_cbp(self, symbol: str) -> float:
        v = self._vol.get(symbol)
        return v.sigma_cbp if v is not None else 0.0

    def on_bar(self, bar: BarLike, orders: Sequence[WorkingOrder]) -> list[SliceFill]:
        """The slices ``bar`` fills of its symbol's working ``orders`` (in submission order), then
        the bar is folded into the volatility. Call once per bar, in time order, every bar."""
        fills = self._fills(bar, orders) if orders else []
        v = self._vol.get(bar.symbol)
        if v is None:
            v = self._vol[bar.symbol] = VolTracker(self.model.vol_window)
        v.update(bar.close)
        return fills

    def warm(self, bars: Iterable[BarLike]) -> None:
        """Fold bars that were already simulated (a restarted venue), without filling anything."""
        for bar in bars:
            self.on_bar(bar, ())

    def _fills(self, bar: BarLike, orders: Sequence[WorkingOrder]) -> list[SliceFill]:
        m = self.model
        capacity = participation_cap(m, bar.volume)
        if capacity <= 0 or bar.open <= 0:
            return []
        sigma = self.sigma_cbp(bar.symbol)
        half = half_spread(m, bar)
        bid, ask = scaled(bar.open, "sell", half), scaled(bar.open, "buy", half)
        out: list[SliceFill] = []
        for o in orders:
            if capacity <= 0:
                break
            if o.accepted_ts >= bar.ts or o.submitted_ts + m.latency_ns > bar.ts or o.leaves_qty <= 0:
                continue
            if o.order_type == "limit":
                assert o.limit_price is not None
                if not trades_through(o.side, o.limit_price, bar):
                    continue
            qty = min(o.leaves_qty, capacity)
            n = o.slices + 1
            cost = half + slippage(m, sigma, qty, bar.volume) + jitter(m, self.seed, o.client_order_id, n)
            price = scaled(bar.open, o.side, cost)
            if o.order_type == "limit":
                assert o.limit_price is not None
                price = min(o.limit_price, price) if o.side == "buy" else max(o.limit_price, price)
            capacity -= qty
            out.append(SliceFill(o.client_order_id, n, qty, price, fee(m, qty, price), bid, ask))
        return out
