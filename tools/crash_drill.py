"""Crash drill: ``kill -9`` the engine again and again while it trades against the venue.

    python -m tools.crash_drill --cycles 50 [--seed 1] [--workdir DIR] [--days 300] [--journal-url URL]

The venue (``engine venue``) and the engine (``engine run --broker venue``) are separate processes.
The venue replays real daily bars and drops some answers after accepting the order
(``accept_then_drop``, ``accept_then_timeout``) or refuses some calls (HTTP 503). Each cycle starts
the engine on the same journal and kills it: from outside with SIGKILL at a seeded random moment,
or from inside at a crash point (``ENGINE_CRASHPOINTS``): after the submit request is committed but
before the broker is called (``submit.before``), after the broker accepted the order but before
its answer is journaled (``submit.after``), the same around cancel requests (``cancel.before``,
``cancel.after``), or between the order reports and the bars of a cycle. The engine trades with
limit orders good till canceled, so resting orders meet opposite signals and are canceled first.
The venue's fill simulator may fill 2 shares per million of a day's volume (``[paper]
max_participation``), so most orders fill over several days in partial fills, and some are
killed around or canceled after a partial fill.
Every kind of moment is reached by construction, never by how fast the machine runs: the first
start is killed at ``submit.before`` and the second at ``submit.after`` (each runs until it gets
there); during the third every submit is answered ``accept_then_drop`` until the venue has logged
one, and then it is killed from outside; of the rest, every other start runs without crash points
(killed from outside at a seeded random moment) and the others may die at any crash point. How
many orders a start gets to make depends on the machine, so the audit and the test check safety
and the counts the run reports, never a floor on activity.
At the end the faults are turned off, the venue replays the
rest of its file, a last clean engine run reconciles, and ``tools.drill.audit`` checks both sides.
Exit 0 when every check passes. The journal is ``journal.db`` in the workdir, or the PostgreSQL
table of ``--journal-url postgresql://...?table=NAME``, replaced by the drill's first start.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.journal import JournalError, parse
from tools.drill import Audit, Venue, audit, bar_file, engine_config, start_engine, workdir_for

CRASHPOINTS = "submit.before=0.2,submit.after=0.2,cancel.before=0.2,cancel.after=0.2,cycle.reports=0.02"
# the first starts die at these points for sure (the process runs until it gets there), the rest at random
FORCED = ("submit.before", "submit.after")
LOST_ANSWER = "accept_then_drop"  # the third start runs until the venue has dropped one accepted submit's answer
FORCED_WAIT = 120.0  # a liveness bound for a forced moment on a loaded machine, not a pace
# limit orders 1.5% away from the close, good till canceled: many rest, so opposite signals cancel them
ORDERS = '[orders]\ntype = "limit"\nlimit_offset_bps = -150\ntime_in_force = "gtc"\n'
VENUE_FAULTS = {"accept_then_drop": 0.08, "accept_then_timeout": 0.04, "http_503": 0.03}
# about 20 AAPL and 100 MSFT shares a day from the bundled volumes: orders fill in slices over days
VENUE_CONFIG = '[paper]\nmax_participation = "0.000002"\n'


@dataclass
class DrillReport:
    cycles: int
    kills: Counter[str] = field(default_factory=Counter)  # "outside" or the crash point name, or "exit <code>"
    seconds: float = 0.0
    audit: Audit = field(default_factory=Audit)

    def as_dict(self) -> dict[str, Any]:
        return {
            "cycles": self.cycles,
            "kills": dict(sorted(self.kills.items())),
            "seconds": round(self.seconds, 1),
            "ok": self.audit.ok,
            "problems": self.audit.problems,
            **self.audit.figures,
        }


def _crash_point(log: Path, seen: int) -> tuple[str | None, int]:
    """The crash point named in the engine log after byte ``seen`` (the process says which)."""
    text = log.read_text(errors="replace")
    found = None
    for line in text[seen:].splitlines():
        if line.startswith("engine: crash point "):
            found = line.removeprefix("engine: crash point ").split(":")[0]
    return found, len(text)


def _lost_answer(venue: Venue) -> Callable[[], bool]:
    """True once the venue has logged an accepted submit whose answer it dropped."""

    def reached() -> bool:
        return bool(venue.call("GET", "/venue/status")["faults"][LOST_ANSWER])

    return reached


def run(cycles: int, seed: int, workdir: Path, days: int = 300, journal_url: str | None = None) -> DrillReport:
    """The drill on ``journal_url`` (a Postgres journal, replaced at the first start) or on a new
    ``workdir/journal.db``."""
    rng = random.Random(seed)
    report = DrillReport(cycles)
    started = time.monotonic()
    bars = bar_file(workdir / "bars.csv", days=days)
    step = max(0.05, cycles * 2.0 / days)  # the file lasts about as long as the kills
    venue = Venue(workdir, bars, speed=86_400 / step, faults=VENUE_FAULTS, seed=seed, config=VENUE_CONFIG)
    journal: str | Path = journal_url or workdir / "journal.db"
    log = workdir / "engine.log"
    config = engine_config(workdir / "engine.toml", venue.port, extra=ORDERS)
    seen = 0
    try:
        for i in range(cycles):
            forced = FORCED[i] if i < len(FORCED) else None  # each is hit for sure: wait for it
            lose_answer = i == len(FORCED)
            points = f"{forced}=1" if forced else "" if lose_answer or i % 2 == 0 else CRASHPOINTS
            if lose_answer:
                venue.set_faults({LOST_ANSWER: 1.0})
            proc = start_engine(config, journal, log, crashpoints=points, crash_seed=f"{seed}:{i}", replace=i == 0)
            reached = _lost_answer(venue) if lose_answer else lambda: False
            deadline = time.monotonic() + (FORCED_WAIT if forced or lose_answer else rng.uniform(0.8, 3.5))
            while proc.poll() is None and time.monotonic() < deadline and not reached():
                time.sleep(0.02)
            if lose_answer:
                venue.set_faults(VENUE_FAULTS)
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                report.kills["outside"] += 1
            else:
                point, seen = _crash_point(log, seen)
                report.kills[point or f"exit {proc.returncode}"] += 1
            _, seen = _crash_point(log, seen)
        venue.clear_faults()
        venue.run_out()
        final = start_engine(config, journal, log, cycles=20)
        if final.wait(timeout=120) != 0:
            report.kills[f"final run exit {final.returncode}"] += 1
        report.audit = audit(journal, venue)
        if final.returncode != 0:
            report.audit.problems.append(f"the final clean run exited {final.returncode} (see {log})")
    finally:
        venue.stop()
    report.seconds = time.monotonic() - started
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=50, help="engine starts, each killed (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=1, help="seed of kill times, crash points and faults")
    parser.add_argument("--days", type=int, default=300, help="sessions of bars the venue replays")
    parser.add_argument("--workdir", type=Path, help="where to keep the venue db, journal and logs (default: temp)")
    parser.add_argument(
        "--journal-url",
        metavar="URL",
        help="journal on PostgreSQL, postgresql://...?table=NAME "
        "(replaced at the start; default: journal.db in the workdir)",
    )
    args = parser.parse_args(argv)
    shown_url = None
    if args.journal_url is not None:
        try:
            refusal = "--journal-url takes a postgresql://...?table=NAME address (the default is a SQLite file)"
            shown_url = str(parse(args.journal_url).postgres_location(refusal))
        except JournalError as exc:
            parser.error(str(exc))
    workdir = workdir_for(args.workdir, "crash-drill-")
    report = run(args.cycles, args.seed, workdir, args.days, args.journal_url)
    journal = shown_url or str(workdir / "journal.db")
    print(json.dumps({"workdir": str(workdir), "journal": journal, **report.as_dict()}, indent=2))
    return 0 if report.audit.ok else 1


if __name__ == "__main__":
    sys.exit(main())
