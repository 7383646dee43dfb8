"""The runtime kernel: what a run segment does the same way in a historical run and a paper or live run.

- **Start**: ``open_segment`` builds the segment's opening inputs and its run id.
- **Stop**: ``StopRequest`` turns SIGINT / SIGTERM into a stop at the next input boundary.
- **Errors**: ``RunError`` (the run cannot start; one line for the user), ``RunCancelled`` (stopped
  before anything was journaled); ``run_segment`` journals the opening inputs and commits them,
  and on the way out journals ``RunEnded`` with the reason the runtime set and closes the journal,
  or, when an exception leaves the segment, commits what was journaled without ``RunEnded`` (the
  journal then says the run did not end cleanly) and lets the exception go on.
- **Summaries**: ``engine.summary`` prints the result of either runtime.

A segment opens with ``RunStarted`` (code version, config snapshot and its hash, the schema
fingerprint, the dataset and its fingerprint, universe, seed, mode) followed by its ``RunManifest``.
The run id is a content id of what the segment is made of, so the same inputs give the same id:
code version, config hash, dataset fingerprint, seed, and the runtime's own parts (a live segment
adds the journal position and broker time it starts at, since it resumes one journal).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType
from typing import Any

from engine.config import EngineConfig, config_hash
from engine.core.ids import content_id
from engine.manifest import run_manifest
from engine.shell import Engine
from engine.version import code_version
from journal_schema.catalogue import schema_fingerprint
from journal_schema.events import Event, RunEnded, RunStarted
from journal_schema.run_events import RunManifest


@dataclass(frozen=True)
class Segment:
    run_id: str
    started: RunStarted
    manifest: RunManifest

    @property
    def events(self) -> tuple[RunStarted, RunManifest]:
        """The inputs that open the segment, in journal order."""
        return self.started, self.manifest


def open_segment(
    cfg: EngineConfig,
    snapshot: dict[str, Any],
    *,
    ts: int,
    dataset: str,
    fingerprint: str,
    universe: list[str],
    run_id_parts: tuple[object, ...] = (),
) -> Segment:
    """The ``RunStarted`` and ``RunManifest`` of a segment starting at ``ts`` over ``dataset``."""
    chash, version = config_hash(snapshot), code_version(str(cfg.strategy.name))
    run_id = content_id("run", version, chash, fingerprint, cfg.run.seed, *run_id_parts, length=16)
    started = RunStarted(
        ts=ts,
        run_id=run_id,
        code_version=version,
        config=snapshot,
        config_hash=chash,
        schema_fingerprint=schema_fingerprint(),
        dataset_fingerprint=fingerprint,
        dataset=dataset,
        universe=universe,
        seed=cfg.run.seed,
        mode=cfg.run.mode,
    )
    return Segment(run_id, started, run_manifest(started, [(dataset, fingerprint)]))


class StopRequest:
    """SIGINT/SIGTERM ask the run to stop at the next input boundary, so an input is
    never separated from its derived events; the run then journals RunEnded(INTERRUPTED)."""

    def __init__(self) -> None:
        self.requested = False

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True

    @contextmanager
    def installed(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield  # signals are delivered to the main thread only
            return
        previous = {s: signal.signal(s, self._handler) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for s, h in previous.items():
                signal.signal(s, h)


class RunCancelled(RuntimeError):
    """The operator stopped the run before anything was journaled."""


class RunError(ValueError):
    """The run cannot start (the message is one line for the user)."""


@dataclass
class Ending:
    """How a segment ends, set by the runtime while it runs: ``RunEnded``'s time and reason."""

    ts: int
    reason: str = "END_OF_DATA"


@contextmanager
def run_segment(
    engine: Engine, segment: Segment, apply: Callable[[Event], object], flush: Callable[[], None]
) -> Iterator[Ending]:
    """Journal ``segment``'s opening inputs through ``apply`` and commit them at once (a run killed
    later leaves a journal that says it started); then the runtime runs inside the ``with`` block.
    Leaving it normally journals ``RunEnded`` and closes the journal; an exception closes it without
    ``RunEnded`` (``Engine.close(failed=True)``) and propagates."""
    ending = Ending(segment.started.ts)
    try:
        for opening in segment.events:
            apply(opening)
        flush()
        yield ending
    except BaseException:
        engine.close(failed=True)
        raise
    apply(RunEnded(ts=ending.ts, run_id=segment.run_id, reason=ending.reason))  # type: ignore[arg-type]
    engine.close()
