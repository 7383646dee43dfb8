"""Shared helpers of the benchmarks: output paths, statistics, tables, child processes."""

from __future__ import annotations

import json
import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.journal.store import JournalWriter
    from journal_schema.events import Event

ROOT = Path(__file__).resolve().parents[2]
OUT = Path(os.environ.get("BENCH_OUT", ROOT / "bench-out"))
CACHE = OUT / "cache"
WORK = OUT / "work"
MIN_REPEAT = 5


def ensure_dirs() -> None:
    for d in (OUT, CACHE, WORK):
        d.mkdir(parents=True, exist_ok=True)


def summary(values: Sequence[float]) -> dict[str, Any]:
    """Median, min and max of repeated measurements (all values kept for the record)."""
    vals = list(values)
    return {
        "median": statistics.median(vals),
        "min": min(vals),
        "max": max(vals),
        "n": len(vals),
        "values": vals,
    }


def rate(count: int, seconds: dict[str, Any]) -> dict[str, Any]:
    """Throughput from a time summary: median rate = count / median time; the min rate
    comes from the slowest run and the max rate from the fastest."""
    return {
        "median": count / seconds["median"],
        "min": count / seconds["max"],
        "max": count / seconds["min"],
        "n": seconds["n"],
    }


def remove_journal(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal", ".lock"):
        p = Path(str(path) + suffix)
        if p.exists():
            p.unlink()


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "sqlite": sqlite3.sqlite_version,
        "timestamp_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def load_snapshot() -> dict[str, Any]:
    """How busy the machine is (other processes share the CPUs): load average and the
    kernel's CPU pressure (share of time some runnable task waited for a CPU, last 10 s)."""
    snap: dict[str, Any] = {"loadavg": list(os.getloadavg())}
    try:
        line = Path("/proc/pressure/cpu").read_text().splitlines()[0]
        snap["cpu_pressure_some_avg10"] = float(line.split("avg10=")[1].split()[0])
    except (OSError, IndexError, ValueError):
        pass
    return snap


def code_state() -> dict[str, Any]:
    """Which code the figures belong to: git HEAD, whether the measured packages have
    uncommitted changes, and a sha256 over their current source files."""
    import hashlib

    h = hashlib.sha256()
    for pkg in ("engine", "journal_schema", "replay"):
        for f in sorted((ROOT / pkg).rglob("*.py")):
            h.update(str(f.relative_to(ROOT)).encode() + b"\0" + f.read_bytes() + b"\0")
    head, dirty = None, None
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = bool(
            subprocess.run(
                ["git", "status", "--porcelain", "--", "engine", "journal_schema", "replay"],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
        )
    except (OSError, subprocess.CalledProcessError):
        pass
    return {"git_head": head, "uncommitted_changes": dirty, "source_sha256": h.hexdigest()}


def write_json(name: str, data: dict[str, Any]) -> Path:
    ensure_dirs()
    path = OUT / f"{name}.json"
    payload = {"benchmark": name, "machine": machine(), "code": code_state(), **data, "load_end": load_snapshot()}
    path.write_text(json.dumps(payload, indent=2, sort_keys=False) + "\n")
    return path


def fmt(v: Any, unit: str = "") -> str:
    if isinstance(v, float):
        if abs(v) >= 1000:
            s = f"{v:,.0f}"
        elif abs(v) >= 10:
            s = f"{v:.1f}"
        else:
            s = f"{v:.3f}"
    elif isinstance(v, int):
        s = f"{v:,}"
    else:
        s = str(v)
    return f"{s} {unit}".rstrip()


def table(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(h) for h in headers], *[[str(c) for c in r] for r in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = [title, "  ".join(h.ljust(w) for h, w in zip(cells[0], widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    for r in cells[1:]:
        lines.append("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))))
    return "\n".join(lines)


def stat_row(label: str, s: dict[str, Any], unit: str, extra: str = "") -> list[str]:
    return [label, fmt(s["median"], unit), fmt(s["min"]), fmt(s["max"]), str(s["n"]), extra]


STAT_HEADERS = ("measure", "median", "min", "max", "n", "note")


def peak_rss_mb() -> float:
    """This process's own peak resident set size (``VmHWM``), in MiB.

    Not ``ru_maxrss``: on Linux a child started by fork/vfork + exec inherits the parent's
    high-water mark into its ``ru_maxrss`` (the kernel folds the old mm's peak into the
    process's maxrss at exec), so a child of a 300 MB parent "peaks" at >= 300 MB even if it
    never uses more than 10 MB. ``VmHWM`` belongs to the mm created at exec."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(args: Sequence[str], *, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``python args...`` in a fresh process; return its stdout and wall time."""
    full_env = {**os.environ, **(env or {})}
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, *args], cwd=ROOT, env=full_env, capture_output=True, check=False)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(
            f"child {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr.decode(errors='replace')}"
        )
    return {"stdout": proc.stdout.decode(), "wall_s": wall}


def child_json(args: Sequence[str], *, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run a child that prints one JSON object as its last stdout line (children report
    their own ``peak_rss_mb`` from ``peak_rss_mb()`` just before exiting)."""
    res = child(args, env=env)
    last = [ln for ln in res["stdout"].splitlines() if ln.strip()][-1]
    return {**json.loads(last), "wall_s": res["wall_s"]}


def time_appends(writer: JournalWriter, events: Sequence[Event], batch: int) -> tuple[float, float]:
    """(total seconds, seconds inside flush()) of appending ``events`` one per ``append`` and flushing whenever
    ``batch`` records are staged, exactly as ``engine.shell.Engine`` drives the writer, then a final flush.
    Opening and closing the writer are the caller's (not timed)."""
    append, flush, perf = writer.append, writer.flush, time.perf_counter
    in_flush = 0.0
    t0 = perf()
    for ev in events:
        append((ev,))
        if writer.staged >= batch:
            f0 = perf()
            flush()
            in_flush += perf() - f0
    f0 = perf()
    flush()
    t1 = perf()
    return t1 - t0, in_flush + (t1 - f0)


def events_main(
    name: str,
    doc: str,
    run: Callable[[int, int, int], dict[str, Any]],
    report: Callable[[dict[str, Any]], str],
    argv: list[str] | None,
) -> int:
    """The command line of the append-style benchmarks: ``--events``, ``--batch``, ``--repeat``; prints the
    report and writes ``bench-out/NAME.json``."""
    import argparse

    ap = argparse.ArgumentParser(prog=f"python -m tools.bench.{name}", description=doc.split("\n", maxsplit=1)[0])
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--batch", type=int, default=4096)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    start = load_snapshot()
    res = {**run(args.events, args.batch, check_repeat(args.repeat)), "load_start": start}
    print(report(res))
    print(f"-> {write_json(name, res)}")
    return 0


def repeat(n: int, fn: Callable[[int], float]) -> list[float]:
    return [fn(i) for i in range(n)]


def check_repeat(n: int) -> int:
    if n < MIN_REPEAT:
        print(f"note: --repeat {n} is below {MIN_REPEAT}; figures are medians of only {n} runs", file=sys.stderr)
    return n


PROJECT_DIRS = ("/engine/", "/journal_schema/", "/replay/", "/projections/")


def profile_call(fn: Callable[[], Any], name: str, top: int = 25) -> dict[str, Any]:
    """cProfile one call; rows with tottime/cumtime and their % of the call's wall time
    (under the profiler). The raw profile goes to ``<out>/<name>.prof``."""
    import cProfile
    import pstats

    ensure_dirs()
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    fn()
    prof.disable()
    wall = time.perf_counter() - t0
    prof_path = OUT / f"{name}.prof"
    prof.dump_stats(prof_path)
    stats = pstats.Stats(prof).stats  # type: ignore[attr-defined]
    rows = []
    for (file, line, func), (_cc, nc, tt, ct, _callers) in stats.items():
        rows.append(
            {
                "where": f"{file}:{line}({func})",
                "calls": nc,
                "tottime_s": tt,
                "cumtime_s": ct,
                "tottime_pct": 100 * tt / wall,
                "cumtime_pct": 100 * ct / wall,
                "project": any(d in file for d in PROJECT_DIRS),
            }
        )
    rows.sort(key=lambda r: r["tottime_s"], reverse=True)
    project = [r for r in rows if r["project"]]
    return {
        "total_s": wall,
        "prof": str(prof_path),
        "top_tottime": rows[:top],
        "top_tottime_project": project[:top],
        "top_cumtime_project": sorted(project, key=lambda r: r["cumtime_s"], reverse=True)[:top],
    }


def profile_report(res: dict[str, Any], what: str) -> str:
    root = str(ROOT) + "/"

    def rows(key: str) -> list[list[str]]:
        return [
            [
                r["where"].replace(root, ""),
                fmt(r["calls"]),
                f"{r['tottime_s']:.3f}",
                f"{r['tottime_pct']:.1f}%",
                f"{r['cumtime_s']:.3f}",
                f"{r['cumtime_pct']:.1f}%",
            ]
            for r in res[key]
        ]

    headers = ("function", "calls", "tottime", "tot %", "cumtime", "cum %")
    return "\n\n".join(
        [
            table(
                f"cProfile of {what} ({res['total_s']:.2f} s under the profiler; % of that): top by tottime, all code",
                headers,
                rows("top_tottime"),
            ),
            table("top by tottime, project code only", headers, rows("top_tottime_project")),
            table("top by cumtime, project code only", headers, rows("top_cumtime_project")),
        ]
    )
