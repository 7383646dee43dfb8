"""The fault drill of the issue: 429s, 5xx, timeouts and dropped answers, no duplicate, no lost
order, and the backoff visible in the journal's cycle summaries (tools/fault_drill.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools import fault_drill


@pytest.mark.slow
def test_a_run_through_faults_completes_and_shows_the_backoff(tmp_path: Path) -> None:
    result, figures = fault_drill.run(seed=3, workdir=tmp_path)
    assert result.ok, (result.problems, result.figures, figures)
    faults = result.figures["venue_faults"]
    assert faults["http_429"] >= 1 and faults["http_500"] + faults["http_503"] >= 1 and faults["timeout"] >= 1, faults
    totals = figures["cycle_summaries"]
    assert totals["rate_limited"] >= 1 and totals["lockouts"] >= 1 and totals["waited_ms"] >= 500, totals
    assert totals["cycles_with_backoff"] >= 1, totals
    assert figures["sigterm_exit"] == 0 and result.figures["clean_ends"] == 2
    assert result.figures["intents"] >= 3
