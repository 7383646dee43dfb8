"""The cost model: a fold over bars and fills that calibrates, per symbol, what trading costs.

For every fill that carries the quote it was priced against (``bid`` / ``ask``), with ``mid`` their
midpoint and ``s`` +1 for a buy, -1 for a sell, all in hundredths of a basis point of ``mid``:
- quoted half-spread ``(ask - bid) / 2 / mid``, and fee ``fee / (qty x price)``: EWMAs;
- slippage beyond the touch ``y = s x (price - touch) / mid`` (touch: ask for buys, bid for sells)
  against ``x = sigma x sqrt(fill qty / bar volume)``, where ``sigma`` is the symbol's volatility
  before the fill's bar (``engine.core.costs.vol``) and the volume that bar's: an EWMA-weighted
  least-squares line ``y = base + k x``.
A fill is joined with the bar of its symbol stamped at its time (the paper broker journals a bar's
fills before the bar; a live fill waits for the first bar at or after it). Fills without a quote (a
real broker's) do not calibrate the model.

``estimate`` gives the expected cost of a proposed order: ``half_spread + base + k x sigma x
sqrt(qty / expected bar volume) + fee``, every term and the total bounded to ``[0, max_cost]``.
Until a symbol has ``min_samples`` calibrating fills the configured priors stand in for the
half-spread, base and k; without enough spread in ``x`` the slope keeps the prior. Pure and
deterministic: floats only through ``+ - * / sqrt``; the journaled figures are rounded integers.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from engine.core.costs.params import CostParams
from engine.core.costs.vol import VolTracker, rms_cbp

MILLION = 1_000_000.0


@dataclass(frozen=True, slots=True)
class FillSample:
    ts: int
    side: int  # +1 buy, -1 sell
    qty: int
    price: int
    fee: int
    bid: int
    ask: int


@dataclass(frozen=True, slots=True)
class Estimate:
    cost_cbp: int  # total expected cost, hundredths of a bp of notional
    half_spread_cbp: int
    slippage_cbp: int  # base + impact
    fee_cbp: int
    samples: int
    age_ns: int | None  # stream time since the last calibrating fill (None: never)
    calibrated: bool  # enough samples (else priors stood in)
    stale: bool  # uncalibrated, or no calibrating fill for max_age


@dataclass(slots=True)
class SymbolCosts:
    vol: VolTracker
    volumes: deque[int]
    last_bar_ts: int = 0
    last_bar_volume: int = 0
    sumsq_before_last: float = 0.0  # the volatility's state before the last bar was folded in
    n_before_last: int = 0
    pending: list[FillSample] = field(default_factory=list)  # fills waiting for their bar
    samples: int = 0
    last_sample_ts: int | None = None
    half_spread: float = 0.0  # EWMAs, centi-bps
    fee: float = 0.0
    s0: float = 0.0  # EWMA moments of (x, y)
    sx: float = 0.0
    sy: float = 0.0
    sxx: float = 0.0
    sxy: float = 0.0


def _clamp(v: float, hi: float) -> float:
    return min(hi, max(0.0, v))


@dataclass(slots=True)
class CostBook:
    p: CostParams = field(default_factory=CostParams)
    symbols: dict[str, SymbolCosts] = field(default_factory=dict)

    def _of(self, symbol: str) -> SymbolCosts:
        s = self.symbols.get(symbol)
        if s is None:
            s = self.symbols[symbol] = SymbolCosts(VolTracker(self.p.vol_window), deque(maxlen=self.p.volume_window))
        return s

    def on_bar(self, symbol: str, ts: int, close: int, volume: int) -> None:
        """Fold a bar: the fills waiting for it calibrate with the volatility before it, then the bar
        moves the volatility and the expected volume."""
        s = self.symbols.get(symbol) or self._of(symbol)
        vol = s.vol
        s.sumsq_before_last, s.n_before_last = vol.sumsq, len(vol.returns)
        s.last_bar_ts, s.last_bar_volume = ts, volume
        if s.pending:
            waiting, s.pending = s.pending, []
            for f in waiting:
                self._calibrate(s, f)
        vol.update(close)
        s.volumes.append(volume)

    def on_fill(self, symbol: str, sample: FillSample) -> None:
        s = self._of(symbol)
        if sample.ts > s.last_bar_ts:
            s.pending.append(sample)  # its bar is still to come
        else:
            self._calibrate(s, sample)

    def _calibrate(self, s: SymbolCosts, f: FillSample) -> None:
        mid = (f.bid + f.ask) / 2
        if mid <= 0 or f.qty <= 0 or f.price <= 0:
            return
        touch = f.ask if f.side > 0 else f.bid
        y = f.side * (f.price - touch) / mid * MILLION
        part = f.qty / s.last_bar_volume if s.last_bar_volume > 0 else 1.0
        x = rms_cbp(s.sumsq_before_last, s.n_before_last) * math.sqrt(min(1.0, part))
        half = (f.ask - f.bid) / 2 / mid * MILLION
        fee = f.fee / (f.qty * f.price / 1e8) * MILLION if f.fee else 0.0
        a = self.p.alpha if s.samples else 1.0
        b = 1.0 - a
        s.half_spread = b * s.half_spread + a * half
        s.fee = b * s.fee + a * fee
        s.s0 = b * s.s0 + a
        s.sx = b * s.sx + a * x
        s.sy = b * s.sy + a * y
        s.sxx = b * s.sxx + a * x * x
        s.sxy = b * s.sxy + a * x * y
        s.samples += 1
        s.last_sample_ts = f.ts

    def fit(self, symbol: str) -> tuple[float, float, float, float, bool]:
        """(half_spread, base, k, fee) in centi-bps (k unitless) and whether it is calibrated."""
        p = self.p
        s = self.symbols.get(symbol)
        if s is None or s.samples < p.min_samples or s.s0 <= 0:
            hi = p.max_cost_cbp
            return (
                _clamp(p.prior_half_spread_cbp, hi),
                _clamp(p.prior_slippage_cbp, hi),
                _clamp(p.prior_k, p.max_k),
                0.0,
                False,
            )
        mx, my = s.sx / s.s0, s.sy / s.s0
        var = s.sxx / s.s0 - mx * mx
        cov = s.sxy / s.s0 - mx * my
        k = _clamp(cov / var if var > 1e-6 * max(1.0, mx * mx) else p.prior_k, p.max_k)
        base = _clamp(my - k * mx, p.max_cost_cbp)
        return _clamp(s.half_spread, p.max_cost_cbp), base, k, _clamp(s.fee, p.max_cost_cbp), True

    def estimate(self, symbol: str, qty: int, ts: int) -> Estimate:
        """Expected cost of trading ``qty`` (1e-8 shares, unsigned) of ``symbol`` now."""
        p = self.p
        half, base, k, fee, calibrated = self.fit(symbol)
        s = self.symbols.get(symbol)
        sigma = s.vol.sigma_cbp if s is not None else 0.0
        volume = sum(s.volumes) / len(s.volumes) if s is not None and s.volumes else 0.0  # ints
        part = min(1.0, qty / volume) if volume > 0 else 1.0
        slip = _clamp(base + k * sigma * math.sqrt(part), p.max_cost_cbp)
        total = _clamp(half + slip + fee, p.max_cost_cbp)
        last = s.last_sample_ts if s is not None else None
        age = ts - last if last is not None else None
        stale = not calibrated or age is None or age > p.max_age_ns
        return Estimate(
            round(total),
            round(half),
            round(slip),
            round(fee),
            s.samples if s is not None else 0,
            age,
            calibrated,
            stale,
        )
