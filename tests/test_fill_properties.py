"""Conservation properties of the execution simulator, through the paper broker (hypothesis):
filled quantity never exceeds the order, partial fills sum to the fill, a limit is never violated,
the participation cap holds on every bar, and the same seed gives the same fills."""

from __future__ import annotations

from collections import defaultdict

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.broker.fills import CostModel
from engine.broker.paper import PaperBroker
from journal_schema.events import (
    BarClosed,
    Event,
    OrderCanceled,
    OrderCancelRequested,
    OrderFilled,
    OrderPartiallyFilled,
    OrderSubmitRequested,
)

S = 100_000_000
SYMBOLS = ("A", "B")


@st.composite
def bars(draw: st.DrawFn, ts: int, symbol: str) -> BarClosed:
    low = draw(st.integers(50, 150)) * S
    high = low + draw(st.integers(0, 20)) * S // 4
    open_ = draw(st.integers(low, high))
    close = draw(st.integers(low, high))
    volume = draw(st.integers(0, 50_000)) * S
    return BarClosed(ts=ts, symbol=symbol, open=open_, high=high, low=low, close=close, volume=volume)


@st.composite
def orders(draw: st.DrawFn, n: int, ts: int) -> OrderSubmitRequested:
    kind = draw(st.sampled_from(["market", "limit"]))
    return OrderSubmitRequested(
        ts=ts,
        cause_seq=1,
        client_order_id=f"o{n}",
        intent_id=f"i{n}",
        symbol=draw(st.sampled_from(SYMBOLS)),
        side=draw(st.sampled_from(["buy", "sell"])),
        qty=draw(st.integers(1, 8_000)) * S,
        order_type=kind,
        limit_price=draw(st.integers(50, 160)) * S if kind == "limit" else None,
        time_in_force="gtc",
    )


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[CostModel, list[tuple[str, object]]]:
    model = CostModel(
        half_spread_centibps=draw(st.integers(0, 2_000)),
        slippage_centibps=draw(st.integers(0, 2_000)),
        jitter_centibps=draw(st.integers(0, 1_000)),
        impact_k_ppm=draw(st.integers(0, 3_000_000)),
        max_participation_ppm=draw(st.integers(1, 1_000_000)),
        spread_from_range=draw(st.booleans()),
        latency_ns=draw(st.integers(0, 25)),
        fee_centibps=draw(st.integers(0, 100)),
    )
    steps: list[tuple[str, object]] = []
    n = 0
    for t in range(1, draw(st.integers(2, 25)) + 1):
        ts = t * 10
        for _ in range(draw(st.integers(0, 2))):
            n += 1
            steps.append(("submit", draw(orders(n, ts))))
        if n and draw(st.integers(0, 9)) == 0:
            steps.append(("cancel", f"o{draw(st.integers(1, n))}"))
        for symbol in SYMBOLS:
            steps.append(("bar", draw(bars(ts + 5, symbol))))
    return model, steps


def run(model: CostModel, steps: list[tuple[str, object]], seed: int = 3) -> tuple[list[Event], dict[str, object]]:
    broker = PaperBroker(model, seed, list(SYMBOLS))
    out: list[Event] = []
    submitted: dict[str, object] = {}
    per_bar: list[tuple[BarClosed, list[Event]]] = []
    for kind, item in steps:
        if kind == "submit":
            assert isinstance(item, OrderSubmitRequested)
            submitted[item.client_order_id] = item
            out += broker.submit(item)
        elif kind == "cancel":
            out += broker.cancel(
                OrderCancelRequested(ts=0, cause_seq=1, client_order_id=str(item), reason="OPPOSITE_SIGNAL")
            )
        else:
            assert isinstance(item, BarClosed)
            reports = broker.on_bar(item)
            per_bar.append((item, reports))
            out += reports
    submitted["_per_bar"] = per_bar
    return out, submitted


@settings(max_examples=150, deadline=None)
@given(scenarios())
def test_fills_conserve_quantity_respect_limits_and_the_participation_cap(scenario: tuple) -> None:
    model, steps = scenario
    out, submitted = run(model, steps)
    filled: dict[str, int] = defaultdict(int)
    done: set[str] = set()
    for ev in out:
        if isinstance(ev, (OrderPartiallyFilled, OrderFilled)):
            req = submitted[ev.client_order_id]
            assert isinstance(req, OrderSubmitRequested)
            assert ev.client_order_id not in done, "a fill after the order ended"
            assert ev.fill_qty > 0 and ev.fill_qty % S == 0
            filled[ev.client_order_id] += ev.fill_qty
            assert ev.cum_qty == filled[ev.client_order_id], "partial fills sum to the cumulative fill"
            assert ev.cum_qty + ev.leaves_qty == req.qty
            assert filled[ev.client_order_id] <= req.qty, "filled quantity never exceeds the order"
            assert isinstance(ev, OrderFilled) == (ev.leaves_qty == 0)
            assert ev.bid is not None and ev.ask is not None and ev.bid <= ev.ask
            if req.limit_price is not None:
                assert ev.fill_price <= req.limit_price if req.side == "buy" else ev.fill_price >= req.limit_price
            else:
                assert ev.fill_price >= ev.ask if req.side == "buy" else ev.fill_price <= ev.bid
            if isinstance(ev, OrderFilled):
                done.add(ev.client_order_id)
        elif isinstance(ev, OrderCanceled):
            req = submitted[ev.client_order_id]
            assert isinstance(req, OrderSubmitRequested)
            assert ev.canceled_qty == req.qty - filled[ev.client_order_id]
            done.add(ev.client_order_id)
    per_bar = submitted["_per_bar"]
    assert isinstance(per_bar, list)
    for bar, reports in per_bar:
        taken = sum(r.fill_qty for r in reports if isinstance(r, (OrderPartiallyFilled, OrderFilled)))
        assert taken * 1_000_000 <= bar.volume * model.max_participation_ppm, "participation cap on every bar"
        assert all(r.ts == bar.ts for r in reports)


@settings(max_examples=40, deadline=None)
@given(scenarios())
def test_the_same_seed_gives_the_same_fills(scenario: tuple) -> None:
    model, steps = scenario
    assert run(model, steps)[0] == run(model, steps)[0]
