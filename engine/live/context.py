"""What one live run shares between its parts: the engine (journal + core), the broker adapter,
the broker's clock, the outbox of submits to perform, and the tally of the current cycle.

``Context.input`` is how the live shell journals an input: the core steps on it, the input and its
derived events are staged together, and the derived submit requests join the outbox. The outbox
is only performed after a flush (``Context.flush``), so a broker never sees a request that is not
durably journaled (write-ahead).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from engine.alpaca.client import AlpacaBroker
from engine.alpaca.errors import BrokerError
from engine.core.orders import REPORT_TYPES
from engine.shell import Engine
from journal_schema.events import (
    Event,
    OrderIntentResolved,
    OrderReportRejected,
    OrderResubmitRequested,
    OrderSubmitRequested,
)
from journal_schema.live_events import (
    ReconciliationMismatch,
)

_REPORTS = frozenset(REPORT_TYPES)
ANSWERS = frozenset({"BROKER_STATE", "ORDER_REJECTED"})


@dataclass
class Tally:
    """What happened in one cycle, for ``CycleCompleted``."""

    bars: int = 0
    reports: int = 0
    intents: Counter[str] = field(default_factory=Counter)  # "OUTCOME:REASON" -> count
    errors: Counter[str] = field(default_factory=Counter)  # ErrorCategory -> count

    @property
    def idle(self) -> bool:
        return not (self.bars or self.reports or self.intents or self.errors)


@dataclass
class Context:
    engine: Engine
    broker: AlpacaBroker
    universe: list[str]
    now: int = 0  # the broker clock (ns), never moving backwards: the time of shell observations
    outbox: list[tuple[str, int]] = field(default_factory=list)  # (client_order_id, attempt) to submit
    quarantined: dict[str, str] = field(default_factory=dict)  # cid -> snapshot key refused, or "mismatch"
    refused: set[str] = field(default_factory=set)  # cids whose report the core refused since the last check
    foreign_seen: set[str] = field(default_factory=set)  # broker order ids / symbols reported this process
    tally: Tally = field(default_factory=Tally)

    def input(self, ev: Event) -> list[Event]:
        """Journal one input (staged) and route what the core derived from it."""
        derived = self.engine.apply(ev)
        t = type(ev)
        if t in _REPORTS:
            self.tally.reports += 1
        if t is ReconciliationMismatch and ev.client_order_id:  # type: ignore[attr-defined]
            self.quarantined[ev.client_order_id] = "mismatch"  # type: ignore[attr-defined]
        for d in derived:
            td = type(d)
            if td is OrderSubmitRequested:
                self.outbox.append((d.client_order_id, 1))  # type: ignore[attr-defined]
            elif td is OrderResubmitRequested:
                self.outbox.append((d.client_order_id, d.attempt))  # type: ignore[attr-defined]
            elif td is OrderIntentResolved:
                assert isinstance(d, OrderIntentResolved)
                self.tally.intents[f"{d.outcome}:{d.reason}"] += 1
            elif td is OrderReportRejected:
                self.refused.add(d.client_order_id)  # type: ignore[attr-defined]
        return derived

    def failed(self, error: BrokerError) -> None:
        """A broker call that failed; the broker's own answers (a duplicate id, a refused order, an
        order that cannot be canceled) are not failures of the connection and cause no backoff."""
        if error.category not in ANSWERS:
            self.tally.errors[error.category] += 1

    def flush(self) -> None:
        """Commit everything staged: from here on the broker may see the requests."""
        self.engine.writer.flush()
