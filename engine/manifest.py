"""The run manifest (``RunManifest``): gathered by the shell, journaled right after ``RunStarted``.

Everything but the package version and the git state is taken from the ``RunStarted`` it follows.
The git state is read by running ``git`` in the project root (the directory holding the ``engine``
package); without git, outside a repository, or when git fails or is slow, the commit is "" and
``git_dirty`` false: a manifest never stops a run. The core ignores the event (it is an input that
derives nothing), so replay re-feeds it like any other input.
"""

from __future__ import annotations

import os
import re
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from journal_schema.events import RunStarted
from journal_schema.run_events import DatasetRef, RunManifest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
GIT_TIMEOUT_SECONDS = 10.0
_COMMIT = re.compile(r"^([0-9a-f]{40}|[0-9a-f]{64})$")


def package_version() -> str:
    try:
        return metadata.version("engine")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def _git(root: Path, *args: str) -> str | None:
    """stdout of ``git args`` in ``root`` (only a repository at ``root`` itself counts), or None."""
    env = {**os.environ, "GIT_CEILING_DIRECTORIES": str(root.parent), "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"}
    try:
        done = subprocess.run(
            ["git", *args], cwd=root, env=env, capture_output=True, text=True, timeout=GIT_TIMEOUT_SECONDS, check=False
        )
    except (OSError, subprocess.SubprocessError):  # no git binary, no such directory, timeout
        return None
    return done.stdout if done.returncode == 0 else None


def git_state(root: Path | None = None) -> tuple[str, bool]:
    """(commit of HEAD, whether the work tree has changes) of the repository at ``root``
    (default: the project root); ("", False) when there is none."""
    where = PROJECT_ROOT if root is None else root
    head = (_git(where, "rev-parse", "HEAD") or "").strip()
    if not _COMMIT.match(head):
        return "", False
    status = _git(where, "status", "--porcelain")
    return head, bool(status and status.strip())


def features(config: dict[str, Any]) -> list[str]:
    """The enabled optional behaviours of a config snapshot, sorted (docs/operations.md#the-run-manifest)."""
    run, orders = config.get("run", {}), config.get("orders", {})
    risk, costs, oms = config.get("risk", {}), config.get("costs", {}), config.get("oms", {})
    session = risk.get("session", {})
    on = {
        "canary": bool(run.get("canary_symbols")),
        "encrypted_journal": bool(run.get("encrypt_journal")),
        "limit_orders": orders.get("type") == "limit",
        "cost_gate": bool(costs.get("gate")),
        "block_when_stale": bool(costs.get("block_when_stale")),
        "allowlist": bool(risk.get("allowlist")),
        "event_blackouts": bool(risk.get("blackouts")),
        "quarantine": bool(risk.get("quarantine", {}).get("enabled")),
        "cancel_day_orders_at_close": bool(session.get("cancel_day_orders_at_close")),
        "cancel_leftovers_at_start": bool(session.get("cancel_leftovers_at_start")),
        "adopt_broker_positions": bool(oms.get("adopt_broker_positions")),
    }
    names = [name for name, enabled in on.items() if enabled]
    if "profile" in risk:
        names.append(f"risk_profile:{risk['profile']}")
    return sorted(names)


def run_manifest(started: RunStarted, datasets: list[tuple[str, str]], root: Path | None = None) -> RunManifest:
    """The manifest of the run ``started`` begins; ``datasets``: (name, sha256 fingerprint) of each source."""
    commit, dirty = git_state(root)
    return RunManifest(
        ts=started.ts,
        run_id=started.run_id,
        package_version=package_version(),
        git_commit=commit,
        git_dirty=dirty,
        code_version=started.code_version,
        config_hash=started.config_hash,
        schema_fingerprint=started.schema_fingerprint,
        datasets=[DatasetRef(name=name, fingerprint=fp) for name, fp in datasets],
        mode=started.mode,
        features=features(started.config),
        canary_symbols=list(started.config.get("run", {}).get("canary_symbols", [])),
    )
