"""Transaction cost analysis: per-order implementation shortfall over a journal, with polars.

One pass over the journal (``projections.tca_collect``; only the event types of ``TCA_TYPES`` are
decoded) collects flat columns: int64 ``array`` rows for orders, fills and bars, interned strings
for the rest. numpy then sums the fills per order (``bincount``), polars finds the decision,
arrival and end prices with as-of joins on the bars and computes every cost. Definitions and
columns: docs/tca.md.
"""

from __future__ import annotations

import copy
from array import array
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from engine.journal.address import JournalLike
from engine.journal.read import read_events
from journal_schema.events import Event
from projections.tca_collect import (
    BAR_INTS,
    BLOCK_SCHEMA,
    FILL_INTS,
    NONE,
    ORDER_INTS,
    ORDER_TEXTS,
    TCA_TYPES,
    TERMINAL_KINDS,
    Collector,
    collect,
)

if TYPE_CHECKING:
    from polars._typing import AsofJoinStrategy

UNITS = 1e8  # Fixed8 -> float
BPS = 10_000.0
_LAST = 2**63 - 1  # end-price key of an order still open: the last bar of its symbol
_CHUNK = 1 << 18  # fills aggregated per numpy pass (bounds the temporaries)
ORDER_COLUMNS = (
    "client_order_id",
    "symbol",
    "strategy",
    "order_type",
    "side",
    "day",
    "decision_seq",
    "decision_ts",
    "submit_ts",
    "qty",
    "filled_qty",
    "status",
    "decision_price",
    "decision_source",
    "arrival_price",
    "arrival_source",
    "arrival_is_proxy",
    "fill_vwap",
    "end_price",
    "fees",
    "notional",
    "is_usd",
    "delay_usd",
    "execution_usd",
    "fees_usd",
    "opportunity_usd",
    "is_bps",
    "delay_bps",
    "execution_bps",
    "fees_bps",
    "opportunity_bps",
    "spread_paid_bps",
    "n_fills",
    "partial",
    "fill_latency_ns",
    "last_fill_latency_ns",
    "cancel_requests",
    "replaces",
    "resubmits",
)


@dataclass(frozen=True)
class Tca:
    orders: pl.DataFrame  # one row per client_order_id that got an OrderSubmitRequested (docs/tca.md)
    blocks: pl.DataFrame  # one row per reason of a decision not ACCEPTED (POLICY) and per OrderBlocked (PRE_TRADE)
    counts: dict[str, int]  # journal-wide: decisions, rejects, cancels, expired, partial_orders


def _columns(rows: array[int], names: tuple[str, ...]) -> dict[str, np.ndarray[Any, np.dtype[np.int64]]]:
    """The columns of a flat int64 row array (views, no copy)."""
    matrix = np.frombuffer(rows, dtype=np.int64).reshape(-1, len(names))
    return {n: matrix[:, k] for k, n in enumerate(names)}


def _nullable(frame: pl.DataFrame, *names: str) -> pl.DataFrame:
    return frame.with_columns(pl.when(pl.col(n) != NONE).then(pl.col(n)).alias(n) for n in names)


def _utc_day(ts: pl.Expr) -> pl.Expr:
    return pl.from_epoch(ts, time_unit="ns").dt.strftime("%Y-%m-%d")


def _fill_stats(fill_rows: array[int], o: dict[str, Any]) -> pl.DataFrame:
    """Per order (row i is order i): filled qty, value, fees, fill count, first/last fill ts, the first
    fill's quote mid and the spread paid. numpy sums per order (``bincount``) over chunks of fills."""
    f, n = _columns(fill_rows, FILL_INTS), len(o["sym"])
    sums = {k: np.zeros(n) for k in ("filled_qty", "fill_value", "fees", "quoted", "spread_num", "spread_den")}
    n_fills, first, last = np.zeros(n, np.int64), np.full(n, len(f["idx"])), np.full(n, -1)
    for start in range(0, len(f["idx"]), _CHUNK):
        part = {k: v[start : start + _CHUNK] for k, v in f.items()}
        idx, qty, px = part["idx"], part["qty"] / UNITS, part["price"] / UNITS
        quoted = (part["bid"] != NONE) & (part["ask"] != NONE)
        mid = np.where(quoted, (part["bid"] / UNITS + part["ask"] / UNITS) / 2, 0.0)
        spread = np.where(quoted, o["sign"][idx] * (px - mid) * qty, 0.0)
        for key, weights in (
            ("filled_qty", qty),
            ("fill_value", px * qty),
            ("fees", part["fee"] / UNITS),
            ("quoted", quoted),
            ("spread_num", spread),
            ("spread_den", mid * qty),
        ):
            sums[key] += np.bincount(idx, weights=weights, minlength=n)
        n_fills += np.bincount(idx, minlength=n)
        rows = np.arange(start, start + len(idx))
        np.minimum.at(first, idx, rows)
        np.maximum.at(last, idx, rows)
    pad = {k: np.append(f[k], NONE) for k in ("ts", "bid", "ask")}  # first/last index the pad when unfilled
    bid, ask = pad["bid"][first], pad["ask"][first]
    first_mid = np.where((bid != NONE) & (ask != NONE), (bid / UNITS + ask / UNITS) / 2, np.nan)
    frame = pl.DataFrame(
        {
            "n_fills": n_fills,
            **sums,
            "first_fill_ts": pad["ts"][first],
            "last_fill_ts": pad["ts"][last],
            "first_mid": first_mid,
        }
    )
    return _nullable(frame, "first_fill_ts", "last_fill_ts").with_columns(first_mid=pl.col("first_mid").fill_nan(None))


def _bar_prices(bar_rows: array[int], o: dict[str, Any]) -> pl.DataFrame:
    """Per order: the decision bar's close (last bar of the symbol journaled before the decision), the
    arrival bar's open and ts (first one journaled after the submit request) and the end bar's close
    (last one stamped at or before the terminal report; the symbol's last bar while the order is open)."""
    b = _columns(bar_rows, BAR_INTS)
    bars = pl.DataFrame(
        {"seq": b["seq"], "ts": b["ts"], "sym": b["sym"], "open": b["open"] / UNITS, "close": b["close"] / UNITS}
    ).lazy()
    keys = pl.DataFrame(
        {
            "idx": np.arange(len(o["sym"]), dtype=np.int64),
            "sym": o["sym"],
            "submit_seq": o["submit_seq"],
            "ref_seq": np.where(o["decision_seq"] == NONE, o["submit_seq"], o["decision_seq"]),
            "end_key": np.where(o["term_ts"] == NONE, _LAST, o["term_ts"]),
        }
    ).lazy()
    decision = bars.select("sym", ref_seq="seq", decision_close="close")
    arrival = bars.select("sym", submit_seq="seq", arrival_open="open", arrival_bar_ts="ts")
    end = bars.sort("ts", maintain_order=True).select("sym", end_key="ts", end_close="close")
    out = _asof(keys.sort("ref_seq"), decision, "ref_seq", "backward", exact=False).sort("submit_seq")
    out = _asof(out, arrival, "submit_seq", "forward", exact=False).sort("end_key")
    out = _asof(out, end, "end_key", "backward", exact=True)
    return out.select("idx", "decision_close", "arrival_open", "arrival_bar_ts", "end_close").collect()


def _asof(left: pl.LazyFrame, right: pl.LazyFrame, on: str, strategy: AsofJoinStrategy, *, exact: bool) -> pl.LazyFrame:
    """As-of join per symbol; both sides are sorted on ``on`` by the caller."""
    return left.join_asof(right, on=on, by="sym", strategy=strategy, allow_exact_matches=exact, check_sortedness=False)


def _status() -> pl.Expr:
    kind, filled = pl.col("term_kind"), pl.col("filled_qty") > 0
    return (
        pl.when(kind.is_null())
        .then(pl.when(filled).then(pl.lit("PARTIALLY_FILLED")).otherwise(pl.lit("OPEN")))
        .when(kind.is_in(["FILLED", "REJECTED"]) | ~filled)
        .then(kind)
        .otherwise(pl.lit("PARTIAL_") + kind)
    )


def _costs(df: pl.LazyFrame) -> pl.LazyFrame:
    """Prices by source, then the cost components in USD and bps (docs/tca.md)."""
    quote_mid = pl.col("first_mid").is_not_null() & (pl.col("first_fill_ts") == pl.col("arrival_bar_ts"))
    df = df.with_columns(
        fill_vwap=pl.when(pl.col("filled_qty") > 0).then(pl.col("fill_value") / pl.col("filled_qty")),
        arrival_source=pl.when(quote_mid)
        .then(pl.lit("QUOTE_MID"))
        .when(pl.col("arrival_open").is_not_null())
        .then(pl.lit("NEXT_BAR_OPEN"))
        .otherwise(pl.lit("DECISION_PRICE")),
        market_arrival=pl.when(quote_mid).then("first_mid").otherwise("arrival_open"),
    )
    p_d = pl.coalesce("decision_close", "market_arrival")
    df = df.with_columns(
        decision_price=p_d,
        arrival_price=pl.coalesce("market_arrival", "decision_close"),
        decision_source=pl.when(pl.col("decision_close").is_not_null())
        .then(pl.lit("BAR_CLOSE"))
        .when(pl.col("market_arrival").is_not_null())
        .then(pl.lit("ARRIVAL_PRICE")),
        arrival_is_proxy=pl.col("arrival_source") != "QUOTE_MID",
        end_price=pl.coalesce("end_close", p_d),
        status=_status(),
        day=pl.coalesce("day", _utc_day(pl.coalesce("decision_ts", "submit_ts"))),
    )
    s, q, big_q = pl.col("sign"), pl.col("filled_qty"), pl.col("qty")
    p_d, p_a, p_e, v = (pl.col(n) for n in ("decision_price", "arrival_price", "end_price", "fill_vwap"))
    df = df.with_columns(
        notional=big_q * p_d,
        delay_usd=pl.when(q == 0).then(0.0).otherwise(s * (p_a - p_d) * q),
        execution_usd=pl.when(q == 0).then(0.0).otherwise(s * (v - p_a) * q),
        fees_usd=pl.col("fees"),
        opportunity_usd=pl.when(q >= big_q).then(0.0).otherwise(s * (p_e - p_d) * (big_q - q)),
        spread_paid_bps=pl.when(pl.col("quoted") > 0).then(pl.col("spread_num") / pl.col("spread_den") * BPS),
        partial=(pl.col("n_fills") > 1) | ((q > 0) & (q < big_q)),
        fill_latency_ns=pl.col("first_fill_ts") - pl.col("submit_ts"),
        last_fill_latency_ns=pl.col("last_fill_ts") - pl.col("submit_ts"),
    )
    parts = ("delay", "execution", "fees", "opportunity")
    df = df.with_columns(is_usd=pl.sum_horizontal(*(f"{p}_usd" for p in parts), ignore_nulls=False))
    return df.with_columns(**{f"{p}_bps": pl.col(f"{p}_usd") / pl.col("notional") * BPS for p in ("is", *parts)})


def _orders_frame(c: Collector) -> pl.DataFrame:
    o = _columns(c.order_ints, ORDER_INTS)
    kinds = dict(enumerate(TERMINAL_KINDS))
    orders = pl.DataFrame(
        {**dict(zip(ORDER_TEXTS, c.order_texts, strict=True)), **o},
        schema={**dict.fromkeys(ORDER_TEXTS, pl.String), **dict.fromkeys(ORDER_INTS, pl.Int64)},
    )
    orders = _nullable(orders, "decision_seq", "decision_ts", "term_seq", "term_ts", "term_kind").with_columns(
        idx=pl.int_range(pl.len(), dtype=pl.Int64),
        qty=pl.col("qty_units") / UNITS,
        term_kind=pl.col("term_kind").replace_strict(kinds, default=None, return_dtype=pl.String),
    )
    df = pl.concat([orders, _fill_stats(c.fills, o), _bar_prices(c.bars, o).sort("idx").drop("idx")], how="horizontal")
    return _costs(df.lazy()).select(ORDER_COLUMNS).collect()


def tca_of_events(events: Iterable[tuple[int, Event]]) -> Tca:
    """TCA from ``(seq, event)`` pairs in journal order (other event types are ignored)."""
    c = collect(events)
    orders = _orders_frame(c)
    blocks = pl.DataFrame(dict(zip(BLOCK_SCHEMA, c.blocks, strict=True)), schema=BLOCK_SCHEMA)
    blocks = blocks.with_columns(day=pl.coalesce("day", _utc_day(pl.col("ts"))))
    return Tca(orders, blocks, {**c.counts, "partial_orders": int(orders["partial"].sum())})


def load_tca(path: JournalLike, *, at: int | None = None) -> Tca:
    """TCA of the journal at ``path`` as of record ``at`` (default: its last); JournalError if unreadable."""
    return tca_of_events(read_events(path, TCA_TYPES, at=at))


class TcaFold:
    """TCA as an incremental fold (``engine project --projection tca``): ``orders()`` is the per-order frame
    of the events applied so far, equal to ``tca_of_events(...).orders``, recomputed on every call."""

    def __init__(self) -> None:
        self.collector = Collector()
        self._handlers = self.collector.handlers()

    def apply(self, seq: int, event: Event) -> None:
        handler = self._handlers.get(type(event))
        if handler is not None:
            handler(seq, event)

    def orders(self) -> pl.DataFrame:
        # numpy views export the arrays' buffers (which would stop the next extend): build from copies
        c = copy.copy(self.collector)
        c.order_ints, c.fills, c.bars = array("q", c.order_ints), array("q", c.fills), array("q", c.bars)
        return _orders_frame(c)


def order_schema() -> pl.Schema:
    """The columns and dtypes of ``Tca.orders`` (the frame of an empty journal)."""
    return _orders_frame(Collector()).schema
