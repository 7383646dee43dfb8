"""The ``[costs]`` table of the run config: the calibrated cost model and the cost gate of
decisions (docs/execution.md#cost-model). The simulator's own parameters are ``[paper]``."""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field, StrictBool, StrictInt, field_validator

from engine.config_fields import Section, six_places, two_places


class CostsSection(Section):
    gate: StrictBool = Field(
        True,
        description="skip an order adding risk whose expected edge is below its expected "
        "cost plus edge_buffer_bps (COST_GATE_BLOCK); only strategies that give an edge",
    )
    edge_buffer_bps: Decimal = Field(Decimal(2), ge=0, description="margin the edge must clear above the cost")
    block_when_stale: StrictBool = Field(
        False,
        description="REJECT orders adding risk while the symbol's cost model "
        "is uncalibrated or stale (COST_MODEL_STALE_BLOCK)",
    )
    min_samples: StrictInt = Field(20, ge=1, le=100_000, description="fills before a symbol's model is calibrated")
    max_age_days: Decimal = Field(
        Decimal(5), gt=0, description="stream days without a calibrating fill before the model is stale"
    )
    ewma_alpha: Decimal = Field(Decimal("0.05"), gt=0, le=1, description="weight of each new fill in the EWMAs")
    prior_half_spread_bps: Decimal = Field(Decimal(2), ge=0, description="half-spread used until calibrated")
    prior_slippage_bps: Decimal = Field(Decimal(1), ge=0, description="base slippage used until calibrated")
    prior_impact_k: Decimal = Field(Decimal(1), ge=0, le=100, description="impact k used until calibrated")
    max_cost_bps: Decimal = Field(Decimal(500), gt=0, description="bound of every cost estimate")
    max_impact_k: Decimal = Field(Decimal(20), ge=0, le=1000, description="bound of the calibrated impact k")
    vol_window_bars: StrictInt = Field(20, ge=2, le=1000, description="returns in the volatility estimate")
    volume_window_bars: StrictInt = Field(20, ge=1, le=1000, description="bars in the expected bar volume")

    _b = field_validator("edge_buffer_bps", "prior_half_spread_bps", "prior_slippage_bps", "max_cost_bps")(two_places)

    _s = field_validator("ewma_alpha", "prior_impact_k", "max_impact_k")(six_places)
