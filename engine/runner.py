"""Simulated runs: a historical paper-trading run over a bar file or the bundled data (``engine run``),
or over a recorded journal's market inputs (a what-if replay, ``replay.whatif``); one run loop."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from engine.broker.paper import paper_broker
from engine.config import EngineConfig
from engine.feeds import bundled
from engine.feeds.calendar import Sessions, load_sessions
from engine.feeds.stream import StreamStats, events, start_ts, universe_of
from engine.feeds.table import BarTable, read_bar_file
from engine.journal.address import JournalLike
from engine.journal.store import JournalWriter
from engine.kernel import RunCancelled, RunError, StopRequest, open_segment, run_segment
from engine.operator import drain_inbox
from engine.redact import shown
from engine.shell import DEFAULT_BATCH, Engine
from journal_schema.events import BarClosed, BarRejected, Event


@dataclass
class RunResult:
    journal: str
    run_id: str
    dataset: str
    stats: StreamStats
    counts: dict[str, int]
    last_seq: int
    digest: str
    end_reason: str
    halted: str | None
    positions: dict[str, dict[str, int | None]] = field(default_factory=dict)
    decisions: dict[str, int] = field(default_factory=dict)  # outcome -> count
    held_back: dict[str, int] = field(default_factory=dict)  # reason of decisions not accepted -> count


def _sessions_for(table: BarTable, calendar: str) -> Sessions:
    ts = table.frame["ts"].drop_nulls()
    if ts.is_empty():
        if not len(table):
            raise RunError(f"{table.source}: no data rows after the header")
        counts = table.frame["reason"].value_counts(sort=True).rows()
        why = ", ".join(f"{reason} {n}" for reason, n in counts)
        raise RunError(f"{table.source}: no row has a usable timestamp ({len(table)} rows: {why})")
    lo = datetime.fromtimestamp(int(ts.min()) / 1e9, UTC).date()  # type: ignore[arg-type]
    hi = datetime.fromtimestamp(int(ts.max()) / 1e9, UTC).date()  # type: ignore[arg-type]
    return load_sessions(calendar, lo, hi)


@dataclass
class MarketInputs:
    """What a simulated run trades on: its market inputs (``SessionOpened``, ``SessionClosed``,
    ``BarClosed``, ``BarRejected``) in processing order, and what ``RunStarted`` records of them.
    A bar file gives them (``engine run``), and so does a recorded journal (``replay.whatif``)."""

    source: str  # named in the summary (RunResult.dataset)
    dataset: str  # RunStarted.dataset
    fingerprint: str  # RunStarted.dataset_fingerprint
    universe: list[str]
    sessions: Sessions  # the paper broker's day-order expiry
    start_ts: int  # RunStarted.ts
    stream: Callable[[StreamStats], Iterator[Event]]  # the inputs, counting rows into the stats
    run_id_parts: tuple[str, ...] = ()  # more content the run id is derived from


def historical_run(
    cfg: EngineConfig,
    snapshot: dict[str, object],
    journal: JournalLike,
    bars: str | Path | None = None,
    batch: int = DEFAULT_BATCH,
    replace: bool = False,
) -> RunResult:
    """Load the bars (the bundled data when ``bars`` is None), then journal the run."""
    return simulated_run(cfg, snapshot, journal, lambda: _bar_inputs(cfg, bars), batch, replace)


def simulated_run(
    cfg: EngineConfig,
    snapshot: dict[str, object],
    journal: JournalLike,
    load: Callable[[], MarketInputs],
    batch: int = DEFAULT_BATCH,
    replace: bool = False,
) -> RunResult:
    """Load the inputs, then journal the run. SIGINT/SIGTERM are handled from the start: before
    the journal is opened they cancel the run (RunCancelled, nothing written); after, they
    stop it at the next bar with RunEnded(INTERRUPTED)."""
    stop = StopRequest()
    with stop.installed():
        return _simulate(cfg, snapshot, journal, load, batch, replace, stop)


def _run(
    cfg: EngineConfig,
    snapshot: dict[str, object],
    journal: JournalLike,
    bars: str | Path | None,
    batch: int,
    replace: bool,
    stop: StopRequest,
) -> RunResult:
    """``historical_run`` with the caller's ``stop``."""
    return _simulate(cfg, snapshot, journal, lambda: _bar_inputs(cfg, bars), batch, replace, stop)


def _bar_inputs(cfg: EngineConfig, bars: str | Path | None) -> MarketInputs:
    """A bar file's (or the bundled data's) rows, checked at the edge, with the calendar's sessions."""
    if bars is None:
        table, sessions = bundled.load_bundled(cfg.run.calendar)
    else:
        table = read_bar_file(bars, cfg.bars.limits(), cfg.run.calendar)
        sessions = _sessions_for(table, cfg.run.calendar)
    universe = universe_of(table, cfg.run.universe)
    t0 = start_ts(table, sessions)
    return MarketInputs(
        source=table.source,
        dataset=table.source if bars is None else Path(table.source).name,
        fingerprint=table.fingerprint,
        universe=universe,
        sessions=sessions,
        start_ts=t0,
        stream=lambda stats: events(table, sessions, universe, stats, clock=t0),
    )


def _simulate(
    cfg: EngineConfig,
    snapshot: dict[str, object],
    journal: JournalLike,
    load: Callable[[], MarketInputs],
    batch: int,
    replace: bool,
    stop: StopRequest,
) -> RunResult:
    """The run loop: RunStarted and RunManifest, every input through the engine and the paper broker, the operator
    inbox every DEFAULT_BATCH inputs, a stop at the next row, RunEnded."""
    inputs = load()
    if stop.requested:
        raise RunCancelled("interrupted while loading data; nothing was journaled")
    writer = JournalWriter(journal, replace=replace, encrypt=cfg.run.encrypt_journal)
    if writer.last_seq:
        n = writer.last_seq
        writer.close()
        raise RunError(
            f"journal {journal} already holds {n} events; give a new --journal path or "
            "--replace (a historical run writes a journal of its own; paper and live runs resume theirs)"
        )
    segment = open_segment(
        cfg,
        snapshot,
        ts=inputs.start_ts,
        dataset=inputs.dataset,
        fingerprint=inputs.fingerprint,
        universe=inputs.universe,
        run_id_parts=inputs.run_id_parts,
    )
    run_id, universe = segment.run_id, inputs.universe
    broker = paper_broker(cfg, universe, inputs.sessions)
    engine = Engine(writer, broker=broker, batch=batch)
    stats = StreamStats()
    with run_segment(engine, segment, engine.feed, writer.flush) as ending:
        for n, ev in enumerate(inputs.stream(stats), 1):
            engine.feed(ev)
            ending.ts = ev.ts
            if n % DEFAULT_BATCH == 0:
                drain_inbox(engine, ending.ts)  # operator commands (engine kill / resume / approve)
            if stop.requested and type(ev) in (BarClosed, BarRejected):  # counted rows == journaled rows
                ending.reason = "INTERRUPTED"
                break
        drain_inbox(engine, ending.ts)  # before the end reason: a resume lifts a halt
        if ending.reason == "END_OF_DATA" and engine.state.halted:
            ending.reason = "HALTED"
    book = engine.state.positions
    positions = {
        sym: {
            "qty": p.qty,
            "avg_price": p.avg_price,
            "last_price": p.last_price,
            "realized": p.realized,
            "unrealized": p.unrealized(),
            "fees": p.fees,
        }
        for sym, p in book.traded()
    }
    return RunResult(
        journal=shown(journal),
        run_id=run_id,
        dataset=inputs.source,
        stats=stats,
        counts=dict(engine.counts),
        last_seq=engine.writer.last_seq,
        digest=engine.writer.last_hash.hex(),
        end_reason=ending.reason,
        halted=engine.state.halted,
        positions=positions,
        decisions=dict(sorted(engine.state.risk.decisions.items())),
        held_back=dict(sorted(engine.state.risk.held_back.items())),
    )
