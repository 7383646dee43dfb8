"""``AlpacaBroker`` against the local venue, over real HTTP (the same code path as real Alpaca).

The venue runs in-process on an ephemeral port (``engine.venue.server.VenueServer``), either with
a minute-bar file and two five-minute synthetic sessions (fills, positions, bars; the tests call
``venue.step()``) or with an injected clock the test moves (order listing and pagination).
Also: the guard test for alpaca-py's private hooks and URL construction, and the secrets test.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from alpaca.data.historical.stock import StockHistoricalDataClient
from alpaca.trading.client import TradingClient

from engine.alpaca.client import AlpacaBroker, Credentials, Endpoint
from engine.alpaca.errors import BrokerError
from engine.alpaca.model import BrokerBar, BrokerOrder, BrokerPosition
from engine.alpaca.parse import rfc3339_ns
from engine.alpaca.status import meaning
from engine.alpaca.transport import check_hooks
from engine.broker.fills import fee, jitter, scaled
from engine.feeds.calendar import Sessions
from engine.feeds.table import read_bar_file
from engine.net.ratelimit import TokenBucket
from engine.venue.clock import ClockReading
from engine.venue.market import MarketConfig
from engine.venue.server import VenueServer
from journal_schema.events import OrderSubmitRequested
from journal_schema.units import mul_fixed, to_fixed

KEY_ID = "PKTESTKEY7F3A9C2E1B"
SECRET = "sEcReT-9b8c7d6e5f4a3b2c1d0e-TOPSECRET"
CREDS = Credentials(KEY_ID, SECRET)
DAY1 = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)
DAY2 = datetime(2024, 1, 3, 14, 30, tzinfo=UTC)
MIN = timedelta(minutes=1)
NS = 1_000_000_000
# (open, high, low, close) of the AAPL bar closing at open + k minutes, k = 1..5
AAPL = [
    ("100", "101", "99.5", "100.5"),
    ("100.5", "101.5", "100", "101"),
    ("101", "102", "100.75", "101.5"),
    ("101.5", "102", "101", "101.25"),
    ("101.25", "101.5", "100.8", "101"),
]


def ns(moment: datetime) -> int:
    return int(moment.timestamp()) * NS + moment.microsecond * 1000


def sessions() -> Sessions:
    opens = np.array([ns(DAY1), ns(DAY2)], dtype=np.int64)
    return Sessions("SYN", ["2024-01-02", "2024-01-03"], opens, opens + 5 * 60 * NS)


def write_bars(path: Path) -> Path:
    lines = ["timestamp,symbol,open,high,low,close,volume"]
    for day, shift in ((DAY1, Decimal(0)), (DAY2, Decimal(2))):
        for k, (o, h, lo, c) in enumerate(AAPL, start=1):
            stamp = (day + k * MIN).isoformat().replace("+00:00", "Z")
            lines.append(f"{stamp},AAPL,{','.join(str(Decimal(x) + shift) for x in (o, h, lo, c))},{1000 * k}")
            lines.append(f"{stamp},MSFT,{370 + k},{371 + k},{369 + k},{370 + k}.25,500")
    path.write_text("\n".join(lines) + "\n")
    return path


def broker_for(server: VenueServer, **kwargs: object) -> AlpacaBroker:
    endpoint = Endpoint(trading_url=server.base_url, data_url=server.base_url, timeout_seconds=5)
    return AlpacaBroker(endpoint, CREDS, TokenBucket(rate_per_minute=60_000, burst=1000), **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def venue(tmp_path: Path) -> Iterator[VenueServer]:
    config = MarketConfig(bars=read_bar_file(write_bars(tmp_path / "bars.csv")), sessions=sessions(), seed=3)
    server = VenueServer(tmp_path / "venue.db", None, Decimal("100000"), market=config)
    server.start()
    yield server
    server.stop()


@dataclass
class MovableClock:
    """The venue's clock for order tests: the test sets ``now``."""

    now: datetime = DAY1

    def __call__(self) -> ClockReading:
        return ClockReading(self.now, True, DAY2, DAY1 + 6 * 60 * MIN)


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
def orders_venue(tmp_path: Path, clock: MovableClock) -> Iterator[VenueServer]:
    server = VenueServer(tmp_path / "orders.db", clock, Decimal("100000"))
    server.start()
    yield server
    server.stop()


def request(
    cid: str, side: str = "buy", qty: str = "10", symbol: str = "AAPL", limit: str | None = None, tif: str = "day"
) -> OrderSubmitRequested:
    return OrderSubmitRequested(
        ts=1,
        cause_seq=1,
        client_order_id=cid,
        intent_id="i-" + cid,
        symbol=symbol,
        side=side,  # type: ignore[arg-type]
        qty=to_fixed(qty),
        order_type="market" if limit is None else "limit",
        limit_price=None if limit is None else to_fixed(limit),
        time_in_force=tif,  # type: ignore[arg-type]
    )


def test_submit_market_and_limit_and_look_up_by_client_order_id(venue: VenueServer) -> None:
    broker = broker_for(venue)
    market = broker.submit_order(request("cid-m", qty="10"))
    assert isinstance(market, BrokerOrder)
    assert (market.client_order_id, market.symbol, market.side, market.order_type, market.time_in_force) == (
        "cid-m",
        "AAPL",
        "buy",
        "market",
        "day",
    )
    assert (market.qty, market.filled_qty, market.filled_avg_price, market.limit_price) == (
        to_fixed("10"),
        0,
        None,
        None,
    )
    assert market.status == "accepted" and meaning(market.status).lifecycle == "WORKING"
    assert market.created_at == market.submitted_at == market.updated_at == ns(DAY1)
    assert market.filled_at is None and market.canceled_at is None and market.replaced_by is None
    limit = broker.submit_order(request("cid-l", side="sell", qty="0.5", limit="185.25", tif="gtc"))
    assert (limit.order_type, limit.side, limit.time_in_force) == ("limit", "sell", "gtc")
    assert (limit.qty, limit.limit_price) == (to_fixed("0.5"), to_fixed("185.25"))
    assert broker.order_by_client_id("cid-l") == limit
    assert broker.order_by_client_id("never-seen") is None
    venue.step()  # the market order fills at the next bar's open (+ the venue's default costs)
    filled = broker.order_by_client_id("cid-m")
    assert filled is not None and filled.status == "filled"
    assert filled.filled_qty == to_fixed("10")
    assert filled.filled_avg_price == scaled(to_fixed("100"), "buy", _venue_cost(venue, "cid-m"))
    assert filled.filled_at == ns(DAY1 + MIN)


def _venue_cost(venue: VenueServer, cid: str) -> int:
    """Half-spread + base slippage + the first slice's jitter: the venue's first bar, so no volatility yet."""
    assert venue.market is not None
    m = venue.market.costs
    return m.half_spread_centibps + m.slippage_centibps + jitter(m, venue.market.seed, cid, 1)


def test_duplicate_client_order_id_is_broker_state(venue: VenueServer) -> None:
    broker = broker_for(venue)
    first = broker.submit_order(request("dup-1"))
    with pytest.raises(BrokerError) as caught:
        broker.submit_order(request("dup-1", qty="3"))
    error = caught.value
    assert (error.category, error.kind, error.status, error.code) == (
        "BROKER_STATE",
        "duplicate_client_order_id",
        422,
        40010001,
    )
    assert "client_order_id must be unique" in error.detail and not error.outcome_unknown
    assert broker.order_by_client_id("dup-1") == first  # the runner resolves it by cid
    assert [e for _, e, c, _ in venue.store.log() if c == "dup-1"] == ["accepted", "duplicate_refused"]


def test_cancel_order_then_not_cancelable_and_unknown_id(venue: VenueServer) -> None:
    broker = broker_for(venue)
    placed = broker.submit_order(request("c-1", limit="90"))
    broker.cancel_order(placed.id)
    canceled = broker.order_by_client_id("c-1")
    assert canceled is not None and canceled.status == "canceled" and canceled.canceled_at == ns(DAY1)
    with pytest.raises(BrokerError) as again:
        broker.cancel_order(placed.id)
    assert (again.value.category, again.value.kind, again.value.status) == ("BROKER_STATE", "not_cancelable", 422)
    with pytest.raises(BrokerError) as unknown:
        broker.cancel_order("00000000-0000-4000-8000-000000000001")
    assert (unknown.value.category, unknown.value.kind, unknown.value.status) == ("BROKER_STATE", "not_found", 404)
    calls = broker.stats().calls
    with pytest.raises(BrokerError) as bad:
        broker.cancel_order("not-a-uuid")  # alpaca-py would raise ValueError before any HTTP
    assert (bad.value.category, bad.value.kind, bad.value.status) == ("PROGRAMMING_ERROR", "bad_request", None)
    assert broker.stats().calls == calls


def test_cancel_all_returns_per_order_statuses(venue: VenueServer) -> None:
    broker = broker_for(venue)
    assert broker.cancel_all() == []
    a = broker.submit_order(request("ca-a", limit="90"))
    b = broker.submit_order(request("ca-b", limit="91"))
    broker.cancel_order(a.id)
    c = broker.submit_order(request("ca-c", side="sell", limit="200"))
    assert broker.cancel_all() == [(b.id, 200), (c.id, 200)]
    assert broker.open_orders() == []


def test_positions_account_and_clock_after_fills(venue: VenueServer) -> None:
    broker = broker_for(venue)
    assert broker.positions() == []
    start = broker.account()
    assert (start.status, start.cash, start.equity, start.buying_power, start.trading_blocked) == (
        "ACTIVE",
        to_fixed("100000"),
        to_fixed("100000"),
        to_fixed("100000"),
        False,
    )
    clock = broker.clock()  # the venue sends US/Eastern offsets
    assert (clock.timestamp, clock.is_open, clock.next_open, clock.next_close) == (
        ns(DAY1),
        True,
        ns(DAY2),
        ns(DAY1 + 5 * MIN),
    )
    broker.submit_order(request("p-buy", qty="10"))
    broker.submit_order(request("p-short", side="sell", qty="2.5", symbol="MSFT"))
    venue.step()
    held = sorted(broker.positions(), key=lambda p: p.symbol)
    aapl = broker.order_by_client_id("p-buy")
    msft = broker.order_by_client_id("p-short")
    assert aapl is not None and msft is not None and aapl.filled_avg_price and msft.filled_avg_price
    assert held == [
        BrokerPosition("AAPL", to_fixed("10"), aapl.filled_avg_price),
        BrokerPosition("MSFT", -to_fixed("2.5"), msft.filled_avg_price),
    ]
    assert venue.market is not None
    costs, ten, two_half = venue.market.costs, to_fixed("10"), to_fixed("2.5")
    cash = (
        to_fixed("100000")
        - mul_fixed(ten, aapl.filled_avg_price)
        - fee(costs, ten, aapl.filled_avg_price)
        + mul_fixed(two_half, msft.filled_avg_price)
        - fee(costs, two_half, msft.filled_avg_price)
    )
    assert broker.account().cash == cash
    assert broker.clock().timestamp == ns(DAY1 + MIN)


def test_bars_two_symbols_every_page_sorted(venue: VenueServer) -> None:
    broker = broker_for(venue)
    assert broker.bars(["AAPL", "MSFT"], "1Min", ns(DAY1)) == []  # nothing has closed yet
    for _ in range(3):
        venue.step()
    venue.app.bars_page_size = 2  # 6 bars -> 3 pages
    before = broker.stats().calls
    bars = broker.bars(["MSFT", "AAPL"], "1Min", ns(DAY1))
    assert broker.stats().calls - before == 3
    assert [(b.t, b.symbol) for b in bars] == [(ns(DAY1 + k * MIN), s) for k in range(3) for s in ("AAPL", "MSFT")]
    assert bars[0] == BrokerBar("AAPL", ns(DAY1), "100.0", "101.0", "99.5", "100.5", "1000")  # t = bar OPEN time
    assert bars[1] == BrokerBar("MSFT", ns(DAY1), "371.0", "372.0", "370.0", "371.25", "500")
    window = broker.bars(["AAPL"], "1Min", ns(DAY1 + MIN), ns(DAY1 + MIN))
    assert [(b.t, b.close) for b in window] == [(ns(DAY1 + MIN), "101.0")]
    with pytest.raises(BrokerError) as wrong:  # the venue serves only its file's spacing
        broker.bars(["AAPL"], "1Day", ns(DAY1))
    assert (wrong.value.category, wrong.value.kind, wrong.value.status) == ("PROGRAMMING_ERROR", "bad_request", 422)
    for bad_timeframe in ("60Min", "1Minute", "2Day"):
        with pytest.raises(BrokerError) as early:
            broker.bars(["AAPL"], bad_timeframe, ns(DAY1))
        assert (early.value.category, early.value.status) == ("PROGRAMMING_ERROR", None)


def test_open_orders_pages_past_500_with_shared_timestamps(orders_venue: VenueServer, clock: MovableClock) -> None:
    broker = broker_for(orders_venue)
    placed = []
    for i in range(503):
        clock.now = DAY1 + timedelta(microseconds=i // 3)  # three orders per microsecond: ties at page edges
        placed.append(broker.submit_order(request(f"o-{i:04d}", limit="50")).id)
    broker.cancel_order(placed[10])
    before = broker.stats().calls
    listed = broker.open_orders()
    assert broker.stats().calls - before == 2  # 500, then the rest
    assert [o.id for o in listed if isinstance(o, BrokerOrder)] == [p for i, p in enumerate(placed) if i != 10]
    assert len(listed) == 502


def test_open_orders_small_pages_and_a_page_that_cannot_advance(orders_venue: VenueServer, clock: MovableClock) -> None:
    broker = broker_for(orders_venue)
    broker.orders_page_limit = 4
    ids = []
    for i, micro in enumerate([0, 0, 0, 1, 1, 1, 2, 3, 3]):
        clock.now = DAY1 + timedelta(microseconds=micro)
        ids.append(broker.submit_order(request(f"s-{i}", limit="50")).id)
    assert [o.id for o in broker.open_orders() if isinstance(o, BrokerOrder)] == ids
    broker.orders_page_limit = 3  # three orders share 0 us: a full page repeats with nothing new
    with pytest.raises(BrokerError) as stuck:
        broker.open_orders()
    assert (stuck.value.category, stuck.value.kind) == ("UNKNOWN", "unexpected")
    assert "a page's worth of orders share one submission microsecond" in stuck.value.detail


def test_guard_alpaca_py_private_hooks_and_url_construction(orders_venue: VenueServer) -> None:
    broker = broker_for(orders_venue)
    for client in (broker._trading, broker._data):
        check_hooks(client)
        assert client._retry == 0  # alpaca-py's own 429/504 retry is off (wire contract 1.3)
        assert client._base_url == orders_venue.base_url
        adapter = client._session.get_adapter("http://127.0.0.1/")
        assert type(adapter).__name__ == "MeteredAdapter"
        assert client._session.get_adapter("https://paper-api.alpaca.markets/") is adapter
    sent: list[str] = []

    class Recorder:
        def request(self, method: str, url: str, **opts: object) -> object:
            sent.append(f"{method} {url}")
            raise RuntimeError("recorded")

    trading = TradingClient("k", "s", raw_data=True, url_override="http://venue.invalid:9/prefix")
    trading._session = Recorder()  # type: ignore[assignment]
    data = StockHistoricalDataClient("k", "s", raw_data=True, url_override="http://venue.invalid:9")
    data._session = Recorder()  # type: ignore[assignment]
    for call in (trading.get_clock, lambda: trading.get_order_by_client_id("x"), lambda: data.get("/stocks/bars")):
        with pytest.raises(RuntimeError, match="recorded"):
            call()
    assert sent == [
        "GET http://venue.invalid:9/prefix/v2/clock",
        "GET http://venue.invalid:9/prefix/v2/orders:by_client_order_id",
        "GET http://venue.invalid:9/v2/stocks/bars",
    ]

    class Stripped:
        _retry = 3
        _base_url = "x"

    with pytest.raises(RuntimeError, match=r"alpaca-py 0\.44\.0: Stripped lacks _session;"):
        check_hooks(Stripped())
    default = AlpacaBroker(Endpoint(None, None, paper=True), CREDS, TokenBucket())
    assert default._trading._base_url == "https://paper-api.alpaca.markets"
    assert default._data._base_url == "https://data.alpaca.markets"
    live = AlpacaBroker(Endpoint(None, None, paper=False), CREDS, TokenBucket())
    assert live._trading._base_url == "https://api.alpaca.markets"
    assert (
        repr(live) == "AlpacaBroker(trading=https://api.alpaca.markets, data=https://data.alpaca.markets, "
        "paper=False, feed=iex)"
    )


def test_endpoint_and_credentials_validation() -> None:
    assert Endpoint(" http://127.0.0.1:8765/ ", None).trading_url == "http://127.0.0.1:8765"
    assert Endpoint(None, "https://h/prefix").data_url == "https://h/prefix"
    for bad in ("http://127.0.0.1:8765/v2", "127.0.0.1:8765", "ftp://h", "", "http://h?x=1"):
        with pytest.raises(ValueError):
            Endpoint(bad, None)
    with pytest.raises(ValueError):
        Endpoint(None, None, data_feed="nasdaq")
    with pytest.raises(ValueError):
        Endpoint(None, None, timeout_seconds=0)
    with pytest.raises(ValueError) as empty:
        Credentials("", SECRET)
    assert SECRET not in str(empty.value)
    assert repr(CREDS) == str(CREDS) == "Credentials(key_id=PK…(redacted))"
    assert repr(Credentials("k", "s")) == "Credentials(key_id=…(redacted))"


def test_secrets_never_appear_in_reprs_errors_or_logs(venue: VenueServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    broker = broker_for(venue)
    texts = [repr(broker), str(broker), repr(CREDS), repr(broker.stats())]
    broker.submit_order(request("sec-1"))
    broker.order_by_client_id("sec-1")
    broker.order_by_client_id("missing")
    venue.step()
    broker.positions()
    broker.account()
    broker.clock()
    broker.bars(["AAPL"], "1Min", ns(DAY1))
    broker.open_orders()
    broker.cancel_all()
    for bad in (
        lambda: broker.submit_order(request("sec-1")),
        lambda: broker.cancel_order("nope"),
        lambda: broker.cancel_order("00000000-0000-4000-8000-000000000009"),
    ):
        with pytest.raises(BrokerError) as caught:
            bad()
        texts += [str(caught.value), repr(caught.value), caught.value.detail]
    texts.append(caplog.text)
    assert "/v2/orders" in caplog.text  # the transport did log at DEBUG
    for text in texts:
        assert KEY_ID not in text and SECRET not in text


def test_timestamps_parse_exactly_to_ns() -> None:
    assert rfc3339_ns("2024-01-02T14:30:00Z") == ns(DAY1)
    assert rfc3339_ns("2024-01-02T09:30:00.123456789-05:00") == ns(DAY1) + 123_456_789
    assert rfc3339_ns("2024-01-02T14:30:00.1+00:00") == ns(DAY1) + 100_000_000
    assert rfc3339_ns("2024-01-02T20:00:00.000000001+05:30") == ns(DAY1) + 1
    for bad in (
        "2024-01-02T14:30:00",
        "2024-01-02T14:30:00.1234567891Z",
        "2024-13-02T14:30:00Z",
        "yesterday",
        "2024-01-02T14:30:00+24:00",
        "2024-02-30T14:30:00Z",
        "1969-12-31T23:59:59Z",
        "0001-01-01T00:00:00Z",
        "2262-04-01T00:00:00.000000001Z",
        "9999-12-31T23:59:59Z",
    ):
        with pytest.raises(ValueError):
            rfc3339_ns(bad)
