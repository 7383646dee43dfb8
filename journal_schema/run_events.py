"""Run-lifecycle inputs beyond ``RunStarted``: the run manifest (what produced the run)."""

from __future__ import annotations

from typing import Annotated

import msgspec

from journal_schema.events import Event, Mode, Sha256Hex


class DatasetRef(msgspec.Struct, frozen=True, gc=False, forbid_unknown_fields=True):
    """One data source of a run: a bar file, the bundled data, a recorded journal (what-if), or for a
    paper/live run the broker endpoint and bar timeframe; ``fingerprint`` is sha256 of its content
    (of the description for a broker)."""

    name: str
    fingerprint: Sha256Hex


class RunManifest(Event, frozen=True):
    """What produced a run segment, journaled by the shell right after its ``RunStarted`` (same
    ``ts`` and ``run_id``). ``package_version`` is the installed engine package; ``git_commit`` is
    ``git rev-parse HEAD`` in the project root and ``git_dirty`` whether ``git status --porcelain``
    listed changes ("" and false without git or a repository). ``code_version``, ``config_hash`` and
    ``schema_fingerprint`` repeat the ``RunStarted`` ones. ``features`` are the enabled optional
    behaviours named from the config snapshot, sorted (docs/operations.md#the-run-manifest);
    ``canary_symbols`` the symbols a canary run trades (empty: canary mode off). The core ignores it."""

    run_id: str
    package_version: str
    git_commit: Annotated[str, msgspec.Meta(pattern="^([0-9a-f]{40}|[0-9a-f]{64})?$")]
    git_dirty: bool
    code_version: str
    config_hash: Sha256Hex
    schema_fingerprint: Sha256Hex
    datasets: list[DatasetRef]
    mode: Mode
    features: list[str]
    canary_symbols: list[str]
