"""The config tables of how orders are made and reach a broker: ``[orders]``, ``[paper]`` (the
execution simulator), ``[broker]`` and ``[oms]``."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import Field, StrictBool, StrictInt, field_validator

from engine.config_fields import Section, at_most_places, six_places, two_places

BrokerKind = Literal["sim", "venue", "alpaca"]


class OrdersSection(Section):
    type: Literal["market", "limit"] = Field("market", description="order type of every intent")
    limit_offset_bps: Decimal = Field(
        Decimal(0), description="limit price = last close x (1 + offset) for buys, (1 - offset) for sells"
    )
    time_in_force: Literal["day", "gtc"] = Field("day", description="day orders expire at their session's close")

    _v = field_validator("limit_offset_bps")(two_places)


class PaperSection(Section):
    """The execution simulator of the paper broker and the venue (docs/execution.md)."""

    spread: Literal["fixed", "bar_range"] = Field(
        "fixed", description="quoted spread: fixed (half_spread_bps) or estimated from each bar's range"
    )
    half_spread_bps: Decimal = Field(
        Decimal(2), ge=0, description="half the quoted spread (bar_range: its floor), paid on every fill"
    )
    range_spread_fraction: Decimal = Field(
        Decimal("0.1"), ge=0, le=1, description="bar_range: quoted spread = this x (high - low) / open"
    )
    max_half_spread_bps: Decimal = Field(Decimal(50), ge=0, description="bar_range: cap of the half-spread")
    slippage_bps: Decimal = Field(Decimal(1), ge=0, description="base slippage beyond the touch on every fill")
    impact_k: Decimal = Field(
        Decimal(1), ge=0, le=100, description="slippage += k x volatility x sqrt(fill qty / bar volume)"
    )
    slippage_jitter_bps: Decimal = Field(
        Decimal(0), ge=0, description="extra uniform random slippage in [0, x] per fill, seeded"
    )
    max_participation: Decimal = Field(
        Decimal("0.1"), gt=0, le=1, description="share of a bar's volume a symbol's orders may fill (partial fills)"
    )
    latency_ms: Decimal = Field(
        Decimal(100), ge=0, description="submit-to-market latency: an order fills only on bars closing that long after"
    )
    vol_window_bars: StrictInt = Field(20, ge=2, le=1000, description="returns in the volatility estimate")
    fee_per_share: Decimal = Field(Decimal(0), ge=0, description="USD per share filled")
    fee_bps: Decimal = Field(Decimal(0), ge=0, description="bps of fill notional")

    _v = field_validator("half_spread_bps", "slippage_bps", "slippage_jitter_bps", "fee_bps", "max_half_spread_bps")(
        two_places
    )

    @field_validator("fee_per_share")
    @classmethod
    def _eight_places(cls, v: Decimal) -> Decimal:
        return at_most_places(v, 8, "at most 8 decimal places")

    _s = field_validator("range_spread_fraction", "impact_k", "max_participation", "latency_ms")(six_places)


class BrokerSection(Section):
    kind: BrokerKind = Field(
        "sim",
        description="sim: historical bars with the in-process paper broker; venue: the "
        "local paper venue; alpaca: Alpaca's API (paper endpoint unless run.mode = live)",
    )
    venue_url: str = Field(
        "http://127.0.0.1:8765",
        pattern=r"^https?://[^/\s]+$",
        description="base URL of the local venue (scheme://host:port, no path)",
    )
    data_feed: Literal["iex", "sip"] = Field("iex", description="Alpaca market data feed for bars")
    timeframe: str = Field(
        "1Day", pattern=r"^([1-9][0-9]*(Min|Hour)|1Day)$", description="bar timeframe polled: NMin, NHour or 1Day"
    )
    poll_interval_seconds: Decimal = Field(Decimal(1), gt=0, description="wall seconds between poll cycles")
    rate_limit_per_minute: StrictInt = Field(
        200, ge=1, le=10_000, description="token bucket shared by every broker call"
    )
    timeout_seconds: Decimal = Field(Decimal(10), gt=0, description="HTTP timeout of one broker call")
    session_close_grace_seconds: Decimal = Field(
        Decimal(5), ge=0, description="a session is journaled closed this long after its close (late bars first)"
    )


class OmsSection(Section):
    max_submit_attempts: StrictInt = Field(
        5, ge=1, le=100, description="submissions of one order the broker never saw before its intent FAILS"
    )
    adopt_broker_positions: StrictBool = Field(
        False, description="on a reconciliation position mismatch take the broker's view instead of halting"
    )
