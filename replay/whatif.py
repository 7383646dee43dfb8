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
from engine.journal import unwrap
from engine.journal.pg import PgLocation, is_postgres
from engine.journal.store import journal_name
from engine.journal.target import PathRefused, check_journal_target, journal_to_write, output_file, write_atomically
from engine.redact import shown
from engine.runner import MarketInputs, RunResult, simulated_run
from engine.shell import DEFAULT_BATCH
from journal_schema.events import BarClosed, BarRejected, Event, RawBar, RunStarted, SessionClosed, SessionOpened
from journal_schema.units import exact
from projections.fold import iter_events, open_reader
from projections.render import iso_utc
from replay.compare import Comparison, compare, comparison_dict

MARKET_INPUTS: tuple[type[Event], ...] = (SessionOpened, SessionClosed, BarClosed, BarRejected)


class WhatIfError(ValueError):
    """The what-if replay cannot run as asked (the message is one line for the user)."""


@dataclass(frozen=True)
class Recorded:
    """What the what-if needs from the source journal before it runs, read up to ``head``."""

    path: str | Path  # a SQLite file, or a postgresql:// address
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


def comparison_path(out: str | Path) -> Path:
    """``<out>.comparison.json`` next to a new SQLite journal; ``<table>.comparison.json`` in the working
    directory for a new Postgres journal."""
    if is_postgres(out):
        return Path(f"{PgLocation(str(out)).table}.comparison.json")
    return Path(f"{out}.comparison.json")


def _check_out(src: str | Path, out: str | Path, replace: bool) -> None:
    """``out`` must be a new journal (or ``replace``d), and not the source."""
    from engine.journal.copy import same_journal
    from engine.journal.pg import PgJournalError
    from engine.journal.store import JournalError, JournalReader

    try:
        same = same_journal(src, out)
    except PgJournalError as exc:
        raise WhatIfError(str(exc)) from None
    if same:
        raise WhatIfError(f"--out {shown(out)} is the source journal; a what-if writes a new journal")
    if isinstance(out, Path):
        try:  # a file that is not a journal of this engine is refused for what it is, --replace or not
            exists = journal_to_write(out)[1]
        except PathRefused as exc:
            raise WhatIfError(f"--out {exc}") from None
        if exists and not replace:
            raise WhatIfError(f"--out {out} already holds a journal; give a new path or --replace")
        return
    if replace:
        return
    try:
        with JournalReader(out) as reader:
            held = reader.last_seq()
    except JournalError:
        return  # no journal there yet (or not one: the writer makes it, or says why it cannot)
    if held:
        raise WhatIfError(f"--out {shown(out)} already holds {held} records; give a new table or --replace")


def read_recorded(source: str | Path) -> Recorded:
    path = journal_name(source)
    reader = open_reader(path)
    try:
        head = reader.last_seq()
        last = next(iter(reader.records(head, head)), None)
    finally:
        reader.close()
    if last is None:
        raise WhatIfError(f"journal {path} is empty")
    first: RunStarted | None = None
    opened: dict[str, SessionOpened] = {}
    for _, ev in iter_events(path, at=head, only=(RunStarted, SessionOpened)):
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
    return Recorded(path, first, sessions, head, unwrap(last.state)[0].hex())


def market_inputs(recorded: Recorded, cfg: EngineConfig) -> MarketInputs:
    """The recorded market inputs as the inputs of a simulated run under ``cfg``: the recorded
    dataset fingerprint, the config's universe (the recorded one when it lists none)."""
    if recorded.sessions.calendar and cfg.run.calendar != recorded.sessions.calendar:
        raise WhatIfError(
            f"run.calendar is {cfg.run.calendar!r} but the journal's sessions are "
            f"{recorded.sessions.calendar!r} (sessions are recorded inputs)"
        )
    universe = list(cfg.run.universe) or list(recorded.run.universe)
    name = PgLocation(recorded.path).table if isinstance(recorded.path, str) else recorded.path.name
    dataset = f"whatif:{name}"

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
    for _, ev in iter_events(recorded.path, at=recorded.head, only=MARKET_INPUTS):
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
    source: str | Path,
    cfg: EngineConfig,
    snapshot: dict[str, object],
    out: str | Path,
    *,
    replace: bool = False,
    batch: int = DEFAULT_BATCH,
) -> WhatIfResult:
    """Run ``source``'s market inputs under ``cfg`` into the new journal ``out``, then compare the
    two and write the comparison to ``comparison_path(out)``. ``out`` may be a SQLite file or a
    ``postgresql://`` journal, like ``source``."""
    src, dst = journal_name(source), journal_name(out)
    if isinstance(src, Path) and not src.exists():
        raise WhatIfError(f"journal not found: {src}")
    _check_out(src, dst, replace)
    if cfg.broker.kind != "sim":
        raise WhatIfError(
            f"broker.kind is {cfg.broker.kind!r}: a what-if replay fills with the paper "
            "broker, so its config must leave broker.kind at 'sim'"
        )
    reads = [src] if isinstance(src, Path) else []
    try:  # before the run: a comparison path, lock or inbox that holds something else is refused, nothing written
        check_journal_target(dst)
        path = output_file(comparison_path(dst), what="comparison", ours=is_comparison, reads=reads)
    except PathRefused as exc:
        raise WhatIfError(str(exc)) from None
    result = simulated_run(
        cfg, snapshot, dst, lambda: market_inputs(read_recorded(src), cfg), batch=batch, replace=replace
    )
    comparison = compare(src, dst)
    write_atomically(path, orjson.dumps(comparison_dict(comparison), option=orjson.OPT_INDENT_2) + b"\n")
    return WhatIfResult(result, comparison, comparison_path(dst))


def is_comparison(path: Path) -> bool:
    """Whether ``path`` holds a comparison a what-if replay wrote (a JSON object of its four keys)."""
    if path.stat().st_size > COMPARISON_MAX_BYTES:
        return False
    try:
        content = orjson.loads(path.read_bytes())
    except (orjson.JSONDecodeError, OSError):
        return False
    return isinstance(content, dict) and set(content) == {"journals", "recorded", "what_if", "difference"}
