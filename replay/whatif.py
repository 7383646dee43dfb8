"""What-if replay: a recorded journal's market inputs under another config, into a new journal.

The market inputs are the journal's ``SessionOpened``, ``SessionClosed``, ``BarClosed`` and
``BarRejected``, in journal order; broker reports, operator commands and derived events are
not replayed. They go through the one run loop of ``engine.runner`` with the in-process paper
broker (``engine.broker.paper.paper_broker``) filling the orders, so the new journal is an
ordinary backtest journal (``engine verify`` and ``engine replay`` pass on it). The sessions the
paper broker expires day orders at are the recorded ``SessionOpened`` events, so the what-if
never consults the calendar. The comparison of the two journals is ``replay.compare``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson

from engine.config import EngineConfig
from engine.feeds.calendar import Sessions
from engine.feeds.stream import StreamStats
from engine.journal.address import JournalAddress, JournalLike, parse
from engine.journal.errors import JournalError
from engine.journal.read import JournalReader, read_events
from engine.journal.target import output_file, write_atomically
from engine.runner import MarketInputs, RunResult, simulated_run
from engine.shell import DEFAULT_BATCH
from journal_schema.events import BarClosed, BarRejected, Event, RawBar, RunStarted, SessionClosed, SessionOpened
from journal_schema.units import exact
from projections.render import iso_utc
from replay.compare import Comparison, compare, comparison_dict

MARKET_INPUTS: tuple[type[Event], ...] = (SessionOpened, SessionClosed, BarClosed, BarRejected)


class WhatIfError(ValueError):
    """The what-if replay cannot run as asked (the message is one line for the user)."""


@dataclass(frozen=True)
class Recorded:
    """What the what-if needs from the source journal before it runs, read up to ``head``."""

    path: JournalAddress
    run: RunStarted  # the first one (a paper or live journal has one per start)
    sessions: Sessions  # from the recorded SessionOpened, by label
    head: int  # the last sequence number read: both passes stop there
    digest: str  # the chain hash of record ``head``


@dataclass(frozen=True)
class WhatIfResult:
    run: RunResult
    comparison: Comparison
    comparison_path: Path


COMPARISON_MAX_BYTES = 1 << 20  # a comparison is a few KiB; a larger file is not one


def comparison_path(out: JournalLike) -> Path:
    """``<out>.comparison.json`` next to a new SQLite journal; ``<table>.comparison.json`` in the working
    directory for a new Postgres journal."""
    return parse(out).beside(".comparison.json")


def _check_out(src: JournalAddress, out: JournalAddress, replace: bool) -> None:
    """``out`` must be a new journal (or ``replace``d), and not the source."""
    if src.same_journal(out):
        raise WhatIfError(f"--out {out} is the source journal; a what-if writes a new journal")
    try:  # a file that is not a journal of this engine is refused for what it is, --replace or not
        out.refuse_existing(replace=replace)
    except JournalError as exc:
        raise WhatIfError(f"--out {exc}") from None


def read_recorded(source: JournalLike) -> Recorded:
    """The first ``RunStarted`` and the sessions of ``source`` up to its head now, and that head's hash."""
    path = parse(source)
    first: RunStarted | None = None
    opened: dict[str, SessionOpened] = {}
    with JournalReader(path) as reader:
        head, digest = reader.head()
        if head == 0:
            raise WhatIfError(f"journal {path} is empty")
        for _, ev in reader.events((RunStarted, SessionOpened), at=head):
            if isinstance(ev, RunStarted):
                if first is None:
                    first = ev
            elif isinstance(ev, SessionOpened):
                opened.setdefault(ev.session, ev)
    if first is None:
        raise WhatIfError(f"journal {path} has no RunStarted: it is not the journal of a run")
    days = [opened[k] for k in sorted(opened)]
    calendar = days[0].calendar if days else ""
    sessions = Sessions(
        calendar,
        [s.session for s in days],
        np.array([s.ts for s in days], dtype=np.int64),
        np.array([s.close_ts for s in days], dtype=np.int64),
    )
    return Recorded(path, first, sessions, head, digest.hex())


def market_inputs(recorded: Recorded, cfg: EngineConfig) -> MarketInputs:
    """The recorded market inputs as the inputs of a simulated run under ``cfg``: the recorded
    dataset fingerprint, the config's universe (the recorded one when it lists none)."""
    if recorded.sessions.calendar and cfg.run.calendar != recorded.sessions.calendar:
        raise WhatIfError(
            f"run.calendar is {cfg.run.calendar!r} but the journal's sessions are "
            f"{recorded.sessions.calendar!r} (sessions are recorded inputs)"
        )
    universe = list(cfg.run.universe) or list(recorded.run.universe)
    dataset = f"whatif:{recorded.path.name}"

    def stream(stats: StreamStats) -> Iterator[Event]:
        return _stream(recorded, frozenset(universe), stats)

    return MarketInputs(
        source=dataset,
        dataset=dataset,
        fingerprint=recorded.run.dataset_fingerprint,
        universe=universe,
        sessions=recorded.sessions,
        start_ts=recorded.run.ts,
        stream=stream,
        run_id_parts=(dataset, recorded.digest),
    )


def _stream(recorded: Recorded, known: frozenset[str], stats: StreamStats) -> Iterator[Event]:
    """The market inputs in journal order; a bar of a symbol outside the what-if universe is
    rejected at the edge (``UNKNOWN_SYMBOL``), as a bar file's row would be."""
    rejected = stats.rejected
    for _, ev in read_events(recorded.path, MARKET_INPUTS, at=recorded.head):
        fed = _unknown_symbol(ev) if isinstance(ev, BarClosed) and ev.symbol not in known else ev
        if isinstance(fed, BarClosed):
            stats.bars_accepted += 1
        elif isinstance(fed, BarRejected):
            rejected[fed.reason] = rejected.get(fed.reason, 0) + 1
        stats.bars_read += isinstance(fed, BarClosed | BarRejected)
        yield fed


def _unknown_symbol(bar: BarClosed) -> BarRejected:
    raw = RawBar(
        timestamp=iso_utc(bar.ts),
        symbol=bar.symbol,
        open=exact(bar.open),
        high=exact(bar.high),
        low=exact(bar.low),
        close=exact(bar.close),
        volume=exact(bar.volume),
    )
    return BarRejected(
        ts=bar.ts,
        reason="UNKNOWN_SYMBOL",
        detail=f"{bar.symbol!r} is not in the what-if universe",
        source_row=0,
        raw=raw,
    )


def whatif(
    source: JournalLike,
    cfg: EngineConfig,
    snapshot: dict[str, object],
    out: JournalLike,
    *,
    replace: bool = False,
    batch: int = DEFAULT_BATCH,
) -> WhatIfResult:
    """Run ``source``'s market inputs under ``cfg`` into the new journal ``out``, then compare the
    two and write the comparison to ``comparison_path(out)``. ``out`` may be a SQLite file or a
    ``postgresql://`` journal, like ``source``."""
    try:
        src, dst = parse(source), parse(out)
        if src.missing():
            raise WhatIfError(f"journal not found: {src}")
        _check_out(src, dst, replace)
        if cfg.broker.kind != "sim":
            raise WhatIfError(
                f"broker.kind is {cfg.broker.kind!r}: a what-if replay fills with the paper "
                "broker, so its config must leave broker.kind at 'sim'"
            )
        # before the run: a comparison path, lock or inbox that holds something else is refused, nothing written
        dst.check_target()
        path = output_file(dst.beside(".comparison.json"), what="comparison", ours=is_comparison, reads=src.files())
    except JournalError as exc:
        raise WhatIfError(str(exc)) from None
    result = simulated_run(
        cfg, snapshot, dst, lambda: market_inputs(read_recorded(src), cfg), batch=batch, replace=replace
    )
    comparison = compare(src, dst)
    write_atomically(path, orjson.dumps(comparison_dict(comparison), option=orjson.OPT_INDENT_2) + b"\n")
    return WhatIfResult(result, comparison, dst.beside(".comparison.json"))


def is_comparison(path: Path) -> bool:
    """Whether ``path`` holds a comparison a what-if replay wrote (a JSON object of its four keys)."""
    if path.stat().st_size > COMPARISON_MAX_BYTES:
        return False
    try:
        content = orjson.loads(path.read_bytes())
    except (orjson.JSONDecodeError, OSError):
        return False
    return isinstance(content, dict) and set(content) == {"journals", "recorded", "what_if", "difference"}
