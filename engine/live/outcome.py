"""What a live run leaves: what reopening its journal tells the shell, and the result it reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from engine.live.bars import last_bar_close
from journal_schema.events import Event, RunStarted, SessionClosed, SessionOpened

if TYPE_CHECKING:
    from engine.shell import Engine


@dataclass
class Resumed:
    """What reopening the journal tells the shell (beyond the core state)."""

    last_close: dict[str, int] = field(default_factory=dict)
    origin: int | None = None  # ts of the journal's first RunStarted
    last_session: str | None = None  # label of the last SessionOpened / SessionClosed

    def observe(self, ev: Event) -> None:
        last_bar_close(ev, self.last_close)
        t = type(ev)
        if t is RunStarted and self.origin is None:
            self.origin = ev.ts
        elif t is SessionOpened or t is SessionClosed:
            self.last_session = ev.session  # type: ignore[attr-defined]


@dataclass
class LiveResult:
    journal: str
    run_id: str
    target: str
    cycles: int
    end_reason: str
    counts: dict[str, int]
    last_seq: int
    digest: str
    halted: str | None
    positions: dict[str, int] = field(default_factory=dict)
    open_orders: int = 0

    @classmethod
    def of(cls, engine: Engine, *, journal: str, run_id: str, target: str, cycles: int, reason: str) -> LiveResult:
        """The result of a run that ended with ``reason``, from its engine's state and journal."""
        state, writer = engine.state, engine.writer
        return cls(
            journal=journal,
            run_id=run_id,
            target=target,
            cycles=cycles,
            end_reason=reason,
            counts=engine.counts,
            last_seq=writer.last_seq,
            digest=writer.last_hash.hex(),
            halted=state.halted,
            positions={s: p.qty for s, p in state.positions.traded()},
            open_orders=len(state.orders.with_status("SUBMIT_REQUESTED", "ACCEPTED", "PARTIALLY_FILLED")),
        )
