"""The one pass of TCA over a journal: the columns it needs, appended in journal order.

Only the event types of ``TCA_TYPES`` are handled. Orders, fills and bars become flat int64 ``array``
rows (one ``extend`` per event); strings are interned. ``projections.tca`` turns the columns into
frames and computes the costs (docs/tca.md).
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable
from typing import Any

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

TCA_TYPES: tuple[type[Event], ...] = (
    RunStarted,
    ConfigChanged,
    BarClosed,
    SignalGenerated,
    DecisionMade,
    OrderIntentCreated,
    OrderSubmitRequested,
    OrderResubmitRequested,
    OrderCancelRequested,
    OrderPartiallyFilled,
    OrderFilled,
    OrderCanceled,
    OrderExpired,
    OrderRejected,
    OrderReplaced,
    OrderBlocked,
)
NONE = -(2**63)  # null in the int64 columns
TERMINAL_KINDS = ("FILLED", "CANCELED", "EXPIRED", "REJECTED", "REPLACED")
_KIND: dict[type[Event], int] = {OrderFilled: 0, OrderCanceled: 1, OrderExpired: 2, OrderRejected: 3, OrderReplaced: 4}
_COUNTED = {OrderRejected: "rejects", OrderCanceled: "cancels", OrderExpired: "expired"}
ORDER_INTS = (
    "sym",
    "sign",
    "decision_seq",
    "decision_ts",
    "submit_seq",
    "submit_ts",
    "qty_units",
    "term_seq",
    "term_ts",
    "term_kind",
    "cancel_requests",
    "replaces",
    "resubmits",
)
_WIDTH = len(ORDER_INTS)
_TERM_SEQ, _TERM_TS, _TERM_KIND = (ORDER_INTS.index(c) for c in ("term_seq", "term_ts", "term_kind"))
_COUNTER = {
    OrderCancelRequested: ORDER_INTS.index("cancel_requests"),
    OrderReplaced: ORDER_INTS.index("replaces"),
    OrderResubmitRequested: ORDER_INTS.index("resubmits"),
}
ORDER_TEXTS = ("client_order_id", "symbol", "strategy", "order_type", "side", "day")
FILL_INTS = ("idx", "ts", "qty", "price", "fee", "bid", "ask")
# outcomes of a decision that no control imposed: the target was met, or cancels went first
NOT_BLOCKS = frozenset({"ALREADY_AT_TARGET", "OPPOSITE_ORDER_CANCEL_REQUESTED"})
BAR_INTS = ("seq", "ts", "sym", "open", "close")
BLOCK_SCHEMA: dict[str, type[pl.DataType]] = {
    "seq": pl.Int64,
    "ts": pl.Int64,
    "day": pl.String,
    "symbol": pl.String,
    "strategy": pl.String,
    "order_type": pl.String,
    "gate": pl.String,
    "reason": pl.String,
    "outcome": pl.String,
}
COUNTS = ("decisions", "rejects", "cancels", "expired", "partial_orders")


def _config_value(config: dict[str, Any], section: str, key: str) -> str | None:
    value = config.get(section)
    found = value.get(key) if isinstance(value, dict) else None
    return found if isinstance(found, str) else None


Terminal = OrderFilled | OrderCanceled | OrderExpired | OrderRejected | OrderReplaced


class Collector:
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
            RunStarted: self._config,
            ConfigChanged: self._config,
            BarClosed: self._bar,
            SignalGenerated: self._signal,
            DecisionMade: self._decision,
            OrderIntentCreated: self._intent,
            OrderSubmitRequested: self._submit,
            OrderResubmitRequested: self._count,
            OrderCancelRequested: self._count,
            OrderPartiallyFilled: self._fill,
            OrderFilled: self._fill,
            OrderCanceled: self._terminal,
            OrderExpired: self._terminal,
            OrderRejected: self._terminal,
            OrderReplaced: self._terminal,
            OrderBlocked: self._blocked,
        }

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
                self._block(
                    seq, ev.ts, pair, ev.symbol, "COST" if reason.startswith("COST_") else "POLICY", reason, ev.outcome
                )

    def _blocked(self, seq: int, ev: OrderBlocked) -> None:
        row = self.decisions.get(ev.decision_id)
        pair = (self.strategy, None) if row is None else self.decision_pairs[row]
        self._block(seq, ev.ts, pair, ev.symbol, "PRE_TRADE", ev.reason, "BLOCKED")

    def _block(
        self, seq: int, ts: int, pair: tuple[str | None, str | None], symbol: str, gate: str, reason: str, outcome: str
    ) -> None:
        strategy, day = pair
        for column, value in zip(
            self.blocks, (seq, ts, day, symbol, strategy, self.order_type, gate, reason, outcome), strict=True
        ):
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
        texts = (
            ev.client_order_id,
            self._intern(ev.symbol),
            strategy,
            self._intern(ev.order_type),
            self._intern(ev.side),
            day,
        )
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
            self.fills.extend(
                (
                    i,
                    ev.ts,
                    ev.fill_qty,
                    ev.fill_price,
                    ev.fee,
                    NONE if bid is None else bid,
                    NONE if ask is None else ask,
                )
            )
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


def collect(events: Iterable[tuple[int, Event]]) -> Collector:
    c = Collector()
    handlers = c.handlers()
    for seq, event in events:
        handler = handlers.get(type(event))
        if handler is not None:
            handler(seq, event)
    c.signals.clear()  # the id maps are not needed any more: free them before polars works
    c.decisions.clear()
    c.index.clear()
    return c
