"""Full-run throughput: ``engine.runner.historical_run`` over one-minute bars, in bars/s.

    python -m tools.bench.bench_run [--bars 100000] [--repeat 5]

SMA crossover fast=10 slow=30 qty=100 long_only=true over the generated XNYS minute CSV
(``tools.bench.gen_minute_bars``, one symbol), in-process paper broker, fresh journal per
repetition (commit batch: ``historical_run``'s default, ``engine.shell.DEFAULT_BATCH``,
recorded in the JSON). Measured variants (bars/s = bars in the file / s):

* **end to end (in-process)**: the whole ``historical_run`` call: CSV read + parse +
  validation (polars), file sha256, XNYS calendar load (exchange_calendars), journal
  create, RunStarted .. RunEnded through broker + core + journal, final commit and close.
  Imports are warm (a warm-up run precedes the timed ones).
* **excluding file load/calendar**: the same call with ``read_bar_file`` and the calendar
  lookup returning the already-loaded table and sessions, i.e. everything from journal
  creation to close: stream conversion and stateful validation, broker, core, journal.
* **load only**: ``read_bar_file`` + the calendar lookup (what the previous row excludes).
* **bounds check**: ``engine.feeds.scan.check_bounds`` alone, the streaming pass over the file that
  ``read_bar_file`` makes first (line length and size limits), and its share of the load.
* **no journal (attribution)**: as "excluding load" but with a do-nothing writer in
  place of ``JournalWriter``, to separate journaling from stream + broker + core.
* **fresh process**: ``historical_run`` in a new interpreter (cold imports: polars,
  pandas/exchange_calendars, pydantic), timed inside the child around the call; the
  child's wall time (interpreter start to exit) and its peak RSS (the child's own
  ``VmHWM``; see ``tools.bench._common.peak_rss_mb`` for why not ``ru_maxrss``) are
  reported too.

Goal: 70,000 bars/s.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from tools.bench import gen_minute_bars
from tools.bench._common import (
    STAT_HEADERS,
    WORK,
    check_repeat,
    child_json,
    ensure_dirs,
    fmt,
    load_snapshot,
    peak_rss_mb,
    profile_call,
    profile_report,
    rate,
    remove_journal,
    stat_row,
    summary,
    table,
    write_json,
)

GOAL_BARS_PER_S = 70_000
CONFIG_TOML = """[strategy]
name = "sma_cross"
fast = 10
slow = 30
qty = 100
long_only = true
"""


def config_path() -> Path:
    ensure_dirs()
    p = WORK / "sma_10_30.toml"
    if not p.exists() or p.read_text() != CONFIG_TOML:
        p.write_text(CONFIG_TOML)
    return p


def _load_config() -> tuple[Any, dict[str, Any]]:
    from engine.config import load

    return load(config_path())


class NullWriter:
    """Stands in for JournalWriter (attribution only): numbers records, stores nothing."""

    def __init__(self, path: str | Path, *, replace: bool = False, **_: Any) -> None:
        from engine.journal.address import parse

        self.address = parse(path)  # the operator inbox is looked for beside it (none: nothing is drained)
        self.last_seq = 0
        self.committed_seq = 0
        self.last_hash = bytes(32)
        self.staged = 0

    def append(self, events: Sequence[Any]) -> int:
        self.last_seq += len(events)
        return self.last_seq

    def flush(self) -> None:
        self.committed_seq = self.last_seq

    def close(self) -> None:
        self.flush()

    def discard(self) -> None:
        self.flush()


@contextlib.contextmanager
def preloaded(loaded: tuple[Any, Any], *, null_journal: bool = False) -> Iterator[None]:
    """Patch engine.runner so the run skips file load and calendar (and optionally the journal)."""
    from engine import runner

    table, sessions = loaded
    patches: dict[str, Any] = {"read_bar_file": lambda *_: table, "_sessions_for": lambda _t, _c: sessions}
    if null_journal:
        patches["JournalWriter"] = NullWriter
    saved = {name: getattr(runner, name) for name in patches}
    for name, value in patches.items():
        setattr(runner, name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(runner, name, value)


def load(csv: Path, calendar: str) -> tuple[Any, Any]:
    """What historical_run loads before the journal is opened: the bar table and sessions."""
    from engine.feeds.table import read_bar_file
    from engine.runner import _sessions_for

    table = read_bar_file(csv)
    return table, _sessions_for(table, calendar)


def one_run(cfg: Any, snapshot: dict[str, Any], csv: Path, journal: Path) -> tuple[float, Any]:
    from engine.runner import historical_run

    remove_journal(journal)
    t0 = time.perf_counter()
    result = historical_run(cfg, snapshot, journal, bars=csv)
    return time.perf_counter() - t0, result


def time_load(cfg: Any, csv: Path) -> float:
    t0 = time.perf_counter()
    load(csv, cfg.run.calendar)
    return time.perf_counter() - t0


def time_bounds(csv: Path) -> float:
    from engine.feeds.scan import DEFAULT_LIMITS, check_bounds

    t0 = time.perf_counter()
    check_bounds(csv, DEFAULT_LIMITS)
    return time.perf_counter() - t0


def child_main(csv: str, journal: str) -> int:
    """One end-to-end run in this (fresh) process; prints a JSON line."""
    t_start = time.perf_counter()
    from engine.runner import historical_run

    cfg, snapshot = _load_config()
    t_imported = time.perf_counter()
    remove_journal(Path(journal))
    t0 = time.perf_counter()
    result = historical_run(cfg, snapshot, journal, bars=csv)
    secs = time.perf_counter() - t0
    print(
        json.dumps(
            {
                "peak_rss_mb": peak_rss_mb(),
                "seconds": secs,
                "import_s": t_imported - t_start,
                "events": result.last_seq,
                "bars": result.stats.bars_read,
                "digest": result.digest,
            }
        )
    )
    return 0


def profile(n_bars: int = 100_000, top: int = 25) -> dict[str, Any]:
    """cProfile one warm in-process end-to-end run; hotspots with % of the run's wall time."""
    from engine.runner import historical_run

    csv = gen_minute_bars.ensure(n_bars)
    cfg, snapshot = _load_config()
    journal = WORK / "run_journal.db"
    one_run(cfg, snapshot, csv, journal)  # warm-up
    remove_journal(journal)
    res = profile_call(lambda: historical_run(cfg, snapshot, journal, bars=csv), "bench_run", top)
    remove_journal(journal)
    return {**res, "bars": n_bars}


def _default_batch() -> int:
    from engine.shell import DEFAULT_BATCH

    return DEFAULT_BATCH


def run(n_bars: int = 100_000, repeat: int = 5) -> dict[str, Any]:
    ensure_dirs()
    csv = gen_minute_bars.ensure(n_bars)
    cfg, snapshot = _load_config()
    journal = WORK / "run_journal.db"

    cold_s, first = one_run(cfg, snapshot, csv, journal)  # warm-up: imports, page cache
    bars = first.stats.bars_read
    events, digest = first.last_seq, first.digest
    assert first.stats.bars_accepted == bars, "generated bars must all be accepted"

    loaded = load(csv, cfg.run.calendar)
    e2e, excl, loads, nulls, bounds = [], [], [], [], []
    for _ in range(repeat):  # variants interleaved so machine drift affects all alike
        secs, res = one_run(cfg, snapshot, csv, journal)
        assert (res.last_seq, res.digest) == (events, digest), "run is not deterministic"
        e2e.append(secs)
        with preloaded(loaded):
            secs, res = one_run(cfg, snapshot, csv, journal)
        assert (res.last_seq, res.digest) == (events, digest)
        excl.append(secs)
        loads.append(time_load(cfg, csv))
        bounds.append(time_bounds(csv))
        with preloaded(loaded, null_journal=True):
            secs, res = one_run(cfg, snapshot, csv, journal)
        nulls.append(secs)
    del loaded, res
    one_run(cfg, snapshot, csv, journal)
    journal_bytes = sum(f.stat().st_size for f in (journal, Path(f"{journal}-wal")) if f.exists())
    children = [child_json(["-m", "tools.bench.bench_run", "--child", str(csv), str(journal)]) for _ in range(repeat)]
    remove_journal(journal)
    for c in children:
        assert (c["events"], c["digest"]) == (events, digest)

    e2e_s, excl_s, load_s, null_s = summary(e2e), summary(excl), summary(loads), summary(nulls)
    fresh_s = summary([c["seconds"] for c in children])
    wall_s = summary([c["wall_s"] for c in children])
    rss = summary([c["peak_rss_mb"] for c in children])
    return {
        "params": {
            "bars": bars,
            "repeat": repeat,
            "csv": str(csv),
            "config": snapshot["strategy"],
            "batch": _default_batch(),
            "journal_events": events,
            "digest": digest,
            "journal_bytes": journal_bytes,
        },
        "counts": dict(first.counts),
        "end_to_end": {"seconds": e2e_s, "bars_per_s": rate(bars, e2e_s), "events_per_s": rate(events, e2e_s)},
        "excluding_load": {"seconds": excl_s, "bars_per_s": rate(bars, excl_s), "events_per_s": rate(events, excl_s)},
        "load_only": {"seconds": load_s},
        "bounds_check": {
            "seconds": summary(bounds),
            "share_of_load": summary([b / x for b, x in zip(bounds, loads, strict=True)]),
        },
        "no_journal": {"seconds": null_s, "bars_per_s": rate(bars, null_s)},
        "fresh_process": {
            "seconds": fresh_s,
            "bars_per_s": rate(bars, fresh_s),
            "process_wall_s": wall_s,
            "import_s": summary([c["import_s"] for c in children]),
        },
        "peak_rss_mb": rss,
        "first_in_process_run_s": cold_s,
        "goal_bars_per_s": GOAL_BARS_PER_S,
        "meets_goal_end_to_end": rate(bars, e2e_s)["median"] >= GOAL_BARS_PER_S,
        "meets_goal_excluding_load": rate(bars, excl_s)["median"] >= GOAL_BARS_PER_S,
    }


def report(res: dict[str, Any]) -> str:
    p = res["params"]
    goal = res["goal_bars_per_s"]

    def met(ok: bool) -> str:
        return f"goal {fmt(goal)}: {'met' if ok else 'NOT met'}"

    rows = [
        stat_row(
            "end to end (in-process)", res["end_to_end"]["bars_per_s"], "bars/s", met(res["meets_goal_end_to_end"])
        ),
        stat_row(
            "excluding file load/calendar",
            res["excluding_load"]["bars_per_s"],
            "bars/s",
            met(res["meets_goal_excluding_load"]),
        ),
        stat_row("fresh process (cold imports)", res["fresh_process"]["bars_per_s"], "bars/s"),
        stat_row("no journal (attribution)", res["no_journal"]["bars_per_s"], "bars/s", "null writer"),
        stat_row("end to end time", res["end_to_end"]["seconds"], "s"),
        stat_row("excluding load time", res["excluding_load"]["seconds"], "s"),
        stat_row("load only (csv+calendar)", res["load_only"]["seconds"], "s"),
        stat_row("bounds check (in the load)", res["bounds_check"]["seconds"], "s"),
        stat_row("bounds check / load", res["bounds_check"]["share_of_load"], "ratio"),
        stat_row("fresh process wall (python start..exit)", res["fresh_process"]["process_wall_s"], "s"),
        stat_row("peak RSS (fresh process)", res["peak_rss_mb"], "MB", "VmHWM"),
        stat_row("events/s end to end", res["end_to_end"]["events_per_s"], "ev/s"),
    ]
    title = (
        f"bench_run: {fmt(p['bars'])} minute bars, sma_cross 10/30 qty 100 long_only, "
        f"{fmt(p['journal_events'])} events journaled per run, commit batch {p['batch']}"
    )
    return table(title, STAT_HEADERS, rows)


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["--child"]:
        return child_main(argv[1], argv[2])
    ap = argparse.ArgumentParser(prog="python -m tools.bench.bench_run", description=__doc__.split("\n")[0])
    ap.add_argument("--bars", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument(
        "--profile",
        action="store_true",
        help="instead: cProfile one warm end-to-end run (bench-out/bench_run.prof, bench-out/bench_run_profile.json)",
    )
    args = ap.parse_args(argv)
    if args.profile:
        prof = profile(args.bars)
        print(profile_report(prof, f"one warm end-to-end run over {fmt(args.bars)} bars"))
        print(f"-> {write_json('bench_run_profile', prof)}")
        return 0
    start = load_snapshot()
    res = {**run(args.bars, check_repeat(args.repeat)), "load_start": start}
    print(report(res))
    print(f"-> {write_json('bench_run', res)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
