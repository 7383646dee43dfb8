"""The run manifest: a real historical run journals RunManifest right after RunStarted, with the
package version, the git state of the project root, the RunStarted's hashes, the dataset, the mode
and the enabled features; the run replays identically; a project root without git still runs."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from engine import manifest
from engine.config import resolve
from engine.journal import read_events
from engine.manifest import features, git_state, package_version
from engine.runner import historical_run
from journal_schema.catalogue import INPUT_TYPES
from journal_schema.events import RunStarted
from journal_schema.run_events import DatasetRef, RunManifest
from replay import replay_journal

ROOT = Path(manifest.__file__).resolve().parent.parent


def bar_file(path: Path) -> Path:
    """Twelve XNYS daily closes of one symbol, up then down (the SMA strategy trades on them)."""
    days = [
        "2024-01-02",
        "2024-01-03",
        "2024-01-04",
        "2024-01-05",
        "2024-01-08",
        "2024-01-09",
        "2024-01-10",
        "2024-01-11",
        "2024-01-12",
        "2024-01-16",
        "2024-01-17",
        "2024-01-18",
    ]
    closes = [100, 101, 103, 106, 110, 114, 112, 108, 103, 99, 96, 94]
    rows = ["timestamp,symbol,open,high,low,close,volume"]
    for day, c in zip(days, closes, strict=True):
        rows.append(f"{day}T21:00:00Z,AAPL,{c},{c + 1},{c - 1},{c},1000000")
    path.write_text("\n".join(rows) + "\n")
    return path


def run(tmp_path: Path, raw: dict[str, Any] | None = None, name: str = "j.db") -> tuple[Path, list[Any]]:
    cfg, snap = resolve(raw or {"strategy": {"fast": 2, "slow": 4, "qty": 10}})
    journal = tmp_path / name
    historical_run(cfg, snap, journal, bars=bar_file(tmp_path / "bars.csv"))
    return journal, [ev for _, ev in read_events(journal)]


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()


def in_repo() -> bool:
    try:
        return bool(git("rev-parse", "HEAD")) and Path(git("rev-parse", "--show-toplevel")).resolve() == ROOT
    except (OSError, subprocess.CalledProcessError):
        return False


def test_run_manifest_is_an_input_of_version_1() -> None:
    assert RunManifest in INPUT_TYPES and RunManifest.VERSION == 1


def test_historical_run_journals_the_manifest_right_after_run_started(tmp_path: Path) -> None:
    _, events = run(tmp_path)
    started, m = events[0], events[1]
    assert isinstance(started, RunStarted) and isinstance(m, RunManifest)
    assert [type(e) for e in events].count(RunManifest) == 1
    assert (m.ts, m.run_id, m.mode) == (started.ts, started.run_id, "backtest")
    assert (m.code_version, m.config_hash, m.schema_fingerprint) == (
        started.code_version,
        started.config_hash,
        started.schema_fingerprint,
    )
    assert m.code_version.startswith(m.package_version + "+src.") and m.package_version == package_version()
    assert m.datasets == [DatasetRef(name="bars.csv", fingerprint=started.dataset_fingerprint)]
    assert m.features == ["cost_gate", "quarantine", "risk_profile:balanced"]
    assert m.canary_symbols == []


@pytest.mark.skipif(not in_repo(), reason="the project root is not a git work tree")
def test_git_commit_is_head_of_the_project_root(tmp_path: Path) -> None:
    _, events = run(tmp_path)
    m = events[1]
    assert m.git_commit == git("rev-parse", "HEAD")
    assert m.git_dirty == bool(git("status", "--porcelain"))


def test_the_run_replays_identically(tmp_path: Path) -> None:
    journal, events = run(tmp_path)
    result = replay_journal(journal)
    assert result.identical and result.records == len(events)


def test_a_project_root_without_git_runs_with_an_empty_commit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "nogit"
    root.mkdir()
    monkeypatch.setattr(manifest, "PROJECT_ROOT", root)
    journal, events = run(tmp_path)
    m = events[1]
    assert isinstance(m, RunManifest) and (m.git_commit, m.git_dirty) == ("", False)
    assert replay_journal(journal).identical


def test_no_git_binary_gives_an_empty_commit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no git on it
    assert git_state(ROOT) == ("", False)
    assert git_state(tmp_path / "missing") == ("", False)


def test_features_name_what_the_config_enables() -> None:
    _, snap = resolve(
        {
            "run": {"universe": ["AAA", "BBB"], "canary_symbols": ["AAA"]},
            "orders": {"type": "limit"},
            "costs": {"gate": False, "block_when_stale": True},
            "risk": {"profile": "conservative", "allowlist": ["AAA"]},
            "oms": {"adopt_broker_positions": True},
        }
    )
    assert features(snap) == sorted(
        [
            "canary",
            "limit_orders",
            "block_when_stale",
            "allowlist",
            "quarantine",
            "adopt_broker_positions",
            "cancel_day_orders_at_close",
            "cancel_leftovers_at_start",
            "risk_profile:conservative",
        ]
    )  # the conservative profile turns the session hygiene on; costs.gate = false takes cost_gate off


def test_canary_run_names_its_symbols_in_the_manifest(tmp_path: Path) -> None:
    _, events = run(
        tmp_path,
        {"strategy": {"fast": 2, "slow": 4, "qty": 10}, "run": {"universe": ["AAPL"], "canary_symbols": ["AAPL"]}},
    )
    m = events[1]
    assert isinstance(m, RunManifest) and m.canary_symbols == ["AAPL"] and "canary" in m.features
