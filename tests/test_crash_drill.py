"""The crash drill of the issue, in the suite: 50 engine processes killed with SIGKILL while they
trade against a separate venue process that drops answers (tools/crash_drill.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools import crash_drill


@pytest.mark.slow
def test_fifty_kills_leave_no_duplicate_no_lost_order_and_equal_books(tmp_path: Path) -> None:
    report = crash_drill.run(cycles=50, seed=1, workdir=tmp_path)
    log = (tmp_path / "engine.log").read_text(errors="replace").splitlines()
    summary = {**report.as_dict(), "engine_log_tail": log[-30:]}
    assert report.audit.ok, summary
    kills = report.kills
    # every kind of moment was hit: from outside, and at both sides of the broker call
    assert kills["outside"] >= 10 and kills["submit.before"] >= 1 and kills["submit.after"] >= 1, summary
    assert sum(kills.values()) == 50
    figures = report.audit.figures
    faults = figures["venue_faults"]
    assert faults["accept_then_drop"] + faults["accept_then_timeout"] >= 1, summary  # answers lost after accepting
    assert figures["not_found_at_broker"] >= 1, summary  # requests committed but never sent were looked up
    assert figures["intents"] >= 20, summary
    assert figures["replay"].startswith("identical: "), summary
