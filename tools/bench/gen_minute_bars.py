"""Deterministic one-minute OHLCV bars inside real XNYS regular sessions.

    python -m tools.bench.gen_minute_bars [--bars 100000] [--symbols SYN] [--seed 7] [--out FILE]

* Sessions come from ``exchange_calendars`` (XNYS) starting 2024-01-02; each session's
  minutes are stamped at their close: ``open+1min ... close`` (390 bars on a full day,
  210 on an early-close day). Timestamps are ISO-8601 in America/New_York with their
  UTC offset (``2024-01-02T09:31:00-05:00``).
* ``--bars`` is the total number of rows; with several symbols every minute has one row
  per symbol (sorted by timestamp, then symbol) and the last minute may be partial.
* Prices are a geometric random walk on integer cents (so every price has exactly two
  decimals) from ``numpy.random.Generator(PCG64(seed))``; ``open`` is the previous close,
  ``high``/``low`` widen ``max/min(open, close)`` by a random number of cents, so
  ``0.01 <= low <= open, close <= high`` always holds. Volume is a positive integer.
* The same arguments give byte-identical files (the sha256 is printed and stored).
"""

from __future__ import annotations

import argparse
import hashlib
import math
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from tools.bench._common import CACHE, ensure_dirs, write_json

CALENDAR = "XNYS"
START = date(2024, 1, 2)
TZ = "America/New_York"
MINUTE_NS = 60 * 10**9
DEFAULT_SYMBOLS = ("SYN",)


def session_minute_closes(n_minutes: int, start: date = START) -> np.ndarray:
    """The first ``n_minutes`` minute-bar close times (ns UTC) of XNYS sessions from ``start``."""
    import exchange_calendars as xc

    # ~252 sessions a year and at most 390 minutes a session; ask for a generous span
    years = max(1, math.ceil(n_minutes / (390 * 240))) + 1
    cal = xc.get_calendar(CALENDAR, start=start.isoformat(), end=(start + timedelta(days=366 * years)).isoformat())
    sched = cal.schedule
    if "break_start" in sched and sched["break_start"].notna().any():
        raise RuntimeError(f"{CALENDAR} sessions with breaks are not supported by this generator")
    opens = sched["open"].dt.tz_convert(None).to_numpy().astype("datetime64[ns]").astype(np.int64)
    closes = sched["close"].dt.tz_convert(None).to_numpy().astype("datetime64[ns]").astype(np.int64)
    per_session = (closes - opens) // MINUTE_NS
    cum = np.cumsum(per_session)
    if cum[-1] < n_minutes:
        raise RuntimeError(f"calendar span too short for {n_minutes} minutes")
    k = int(np.searchsorted(cum, n_minutes, side="left")) + 1  # sessions needed
    counts = per_session[:k].copy()
    counts[-1] -= int(cum[k - 1] - n_minutes)  # the last session may be partial
    starts = np.repeat(opens[:k], counts)
    # minute index within its session: 1..count
    offsets = np.arange(n_minutes, dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts) + 1
    closes_ns: np.ndarray = starts + offsets * MINUTE_NS
    return closes_ns


def _cents_text(cents: pl.Expr) -> pl.Expr:
    return pl.concat_str(
        [(cents // 100).cast(pl.String), pl.lit("."), (cents % 100).cast(pl.String).str.pad_start(2, "0")]
    )


def generate(n_bars: int, symbols: tuple[str, ...] = DEFAULT_SYMBOLS, seed: int = 7) -> pl.DataFrame:
    k = len(symbols)
    n_minutes = -(-n_bars // k)
    ts = session_minute_closes(n_minutes)
    rng = np.random.Generator(np.random.PCG64(seed))
    frames = []
    for j, sym in enumerate(symbols):
        start_price = 100.0 + 37.0 * j  # dollars
        # minute log returns: ~0.08% sd (about 1.6% a day), tiny positive drift
        r = rng.normal(2e-7, 8e-4, n_minutes)
        close = np.maximum(np.rint(start_price * 100 * np.exp(np.cumsum(r))), 1).astype(np.int64)
        open_ = np.empty_like(close)
        open_[0] = int(round(start_price * 100))
        open_[1:] = close[:-1]
        up = np.rint(np.abs(rng.normal(0.0, 4e-4, n_minutes)) * close).astype(np.int64)
        down = np.rint(np.abs(rng.normal(0.0, 4e-4, n_minutes)) * close).astype(np.int64)
        high = np.maximum(open_, close) + up
        low = np.maximum(np.minimum(open_, close) - down, 1)
        volume = rng.integers(100, 20_000, n_minutes) * rng.integers(1, 6, n_minutes)
        frames.append(
            pl.DataFrame(
                {
                    "ts": ts,
                    "order": np.full(n_minutes, j, dtype=np.int64),
                    "symbol": [sym] * n_minutes,
                    "o": open_,
                    "h": high,
                    "l": low,
                    "c": close,
                    "volume": volume.astype(np.int64),
                }
            )
        )
    df = pl.concat(frames).sort(["ts", "order"]).head(n_bars)
    stamp = pl.from_epoch(pl.col("ts"), time_unit="ns").dt.replace_time_zone("UTC").dt.convert_time_zone(TZ)
    return df.select(
        stamp.dt.to_string("%Y-%m-%dT%H:%M:%S%:z").alias("timestamp"),
        pl.col("symbol"),
        _cents_text(pl.col("o")).alias("open"),
        _cents_text(pl.col("h")).alias("high"),
        _cents_text(pl.col("l")).alias("low"),
        _cents_text(pl.col("c")).alias("close"),
        pl.col("volume"),
    )


def default_path(n_bars: int, symbols: tuple[str, ...], seed: int) -> Path:
    return CACHE / f"minute_bars_n{n_bars}_{'-'.join(symbols)}_seed{seed}.csv"


def write(n_bars: int, symbols: tuple[str, ...] = DEFAULT_SYMBOLS, seed: int = 7, out: Path | None = None) -> Path:
    ensure_dirs()
    path = out or default_path(n_bars, symbols, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    generate(n_bars, symbols, seed).write_csv(tmp)
    tmp.replace(path)
    return path


def ensure(n_bars: int, symbols: tuple[str, ...] = DEFAULT_SYMBOLS, seed: int = 7) -> Path:
    """The cached CSV for these parameters (generated on first use)."""
    path = default_path(n_bars, symbols, seed)
    return path if path.exists() else write(n_bars, symbols, seed)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.bench.gen_minute_bars", description=__doc__.split("\n")[0])
    ap.add_argument("--bars", type=int, default=100_000, help="total rows (default: %(default)s)")
    ap.add_argument("--symbols", default=",".join(DEFAULT_SYMBOLS), help="comma-separated (default: %(default)s)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", type=Path, help="output CSV (default: bench-out/cache/minute_bars_...csv)")
    args = ap.parse_args(argv)
    symbols = tuple(s.strip() for s in args.symbols.split(",") if s.strip())
    t0 = time.perf_counter()
    path = write(args.bars, symbols, args.seed, args.out)
    secs = time.perf_counter() - t0
    df = pl.read_csv(path, infer_schema=False, n_rows=1)
    tail = pl.read_csv(path, infer_schema=False).tail(1)
    digest = sha256(path)
    print(
        f"wrote {path}  rows={args.bars:,}  symbols={','.join(symbols)}  seed={args.seed}  "
        f"{path.stat().st_size / 1e6:.1f} MB  {secs:.2f} s"
    )
    print(f"first {df['timestamp'][0]}  last {tail['timestamp'][0]}  sha256 {digest}")
    write_json(
        "gen_minute_bars",
        {
            "params": {
                "bars": args.bars,
                "symbols": list(symbols),
                "seed": args.seed,
                "calendar": CALENDAR,
                "start": START.isoformat(),
            },
            "path": str(path),
            "sha256": digest,
            "bytes": path.stat().st_size,
            "seconds": secs,
            "first_timestamp": df["timestamp"][0],
            "last_timestamp": tail["timestamp"][0],
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
