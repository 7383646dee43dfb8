"""The ``[risk]`` tables of the run config: trading profile, policy gate, pre-trade checks,
portfolio limits, quarantine and session hygiene (docs/risk.md lists every control).

``risk.profile`` (``conservative | balanced | aggressive``) supplies every threshold; a key written
in the config overrides the profile's value for that key only. The snapshot holds the resolved
values, so the config hash says exactly which thresholds a decision was made under. An unknown
profile is a start-up error, never a fallback. The execution mode (``run.mode``) is separate.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import (
    Field,
    StrictBool,
    StrictInt,
    field_validator,
    model_validator,
)

from engine.config_fields import Section

Profile = Literal["conservative", "balanced", "aggressive"]
Action = Literal["REJECT", "REVIEW"]
PROFILES: tuple[str, ...] = ("conservative", "balanced", "aggressive")


class RuleActions(Section):
    """What each policy rule does when it trips: REJECT, or REVIEW (held for ``engine approve``)."""

    stale_data: Action
    symbol_not_allowed: Action
    daily_drawdown: Action
    event_blackout: Action
    low_liquidity: Action
    low_confidence: Action
    high_correlation: Action


class PolicyTable(Section):
    max_data_age_seconds: Decimal = Field(
        gt=0,
        description="live bars older than this are STALE_DATA (replay and backtests: older than one bar of the symbol)",
    )
    max_daily_drawdown_pct: Decimal = Field(
        gt=0, le=100, description="DAILY_DRAWDOWN_LIMIT at or above this drawdown from the session's peak equity"
    )
    min_liquidity_score: Decimal = Field(ge=0, le=1, description="LOW_LIQUIDITY below this score")
    max_participation_pct: Decimal = Field(
        gt=0, le=100, description="share of average dollar volume an order may take with score 1"
    )
    liquidity_window_bars: StrictInt = Field(ge=1, le=1000, description="bars in the average dollar volume")
    min_confidence: Decimal = Field(ge=0, le=1, description="LOW_CONFIDENCE below this strategy confidence")
    max_correlation: Decimal = Field(
        ge=-1, le=1, description="HIGH_CORRELATION above this correlation of the symbol's returns with the book's"
    )
    correlation_window_bars: StrictInt = Field(ge=2, le=1000, description="returns in the correlation")
    min_correlation_bars: StrictInt = Field(ge=2, le=1000, description="fewer common returns: correlation 0")
    review_seconds: StrictInt = Field(ge=1, le=7 * 86_400, description="how long a REVIEW waits for approval")
    actions: RuleActions


class PreTradeTable(Section):
    max_order_notional: Decimal = Field(gt=0, description="ORDER_SIZE_BLOCK above this order notional, USD")
    max_order_shares: Decimal = Field(gt=0, description="ORDER_SIZE_BLOCK above this many shares")
    price_collar_bps: StrictInt = Field(
        ge=1, le=10_000, description="PRICE_COLLAR_BLOCK outside this distance from the reference price"
    )
    throttle_window_seconds: StrictInt = Field(ge=1, le=86_400, description="window of the message-rate throttles")
    max_orders_per_window: StrictInt = Field(ge=1, description="new orders in the window, all symbols")
    max_orders_per_symbol_per_window: StrictInt = Field(ge=1, description="new orders in the window, one symbol")
    max_cancels_per_window: StrictInt = Field(
        ge=1, description="cancel requests in the window (kill switch and session cancels are not throttled)"
    )
    cancel_loop_limit: StrictInt = Field(
        ge=1, description="cancel-and-replace cycles of a symbol in the loop-guard window before CANCEL_LOOP_BLOCK"
    )
    cancel_loop_window_seconds: StrictInt = Field(ge=1, le=86_400)


class LimitsTable(Section):
    max_gross_exposure_pct: Decimal = Field(gt=0, le=1000, description="sum of |position value| / capital")
    max_net_exposure_pct: Decimal = Field(gt=0, le=1000, description="|sum of position values| / capital")
    max_symbol_weight_pct: Decimal = Field(gt=0, le=1000, description="|one symbol's value| / capital")
    max_trade_notional: Decimal = Field(
        gt=0, description="the risk-increasing part of an order is clipped to this notional, USD (exits are not)"
    )
    max_daily_loss: Decimal = Field(gt=0, description="session loss in USD that trips DAILY_LOSS_LIMIT")
    on_daily_loss: Literal["HALTED", "REDUCING"] = Field(
        description="HALTED waits for engine resume; REDUCING ends at the next session"
    )


class QuarantineTable(Section):
    enabled: StrictBool
    seconds: StrictInt = Field(ge=1, le=30 * 86_400, description="how long a quarantine lasts (event time)")
    reject_window: StrictInt = Field(ge=1, le=1000, description="recent orders of a symbol looked at")
    min_rejects: StrictInt = Field(ge=1, description="fewer rejects never quarantine")
    max_reject_rate_pct: Decimal = Field(gt=0, le=100)
    expectancy_window: StrictInt = Field(ge=1, le=1000, description="recent closing fills looked at")
    min_closing_fills: StrictInt = Field(ge=1, description="fewer closing fills never quarantine")
    breaker_opens: StrictInt = Field(ge=1, description="breaker opens in the window that quarantine the strategy")
    breaker_window_seconds: StrictInt = Field(ge=1, le=30 * 86_400)


class SessionTable(Section):
    cancel_day_orders_at_close: StrictBool = Field(description="cancel day orders still open at the close")
    cancel_leftovers_at_start: StrictBool = Field(description="cancel orders an earlier run left open")


class Blackout(Section):
    start: str = Field(
        pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?(Z|[+-]\d{2}:\d{2})$", description="ISO-8601 with a UTC offset"
    )
    end: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?(Z|[+-]\d{2}:\d{2})$")
    reason: str = Field(min_length=1, max_length=80)
    symbols: list[str] = Field(default_factory=list, description="empty: every symbol")

    @model_validator(mode="after")
    def _ordered(self) -> Blackout:
        from datetime import datetime

        if datetime.fromisoformat(self.end.replace("Z", "+00:00")) <= datetime.fromisoformat(
            self.start.replace("Z", "+00:00")
        ):
            raise ValueError(f"blackout {self.reason!r}: end {self.end} is not after start {self.start}")
        return self

    @field_validator("symbols")
    @classmethod
    def _symbols(cls, v: list[str]) -> list[str]:
        return _symbol_list(v)


def _symbol_list(v: list[str]) -> list[str]:
    """Sorted and unique, so the order symbols are written in does not change the config hash."""
    symbols = [s.strip() for s in v]
    if any(not s for s in symbols):
        raise ValueError("symbols must be non-empty")
    return sorted(set(symbols))


class RiskSection(Section):
    profile: Profile = Field("balanced", description="conservative | balanced | aggressive: sets every threshold")
    capital: Decimal = Field(
        Decimal(1_000_000), gt=0, description="USD the exposure, weight and drawdown limits are measured against"
    )
    allowlist: list[str] = Field(default_factory=list, description="symbols that may trade; empty: the universe")
    blackouts: list[Blackout] = Field(default_factory=list)
    policy: PolicyTable
    pretrade: PreTradeTable
    limits: LimitsTable
    quarantine: QuarantineTable
    session: SessionTable

    @field_validator("allowlist")
    @classmethod
    def _allowlist(cls, v: list[str]) -> list[str]:
        return _symbol_list(v)

    @model_validator(mode="after")
    def _windows(self) -> RiskSection:
        p = self.policy
        if p.min_correlation_bars > p.correlation_window_bars:
            raise ValueError(
                f"risk.policy.min_correlation_bars {p.min_correlation_bars} is above "
                f"correlation_window_bars {p.correlation_window_bars}: the correlation would always be 0"
            )
        return self

    @model_validator(mode="before")
    @classmethod
    def _profile_defaults(cls, raw: Any) -> Any:
        """Fill every table from the profile; keys written in the config win, one by one."""
        if not isinstance(raw, dict):
            return raw
        name = raw.get("profile", "balanced")
        if not isinstance(name, str) or name not in PROFILE_VALUES:
            raise ValueError(f"unknown risk.profile {name!r}; choose one of {', '.join(PROFILES)}")
        return _merge(PROFILE_VALUES[name], raw)


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(base[k], v) if isinstance(v, dict) and isinstance(base.get(k), dict) else v
    return out


_BALANCED: dict[str, Any] = {
    "policy": {
        "max_data_age_seconds": "30",
        "max_daily_drawdown_pct": "3",
        "min_liquidity_score": "0.7",
        "max_participation_pct": "1",
        "liquidity_window_bars": 20,
        "min_confidence": "0.6",
        "max_correlation": "0.35",
        "correlation_window_bars": 60,
        "min_correlation_bars": 20,
        "review_seconds": 900,
        "actions": {
            "stale_data": "REJECT",
            "symbol_not_allowed": "REJECT",
            "daily_drawdown": "REJECT",
            "event_blackout": "REJECT",
            "low_liquidity": "REVIEW",
            "low_confidence": "REVIEW",
            "high_correlation": "REVIEW",
        },
    },
    "pretrade": {
        "max_order_notional": "250000",
        "max_order_shares": "10000",
        "price_collar_bps": 500,
        "throttle_window_seconds": 60,
        "max_orders_per_window": 60,
        "max_orders_per_symbol_per_window": 10,
        "max_cancels_per_window": 60,
        "cancel_loop_limit": 5,
        "cancel_loop_window_seconds": 600,
    },
    "limits": {
        "max_gross_exposure_pct": "100",
        "max_net_exposure_pct": "100",
        "max_symbol_weight_pct": "25",
        "max_trade_notional": "100000",
        "max_daily_loss": "20000",
        "on_daily_loss": "REDUCING",
    },
    "quarantine": {
        "enabled": True,
        "seconds": 86_400,
        "reject_window": 20,
        "min_rejects": 5,
        "max_reject_rate_pct": "50",
        "expectancy_window": 20,
        "min_closing_fills": 10,
        "breaker_opens": 3,
        "breaker_window_seconds": 3600,
    },
    "session": {"cancel_day_orders_at_close": False, "cancel_leftovers_at_start": False},
}
_CONSERVATIVE = _merge(
    _BALANCED,
    {
        "policy": {
            "max_data_age_seconds": "15",
            "max_daily_drawdown_pct": "2",
            "min_liquidity_score": "0.8",
            "max_participation_pct": "0.5",
            "min_confidence": "0.7",
            "max_correlation": "0.25",
            "actions": {"low_liquidity": "REJECT"},
        },
        "pretrade": {
            "max_order_notional": "100000",
            "max_order_shares": "5000",
            "price_collar_bps": 300,
            "max_orders_per_window": 30,
            "max_orders_per_symbol_per_window": 5,
            "max_cancels_per_window": 30,
            "cancel_loop_limit": 3,
        },
        "limits": {
            "max_gross_exposure_pct": "50",
            "max_net_exposure_pct": "50",
            "max_symbol_weight_pct": "10",
            "max_trade_notional": "50000",
            "max_daily_loss": "10000",
            "on_daily_loss": "HALTED",
        },
        "quarantine": {"min_rejects": 3, "max_reject_rate_pct": "30", "breaker_opens": 2},
        "session": {"cancel_day_orders_at_close": True, "cancel_leftovers_at_start": True},
    },
)
_AGGRESSIVE = _merge(
    _BALANCED,
    {
        "policy": {
            "max_data_age_seconds": "60",
            "max_daily_drawdown_pct": "5",
            "min_liquidity_score": "0.5",
            "max_participation_pct": "2",
            "min_confidence": "0.5",
            "max_correlation": "0.6",
        },
        "pretrade": {
            "max_order_notional": "500000",
            "max_order_shares": "25000",
            "price_collar_bps": 1000,
            "max_orders_per_window": 120,
            "max_orders_per_symbol_per_window": 20,
            "max_cancels_per_window": 120,
            "cancel_loop_limit": 8,
        },
        "limits": {
            "max_gross_exposure_pct": "200",
            "max_net_exposure_pct": "150",
            "max_symbol_weight_pct": "40",
            "max_trade_notional": "250000",
            "max_daily_loss": "50000",
        },
        "quarantine": {"min_rejects": 8, "max_reject_rate_pct": "70", "breaker_opens": 5},
    },
)
PROFILE_VALUES: dict[str, dict[str, Any]] = {
    "conservative": _CONSERVATIVE,
    "balanced": _BALANCED,
    "aggressive": _AGGRESSIVE,
}
