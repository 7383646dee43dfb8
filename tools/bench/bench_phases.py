"""Where the time of one ``engine run`` goes: its phases, in fresh processes, medians.

    python -m tools.bench.bench_phases [--bars 100000] [--repeat 5]

Each repetition is a fresh interpreter that does what ``engine run --config sma_10_30.toml --bars CSV
--journal J --replace`` does, step by step, with a clock between the steps: importing the command and
its modules, loading the config, the bar file (bounds check, CSV read, parse and per-row / file-order
validation, dataset fingerprint), the calendar's sessions, then the run loop (journal open .. close) and
the summary. Inside the loop the core's ``step``, the paper broker's calls and the journal writer's
``append`` (canonical encoding) and ``flush`` (hash chain, envelopes, SQLite insert and commit) are
timed per call (that timing adds about 0.1 s to the loop; "rest" is the loop minus them: the stream of
bars and sessions, the shell, journal open and close). The parent times the whole child, so
"interpreter start and exit" is its wall time minus what the child measured inside.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

T_START = time.perf_counter()

PHASES = (
    "imports",
    "config",
    "load: bounds check",
    "load: read CSV",
    "load: parse + validate",
    "load: fingerprint",
    "calendar sessions",
    "run loop",
    "  core step",
    "  paper broker",
    "  journal append (encode)",
    "  journal flush (chain, insert, commit)",
    "  rest (stream, shell, journal open/close)",
    "summary",
    "in-process total",
)


def child_main(csv: str, config: str, journal: str) -> int:  # noqa: PLR0915 - one timed step after another
    import os

    marks: dict[str, float] = {}
    t = T_START

    def mark(name: str, since: float) -> float:
        now = time.perf_counter()
        marks[name] = marks.get(name, 0.0) + now - since
        return now

    from engine import runner
    from engine.broker import paper
    from engine.cli import build_parser
    from engine.config import load_sources
    from engine.core import atomic
    from engine.feeds import scan, table
    from engine.feeds.calendar import load_sessions
    from engine.journal import parse, store
    from engine.summary import summary_text

    build_parser("run")
    t = mark("imports", t)
    parse(journal).check_target()
    loaded = load_sources(config, {}, env=os.environ)
    cfg = loaded.cfg
    t = mark("config", t)
    path = Path(csv)
    scan.check_bounds(path, cfg.bars.limits())
    t = mark("load: bounds check", t)
    raw = table._read_csv(path).select(table.COLUMNS)
    t = mark("load: read CSV", t)
    frame = table.parse(raw, lambda first, last: load_sessions(cfg.run.calendar, first, last))
    t = mark("load: parse + validate", t)
    bars = table.BarTable(frame, table.content_fingerprint(frame), str(path), raw)
    t = mark("load: fingerprint", t)
    sessions = runner._sessions_for(bars, cfg.run.calendar)
    t = mark("calendar sessions", t)

    inner = dict.fromkeys(PHASES[8:12], 0.0)
    clock = time.perf_counter

    def timed(name: str, fn: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            t0 = clock()
            try:
                return fn(*args, **kwargs)
            finally:
                inner[name] += clock() - t0

        return call

    atomic.step = timed("  core step", atomic.step)  # type: ignore[attr-defined]
    store.JournalWriter.append = timed("  journal append (encode)", store.JournalWriter.append)  # type: ignore[method-assign]
    store.JournalWriter.flush = timed("  journal flush (chain, insert, commit)", store.JournalWriter.flush)  # type: ignore[method-assign]
    for name in ("on_bar", "submit", "cancel", "on_session_closed"):
        setattr(paper.PaperBroker, name, timed("  paper broker", getattr(paper.PaperBroker, name)))
    setattr(runner, "read_bar_file", lambda *_: bars)  # noqa: B010 - patched like tools.bench.bench_run.preloaded
    setattr(runner, "_sessions_for", lambda *_: sessions)  # noqa: B010
    t = time.perf_counter()
    result = runner.historical_run(cfg, loaded.snapshot, journal, bars=csv, replace=True)
    loop = time.perf_counter() - t
    t = mark("run loop", t)
    print(loaded.summary(), file=sys.stderr)
    summary_text(result)
    t = mark("summary", t)
    marks.update(inner)
    marks["  rest (stream, shell, journal open/close)"] = loop - sum(inner.values())
    marks["in-process total"] = t - T_START
    print(json.dumps({"phases": marks, "events": result.last_seq, "digest": result.digest}))
    import gc

    from engine import cli

    if hasattr(cli, "console"):
        gc.freeze()  # exit as the engine program of this code does (engine.cli.console)
    return 0


def run(n_bars: int, repeat: int) -> dict[str, Any]:
    import tempfile

    from tools.bench import bench_run, gen_minute_bars
    from tools.bench._common import child_json, summary

    csv = gen_minute_bars.ensure(n_bars)
    config = bench_run.config_path()
    with tempfile.TemporaryDirectory(prefix="bench_phases_") as tmp:
        args = ["-m", "tools.bench.bench_phases", "--child", str(csv), str(config), str(Path(tmp) / "j.db")]
        child_json(args)  # warm-up: page cache, bytecode caches
        children = [child_json(args) for _ in range(repeat)]
    phases = {p: summary([c["phases"][p] for c in children]) for p in PHASES}
    phases["interpreter start and exit"] = summary([c["wall_s"] - c["phases"]["in-process total"] for c in children])
    phases["whole process (wall)"] = summary([c["wall_s"] for c in children])
    return {
        "params": {"bars": n_bars, "repeat": repeat, "csv": str(csv), "config": str(config)},
        "events": children[0]["events"],
        "phases": phases,
    }


def report(res: dict[str, Any]) -> str:
    from tools.bench._common import STAT_HEADERS, fmt, stat_row, table

    total = res["phases"]["whole process (wall)"]["median"]
    rows = [stat_row(name, s, "s", f"{100 * s['median'] / total:.0f}%") for name, s in res["phases"].items()]
    p = res["params"]
    title = f"bench_phases: engine run over {fmt(p['bars'])} minute bars ({fmt(res['events'])} events), fresh processes"
    return table(title, STAT_HEADERS, rows)


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["--child"]:
        return child_main(*argv[1:4])
    from tools.bench._common import check_repeat, load_snapshot, write_json

    ap = argparse.ArgumentParser(prog="python -m tools.bench.bench_phases", description=__doc__.split("\n")[0])
    ap.add_argument("--bars", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    start = load_snapshot()
    res = {**run(args.bars, check_repeat(args.repeat)), "load_start": start}
    print(report(res))
    print(f"-> {write_json('bench_phases', res)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
