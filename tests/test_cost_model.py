"""The cost model (engine.core.costs.model): calibration from quoted fills, priors, bounds, staleness,
the fill-to-bar join, and convergence to the simulator's true parameters on a long seeded run."""

from __future__ import annotations

import math
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.broker.fills import CostModel, FillSimulator, WorkingOrder
from engine.core.costs.model import CostBook, FillSample
from engine.core.costs.params import DAY_NS, CostParams
from journal_schema.events import BarClosed

S = 100_000_000


def sample(ts: int, side: int, qty: int, price: int, bid: int, ask: int, fee: int = 0) -> FillSample:
    return FillSample(ts, side, qty * S, price, fee, bid, ask)


def test_priors_stand_in_until_min_samples_and_the_estimate_says_so() -> None:
    book = CostBook(CostParams(min_samples=3, prior_half_spread_cbp=200, prior_slippage_cbp=100, prior_k=0.0))
    book.on_bar("A", 10, 100 * S, 1_000 * S)
    est = book.estimate("A", 10 * S, 20)
    assert (est.cost_cbp, est.half_spread_cbp, est.slippage_cbp, est.fee_cbp) == (300, 200, 100, 0)
    assert (est.samples, est.age_ns, est.calibrated, est.stale) == (0, None, False, True)


def test_calibration_recovers_spread_slippage_and_fee_from_quoted_fills() -> None:
    # every fill: mid $100, bid/ask $99.95/$100.05 (5 bp half-spread), buys 2 bp beyond the ask, 1 bp fee
    book = CostBook(CostParams(min_samples=2, alpha=0.5, prior_k=0.0))
    book.on_bar("A", 10, 100 * S, 1_000 * S)
    for ts in (10, 10, 10):
        price = 100 * S + 7 * S // 100  # $100.07 = ask + 2 bp of mid
        book.on_fill("A", sample(ts, +1, 10, price, 9995 * S // 100, 10005 * S // 100, fee=10007 * S // 100_000))
    half, base, k, fee, calibrated = book.fit("A")
    assert calibrated and round(half) == 500 and round(base) == 200 and k == 0.0 and round(fee) == 100
    assert book.estimate("A", 10 * S, 10 + DAY_NS).cost_cbp == 800
    assert book.estimate("A", 10 * S, 10 + DAY_NS).stale is False


def test_a_sells_slippage_is_measured_below_the_bid() -> None:
    book = CostBook(CostParams(min_samples=1, prior_k=0.0))
    book.on_bar("A", 10, 100 * S, 1_000 * S)
    book.on_fill("A", sample(10, -1, 10, 9993 * S // 100, 9995 * S // 100, 10005 * S // 100))  # 2 bp under the bid
    _, base, _, _, _ = book.fit("A")
    assert round(base) == 200


def test_the_model_goes_stale_without_recent_fills() -> None:
    book = CostBook(CostParams(min_samples=1, max_age_ns=DAY_NS))
    book.on_bar("A", 10, 100 * S, 1_000 * S)
    book.on_fill("A", sample(10, 1, 1, 100 * S, 99 * S, 101 * S))
    assert book.estimate("A", S, 10 + DAY_NS).stale is False
    assert book.estimate("A", S, 11 + DAY_NS).stale is True


def test_a_fill_waits_for_its_bar_and_is_joined_with_that_bars_volume_and_prior_volatility() -> None:
    book = CostBook(CostParams(min_samples=1, prior_k=0.0))
    for t, c in enumerate([100, 110, 100], 1):
        book.on_bar("A", t, c * S, 1_000 * S)
    sigma_before = book.symbols["A"].vol.sigma_cbp
    book.on_fill("A", sample(4, 1, 250, 100 * S, 100 * S, 100 * S))  # stamped at the bar still to come
    assert book.symbols["A"].samples == 0 and len(book.symbols["A"].pending) == 1
    book.on_bar("A", 4, 100 * S, 1_000 * S)
    s = book.symbols["A"]
    assert s.samples == 1 and not s.pending
    assert math.isclose(s.sx / s.s0, sigma_before * math.sqrt(250 / 1_000))


def test_outputs_are_bounded() -> None:
    book = CostBook(CostParams(min_samples=1, max_cost_cbp=1_000, prior_k=0.0))
    book.on_bar("A", 10, 100 * S, 1_000 * S)
    book.on_fill("A", sample(10, 1, 10, 150 * S, 99 * S, 101 * S))  # a wild fill: 49 % beyond the ask
    est = book.estimate("A", 10 * S, 10)
    assert est.cost_cbp == 1_000 and est.slippage_cbp <= 1_000


def test_the_model_converges_to_the_simulators_true_parameters_on_a_long_seeded_run() -> None:
    """3,000 bars of a seeded random walk; an order of a random size every bar, filled by the
    simulator; the model is fed the simulator's fills and bars in journal order (a bar's fills first)."""
    truth = CostModel(
        half_spread_centibps=300,
        slippage_centibps=150,
        jitter_centibps=200,
        impact_k_ppm=800_000,
        max_participation_ppm=1_000_000,
    )
    sim = FillSimulator(truth, seed=11)
    book = CostBook(CostParams(min_samples=50, alpha=0.002, prior_k=0.0, max_k=20.0))
    rng = random.Random(5)
    close, ts = 100 * S, 0
    working: WorkingOrder | None = None
    for n in range(3_000):
        ts += 1_000
        close = max(S, round(close * (1 + rng.gauss(0, 0.01))))
        open_ = close
        bar = BarClosed(
            ts=ts, symbol="A", open=open_, high=open_ + S // 10, low=open_ - S // 10, close=close, volume=100_000 * S
        )
        for f in sim.on_bar(bar, [working] if working is not None else []):
            side = 1 if working is not None and working.side == "buy" else -1
            book.on_fill("A", FillSample(ts, side, f.qty, f.price, f.fee, f.bid, f.ask))
        book.on_bar("A", ts, close, bar.volume)
        qty = rng.randint(1, 30_000) * S  # up to 30 % participation: x spans a wide range
        working = WorkingOrder(f"o{n}", "buy" if n % 2 else "sell", "market", None, qty, ts, ts, 0)
    half, base, k, fee, calibrated = book.fit("A")
    assert calibrated and book.symbols["A"].samples > 2_900
    assert abs(half - 300) < 1  # the quoted half-spread exactly (to the 1e-8 rounding of bid and ask)
    assert abs(base - (150 + 100)) < 15  # base slippage plus the mean of the uniform [0, 200] jitter
    assert abs(k - 0.8) < 0.05
    assert fee == 0
    print(f"calibrated half-spread {half:.2f}, base {base:.2f} (truth 250 with jitter), k {k:.4f} (truth 0.8)")


@st.composite
def folds(draw: st.DrawFn) -> tuple[CostParams, list[tuple[str, object]]]:
    params = CostParams(
        min_samples=draw(st.integers(1, 5)),
        alpha=draw(st.sampled_from([0.01, 0.1, 0.5, 1.0])),
        max_cost_cbp=draw(st.integers(100, 50_000)),
        max_k=draw(st.sampled_from([0.0, 1.0, 20.0])),
        prior_k=draw(st.sampled_from([0.0, 1.0])),
    )
    steps: list[tuple[str, object]] = []
    ts = 0
    for _ in range(draw(st.integers(1, 40))):
        ts += draw(st.integers(0, 3))
        mid = draw(st.integers(1, 10_000)) * S // 100
        if draw(st.booleans()):
            steps.append(("bar", (ts, mid, draw(st.integers(0, 10_000)) * S)))
        else:
            half = draw(st.integers(0, mid // 10))
            price = draw(st.integers(max(1, mid - mid // 5), mid + mid // 5))
            steps.append(
                (
                    "fill",
                    FillSample(
                        ts,
                        draw(st.sampled_from([1, -1])),
                        draw(st.integers(1, 500)) * S,
                        price,
                        draw(st.integers(0, S)),
                        mid - half,
                        mid + half,
                    ),
                )
            )
    return params, steps


def fold(params: CostParams, steps: list[tuple[str, object]]) -> CostBook:
    book = CostBook(params)
    for kind, item in steps:
        if kind == "bar":
            ts, close, volume = item  # type: ignore[misc]
            book.on_bar("A", ts, close, volume)
        else:
            assert isinstance(item, FillSample)
            book.on_fill("A", item)
    return book


@settings(max_examples=200, deadline=None)
@given(folds(), st.integers(1, 100_000))
def test_estimates_are_bounded_monotone_in_size_and_deterministic(scenario: tuple, shares: int) -> None:
    params, steps = scenario
    book = fold(params, steps)
    est = book.estimate("A", shares * S, 100)
    assert 0 <= est.cost_cbp <= params.max_cost_cbp
    assert 0 <= est.half_spread_cbp <= params.max_cost_cbp and 0 <= est.slippage_cbp <= params.max_cost_cbp
    _, _, k, _, calibrated = book.fit("A")
    assert 0.0 <= k <= params.max_k
    assert est.stale or calibrated
    bigger = book.estimate("A", 2 * shares * S, 100)
    assert bigger.cost_cbp >= est.cost_cbp  # a larger order never expects to cost less per share
    assert fold(params, steps).estimate("A", shares * S, 100) == est
