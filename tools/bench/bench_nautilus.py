"""Whole process against NautilusTrader: ``engine run`` and NT's backtest of the same bars and strategy.

    python -m tools.bench.bench_nautilus [--bars 100000] [--repeat 5] [--nt-python PATH]

Each repetition is an alternating pair of fresh processes over the same generated minute CSV
(``tools.bench.gen_minute_bars``), timed by this process from start to exit:

* **engine**: ``engine run --config sma_10_30.toml --bars CSV --journal J --replace`` (SMA 10/30, 100
  shares, long only, market orders, the in-process paper broker; every event journaled and chained,
  the summary printed), through the ``engine`` console script's own entry point (``engine.cli.console``)
  under a two-line prelude that writes the process's ``VmHWM`` at exit;
* **NautilusTrader**: ``tools/bench/nautilus_run.py`` in NT's virtualenv (``--nt-python``, default
  ``.venv-nt/bin/python``, made by ``make .venv-nt/.installed``): the same strategy with NT's
  ``BacktestEngine``, ``Bar`` data and ``SimpleMovingAverage``; it reports its own ``VmHWM``.

A warm-up pair (not counted) fills the page cache and the bytecode caches. Reported: the median of
each side's wall times, their ratio (NT / engine, so 5.0 means the engine is 5x faster), each side's
peak RSS, and ``engine --help`` (median of 2 x repeat fresh processes). When NT's interpreter is
missing or holds another version than ``NT_VERSION``, the figures of the engine alone are reported
with the reason.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tools.bench._common import ROOT, STAT_HEADERS, check_repeat, fmt, load_snapshot, stat_row, summary, table
from tools.bench._common import write_json as _write_json

NT_VERSION = "1.221.0"
DEFAULT_NT_PYTHON = ROOT / ".venv-nt" / "bin" / "python"
ENGINE = ROOT / ".venv" / "bin" / "engine"
# the console script's entry point, plus the process's own peak RSS written at exit
ENGINE_PRELUDE = (
    "import atexit, os, sys\n"
    "def _hwm():\n"
    "    line = next(x for x in open('/proc/self/status') if x.startswith('VmHWM:'))\n"
    "    open(os.environ['BENCH_HWM_OUT'], 'w').write(line.split()[1])\n"
    "atexit.register(_hwm)\n"
    "from engine.cli import console\n"
    "sys.argv[0] = 'engine'\n"
    "console()\n"
)


def nt_status(python: Path) -> str | None:
    """None when ``python`` runs NautilusTrader ``NT_VERSION``; else why the comparison cannot run."""
    if not python.exists():
        return f"{python} not found: NautilusTrader is not installed (make .venv-nt/.installed)"
    done = subprocess.run(
        [str(python), "-c", "import nautilus_trader; print(nautilus_trader.__version__)"],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        return f"{python} cannot import nautilus_trader: {done.stderr.strip().splitlines()[-1:]}"
    version = done.stdout.strip()
    return None if version == NT_VERSION else f"{python} has nautilus_trader {version}, not {NT_VERSION}"


def _timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, str]:
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])} ... failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return wall, done.stdout


def engine_run(csv: Path, config: Path, work: Path) -> dict[str, Any]:
    """One ``engine run`` in a fresh process: wall time, peak RSS, events and digest."""
    hwm = work / "engine.hwm"
    journal = work / "engine.db"
    env = {**os.environ, "BENCH_HWM_OUT": str(hwm)}
    args = ["run", "--config", str(config), "--bars", str(csv), "--journal", str(journal), "--replace"]
    wall, out = _timed([sys.executable, "-c", ENGINE_PRELUDE, *args], env)
    lines = {ln.split()[0]: ln.split() for ln in out.splitlines() if ln.strip()}
    return {
        "wall_s": wall,
        "peak_rss_mb": int(hwm.read_text()) / 1024,
        "events": int(lines["journal"][-2].lstrip("(")),
        "digest": lines["digest"][1],
        "signals": int(lines["signals"][1]),
    }


def nt_run(python: Path, csv: Path) -> dict[str, Any]:
    """One NautilusTrader backtest in a fresh process (``tools.bench.nautilus_run``)."""
    import json

    wall, out = _timed([str(python), "-m", "tools.bench.nautilus_run", str(csv)])
    return {**json.loads(out.strip().splitlines()[-1]), "wall_s": wall}


def help_time() -> float:
    wall, _ = _timed([str(ENGINE), "--help"])
    return wall


def run(n_bars: int, repeat: int, nt_python: Path) -> dict[str, Any]:
    from tools.bench import bench_run, gen_minute_bars

    csv = gen_minute_bars.ensure(n_bars)
    config = bench_run.config_path()
    why_not = nt_status(nt_python)
    engines: list[dict[str, Any]] = []
    nts: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench_nautilus_") as tmp:
        work = Path(tmp)
        engine_run(csv, config, work)  # warm-up pair: page cache, bytecode caches
        if why_not is None:
            nt_run(nt_python, csv)
        for _ in range(repeat):
            engines.append(engine_run(csv, config, work))
            if why_not is None:
                nts.append(nt_run(nt_python, csv))
        helps = [help_time() for _ in range(2 * repeat)]
    assert len({(e["events"], e["digest"]) for e in engines}) == 1, "engine runs are not deterministic"
    res: dict[str, Any] = {
        "params": {"bars": n_bars, "repeat": repeat, "csv": str(csv), "config": str(config)},
        "engine": {
            "wall_s": summary([e["wall_s"] for e in engines]),
            "peak_rss_mb": summary([e["peak_rss_mb"] for e in engines]),
            "events": engines[0]["events"],
            "digest": engines[0]["digest"],
            "signals": engines[0]["signals"],
        },
        "engine_help_s": summary(helps),
        "nautilus": None,
        "nautilus_missing": why_not,
    }
    if nts:
        ratios = [n["wall_s"] / e["wall_s"] for e, n in zip(engines, nts, strict=True)]
        res["nautilus"] = {
            "version": NT_VERSION,
            "python": str(nt_python),
            "wall_s": summary([n["wall_s"] for n in nts]),
            "peak_rss_mb": summary([n["peak_rss_mb"] for n in nts]),
            "backtest_run_s": summary([n["run_s"] for n in nts]),
            "bars": nts[0]["bars"],
            "signals": nts[0]["signals"],
            "orders": nts[0]["orders"],
        }
        res["ratio_nt_over_engine"] = {
            "of_medians": res["nautilus"]["wall_s"]["median"] / res["engine"]["wall_s"]["median"],
            "per_pair": summary(ratios),
        }
    return res


def report(res: dict[str, Any]) -> str:
    e, nt = res["engine"], res["nautilus"]
    rows = [
        stat_row("engine run, whole process", e["wall_s"], "s", f"{fmt(e['events'])} events journaled"),
        stat_row("engine run, peak RSS", e["peak_rss_mb"], "MB", "VmHWM"),
        stat_row("engine --help, whole process", res["engine_help_s"], "s"),
    ]
    if nt is not None:
        r = res["ratio_nt_over_engine"]
        rows += [
            stat_row(
                f"NautilusTrader {nt['version']}, whole process", nt["wall_s"], "s", f"{fmt(nt['orders'])} orders"
            ),
            stat_row("NautilusTrader, peak RSS", nt["peak_rss_mb"], "MB", "VmHWM"),
            stat_row("NautilusTrader, engine.run() only", nt["backtest_run_s"], "s", "inside its process"),
            stat_row("ratio NT / engine, per pair", r["per_pair"], "x", f"of the medians: {r['of_medians']:.2f}x"),
        ]
    p = res["params"]
    title = f"bench_nautilus: {fmt(p['bars'])} minute bars, sma 10/30, 100 shares, long only; alternating pairs"
    out = table(title, STAT_HEADERS, rows)
    if nt is None:
        out += f"\nno comparison: {res['nautilus_missing']}"
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.bench.bench_nautilus", description=__doc__.split("\n")[0])
    ap.add_argument("--bars", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--nt-python", type=Path, default=Path(os.environ.get("NT_PYTHON", DEFAULT_NT_PYTHON)))
    args = ap.parse_args(argv)
    start = load_snapshot()
    res = {**run(args.bars, check_repeat(args.repeat), args.nt_python), "load_start": start}
    print(report(res))
    print(f"-> {_write_json('bench_nautilus', res)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
