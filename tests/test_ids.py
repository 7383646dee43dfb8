from hypothesis import given, settings
from hypothesis import strategies as st

from engine.core.ids import client_order_id

fields = st.fixed_dictionaries(
    {
        "strategy": st.sampled_from(["sma_cross", "x"]),
        "symbol": st.sampled_from(["AAPL", "MSFT", "A"]),
        "side": st.sampled_from(["buy", "sell"]),
        "session": st.sampled_from(["2024-01-02", "2024-01-03"]),
        "horizon": st.just("next_bar"),
        "signal_id": st.text(max_size=30),
        "qty": st.integers(1, 10**12),
    }
)


@settings(max_examples=300)
@given(fields)
def test_same_decision_same_id_and_within_alpaca_limit(f):
    a, b = client_order_id(**f), client_order_id(**dict(f))
    assert a == b
    assert a.startswith("CID1-") and len(a) == 37 and len(a) <= 128


def test_known_value_is_stable_across_releases():
    """Changing the scheme would orphan orders at the broker after an upgrade: pin it."""
    cid = client_order_id(
        strategy="sma_cross",
        symbol="AAPL",
        side="buy",
        session="2024-01-02",
        horizon="next_bar",
        signal_id="sig-1",
        qty=100 * 10**8,
    )
    assert cid == "CID1-f9fc3dc6ab8e07d535167bec3aa83988"


def test_no_collisions_over_a_large_sample():
    ids = {
        client_order_id(
            strategy="sma_cross",
            symbol=sym,
            side=side,
            session=f"2024-01-{d:02d}",
            horizon="next_bar",
            signal_id=f"sig-{i}",
            qty=q,
        )
        for sym in ("AAPL", "MSFT")
        for side in ("buy", "sell")
        for d in range(1, 6)
        for i in range(500)
        for q in (1, 100)
    }
    assert len(ids) == 2 * 2 * 5 * 500 * 2


def test_different_random_decisions_never_collide():
    """200,000 distinct random decisions (seeded) give 200,000 distinct ids."""
    import random

    rng = random.Random(20261201)
    symbols = ["AAPL", "MSFT", "GOOG", "IBM", "A", "BRK.B"]
    decisions = set()
    while len(decisions) < 200_000:
        decisions.add(
            (
                rng.choice(["sma_cross", "breakout"]),
                rng.choice(symbols),
                rng.choice(["buy", "sell"]),
                f"20{rng.randint(10, 30)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                rng.choice(["next_bar", "1d"]),
                f"sig-{rng.getrandbits(64):016x}",
                rng.randint(1, 10**12),
            )
        )
    ids = {
        client_order_id(strategy=a, symbol=b, side=c, session=d, horizon=e, signal_id=f, qty=g)
        for a, b, c, d, e, f, g in decisions
    }
    assert len(ids) == len(decisions)
