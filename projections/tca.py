"""Transaction cost analysis: per-order implementation shortfall over a journal, with polars.

One pass over the journal (only the event types of ``TCA_TYPES`` are decoded) collects flat
columns: int64 ``array`` rows for orders, fills and bars (one ``extend`` per event), interned
strings for the rest. numpy then sums the fills per order (``bincount``), polars finds the decision,
arrival and end prices with as-of joins on the bars and computes every cost. Definitions and
columns: docs/tca.md.
"""

from __future__ import annotations

import copy
from array import array
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from journal_schema.events import (
    BarClosed,
    ConfigChanged,
    DecisionMade,
    Event,
    OrderCanceled,
    OrderCancelRequested,
    OrderExpired,
    OrderFilled,
    OrderIntentCreated,
    OrderPartiallyFilled,
    OrderRejected,
    OrderReplaced,
    OrderResubmitRequested,
    OrderSubmitRequested,
    RunStarted,
    SignalGenerated,
)
from journal_schema.risk_events import OrderBlocked
from projections.fold import iter_events

if TYPE_CHECKING:
    from polars._typing import AsofJoinStrategy

TCA_TYPES: tuple[type[Event], ...] = (
    RunStarted, ConfigChanged, BarClosed, SignalGenerated, DecisionMade, OrderIntentCreated,
    OrderSubmitRequested, OrderResubmitRequested, OrderCancelRequested, OrderPartiallyFilled, OrderFilled,
    OrderCanceled, OrderExpired, OrderRejected, OrderReplaced, OrderBlocked,
)  # fmt: skip
UNITS = 1e8  # Fixed8 -> float
BPS = 10_000.0
NONE = -(2**63)  # null in the int64 columns
_LAST = 2**63 - 1  # end-price key of an order still open: the last bar of its symbol
TERMINAL_KINDS = ("FILLED", "CANCELED", "EXPIRED", "REJECTED", "REPLACED")
_KIND: dict[type[Event], int] = {
    OrderFilled: 0, OrderCanceled: 1, OrderExpired: 2, OrderRejected: 3, OrderReplaced: 4
}  # fmt: skip
_COUNTED = {OrderRejected: "rejects", OrderCanceled: "cancels", OrderExpired: "expired"}
ORDER_INTS = ("sym", "sign", "decision_seq", "decision_ts", "submit_seq", "submit_ts", "qty_units", "term_seq",
              "term_ts", "term_kind", "cancel_requests", "replaces", "resubmits")  # fmt: skip
_WIDTH = len(ORDER_INTS)
_TERM_SEQ, _TERM_TS, _TERM_KIND = (ORDER_INTS.index(c) for c in ("term_seq", "term_ts", "term_kind"))
_COUNTER = {OrderCancelRequested: ORDER_INTS.index("cancel_requests"), OrderReplaced: ORDER_INTS.index("replaces"),
            OrderResubmitRequested: ORDER_INTS.index("resubmits")}  # fmt: skip
ORDER_TEXTS = ("client_order_id", "symbol", "strategy", "order_type", "side", "day")
FILL_INTS = ("idx", "ts", "qty", "price", "fee", "bid", "ask")
# outcomes of a decision that no control imposed: the target was met, or cancels went first
NOT_BLOCKS = frozenset({"ALREADY_AT_TARGET", "OPPOSITE_ORDER_CANCEL_REQUESTED"})
_CHUNK = 1 << 18  # fills aggregated per numpy pass (bounds the temporaries)
BAR_INTS = ("seq", "ts", "sym", "open", "close")
BLOCK_SCHEMA: dict[str, type[pl.DataType]] = {
    "seq": pl.Int64, "ts": pl.Int64, "day": pl.String, "symbol": pl.String, "strategy": pl.String,
    "order_type": pl.String, "gate": pl.String, "reason": pl.String, "outcome": pl.String,
}  # fmt: skip
ORDER_COLUMNS = (
    "client_order_id", "symbol", "strategy", "order_type", "side", "day", "decision_seq", "decision_ts",
    "submit_ts", "qty", "filled_qty", "status", "decision_price", "decision_source", "arrival_price",
    "arrival_source", "arrival_is_proxy", "fill_vwap", "end_price", "fees", "notional", "is_usd", "delay_usd",
    "execution_usd", "fees_usd", "opportunity_usd", "is_bps", "delay_bps", "execution_bps", "fees_bps",
    "opportunity_bps", "spread_paid_bps", "n_fills", "partial", "fill_latency_ns", "last_fill_latency_ns",
    "cancel_requests", "replaces", "resubmits",
)  # fmt: skip
COUNTS = ("decisions", "rejects", "cancels", "expired", "partial_orders")


@dataclass(frozen=True)
class Tca:
    orders: pl.DataFrame  # one row per client_order_id that got an OrderSubmitRequested (docs/tca.md)
    blocks: pl.DataFrame  # one row per reason of a decision not ACCEPTED (POLICY) and per OrderBlocked (PRE_TRADE)
    counts: dict[str, int]  # journal-wide: decisions, rejects, cancels, expired, partial_orders


def _config_value(config: dict[str, Any], section: str, key: str) -> str | None:
    value = config.get(section)
    found = value.get(key) if isinstance(value, dict) else None
    return found if isinstance(found, str) else None


Terminal = OrderFilled | OrderCanceled | OrderExpired | OrderRejected | OrderReplaced


class _Collector:
    """The columns TCA needs, appended in journal order (one handler per event type)."""

    def __init__(self) -> None:
        self.order_type: str | None = None  # as configured (RunStarted / ConfigChanged)
        self.strategy: str | None = None
        self.texts: dict[Any, Any] = {}  # interned strings and (strategy, session) pairs
        self.signals: dict[str, tuple[str | None, str | None]] = {}  # signal_id -> (strategy, session)
        self.decisions: dict[str, int] = {}  # decision_id (ACCEPTED) -> row of decision_rows
        self.decision_rows = array("q")  # seq, ts
        self.decision_pairs: list[tuple[str | None, str | None]] = []
        self.intents: dict[str, int] = {}  # intent_id -> row of decision_rows, until its submit request
        self.index: dict[str, int] = {}  # client_order_id -> order row
        self.order_ints = array("q")  # ORDER_INTS per order
        self.order_texts: tuple[list[str | None], ...] = tuple([] for _ in ORDER_TEXTS)
        self.fills = array("q")  # FILL_INTS per fill
        self.bars = array("q")  # BAR_INTS per bar
        self.symbols: dict[str, int] = {}  # symbol -> code (the "sym" columns)
        self.blocks: tuple[list[Any], ...] = tuple([] for _ in BLOCK_SCHEMA)
        self.counts = dict.fromkeys(COUNTS, 0)

    def handlers(self) -> dict[type[Event], Callable[[int, Any], None]]:
        return {
            RunStarted: self._config, ConfigChanged: self._config, BarClosed: self._bar,
            SignalGenerated: self._signal, DecisionMade: self._decision, OrderIntentCreated: self._intent,
            OrderSubmitRequested: self._submit, OrderResubmitRequested: self._count, OrderCancelRequested: self._count,
            OrderPartiallyFilled: self._fill, OrderFilled: self._fill, OrderCanceled: self._terminal,
            OrderExpired: self._terminal, OrderRejected: self._terminal, OrderReplaced: self._terminal,
            OrderBlocked: self._blocked,
        }  # fmt: skip

    def _intern(self, value: Any) -> Any:
        return self.texts.setdefault(value, value)

    def _config(self, seq: int, ev: RunStarted | ConfigChanged) -> None:
        self.order_type = self._intern(_config_value(ev.config, "orders", "type") or self.order_type)
        self.strategy = self._intern(_config_value(ev.config, "strategy", "name") or self.strategy)

    def _bar(self, seq: int, ev: BarClosed) -> None:
        self.bars.extend((seq, ev.ts, self.symbols.setdefault(ev.symbol, len(self.symbols)), ev.open, ev.close))

    def _signal(self, seq: int, ev: SignalGenerated) -> None:
        self.signals[ev.signal_id] = self._intern((self._intern(ev.strategy), self._intern(ev.session)))

    def _decision(self, seq: int, ev: DecisionMade) -> None:
        self.counts["decisions"] += 1
        pair = self.signals.get(ev.signal_id) or (self.strategy, None)
        if ev.outcome == "ACCEPTED":
            self.decisions[ev.decision_id] = len(self.decision_pairs)
            self.decision_rows.extend((seq, ev.ts))
            self.decision_pairs.append(pair)
            return
        reasons: list[str] = list(ev.reason_codes) or [""]
        for reason in reasons:
            if reason not in NOT_BLOCKS:
                self._block(seq, ev.ts, pair, ev.symbol, "COST" if reason.startswith("COST_") else "POLICY", reason,
                            ev.outcome)  # fmt: skip

    def _blocked(self, seq: int, ev: OrderBlocked) -> None:
        row = self.decisions.get(ev.decision_id)
        pair = (self.strategy, None) if row is None else self.decision_pairs[row]
        self._block(seq, ev.ts, pair, ev.symbol, "PRE_TRADE", ev.reason, "BLOCKED")

    def _block(self, seq: int, ts: int, pair: tuple[str | None, str | None], symbol: str, gate: str,
               reason: str, outcome: str) -> None:  # fmt: skip
        strategy, day = pair
        for column, value in zip(self.blocks, (seq, ts, day, symbol, strategy, self.order_type, gate, reason, outcome),
                                 strict=True):  # fmt: skip
            column.append(value)

    def _intent(self, seq: int, ev: OrderIntentCreated) -> None:
        row = self.decisions.get(ev.decision_id)
        if row is not None:
            self.intents[ev.intent_id] = row

    def _submit(self, seq: int, ev: OrderSubmitRequested) -> None:
        if ev.client_order_id in self.index:
            return
        self.index[ev.client_order_id] = len(self.index)
        row = self.intents.pop(ev.intent_id, None)
        if row is None:
            d_seq, d_ts, (strategy, day) = NONE, NONE, (self.strategy, None)
        else:
            d_seq, d_ts = self.decision_rows[2 * row], self.decision_rows[2 * row + 1]
            strategy, day = self.decision_pairs[row]
        sym, sign = self.symbols.setdefault(ev.symbol, len(self.symbols)), 1 if ev.side == "buy" else -1
        self.order_ints.extend((sym, sign, d_seq, d_ts, seq, ev.ts, ev.qty, NONE, NONE, NONE, 0, 0, 0))
        texts = (ev.client_order_id, self._intern(ev.symbol), strategy, self._intern(ev.order_type),
                 self._intern(ev.side), day)  # fmt: skip
        for column, value in zip(self.order_texts, texts, strict=True):
            column.append(value)

    def _count(self, seq: int, ev: OrderResubmitRequested | OrderCancelRequested | OrderReplaced) -> None:
        i = self.index.get(ev.client_order_id)
        if i is not None:
            self.order_ints[i * _WIDTH + _COUNTER[type(ev)]] += 1

    def _fill(self, seq: int, ev: OrderFilled | OrderPartiallyFilled) -> None:
        i = self.index.get(ev.client_order_id)  # a fill counts from the submit request to the terminal report
        if i is not None and self.order_ints[i * _WIDTH + _TERM_SEQ] == NONE:
            bid, ask = ev.bid, ev.ask
            self.fills.extend((i, ev.ts, ev.fill_qty, ev.fill_price, ev.fee, NONE if bid is None else bid,
                               NONE if ask is None else ask))  # fmt: skip
        if type(ev) is OrderFilled:
            self._terminal(seq, ev)

    def _terminal(self, seq: int, ev: Terminal) -> None:
        counted = _COUNTED.get(type(ev))
        if counted is not None:
            self.counts[counted] += 1
        i = self.index.get(ev.client_order_id)
        if i is None:
            return
        if type(ev) is OrderReplaced:
            self._count(seq, ev)
        base = i * _WIDTH
        if self.order_ints[base + _TERM_SEQ] == NONE:
            self.order_ints[base + _TERM_SEQ] = seq
            self.order_ints[base + _TERM_TS] = ev.ts
            self.order_ints[base + _TERM_KIND] = _KIND[type(ev)]


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
        for key, weights in (("filled_qty", qty), ("fill_value", px * qty), ("fees", part["fee"] / UNITS),
                             ("quoted", quoted), ("spread_num", spread), ("spread_den", mid * qty)):  # fmt: skip
            sums[key] += np.bincount(idx, weights=weights, minlength=n)
        n_fills += np.bincount(idx, minlength=n)
        rows = np.arange(start, start + len(idx))
        np.minimum.at(first, idx, rows)
        np.maximum.at(last, idx, rows)
    pad = {k: np.append(f[k], NONE) for k in ("ts", "bid", "ask")}  # first/last index the pad when unfilled
    bid, ask = pad["bid"][first], pad["ask"][first]
    first_mid = np.where((bid != NONE) & (ask != NONE), (bid / UNITS + ask / UNITS) / 2, np.nan)
    frame = pl.DataFrame({"n_fills": n_fills, **sums, "first_fill_ts": pad["ts"][first],
                          "last_fill_ts": pad["ts"][last], "first_mid": first_mid})  # fmt: skip
    return _nullable(frame, "first_fill_ts", "last_fill_ts").with_columns(first_mid=pl.col("first_mid").fill_nan(None))


def _bar_prices(bar_rows: array[int], o: dict[str, Any]) -> pl.DataFrame:
    """Per order: the decision bar's close (last bar of the symbol journaled before the decision), the
    arrival bar's open and ts (first one journaled after the submit request) and the end bar's close
    (last one stamped at or before the terminal report; the symbol's last bar while the order is open)."""
    b = _columns(bar_rows, BAR_INTS)
    bars = pl.DataFrame({"seq": b["seq"], "ts": b["ts"], "sym": b["sym"], "open": b["open"] / UNITS,
                         "close": b["close"] / UNITS}).lazy()  # fmt: skip
    keys = pl.DataFrame({
        "idx": np.arange(len(o["sym"]), dtype=np.int64), "sym": o["sym"], "submit_seq": o["submit_seq"],
        "ref_seq": np.where(o["decision_seq"] == NONE, o["submit_seq"], o["decision_seq"]),
        "end_key": np.where(o["term_ts"] == NONE, _LAST, o["term_ts"]),
    }).lazy()  # fmt: skip
    decision = bars.select("sym", ref_seq="seq", decision_close="close")
    arrival = bars.select("sym", submit_seq="seq", arrival_open="open", arrival_bar_ts="ts")
    end = bars.sort("ts", maintain_order=True).select("sym", end_key="ts", end_close="close")
    out = _asof(keys.sort("ref_seq"), decision, "ref_seq", "backward", exact=False).sort("submit_seq")
    out = _asof(out, arrival, "submit_seq", "forward", exact=False).sort("end_key")
    out = _asof(out, end, "end_key", "backward", exact=True)
    return out.select("idx", "decision_close", "arrival_open", "arrival_bar_ts", "end_close").collect()


def _asof(left: pl.LazyFrame, right: pl.LazyFrame, on: str, strategy: AsofJoinStrategy, *, exact: bool) -> pl.LazyFrame:
    """As-of join per symbol; both sides are sorted on ``on`` by the caller."""
    return left.join_asof(right, on=on, by="sym", strategy=strategy, allow_exact_matches=exact,
                          check_sortedness=False)  # fmt: skip


def _status() -> pl.Expr:
    kind, filled = pl.col("term_kind"), pl.col("filled_qty") > 0
    return (
        pl.when(kind.is_null()).then(pl.when(filled).then(pl.lit("PARTIALLY_FILLED")).otherwise(pl.lit("OPEN")))
        .when(kind.is_in(["FILLED", "REJECTED"]) | ~filled).then(kind)
        .otherwise(pl.lit("PARTIAL_") + kind)
    )  # fmt: skip


def _costs(df: pl.LazyFrame) -> pl.LazyFrame:
    """Prices by source, then the cost components in USD and bps (docs/tca.md)."""
    quote_mid = pl.col("first_mid").is_not_null() & (pl.col("first_fill_ts") == pl.col("arrival_bar_ts"))
    df = df.with_columns(
        fill_vwap=pl.when(pl.col("filled_qty") > 0).then(pl.col("fill_value") / pl.col("filled_qty")),
        arrival_source=pl.when(quote_mid).then(pl.lit("QUOTE_MID"))
        .when(pl.col("arrival_open").is_not_null()).then(pl.lit("NEXT_BAR_OPEN")).otherwise(pl.lit("DECISION_PRICE")),
        market_arrival=pl.when(quote_mid).then("first_mid").otherwise("arrival_open"),
    )  # fmt: skip
    p_d = pl.coalesce("decision_close", "market_arrival")
    df = df.with_columns(
        decision_price=p_d, arrival_price=pl.coalesce("market_arrival", "decision_close"),
        decision_source=pl.when(pl.col("decision_close").is_not_null()).then(pl.lit("BAR_CLOSE"))
        .when(pl.col("market_arrival").is_not_null()).then(pl.lit("ARRIVAL_PRICE")),
        arrival_is_proxy=pl.col("arrival_source") != "QUOTE_MID", end_price=pl.coalesce("end_close", p_d),
        status=_status(), day=pl.coalesce("day", _utc_day(pl.coalesce("decision_ts", "submit_ts"))),
    )  # fmt: skip
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


def _orders_frame(c: _Collector) -> pl.DataFrame:
    o = _columns(c.order_ints, ORDER_INTS)
    kinds = dict(enumerate(TERMINAL_KINDS))
    orders = pl.DataFrame({**dict(zip(ORDER_TEXTS, c.order_texts, strict=True)), **o},
                          schema={**dict.fromkeys(ORDER_TEXTS, pl.String), **dict.fromkeys(ORDER_INTS, pl.Int64)})
    orders = _nullable(orders, "decision_seq", "decision_ts", "term_seq", "term_ts", "term_kind").with_columns(
        idx=pl.int_range(pl.len(), dtype=pl.Int64), qty=pl.col("qty_units") / UNITS,
        term_kind=pl.col("term_kind").replace_strict(kinds, default=None, return_dtype=pl.String),
    )  # fmt: skip
    df = pl.concat([orders, _fill_stats(c.fills, o), _bar_prices(c.bars, o).sort("idx").drop("idx")], how="horizontal")
    return _costs(df.lazy()).select(ORDER_COLUMNS).collect()


def _collect(events: Iterable[tuple[int, Event]]) -> _Collector:
    c = _Collector()
    handlers = c.handlers()
    for seq, event in events:
        handler = handlers.get(type(event))
        if handler is not None:
            handler(seq, event)
    c.signals.clear()  # the id maps are not needed any more: free them before polars works
    c.decisions.clear()
    c.index.clear()
    return c


def tca_of_events(events: Iterable[tuple[int, Event]]) -> Tca:
    """TCA from ``(seq, event)`` pairs in journal order (other event types are ignored)."""
    c = _collect(events)
    orders = _orders_frame(c)
    blocks = pl.DataFrame(dict(zip(BLOCK_SCHEMA, c.blocks, strict=True)), schema=BLOCK_SCHEMA)
    blocks = blocks.with_columns(day=pl.coalesce("day", _utc_day(pl.col("ts"))))
    return Tca(orders, blocks, {**c.counts, "partial_orders": int(orders["partial"].sum())})


def load_tca(path: str | Path, *, at: int | None = None) -> Tca:
    """TCA of the journal at ``path`` as of record ``at`` (default: its last); ProjectionError if unreadable."""
    return tca_of_events(iter_events(path, at=at, only=TCA_TYPES))


class TcaFold:
    """TCA as an incremental fold (``engine project --projection tca``): ``orders()`` is the per-order frame
    of the events applied so far, equal to ``tca_of_events(...).orders``, recomputed on every call."""

    def __init__(self) -> None:
        self.collector = _Collector()
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
    return _orders_frame(_Collector()).schema
