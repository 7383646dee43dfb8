"""The events projection: a listing of journal records, optionally filtered by type."""

from __future__ import annotations

from collections.abc import Collection
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from journal_schema.catalogue import BY_NAME
from journal_schema.codec import encode
from journal_schema.events import Event
from projections.fold import ProjectionError, iter_events
from projections.render import Column, Table


@dataclass(frozen=True, slots=True)
class EventRow:
    seq: int
    ts: int  # ns UTC
    type: str
    symbol: str | None
    client_order_id: str | None
    json: bytes  # the canonical (compact) JSON of the event


def event_types(names: Collection[str]) -> frozenset[type[Event]]:
    """Event classes by type name; an unknown name is a ProjectionError listing the known ones."""
    unknown = sorted(n for n in names if n not in BY_NAME)
    if unknown:
        known = ", ".join(sorted(BY_NAME))
        raise ProjectionError(f"unknown event type {', '.join(unknown)} (known: {known})")
    return frozenset(BY_NAME[n] for n in names)


def event_row(seq: int, event: Event) -> EventRow:
    symbol = getattr(event, "symbol", None)
    cid = getattr(event, "client_order_id", None)
    return EventRow(seq, event.ts, type(event).__name__, symbol, cid, encode(event))


def event_rows(
    path: str | Path,
    *,
    at: int | None = None,
    types: Collection[str] = (),
    limit: int | None = None,
) -> list[EventRow]:
    """The first ``limit`` records of ``1..at`` whose type is in ``types`` (all when empty)."""
    only = event_types(types) if types else None
    rows: list[EventRow] = []
    if limit is not None and limit < 1:
        return rows
    with closing(iter_events(path, at=at, only=only)) as stream:
        for seq, event in stream:
            rows.append(event_row(seq, event))
            if limit is not None and len(rows) >= limit:
                break
    return rows


EVENT_COLUMNS = (
    Column("seq", "int"),
    Column("ts", "ts"),
    Column("type"),
    Column("symbol"),
    Column("client_order_id"),
    Column("event", "json"),
)


def events_table(rows: list[EventRow]) -> Table:
    return Table(EVENT_COLUMNS, [(r.seq, r.ts, r.type, r.symbol, r.client_order_id, r.json) for r in rows])
