"""The execution report of ``engine tca``: the TCA orders and blocks aggregated per group, plus TOTAL.

One row per value of the grouping column (day, symbol, strategy or order_type; a missing value is
"-"), sorted, then a ``TOTAL`` row over every order and block. Column meanings: docs/tca.md.
"""

from __future__ import annotations

from typing import Literal

import polars as pl

from projections.tca import BPS, Tca

Grouping = Literal["day", "symbol", "strategy", "order_type"]
GROUPINGS: tuple[Grouping, ...] = ("day", "symbol", "strategy", "order_type")
TOTAL = "TOTAL"
QUANTILES = (50, 90, 95)
PARTS = ("delay", "execution", "fees", "opportunity")
COUNT_COLUMNS = ("orders", "filled_orders", "partial_orders", "rejects", "cancels")
REPORT_COLUMNS = (
    "orders",
    "filled_orders",
    "partial_orders",
    "fill_rate",
    "notional",
    "is_bps_mean",
    "is_bps_wmean",
    *(f"is_bps_p{q}" for q in QUANTILES),
    *(f"spread_paid_bps_p{q}" for q in QUANTILES),
    *(f"{p}_bps_mean" for p in PARTS),
    "rejects",
    "cancels",
)
BLOCKED = "blocked_"


def _ratio(num: pl.Expr, den: pl.Expr) -> pl.Expr:
    return pl.when(den != 0).then(num / den)


def _order_aggregates() -> list[pl.Expr]:
    costed = pl.col("is_usd").is_not_null() & pl.col("notional").is_not_null()
    status = pl.col("status")
    return [
        pl.len().cast(pl.Int64).alias("orders"),
        (status == "FILLED").sum().cast(pl.Int64).alias("filled_orders"),
        pl.col("partial").sum().cast(pl.Int64).alias("partial_orders"),
        _ratio(pl.col("filled_qty").sum(), pl.col("qty").sum()).alias("fill_rate"),
        pl.col("notional").sum().alias("notional"),
        pl.col("is_bps").mean().alias("is_bps_mean"),
        _ratio(pl.col("is_usd").filter(costed).sum() * BPS, pl.col("notional").filter(costed).sum()).alias(
            "is_bps_wmean"
        ),
        *(pl.col("is_bps").quantile(q / 100, "linear").alias(f"is_bps_p{q}") for q in QUANTILES),
        *(pl.col("spread_paid_bps").quantile(q / 100, "linear").alias(f"spread_paid_bps_p{q}") for q in QUANTILES),
        *(pl.col(f"{p}_bps").mean().alias(f"{p}_bps_mean") for p in PARTS),
        (status == "REJECTED").sum().cast(pl.Int64).alias("rejects"),
        status.is_in(["CANCELED", "PARTIAL_CANCELED"]).sum().cast(pl.Int64).alias("cancels"),
    ]


def _blocks_by(blocks: pl.DataFrame, by: str) -> pl.DataFrame:
    """One row per group, one ``blocked_<REASON>`` count column per reason that occurs."""
    counts = blocks.group_by(by, "reason").len().with_columns(pl.col("len").cast(pl.Int64))
    if counts.is_empty():
        return pl.DataFrame(schema={by: pl.String})
    wide = counts.with_columns(reason=BLOCKED + pl.col("reason")).pivot(on="reason", index=by, values="len")
    return wide.select(by, *sorted(c for c in wide.columns if c != by))


def tca_report(tca: Tca, by: Grouping = "day") -> pl.DataFrame:
    """The report frame: ``by``, REPORT_COLUMNS, then the sorted ``blocked_<REASON>`` columns."""
    if by not in GROUPINGS:
        raise ValueError(f"unknown grouping {by!r} (known: {', '.join(GROUPINGS)})")
    orders = tca.orders.with_columns(pl.col(by).fill_null("-"))
    blocks = tca.blocks.with_columns(pl.col(by).fill_null("-"))
    groups = orders.group_by(by).agg(_order_aggregates())
    total = orders.select(pl.lit(TOTAL).alias(by), *_order_aggregates())
    rows = groups.join(_blocks_by(blocks, by), on=by, how="full", coalesce=True).sort(by)
    total = pl.concat([total, _blocks_by(blocks.with_columns(pl.lit(TOTAL).alias(by)), by)], how="align")
    report = pl.concat([rows, total], how="diagonal_relaxed")
    blocked = sorted(c for c in report.columns if c.startswith(BLOCKED))
    filled = [pl.col(c).fill_null(0).cast(pl.Int64) for c in (*COUNT_COLUMNS, *blocked)]
    return report.with_columns(*filled, pl.col("notional").fill_null(0.0)).select(by, *REPORT_COLUMNS, *blocked)
