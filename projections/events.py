"""The events projection: a listing of journal records, optionally filtered by type, symbol and order
(the filters of the shell's reader, ``engine.journal.read``)."""

from __future__ import annotations

from collections.abc import Collection
from contextlib import closing
from dataclasses import dataclass

from engine.journal.address import JournalLike
from engine.journal.read import read_events, types_named
from journal_schema.codec import encode
from journal_schema.events import Event
from projections.render import Column, Table


@dataclass(frozen=True, slots=True)
class EventRow:
    seq: int
    ts: int  # ns UTC
    type: str
    symbol: str | None
    client_order_id: str | None
    json: bytes  # the canonical (compact) JSON of the event


def event_row(seq: int, event: Event) -> EventRow:
    symbol = getattr(event, "symbol", None)
    cid = getattr(event, "client_order_id", None)
    return EventRow(seq, event.ts, type(event).__name__, symbol, cid, encode(event))


def event_rows(
    journal: JournalLike,
    *,
    at: int | None = None,
    types: Collection[str] = (),
    symbol: str | None = None,
    client_order_id: str | None = None,
    limit: int | None = None,
) -> list[EventRow]:
    """The first ``limit`` records of ``1..at`` whose type is in ``types`` (all when empty), of ``symbol``
    and of ``client_order_id`` when they are given."""
    only = types_named(types) if types else None
    rows: list[EventRow] = []
    if limit is not None and limit < 1:
        return rows
    with closing(read_events(journal, only, at=at, symbol=symbol, client_order_id=client_order_id)) as stream:
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
