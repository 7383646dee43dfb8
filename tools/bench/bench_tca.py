"""TCA projection time and peak memory over a synthetic journal of N fills.

    python -m tools.bench.bench_tca [--fills 40000] [--repeat 5] [--rebuild]
    python -m tools.bench.bench_tca --fills 1000000          # the figure in docs/benchmarks.md

* **journal** (built once, not timed, cached in ``bench-out/cache/`` keyed by N and a hash of the
  journal_schema / engine.journal sources and this file): ``N / 4`` market orders over 20 symbols,
  each with its bar, ``SignalGenerated``, ``DecisionMade`` (ACCEPTED), ``OrderIntentCreated``,
  ``OrderSubmitRequested`` and ``OrderAccepted``, then three ``OrderPartiallyFilled`` and one
  ``OrderFilled`` with bid/ask, stamped at and journaled before the symbol's next bar (as the paper
  broker does). Every 8th round of bars also carries one SKIPPED decision per symbol (a block row).
  About 10 records per order: 2.5M records for 1,000,000 fills.
* **tca**: ``projections.tca.load_tca(path)`` in a fresh process per repetition.
* **baseline**: the same records read and decoded with ``read_events(path, TCA_TYPES)`` and
  nothing else, in a fresh process per repetition (what any projection of these types must pay).

Times are taken inside each child around the one call; peak RSS is the child's own high-water
mark (``VmHWM``, see ``tools.bench._common.peak_rss_mb``). tca and baseline children are
interleaved; the ratio is tca / baseline per repetition.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Any, Literal

from tools.bench._common import (
    CACHE,
    ROOT,
    STAT_HEADERS,
    check_repeat,
    child_json,
    ensure_dirs,
    fmt,
    load_snapshot,
    peak_rss_mb,
    remove_journal,
    stat_row,
    summary,
    table,
    write_json,
)

Kind = Literal["ACCEPTED", "SKIPPED"]  # the decision outcomes the synthetic journal has
FILLS_PER_ORDER = 4
SYMBOLS = tuple(f"S{i:02d}" for i in range(20))
SKIP_EVERY = 8  # rounds
T0 = 1_704_205_860 * 10**9  # 2024-01-02T14:31Z
MINUTE = 60 * 10**9
U = 10**8
HASH = "0" * 64


# ------------------------------------------------------------------ the synthetic journal
def build(path: Path, n_fills: int) -> dict[str, Any]:
    """Write the journal (see the module docstring); returns its record and fill counts."""
    from engine.journal import JournalWriter
    from journal_schema.events import (
        BarClosed,
        DecisionMade,
        Event,
        OrderAccepted,
        OrderFilled,
        OrderIntentCreated,
        OrderPartiallyFilled,
        OrderSubmitRequested,
        RunStarted,
        SignalGenerated,
    )

    orders = n_fills // FILLS_PER_ORDER
    rounds = -(-orders // len(SYMBOLS))
    remove_journal(path)
    records = fills = 0
    with JournalWriter(path) as w:
        config = {"orders": {"type": "market"}, "strategy": {"name": "synthetic"}}
        w.append(
            [
                RunStarted(
                    ts=T0,
                    run_id="run-bench-tca",
                    code_version="bench",
                    config=config,
                    config_hash=HASH,
                    schema_fingerprint=HASH,
                    dataset_fingerprint=HASH,
                    dataset="synthetic",
                    universe=list(SYMBOLS),
                    seed=0,
                    mode="backtest",
                )
            ]
        )
        records += 1
        pending: dict[str, tuple[str, int, str]] = {}  # symbol -> the order waiting for its next bar
        k = 0
        for r in range(rounds + 1):
            ts = T0 + (r + 1) * MINUTE
            for j, sym in enumerate(SYMBOLS):
                close = (100 + j) * U + ((r * 7919 + j * 104729) % 2001 - 1000) * U // 1000
                opn = close - ((r + j) % 11 - 5) * U // 100
                groups: list[list[Event]] = []
                if sym in pending:
                    cid, qty, side = pending.pop(sym)
                    s = 1 if side == "buy" else -1
                    bid, ask = opn - U // 100, opn + U // 100
                    part = qty // FILLS_PER_ORDER
                    for f in range(FILLS_PER_ORDER):
                        last = f == FILLS_PER_ORDER - 1
                        cls = OrderFilled if last else OrderPartiallyFilled
                        groups.append(
                            [
                                cls(
                                    ts=ts,
                                    client_order_id=cid,
                                    fill_id=f"{cid}-{f}",
                                    fill_qty=part,
                                    fill_price=(ask if s > 0 else bid) + s * f * U // 1000,
                                    fee=U // 100,
                                    cum_qty=part * (f + 1),
                                    leaves_qty=qty - part * (f + 1),
                                    bid=bid,
                                    ask=ask,
                                )
                            ]
                        )
                    fills += FILLS_PER_ORDER
                bar = BarClosed(
                    ts=ts,
                    symbol=sym,
                    open=opn,
                    high=max(opn, close) + U // 10,
                    low=min(opn, close) - U // 10,
                    close=close,
                    volume=10_000 * U,
                )
                group: list[Event] = [bar]
                wanted: list[tuple[Kind, int]] = [] if k >= orders or r == rounds else [("ACCEPTED", k)]
                if r % SKIP_EVERY == 0 and r < rounds:
                    wanted.append(("SKIPPED", -1))
                for outcome, n in wanted:
                    sid, did = f"sig-{r}-{sym}-{outcome}", f"dec-{r}-{sym}-{outcome}"
                    side = "buy" if (n % 2 == 0) else "sell"
                    qty = (100 + 4 * (n % 25)) * U
                    group.append(
                        SignalGenerated(
                            ts=ts,
                            cause_seq=1,
                            signal_id=sid,
                            strategy="synthetic",
                            symbol=sym,
                            session="2024-01-02",
                            direction=1,
                            target_qty=qty,
                            features={},
                        )
                    )
                    group.append(
                        DecisionMade(
                            ts=ts,
                            cause_seq=1,
                            decision_id=did,
                            signal_id=sid,
                            symbol=sym,
                            outcome=outcome,
                            reason_codes=["SIGNAL_ACCEPTED" if n >= 0 else "ALREADY_AT_TARGET"],
                            config_hash=HASH,
                            position_qty=0,
                            open_order_qty=0,
                            target_qty=qty,
                            order_qty=qty,
                            approved_qty=qty,
                            expires_ts=None,
                            context=None,
                        )
                    )
                    if n < 0:
                        continue
                    cid = f"cid-{n:08d}"
                    common: dict[str, Any] = dict(
                        ts=ts,
                        cause_seq=1,
                        client_order_id=cid,
                        intent_id=f"int-{n}",
                        symbol=sym,
                        side=side,
                        qty=qty,
                        order_type="market",
                        limit_price=None,
                        time_in_force="day",
                    )
                    group += [OrderIntentCreated(decision_id=did, **common), OrderSubmitRequested(**common)]
                    pending[sym] = (cid, qty, side)
                    k += 1
                groups.append(group)
                if any(isinstance(e, OrderSubmitRequested) for e in group):
                    groups.append([OrderAccepted(ts=ts, client_order_id=pending[sym][0], broker_order_id=f"b{k}")])
                for g in groups:
                    w.append(g)
                    records += len(g)
                if w.staged >= 4096:
                    w.flush()
        w.flush()
    return {"records": records, "fills": fills, "orders": k}


def source_key() -> str:
    h = hashlib.sha256()
    for f in [
        *sorted((ROOT / "journal_schema").rglob("*.py")),
        *sorted((ROOT / "engine" / "journal").rglob("*.py")),
        Path(__file__),
    ]:
        h.update(f.read_bytes())
    return h.hexdigest()[:12]


def ensure_journal(n_fills: int, rebuild: bool) -> tuple[Path, dict[str, Any]]:
    ensure_dirs()
    path = CACHE / f"tca_journal_f{n_fills}_code{source_key()}.db"
    meta_path = Path(f"{path}.meta.json")
    if path.exists() and meta_path.exists() and not rebuild:
        return path, json.loads(meta_path.read_text())
    for old in CACHE.glob(f"tca_journal_f{n_fills}_code*.db"):
        Path(f"{old}.meta.json").unlink(missing_ok=True)
        remove_journal(old)
    print(f"building {path.name} ...", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    meta = {**build(path, n_fills), "build_s": time.perf_counter() - t0}
    meta["bytes"] = sum(f.stat().st_size for f in (path, Path(f"{path}-wal")) if f.exists())
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    return path, meta


# ------------------------------------------------------------------ children (fresh processes)
def child_tca(journal: str) -> int:
    from projections.tca import load_tca

    t0 = time.perf_counter()
    tca = load_tca(journal)
    secs = time.perf_counter() - t0
    o = tca.orders
    print(
        json.dumps(
            {
                "peak_rss_mb": peak_rss_mb(),
                "seconds": secs,
                "orders": o.height,
                "fills": int(o["n_fills"].sum()),
                "blocks": tca.blocks.height,
                "quote_mid": int((o["arrival_source"] == "QUOTE_MID").sum()),
            }
        )
    )
    return 0


def child_baseline(journal: str) -> int:
    from engine.journal import read_events
    from projections.tca_collect import TCA_TYPES

    t0 = time.perf_counter()
    n = sum(1 for _ in read_events(journal, TCA_TYPES))
    print(json.dumps({"peak_rss_mb": peak_rss_mb(), "seconds": time.perf_counter() - t0, "records": n}))
    return 0


# ------------------------------------------------------------------ parent
def run(n_fills: int, repeat: int, rebuild: bool) -> dict[str, Any]:
    path, meta = ensure_journal(n_fills, rebuild)
    me = ["-m", "tools.bench.bench_tca", "--child"]
    tcas, bases = [], []
    for _ in range(repeat):  # interleaved
        tcas.append(child_json([*me, "tca", str(path)]))
        bases.append(child_json([*me, "baseline", str(path)]))
    for t in tcas:
        if t["fills"] != meta["fills"] or t["orders"] != meta["orders"] or t["quote_mid"] != meta["orders"]:
            raise RuntimeError(f"load_tca did not see every order and fill: {t} vs {meta}")
    tca_s, base_s = summary([t["seconds"] for t in tcas]), summary([b["seconds"] for b in bases])
    return {
        "params": {
            "fills": n_fills,
            "orders": meta["orders"],
            "records": meta["records"],
            "symbols": len(SYMBOLS),
            "journal": str(path),
            "journal_bytes": meta["bytes"],
            "repeat": repeat,
        },
        "build": {"seconds": meta["build_s"], "n": 1},
        "tca": {
            "seconds": tca_s,
            "peak_rss_mb": summary([t["peak_rss_mb"] for t in tcas]),
            "fills_per_s": n_fills / tca_s["median"],
            "process_wall_s": summary([t["wall_s"] for t in tcas]),
        },
        "baseline": {"seconds": base_s, "peak_rss_mb": summary([b["peak_rss_mb"] for b in bases])},
        "ratio_tca_over_baseline": summary([t["seconds"] / b["seconds"] for t, b in zip(tcas, bases, strict=True)]),
    }


def report(res: dict[str, Any]) -> str:
    p = res["params"]
    rows = [
        stat_row("load_tca time", res["tca"]["seconds"], "s", f"{fmt(res['tca']['fills_per_s'])} fills/s"),
        stat_row("baseline time (read_events)", res["baseline"]["seconds"], "s", "read + decode only"),
        stat_row("ratio tca / baseline", res["ratio_tca_over_baseline"], "x"),
        stat_row("load_tca peak RSS", res["tca"]["peak_rss_mb"], "MB"),
        stat_row("baseline peak RSS", res["baseline"]["peak_rss_mb"], "MB"),
        ["build (not timed)", f"{res['build']['seconds']:.1f} s", "", "", "1", ""],
    ]
    title = (
        f"bench_tca: {fmt(p['fills'])} fills, {fmt(p['orders'])} orders, {fmt(p['records'])} records "
        f"({p['journal_bytes'] / 1e6:.0f} MB)"
    )
    return table(title, STAT_HEADERS, rows)


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["--child"]:
        return child_tca(argv[2]) if argv[1] == "tca" else child_baseline(argv[2])
    ap = argparse.ArgumentParser(prog="python -m tools.bench.bench_tca", description=__doc__.split("\n")[0])
    ap.add_argument("--fills", type=int, default=40_000, help="fill events in the journal (default 40,000)")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--rebuild", action="store_true", help="rebuild the cached journal")
    args = ap.parse_args(argv)
    if args.fills < FILLS_PER_ORDER:
        ap.error(f"--fills must be >= {FILLS_PER_ORDER}")
    start = load_snapshot()
    res = {**run(args.fills, check_repeat(args.repeat), args.rebuild), "load_start": start}
    print(report(res))
    print(f"-> {write_json('bench_tca', res)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
