"""What one live run shares between its parts: the engine (journal + core), the broker adapter,
the broker's clock, the outbox of submits to perform, and the tally of the current cycle.

``Context.input`` is how the live shell journals an input: the core steps on it, the input and its
derived events are staged together, and the derived submit requests join the outbox. The outbox
is only performed after a flush (``Context.flush``), so a broker never sees a request that is not
durably journaled (write-ahead).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from engine.alpaca.client import AlpacaBroker
from engine.alpaca.errors import BrokerError
from engine.core.orders import REPORT_TYPES
from engine.live.breakers import Breakers, closed_event, opened_event
from engine.live.taxonomy import ACTIONS, Classified, classify
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
from journal_schema.reasons import Dependency
from journal_schema.risk_events import ShellErrorReported

log = logging.getLogger("engine.live")

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
    breakers: Breakers = field(default_factory=Breakers)
    wall_ns: Callable[[], int] = time.monotonic_ns  # shell: the breakers' clock (injected in tests)
    reported: set[tuple[str, str]] = field(default_factory=set)  # (dependency, category) halts reported
    journaling: bool = False  # the segment's RunStarted is journaled: breaker and error events may follow

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

    def allow(self, dep: Dependency) -> bool:
        """Whether ``dep``'s breaker lets a call through now (an open one lets one probe through
        once its open period is over)."""
        return self.breakers.get(dep).allow(self.wall_ns())

    def succeeded(self, dep: Dependency) -> None:
        """A call to ``dep`` answered: a probe that answers closes its breaker (``CircuitClosed``)."""
        if self.breakers.get(dep).success(self.wall_ns()) and self.journaling:
            log.warning("breaker %s closed: the probe call answered", dep)
            self.input(closed_event(dep, self.now))

    def probe(self, dep: Dependency, call: Callable[[], object]) -> None:
        """When ``dep``'s breaker is due for its probe (its open period is over) and nothing else has made
        one, make ``call`` (a cheap read of the dependency) the probe: an answer closes the breaker
        (``CircuitClosed``), a failure opens it again."""
        if not self.breakers.get(dep).probe_due(self.wall_ns()) or not self.allow(dep):
            return
        try:
            call()
        except BrokerError as error:
            self.failed(error, dep)
        else:
            self.succeeded(dep)

    def failed(self, error: BrokerError, dep: Dependency) -> None:
        """A broker call that failed; the broker's own answers (a duplicate id, a refused order, an
        order that cannot be canceled) are not failures of the connection and cause no backoff."""
        if error.category in ANSWERS:
            self.succeeded(dep)  # the broker answered
            return
        self.tally.errors[error.category] += 1
        self.fault(classify(error), dep)

    def fault(self, c: Classified, dep: Dependency) -> None:
        """An error at the shell, classified: it counts against ``dep``'s breaker (DISABLE_PROVIDER opens
        it at once: ``CircuitOpened``) and, when its action is HALT_TRADING, is journaled as
        ``ShellErrorReported`` (once per dependency and category while trading is not halted)."""
        opened = None
        if c.category == "RATE_LIMIT":  # a 429 locks the token bucket for Retry-After instead of counting here;
            self.succeeded(dep)  # it is the broker answering, so a probe that gets one closes the breaker
        else:
            opened = self.breakers.get(dep).failure(
                self.wall_ns(), c.category, c.detail, disable=c.action == "DISABLE_PROVIDER"
            )
        if not self.journaling:
            return  # before RunStarted: the breaker counts, the journal hears of it from the first cycle on
        if opened is not None:
            log.warning(
                "breaker %s open for %d s: %d failure(s) in %d s (%s)",
                dep,
                opened.open_seconds,
                opened.failures,
                opened.window_seconds,
                c.category,
            )
            self.input(opened_event(opened, self.now, self.now + opened.open_seconds * 1_000_000_000))
        halts = ACTIONS[c.category] == "HALT_TRADING" and self.engine.state.halted is None
        if halts and (dep, c.category) not in self.reported:
            self.reported.add((dep, c.category))
            self.input(
                ShellErrorReported(
                    ts=self.now,
                    dependency=dep,
                    category=c.category,
                    action="HALT_TRADING",
                    error_type=c.error_type,
                    detail=c.detail,
                )
            )

    def flush(self) -> None:
        """Commit everything staged: from here on the broker may see the requests."""
        self.engine.writer.flush()
