"""Builders for synthetic runs used by unit and property tests (real journal, real core)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.broker.paper import PaperBroker, cost_model
from engine.config import config_hash, resolve
from engine.journal.chain import unwrap
from engine.journal.store import JournalReader
from engine.shell import Engine
from journal_schema.catalogue import INPUT_TYPE_SET, schema_fingerprint
from journal_schema.codec import decode_topic
from journal_schema.events import BarClosed, Event, RunStarted, SessionClosed, SessionOpened

MINUTE = 60_000_000_000
DAY = 24 * 60 * MINUTE
T0 = 1_700_000_000_000_000_000 // DAY * DAY  # a midnight, UTC
SCALE = 100_000_000


def run_started(raw_cfg: dict[str, Any] | None = None, universe: list[str] | None = None) -> RunStarted:
    cfg, snap = resolve(raw_cfg or {})
    return RunStarted(
        ts=T0,
        run_id="run-test",
        code_version="test",
        config=snap,
        config_hash=config_hash(snap),
        schema_fingerprint=schema_fingerprint(),
        dataset_fingerprint="0" * 64,
        dataset="synthetic",
        universe=universe or ["AAA", "BBB"],
        seed=cfg.run.seed,
        mode="backtest",
    )


def synthetic_stream(bars: list[tuple[str, int]], per_session: int = 20) -> tuple[list[Event], list[int]]:
    """Sessions of ``per_session`` minute slots; bar i is stamped at slot close.
    Each element of ``bars`` is (symbol, close in 1e-8 units); OHLC are derived from it."""
    out: list[Event] = []
    closes: list[int] = []
    prev: dict[str, int] = {}
    n_sessions = max(1, -(-len(bars) // per_session))
    for s in range(n_sessions):
        day = T0 + s * DAY
        label = f"2030-01-{s + 1:02d}" if s < 28 else f"2030-02-{s - 27:02d}"
        open_ts, close_ts = day + 14 * 60 * MINUTE, day + (14 * 60 + per_session) * MINUTE
        closes.append(close_ts)
        out.append(SessionOpened(ts=open_ts, session=label, close_ts=close_ts, calendar="SYN"))
        for j, (sym, close) in enumerate(bars[s * per_session : (s + 1) * per_session]):
            o = prev.get(sym, close)
            prev[sym] = close
            hi, lo = max(o, close) + SCALE // 100, min(o, close) - SCALE // 100
            out.append(
                BarClosed(
                    ts=open_ts + (j + 1) * MINUTE,
                    symbol=sym,
                    open=o,
                    high=hi,
                    low=max(1, lo),
                    close=close,
                    volume=1000 * SCALE,
                )
            )
        out.append(SessionClosed(ts=close_ts, session=label, calendar="SYN"))
    return out, closes


def run_engine(
    path: Path, inputs: list[Event], raw_cfg: dict[str, Any] | None = None, with_broker: bool = True, batch: int = 64
) -> Engine:
    rs = run_started(raw_cfg)
    engine = Engine.open(str(path), batch=batch)
    if with_broker:
        cfg, _ = resolve(raw_cfg or {})
        closes = [e.ts for e in inputs if isinstance(e, SessionClosed)]
        engine.broker = PaperBroker(cost_model(cfg.paper), cfg.run.seed, rs.universe, closes)
    engine.feed(rs)
    for ev in inputs:
        engine.feed(ev)
    engine.close()
    return engine


def stored(path: Path) -> list[tuple[int, str, bytes]]:
    with JournalReader(path) as r:
        return [(rec.seq, rec.topic, rec.state) for rec in r.records()]


def recorded_inputs(path: Path) -> list[Event]:
    out = []
    with JournalReader(path) as r:
        for rec in r.records():
            ev = decode_topic(rec.topic, unwrap(rec.state)[1])
            if type(ev) in INPUT_TYPE_SET:
                out.append(ev)
    return out
