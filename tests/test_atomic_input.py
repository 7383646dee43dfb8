"""An input is applied whole or not at all, through the shell, the fold of a reopened journal and replay.

A strategy that raises on one bar (chosen by hypothesis) faults that bar: the core's state is the
state before the bar (the market book, the strategy's own memory), trading halts with
CORE_PROGRAMMING_ERROR, the journal replays byte for byte, and reopening the journal folds to the
same state as the engine that wrote it.
"""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict

from engine.core.strategy import StrategySpec, Target
from engine.journal import read_events
from engine.shell import Engine
from journal_schema.events import BarClosed, SignalGenerated, TradingHalted
from journal_schema.units import SCALE as S
from replay.replayer import replay_journal
from tests.support import run_started, synthetic_stream


class FaultyParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    fail_ts: int = 0
    fail_from: int = 0  # raise on every bar from this time on (0: never)


class Faulty:
    """Counts its symbol's bars, asks for a position on every third, raises on the bar at ``fail_ts``."""

    def __init__(self, params: FaultyParams, symbol: str) -> None:
        self.fail_ts, self.fail_from = params.fail_ts, params.fail_from
        self.seen = 0

    def on_bar(self, bar: BarClosed) -> Target | None:
        self.seen += 1
        if bar.ts == self.fail_ts or 0 < self.fail_from <= bar.ts:
            raise ZeroDivisionError("planted")
        if self.seen % 3:
            return None
        return Target(1 if self.seen % 2 else 0, S if self.seen % 2 else 0, {"seen": self.seen})


SPEC = StrategySpec("faulty", FaultyParams, Faulty)
NAME = "tests.test_atomic_input:SPEC"

bar_lists = st.lists(
    st.tuples(st.sampled_from(["AAA", "BBB"]), st.integers(50, 150).map(lambda p: p * S // 10)),
    min_size=2,
    max_size=60,
)


def _essence(engine: Engine) -> Any:
    state = engine.state
    return (state.risk.market, state.halted, state.inputs, sorted(state.positions.traded()), state.orders.orders)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bars=bar_lists, pick=st.integers(0, 10_000))
def test_a_faulting_bar_changes_nothing_and_all_readers_agree(bars: list[tuple[str, int]], pick: int) -> None:
    stream, _ = synthetic_stream(bars, per_session=20)
    bar_events = [e for e in stream if isinstance(e, BarClosed)]
    faulting = bar_events[pick % len(bar_events)]
    raw = {"strategy": {"name": NAME, "fail_ts": faulting.ts}, "risk": {"profile": "aggressive"}}
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "j.db"
        engine = Engine.open(str(path), batch=7)
        engine.feed(run_started(raw))
        for ev in stream:
            if ev is faulting:
                market = copy.deepcopy(engine.state.risk.market)
                memory = copy.deepcopy(engine.state.strategies)
                out = engine.apply(ev)
                assert [type(e) for e in out][:1] == [TradingHalted] and out[0].reason == "CORE_PROGRAMMING_ERROR"
                assert engine.state.risk.market == market  # the bar marked nothing
                assert {s: v.seen for s, v in engine.state.strategies.items()} == {  # type: ignore[attr-defined]
                    s: v.seen
                    for s, v in memory.items()  # type: ignore[attr-defined]
                }
            else:
                engine.feed(ev)
        engine.close()
        written = _essence(engine)
        reopened = Engine.open(str(path))
        try:
            assert _essence(reopened) == written
        finally:
            reopened.close()
        result = replay_journal(path, page_size=5)
        assert result.divergence is None and result.digest == engine.writer.last_hash.hex()
        # the strategy's memory never counted the faulting bar: every later signal says so
        mine = [b.ts for b in bar_events if b.symbol == faulting.symbol and b is not faulting]
        counted = {ts: i for i, ts in enumerate(mine, 1)}
        later = [e for e in signals_of(path) if e.symbol == faulting.symbol and e.ts > faulting.ts]
        assert [e.features["seen"] for e in later] == [counted[e.ts] for e in later]


def signals_of(path: Path) -> list[SignalGenerated]:
    return [ev for _, ev in read_events(path, [SignalGenerated])]


def test_a_strategy_that_raises_on_every_bar_costs_one_fold_of_the_journal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the fault that halts trading is undone (one fold of the journal); later faults while
    halted derive nothing: the run and its replay stay linear in the number of inputs."""
    import engine.shell

    folds: list[int | None] = []
    real = engine.shell.fold_inputs

    def counted(*args: Any, **kwargs: Any) -> Any:
        folds.append(kwargs.get("until"))
        return real(*args, **kwargs)

    monkeypatch.setattr(engine.shell, "fold_inputs", counted)
    stream, _ = synthetic_stream([("AAA", (100 + i % 7) * S) for i in range(300)], per_session=30)
    bars = [e for e in stream if isinstance(e, BarClosed)]
    raw = {"strategy": {"name": NAME, "fail_from": bars[40].ts}}
    engine = Engine.open(str(tmp_path / "j.db"), batch=7)
    engine.feed(run_started(raw))
    for ev in stream:
        engine.feed(ev)
    engine.close()
    assert engine.state.halted == "CORE_PROGRAMMING_ERROR"
    assert len(folds) == 1  # the first fault; the 259 after it, while halted, fold nothing
    result = replay_journal(tmp_path / "j.db")
    assert result.divergence is None and result.digest == engine.writer.last_hash.hex()
    assert len(folds) == 2  # replay undoes the same one fault
