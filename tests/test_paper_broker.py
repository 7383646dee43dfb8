"""Paper broker fills: exact prices, limit trade-through, day expiry, seeded jitter, fees."""

from __future__ import annotations

from engine.broker.fills import CostModel, fee, limit_price_fill, market_price
from engine.broker.paper import PaperBroker
from journal_schema.events import (
    BarClosed,
    OrderAccepted,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderSubmitRequested,
    SessionClosed,
)

S = 100_000_000


def req(cid="c1", side="buy", qty=100 * S, order_type="market", limit=None, ts=10, tif="day", symbol="A"):
    return OrderSubmitRequested(ts=ts, cause_seq=1, client_order_id=cid, intent_id="i", symbol=symbol, side=side,
                                qty=qty, order_type=order_type, limit_price=limit, time_in_force=tif)


def bar(ts, o, h, lo, c, symbol="A"):
    return BarClosed(ts=ts, symbol=symbol, open=o * S // 100, high=h * S // 100, low=lo * S // 100,
                     close=c * S // 100, volume=10**6 * S)


def test_market_price_is_open_plus_costs_exactly():
    assert market_price(100 * S, "buy", 300) == 10003 * S // 100  # 3 bps on $100 = $0.03
    assert market_price(100 * S, "sell", 300) == 9997 * S // 100
    assert market_price(1, "buy", 500_000) == 2  # 1.5 units rounds half-even to 2
    assert market_price(3, "buy", 500_000) == 4  # 4.5 -> 4 (half-even)


def test_market_order_fills_at_next_bar_open_with_costs():
    b = PaperBroker(CostModel(half_spread_centibps=200, slippage_centibps=100), seed=1, universe=["A"])
    (acc,) = b.submit(req(ts=10))
    assert isinstance(acc, OrderAccepted)
    assert b.on_bar(bar(10, 100_00, 101_00, 99_00, 100_00)) == []  # same timestamp: not the next bar
    (fill,) = b.on_bar(bar(20, 50_00, 51_00, 49_00, 50_00))
    assert isinstance(fill, OrderFilled)
    assert (fill.fill_price, fill.fill_qty, fill.leaves_qty, fill.ts) == (5001500000, 100 * S, 0, 20)
    assert b.on_bar(bar(30, 50_00, 51_00, 49_00, 50_00)) == []


def test_limit_buy_fills_only_when_bar_trades_through():
    assert limit_price_fill(100 * S, 101 * S, 99 * S, "buy", 99 * S, 0) is None  # touches, does not trade through
    assert limit_price_fill(100 * S, 101 * S, 98 * S, "buy", 99 * S, 0) == 99 * S
    assert limit_price_fill(97 * S, 101 * S, 96 * S, "buy", 99 * S, 0) == 97 * S  # opens below: fills at open
    assert limit_price_fill(100 * S, 101 * S, 98 * S, "sell", 101 * S, 0) is None
    assert limit_price_fill(100 * S, 102 * S, 98 * S, "sell", 101 * S, 0) == 101 * S


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
