"""Fault drill: one engine run against a venue that answers badly, without any kill.

    python -m tools.fault_drill [--seconds 12] [--seed 1] [--workdir DIR]

The venue injects HTTP 429 (with Retry-After), 500 / 503, timeouts (held longer than the engine's
HTTP timeout) and dropped answers after accepting an order. The engine runs for ``--seconds`` and
is stopped with SIGTERM (it must exit 0); then the faults are turned off, the venue replays the
rest of its file and a last clean run reconciles. Checks: ``tools.drill.audit`` (no duplicate, no
lost order, positions equal, verify and replay pass) and the journal's ``CycleCompleted`` events
show the rate limiting and the backoff (429s seen, Retry-After lockouts, time waited, backoff).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from tools.drill import Audit, Venue, audit, bar_file, engine_config, start_engine, workdir_for

VENUE_FAULTS = {"http_429": 0.03, "http_500": 0.05, "http_503": 0.05, "timeout": 0.03, "accept_then_drop": 0.05}


def backoff_seen(journal: Path) -> dict[str, int]:
    """Totals over the journal's CycleCompleted events."""
    from engine.journal import read_events
    from journal_schema.live_events import CycleCompleted

    totals: Counter[str] = Counter()
    for _, ev in read_events(journal, [CycleCompleted]):
        totals["cycles_summarized"] += 1
        for key in ("rate_limited", "lockouts", "waited_ms", "broker_calls"):
            totals[key] += getattr(ev, key)
        totals["cycles_with_backoff"] += ev.backoff_ms > 0
        totals["max_backoff_ms"] = max(totals["max_backoff_ms"], ev.backoff_ms)
        totals["max_locked_ms"] = max(totals["max_locked_ms"], ev.locked_ms)
        for category, n in ev.errors.items():
            totals[f"errors.{category}"] += n
    return dict(sorted(totals.items()))


def run(seconds: float, seed: int, workdir: Path, days: int = 40) -> tuple[Audit, dict[str, Any]]:
    bars = bar_file(workdir / "bars.csv", days=days)
    venue = Venue(
        workdir, bars, speed=86_400 / max(0.05, seconds / days), faults=VENUE_FAULTS, seed=seed, hold=0.6, retry_after=1
    )
    journal, log = workdir / "journal.db", workdir / "engine.log"
    config = engine_config(workdir / "engine.toml", venue.port, timeout=0.3)
    figures: dict[str, Any] = {}
    try:
        proc = start_engine(config, journal, log)
        time.sleep(seconds)
        proc.send_signal(signal.SIGTERM)
        figures["sigterm_exit"] = proc.wait(timeout=60)
        venue.clear_faults()
        venue.run_out()
        final = start_engine(config, journal, log, cycles=20)
        figures["final_exit"] = final.wait(timeout=120)
        result = audit(journal, venue)
    finally:
        venue.stop()
    figures["cycle_summaries"] = backoff_seen(journal)
    totals = figures["cycle_summaries"]
    for name in ("rate_limited", "lockouts", "waited_ms", "cycles_with_backoff"):
        if not totals.get(name):
            result.problems.append(f"no {name} in any CycleCompleted: the backoff is not visible")
    for name in ("sigterm_exit", "final_exit"):
        if figures[name] != 0:
            result.problems.append(f"{name} was {figures[name]} (see {log})")
    return result, figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=12.0, help="how long the faulty run lasts")
    parser.add_argument("--seed", type=int, default=1, help="seed of the venue's faults")
    parser.add_argument("--workdir", type=Path, help="where to keep the venue db, journal and logs (default: temp)")
    args = parser.parse_args(argv)
    workdir = workdir_for(args.workdir, "fault-drill-")
    result, figures = run(args.seconds, args.seed, workdir)
    print(
        json.dumps(
            {"workdir": str(workdir), "ok": result.ok, "problems": result.problems, **result.figures, **figures},
            indent=2,
        )
    )
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
