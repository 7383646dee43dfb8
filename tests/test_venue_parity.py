"""The venue fills as the in-process paper broker does, and a restarted venue as an uninterrupted one.

Both come from the one execution simulator (``engine.broker.fills.FillSimulator``): the same bars,
orders and seed must give the same slices (quantity, price, fee, quote) through ``PaperBroker``
and through the venue's HTTP API, with every part of the simulator at work (seeded jitter per
slice, the spread from the bar range, volatility impact, a participation cap that makes orders fill
over several bars, latency), cancels of partly filled orders and day orders expiring their rest.
A venue stopped mid-replay rebuilds the simulator's volatility from the bars it already replayed.
"""

from __future__ import annotations

import random
from pathlib import Path

from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, TimeInForce
from alpaca.trading.models import Order
from alpaca.trading.requests import LimitOrderRequest, MarketOrderRequest

from engine.broker.fills import CostModel, scaled
from engine.broker.paper import PaperBroker
from engine.venue.orders import OrderQuery
from engine.venue.server import VenueServer
from journal_schema.events import (
    BarClosed,
    Event,
    OrderCanceled,
    OrderCancelRequested,
    OrderExpired,
    OrderFilled,
    OrderPartiallyFilled,
    OrderSubmitRequested,
    SessionClosed,
)
from journal_schema.units import SCALE, to_fixed
from tests.test_venue_fills import AAPL, DAY1, MIN, NS, buy, market, ns, order, sessions, start, trading

RICH = CostModel(
    half_spread_centibps=200,
    slippage_centibps=100,
    jitter_centibps=3000,
    fee_per_share=to_fixed("0.005"),
    fee_centibps=10,
    spread_from_range=True,
    range_fraction_ppm=200_000,
    impact_k_ppm=2_000_000,
    max_participation_ppm=50_000,
    latency_ns=90 * NS,
)
# Before step i (the replay at bar i - 1; ten bars, two sessions of five): orders to submit as
# (cid, symbol, side, qty, limit or "", time in force), or ("cancel", cid). AAPL may fill 5% of
# 1000 k shares on its k-th bar of a day, MSFT 25 shares a bar; an order waits 90 s to reach the market.
SCRIPT: dict[int, list[tuple[str, ...]]] = {
    0: [
        ("big", "AAPL", "buy", "420", "", "day"),
        ("lim", "AAPL", "buy", "60", "101.2", "day"),
        ("ms", "MSFT", "sell", "70", "371", "gtc"),
    ],
    2: [("late", "AAPL", "buy", "30", "", "gtc")],
    3: [("cancel", "ms"), ("huge", "AAPL", "buy", "2000", "", "day")],
    5: [("gtc", "AAPL", "sell", "300", "", "gtc"), ("d2", "MSFT", "buy", "1000", "", "day")],
}
Slice = tuple[str, int, int, int, int, int | None, int | None]  # cid, n, qty, price, fee, bid, ask


def venue_act(client: TradingClient, action: tuple[str, ...]) -> None:
    if action[0] == "cancel":
        found = client.get_order_by_client_id(action[1])
        assert isinstance(found, Order)
        client.cancel_order_by_id(found.id)
        return
    cid, symbol, side, qty, limit, tif = action
    common = dict(
        symbol=symbol, qty=int(qty), side=OrderSide(side), time_in_force=TimeInForce(tif), client_order_id=cid
    )
    order(client, LimitOrderRequest(limit_price=float(limit), **common) if limit else MarketOrderRequest(**common))


def paper_act(paper: PaperBroker, ts: int, action: tuple[str, ...]) -> list[Event]:
    if action[0] == "cancel":
        return paper.cancel(
            OrderCancelRequested(ts=ts, cause_seq=1, client_order_id=action[1], reason="OPPOSITE_SIGNAL")
        )
    cid, symbol, side, qty, limit, tif = action
    return paper.submit(
        OrderSubmitRequested(
            ts=ts,
            cause_seq=1,
            client_order_id=cid,
            intent_id=f"i-{cid}",
            symbol=symbol,
            side=side,  # type: ignore[arg-type]
            qty=int(qty) * SCALE,
            order_type="limit" if limit else "market",
            limit_price=to_fixed(limit) if limit else None,
            time_in_force=tif,  # type: ignore[arg-type]
        )
    )


def drive(venue: VenueServer, steps: range, paper: PaperBroker | None = None) -> list[Event]:
    """Run the script's steps on the venue (over HTTP) and, when given, on the paper broker with the
    same bars: every bar, then the session close after its last bar."""
    assert venue.market is not None
    client = trading(venue)
    closes = sessions()
    reports: list[Event] = []
    for i in steps:
        now = venue.market.replay.now_ns
        for action in SCRIPT.get(i, []):
            venue_act(client, action)
            if paper is not None:
                reports += paper_act(paper, now, action)
        ts = venue.step()
        assert ts is not None
        if paper is None:
            continue
        for bar in venue.market.replay.by_ts[ts]:
            reports += paper.on_bar(
                BarClosed(
                    ts=bar.ts,
                    symbol=bar.symbol,
                    open=bar.open,
                    high=bar.high,
                    low=bar.low,
                    close=bar.close,
                    volume=bar.volume,
                )
            )
        if ts in closes.closes:
            day = closes.labels[list(closes.closes).index(ts)]
            reports += paper.on_session_closed(SessionClosed(ts=ts, session=day, calendar="SYN"))
    return reports


def venue_slices(venue: VenueServer) -> list[Slice]:
    return [
        (f.client_order_id, int(f.fill_id.rsplit("-", 1)[1]), f.qty, f.price, f.fee, f.bid, f.ask)
        for f in venue.fills()
    ]


def endings(venue: VenueServer) -> dict[str, tuple[str, int, int]]:
    """``cid -> (status, filled, rest)`` of every order."""
    every = venue.store.list_orders(OrderQuery(status="all", limit=500, direction="asc"))
    return {
        o.client_order_id: (o.status, to_fixed(o.filled_qty), to_fixed(o.qty) - to_fixed(o.filled_qty)) for o in every
    }


def test_a_fill_matches_the_paper_broker_with_its_seeded_jitter(tmp_path: Path) -> None:
    jittery = CostModel(half_spread_centibps=200, slippage_centibps=100, jitter_centibps=5000, fee_centibps=10)
    venue = start(tmp_path / "j.db", market(tmp_path, jittery, seed=42))
    try:
        order(trading(venue), buy(3, "jitter-cid"))
        venue.step()
        paper = PaperBroker(jittery, seed=42, universe=["AAPL"])
        paper.submit(
            OrderSubmitRequested(
                ts=1,
                cause_seq=1,
                client_order_id="jitter-cid",
                intent_id="i",
                symbol="AAPL",
                side="buy",
                qty=to_fixed("3"),
                order_type="market",
                limit_price=None,
                time_in_force="day",
            )
        )
        o, h, lo, c = (to_fixed(x) for x in AAPL[0])
        (report,) = paper.on_bar(
            BarClosed(ts=ns(DAY1 + MIN), symbol="AAPL", open=o, high=h, low=lo, close=c, volume=to_fixed("1000"))
        )
        assert isinstance(report, OrderFilled)
        jitter = random.Random("42:jitter-cid:1").randint(0, 5000)  # slice 1 of the order
        assert report.fill_price == scaled(o, "buy", 300 + jitter)  # no volatility known before the first bar
        (fill,) = venue.fills()
        assert (fill.price, fill.fee, fill.qty, fill.bid, fill.ask) == (
            report.fill_price,
            report.fee,
            report.fill_qty,
            report.bid,
            report.ask,
        )
    finally:
        venue.stop()


def test_partial_fills_match_the_in_process_paper_broker(tmp_path: Path) -> None:
    venue = start(tmp_path / "p.db", market(tmp_path, RICH, seed=42))
    paper = PaperBroker(RICH, seed=42, universe=["AAPL", "MSFT"], session_closes=sessions().closes.tolist())
    try:
        reports = drive(venue, range(10), paper)
        fills = [e for e in reports if isinstance(e, OrderPartiallyFilled | OrderFilled)]
        paper_slices = [
            (e.client_order_id, int(e.fill_id.rsplit("-", 1)[1]), e.fill_qty, e.fill_price, e.fee, e.bid, e.ask)
            for e in fills
        ]
        got = venue_slices(venue)
        assert got == paper_slices
        shares: dict[str, list[int]] = {}
        for cid, _, qty, *_ in got:
            shares.setdefault(cid, []).append(qty // SCALE)
        assert shares == {  # the 5% cap, shared in submission order; 90 s latency skips an order's first bar
            "big": [100, 150, 170],
            "lim": [30, 30],
            "late": [30],
            "huge": [190],
            "ms": [25, 25],
            "gtc": [50, 100, 150],
            "d2": [25] * 5,
        }
        assert {s[3] for s in got if s[0] == "lim"} == {to_fixed("101.2")}  # the limit is honoured
        paper_rest = {
            e.client_order_id: e.canceled_qty if isinstance(e, OrderCanceled) else e.expired_qty
            for e in reports
            if isinstance(e, OrderCanceled | OrderExpired)
        }
        ended = endings(venue)
        assert {c: rest for c, (status, _, rest) in ended.items() if status in ("canceled", "expired")} == paper_rest
        assert {c: status for c, (status, _, _) in ended.items()} == {
            "big": "filled",
            "lim": "filled",
            "late": "filled",
            "gtc": "filled",
            "ms": "canceled",
            "huge": "expired",
            "d2": "expired",
        }
        for cid in ("ms", "huge", "d2"):  # partly filled before their rest was canceled or expired
            assert ended[cid][1] > 0 and ended[cid][2] > 0
    finally:
        venue.stop()


def test_a_restarted_venue_fills_exactly_as_an_uninterrupted_one(tmp_path: Path) -> None:
    config = market(tmp_path, RICH, seed=9)
    whole = start(tmp_path / "whole.db", config)
    try:
        drive(whole, range(4))
        assert whole.market is not None
        sigma = {s: whole.market.sim.sigma_cbp(s) for s in ("AAPL", "MSFT")}
        drive(whole, range(4, 10))
        expected, expected_end = venue_slices(whole), endings(whole)
    finally:
        whole.stop()
    first = start(tmp_path / "split.db", config)
    drive(first, range(4))
    first.stop()
    second = start(tmp_path / "split.db", config)
    try:
        assert second.market is not None
        assert {s: second.market.sim.sigma_cbp(s) for s in ("AAPL", "MSFT")} == sigma  # warmed from the replayed bars
        assert sigma["AAPL"] > 0 and sigma["MSFT"] > 0
        drive(second, range(4, 10))
        assert venue_slices(second) == expected
        assert endings(second) == expected_end
        assert any(s[0] == "huge" for s in expected)  # fills after the restart point exist
    finally:
        second.stop()
