"""One way to read a journal: records in pages, walked along the hash chain or decoded into events.

``JournalReader(journal)`` opens any journal address read-only (``engine.journal.address``) and gives:

* ``records(start, stop)``: the stored records in pages of ``page_size`` (memory is bounded by the page
  size, not the journal), decrypted when the journal is encrypted;
* ``linked(start, stop)``: the same records checked along the hash chain (``engine.journal.chain.walk``);
* ``events(types, start=, stop=, at=, symbol=, client_order_id=)``: ``(seq, event)`` pairs decoded by the
  one decoder (the catalogue's strict msgspec decoders, older versions through their upcasters). Records of
  other types are skipped undecoded. Without ``stop`` or ``at`` it stops at the head seen when it started,
  so a journal that is being appended to still gives one consistent snapshot.

``read_events(journal, ...)`` opens, reads and closes. Every failure is a ``JournalError`` (one line, with
a ``category``): opening, a database error mid-read (``STORE``), a sequence number outside the journal
(``RANGE``), a record that does not decrypt or decode (``RecordError``, naming its seq).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Generator, Iterable, Iterator
from typing import TypeVar, overload

import msgspec
import psycopg
from eventsourcing.persistence import PersistenceError

from engine.journal import cipher
from engine.journal.address import JournalAddress, JournalLike, parse
from engine.journal.backends import Store
from engine.journal.chain import GENESIS, EnvelopeError, Linked, StoredRecord, stored_hash, unwrap, walk
from engine.journal.errors import JournalError, RecordError, first_line
from journal_schema.catalogue import BY_NAME, TOPIC_TO_TYPE, UPCASTERS
from journal_schema.codec import UnknownTopicError, decode_topic
from journal_schema.events import Event

DEFAULT_PAGE_SIZE = 10_000
STORE_ERRORS = (PersistenceError, sqlite3.Error, psycopg.Error)  # the databases' own failures

# every topic a journal may hold (older versions too, read through their upcasters) -> current type
STORED_TYPES: dict[str, type[Event]] = {**TOPIC_TO_TYPE, **{topic: t for topic, (t, _) in UPCASTERS.items()}}

E = TypeVar("E", bound=Event)


def decode_payload(seq: int, topic: str, payload: bytes | memoryview) -> Event:
    """The event of record ``seq`` from its canonical bytes, under its topic (the one decoder)."""
    try:
        return decode_topic(topic, payload)
    except (UnknownTopicError, msgspec.DecodeError) as exc:
        problem = f"event does not decode as {topic}: {exc}"
        raise RecordError(
            seq, problem, category="UNDECODABLE", message=f"record {seq} cannot be read ({problem})"
        ) from None


def decode_record(record: StoredRecord) -> Event:
    """The event of a stored record (its envelope is split, not checked against the chain)."""
    try:
        _, payload = unwrap(record.state)
    except EnvelopeError as exc:
        raise RecordError(record.seq, f"malformed envelope: {exc}", category="TAMPERED") from None
    return decode_payload(record.seq, record.topic, payload)


def types_named(names: Iterable[str]) -> frozenset[type[Event]]:
    """Event classes by type name; an unknown name is a ``JournalError`` listing the known ones."""
    wanted = list(names)
    unknown = sorted(n for n in wanted if n not in BY_NAME)
    if unknown:
        known = ", ".join(sorted(BY_NAME))
        raise JournalError(f"unknown event type {', '.join(unknown)} (known: {known})", category="RANGE")
    return frozenset(BY_NAME[n] for n in wanted)


class JournalReader:
    """Reads one journal without writing it and without taking its lock."""

    def __init__(self, journal: JournalLike, *, page_size: int = DEFAULT_PAGE_SIZE, key: str | None = None) -> None:
        """``key``: the cipher key of an encrypted journal; None takes ``ENGINE_CIPHER_KEY``."""
        self.address: JournalAddress = parse(journal)
        self.page_size = page_size
        try:
            self._store: Store = self.address.open_store()
        except STORE_ERRORS as exc:
            raise self._failed(exc) from None
        try:
            self._store.use_cipher(key if key is not None else cipher.key_from_env(), encrypt=False)
        except JournalError:
            self._store.close()
            raise
        except STORE_ERRORS as exc:
            self._store.close()
            raise self._failed(exc) from None

    def _failed(self, exc: BaseException) -> JournalError:
        return JournalError(f"cannot read journal {self.address}: {first_line(exc)}", category="STORE")

    @property
    def encrypted(self) -> bool:
        return self._store.cipher is not None

    def last_seq(self) -> int:
        try:
            return self._store.max_seq()
        except STORE_ERRORS as exc:
            raise self._failed(exc) from None

    def records(self, start: int = 1, stop: int | None = None) -> Iterator[StoredRecord]:
        """Records with ``start <= seq <= stop`` (to the end when ``stop`` is None) in journal order."""
        store, next_id = self._store, start
        while True:
            try:
                page = store.page(next_id, self.page_size, stop)
            except STORE_ERRORS as exc:
                raise self._failed(exc) from None
            if not page:
                return
            if store.cipher is None:
                yield from page
            else:  # one at a time, so the records before an undecryptable one are still read
                yield from map(store.opened, page)
            next_id = page[-1].rowid + 1

    def linked(self, start: int = 1, stop: int | None = None) -> Iterator[Linked]:
        """Records ``start..stop`` checked along the chain (from genesis, or from the stored hash of record
        ``start - 1``); ``RecordError`` (``TAMPERED``) at the first that breaks it."""
        prev = GENESIS if start == 1 else self.hash_of(start - 1)
        return walk(self.records(start, stop), prev=prev, first=start)

    def hash_of(self, seq: int) -> bytes:
        """The chain hash record ``seq`` holds (as stored; ``linked`` checks it)."""
        for record in self.records(seq, seq):
            return stored_hash(record)
        raise JournalError(f"journal {self.address} has no record {seq}", category="RANGE")

    def head(self) -> tuple[int, bytes]:
        """The last sequence number and its stored chain hash (genesis for an empty journal)."""
        last = self.last_seq()
        return last, self.hash_of(last) if last else GENESIS

    def stop_at(self, at: int | None) -> int:
        """The last sequence number to read: ``at`` checked against the journal (``RANGE``), or its head."""
        last = self.last_seq()
        if at is None:
            return last
        if at < 1:
            raise JournalError(f"sequence number must be >= 1, got {at}", category="RANGE")
        if at > last:
            raise JournalError(
                f"sequence number {at} is beyond the end of the journal (last seq {last})", category="RANGE"
            )
        return at

    @overload
    def events(
        self,
        types: None = None,
        *,
        start: int = 1,
        stop: int | None = None,
        at: int | None = None,
        symbol: str | None = None,
        client_order_id: str | None = None,
    ) -> Iterator[tuple[int, Event]]: ...

    @overload
    def events(
        self,
        types: Collection[type[E]],
        *,
        start: int = 1,
        stop: int | None = None,
        at: int | None = None,
        symbol: str | None = None,
        client_order_id: str | None = None,
    ) -> Iterator[tuple[int, E]]: ...

    def events(
        self,
        types: Collection[type[Event]] | None = None,
        *,
        start: int = 1,
        stop: int | None = None,
        at: int | None = None,
        symbol: str | None = None,
        client_order_id: str | None = None,
    ) -> Iterator[tuple[int, Event]]:
        """``(seq, event)`` of records ``start..stop`` (``at``: up to that seq, which must exist; neither:
        up to the head now) whose type is one of ``types`` (all when None), whose ``symbol`` and
        ``client_order_id`` are the ones given (when given)."""
        last = self.stop_at(at) if stop is None else stop
        if last < start:
            return
        wanted = None if types is None else frozenset(types)
        for record in self.records(start, last):
            if wanted is not None and STORED_TYPES.get(record.topic) not in wanted:
                continue
            event = decode_record(record)
            if symbol is not None and getattr(event, "symbol", None) != symbol:
                continue
            if client_order_id is not None and getattr(event, "client_order_id", None) != client_order_id:
                continue
            yield record.seq, event

    def close(self) -> None:
        self._store.close()

    def __enter__(self) -> JournalReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@overload
def read_events(
    journal: JournalLike,
    types: None = None,
    *,
    start: int = 1,
    at: int | None = None,
    symbol: str | None = None,
    client_order_id: str | None = None,
    key: str | None = None,
) -> Generator[tuple[int, Event], None, None]: ...


@overload
def read_events(
    journal: JournalLike,
    types: Collection[type[E]],
    *,
    start: int = 1,
    at: int | None = None,
    symbol: str | None = None,
    client_order_id: str | None = None,
    key: str | None = None,
) -> Generator[tuple[int, E], None, None]: ...


def read_events(
    journal: JournalLike,
    types: Collection[type[Event]] | None = None,
    *,
    start: int = 1,
    at: int | None = None,
    symbol: str | None = None,
    client_order_id: str | None = None,
    key: str | None = None,
) -> Generator[tuple[int, Event], None, None]:
    """``JournalReader.events`` of a journal opened for this one pass (closed when the pass ends or is closed)."""
    with JournalReader(journal, key=key) as reader:
        yield from reader.events(types, start=start, at=at, symbol=symbol, client_order_id=client_order_id)
