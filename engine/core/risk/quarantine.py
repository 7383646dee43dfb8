"""Quarantine: a symbol or the strategy that keeps failing is blocked for a bounded time
(docs/risk.md#quarantine). Symbols: a high broker-reject rate among recent orders, or a negative
mean realized P&L after fees over recent closing fills. The strategy: the same expectancy over all
its closing fills, or repeated dependency breaker opens. The metrics that tripped it are journaled
with ``Quarantined``; the history starts again after it, so the subject gets a fresh record."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from engine.core.risk.params import RiskParams

STRATEGY = "*"  # subject key of the strategy's own record


@dataclass(slots=True)
class Record:
    outcomes: deque[int] = field(default_factory=deque)  # 1 rejected, 0 acknowledged
    pnl: deque[int] = field(default_factory=deque)  # realized - fees of each closing fill, 1e-8 USD


@dataclass(slots=True)
class Quarantine:
    until: dict[tuple[str, str], tuple[int, str]] = field(default_factory=dict)  # (scope, subject) -> (until, reason)
    records: dict[str, Record] = field(default_factory=dict)
    breaker_opens: deque[int] = field(default_factory=deque)

    def record(self, subject: str) -> Record:
        r = self.records.get(subject)
        if r is None:
            r = self.records[subject] = Record()
        return r

    def active(self, scope: str, subject: str) -> bool:
        return (scope, subject) in self.until


def on_order_outcome(q: Quarantine, p: RiskParams, symbol: str, rejected: bool) -> dict[str, int] | None:
    """A broker acknowledged or rejected an order of ``symbol``: metrics when it trips REJECT_RATE."""
    r = q.record(symbol)
    r.outcomes.append(int(rejected))
    while len(r.outcomes) > p.reject_window:
        r.outcomes.popleft()
    rejects, n = sum(r.outcomes), len(r.outcomes)  # ints
    if p.quarantine and rejected and rejects >= p.min_rejects and rejects * 10_000 >= n * p.max_reject_rate_bp:
        r.outcomes.clear()
        return {"rejects": rejects, "orders": n, "reject_rate_bp": rejects * 10_000 // n}
    return None


def on_closing_fill(q: Quarantine, p: RiskParams, subject: str, pnl: int) -> dict[str, int] | None:
    """A fill of ``subject`` (a symbol, or STRATEGY) realized ``pnl`` after fees: metrics when it
    trips NEGATIVE_EXPECTANCY."""
    r = q.record(subject)
    r.pnl.append(pnl)
    while len(r.pnl) > p.expectancy_window:
        r.pnl.popleft()
    n, total = len(r.pnl), sum(r.pnl)  # ints
    if p.quarantine and n >= p.min_closing_fills and total < 0:
        r.pnl.clear()
        return {"closing_fills": n, "pnl_after_fees": total, "mean_pnl_after_fees": total // n}
    return None


def on_breaker_open(q: Quarantine, p: RiskParams, ts: int) -> dict[str, int] | None:
    """A dependency breaker opened: metrics when the opens in the window trip REPEATED_BREAKER_OPENS."""
    q.breaker_opens.append(ts)
    while q.breaker_opens and q.breaker_opens[0] <= ts - p.breaker_window_ns:
        q.breaker_opens.popleft()
    n = len(q.breaker_opens)
    if p.quarantine and n >= p.breaker_opens:
        q.breaker_opens.clear()
        return {"breaker_opens": n, "window_seconds": p.breaker_window_ns // 1_000_000_000}
    return None
