"""The comparison of two journals (a recorded run and its what-if replay), figure by figure.

Every figure is a fold over one journal: counts of its events, the positions of the ledger
projection (flip rate), the P&L projection (``projections.snapshot``) and the TCA projection
(implementation shortfall, ``projections.tca``). ``difference`` is what-if minus recorded.
Money stays in 1e-8 USD integers until rendered (exact decimal strings in JSON).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, is_dataclass, replace
from typing import Any

import polars as pl

from engine.journal.address import JournalLike
from journal_schema.events import (
    Event,
    OrderFilled,
    OrderPartiallyFilled,
    OrderSubmitRequested,
    RunStarted,
    SessionOpened,
    SignalGenerated,
)
from journal_schema.units import exact, fmt_fixed
from projections.fold import fold
from projections.ledger import Ledger
from projections.render import Column, Table, render_table
from projections.snapshot import snapshot_of
from projections.tca import load_tca

QUANTILES = (("p50", 0.5), ("p90", 0.9), ("p95", 0.95))
RATIO_PLACES = 6  # shares and rates in JSON
BPS_PLACES = 4  # shortfall in JSON


@dataclass(frozen=True, slots=True)
class Shortfall:
    """Implementation shortfall of the orders that have one (bps; None without such an order)."""

    orders: int
    mean: float | None
    p50: float | None
    p90: float | None
    p95: float | None


@dataclass(frozen=True, slots=True)
class Figures:
    sessions: int  # distinct SessionOpened labels
    signals: int  # SignalGenerated
    decisions: int  # DecisionMade
    orders: int  # OrderSubmitRequested
    fills: int  # fill reports (OrderFilled, OrderPartiallyFilled)
    trades_per_day: float | None  # orders / sessions
    flip_rate: float | None  # share of orders that would take their symbol's position across zero
    blocked_share: dict[str, float]  # reason code -> occurrences / decisions
    shortfall: Shortfall
    realized: int  # 1e-8 USD, before fees
    unrealized: int
    fees: int
    net: int


@dataclass(frozen=True, slots=True)
class Journal:
    path: str
    run_id: str | None  # of its first RunStarted (a paper or live journal has one per start)
    config_hash: str | None
    events: int  # its last sequence number
    figures: Figures


@dataclass(frozen=True, slots=True)
class Comparison:
    recorded: Journal
    what_if: Journal

    @property
    def difference(self) -> Figures:
        out: Figures = _minus(self.what_if.figures, self.recorded.figures)
        return out


class _Tally:
    """Counts of one journal; reads the ledger's position of a symbol when an order is requested
    (the ledger is folded first, and a request does not move a position)."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.sessions: set[str] = set()
        self.signals = self.orders = self.fills = self.flips = 0
        self.run: RunStarted | None = None

    def apply(self, seq: int, ev: Event) -> None:
        if isinstance(ev, RunStarted):
            self.run = self.run or ev
        elif isinstance(ev, SessionOpened):
            self.sessions.add(ev.session)
        elif isinstance(ev, SignalGenerated):
            self.signals += 1
        elif isinstance(ev, OrderSubmitRequested):
            self.orders += 1
            before = self.ledger.positions.qty(ev.symbol)
            after = before + (ev.qty if ev.side == "buy" else -ev.qty)
            self.flips += before * after < 0
        elif isinstance(ev, OrderFilled | OrderPartiallyFilled):
            self.fills += 1


def _shortfall(values: pl.Series) -> Shortfall:
    if values.is_empty():
        return Shortfall(0, None, None, None, None)
    q = {name: values.quantile(p, interpolation="linear") for name, p in QUANTILES}
    return Shortfall(values.len(), values.mean(), q["p50"], q["p90"], q["p95"])  # type: ignore[arg-type]


def _from_tca(journal: JournalLike) -> tuple[int, dict[str, float], Shortfall]:
    """Decisions, blocked share by reason and the shortfall distribution, from the TCA projection:
    its ``blocks`` (a row per reason of a decision not ACCEPTED and per OrderBlocked) and the
    ``is_bps`` of its ``orders`` (a row per order)."""
    tca = load_tca(journal)
    decisions = tca.counts["decisions"]
    by_reason = tca.blocks.group_by("reason").len().sort("reason").iter_rows()
    shares = {str(reason): n / decisions for reason, n in by_reason} if decisions else {}
    return decisions, shares, _shortfall(tca.orders["is_bps"].drop_nulls().drop_nans().cast(pl.Float64))


def journal_figures(journal: JournalLike) -> Journal:
    """The figures of one journal: one fold (counts, positions, P&L) and the TCA projection."""
    ledger = Ledger()
    tally = _Tally(ledger)
    fold(journal, [ledger, tally])
    total = snapshot_of(ledger).pnl.total
    decisions, shares, shortfall = _from_tca(journal)
    figures = Figures(
        sessions=len(tally.sessions),
        signals=tally.signals,
        decisions=decisions,
        orders=tally.orders,
        fills=tally.fills,
        trades_per_day=tally.orders / len(tally.sessions) if tally.sessions else None,
        flip_rate=tally.flips / tally.orders if tally.orders else None,
        blocked_share=shares,
        shortfall=shortfall,
        realized=total.realized,
        unrealized=total.unrealized,
        fees=total.fees,
        net=total.net,
    )
    run = tally.run
    return Journal(
        str(journal), None if run is None else run.run_id, None if run is None else run.config_hash, ledger.seq, figures
    )


def compare(recorded: JournalLike, what_if: JournalLike) -> Comparison:
    return Comparison(journal_figures(recorded), journal_figures(what_if))


def _minus(b: Any, a: Any) -> Any:
    """``b - a`` field by field: None when either side is None; a reason missing on one side is 0."""
    if is_dataclass(b) and not isinstance(b, type):
        return type(b)(**{f.name: _minus(getattr(b, f.name), getattr(a, f.name)) for f in fields(b)})
    if isinstance(b, dict):
        return {k: b.get(k, 0.0) - a.get(k, 0.0) for k in sorted(set(a) | set(b))}
    if a is None or b is None:
        return None
    return b - a


# ---------------------------------------------------------------- rendering
_MONEY = ("realized", "unrealized", "fees", "net")
_COUNTS = ("sessions", "signals", "decisions", "orders", "fills")


def _round(v: float | None, places: int) -> float | None:
    return None if v is None else round(v, places) + 0.0  # + 0.0: no "-0.0"


def figures_dict(f: Figures) -> dict[str, Any]:
    """JSON-ready figures: counts as integers, rates and shares rounded to 6 places, shortfall to 4,
    money as exact decimal strings."""
    s = f.shortfall
    return {
        **{k: getattr(f, k) for k in _COUNTS},
        "trades_per_day": _round(f.trades_per_day, RATIO_PLACES),
        "flip_rate": _round(f.flip_rate, RATIO_PLACES),
        "blocked_share": {k: _round(v, RATIO_PLACES) for k, v in f.blocked_share.items()},
        "implementation_shortfall_bps": {
            "orders": s.orders,
            **{k: _round(getattr(s, k), BPS_PLACES) for k in ("mean", "p50", "p90", "p95")},
        },
        **{k: exact(getattr(f, k)) for k in _MONEY},
    }


def comparison_dict(c: Comparison) -> dict[str, Any]:
    return {
        "journals": {
            name: {"path": j.path, "run_id": j.run_id, "config_hash": j.config_hash, "events": j.events}
            for name, j in (("recorded", c.recorded), ("what_if", c.what_if))
        },
        "recorded": figures_dict(c.recorded.figures),
        "what_if": figures_dict(c.what_if.figures),
        "difference": figures_dict(c.difference),
    }


def _rows(f: Figures) -> list[tuple[str, str]]:
    def num(v: float | None, places: int) -> str:
        return "-" if v is None else f"{v:.{places}f}"

    s = f.shortfall
    rows = [(k, str(getattr(f, k))) for k in _COUNTS]
    rows += [("trades per day", num(f.trades_per_day, 4)), ("flip rate", num(f.flip_rate, 4))]
    rows += [(f"blocked {k}", num(v, 4)) for k, v in f.blocked_share.items()]
    rows += [("IS orders", str(s.orders))]
    rows += [(f"IS {k} (bps)", num(getattr(s, k), 2)) for k in ("mean", "p50", "p90", "p95")]
    rows += [(k, fmt_fixed(getattr(f, k), 2)) for k in _MONEY]
    return rows


def comparison_text(c: Comparison) -> str:
    """The figures side by side, one line each (a reason missing on one side shows as 0)."""
    diff = c.difference
    keys = set(diff.blocked_share)
    sides = [_rows(_with_reasons(f, keys)) for f in (c.recorded.figures, c.what_if.figures, diff)]
    rows = [(name, a, b, d) for (name, a), (_, b), (_, d) in zip(*sides, strict=True)]
    cols = (Column("figure"), Column("recorded", "int"), Column("what-if", "int"), Column("difference", "int"))
    return render_table(Table(cols, rows))


def _with_reasons(f: Figures, keys: set[str]) -> Figures:
    return replace(f, blocked_share={k: f.blocked_share.get(k, 0.0) for k in sorted(keys)})
