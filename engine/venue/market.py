"""The venue's market: bar replay, fills with the one execution simulator, day-order expiry, marks.

``step()`` advances the replay to the next bar timestamp and, in ONE store transaction:
1. hands every bar of that timestamp to ``engine.broker.fills.FillSimulator.on_bar`` (every bar,
   also when no order works: the simulator folds each into its volatility state), with the open
   orders of the bar's symbol in submission order, exactly as
   ``engine.broker.paper.PaperBroker.on_bar`` does: each order's leaves quantity, its submission
   time (as both submitted and accepted time) and the number of its fills so far. Each slice the
   simulator fills is a ledger fill ``{order_id}-{n}`` (price, fee and the quote's bid and ask),
   and the order becomes ``partially_filled`` (cumulative ``filled_qty``, VWAP
   ``filled_avg_price`` rounded half-even to 1e-8) until its last slice makes it ``filled``;
2. expires ``day`` orders still open whose session (the first close strictly after submission,
   as ``PaperBroker``) closed at or before that timestamp, stamped at the session close; a
   partially filled order keeps what filled and expires the rest;
3. records the new simulated time, so a restarted venue resumes where it stopped.

The simulator's state is a function of the bars already replayed: a reopened venue rebuilds it
with ``FillSimulator.warm`` over them, so a restart fills exactly as an uninterrupted replay.

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

from engine.broker.fills import CostModel, FillSimulator, SliceFill, WorkingOrder
from engine.feeds.calendar import Sessions, load_sessions
from engine.feeds.table import BarTable
from engine.venue import ledger
from engine.venue.clock import ClockReading, ns_to_datetime, session_reading
from engine.venue.errors import VenueConfigError
from engine.venue.orders import VenueOrder
from engine.venue.replay import Bar, BarReplay
from engine.venue.store import VenueStore
from engine.venue.wire import decimal_text, utc_text
from journal_schema.units import div_round_half_even, to_decimal, to_fixed

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


@dataclass(frozen=True)
class _Working:
    """An open order with its fills so far."""

    order: VenueOrder
    fills: list[ledger.Fill]

    @property
    def filled(self) -> int:
        return sum(f.qty for f in self.fills)

    @property
    def notional(self) -> int:  # 1e-16 USD
        return sum(f.qty * f.price for f in self.fills)

    def view(self) -> WorkingOrder:
        o = self.order
        at = text_to_ns(o.submitted_at)
        limit = None if o.limit_price is None else to_fixed(o.limit_price)
        return WorkingOrder(
            o.client_order_id, o.side, o.type, limit, to_fixed(o.qty) - self.filled, at, at, len(self.fills)
        )


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
        self.sim = self._simulator()
        self.lock = threading.RLock()  # held by step() and by the app around submit / cancel

    def _simulator(self) -> FillSimulator:
        """A simulator that has seen every bar replayed so far (a new one, or a restarted venue's)."""
        sim = FillSimulator(self.costs, self.seed)
        sim.warm(self.replay.replayed())
        return sim

    def reading(self) -> ClockReading:
        return session_reading(self.sessions, self.replay.now_ns)

    def step(self) -> int | None:
        """Advance one bar timestamp; returns it, or None when the file is exhausted."""
        with self.lock:
            ts = self.replay.next_ts()
            if ts is None:
                return None
            at = utc_text(ns_to_datetime(ts))
            try:
                with self.store.transaction() as cur:
                    working: dict[str, list[_Working]] = {}
                    for order in self.store.open_orders(cur):  # in submission order
                        working.setdefault(order.symbol, []).append(_Working(order, ledger.fills(cur, order.id)))
                    for bar in self.replay.by_ts[ts]:
                        self._fill(cur, bar, working.get(bar.symbol, []), at)
                    for order in self.store.open_orders(cur):
                        close = self._day_close(order)
                        if close is not None and close <= ts:
                            self.store.mark_expired(cur, order, utc_text(ns_to_datetime(close)))
                    ledger.set_state(cur, ledger.SIM_TIME, ts)
            except BaseException:
                self.sim = self._simulator()  # it folded bars the database did not keep: start again
                raise
            self.replay.advance_to(ts)
            return ts

    def _fill(self, cur: sqlite3.Cursor, bar: Bar, working: list[_Working], at: str) -> None:
        """Record the slices ``bar`` fills of its symbol's ``working`` orders."""
        slices = self.sim.on_bar(bar, [w.view() for w in working])
        by_cid = {w.order.client_order_id: w for w in working}
        for s in slices:
            self._record(cur, by_cid[s.client_order_id], s, bar.ts, at)

    def _record(self, cur: sqlite3.Cursor, w: _Working, s: SliceFill, ts: int, at: str) -> None:
        o = w.order
        ledger.record_fill(
            cur,
            ledger.Fill(
                fill_id=f"{o.id}-{s.n}",
                order_id=o.id,
                client_order_id=o.client_order_id,
                symbol=o.symbol,
                side=o.side,
                qty=s.qty,
                price=s.price,
                fee=s.fee,
                ts=ts,
                bid=s.bid,
                ask=s.ask,
            ),
        )
        cum = w.filled + s.qty
        avg = div_round_half_even(w.notional + s.qty * s.price, cum)
        self.store.mark_fill(cur, o, fixed_text(cum), fixed_text(avg), at, done=cum == to_fixed(o.qty))

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
            marked.append(
                MarkedPosition(
                    symbol=h.symbol,
                    qty=h.qty,
                    cost=h.cost,
                    avg_entry_price=h.avg_entry_price,
                    current_price=current,
                    lastday_price=prev.close if prev is not None else None,
                )
            )
        return marked
