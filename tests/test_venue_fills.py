"""The venue's fills (issue 3, part 5): the one execution simulator (``engine.broker.fills``), partial
fills at the volume participation cap over several bars, Alpaca's order statuses and VWAP over
HTTP, what the live runner's report translation makes of those snapshots, parity with the
in-process paper broker, day-order expiry and cancels of a partly filled order, and a restart that
fills exactly as an uninterrupted replay.

A small bar CSV with two five-minute synthetic sessions is written to ``tmp_path``; sessions are
built directly (no exchange calendar). Tests drive the replay with ``step()``; alpaca-py's
``TradingClient`` talks to the venue over real HTTP. The venue's other market features:
tests/test_venue_market.py.
"""

from __future__ import annotations

import functools
import json
import sqlite3
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from alpaca.data.historical.stock import StockHistoricalDataClient
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, OrderStatus, TimeInForce
from alpaca.trading.models import Order, TradeAccount
from alpaca.trading.requests import LimitOrderRequest, MarketOrderRequest

from engine.alpaca import parse
from engine.broker.fills import CostModel, fee, scaled
from engine.core.orders import OrderBook, apply_report
from engine.core.positions import PositionBook
from engine.feeds.calendar import Sessions
from engine.feeds.table import read_bar_file
from engine.live.reports import reports_for
from engine.venue import ledger
from engine.venue.market import MarketConfig
from engine.venue.server import VenueServer
from engine.venue.store import VenueStore
from journal_schema.events import (
    Event,
    OrderAccepted,
    OrderCanceled,
    OrderExpired,
    OrderFilled,
    OrderIntentCreated,
    OrderPartiallyFilled,
    OrderSubmitRequested,
)
from journal_schema.units import SCALE, exact, mul_fixed, to_fixed

DAY1 = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)
DAY2 = datetime(2024, 1, 3, 14, 30, tzinfo=UTC)
MIN = timedelta(minutes=1)
NS = 1_000_000_000
COSTS = CostModel(half_spread_centibps=200, slippage_centibps=100, fee_per_share=to_fixed("0.005"))
FLAT = CostModel(half_spread_centibps=200, slippage_centibps=100, fee_per_share=to_fixed("0.005"), impact_k_ppm=0)
# (open, high, low, close) of AAPL's bar closing at open + k minutes, k = 1..5, both days; volume 1000 k
AAPL = [
    ("100", "101", "99.5", "100.5"),
    ("100.5", "101.5", "100", "101"),
    ("101", "102", "100.75", "101.5"),
    ("101.5", "102", "101", "101.25"),
    ("101.25", "101.5", "100.8", "101"),
]
AUTH = {"APCA-API-KEY-ID": "k", "APCA-API-SECRET-KEY": "s"}


def ns(moment: datetime) -> int:
    return int(moment.timestamp()) * NS


def sessions() -> Sessions:
    opens = np.array([ns(DAY1), ns(DAY2)], dtype=np.int64)
    return Sessions("SYN", ["2024-01-02", "2024-01-03"], opens, opens + ns(DAY1 + 5 * MIN) - ns(DAY1))


def write_bars(path: Path) -> Path:
    lines = ["timestamp,symbol,open,high,low,close,volume"]
    for day, shift in ((DAY1, Decimal(0)), (DAY2, Decimal(2))):
        for k, (o, h, lo, c) in enumerate(AAPL, start=1):
            stamp = (day + k * MIN).isoformat().replace("+00:00", "Z")
            prices = ",".join(str(Decimal(x) + shift) for x in (o, h, lo, c))
            lines.append(f"{stamp},AAPL,{prices},{1000 * k}")
            lines.append(
                f"{stamp},MSFT,{Decimal(370) + k},{Decimal(371) + k},{Decimal(369) + k},{Decimal(370) + k},500"
            )
    path.write_text("\n".join(lines) + "\n")
    return path


def market(tmp_path: Path, costs: CostModel = COSTS, seed: int = 7) -> MarketConfig:
    bars = tmp_path / "bars.csv"
    return MarketConfig(
        bars=read_bar_file(bars if bars.exists() else write_bars(bars)), sessions=sessions(), costs=costs, seed=seed
    )


def start(db: Path, config: MarketConfig, speed: float | None = None) -> VenueServer:
    venue = VenueServer(db, None, Decimal("100000"), market=config, speed=speed)
    venue.start()
    return venue


@pytest.fixture
def venue(tmp_path: Path) -> Iterator[VenueServer]:
    server = start(tmp_path / "venue.db", market(tmp_path))
    yield server
    server.stop()


@pytest.fixture
def flat(tmp_path: Path) -> Iterator[VenueServer]:
    """A venue without volatility impact: every fill is open x (1 +/- 3 bps), by hand."""
    server = start(tmp_path / "flat.db", market(tmp_path, FLAT))
    yield server
    server.stop()


def trading(server: VenueServer) -> TradingClient:
    client = TradingClient(api_key="k", secret_key="s", paper=True, url_override=server.base_url)
    client._retry = 0
    client._session.request = functools.partial(client._session.request, timeout=(3.05, 5))  # type: ignore[method-assign]
    return client


def data(server: VenueServer) -> StockHistoricalDataClient:
    client = StockHistoricalDataClient(api_key="k", secret_key="s", url_override=server.base_url)
    client._retry = 0
    return client


def order(client: TradingClient, request: MarketOrderRequest | LimitOrderRequest) -> Order:
    placed = client.submit_order(request)
    assert isinstance(placed, Order)
    return placed


def refresh(client: TradingClient, placed: Order) -> Order:
    again = client.get_order_by_id(placed.id)
    assert isinstance(again, Order)
    return again


def buy(qty: float, cid: str, symbol: str = "AAPL", tif: TimeInForce = TimeInForce.DAY) -> MarketOrderRequest:
    return MarketOrderRequest(symbol=symbol, qty=qty, side=OrderSide.BUY, time_in_force=tif, client_order_id=cid)


def limit_buy(price: float, cid: str) -> LimitOrderRequest:
    return LimitOrderRequest(
        symbol="AAPL", qty=5, side=OrderSide.BUY, time_in_force=TimeInForce.DAY, limit_price=price, client_order_id=cid
    )


def raw(server: VenueServer, path: str) -> object:
    with urllib.request.urlopen(urllib.request.Request(server.base_url + path, headers=AUTH), timeout=5) as r:
        return json.loads(r.read())


def admin(server: VenueServer, method: str, path: str) -> tuple[int, object]:
    request = urllib.request.Request(server.base_url + path, method=method)  # admin paths need no auth
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.status, json.loads(response.read())


def events_of(server: VenueServer, cid: str) -> list[str]:
    return [e for _, e, c, _ in server.store.log() if c == cid]


def px(text: str) -> int:
    return to_fixed(text)


def test_market_order_fills_at_next_bar_open_with_exact_costs(venue: VenueServer) -> None:
    client = trading(venue)
    placed = order(client, buy(10, "m1"))
    assert placed.status == OrderStatus.ACCEPTED
    assert venue.step() == ns(DAY1 + MIN)
    filled = refresh(client, placed)
    price = scaled(px("100"), "buy", 300)  # half-spread 2 bps + slippage 1 bp; no volatility known yet
    assert exact(price) == "100.03000000"
    assert (filled.status, filled.filled_qty, filled.filled_avg_price) == (OrderStatus.FILLED, "10", "100.03")
    assert filled.filled_at == DAY1 + MIN
    assert events_of(venue, "m1") == ["accepted", "filled"]
    (fill,) = venue.fills()
    assert (fill.fill_id, fill.bid, fill.ask) == (f"{placed.id}-1", px("99.98"), px("100.02"))
    paid = mul_fixed(px("10"), price) + fee(COSTS, px("10"), price)
    account = client.get_account()
    assert isinstance(account, TradeAccount)
    assert account.cash == exact(px("100000") - paid).rstrip("0").rstrip(".") == "98999.65"
    assert account.long_market_value == "1005"  # 10 x close 100.5
    assert account.equity == account.portfolio_value == "100004.65"


def test_limit_orders_fill_only_when_traded_through_and_day_orders_expire(venue: VenueServer) -> None:
    client = trading(venue)
    resting = order(client, limit_buy(99, "rest"))  # every day-1 low is >= 99.5
    through = order(client, limit_buy(100.25, "thru"))
    venue.step()  # bar 1 (open 100, low 99.5): trades through 100.25; the cost-adjusted 100.03 is better
    assert refresh(client, through).filled_avg_price == "100.03"
    late = order(client, limit_buy(100.9, "late"))  # bar 2 opens 100.5, low 100: fills at min(limit, cost open)
    venue.step()
    assert refresh(client, late).filled_avg_price == "100.53015"
    for _ in range(2):
        venue.step()
    assert refresh(client, resting).status == OrderStatus.ACCEPTED
    venue.step()  # the bar closing at the session close
    expired = refresh(client, resting)
    assert expired.status == OrderStatus.EXPIRED
    assert expired.expired_at == DAY1 + 5 * MIN
    assert expired.filled_qty == "0" and expired.filled_avg_price is None
    assert events_of(venue, "rest") == ["accepted", "expired"]


def test_a_large_order_fills_over_several_bars_at_the_participation_cap(flat: VenueServer) -> None:
    """550 shares against bars of 1000, 2000, 3000 shares at 10% participation: 100, 200, then the 250
    left. Each poll shows Alpaca's cumulative view; the live runner's translation of those snapshots
    rebuilds every slice."""
    client = trading(flat)
    placed = order(client, buy(550, "big", tif=TimeInForce.GTC))
    books = Books.submitted("big", qty=550, tif="gtc")
    books.poll(flat, "big")  # accepted
    prices = [Fraction(open_) * Fraction("1.0003") for open_ in ("100", "100.5", "101")]  # + 2 bps spread + 1 bp
    slices = [100, 200, 250]
    statuses = [OrderStatus.PARTIALLY_FILLED, OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED]
    for k, status in enumerate(statuses, start=1):
        flat.step()
        now = refresh(client, placed)
        cum = sum(slices[:k])
        vwap = sum((q * p for q, p in zip(slices[:k], prices[:k], strict=True)), Fraction(0)) / cum
        assert (now.status, now.filled_qty) == (status, str(cum))
        assert now.filled_avg_price == str(round(Decimal(vwap.numerator) / Decimal(vwap.denominator), 8).normalize())
        assert now.filled_at == (DAY1 + k * MIN if status == OrderStatus.FILLED else None)
        assert now.updated_at == DAY1 + k * MIN
        books.poll(flat, "big")
    assert refresh(client, placed).filled_avg_price == "100.66655455"  # 55366.605 / 550, half-even to 1e-8
    fills = flat.fills()
    assert [(f.fill_id, f.qty, f.price) for f in fills] == [
        (f"{placed.id}-{n}", px(str(q)), px(str(p.numerator / Decimal(p.denominator))))
        for n, (q, p) in enumerate(zip(slices, prices, strict=True), start=1)
    ]
    assert [(f.bid, f.ask) for f in fills] == [
        (px("99.98"), px("100.02")),
        (px("100.4799"), px("100.5201")),
        (px("100.9798"), px("101.0202")),
    ]
    assert events_of(flat, "big") == ["accepted", "partially_filled", "partially_filled", "filled"]
    _, shown = admin(flat, "GET", "/venue/fills")
    assert isinstance(shown, list) and (shown[1]["qty"], shown[1]["bid"], shown[1]["ask"]) == (
        "200",
        "100.4799",
        "100.5201",
    )
    (position,) = client.get_all_positions()
    assert (position.qty, position.avg_entry_price) == ("550", "100.66655455")  # type: ignore[union-attr]
    assert [type(e) for e in books.reports] == [OrderAccepted, OrderPartiallyFilled, OrderPartiallyFilled, OrderFilled]
    assert [e.fill_qty for e in books.reports[1:]] == [px(str(q)) for q in slices]  # type: ignore[attr-defined]
    for report, fill in zip(books.reports[1:], fills, strict=True):
        assert isinstance(report, OrderPartiallyFilled | OrderFilled)
        # a price derived from a rounded average is exact to within cum / (2 x fill) units (reports.fill_price)
        assert abs(report.fill_price - fill.price) <= report.cum_qty // (2 * report.fill_qty) + 1
    journal = books.orders.orders["big"]
    assert (journal.status, journal.cum_qty, books.positions.qty("AAPL")) == ("FILLED", px("550"), px("550"))
    assert journal.avg_fill_price == px("100.66655455")


def test_a_partly_filled_order_cancels_or_expires_its_rest(flat: VenueServer) -> None:
    """MSFT (500 shares a bar, 50 at the cap) sell 120: 50 + 50, then canceled. AAPL day buy 2000:
    100 + 200 + 300 + 400 + 500 by the close, whose bar expires the other 500."""
    client = trading(flat)
    cxl = order(
        client,
        MarketOrderRequest(
            symbol="MSFT", qty=120, side=OrderSide.SELL, time_in_force=TimeInForce.GTC, client_order_id="cxl"
        ),
    )
    day = order(client, buy(2000, "day"))
    books = Books.submitted("cxl", qty=120, side="sell", symbol="MSFT", tif="gtc").also("day", qty=2000)
    flat.step()
    books.poll(flat, "cxl")  # accepted and 50 filled, seen at once
    flat.step()
    client.cancel_order_by_id(cxl.id)
    canceled = refresh(client, cxl)
    assert (canceled.status, canceled.filled_qty, canceled.canceled_at) == (OrderStatus.CANCELED, "100", DAY1 + 2 * MIN)
    assert canceled.filled_avg_price == str(((371 + 372) * Decimal("0.9997") / 2).normalize())
    assert (canceled.filled_at, canceled.expired_at) == (None, None)
    for _ in range(3):
        flat.step()
    assert refresh(client, cxl).filled_qty == "100"  # nothing fills after the cancel
    assert client.get_open_position("MSFT").qty == "-100"  # type: ignore[union-attr]
    expired = refresh(client, day)
    assert (expired.status, expired.filled_qty, expired.expired_at) == (OrderStatus.EXPIRED, "1500", DAY1 + 5 * MIN)
    assert expired.filled_avg_price is not None and expired.filled_at is None
    assert events_of(flat, "cxl") == ["accepted", "partially_filled", "partially_filled", "canceled"]
    assert events_of(flat, "day") == ["accepted"] + ["partially_filled"] * 5 + ["expired"]
    day_fills = [f.qty for f in flat.fills() if f.client_order_id == "day"]
    assert day_fills == [px(str(q)) for q in (100, 200, 300, 400, 500)]
    books.poll(flat, "cxl")
    books.poll(flat, "day")  # only the final snapshot: five fills and the expiry in one poll
    assert [type(e) for e in books.reports] == [
        OrderAccepted,
        OrderPartiallyFilled,
        OrderPartiallyFilled,
        OrderCanceled,
        OrderAccepted,
        OrderPartiallyFilled,
        OrderExpired,
    ]
    ending = books.reports[3]
    assert isinstance(ending, OrderCanceled) and ending.canceled_qty == px("20")
    ending = books.reports[6]
    assert isinstance(ending, OrderExpired) and (ending.expired_qty, ending.ts) == (px("500"), ns(DAY1 + 5 * MIN))
    assert (books.positions.qty("MSFT"), books.positions.qty("AAPL")) == (-px("100"), px("1500"))
    assert {c: o.status for c, o in books.orders.orders.items()} == {"cxl": "CANCELED", "day": "EXPIRED"}


class Books:
    """The journal's folds of orders, fed with what ``reports_for`` makes of the venue's snapshots."""

    def __init__(self) -> None:
        self.orders = OrderBook()
        self.positions = PositionBook()
        self.reports: list[Event] = []

    @classmethod
    def submitted(cls, cid: str, qty: int, side: str = "buy", symbol: str = "AAPL", tif: str = "day") -> Books:
        return cls().also(cid, qty, side, symbol, tif)

    def also(self, cid: str, qty: int, side: str = "buy", symbol: str = "AAPL", tif: str = "day") -> Books:
        common: dict[str, Any] = dict(
            client_order_id=cid,
            intent_id=f"i-{cid}",
            symbol=symbol,
            side=side,
            qty=qty * SCALE,
            order_type="market",
            limit_price=None,
            time_in_force=tif,
        )
        self.orders.apply_derived(OrderIntentCreated(ts=1, cause_seq=1, decision_id=f"d-{cid}", **common))
        self.orders.apply_derived(OrderSubmitRequested(ts=2, cause_seq=2, **common))
        return self

    def poll(self, server: VenueServer, cid: str) -> None:
        snap = parse.order(raw(server, f"/v2/orders:by_client_order_id?client_order_id={cid}"))
        events = reports_for(self.orders.orders[cid], snap)
        for ev in events:
            apply_report(self.orders, self.positions, ev)
        assert reports_for(self.orders.orders[cid], snap) == []  # the same snapshot again adds nothing
        self.reports += events


def test_a_database_made_before_quotes_were_kept_gets_the_columns(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    with sqlite3.connect(db) as conn:
        conn.execute(
            "CREATE TABLE fills (seq INTEGER PRIMARY KEY AUTOINCREMENT, fill_id TEXT NOT NULL UNIQUE, "
            "order_id TEXT NOT NULL, client_order_id TEXT NOT NULL, symbol TEXT NOT NULL, side TEXT NOT NULL, "
            "qty INTEGER NOT NULL, price INTEGER NOT NULL, fee INTEGER NOT NULL, ts INTEGER NOT NULL)"
        )
        conn.execute(
            "INSERT INTO fills (fill_id, order_id, client_order_id, symbol, side, qty, price, fee, ts) "
            "VALUES ('o-1', 'o', 'c', 'AAPL', 'buy', 100, 200, 0, 5)"
        )
    store = VenueStore(db)
    try:
        with store.transaction() as cur:
            ledger.record_fill(cur, ledger.Fill("p-1", "p", "d", "AAPL", "buy", 100, 200, 0, 6, 199, 201))
        with store.reading() as cur:
            assert [(f.fill_id, f.bid, f.ask) for f in ledger.fills(cur)] == [("o-1", None, None), ("p-1", 199, 201)]
            assert [f.fill_id for f in ledger.fills(cur, "p")] == ["p-1"]
    finally:
        store.close()
