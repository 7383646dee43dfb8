"""The start of a run segment, the same for a historical run and a paper or live run.

A segment opens with ``RunStarted`` (code version, config snapshot and its hash, the schema
fingerprint, the dataset and its fingerprint, universe, seed, mode) followed by its ``RunManifest``.
The run id is a content id of what the segment is made of, so the same inputs give the same id:
code version, config hash, dataset fingerprint, seed, and the runtime's own parts (a live segment
adds the journal position and broker time it starts at, since it resumes one journal).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.config import EngineConfig, config_hash
from engine.core.ids import content_id
from engine.manifest import run_manifest
from engine.version import code_version
from journal_schema.catalogue import schema_fingerprint
from journal_schema.events import RunStarted
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
