"""The imperative shell around the core: journal every input with its derived events,
then perform side effects (broker submits) for durably journaled requests."""

from __future__ import annotations

from collections import Counter
from typing import Protocol

from engine.core.state import CoreState
from engine.core.step import step
from engine.journal.chain import unwrap
from engine.journal.store import JournalReader, JournalWriter
from engine.journal.transcoder import TRANSCODER
from journal_schema.catalogue import INPUT_TYPE_SET
from journal_schema.events import BarClosed, Event, OrderSubmitRequested, SessionClosed

DEFAULT_BATCH = 4096


class Broker(Protocol):
    requires_durable_submit: bool

    def submit(self, req: OrderSubmitRequested) -> list[Event]: ...
    def on_bar(self, bar: BarClosed) -> list[Event]: ...
    def on_session_closed(self, ev: SessionClosed) -> list[Event]: ...


class Engine:
    """Owns the journal writer and the core state for one process."""

    def __init__(self, writer: JournalWriter, state: CoreState | None = None,
                 broker: Broker | None = None, batch: int = DEFAULT_BATCH) -> None:
        self.writer = writer
        self.state = state if state is not None else CoreState()
        self.broker = broker
        self.batch = batch
        self._counts: Counter[type[Event]] = Counter()

    @classmethod
    def open(cls, path: str, broker: Broker | None = None, batch: int = DEFAULT_BATCH) -> Engine:
        """Open (or create) a journal and rebuild the core state by folding its inputs."""
        writer = JournalWriter(path)
        state = CoreState()
        if writer.last_seq:
            with JournalReader(path) as reader:
                for rec in reader.records():
                    _, payload = unwrap(rec.state)
                    ev = TRANSCODER.decode_stored(rec.topic, payload)
                    if type(ev) in INPUT_TYPE_SET:
                        step(state, ev, rec.seq)
        return cls(writer, state, broker, batch)

    def feed(self, ev: Event) -> None:
        """One input from outside. The broker sees bars and closes first (its fills happen
        at the bar's open / at the close, before the core learns of the bar)."""
        broker = self.broker
        if broker is not None:
            t = type(ev)
            if t is BarClosed:
                for report in broker.on_bar(ev):  # type: ignore[arg-type]
                    self._apply(report)
            elif t is SessionClosed:
                for report in broker.on_session_closed(ev):  # type: ignore[arg-type]
                    self._apply(report)
        self._apply(ev)

    def _apply(self, ev: Event) -> None:
        writer = self.writer
        _, derived = step(self.state, ev, writer.last_seq + 1)
        counts = self._counts
        counts[type(ev)] += 1
        if derived:
            writer.append([ev, *derived])
            for d in derived:
                counts[type(d)] += 1
            if self.broker is not None:
                for d in derived:
                    if type(d) is OrderSubmitRequested:
                        if self.broker.requires_durable_submit:
                            writer.flush()  # write-ahead: the request is durable before the broker sees it
                        for report in self.broker.submit(d):
                            self._apply(report)
        else:
            writer.append((ev,))
        if writer.last_seq - writer.committed_seq >= self.batch:
            writer.flush()

    @property
    def counts(self) -> dict[str, int]:
        """Events journaled by this process, by type name."""
        return {t.__name__: n for t, n in self._counts.items()}

    def close(self) -> None:
        self.writer.close()
