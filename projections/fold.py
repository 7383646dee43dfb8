"""The generic fold driver: stream a journal's events, in order, into projections.

Reading is the shell's one reader (``engine.journal.read``): paged (memory is bounded by the page size,
not the journal), decoded by the one decoder, every failure a ``JournalError``. ``at`` bounds the fold to
records ``1..at`` inclusive, which gives the state as of that sequence number; without it the fold stops
at the head seen when it started, so a journal that is being appended to still yields one consistent
snapshot.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from engine.journal.address import JournalLike
from engine.journal.read import read_events
from journal_schema.events import Event


class Projection(Protocol):
    def apply(self, seq: int, event: Event) -> None: ...


def fold(journal: JournalLike, projections: Iterable[Projection], *, at: int | None = None) -> int:
    """Apply every event of records ``1..at`` to each projection; returns the last seq folded."""
    targets = list(projections)
    last = 0
    for seq, event in read_events(journal, at=at):
        for projection in targets:
            projection.apply(seq, event)
        last = seq
    return last
