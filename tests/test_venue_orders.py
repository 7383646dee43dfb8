"""alpaca-py round trips against the local paper venue (issue 3, part 5; orders/account/clock slice).

The venue runs in-process on an ephemeral port; alpaca-py's ``TradingClient`` talks to it over
real HTTP with ``url_override``. Built-in retries are disabled (``client._retry = 0``, wire
contract section 1.3) and a timeout shim is installed (section 1.4) so a bug cannot hang the suite.
"""

from __future__ import annotations

import functools
import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, OrderStatus, OrderType, QueryOrderStatus, TimeInForce
from alpaca.trading.models import Order
from alpaca.trading.requests import GetOrdersRequest, LimitOrderRequest, MarketOrderRequest

from engine.venue.clock import ClockReading, fixed_clock
from engine.venue.server import VenueServer

T0 = datetime(2024, 1, 2, 14, 45, 0, 123456, tzinfo=UTC)
READING = ClockReading(
    timestamp=T0,
    is_open=True,
    next_open=datetime(2024, 1, 3, 14, 30, tzinfo=UTC),
    next_close=datetime(2024, 1, 2, 21, 0, tzinfo=UTC),
)
T0_TEXT = "2024-01-02T14:45:00.123456Z"


def make_client(server: VenueServer) -> TradingClient:
    client = TradingClient(api_key="venue-key", secret_key="venue-secret", paper=True, url_override=server.base_url)
    client._retry = 0
    client._session.request = functools.partial(client._session.request, timeout=(3.05, 5))  # type: ignore[method-assign]
    return client


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "venue.db"


@pytest.fixture
def server(db_path: Path) -> Iterator[VenueServer]:
    venue = VenueServer(db_path, fixed_clock(READING), Decimal("100000"))
    venue.start()
    yield venue
    venue.stop()


@pytest.fixture
def client(server: VenueServer) -> TradingClient:
    return make_client(server)


def market(cid: str | None = "CIDv2-mkt-1", qty: float = 10, symbol: str = "AAPL") -> MarketOrderRequest:
    return MarketOrderRequest(
        symbol=symbol, qty=qty, side=OrderSide.BUY, time_in_force=TimeInForce.DAY, client_order_id=cid
    )


def limit(cid: str = "CIDv2-lmt-1", symbol: str = "AAPL") -> LimitOrderRequest:
    return LimitOrderRequest(
        symbol=symbol,
        qty=3,
        side=OrderSide.SELL,
        time_in_force=TimeInForce.GTC,
        limit_price=185.25,
        client_order_id=cid,
    )


def submit(client: TradingClient, request: MarketOrderRequest | LimitOrderRequest) -> Order:
    order = client.submit_order(request)
    assert isinstance(order, Order)
    return order


def raw(server: VenueServer, method: str, path: str, headers: dict[str, str] | None = None) -> tuple[int, object]:
    """A request without alpaca-py, to see exact status codes and bodies."""
    request = urllib.request.Request(server.base_url + path, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            body = response.read()
            return response.status, json.loads(body) if body else None
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


AUTH = {"APCA-API-KEY-ID": "k", "APCA-API-SECRET-KEY": "s"}


def test_submit_market_order_fields(client: TradingClient) -> None:
    order = submit(client, market())
    assert order.id == uuid.UUID(str(order.id))
    assert order.client_order_id == "CIDv2-mkt-1"
    assert order.symbol == "AAPL"
    assert order.side == OrderSide.BUY
    assert order.type == OrderType.MARKET
    assert order.order_type == OrderType.MARKET
    assert order.time_in_force == TimeInForce.DAY
    assert order.status == OrderStatus.ACCEPTED
    assert order.qty == "10"  # float 10.0 on the wire, exact decimal text back
    assert order.filled_qty == "0"
    assert order.filled_avg_price is None
    assert order.limit_price is None
    assert order.extended_hours is False
    assert order.created_at == order.updated_at == order.submitted_at == T0
    assert order.canceled_at is None


def test_submit_limit_order_and_generated_client_order_id(client: TradingClient) -> None:
    order = submit(client, limit())
    assert (order.type, order.side, order.time_in_force) == (OrderType.LIMIT, OrderSide.SELL, TimeInForce.GTC)
    assert (order.qty, order.limit_price, order.status) == ("3", "185.25", OrderStatus.ACCEPTED)
    generated = submit(client, market(cid=None, qty=0.5))
    assert generated.client_order_id  # the venue generates one when the request has none
    assert generated.qty == "0.5"
    assert client.get_order_by_client_id(generated.client_order_id).id == generated.id  # type: ignore[union-attr]


def test_order_ids_are_derived_not_random(tmp_path: Path) -> None:
    ids = []
    for name in ("a.db", "b.db"):
        venue = VenueServer(tmp_path / name, fixed_clock(READING), Decimal("100000"))
        venue.start()
        try:
            ids.append(submit(make_client(venue), market()).id)
        finally:
            venue.stop()
    assert ids[0] == ids[1]


def test_duplicate_client_order_id_is_refused_with_422(server: VenueServer, client: TradingClient) -> None:
    first = submit(client, market())
    for request in (market(), limit(cid="CIDv2-mkt-1")):
        with pytest.raises(APIError) as caught:
            client.submit_order(request)
        assert caught.value.status_code == 422
        assert caught.value.code == 40010001
        assert caught.value.message == "client_order_id must be unique"
    client.cancel_order_by_id(first.id)
    with pytest.raises(APIError) as after_cancel:  # ids stay taken after cancel
        client.submit_order(market())
    assert after_cancel.value.status_code == 422
    events = [(event, cid) for _, event, cid, _ in server.store.log()]
    assert events.count(("accepted", "CIDv2-mkt-1")) == 1
    assert events.count(("duplicate_refused", "CIDv2-mkt-1")) == 3


def test_get_order_by_id_and_by_client_id(client: TradingClient) -> None:
    placed = submit(client, limit())
    by_id = client.get_order_by_id(placed.id)
    by_cid = client.get_order_by_client_id("CIDv2-lmt-1")
    assert isinstance(by_id, Order) and isinstance(by_cid, Order)
    assert by_id.model_dump() == placed.model_dump() == by_cid.model_dump()


def test_unknown_order_id_and_client_order_id_are_404(server: VenueServer, client: TradingClient) -> None:
    with pytest.raises(APIError) as by_id:
        client.get_order_by_id(uuid.UUID("00000000-0000-0000-0000-000000000001"))
    assert (by_id.value.status_code, by_id.value.message) == (404, "order not found")
    with pytest.raises(APIError) as by_cid:
        client.get_order_by_client_id("never-seen")
    assert (by_cid.value.status_code, by_cid.value.code) == (404, 40410000)
    with pytest.raises(APIError) as cancel:
        client.cancel_order_by_id(uuid.UUID("00000000-0000-0000-0000-000000000002"))
    assert cancel.value.status_code == 404


def test_get_orders_filters(client: TradingClient) -> None:
    a = submit(client, market(cid="a", symbol="AAPL"))
    b = submit(client, market(cid="b", symbol="MSFT"))
    c = submit(client, limit(cid="c", symbol="AAPL"))
    client.cancel_order_by_id(b.id)

    def cids(**kwargs: object) -> list[str]:
        orders = client.get_orders(GetOrdersRequest(**kwargs))
        return [o.client_order_id for o in orders]  # type: ignore[union-attr]

    assert [o.client_order_id for o in client.get_orders()] == ["c", "a"]  # type: ignore[union-attr]
    assert cids(status=QueryOrderStatus.OPEN, direction="asc") == ["a", "c"]
    assert cids(status=QueryOrderStatus.CLOSED) == ["b"]
    assert cids(status=QueryOrderStatus.ALL, direction="asc") == ["a", "b", "c"]
    assert cids(status=QueryOrderStatus.ALL, limit=2, direction="asc") == ["a", "b"]
    assert cids(status=QueryOrderStatus.ALL, limit=1) == ["c"]
    assert cids(status=QueryOrderStatus.ALL, symbols=["MSFT"]) == ["b"]
    assert cids(status=QueryOrderStatus.ALL, symbols=["AAPL", "MSFT"], direction="asc") == ["a", "b", "c"]
    assert cids(status=QueryOrderStatus.ALL, side=OrderSide.SELL) == ["c"]
    assert cids(status=QueryOrderStatus.ALL, nested=True, direction="asc") == ["a", "b", "c"]
    eastern = timezone(timedelta(hours=-5))
    assert cids(status=QueryOrderStatus.ALL, after=T0 - timedelta(seconds=1)) == ["c", "b", "a"]
    assert cids(status=QueryOrderStatus.ALL, after=T0.astimezone(eastern)) == []  # exclusive, any offset
    assert cids(status=QueryOrderStatus.ALL, until=T0 + timedelta(seconds=1), direction="asc") == ["a", "b", "c"]
    assert a.id != c.id


def test_cancel_order_by_id(server: VenueServer, client: TradingClient) -> None:
    order = submit(client, market())
    client.cancel_order_by_id(order.id)  # returns None whatever the 2xx (wire contract 2.5)
    canceled = client.get_order_by_id(order.id)
    assert isinstance(canceled, Order)
    assert canceled.status == OrderStatus.CANCELED
    assert canceled.canceled_at == T0
    with pytest.raises(APIError) as again:
        client.cancel_order_by_id(order.id)
    assert (again.value.status_code, again.value.message) == (422, "order is not cancelable")
    other = submit(client, market(cid="raw-cancel"))
    assert raw(server, "DELETE", f"/v2/orders/{other.id}", AUTH) == (204, None)


def test_cancel_orders_returns_207_list(server: VenueServer, client: TradingClient) -> None:
    assert client.cancel_orders() == []
    first, second = submit(client, market(cid="x")), submit(client, limit(cid="y"))
    client.cancel_order_by_id(first.id)
    submit(client, market(cid="z"))
    status, body = raw(server, "DELETE", "/v2/orders", AUTH)
    assert status == 207
    assert isinstance(body, list) and [(e["status"], e["body"]["client_order_id"]) for e in body] == [
        (200, "y"),
        (200, "z"),
    ]
    assert body[0]["id"] == str(second.id)
    assert client.cancel_orders() == []
    assert client.get_orders() == []


def test_cancel_orders_via_client(client: TradingClient) -> None:
    placed = submit(client, market())
    responses = client.cancel_orders()
    assert [(r.id, r.status) for r in responses] == [(placed.id, 200)]  # type: ignore[union-attr]


def test_account_is_static_paper_account_with_string_money(server: VenueServer, client: TradingClient) -> None:
    account = client.get_account()
    assert str(account.id) == "1d5493c9-ea39-4377-aa94-340734c368ae"  # type: ignore[union-attr]
    assert account.account_number == "PA0VENUE0001"  # type: ignore[union-attr]
    assert account.status.value == "ACTIVE"  # type: ignore[union-attr]
    assert (account.cash, account.buying_power, account.equity) == ("100000", "100000", "100000")  # type: ignore[union-attr]
    _, body = raw(server, "GET", "/v2/account", AUTH)
    assert isinstance(body, dict)
    assert all(isinstance(body[k], str) for k in ("cash", "buying_power", "equity", "portfolio_value"))


def test_clock_comes_from_the_injected_clock(server: VenueServer, client: TradingClient) -> None:
    clock = client.get_clock()
    assert clock.timestamp == T0  # type: ignore[union-attr]
    assert clock.is_open is True  # type: ignore[union-attr]
    assert clock.next_open == READING.next_open  # type: ignore[union-attr]
    assert clock.next_close == READING.next_close  # type: ignore[union-attr]
    _, body = raw(server, "GET", "/v2/clock", AUTH)
    assert body == {
        "timestamp": "2024-01-02T09:45:00.123456-05:00",
        "is_open": True,
        "next_open": "2024-01-03T09:30:00-05:00",
        "next_close": "2024-01-02T16:00:00-05:00",
    }


def test_order_timestamps_are_utc_with_z(server: VenueServer, client: TradingClient) -> None:
    order = submit(client, market())
    _, body = raw(server, "GET", f"/v2/orders/{order.id}", AUTH)
    assert isinstance(body, dict)
    assert (body["created_at"], body["updated_at"], body["submitted_at"]) == (T0_TEXT, T0_TEXT, T0_TEXT)
    assert body["qty"] == "10" and body["filled_qty"] == "0"


def test_auth_headers_are_required(server: VenueServer) -> None:
    for headers in ({}, {"APCA-API-KEY-ID": "k"}, {"APCA-API-SECRET-KEY": "s"}):
        status, body = raw(server, "GET", "/v2/account", headers)
        assert status == 401
        assert body == {"code": 40110000, "message": "request is not authorized"}
    assert raw(server, "GET", "/v2/account", {"apca-api-key-id": "k", "apca-api-secret-key": "s"})[0] == 200


def test_unknown_route_is_404_json(server: VenueServer) -> None:
    for path in ("/v2/nothing", "/v2/orders/a/b", "/v3/orders"):
        status, body = raw(server, "GET", path, AUTH)
        assert (status, body) == (404, {"code": 40410000, "message": "endpoint not found"})
    status, body = raw(server, "PUT", "/v2/clock", AUTH)
    assert status == 405 and isinstance(body, dict) and body["code"] == 40510000


def test_state_survives_restart(db_path: Path) -> None:
    first = VenueServer(db_path, fixed_clock(READING), Decimal("100000"))
    first.start()
    placed = submit(make_client(first), limit())
    first.stop()

    second = VenueServer(db_path, fixed_clock(READING), Decimal("100000"))
    second.start()
    try:
        client = make_client(second)
        assert second.port != 0
        again = client.get_order_by_client_id("CIDv2-lmt-1")
        assert isinstance(again, Order)
        assert again.model_dump() == placed.model_dump()
        with pytest.raises(APIError) as duplicate:
            client.submit_order(limit())
        assert (duplicate.value.status_code, duplicate.value.message) == (422, "client_order_id must be unique")
    finally:
        second.stop()


def test_admin_without_a_bar_file(server: VenueServer, client: TradingClient) -> None:
    submit(client, market())
    status, body = raw(server, "GET", "/venue/status")  # no auth headers needed
    assert status == 200 and isinstance(body, dict)
    assert (body["sim_time"], body["next_bar"], body["exhausted"]) == (T0_TEXT, None, True)
    assert (body["orders"], body["open_orders"], body["fills"]) == (1, 1, 0)
    status, body = raw(server, "POST", "/venue/step")
    assert (status, body) == (409, {"code": 40910000, "message": "the venue has no bar file to step"})
    assert raw(server, "GET", "/venue/positions") == (200, {})
    assert raw(server, "GET", "/venue/fills") == (200, [])
    assert raw(server, "GET", "/venue/nothing")[0] == 404
    assert raw(server, "DELETE", "/venue/status")[0] == 405
