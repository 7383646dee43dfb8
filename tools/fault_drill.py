"""Fault drill: one engine run against a venue that answers badly, without any kill.

    python -m tools.fault_drill [--seed 1] [--limit 120] [--workdir DIR]

The venue injects HTTP 429 (with Retry-After), 500 / 503, timeouts (held longer than the engine's
HTTP timeout) and dropped answers after accepting an order. The faulty run lasts until it has shown
every fault kind, three intents and, in its cycle summaries, 429s, Retry-After lockouts, time waited
and a backoff (``--limit`` seconds at most, over which the venue's bars last; not reaching them is a
failure that names what is missing), so a slower machine gets more time instead of a failure.
The engine is then stopped with SIGTERM (it must exit 0); then the faults are turned off, the venue replays the
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
REPORTED = {
    "rate_limited": 1,
    "lockouts": 1,
    "waited_ms": 500,
    "cycles_with_backoff": 1,
}  # at least, over CycleCompleted


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


def run(seed: int, workdir: Path, days: int = 400, limit: float = 120.0) -> tuple[Audit, dict[str, Any]]:
    """The faulty run lasts until it has shown what the drill is for (``missing_figures``), not a
    fixed time: a slower machine gets more time. The venue's clock runs at a fixed pace (3.3 sessions
    a second) over ``days`` sessions, which last about ``limit`` seconds."""
    bars = bar_file(workdir / "bars.csv", days=days)
    venue = Venue(workdir, bars, speed=86_400 * days / limit, faults=VENUE_FAULTS, seed=seed, hold=0.6, retry_after=1)
    journal, log = workdir / "journal.db", workdir / "engine.log"
    config = engine_config(workdir / "engine.toml", venue.port, timeout=0.3)
    figures: dict[str, Any] = {}
    try:
        proc = start_engine(config, journal, log)
        started = time.monotonic()  # shell: the drill's bound, not its pace
        missing = missing_figures(venue, journal)
        while missing and proc.poll() is None and time.monotonic() - started < limit:  # shell: see above
            time.sleep(0.25)
            missing = missing_figures(venue, journal)
        figures["faulty_seconds"] = round(time.monotonic() - started, 1)  # shell: reported, not asserted
        proc.send_signal(signal.SIGTERM)
        figures["sigterm_exit"] = proc.wait(timeout=60)
        venue.clear_faults()
        venue.run_out()
        final = start_engine(config, journal, log, cycles=20)
        figures["final_exit"] = final.wait(timeout=120)
        result = audit(journal, venue)
    finally:
        venue.stop()
    result.problems += [f"the faulty run ended before it showed {name}" for name in missing]
    figures["cycle_summaries"] = backoff_seen(journal)
    for name in ("sigterm_exit", "final_exit"):
        if figures[name] != 0:
            result.problems.append(f"{name} was {figures[name]} (see {log})")
    return result, figures


def missing_figures(venue: Venue, journal: Path) -> list[str]:
    """What the faulty run has not shown yet: each fault kind at the venue, three intents, and in the
    cycle summaries the 429s, the Retry-After lockouts, the time waited and a backoff."""
    from engine.journal import read_events
    from journal_schema.events import OrderIntentCreated

    faults = venue.call("GET", "/venue/status")["faults"]
    missing = [f"a {kind} fault" for kind in ("http_429", "timeout") if not faults.get(kind)]
    if not faults.get("http_500") and not faults.get("http_503"):
        missing.append("a 5xx fault")
    if not journal.exists():
        return [*missing, "three intents", *REPORTED]
    if sum(1 for _ in read_events(journal, [OrderIntentCreated])) < 3:
        missing.append("three intents")
    totals = backoff_seen(journal)
    missing += [name for name in REPORTED if totals.get(name, 0) < REPORTED[name]]
    return missing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--limit",
        type=float,
        default=600.0,
        help="give up (and fail) when the faulty run has not shown everything by then",
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the venue's faults")
    parser.add_argument("--workdir", type=Path, help="where to keep the venue db, journal and logs (default: temp)")
    args = parser.parse_args(argv)
    workdir = workdir_for(args.workdir, "fault-drill-")
    result, figures = run(args.seed, workdir, limit=args.limit)
    print(
        json.dumps(
            {"workdir": str(workdir), "ok": result.ok, "problems": result.problems, **result.figures, **figures},
            indent=2,
        )
    )
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
