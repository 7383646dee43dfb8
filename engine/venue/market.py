"""The venue's market: bar replay, fills with the one simulator, day-order expiry, marks.

``step()`` advances the replay to the next bar timestamp and, in ONE store transaction:
1. fills every open order of a symbol that has a bar at that timestamp and was submitted
   strictly before it, exactly as ``engine.broker.paper.PaperBroker.on_bar`` does: a market
   order at ``market_price(open, side, cost)``, a limit order at ``limit_price_fill(...)`` only
   when the bar trades through, fee by ``fee(model, qty, price)``, where ``cost`` is half-spread
   + slippage + the order's seeded jitter;
2. expires ``day`` orders still open whose session (the first close strictly after submission,
   as ``PaperBroker``) closed at or before that timestamp, stamped at the session close;
3. records the new simulated time, so a restarted venue resumes where it stopped.

The database remembers the fingerprint of the bar file it was made with (``BarTable.fingerprint``);
opening it with another file raises ``VenueConfigError`` (resuming at the stored simulated time
on different bars would be meaningless).
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np

from engine.broker.fills import CostModel, fee, limit_price_fill, market_price, order_cost
from engine.feeds.calendar import Sessions, load_sessions
from engine.feeds.table import BarTable
from engine.venue import ledger
from engine.venue.clock import ClockReading, ns_to_datetime, session_reading
from engine.venue.errors import VenueConfigError
from engine.venue.replay import Bar, BarReplay
from engine.venue.store import VenueOrder, VenueStore
from engine.venue.wire import decimal_text, utc_text
from journal_schema.units import to_decimal, to_fixed

CALENDAR_SLACK = timedelta(days=10)  # sessions loaded past the last bar, for next_open / next_close


@dataclass(frozen=True)
class MarketConfig:
    bars: BarTable
    sessions: Sessions | None = None  # None: load_sessions(calendar, ...) around the file's dates
    calendar: str = "XNYS"
    costs: CostModel = field(default_factory=CostModel)
    seed: int = 0


@dataclass(frozen=True)
class MarkedPosition:
    symbol: str
    qty: int  # signed, 1e-8 shares
    cost: int  # signed like qty, 1e-8 USD
    avg_entry_price: int
    current_price: int
    lastday_price: int | None  # last close before the latest session close earlier than now


def text_to_ns(text: str) -> int:
    """Venue UTC text (``...Z``, microseconds) to integer ns."""
    moment = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


def fixed_text(units: int) -> str:
    return decimal_text(to_decimal(units))


def _load(replay: BarReplay, calendar: str) -> Sessions:
    first = ns_to_datetime(replay.times[0]).date()
    last = ns_to_datetime(replay.times[-1]).date()
    return load_sessions(calendar, first - CALENDAR_SLACK, last + CALENDAR_SLACK)


def _claim_bar_file(store: VenueStore, bars: BarTable) -> None:
    """Record the bar file's fingerprint in a new database; refuse a database made with another."""
    with store.transaction() as cur:
        known = ledger.get_text(cur, ledger.BAR_FINGERPRINT)
        if known is None:
            ledger.set_text(cur, ledger.BAR_FINGERPRINT, bars.fingerprint)
            ledger.set_text(cur, ledger.BAR_SOURCE, bars.source)
            return
        if known != bars.fingerprint:
            source = ledger.get_text(cur, ledger.BAR_SOURCE) or "?"
            raise VenueConfigError(
                f"venue database {store.path} was made with bar file {source} (fingerprint {known[:12]}), "
                f"not {bars.source} ({bars.fingerprint[:12]}); use that bar file or another database"
            )


class VenueMarket:
    def __init__(self, store: VenueStore, config: MarketConfig) -> None:
        self.store = store
        _claim_bar_file(store, config.bars)
        with store.reading() as cur:
            resumed = ledger.get_state(cur, ledger.SIM_TIME)
        self.replay = BarReplay(config.bars, resumed)
        self.sessions = config.sessions if config.sessions is not None else _load(self.replay, config.calendar)
        self.costs = config.costs
        self.seed = config.seed
        self.lock = threading.RLock()  # held by step() and by the app around submit / cancel

    def reading(self) -> ClockReading:
        return session_reading(self.sessions, self.replay.now_ns)

    def step(self) -> int | None:
        """Advance one bar timestamp; returns it, or None when the file is exhausted."""
        with self.lock:
            ts = self.replay.next_ts()
            if ts is None:
                return None
            at = utc_text(ns_to_datetime(ts))
            bars = {bar.symbol: bar for bar in self.replay.by_ts[ts]}
            with self.store.transaction() as cur:
                for order in self.store.open_orders(cur):
                    bar = bars.get(order.symbol)
                    if bar is not None and order.submitted_at < at:
                        self._fill(cur, order, bar, at)
                for order in self.store.open_orders(cur):
                    close = self._day_close(order)
                    if close is not None and close <= ts:
                        self.store.mark_expired(cur, order, utc_text(ns_to_datetime(close)))
                ledger.set_state(cur, ledger.SIM_TIME, ts)
            self.replay.advance_to(ts)
            return ts

    def _fill(self, cur: sqlite3.Cursor, order: VenueOrder, bar: Bar, at: str) -> None:
        cost = order_cost(self.costs, self.seed, order.client_order_id)
        if order.type == "market":
            price: int | None = market_price(bar.open, order.side, cost)
        else:
            assert order.limit_price is not None
            price = limit_price_fill(bar.open, bar.high, bar.low, order.side, to_fixed(order.limit_price), cost)
        if price is None:
            return
        qty = to_fixed(order.qty)
        ledger.record_fill(cur, ledger.Fill(
            fill_id=f"{order.id}-1", order_id=order.id, client_order_id=order.client_order_id, symbol=order.symbol,
            side=order.side, qty=qty, price=price, fee=fee(self.costs, qty, price), ts=bar.ts,
        ))  # fmt: skip
        self.store.mark_filled(cur, order, fixed_text(price), at)

    def _day_close(self, order: VenueOrder) -> int | None:
        if order.time_in_force != "day":
            return None
        i = int(np.searchsorted(self.sessions.closes, text_to_ns(order.submitted_at), side="right"))
        return int(self.sessions.closes[i]) if i < len(self.sessions.closes) else None

    # --- books ---------------------------------------------------------------------------

    def cash(self) -> int:
        with self.store.reading() as cur:
            return ledger.get_state(cur, ledger.CASH) or 0

    def positions(self) -> list[MarkedPosition]:
        """Open positions marked to the last bar close at or before the current simulated time."""
        now = self.replay.now_ns
        with self.store.reading() as cur:
            held = ledger.holdings(cur)
        closes = self.sessions.closes
        k = int(np.searchsorted(closes, now, side="left"))  # closes[k-1] is the last close < now
        lastday_cut = int(closes[k - 1]) if k else None
        marked = []
        for h in held:
            bar = self.replay.last_bar(h.symbol, now)
            current = bar.close if bar is not None else h.avg_entry_price
            prev = self.replay.last_bar(h.symbol, lastday_cut) if lastday_cut is not None else None
            marked.append(MarkedPosition(
                symbol=h.symbol, qty=h.qty, cost=h.cost, avg_entry_price=h.avg_entry_price, current_price=current,
                lastday_price=prev.close if prev is not None else None,
            ))  # fmt: skip
        return marked
