"""Property tests over random bar sequences and configs, on real journals: the journal properties run on
SQLite and on the real PostgreSQL server (``store``; tests/stores.py skips the Postgres case with the reason
without it)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.shell import Engine
from replay import replay_journal
from tests.stores import STORES, journal_at
from tests.support import recorded_inputs, run_engine, stored, synthetic_stream

S = 100_000_000

configs = st.fixed_dictionaries(
    {
        "strategy": st.fixed_dictionaries(
            {
                "fast": st.integers(1, 4),
                "slow": st.integers(5, 8),
                "qty": st.integers(1, 300),
                "long_only": st.booleans(),
            }
        ),
        "orders": st.fixed_dictionaries(
            {
                "type": st.sampled_from(["market", "limit"]),
                "limit_offset_bps": st.sampled_from([0, 5, 25]),
                "time_in_force": st.sampled_from(["day", "gtc"]),
            }
        ),
        "paper": st.fixed_dictionaries(
            {"slippage_jitter_bps": st.sampled_from([0, 3]), "fee_per_share": st.sampled_from([0, "0.005"])}
        ),
        "run": st.fixed_dictionaries({"seed": st.integers(0, 2**32)}),
    }
)
bar_lists = st.lists(
    st.tuples(st.sampled_from(["AAA", "BBB"]), st.integers(50, 150).map(lambda p: p * S // 10)),
    min_size=1,
    max_size=150,
)
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("store", STORES)
@SETTINGS
@given(cfg=configs, bars=bar_lists, cut=st.floats(0, 1), per_session=st.integers(3, 30))
def test_fold_prefix_stop_reopen_rest_equals_whole(store, cfg, bars, cut, per_session):
    with (
        tempfile.TemporaryDirectory() as d,
        journal_at(store, Path(d), "whole") as whole,
        journal_at(store, Path(d), "split") as split,
    ):
        stream, _ = synthetic_stream(bars, per_session)
        run_engine(whole, stream, cfg)
        inputs = recorded_inputs(whole)  # includes the broker's reports, as recorded
        k = int(cut * len(inputs))
        first = Engine.open(str(split), batch=7)
        for ev in inputs[:k]:
            first.feed(ev)
        first.close()
        second = Engine.open(str(split), batch=7)  # rebuilds the core by folding the prefix
        for ev in inputs[k:]:
            second.feed(ev)
        second.close()
        assert stored(split) == stored(whole)


@pytest.mark.parametrize("store", STORES)
@SETTINGS
@given(cfg=configs, bars=bar_lists, per_session=st.integers(3, 30))
def test_replay_of_random_run_is_identical(store, cfg, bars, per_session):
    with tempfile.TemporaryDirectory() as d, journal_at(store, Path(d), "j") as path:
        stream, _ = synthetic_stream(bars, per_session)
        engine = run_engine(path, stream, cfg)
        result = replay_journal(path, page_size=13)
        assert result.divergence is None
        assert result.digest == engine.writer.last_hash.hex()
        assert result.records == engine.writer.last_seq


@pytest.mark.parametrize("store", STORES)
@SETTINGS
@given(cfg=configs, bars=bar_lists)
def test_same_inputs_same_journal_bytes(store, cfg, bars):
    with tempfile.TemporaryDirectory() as d, journal_at(store, Path(d), "a") as a, journal_at(store, Path(d), "b") as b:
        stream, _ = synthetic_stream(bars, 10)
        run_engine(a, stream, cfg, batch=1)
        run_engine(b, stream, cfg, batch=1000)
        assert stored(a) == stored(b)


resting = st.fixed_dictionaries(
    {  # limits away from the close, good till canceled: many rest
        "strategy": st.fixed_dictionaries(
            {
                "fast": st.integers(1, 3),
                "slow": st.integers(4, 6),
                "qty": st.integers(1, 50),
                "long_only": st.booleans(),
            }
        ),
        "orders": st.fixed_dictionaries(
            {
                "type": st.just("limit"),
                "limit_offset_bps": st.sampled_from([-50, -200, -500]),
                "time_in_force": st.sampled_from(["gtc", "day"]),
            }
        ),
    }
)


long_bar_lists = st.lists(
    st.tuples(st.sampled_from(["AAA", "BBB"]), st.integers(50, 150).map(lambda p: p * S // 10)),
    min_size=60,
    max_size=200,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cfg=resting, bars=long_bar_lists, per_session=st.integers(3, 30))
def test_never_two_sides_working_and_long_only_never_short(cfg, bars, per_session):
    """Cancel first, then trade: at no point of the journal are orders working on both sides of a
    symbol, so a long-only strategy never holds a short position (resting gtc limits included)."""
    from engine.journal import read_events
    from projections.ledger import Ledger

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "j.db"
        stream, _ = synthetic_stream(bars, per_session)
        run_engine(path, stream, cfg)
        ledger = Ledger()
        for seq, ev in read_events(path):
            ledger.apply(seq, ev)
            for symbol in ("AAA", "BBB"):
                sides = {o.side for o in ledger.orders.open_orders(symbol)}
                assert sides != {"buy", "sell"}, (seq, symbol)
                if cfg["strategy"]["long_only"]:
                    assert ledger.positions.qty(symbol) >= 0, (seq, symbol)
        assert not ledger.anomalies
