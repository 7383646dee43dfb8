"""The generic fold driver: stream a journal's events, in order, into projections.

Reading is paged by ``JournalReader`` (memory is bounded by the page size, not the
journal). ``at`` bounds the fold to records ``1..at`` inclusive, which gives the state as
of that sequence number; without it the fold stops at the head seen when it started, so
a journal that is being appended to still yields one consistent snapshot.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Generator, Iterable
from pathlib import Path
from typing import Protocol

import msgspec
from eventsourcing.persistence import PersistenceError

from engine.journal import EnvelopeError, JournalError, JournalReader, unwrap
from journal_schema.catalogue import TOPIC_TO_TYPE, UPCASTERS
from journal_schema.codec import UnknownTopicError, decode_topic
from journal_schema.events import Event

# every topic a journal may hold (older versions too, read through their upcasters) -> current type
STORED_TYPES: dict[str, type[Event]] = {**TOPIC_TO_TYPE, **{topic: t for topic, (t, _) in UPCASTERS.items()}}


class ProjectionError(ValueError):
    """The journal cannot be read as asked (missing, not a journal, bad ``at``, bad record)."""


class Projection(Protocol):
    def apply(self, seq: int, event: Event) -> None: ...


def open_reader(path: str | Path) -> JournalReader:
    """Open a journal for reading, turning every way it can fail into one ProjectionError."""
    try:
        return JournalReader(path)
    except (JournalError, PersistenceError, sqlite3.Error) as exc:
        raise ProjectionError(f"cannot read journal {path}: {exc}") from exc


def resolve_at(at: int | None, last_seq: int) -> int:
    """The last sequence number to fold: ``at`` checked against the journal, or its head."""
    if at is None:
        return last_seq
    if at < 1:
        raise ProjectionError(f"sequence number must be >= 1, got {at}")
    if at > last_seq:
        raise ProjectionError(f"sequence number {at} is beyond the end of the journal (last seq {last_seq})")
    return at


def iter_events(
    path: str | Path, *, at: int | None = None, only: Collection[type[Event]] | None = None
) -> Generator[tuple[int, Event], None, None]:
    """Yield ``(seq, event)`` for records ``1..at``; ``only`` skips other types undecoded."""
    reader = open_reader(path)
    try:
        stop = resolve_at(at, reader.last_seq())
        if stop == 0:
            return
        wanted = None if only is None else frozenset(only)
        records = reader.records(1, stop)
        while True:
            try:
                record = next(records)
            except StopIteration:
                return
            except (JournalError, PersistenceError, sqlite3.Error) as exc:  # undecryptable, or the store went away
                raise ProjectionError(f"{exc}; run `engine verify`") from exc
            if wanted is not None and STORED_TYPES.get(record.topic) not in wanted:
                continue
            try:
                _, payload = unwrap(record.state)
                event = decode_topic(record.topic, payload)
            except (EnvelopeError, UnknownTopicError, msgspec.DecodeError) as exc:
                raise ProjectionError(f"record {record.seq} cannot be read ({exc}); run `engine verify`") from exc
            yield record.seq, event
    finally:
        reader.close()


def fold(path: str | Path, projections: Iterable[Projection], *, at: int | None = None) -> int:
    """Apply every event of records ``1..at`` to each projection; returns the last seq folded."""
    targets = list(projections)
    last = 0
    for seq, event in iter_events(path, at=at):
        for projection in targets:
            projection.apply(seq, event)
        last = seq
    return last
