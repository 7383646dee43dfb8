"""Inputs the live shell journals about its broker: what became of a submit (failed for good,
outcome unknown, never seen), snapshots refused at the edge, cancel answers, reconciliation
findings and cycle summaries. Same conventions as ``journal_schema.events``; the catalogue
(``journal_schema.catalogue``) lists them with the other inputs.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from journal_schema.events import Event
from journal_schema.reasons import CancelResult, ErrorCategory, ForeignKind, MismatchKind, ReportRejectReason
from journal_schema.units import Fixed8


class OrderSubmitFailed(Event, frozen=True):
    """The broker refused the submit for good without taking the order (e.g. AUTH); terminal: FAILED."""

    client_order_id: str
    category: ErrorCategory
    detail: str


class OrderSubmitUncertain(Event, frozen=True):
    """A submit's outcome is unknown (``category``: a timeout, a dropped response, HTTP 5xx or 429,
    an unparseable answer). The shell looks the order up by ``client_order_id`` before anything else."""

    client_order_id: str
    attempt: Annotated[int, msgspec.Meta(ge=1)]
    category: ErrorCategory
    detail: str


class OrderNotFoundAtBroker(Event, frozen=True):
    """A lookup by ``client_order_id`` answered that the broker has never seen the order."""

    client_order_id: str


class BrokerReportRejected(Event, frozen=True):
    """A broker order snapshot failed edge validation and produced no report. ``raw`` is the
    offending status or payload text (truncated to 2000 characters)."""

    client_order_id: str
    reason: ReportRejectReason
    detail: str
    raw: str


class ReconciliationMismatch(Event, frozen=True):
    """The broker's books disagree with the journal's. ``journal_qty`` / ``broker_qty`` are signed
    quantities (positions), or the order quantities for an order mismatch."""

    kind: MismatchKind
    symbol: str
    client_order_id: str | None
    journal_qty: Fixed8
    broker_qty: Fixed8
    broker_avg_price: Fixed8
    detail: str


class ForeignActivitySeen(Event, frozen=True):
    """An order or position at the broker that is not ours: reported, left alone."""

    kind: ForeignKind
    symbol: str
    broker_order_id: str | None
    client_order_id: str | None
    side: str | None
    qty: Fixed8
    status: str


class ReconciliationCompleted(Event, frozen=True):
    """End of the start-up reconciliation of a run segment: what was compared and found."""

    run_id: str
    orders_checked: int
    orders_found: int
    orders_not_found: int
    positions_checked: int
    mismatches: int
    foreign: int


class CycleCompleted(Event, frozen=True):
    """One poll cycle of a live run (idle cycles are not journaled; ``cycle`` counts them all): what
    came in, the outcome of each intent resolved in the cycle (``"OUTCOME:REASON"`` -> count), and,
    over every cycle since the previous ``CycleCompleted``: broker calls, calls that did not succeed
    by error category (retried attempts and not-found lookups included), the rate limiter (429s,
    Retry-After lockouts, time waited for tokens); then the lockout left now and the backoff
    (beyond the poll interval) before the next cycle."""

    run_id: str
    cycle: Annotated[int, msgspec.Meta(ge=1)]
    bars: int
    reports: int
    intents: dict[str, int]
    errors: dict[str, int]
    broker_calls: int
    rate_limited: int
    lockouts: int
    locked_ms: int
    waited_ms: int
    backoff_ms: int
    pending_lookups: int
    open_orders: int


class OrderCancelAnswered(Event, frozen=True):
    """What the broker answered to a cancel request (``category`` for an UNCERTAIN one)."""

    client_order_id: str
    result: CancelResult
    category: ErrorCategory | None
    detail: str
