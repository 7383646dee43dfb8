"""Risk-control events: operator approvals, dependency breakers and shell errors (inputs); review
outcomes, reduce-only states, quarantines and session summaries (derived). Same conventions as
``journal_schema.events``; the catalogue lists them with the others. docs/risk.md explains each.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from journal_schema.events import Event, Seq
from journal_schema.reasons import (
    Dependency,
    ErrorAction,
    ErrorCategory,
    HaltReason,
    PreTradeBlock,
    QuarantineReason,
    QuarantineScope,
    ReviewOutcome,
    TradingState,
)
from journal_schema.units import Fixed8, Nanos

Side = Literal["buy", "sell"]


# ---------------------------------------------------------------- inputs
class ReviewApproved(Event, frozen=True):
    """``engine approve DECISION_ID``: an operator approves a decision the policy gate held for REVIEW."""

    decision_id: str
    actor: str
    reason: str
    command_id: str


class CircuitOpened(Event, frozen=True):
    """A dependency breaker opened: ``failures`` failures within ``window_seconds`` (or one error
    whose action is DISABLE_PROVIDER). Trading is blocked with ``CIRCUIT_OPEN_<dependency>`` until
    ``CircuitClosed``; the shell probes the dependency again at ``until_ts``."""

    dependency: Dependency
    category: ErrorCategory
    failures: Annotated[int, msgspec.Meta(ge=1)]
    window_seconds: Annotated[int, msgspec.Meta(ge=0)]
    open_seconds: Annotated[int, msgspec.Meta(ge=1)]
    until_ts: Nanos
    detail: str


class CircuitClosed(Event, frozen=True):
    """A dependency breaker closed: the first call after its open period succeeded."""

    dependency: Dependency


class ShellErrorReported(Event, frozen=True):
    """The shell classified an error whose action is HALT_TRADING (an auth failure on a read, an
    invariant violation or a programming error in the shell, an error it cannot name). The core
    halts trading; paper runs too."""

    dependency: Dependency
    category: ErrorCategory
    action: ErrorAction
    error_type: str
    detail: str


# ---------------------------------------------------------------- derived
class OrderBlocked(Event, frozen=True):
    """A pre-trade check stopped an approved order at the OMS boundary: no intent, no submit
    request. ``reason`` is the check, ``detail`` the figures it compared."""

    cause_seq: Seq
    decision_id: str
    client_order_id: str
    symbol: str
    side: Side
    qty: Fixed8
    limit_price: Fixed8 | None
    reason: PreTradeBlock
    detail: str


class ReviewResolved(Event, frozen=True):
    """What became of a decision held for REVIEW (``decision_id``)."""

    cause_seq: Seq
    decision_id: str
    symbol: str
    outcome: ReviewOutcome
    actor: str
    detail: str


class TradingReduced(Event, frozen=True):
    """A portfolio limit was breached: trading is REDUCING, only risk-reducing orders pass, until
    ``TradingResumed``. ``reason`` is the limit."""

    cause_seq: Seq
    reason: HaltReason
    detail: str


class Quarantined(Event, frozen=True):
    """A symbol or the strategy is quarantined until ``until_ts``: its proposals are REJECTED with
    SYMBOL_QUARANTINED / STRATEGY_QUARANTINED. ``metrics`` is the snapshot that tripped it (integers;
    ``*_bp`` in basis points, money in 1e-8 USD)."""

    cause_seq: Seq
    scope: QuarantineScope
    subject: str
    reason: QuarantineReason
    until_ts: Nanos
    metrics: dict[str, int]


class QuarantineLifted(Event, frozen=True):
    """A quarantine ended: its ``until_ts`` has passed."""

    cause_seq: Seq
    scope: QuarantineScope
    subject: str
    reason: QuarantineReason


class SessionSummarized(Event, frozen=True):
    """What the session that just closed did: counts of decisions and orders, fills, P&L and the
    trading state at the close."""

    cause_seq: Seq
    session: str
    decisions: dict[str, int]  # outcome -> count
    intents: dict[str, int]  # intent outcome -> count (resolved during the session)
    fills: int
    realized_pnl: Fixed8  # realized during the session, before fees
    fees: Fixed8
    equity: Fixed8
    open_orders: int
    trading_state: TradingState
