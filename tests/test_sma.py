from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.core.sma import SmaCross
from engine.strategies import SmaCrossParams
from journal_schema.events import BarClosed


def reference(closes, fast, slow, long_only, qty):
    """Naive SMA crossover with exact rational averages."""
    out, rel = [], 0
    for i in range(len(closes)):
        if i + 1 < slow:
            out.append(None)
            continue
        f = Fraction(sum(closes[i + 1 - fast : i + 1]), fast)
        s = Fraction(sum(closes[i + 1 - slow : i + 1]), slow)
        r = (f > s) - (f < s)
        prev = rel
        if r:
            rel = r
        if prev == 0 or r == 0 or r == prev:
            out.append(None)
        elif r > 0:
            out.append(qty)
        else:
            out.append(0 if long_only else -qty)
    return out


@settings(max_examples=200, deadline=None)
@given(
    closes=st.lists(st.integers(1, 50).map(lambda x: x * 10_000_000), min_size=1, max_size=120),
    fast=st.integers(1, 6),
    extra=st.integers(1, 10),
    long_only=st.booleans(),
)
def test_sma_cross_matches_exact_reference(closes, fast, extra, long_only):
    slow = fast + extra
    strat = SmaCross(SmaCrossParams(fast=fast, slow=slow, qty=7, long_only=long_only), "X")
    got = []
    for i, c in enumerate(closes):
        t = strat.on_bar(BarClosed(ts=i + 1, symbol="X", open=c, high=c, low=c, close=c, volume=0))
        got.append(None if t is None else t.qty)
    assert got == reference(closes, fast, slow, long_only, 7 * 100_000_000)


def test_known_crossover_sequence():
    # fast=2, slow=3: falling then rising prices -> one upward cross at the 5th bar
    strat = SmaCross(SmaCrossParams(fast=2, slow=3, qty=100, long_only=True), "X")
    closes = [10, 9, 8, 9, 12, 13]
    targets = [
        strat.on_bar(BarClosed(ts=i + 1, symbol="X", open=c, high=c, low=c, close=c, volume=0))
        for i, c in enumerate(closes)
    ]
    assert [t.qty if t else None for t in targets] == [None, None, None, None, 100 * 10**8, None]
    assert targets[4].features == {"fast_sma": 10, "slow_sma": 10}  # (9+12)/2 = 10.5 -> 10 (half-even)
