"""The equity projection: equity, drawdown and exposure at each session close.

One row per ``SessionClosed`` (a journal without sessions: one row per bar timestamp, taken
when the next later bar arrives, so a bar's fills are in its row). A last row is added when
the state moved after the last of those rows (e.g. fills after the last close, or ``--at``
inside a session), so the last row is always the state as of the last record folded.

Positions and P&L come from the ``Ledger`` (the core's ``PositionBook``), marked at each
symbol's last close; nothing here does position math of its own. Per row, in 1e-8 USD:

- ``equity = capital + realized + unrealized - fees``, ``capital`` being
  ``config["risk"]["capital"]`` of the latest ``RunStarted`` (0 when there is none);
- ``gross_exposure = sum |qty x last close|``, ``net_exposure = sum qty x last close``
  (positions only, not working orders);
- ``peak``: the running maximum of equity; ``drawdown = equity / peak - 1`` (a float, never
  positive: 0 at a new peak, -0.05 five percent below it; null while the peak is not
  positive).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import polars as pl

from engine.core.risk.portfolio import values
from engine.journal.address import JournalLike
from journal_schema.events import BarClosed, Event, RunStarted, SessionClosed
from journal_schema.units import FixedPointError, to_fixed
from projections.fold import fold
from projections.ledger import Ledger
from projections.pnl import pnl_of

MONEY_COLUMNS = ("capital", "equity", "peak", "gross_exposure", "net_exposure", "realized", "unrealized", "fees")
SCHEMA: dict[str, pl.DataType] = {
    "ts": pl.Datetime("ns", "UTC"),
    "day": pl.String(),
    **{name: pl.Int64() for name in MONEY_COLUMNS},
    "drawdown": pl.Float64(),
}


@dataclass(frozen=True, slots=True)
class EquityRow:
    """The book at one point of the series (money in 1e-8 USD); equity, peak and drawdown are derived."""

    ts: int
    day: str
    capital: int
    gross_exposure: int
    net_exposure: int
    realized: int
    unrealized: int
    fees: int

    def state(self) -> tuple[int, ...]:
        return (self.capital, self.gross_exposure, self.net_exposure, self.realized, self.unrealized, self.fees)


def capital_of(config: Mapping[str, Any]) -> int | None:
    """``config["risk"]["capital"]`` of a config snapshot in 1e-8 USD; None when absent or unreadable."""
    risk = config.get("risk")
    raw = risk.get("capital") if isinstance(risk, Mapping) else None
    if not isinstance(raw, (str, int)):
        return None
    try:
        return to_fixed(raw)
    except FixedPointError:
        return None


def utc_day(ts: int) -> str:
    return datetime.fromtimestamp(ts // 1_000_000_000, UTC).strftime("%Y-%m-%d")


class EquityCurve:
    """A projection: fold it with others (``projections.fold.fold``), then call ``frame()``."""

    def __init__(self) -> None:
        self.ledger = Ledger()
        self.run: RunStarted | None = None  # the latest RunStarted folded
        self.capital: int | None = None  # its capital, None when unknown
        self._sessions: list[EquityRow] = []
        self._bars: list[EquityRow] = []
        self._bar_ts: int | None = None
        self._last_ts = 0

    def apply(self, seq: int, event: Event) -> None:
        if isinstance(event, BarClosed) and self._bar_ts is not None and event.ts != self._bar_ts:
            self._bars.append(self._row(self._bar_ts, utc_day(self._bar_ts)))
        self.ledger.apply(seq, event)
        self._last_ts = max(self._last_ts, event.ts)
        if isinstance(event, RunStarted):
            self.run = event
            self.capital = capital_of(event.config)
        elif isinstance(event, BarClosed):
            self._bar_ts = event.ts
        elif isinstance(event, SessionClosed):
            self._sessions.append(self._row(event.ts, event.session))

    def _row(self, ts: int, day: str) -> EquityRow:
        marked = values(self.ledger.positions).values()
        total = pnl_of(self.ledger.positions).total
        return EquityRow(
            ts,
            day,
            self.capital or 0,
            sum(abs(v) for v in marked),
            sum(marked),
            total.realized,
            total.unrealized,
            total.fees,
        )

    def rows(self) -> list[EquityRow]:
        """The series' rows so far (see the module doc)."""
        if self._sessions:
            last = self._row(self._last_ts, utc_day(self._last_ts))
            moved = self._sessions[-1].state() != last.state()
            return [*self._sessions, last] if moved else list(self._sessions)
        if self._bar_ts is None:
            return []
        return [*self._bars, self._row(self._bar_ts, utc_day(self._bar_ts))]

    def frame(self) -> pl.DataFrame:
        return equity_frame_of(self.rows())


def equity_frame_of(rows: list[EquityRow]) -> pl.DataFrame:
    data: dict[str, list[Any]] = {"ts": [r.ts for r in rows], "day": [r.day for r in rows]}
    equity = [r.capital + r.realized + r.unrealized - r.fees for r in rows]
    peaks: list[int] = []
    for e in equity:
        peaks.append(max(e, peaks[-1]) if peaks else e)
    data["capital"] = [r.capital for r in rows]
    data["equity"] = equity
    data["peak"] = peaks
    for name in ("gross_exposure", "net_exposure", "realized", "unrealized", "fees"):
        data[name] = [getattr(r, name) for r in rows]
    data["drawdown"] = [e / p - 1.0 if p > 0 else None for e, p in zip(equity, peaks, strict=True)]
    frame = pl.DataFrame(
        {k: data[k] for k in ("ts", "day", *MONEY_COLUMNS, "drawdown")}, schema={**SCHEMA, "ts": pl.Int64()}
    )
    return frame.with_columns(pl.col("ts").cast(SCHEMA["ts"]))


def equity_frame(path: JournalLike, *, at: int | None = None) -> pl.DataFrame:
    """Fold records ``1..at`` of a journal into the equity series (see the module doc)."""
    curve = EquityCurve()
    fold(path, [curve], at=at)
    return curve.frame()
