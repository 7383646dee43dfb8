"""The cost-model projection: each symbol's calibrated execution costs as of a sequence number.

The same fold the core keeps for its cost gate (``engine.core.costs.model.CostBook``), fed from
the journal: the ``costs`` settings of ``RunStarted`` / ``ConfigChanged``, every ``BarClosed`` and
every quoted fill of a known order (a fill id is folded once). docs/execution.md#the-cost-model.
"""

from __future__ import annotations

from engine.core.costs.model import CostBook, FillSample
from engine.core.costs.params import CostParams
from engine.journal.address import JournalLike
from engine.journal.read import read_events
from journal_schema.events import (
    BarClosed,
    ConfigChanged,
    Event,
    OrderFilled,
    OrderPartiallyFilled,
    OrderSubmitRequested,
    RunStarted,
)
from projections.render import Column, Table

_TYPES = (RunStarted, ConfigChanged, BarClosed, OrderSubmitRequested, OrderPartiallyFilled, OrderFilled)


class CostProjection:
    def __init__(self) -> None:
        self.book = CostBook()
        self.sides: dict[str, tuple[str, int]] = {}  # client_order_id -> (symbol, +1 buy / -1 sell)
        self.fills: set[str] = set()
        self.ts = 0
        self.seq = 0

    def apply(self, seq: int, ev: Event) -> None:
        self.seq = seq
        self.ts = max(self.ts, ev.ts)
        if isinstance(ev, (RunStarted, ConfigChanged)):
            params = CostParams.from_snapshot(ev.config["costs"]) if "costs" in ev.config else CostParams()
            if params != self.book.p:
                self.book = CostBook(params)
        elif isinstance(ev, BarClosed):
            self.book.on_bar(ev.symbol, ev.ts, ev.close, ev.volume)
        elif isinstance(ev, OrderSubmitRequested):
            self.sides[ev.client_order_id] = (ev.symbol, 1 if ev.side == "buy" else -1)
        elif isinstance(ev, (OrderPartiallyFilled, OrderFilled)):
            known = self.sides.get(ev.client_order_id)
            if known is None or ev.fill_id in self.fills or ev.bid is None or ev.ask is None:
                return
            self.fills.add(ev.fill_id)
            symbol, side = known
            self.book.on_fill(symbol, FillSample(ev.ts, side, ev.fill_qty, ev.fill_price, ev.fee, ev.bid, ev.ask))


def build_costs(path: JournalLike, at: int | None = None) -> CostProjection:
    proj = CostProjection()
    for seq, ev in read_events(path, _TYPES, at=at):
        proj.apply(seq, ev)
    return proj


COST_COLUMNS = (
    Column("symbol"),
    Column("samples", "int"),
    Column("calibrated"),
    Column("stale"),
    Column("half_spread_bps"),
    Column("base_slippage_bps"),
    Column("impact_k"),
    Column("fee_bps"),
    Column("sigma_bps"),
    Column("cost_100_shares_bps"),
    Column("last_fill_age_days"),
)


def costs_table(proj: CostProjection) -> Table:
    """One row per symbol: the fitted terms, and the expected cost of 100 shares now."""
    rows = []
    book = proj.book
    for symbol in sorted(book.symbols):
        half, base, k, fee, calibrated = book.fit(symbol)
        est = book.estimate(symbol, 100 * 100_000_000, proj.ts)
        age = f"{est.age_ns / 86_400e9:.2f}" if est.age_ns is not None else ""
        sigma = book.symbols[symbol].vol.sigma_cbp
        rows.append(
            (
                symbol,
                est.samples,
                str(calibrated).lower(),
                str(est.stale).lower(),
                f"{half / 100:.2f}",
                f"{base / 100:.2f}",
                f"{k:.4f}",
                f"{fee / 100:.2f}",
                f"{sigma / 100:.2f}",
                f"{est.cost_cbp / 100:.2f}",
                age,
            )
        )
    return Table(COST_COLUMNS, rows)
