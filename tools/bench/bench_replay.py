"""Replay and verify throughput and peak memory over a journal of ~1M events.

    python -m tools.bench.bench_replay [--bars 1000000] [--repeat 5] [--rebuild]

* **journal**: a real run (``historical_run``, SMA 10/30 qty 100 long_only, in-process
  paper broker) over ``--bars`` generated XNYS minute bars of one symbol; 1,000,000 bars give
  ~1.2M events (bars, sessions, signals, decisions, intents, requests, broker reports).
  Built once in a child process and cached in ``bench-out/cache/`` keyed by the bar
  parameters *and* a hash of the engine/journal_schema/replay sources (a journal recorded
  by other code would stop replay at its first divergence). The build is one timed run
  (n=1, informational).
* **replay**: ``replay.replay_journal(path)`` (chain check + decode + core re-run +
  byte comparison of every derived event) in a fresh process per repetition.
* **verify**: ``engine.journal.verify.verify_journal(path)`` (density, envelope, chain,
  decode, canonical re-encode) in a fresh process per repetition.
* **baseline**: a fresh process that only imports those modules (interpreter + imports).

Timings are taken inside each child around the one call (imports excluded); events/s =
journal records / that time. Peak RSS is the child's own high-water mark (``VmHWM``; see
``tools.bench._common.peak_rss_mb`` for why not ``ru_maxrss``), i.e. the whole process
including the interpreter and imports. Replay and verify children are
interleaved; the journal file is in the OS page cache (warm) after the first repetition.
Goal: peak RSS < 500 MB.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from tools.bench import gen_minute_bars
from tools.bench._common import (
    CACHE,
    STAT_HEADERS,
    check_repeat,
    child_json,
    code_state,
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

GOAL_RSS_MB = 500
SYMBOLS = ("SYN",)
SEED = 7


# ------------------------------------------------------------------ children (fresh processes)
def child_build(csv: str, journal: str) -> int:
    from engine.runner import historical_run
    from tools.bench.bench_run import _load_config

    cfg, snapshot = _load_config()
    remove_journal(Path(journal))
    t0 = time.perf_counter()
    result = historical_run(cfg, snapshot, journal, bars=csv)
    secs = time.perf_counter() - t0
    print(
        json.dumps(
            {
                "peak_rss_mb": peak_rss_mb(),
                "seconds": secs,
                "events": result.last_seq,
                "bars": result.stats.bars_read,
                "digest": result.digest,
                "counts": dict(result.counts),
            }
        )
    )
    return 0


def child_replay(journal: str) -> int:
    from replay import replay_journal

    t0 = time.perf_counter()
    res = replay_journal(journal)
    secs = time.perf_counter() - t0
    div = res.divergence
    print(
        json.dumps(
            {
                "peak_rss_mb": peak_rss_mb(),
                "seconds": secs,
                "records": res.records,
                "inputs": res.inputs,
                "derived": res.derived,
                "digest": res.digest,
                "identical": res.identical,
                "divergence": None if div is None else f"{div.kind} at {div.seq}: {div.message}",
            }
        )
    )
    return 0


def child_verify(journal: str) -> int:
    from engine.journal.verify import verify_journal

    t0 = time.perf_counter()
    res = verify_journal(journal)
    secs = time.perf_counter() - t0
    digest = res.digest.hex() if isinstance(res.digest, bytes) else str(res.digest)
    print(
        json.dumps(
            {
                "peak_rss_mb": peak_rss_mb(),
                "seconds": secs,
                "records": res.records,
                "ok": res.ok,
                "digest": digest,
                "problem": None if res.ok else f"seq {res.bad_seq}: {res.problem}",
            }
        )
    )
    return 0


def child_baseline() -> int:
    t0 = time.perf_counter()
    import engine.journal.verify  # noqa: F401
    import replay  # noqa: F401

    print(json.dumps({"peak_rss_mb": peak_rss_mb(), "seconds": time.perf_counter() - t0}))
    return 0


# ------------------------------------------------------------------ parent
def journal_path(n_bars: int) -> Path:
    code = code_state()["source_sha256"][:12]
    return CACHE / f"replay_journal_n{n_bars}_{'-'.join(SYMBOLS)}_seed{SEED}_code{code}.db"


def ensure_journal(n_bars: int, rebuild: bool = False) -> tuple[Path, dict[str, Any]]:
    """The cached journal for these parameters and this code (built on first use)."""
    ensure_dirs()
    path = journal_path(n_bars)
    meta_path = Path(f"{path}.meta.json")
    if meta_path.exists() and path.exists() and not rebuild:
        return path, json.loads(meta_path.read_text())
    # other code versions' journals for the same parameters are stale: drop them
    for old in CACHE.glob(f"replay_journal_n{n_bars}_{'-'.join(SYMBOLS)}_seed{SEED}_code*.db"):
        Path(f"{old}.meta.json").unlink(missing_ok=True)
        remove_journal(old)
    csv = gen_minute_bars.ensure(n_bars, SYMBOLS, SEED)
    print(f"building {path.name} from {csv.name} (one run, fresh process) ...", file=sys.stderr)
    built = child_json(["-m", "tools.bench.bench_replay", "--child", "build", str(csv), str(path)])
    size = sum(f.stat().st_size for f in (path, Path(f"{path}-wal")) if f.exists())
    meta = {**built, "csv": str(csv), "bytes": size}
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    return path, {**meta, "built_now": True}


def run(n_bars: int = 1_000_000, repeat: int = 5, rebuild: bool = False) -> dict[str, Any]:
    path, meta = ensure_journal(n_bars, rebuild)
    events = meta["events"]
    me = ["-m", "tools.bench.bench_replay", "--child"]
    replays, verifies, bases = [], [], []
    for _ in range(repeat):  # interleaved
        replays.append(child_json([*me, "replay", str(path)]))
        verifies.append(child_json([*me, "verify", str(path)]))
        bases.append(child_json([*me, "baseline"]))
    for r in replays:
        if not r["identical"] or r["records"] != events or r["digest"] != meta["digest"]:
            raise RuntimeError(f"replay did not reproduce the journal: {r}")
    for v in verifies:
        if not v["ok"] or v["records"] != events or v["digest"] != meta["digest"]:
            raise RuntimeError(f"verify failed: {v}")
    rp_s, vf_s = summary([r["seconds"] for r in replays]), summary([v["seconds"] for v in verifies])
    rp_rss, vf_rss = summary([r["peak_rss_mb"] for r in replays]), summary([v["peak_rss_mb"] for v in verifies])
    return {
        "params": {
            "bars": n_bars,
            "symbols": list(SYMBOLS),
            "seed": SEED,
            "repeat": repeat,
            "journal": str(path),
            "journal_events": events,
            "journal_bytes": meta["bytes"],
            "digest": meta["digest"],
            "counts": meta.get("counts"),
        },
        "build": {
            "seconds": meta["seconds"],
            "bars_per_s": meta["bars"] / meta["seconds"],
            "events_per_s": events / meta["seconds"],
            "peak_rss_mb": meta["peak_rss_mb"],
            "n": 1,
            "built_now": meta.get("built_now", False),
        },
        "replay": {
            "seconds": rp_s,
            "events_per_s": rate(events, rp_s),
            "peak_rss_mb": rp_rss,
            "process_wall_s": summary([r["wall_s"] for r in replays]),
        },
        "verify": {
            "seconds": vf_s,
            "events_per_s": rate(events, vf_s),
            "peak_rss_mb": vf_rss,
            "process_wall_s": summary([v["wall_s"] for v in verifies]),
        },
        "baseline_process": {
            "peak_rss_mb": summary([b["peak_rss_mb"] for b in bases]),
            "import_s": summary([b["seconds"] for b in bases]),
        },
        "goal_rss_mb": GOAL_RSS_MB,
        "meets_goal_replay": rp_rss["max"] < GOAL_RSS_MB,
        "meets_goal_verify": vf_rss["max"] < GOAL_RSS_MB,
    }


def profile(n_bars: int, rebuild: bool) -> int:
    from engine.journal.verify import verify_journal
    from replay import replay_journal

    path, meta = ensure_journal(n_bars, rebuild)
    out: dict[str, Any] = {"journal_events": meta["events"]}
    for name, fn in (("replay", replay_journal), ("verify", verify_journal)):
        res = profile_call(lambda fn=fn: fn(path), f"bench_replay_{name}")  # type: ignore[misc]
        print(profile_report(res, f"one {name} of {fmt(meta['events'])} events"), end="\n\n")
        out[name] = res
    print(f"-> {write_json('bench_replay_profile', out)}")
    return 0


def report(res: dict[str, Any]) -> str:
    p, b = res["params"], res["build"]
    goal = res["goal_rss_mb"]
    rows = [
        stat_row("replay throughput", res["replay"]["events_per_s"], "ev/s"),
        stat_row("verify throughput", res["verify"]["events_per_s"], "ev/s"),
        stat_row(
            "replay peak RSS",
            res["replay"]["peak_rss_mb"],
            "MB",
            f"goal < {goal} MB: {'met' if res['meets_goal_replay'] else 'NOT met'}",
        ),
        stat_row(
            "verify peak RSS",
            res["verify"]["peak_rss_mb"],
            "MB",
            f"goal < {goal} MB: {'met' if res['meets_goal_verify'] else 'NOT met'}",
        ),
        stat_row("baseline process peak RSS", res["baseline_process"]["peak_rss_mb"], "MB", "imports only"),
        stat_row("replay time", res["replay"]["seconds"], "s"),
        stat_row("verify time", res["verify"]["seconds"], "s"),
        [
            "build (historical_run)",
            fmt(b["bars_per_s"], "bars/s"),
            "",
            "",
            "1",
            f"{b['seconds']:.1f} s, {b['events_per_s']:,.0f} ev/s, RSS {b['peak_rss_mb']:.0f} MB"
            + ("" if b["built_now"] else " (cached)"),
        ],
    ]
    title = (
        f"bench_replay: journal of {fmt(p['journal_events'])} events from {fmt(p['bars'])} minute bars "
        f"({p['journal_bytes'] / 1e6:.0f} MB)"
    )
    return table(title, STAT_HEADERS, rows)


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["--child"]:
        kind, rest = argv[1], argv[2:]
        if kind == "build":
            return child_build(rest[0], rest[1])
        if kind == "replay":
            return child_replay(rest[0])
        if kind == "verify":
            return child_verify(rest[0])
        return child_baseline()
    ap = argparse.ArgumentParser(prog="python -m tools.bench.bench_replay", description=__doc__.split("\n")[0])
    ap.add_argument("--bars", type=int, default=1_000_000, help="bars of the run that builds the journal")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--rebuild", action="store_true", help="rebuild the cached journal")
    ap.add_argument(
        "--profile",
        action="store_true",
        help="instead: cProfile one replay and one verify in-process (bench-out/bench_replay_*.prof)",
    )
    args = ap.parse_args(argv)
    if args.profile:
        return profile(args.bars, args.rebuild)
    start = load_snapshot()
    res = {**run(args.bars, check_repeat(args.repeat), args.rebuild), "load_start": start}
    print(report(res))
    print(f"-> {write_json('bench_replay', res)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
