"""Replay contract: feed the recorded inputs, in recorded order, through the current core;
every derived event must equal the recorded one byte for byte. The hash chain is checked
as records stream by, so tampering is named at its sequence number too. Memory is
bounded by the reader's page size plus the core state."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import msgspec

from engine.core.state import CoreState
from engine.core.step import apply_input
from engine.journal.chain import GENESIS, EnvelopeError, link, unwrap
from engine.journal.store import DEFAULT_PAGE_SIZE, JournalReader
from engine.shell import fold_inputs
from engine.strategies import resolve_strategy
from journal_schema.catalogue import INPUT_TYPE_SET, TOPICS
from journal_schema.codec import UnknownTopicError, decode_topic, encode
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


def replay_journal(path: str | Path, page_size: int = DEFAULT_PAGE_SIZE) -> ReplayResult:
    state = CoreState(resolver=resolve_strategy)
    prev = GENESIS
    pending: deque[Event] = deque()
    pending_seq = 0
    inputs = derived = records = 0
    with JournalReader(path, page_size=page_size) as reader:
        for rec in reader.records():
            records += 1
            seq = rec.seq
            if seq != records:
                return _stop(
                    records,
                    inputs,
                    derived,
                    prev,
                    Divergence(records, "TAMPERED", f"record {records} is missing (the next stored record is {seq})"),
                )
            try:
                stored_hash, payload = unwrap(rec.state)
            except EnvelopeError as exc:
                return _stop(records, inputs, derived, prev, Divergence(seq, "TAMPERED", str(exc)))
            prev = link(prev, seq, rec.topic.encode(), payload)
            if prev != stored_hash:
                return _stop(
                    records,
                    inputs,
                    derived,
                    prev,
                    Divergence(seq, "TAMPERED", "stored hash does not match the record's content (hash chain broken)"),
                )
            try:
                ev = decode_topic(rec.topic, payload)
            except (msgspec.DecodeError, UnknownTopicError) as exc:
                return _stop(records, inputs, derived, prev, Divergence(seq, "UNDECODABLE", str(exc)))
            if type(ev) in INPUT_TYPE_SET:
                if pending:
                    return _stop(records, inputs, derived, prev, _missing(pending_seq, seq, pending[0]))
                inputs += 1
                before = partial(fold_inputs, path, resolver=resolve_strategy, until=seq - 1)
                state, produced = apply_input(state, ev, seq, before)
                pending.extend(produced)
                pending_seq = seq
                continue
            derived += 1
            if not pending:
                return _stop(
                    records,
                    inputs,
                    derived,
                    prev,
                    Divergence(
                        seq,
                        "UNEXPECTED_DERIVED",
                        f"recorded {rec.topic} that the current code does not derive from input {pending_seq}",
                        recorded=ev,
                    ),
                )
            expected = pending.popleft()
            if TOPICS[type(expected)] != rec.topic or encode(expected) != bytes(payload):
                return _stop(
                    records,
                    inputs,
                    derived,
                    prev,
                    Divergence(
                        seq,
                        "DERIVED_MISMATCH",
                        f"derived event differs from the recorded {rec.topic}",
                        recorded=ev,
                        replayed=expected,
                        diff=field_diff(ev, expected),
                    ),
                )
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
