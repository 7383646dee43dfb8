"""Run every benchmark, each in its own process, and summarise.

    python -m tools.bench.all [--quick] [--repeat 5] [--only NAME ...] [--profile]

Full sizes: 100,000-bar CSV, 200,000 appended events, 100,000-bar run (in-process, and as whole processes
alternating with NautilusTrader's backtest of the same bars when ``.venv-nt`` holds it), replay/verify of the
journal of a 1,000,000-bar run, TCA of a journal of 1,000,000 fills. ``--quick`` uses 10,000 /
20,000 / 10,000 / 50,000 / 40,000 and writes
to ``bench-out/quick/`` so it never overwrites full results. ``bench_pg`` (Postgres append and
projection worker lag: 200,000 events, 1,000 and 5,000 records/s for 10 s each; ``--quick`` its own
small defaults) is reported as skipped, not failed, when no server is reachable (its exit code 2).
Each benchmark writes ``<out>/<name>.json``; this writes ``<out>/all.json`` with the headline figures.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tools.bench._common import OUT, ROOT, fmt, table

FULL = {
    "gen_minute_bars": ["--bars", "100000"],
    "bench_append": ["--events", "200000"],
    "bench_run": ["--bars", "100000"],
    "bench_nautilus": ["--bars", "100000"],
    "bench_phases": ["--bars", "100000"],
    "bench_replay": ["--bars", "1000000"],
    "bench_tca": ["--fills", "1000000"],
    "bench_pg": ["--events", "200000", "--rates", "1000,5000", "--seconds", "10"],
}
QUICK = {
    "gen_minute_bars": ["--bars", "10000"],
    "bench_append": ["--events", "20000"],
    "bench_run": ["--bars", "10000"],
    "bench_nautilus": ["--bars", "10000"],
    "bench_phases": ["--bars", "10000"],
    "bench_replay": ["--bars", "50000"],
    "bench_tca": ["--fills", "40000"],
    "bench_pg": ["--quick"],
}
REPEATABLE = ("bench_append", "bench_run", "bench_nautilus", "bench_phases", "bench_replay", "bench_tca", "bench_pg")
SKIPPED = 2  # exit code of a benchmark whose prerequisite (the Postgres server) is missing


def headline(out: Path) -> tuple[list[list[str]], dict[str, Any]]:
    rows: list[list[str]] = []
    data: dict[str, Any] = {}

    def load(name: str) -> dict[str, Any] | None:
        p = out / f"{name}.json"
        return json.loads(p.read_text()) if p.exists() else None

    if a := load("bench_append"):
        r = a["ratio_journal_over_raw"]
        rows.append(
            [
                "append: journal",
                fmt(a["journal"]["events_per_s"]["median"], "ev/s"),
                f"batch {a['batch']}, {fmt(a['params']['events'])} events",
            ]
        )
        rows.append(
            [
                "append: raw sqlite3",
                fmt(a["raw_sqlite3"]["events_per_s"]["median"], "ev/s"),
                f"synchronous={a['params']['synchronous']}",
            ]
        )
        rows.append(
            [
                "append: ratio journal/raw",
                fmt(r["median"], "x"),
                f"goal >= {a['goal_ratio']}: {'met' if a['meets_goal'] else 'NOT met'}",
            ]
        )
        data["append"] = {
            "journal_ev_s": a["journal"]["events_per_s"]["median"],
            "raw_ev_s": a["raw_sqlite3"]["events_per_s"]["median"],
            "ratio": r["median"],
        }
    if r := load("bench_run"):
        g = r["goal_bars_per_s"]
        rows.append(
            [
                "run: end to end",
                fmt(r["end_to_end"]["bars_per_s"]["median"], "bars/s"),
                f"goal {fmt(g)}: {'met' if r['meets_goal_end_to_end'] else 'NOT met'}",
            ]
        )
        rows.append(
            [
                "run: excluding load/calendar",
                fmt(r["excluding_load"]["bars_per_s"]["median"], "bars/s"),
                f"goal {fmt(g)}: {'met' if r['meets_goal_excluding_load'] else 'NOT met'}",
            ]
        )
        rows.append(["run: events journaled", fmt(r["params"]["journal_events"]), f"{fmt(r['params']['bars'])} bars"])
        rows.append(["run: peak RSS (fresh process)", fmt(r["peak_rss_mb"]["median"], "MB"), ""])
        data["run"] = {
            "e2e_bars_s": r["end_to_end"]["bars_per_s"]["median"],
            "excl_load_bars_s": r["excluding_load"]["bars_per_s"]["median"],
            "events": r["params"]["journal_events"],
            "peak_rss_mb": r["peak_rss_mb"]["median"],
        }
    if w := load("bench_nautilus"):
        e = w["engine"]
        rows.append(
            [
                "engine run: whole process",
                fmt(e["wall_s"]["median"], "s"),
                f"peak RSS {e['peak_rss_mb']['median']:.0f} MB",
            ]
        )
        rows.append(["engine --help: whole process", fmt(w["engine_help_s"]["median"], "s"), ""])
        data["whole_process"] = {
            "engine_s": e["wall_s"]["median"],
            "engine_rss_mb": e["peak_rss_mb"]["median"],
            "help_s": w["engine_help_s"]["median"],
        }
        if (nt := w["nautilus"]) is not None:
            ratio = w["ratio_nt_over_engine"]["of_medians"]
            rows.append(
                [
                    f"NautilusTrader {nt['version']}: whole process",
                    fmt(nt["wall_s"]["median"], "s"),
                    f"peak RSS {nt['peak_rss_mb']['median']:.0f} MB; engine {ratio:.2f}x faster",
                ]
            )
            data["whole_process"].update(
                nt_s=nt["wall_s"]["median"], nt_rss_mb=nt["peak_rss_mb"]["median"], ratio_nt_over_engine=ratio
            )
        else:
            rows.append(["NautilusTrader: not compared", "", str(w["nautilus_missing"])])
    if ph := load("bench_phases"):
        m = {name: s["median"] for name, s in ph["phases"].items()}
        load_s = sum(v for k, v in m.items() if k.startswith("load:")) + m["calendar sessions"]
        rows.append(
            [
                "engine run: phases",
                fmt(m["whole process (wall)"], "s"),
                f"imports {m['imports']:.2f}, load {load_s:.2f}, loop {m['run loop']:.2f} (journal "
                f"{m['  journal append (encode)'] + m['  journal flush (chain, insert, commit)']:.2f}), "
                f"start/exit {m['interpreter start and exit']:.2f} s",
            ]
        )
        data["phases"] = m
    if p := load("bench_replay"):
        n = p["params"]["journal_events"]
        rows.append(
            [
                "replay",
                fmt(p["replay"]["events_per_s"]["median"], "ev/s"),
                f"{fmt(n)} events, peak RSS {p['replay']['peak_rss_mb']['median']:.0f} MB",
            ]
        )
        rows.append(
            [
                "verify",
                fmt(p["verify"]["events_per_s"]["median"], "ev/s"),
                f"{fmt(n)} events, peak RSS {p['verify']['peak_rss_mb']['median']:.0f} MB",
            ]
        )
        data["replay"] = {
            "events": n,
            "replay_ev_s": p["replay"]["events_per_s"]["median"],
            "verify_ev_s": p["verify"]["events_per_s"]["median"],
            "replay_rss_mb": p["replay"]["peak_rss_mb"]["median"],
            "verify_rss_mb": p["verify"]["peak_rss_mb"]["median"],
        }
    if t := load("bench_tca"):
        n, s = t["params"]["fills"], t["tca"]["seconds"]["median"]
        rss, ratio = t["tca"]["peak_rss_mb"]["median"], t["ratio_tca_over_baseline"]["median"]
        rows.append(
            [
                "tca: load_tca",
                fmt(s, "s"),
                f"{fmt(n)} fills, peak RSS {rss:.0f} MB, {ratio:.2f}x reading the same records",
            ]
        )
        data["tca"] = {
            "fills": n,
            "seconds": s,
            "peak_rss_mb": t["tca"]["peak_rss_mb"]["median"],
            "ratio_over_baseline": t["ratio_tca_over_baseline"]["median"],
        }
    if g := load("bench_pg"):
        a = g["append"]
        rows.append(
            [
                "pg append: journal",
                fmt(a["journal"]["events_per_s"]["median"], "ev/s"),
                f"batch {a['batch']}, {fmt(a['events'])} events",
            ]
        )
        rows.append(
            [
                "pg append: raw executemany / COPY",
                f"{fmt(a['raw_executemany']['events_per_s']['median'])} / "
                f"{fmt(a['raw_copy']['events_per_s']['median'], 'ev/s')}",
                "",
            ]
        )
        rows.append(
            [
                "pg append: ratio journal/executemany",
                fmt(a["ratio_journal_over_executemany"]["median"], "x"),
                f"goal >= {a['goal_ratio']}: {'met' if a['meets_goal'] else 'NOT met'}; "
                f"journal/COPY {a['ratio_journal_over_copy']['median']:.3f}x",
            ]
        )
        for lag in g["lag"]:
            lm = lag["lag_ms"] or {}
            rows.append(
                [
                    f"pg worker lag at {fmt(lag['target_records_per_s'])} rec/s",
                    fmt(lm.get("median", float("nan")), "ms"),
                    f"p95 {fmt(lm.get('p95', float('nan')))} ms, max {fmt(lm.get('max', float('nan')))} ms, "
                    f"kept up: {'yes' if lag['kept_up'] else 'NO'}",
                ]
            )
        data["pg"] = {
            "journal_ev_s": a["journal"]["events_per_s"]["median"],
            "executemany_ev_s": a["raw_executemany"]["events_per_s"]["median"],
            "copy_ev_s": a["raw_copy"]["events_per_s"]["median"],
            "ratio_executemany": a["ratio_journal_over_executemany"]["median"],
            "ratio_copy": a["ratio_journal_over_copy"]["median"],
            "lag_ms": {str(lag["target_records_per_s"]): lag["lag_ms"] for lag in g["lag"]},
        }
    return rows, data


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.bench.all", description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes; results in bench-out/quick/")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--only", nargs="+", choices=list(FULL), help="run only these")
    ap.add_argument("--profile", action="store_true", help="also cProfile one bench_run run")
    args = ap.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    out = OUT / "quick" if args.quick else OUT
    env = {**os.environ, "BENCH_OUT": str(out)}
    failed: list[str] = []
    skipped: list[str] = []
    t_all = time.perf_counter()
    for name, extra in sizes.items():
        if args.only and name not in args.only:
            continue
        cmd = [sys.executable, "-m", f"tools.bench.{name}", *extra]
        if name in REPEATABLE:
            cmd += ["--repeat", str(args.repeat)]
        print(f"\n=== {' '.join(cmd[1:])}", flush=True)
        code = subprocess.run(cmd, cwd=ROOT, env=env, check=False).returncode
        if code == SKIPPED and name == "bench_pg":
            skipped.append(name)
        elif code != 0:
            failed.append(name)
    if args.profile and not (args.only and "bench_run" not in args.only):
        cmd = [sys.executable, "-m", "tools.bench.bench_run", "--profile", *sizes["bench_run"]]
        print(f"\n=== {' '.join(cmd[1:])}", flush=True)
        if subprocess.run(cmd, cwd=ROOT, env=env, check=False).returncode != 0:
            failed.append("bench_run --profile")
    rows, data = headline(out)
    print()
    print(
        table(
            f"summary ({'quick' if args.quick else 'full'} sizes; medians of {args.repeat} runs)",
            ("figure", "median", "note"),
            rows,
        )
    )
    (out / "all.json").write_text(
        json.dumps(
            {
                "quick": args.quick,
                "repeat": args.repeat,
                "headline": data,
                "failed": failed,
                "skipped": skipped,
                "seconds": time.perf_counter() - t_all,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"-> {out / 'all.json'}")
    if skipped:
        print(f"skipped (no PostgreSQL server): {', '.join(skipped)}", file=sys.stderr)
    if failed:
        print(f"FAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
