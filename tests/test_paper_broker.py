"""Paper broker fills through the simulator: exact prices, quotes, limit trade-through, partial fills at
the participation cap, latency, volatility slippage, day expiry of the rest, seeded jitter, fees."""

from __future__ import annotations

import math

from engine.broker.fills import CostModel, fee, half_spread, scaled, slippage
from engine.broker.paper import PaperBroker
from journal_schema.events import (
    BarClosed,
    OrderAccepted,
    OrderExpired,
    OrderFilled,
    OrderPartiallyFilled,
    OrderRejected,
    OrderSubmitRequested,
    SessionClosed,
)

S = 100_000_000


def req(cid="c1", side="buy", qty=100 * S, order_type="market", limit=None, ts=10, tif="day", symbol="A"):
    return OrderSubmitRequested(
        ts=ts,
        cause_seq=1,
        client_order_id=cid,
        intent_id="i",
        symbol=symbol,
        side=side,
        qty=qty,
        order_type=order_type,
        limit_price=limit,
        time_in_force=tif,
    )


def bar(ts, o, h, lo, c, symbol="A", volume=10**6):
    return BarClosed(
        ts=ts,
        symbol=symbol,
        open=o * S // 100,
        high=h * S // 100,
        low=lo * S // 100,
        close=c * S // 100,
        volume=volume * S,
    )


def test_scaled_price_is_exact_half_even():
    assert scaled(100 * S, "buy", 300) == 10003 * S // 100  # 3 bps on $100 = $0.03
    assert scaled(100 * S, "sell", 300) == 9997 * S // 100
    assert scaled(1, "buy", 500_000) == 2  # 1.5 units rounds half-even to 2
    assert scaled(3, "buy", 500_000) == 4  # 4.5 -> 4 (half-even)


def test_market_order_fills_at_next_bar_open_with_costs_and_reports_the_quote():
    b = PaperBroker(CostModel(half_spread_centibps=200, slippage_centibps=100), seed=1, universe=["A"])
    (acc,) = b.submit(req(ts=10))
    assert isinstance(acc, OrderAccepted)
    assert b.on_bar(bar(10, 100_00, 101_00, 99_00, 100_00)) == []  # same timestamp: not the next bar
    (fill,) = b.on_bar(bar(20, 50_00, 51_00, 49_00, 50_00))
    assert isinstance(fill, OrderFilled)
    # sigma after one bar is 0, so slippage is the base 1 bp: $50 x (1 + 2 bp + 1 bp) = $50.015
    assert (fill.fill_price, fill.fill_qty, fill.leaves_qty, fill.ts) == (5001500000, 100 * S, 0, 20)
    assert (fill.bid, fill.ask) == (4999000000, 5001000000)  # $50 -/+ 2 bp
    assert b.on_bar(bar(30, 50_00, 51_00, 49_00, 50_00)) == []


def test_limit_orders_fill_only_when_the_bar_trades_through_and_never_beyond_the_limit():
    def fill(side, limit, o, h, lo):
        b = PaperBroker(CostModel(), seed=1, universe=["A"])
        b.submit(req(side=side, order_type="limit", limit=limit * S, tif="gtc"))
        return [f.fill_price for f in b.on_bar(bar(20, o, h, lo, o))]

    assert fill("buy", 99, 100_00, 101_00, 99_00) == []  # touches, does not trade through
    assert fill("buy", 99, 100_00, 101_00, 98_00) == [99 * S]
    assert fill("buy", 99, 97_00, 101_00, 96_00) == [scaled(97 * S, "buy", 300)]  # opens below: open + costs
    assert fill("sell", 101, 100_00, 101_00, 98_00) == []
    assert fill("sell", 101, 100_00, 102_00, 98_00) == [101 * S]
    assert fill("buy", 100, 100_00, 101_00, 99_00) == [100 * S]  # open + costs above the limit: the limit


def test_a_large_order_fills_in_slices_capped_by_participation_then_completes():
    model = CostModel(half_spread_centibps=0, slippage_centibps=0, max_participation_ppm=100_000)
    b = PaperBroker(model, seed=1, universe=["A"])
    b.submit(req(qty=2_500 * S, ts=10))
    reports = [r for t in (20, 30, 40) for r in b.on_bar(bar(t, 100_00, 101_00, 99_00, 100_00, volume=10_000))]
    assert [type(r) for r in reports] == [OrderPartiallyFilled, OrderPartiallyFilled, OrderFilled]
    assert [r.fill_qty // S for r in reports] == [1_000, 1_000, 500]  # 10 % of 10,000 shares per bar
    assert [r.cum_qty // S for r in reports] == [1_000, 2_000, 2_500]
    assert [r.leaves_qty // S for r in reports] == [1_500, 500, 0]
    assert [r.fill_id for r in reports] == ["paper-00000001-1", "paper-00000001-2", "paper-00000001-3"]


def test_the_participation_cap_is_shared_by_a_symbols_orders_in_submission_order():
    b = PaperBroker(CostModel(max_participation_ppm=100_000), seed=1, universe=["A"])
    b.submit(req(cid="first", qty=800 * S))
    b.submit(req(cid="second", qty=800 * S))
    reports = b.on_bar(bar(20, 100_00, 101_00, 99_00, 100_00, volume=10_000))
    assert [(r.client_order_id, r.fill_qty // S) for r in reports] == [("first", 800), ("second", 200)]


def test_a_bar_too_thin_for_one_share_fills_nothing():
    b = PaperBroker(CostModel(max_participation_ppm=100_000), seed=1, universe=["A"])
    b.submit(req(qty=100 * S))
    assert b.on_bar(bar(20, 100_00, 101_00, 99_00, 100_00, volume=9)) == []
    assert len(b.on_bar(bar(30, 100_00, 101_00, 99_00, 100_00, volume=1_000_000))) == 1


def test_latency_keeps_an_order_off_bars_that_close_before_it_reaches_the_market():
    b = PaperBroker(CostModel(latency_ns=15), seed=1, universe=["A"])
    b.submit(req(ts=10))
    assert b.on_bar(bar(20, 100_00, 101_00, 99_00, 100_00)) == []  # closes 10 ns after the submit
    (fill,) = b.on_bar(bar(30, 101_00, 102_00, 100_00, 101_00))
    assert fill.ts == 30 and fill.bid is not None and fill.bid < 101 * S


def test_the_rest_of_a_partially_filled_day_order_expires_and_a_cancel_takes_the_rest():
    b = PaperBroker(CostModel(), seed=1, universe=["A", "B"], session_closes=[100])
    b.submit(req(cid="day", qty=1_500 * S, ts=10))
    b.submit(req(cid="gtc", qty=1_500 * S, ts=10, tif="gtc", symbol="B"))
    b.on_bar(bar(20, 100_00, 101_00, 99_00, 100_00, volume=10_000))
    b.on_bar(bar(20, 100_00, 101_00, 99_00, 100_00, symbol="B", volume=10_000))
    (exp,) = b.on_session_closed(SessionClosed(ts=100, session="2030-01-01", calendar="X"))
    assert isinstance(exp, OrderExpired) and exp.expired_qty == 500 * S
    from journal_schema.events import OrderCancelRequested

    (canceled,) = b.cancel(OrderCancelRequested(ts=110, cause_seq=1, client_order_id="gtc", reason="OPPOSITE_SIGNAL"))
    assert canceled.canceled_qty == 500 * S


def test_slippage_grows_with_volatility_and_the_square_root_of_participation():
    m = CostModel(slippage_centibps=100, impact_k_ppm=500_000)
    assert slippage(m, 0.0, 10, 1000) == 100
    assert slippage(m, 20_000.0, 10, 1000) == 100 + round(0.5 * 20_000 * math.sqrt(0.01))  # 1 bp more
    assert slippage(m, 20_000.0, 40, 1000) == 100 + round(0.5 * 20_000 * math.sqrt(0.04))  # 2x for 4x size
    assert slippage(m, 20_000.0, 10, 0) == 100  # no volume: the base


def test_volatile_bars_cost_more_than_calm_ones():
    def fill_price(closes):
        model = CostModel(half_spread_centibps=0, slippage_centibps=0, impact_k_ppm=1_000_000)
        b = PaperBroker(model, seed=1, universe=["A"])
        for t, c in enumerate(closes, 1):
            b.on_bar(bar(t, c, c, c, c, volume=10_000))
        b.submit(req(qty=1_000 * S, ts=len(closes)))
        (f,) = b.on_bar(bar(len(closes) + 1, 100_00, 101_00, 99_00, 100_00, volume=10_000))
        return f.fill_price

    calm, wild = fill_price([100_00] * 10), fill_price([100_00, 110_00] * 5)
    assert calm == 100 * S  # sigma 0: no impact
    assert wild > calm


def test_half_spread_from_the_bar_range_is_bounded():
    m = CostModel(
        half_spread_centibps=100, spread_from_range=True, range_fraction_ppm=100_000, max_half_spread_centibps=2_000
    )
    assert half_spread(m, bar(1, 100_00, 101_00, 99_00, 100_00)) == 1_000  # 10 % of a 2 % range, halved: 10 bp
    assert half_spread(m, bar(1, 100_00, 100_01, 100_00, 100_00)) == 100  # floor
    assert half_spread(m, bar(1, 100_00, 150_00, 50_00, 100_00)) == 2_000  # cap


def test_day_limit_order_expires_at_its_session_close():
    b = PaperBroker(CostModel(), seed=1, universe=["A"], session_closes=[100, 200])
    b.submit(req(order_type="limit", limit=90 * S, ts=100))  # accepted at the close: lives in the next session
    assert b.on_session_closed(SessionClosed(ts=100, session="2030-01-01", calendar="X")) == []
    assert b.on_bar(bar(150, 100_00, 101_00, 99_00, 100_00)) == []
    (exp,) = b.on_session_closed(SessionClosed(ts=200, session="2030-01-02", calendar="X"))
    assert isinstance(exp, OrderExpired) and exp.expired_qty == 100 * S


def test_gtc_order_does_not_expire():
    b = PaperBroker(CostModel(), seed=1, universe=["A"], session_closes=[100, 200])
    b.submit(req(order_type="limit", limit=90 * S, ts=100, tif="gtc"))
    assert b.on_session_closed(SessionClosed(ts=200, session="2030-01-02", calendar="X")) == []


def test_rejections_for_unknown_symbol_and_fractional_qty():
    b = PaperBroker(CostModel(), seed=1, universe=["A"])
    (r1,) = b.submit(req(symbol="B"))
    (r2,) = b.submit(req(cid="c2", qty=S // 2))
    assert isinstance(r1, OrderRejected) and r1.reason == "UNKNOWN_SYMBOL"
    assert isinstance(r2, OrderRejected) and r2.reason == "INVALID_QUANTITY"


def test_jitter_is_seeded_and_independent_of_order():
    def price(seed, cids):
        b = PaperBroker(CostModel(half_spread_centibps=0, slippage_centibps=0, jitter_centibps=1000), seed, ["A"])
        for cid in cids:
            b.submit(req(cid=cid))
        return {f.client_order_id: f.fill_price for f in b.on_bar(bar(20, 100_00, 101_00, 99_00, 100_00))}

    a = price(7, [f"c{i}" for i in range(20)])
    assert a == price(7, [f"c{i}" for i in reversed(range(20))])
    assert a != price(8, [f"c{i}" for i in range(20)])
    assert all(100 * S <= p <= 100 * S * 1001 // 1000 for p in a.values())
    assert len(set(a.values())) > 5


def test_fees_per_share_and_bps():
    m = CostModel(fee_per_share=S // 200, fee_centibps=100)  # $0.005/share + 1 bp
    assert fee(m, 100 * S, 50 * S) == S // 2 + S // 2  # $0.50 + 1bp of $5000 = $0.50


def test_cancel_takes_a_working_order_off_at_once():
    from journal_schema.events import OrderCancelRequested

    broker = PaperBroker(CostModel(), 0, ["A"])
    broker.submit(req(cid="c1", order_type="limit", limit=900_000_000, tif="gtc"))
    cancel = OrderCancelRequested(ts=11, cause_seq=1, client_order_id="c1", reason="OPPOSITE_SIGNAL")
    (canceled,) = broker.cancel(cancel)
    assert (type(canceled).__name__, canceled.canceled_qty, canceled.ts) == ("OrderCanceled", 100 * S, 11)
    assert broker.on_bar(bar(12, 800, 850, 700, 800)) == []  # it would have filled
    assert broker.cancel(cancel) == []  # nothing working under that id any more
