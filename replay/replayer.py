"""Replay contract: feed the recorded inputs, in recorded order, through the current core;
every derived event must equal the recorded one byte for byte. The records are read along the
hash chain (``JournalReader.linked``, the walk ``engine verify`` makes), so tampering is named at
its sequence number too, with verify's words. Memory is bounded by the reader's page size plus the
core state."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from functools import partial

from engine.core.atomic import InputFold
from engine.core.state import CoreState
from engine.journal.address import JournalLike
from engine.journal.chain import GENESIS
from engine.journal.errors import RecordError
from engine.journal.read import DEFAULT_PAGE_SIZE, JournalReader, decode_payload
from engine.shell import refold_journal
from engine.strategies import resolve_strategy
from journal_schema.catalogue import INPUT_TYPE_SET, TOPICS
from journal_schema.codec import encode
from journal_schema.events import Event
from replay.diff import field_diff


@dataclass
class Divergence:
    seq: int
    kind: str  # TAMPERED | UNDECODABLE | DERIVED_MISMATCH | MISSING_DERIVED | UNEXPECTED_DERIVED
    message: str
    recorded: Event | None = None
    replayed: Event | None = None
    diff: list[str] = field(default_factory=list)


@dataclass
class ReplayResult:
    records: int
    inputs: int
    derived: int
    digest: str
    divergence: Divergence | None

    @property
    def identical(self) -> bool:
        return self.divergence is None


def replay_journal(path: JournalLike, page_size: int = DEFAULT_PAGE_SIZE) -> ReplayResult:
    fold = InputFold(CoreState(resolver=resolve_strategy), partial(refold_journal, path, resolve_strategy))
    prev = GENESIS
    pending: deque[Event] = deque()
    pending_seq = 0
    inputs = derived = records = 0
    with JournalReader(path, page_size=page_size) as reader:
        try:
            for seq, topic, payload, prev in reader.linked():
                records += 1
                ev = decode_payload(seq, topic, payload)
                if type(ev) in INPUT_TYPE_SET:
                    if pending:
                        return _stop(records, inputs, derived, prev, _missing(pending_seq, seq, pending[0]))
                    inputs += 1
                    produced = fold.apply(ev, seq)
                    pending.extend(produced)
                    pending_seq = seq
                    continue
                derived += 1
                if not pending:
                    message = f"recorded {topic} that the current code does not derive from input {pending_seq}"
                    return _stop(records, inputs, derived, prev, Divergence(seq, "UNEXPECTED_DERIVED", message, ev))
                expected = pending.popleft()
                if TOPICS[type(expected)] != topic or encode(expected) != payload:
                    mismatch = Divergence(
                        seq,
                        "DERIVED_MISMATCH",
                        f"derived event differs from the recorded {topic}",
                        recorded=ev,
                        replayed=expected,
                        diff=field_diff(ev, expected),
                    )
                    return _stop(records, inputs, derived, prev, mismatch)
        except RecordError as exc:  # off the chain or undecryptable: TAMPERED; not an event: UNDECODABLE
            kind = "UNDECODABLE" if exc.category == "UNDECODABLE" else "TAMPERED"
            counted = records if kind == "UNDECODABLE" else records + 1
            return _stop(counted, inputs, derived, prev, Divergence(exc.seq, kind, exc.problem))
    if pending:
        return _stop(records, inputs, derived, prev, _missing(pending_seq, records + 1, pending[0]))
    return ReplayResult(records, inputs, derived, prev.hex(), None)


def _missing(input_seq: int, seq: int, expected: Event) -> Divergence:
    return Divergence(
        seq,
        "MISSING_DERIVED",
        f"the current code derives {TOPICS[type(expected)]} from input {input_seq}, the journal does not have it",
        replayed=expected,
        diff=field_diff(None, expected),
    )


def _stop(records: int, inputs: int, derived: int, prev: bytes, d: Divergence) -> ReplayResult:
    return ReplayResult(records, inputs, derived, prev.hex(), d)
