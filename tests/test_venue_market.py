"""The venue's market besides fills (issue 3, part 5, slice 2): positions and account marked to the
replay, historical bars without look-ahead, the clock, restart mid-replay, the real-time driver,
the admin API, daily bar stamping and the bar file a database remembers. Fills and their parity
with the paper broker: tests/test_venue_fills.py (whose bar file and sessions these tests share).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from alpaca.common.exceptions import APIError
from alpaca.data.models import BarSet
from alpaca.data.requests import StockBarsRequest
from alpaca.data.timeframe import TimeFrame
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, OrderStatus, TimeInForce
from alpaca.trading.models import Order, Position
from alpaca.trading.requests import MarketOrderRequest

from engine.broker.fills import fee, scaled
from engine.feeds.calendar import Sessions
from engine.feeds.table import read_bar_file
from engine.venue.errors import VenueConfigError
from engine.venue.faults import FAULT_KINDS
from engine.venue.market import MarketConfig
from engine.venue.server import VenueServer
from journal_schema.units import exact, mul_fixed, to_fixed
from tests.test_venue_fills import (
    COSTS,
    DAY1,
    DAY2,
    MIN,
    admin,
    buy,
    data,
    limit_buy,
    ns,
    order,
    raw,
    refresh,
    sessions,
    start,
    trading,
    write_bars,
)


@pytest.fixture
def config(tmp_path: Path) -> MarketConfig:
    return MarketConfig(bars=read_bar_file(write_bars(tmp_path / "bars.csv")), sessions=sessions(), costs=COSTS, seed=7)


@pytest.fixture
def venue(tmp_path: Path, config: MarketConfig) -> Iterator[VenueServer]:
    server = start(tmp_path / "venue.db", config)
    yield server
    server.stop()


def test_positions_are_strings_marked_to_last_close(venue: VenueServer) -> None:
    client = trading(venue)
    assert client.get_all_positions() == []
    order(client, buy(10, "b1"))
    venue.step()
    order(
        client,
        MarketOrderRequest(
            symbol="AAPL", qty=4, side=OrderSide.SELL, time_in_force=TimeInForce.GTC, client_order_id="s1"
        ),
    )
    venue.step()
    (position,) = client.get_all_positions()
    assert isinstance(position, Position)
    assert (position.symbol, position.qty, position.side.value) == ("AAPL", "6", "long")
    assert position.avg_entry_price == "100.03"
    assert position.cost_basis == "600.18"
    assert position.current_price == "101"  # close of the bar at 14:32
    assert position.market_value == "606"
    assert position.unrealized_pl == "5.82"
    assert position.lastday_price is None  # no earlier session close in the file
    by_symbol = client.get_open_position("AAPL")
    assert isinstance(by_symbol, Position) and by_symbol.model_dump() == position.model_dump()
    assert client.get_open_position(str(position.asset_id)).symbol == "AAPL"  # type: ignore[union-attr]
    body = raw(venue, "/v2/positions")
    assert isinstance(body, list)
    assert all(isinstance(v, str) for k, v in body[0].items() if k not in ("asset_marginable",))
    with pytest.raises(APIError) as missing:
        client.get_open_position("MSFT")
    assert (missing.value.status_code, missing.value.message) == (404, "position does not exist")
    sell_price = scaled(to_fixed("100.5"), "sell", 300)  # no volatility known yet: no impact
    bought, ten, four = to_fixed("100.03"), to_fixed("10"), to_fixed("4")
    cash = (
        to_fixed("100000")
        - mul_fixed(ten, bought)
        - fee(COSTS, ten, bought)
        + mul_fixed(four, sell_price)
        - fee(COSTS, four, sell_price)
    )
    account = client.get_account()
    assert account.cash == str(Decimal(exact(cash)).normalize())  # type: ignore[union-attr]
    assert account.equity == str((Decimal(exact(cash)) + Decimal(606)).normalize())  # type: ignore[union-attr]
    for _ in range(5):
        venue.step()  # into day 2: lastday is day 1's last close
    assert client.get_open_position("AAPL").lastday_price == "101"  # type: ignore[union-attr]


def test_bars_paginate_without_look_ahead(venue: VenueServer) -> None:
    assert raw(venue, "/v2/stocks/bars?symbols=AAPL&timeframe=1Min") == {"bars": {}, "next_page_token": None}
    for _ in range(3):
        venue.step()
    venue.app.bars_page_size = 2  # smaller pages than alpaca-py asks for, so it follows page tokens
    request = StockBarsRequest(symbol_or_symbols=["MSFT", "AAPL"], timeframe=TimeFrame.Minute, start=DAY1)
    bars = data(venue).get_stock_bars(request)
    assert isinstance(bars, BarSet)
    assert [b.timestamp for b in bars["AAPL"]] == [DAY1, DAY1 + MIN, DAY1 + 2 * MIN]  # t = close - 1 min
    assert [b.timestamp for b in bars["MSFT"]] == [DAY1, DAY1 + MIN, DAY1 + 2 * MIN]
    first = bars["AAPL"][0]
    assert (first.open, first.high, first.low, first.close, first.volume) == (100.0, 101.0, 99.5, 100.5, 1000.0)
    page = raw(venue, "/v2/stocks/bars?symbols=AAPL,MSFT&timeframe=1Min&limit=4")
    assert isinstance(page, dict) and page["next_page_token"] is not None
    assert [len(v) for v in page["bars"].values()] == [2]
    window = data(venue).get_stock_bars(
        StockBarsRequest(symbol_or_symbols="AAPL", timeframe=TimeFrame.Minute, start=DAY1 + MIN, end=DAY1 + MIN)
    )
    assert [b.close for b in window["AAPL"]] == [101.0]
    with pytest.raises(APIError) as wrong:
        data(venue).get_stock_bars(StockBarsRequest(symbol_or_symbols="AAPL", timeframe=TimeFrame.Day))
    assert wrong.value.status_code == 422 and "1Min" in wrong.value.message


def test_clock_follows_replay_and_session_calendar(venue: VenueServer) -> None:
    client = trading(venue)
    clock = client.get_clock()
    assert (clock.timestamp, clock.is_open) == (DAY1, True)  # type: ignore[union-attr]
    assert clock.next_close == DAY1 + 5 * MIN and clock.next_open == DAY2  # type: ignore[union-attr]
    for _ in range(4):
        venue.step()
    assert client.get_clock().is_open is True  # type: ignore[union-attr]
    venue.step()  # 14:35: the session close
    clock = client.get_clock()
    assert (clock.timestamp, clock.is_open) == (DAY1 + 5 * MIN, False)  # type: ignore[union-attr]
    assert (clock.next_open, clock.next_close) == (DAY2, DAY2 + 5 * MIN)  # type: ignore[union-attr]
    venue.step()
    assert client.get_clock().is_open is True  # type: ignore[union-attr]


def test_state_survives_restart_mid_replay(tmp_path: Path, config: MarketConfig) -> None:
    db = tmp_path / "restart.db"
    first = start(db, config)
    placed = order(trading(first), buy(10, "r1"))
    first.step()
    first.step()
    before = trading(first).get_all_positions()
    first.stop()
    second = start(db, config)
    try:
        client = trading(second)
        assert client.get_clock().timestamp == DAY1 + 2 * MIN  # type: ignore[union-attr]
        assert client.get_all_positions() == before
        assert refresh(client, placed).status == OrderStatus.FILLED
        assert client.get_account().cash == "98999.65"  # type: ignore[union-attr]
        assert second.step() == ns(DAY1 + 3 * MIN)
    finally:
        second.stop()


def test_real_time_driver_replays_at_speed(tmp_path: Path, config: MarketConfig) -> None:
    venue = start(tmp_path / "rt.db", config, speed=60 * 100)  # one-minute bars, 100 per wall second
    try:
        deadline = time.monotonic() + 5
        while venue.market is not None and venue.market.replay.next_ts() is not None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert trading(venue).get_clock().timestamp == DAY2 + 5 * MIN  # type: ignore[union-attr]
    finally:
        venue.stop()


def test_admin_status_step_fills_positions_and_order_log(venue: VenueServer) -> None:
    assert admin(venue, "GET", "/venue/status") == (
        200,
        {
            "sim_time": "2024-01-02T14:30:00.000000Z",
            "next_bar": "2024-01-02T14:31:00.000000Z",
            "exhausted": False,
            "orders": 0,
            "open_orders": 0,
            "fills": 0,
            "faults": {k: 0 for k in FAULT_KINDS},
        },
    )
    client = trading(venue)
    placed = order(client, buy(10, "m1"))
    order(client, limit_buy(50, "never"))  # a day order: expires at the first session close
    assert admin(venue, "POST", "/venue/step") == (200, {"sim_time": "2024-01-02T14:31:00.000000Z", "exhausted": False})
    assert admin(venue, "GET", "/venue/fills") == (
        200,
        [
            {
                "fill_id": f"{placed.id}-1",
                "order_id": str(placed.id),
                "client_order_id": "m1",
                "symbol": "AAPL",
                "side": "buy",
                "qty": "10",
                "price": "100.03",
                "fee": "0.05",
                "bid": "99.98",
                "ask": "100.02",
                "at": "2024-01-02T14:31:00.000000Z",
            }
        ],
    )
    assert admin(venue, "GET", "/venue/positions") == (200, {"AAPL": "10"})
    _, body = admin(venue, "GET", "/venue/status")
    assert isinstance(body, dict) and (body["orders"], body["open_orders"], body["fills"]) == (2, 1, 1)
    _, log = admin(venue, "GET", "/venue/order-log")
    assert log == [
        {"at": "2024-01-02T14:30:00.000000Z", "event": "accepted", "client_order_id": "m1", "order_id": str(placed.id)},
        {
            "at": "2024-01-02T14:30:00.000000Z",
            "event": "accepted",
            "client_order_id": "never",
            "order_id": str(order_for(client, "never").id),
        },
        {"at": "2024-01-02T14:31:00.000000Z", "event": "filled", "client_order_id": "m1", "order_id": str(placed.id)},
    ]
    for _ in range(9):
        admin(venue, "POST", "/venue/step")
    assert admin(venue, "POST", "/venue/step") == (200, {"sim_time": "2024-01-03T14:35:00.000000Z", "exhausted": True})
    _, body = admin(venue, "GET", "/venue/status")
    assert isinstance(body, dict) and (body["next_bar"], body["exhausted"], body["open_orders"]) == (None, True, 0)


def order_for(client: TradingClient, cid: str) -> Order:
    found = client.get_order_by_client_id(cid)
    assert isinstance(found, Order)
    return found


def write_daily(path: Path, closes: list[str], base: int = 100) -> Path:
    lines = ["timestamp,symbol,open,high,low,close,volume"]
    lines += [f"{c},AAPL,{base + i},{base + i + 1},{base + i - 1},{base + i},1000" for i, c in enumerate(closes)]
    path.write_text("\n".join(lines) + "\n")
    return path


DAILY_CLOSES = ["2021-02-01T21:00:00Z", "2021-02-02T21:00:00Z", "2021-07-01T20:00:00Z"]  # EST, EST, EDT


def daily_sessions() -> Sessions:
    closes = np.array([ns(datetime.fromisoformat(c)) for c in DAILY_CLOSES], dtype=np.int64)
    return Sessions("SYN", ["2021-02-01", "2021-02-02", "2021-07-01"], closes - 23_400 * 1_000_000_000, closes)


def test_daily_bars_are_stamped_at_new_york_midnight(tmp_path: Path) -> None:
    bars = read_bar_file(write_daily(tmp_path / "daily.csv", DAILY_CLOSES))
    server = start(tmp_path / "daily.db", MarketConfig(bars=bars, sessions=daily_sessions()))
    try:
        for _ in DAILY_CLOSES:
            server.step()
        page = raw(server, "/v2/stocks/bars?symbols=AAPL&timeframe=1Day")
        assert isinstance(page, dict)
        assert [b["t"] for b in page["bars"]["AAPL"]] == [
            "2021-02-01T05:00:00Z",
            "2021-02-02T05:00:00Z",
            "2021-07-01T04:00:00Z",
        ]
        client = data(server)

        def closes(**window: datetime) -> list[float]:
            got = client.get_stock_bars(StockBarsRequest(symbol_or_symbols="AAPL", timeframe=TimeFrame.Day, **window))
            assert isinstance(got, BarSet)
            return [b.close for b in got.data.get("AAPL", [])]

        assert closes() == [100.0, 101.0, 102.0]
        feb2 = datetime(2021, 2, 2, 5, tzinfo=UTC)
        every = client.get_stock_bars(StockBarsRequest(symbol_or_symbols="AAPL", timeframe=TimeFrame.Day))
        assert isinstance(every, BarSet) and every["AAPL"][1].timestamp == feb2
        assert closes(start=feb2) == [101.0, 102.0]  # start / end compare against t, inclusive
        assert closes(start=feb2 + timedelta(seconds=1)) == [102.0]
        assert closes(end=feb2) == [100.0, 101.0]
        assert closes(end=feb2 - timedelta(seconds=1)) == [100.0]
    finally:
        server.stop()


def test_database_remembers_its_bar_file(tmp_path: Path, config: MarketConfig) -> None:
    db = tmp_path / "fp.db"
    first = start(db, config)
    first.step()
    first.stop()
    other = MarketConfig(bars=read_bar_file(write_daily(tmp_path / "other.csv", DAILY_CLOSES)), sessions=sessions())
    with pytest.raises(VenueConfigError) as refused:
        VenueServer(db, None, Decimal("100000"), market=other)
    message = str(refused.value)
    assert "\n" not in message and "was made with bar file" in message and str(tmp_path / "bars.csv") in message
    assert isinstance(refused.value, ValueError)
    copy = tmp_path / "copy.csv"  # the same bytes under another name: the same file
    copy.write_bytes((tmp_path / "bars.csv").read_bytes())
    again = start(db, MarketConfig(bars=read_bar_file(copy), sessions=sessions(), costs=COSTS, seed=7))
    try:
        assert trading(again).get_clock().timestamp == DAY1 + MIN  # type: ignore[union-attr]
    finally:
        again.stop()
