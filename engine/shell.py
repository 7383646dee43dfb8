"""The imperative shell around the core: journal every input with its derived events.

``Engine.apply`` is the one way anything enters the journal: the core steps on the input and
the input plus everything it derived are staged as one group (one transaction). Historical
runs feed an in-process ``SimBroker`` (``Engine.feed``), whose effects never leave the process;
live runs (``engine.live``) flush before every broker call instead (write-ahead outbox)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from functools import partial
from typing import Protocol

from engine.core.atomic import InputFold
from engine.core.state import CoreState
from engine.core.strategy import StrategySpec
from engine.journal.address import JournalLike
from engine.journal.read import JournalReader
from engine.journal.store import JournalWriter
from engine.strategies import resolve_strategy
from journal_schema.catalogue import INPUT_TYPE_SET
from journal_schema.events import BarClosed, Event, OrderCancelRequested, OrderSubmitRequested, SessionClosed

DEFAULT_BATCH = 4096


class SimBroker(Protocol):
    """An in-process simulated broker for historical runs (``engine.broker.paper.PaperBroker``)."""

    def submit(self, req: OrderSubmitRequested) -> list[Event]: ...
    def cancel(self, req: OrderCancelRequested) -> list[Event]: ...
    def on_bar(self, bar: BarClosed) -> list[Event]: ...
    def on_session_closed(self, ev: SessionClosed) -> list[Event]: ...


class Closeable(Protocol):
    def close(self) -> None: ...


class Engine:
    """Owns the journal writer and the core state for one process."""

    def __init__(
        self,
        writer: JournalWriter,
        state: CoreState | None = None,
        broker: SimBroker | None = None,
        batch: int = DEFAULT_BATCH,
        faults: dict[int, Exception] | None = None,
    ) -> None:
        """``faults``: the inputs of the journal that faulted when they were folded (``fold_inputs``)."""
        self.writer = writer
        self.fold = InputFold(
            state if state is not None else CoreState(resolver=resolve_strategy), self._refold, faults
        )
        self.broker = broker
        self.batch = batch
        self._counts: Counter[type[Event]] = Counter()
        self.inbox: Closeable | None = (
            None  # the journal's operator inbox once it is opened, kept open (engine.operator)
        )

    @classmethod
    def open(
        cls,
        journal: JournalLike,
        broker: SimBroker | None = None,
        batch: int = DEFAULT_BATCH,
        observe: Callable[[Event], None] | None = None,
        *,
        encrypt: bool = False,
    ) -> Engine:
        """Open (or create) a journal and rebuild the core state by folding its inputs;
        ``observe`` sees every input on the way (the live shell rebuilds its own bookkeeping).
        ``encrypt``: a new journal is made encrypted (``JournalWriter``)."""
        writer = JournalWriter(journal, encrypt=encrypt)
        fold = InputFold(CoreState(resolver=resolve_strategy), _no_refold)
        if writer.last_seq:
            try:
                fold = fold_inputs(writer.address, resolver=resolve_strategy, until=writer.last_seq, observe=observe)
            except BaseException:
                writer.close()
                raise
        return cls(writer, fold.state, broker, batch, fold.faults)

    def feed(self, ev: Event) -> None:
        """One input from outside. The broker sees bars and closes first (its fills happen
        at the bar's open / at the close, before the core learns of the bar)."""
        broker = self.broker
        if broker is None:
            self.apply(ev)
            return
        t = type(ev)
        if t is BarClosed:
            reports = broker.on_bar(ev)  # type: ignore[arg-type]
            if reports:
                self._apply_sim(reports)
        elif t is SessionClosed:
            self._apply_sim(broker.on_session_closed(ev))  # type: ignore[arg-type]
        derived = self.apply(ev)
        if derived:
            self._answer(broker, derived)

    def _apply_sim(self, inputs: list[Event]) -> None:
        """Apply inputs; the in-process broker answers each submit and cancel request at once."""
        broker = self.broker
        for ev in inputs:
            derived = self.apply(ev)
            if derived and broker is not None:
                self._answer(broker, derived)

    def _answer(self, broker: SimBroker, derived: list[Event]) -> None:
        """The broker's reports to the requests among ``derived``, applied as inputs in request order."""
        for d in derived:
            t = type(d)
            if t is OrderSubmitRequested:
                self._apply_sim(broker.submit(d))  # type: ignore[arg-type]
            elif t is OrderCancelRequested:
                self._apply_sim(broker.cancel(d))  # type: ignore[arg-type]

    def apply(self, ev: Event) -> list[Event]:
        """Step the core on one input and stage it with its derived events; returns them.
        Commits every ``batch`` records; callers flush before effects outside the process."""
        writer = self.writer
        derived = self.fold.apply(ev, writer.last_seq + 1)
        counts = self._counts
        counts[type(ev)] += 1
        if derived:
            writer.append([ev, *derived])
            for d in derived:
                counts[type(d)] += 1
        else:
            writer.append((ev,))
        if writer.last_seq - writer.committed_seq >= self.batch:
            writer.flush()
        return derived

    @property
    def state(self) -> CoreState:
        """The core's state (replaced, not changed, when an input faults: do not keep it across inputs)."""
        return self.fold.state

    def _refold(self, faults: dict[int, Exception], until: int) -> CoreState:
        """The core state after the journal's inputs up to ``until`` (the writer commits first)."""
        self.writer.flush()
        return fold_inputs(
            self.writer.address, resolver=self.state.resolver or resolve_strategy, until=until, faults=faults
        ).state

    @property
    def counts(self) -> dict[str, int]:
        """Events journaled by this process, by type name."""
        return {t.__name__: n for t, n in self._counts.items()}

    def close(self, *, failed: bool = False) -> None:
        """Commit and close; ``failed``: after a failure (``JournalWriter.discard``: no empty journal is left)."""
        try:
            if failed:
                self.writer.discard()
            else:
                self.writer.close()
        finally:
            if self.inbox is not None:
                self.inbox.close()


def fold_inputs(
    journal: JournalLike,
    *,
    resolver: Callable[[str], StrategySpec],
    until: int | None = None,
    observe: Callable[[Event], None] | None = None,
    faults: dict[int, Exception] | None = None,
) -> InputFold:
    """The core state after the journal's inputs up to record ``until`` (default: all), folded again,
    with the inputs that faulted (``InputFold.faults``); ``observe`` sees every input on the way. An
    input that faulted when it was journaled faults again here and its halt is derived on the state
    before it, as it was then; ``faults`` known already are halted without being stepped."""
    fold = InputFold(CoreState(resolver=resolver), partial(refold_journal, journal, resolver), faults)
    with JournalReader(journal) as reader:  # derived events are skipped undecoded
        for seq, ev in reader.events(INPUT_TYPE_SET, stop=until):
            fold.apply(ev, seq)
            if observe is not None:
                observe(ev)
    return fold


def refold_journal(
    journal: JournalLike, resolver: Callable[[str], StrategySpec], faults: dict[int, Exception], until: int
) -> CoreState:
    return fold_inputs(journal, resolver=resolver, until=until, faults=faults).state


def _no_refold(faults: dict[int, Exception], until: int) -> CoreState:
    raise AssertionError("an empty journal has no input to fold again")
