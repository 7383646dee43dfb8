"""The ``[risk]`` config as the core compares it: integers only (1e-8 USD and shares, basis points,
nanoseconds), built once per config from the validated snapshot (``engine.config_risk``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from journal_schema.units import to_fixed

NS = 1_000_000_000


def _bp(pct: str) -> int:
    """A percentage (decimal text) in basis points."""
    return int(Decimal(pct) * 100)


def _unit_bp(x: str) -> int:
    """A fraction of one (decimal text) in basis points."""
    return int(Decimal(x) * 10_000)


def _ns(iso: str) -> int:
    dt = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return int(dt.timestamp()) * NS


@dataclass(frozen=True, slots=True)
class Blackout:
    start_ns: int
    end_ns: int
    reason: str
    symbols: frozenset[str]  # empty: every symbol

    def covers(self, symbol: str, ts: int) -> bool:
        return self.start_ns <= ts < self.end_ns and (not self.symbols or symbol in self.symbols)


@dataclass(frozen=True, slots=True)
class RiskParams:
    capital: int
    allowlist: frozenset[str]
    blackouts: tuple[Blackout, ...]
    # policy gate
    max_data_age_ns: int
    max_drawdown_bp: int
    min_liquidity_bp: int
    participation_bp: int
    liquidity_window: int
    min_confidence: int  # 1e-8 units
    max_correlation_bp: int
    correlation_window: int
    min_correlation_bars: int
    review_ns: int
    actions: dict[str, str]  # DecisionReason code -> REJECT | REVIEW
    # pre-trade
    max_order_notional: int
    max_order_shares: int
    collar_bp: int
    throttle_window_ns: int
    max_orders: int
    max_orders_symbol: int
    max_cancels: int
    loop_limit: int
    loop_window_ns: int
    # portfolio limits
    gross_bp: int
    net_bp: int
    weight_bp: int
    max_trade_notional: int
    max_daily_loss: int
    on_daily_loss: str
    # quarantine
    quarantine: bool
    quarantine_ns: int
    reject_window: int
    min_rejects: int
    max_reject_rate_bp: int
    expectancy_window: int
    min_closing_fills: int
    breaker_opens: int
    breaker_window_ns: int
    # session hygiene
    cancel_day_orders_at_close: bool
    cancel_leftovers_at_start: bool
    # canary mode (run.canary_symbols): only these symbols may add risk; empty = off
    canary: frozenset[str] = frozenset()

    @classmethod
    def from_snapshot(cls, risk: dict[str, Any], canary: list[str] | tuple[str, ...] = ()) -> RiskParams:
        """``canary``: ``run.canary_symbols`` of the same snapshot (absent there when off)."""
        p, t, lim, q, s = risk["policy"], risk["pretrade"], risk["limits"], risk["quarantine"], risk["session"]
        a = p["actions"]
        return cls(
            capital=to_fixed(risk["capital"]),
            allowlist=frozenset(risk["allowlist"]),
            blackouts=tuple(
                Blackout(_ns(b["start"]), _ns(b["end"]), b["reason"], frozenset(b["symbols"]))
                for b in risk["blackouts"]
            ),
            max_data_age_ns=int(Decimal(p["max_data_age_seconds"]) * NS),
            max_drawdown_bp=_bp(p["max_daily_drawdown_pct"]),
            min_liquidity_bp=_unit_bp(p["min_liquidity_score"]),
            participation_bp=_bp(p["max_participation_pct"]),
            liquidity_window=p["liquidity_window_bars"],
            min_confidence=to_fixed(p["min_confidence"]),
            max_correlation_bp=_unit_bp(p["max_correlation"]),
            correlation_window=p["correlation_window_bars"],
            min_correlation_bars=p["min_correlation_bars"],
            review_ns=p["review_seconds"] * NS,
            actions={
                "STALE_DATA": a["stale_data"],
                "SYMBOL_NOT_ALLOWED": a["symbol_not_allowed"],
                "DAILY_DRAWDOWN_LIMIT": a["daily_drawdown"],
                "EVENT_BLACKOUT": a["event_blackout"],
                "LOW_LIQUIDITY": a["low_liquidity"],
                "LOW_CONFIDENCE": a["low_confidence"],
                "HIGH_CORRELATION": a["high_correlation"],
            },
            max_order_notional=to_fixed(t["max_order_notional"]),
            max_order_shares=to_fixed(t["max_order_shares"]),
            collar_bp=t["price_collar_bps"],
            throttle_window_ns=t["throttle_window_seconds"] * NS,
            max_orders=t["max_orders_per_window"],
            max_orders_symbol=t["max_orders_per_symbol_per_window"],
            max_cancels=t["max_cancels_per_window"],
            loop_limit=t["cancel_loop_limit"],
            loop_window_ns=t["cancel_loop_window_seconds"] * NS,
            gross_bp=_bp(lim["max_gross_exposure_pct"]),
            net_bp=_bp(lim["max_net_exposure_pct"]),
            weight_bp=_bp(lim["max_symbol_weight_pct"]),
            max_trade_notional=to_fixed(lim["max_trade_notional"]),
            max_daily_loss=to_fixed(lim["max_daily_loss"]),
            on_daily_loss=lim["on_daily_loss"],
            quarantine=q["enabled"],
            quarantine_ns=q["seconds"] * NS,
            reject_window=q["reject_window"],
            min_rejects=q["min_rejects"],
            max_reject_rate_bp=_bp(q["max_reject_rate_pct"]),
            expectancy_window=q["expectancy_window"],
            min_closing_fills=q["min_closing_fills"],
            breaker_opens=q["breaker_opens"],
            breaker_window_ns=q["breaker_window_seconds"] * NS,
            cancel_day_orders_at_close=s["cancel_day_orders_at_close"],
            cancel_leftovers_at_start=s["cancel_leftovers_at_start"],
            canary=frozenset(canary),
        )
