"""Fault injection in the local paper venue, observed through alpaca-py over real HTTP.

Each kind is forced with probability 1 and seen the way the engine's adapter sees it:
``APIError`` with the status (429 with ``Retry-After``), ``requests`` ``ReadTimeout`` (timeout
shim, read timeout 0.2 s against a 0.5 s hold) or ``ConnectionError`` (a dropped answer). Then the
venue is asked what really happened: by client order id, through the order log and the fault
log, and through ``/venue/status``. Built-in retries are off (``client._retry = 0``).
"""

from __future__ import annotations

import functools
import http.client
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import requests
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, OrderStatus, TimeInForce
from alpaca.trading.models import Order
from alpaca.trading.requests import MarketOrderRequest

from engine.feeds.table import read_bar_file
from engine.venue.clock import fixed_clock
from engine.venue.faults import FAULT_KINDS, FaultPlan, FaultPlanError, draw, parse_fault_args
from engine.venue.market import MarketConfig
from engine.venue.server import VenueServer
from tests.test_venue_fills import sessions, write_bars
from tests.test_venue_orders import READING, T0_TEXT

HOLD = 0.5  # seconds a holding fault keeps the connection
READ_TIMEOUT = 0.2  # the client's read timeout, shorter than HOLD


def plan(**probabilities: float) -> FaultPlan:
    return FaultPlan.of(probabilities, seed=3, retry_after_seconds=2.5, hold_seconds=HOLD)


def start(db: Path, faults: FaultPlan | None = None) -> VenueServer:
    venue = VenueServer(db, fixed_clock(READING), Decimal("100000"), faults=faults)
    venue.start()
    return venue


@pytest.fixture
def venue(tmp_path: Path) -> Iterator[VenueServer]:
    server = start(tmp_path / "venue.db")
    yield server
    server.stop()


def trading(server: VenueServer, read_timeout: float = 5.0) -> TradingClient:
    client = TradingClient(api_key="k", secret_key="s", paper=True, url_override=server.base_url)
    client._retry = 0
    client._session.request = functools.partial(  # type: ignore[method-assign]
        client._session.request, timeout=(3.05, read_timeout)
    )
    return client


def buy(cid: str) -> MarketOrderRequest:
    return MarketOrderRequest(
        symbol="AAPL", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY, client_order_id=cid
    )


def admin(server: VenueServer, method: str, path: str, body: object = None) -> tuple[int, object]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(server.base_url + path, data=data, method=method)  # no auth headers
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def status(server: VenueServer) -> dict[str, object]:
    code, body = admin(server, "GET", "/venue/status")
    assert code == 200 and isinstance(body, dict)
    return body


def fault_log(server: VenueServer) -> list[dict[str, object]]:
    code, body = admin(server, "GET", "/venue/fault-log")
    assert code == 200 and isinstance(body, list)
    return body


def counts(**nonzero: int) -> dict[str, int]:
    return {kind: nonzero.get(kind, 0) for kind in FAULT_KINDS}


def accepted(server: VenueServer, cid: str) -> int:
    _, body = admin(server, "GET", "/venue/order-log")
    assert isinstance(body, list)
    return sum(1 for e in body if e["event"] == "accepted" and e["client_order_id"] == cid)


def test_http_429_carries_retry_after_and_creates_no_order(venue: VenueServer) -> None:
    venue.faults.replace(plan(http_429=1))
    client = trading(venue)
    with pytest.raises(APIError) as caught:
        client.submit_order(buy("c429"))
    error = caught.value
    assert (error.status_code, error.code, error.message) == (429, 42910000, "rate limit exceeded")
    assert error.response is not None and error.response.headers["Retry-After"] == "3"  # ceil(2.5)
    venue.faults.replace(FaultPlan())
    with pytest.raises(APIError) as missing:
        client.get_order_by_client_id("c429")
    assert missing.value.status_code == 404
    assert venue.store.log() == []
    body = status(venue)
    assert (body["orders"], body["faults"]) == (0, counts(http_429=1))
    assert fault_log(venue) == [
        {"seq": 1, "at": T0_TEXT, "kind": "http_429", "method": "POST", "path": "/v2/orders", "client_order_id": "c429"}
    ]


@pytest.mark.parametrize("code", [500, 502, 503, 504])
def test_5xx_is_an_api_error_and_creates_no_order(venue: VenueServer, code: int) -> None:
    kind = f"http_{code}"
    venue.faults.replace(plan(**{kind: 1.0}))
    client = trading(venue)
    with pytest.raises(APIError) as caught:
        client.submit_order(buy("c5xx"))
    assert caught.value.status_code == code
    assert caught.value.code == code * 100_000 + 10000
    with pytest.raises(APIError) as on_read:  # every /v2 request, not only submits
        client.get_account()
    assert on_read.value.status_code == code
    venue.faults.replace(FaultPlan())
    assert client.get_orders() == []
    assert status(venue)["faults"] == counts(**{kind: 2})
    assert [(e["method"], e["path"]) for e in fault_log(venue)] == [("POST", "/v2/orders"), ("GET", "/v2/account")]


def test_timeout_holds_then_closes_and_creates_no_order(venue: VenueServer) -> None:
    venue.faults.replace(plan(timeout=1))
    client = trading(venue, READ_TIMEOUT)
    with pytest.raises(requests.exceptions.ReadTimeout):  # the client gave up while the venue held it
        client.submit_order(buy("ct"))
    venue.faults.replace(FaultPlan())
    with pytest.raises(APIError) as missing:
        client.get_order_by_client_id("ct")
    assert missing.value.status_code == 404
    assert status(venue)["faults"] == counts(timeout=1)


def test_timeout_closes_the_connection_without_a_response(venue: VenueServer) -> None:
    venue.faults.replace(plan(timeout=1))
    request = urllib.request.Request(
        venue.base_url + "/v2/clock", headers={"APCA-API-KEY-ID": "k", "APCA-API-SECRET-KEY": "s"}
    )
    began = time.monotonic()
    with pytest.raises(http.client.RemoteDisconnected):  # closed, not one byte written
        urllib.request.urlopen(request, timeout=5)
    held = time.monotonic() - began
    assert held >= HOLD - 0.05  # held; RemoteDisconnected (not a 5 s timeout) says it was then closed


@pytest.mark.parametrize(
    ("kind", "raised"),
    [
        ("accept_then_timeout", requests.exceptions.ReadTimeout),
        ("accept_then_drop", requests.exceptions.ConnectionError),
    ],
)
def test_accept_then_no_answer_commits_the_order(
    venue: VenueServer, kind: str, raised: type[requests.exceptions.RequestException]
) -> None:
    venue.faults.replace(plan(**{kind: 1.0}))
    client = trading(venue, READ_TIMEOUT)
    with pytest.raises(raised) as caught:
        client.submit_order(buy("c-accept"))
    if kind == "accept_then_drop":
        assert not isinstance(caught.value, requests.exceptions.Timeout)  # dropped at once, not held
    found = client.get_order_by_client_id("c-accept")  # GETs are never hit by submit-only kinds
    assert isinstance(found, Order)
    assert (found.status, found.client_order_id, found.qty) == (OrderStatus.ACCEPTED, "c-accept", "1")
    with pytest.raises(APIError) as again:  # still faulted with p = 1, but a refusal is answered
        client.submit_order(buy("c-accept"))
    assert (again.value.status_code, again.value.message) == (422, "client_order_id must be unique")
    assert accepted(venue, "c-accept") == 1
    assert [e for _, e, c, _ in venue.store.log() if c == "c-accept"] == ["accepted", "duplicate_refused"]
    log = fault_log(venue)
    assert [(e["kind"], e["client_order_id"], e["at"]) for e in log] == [(kind, "c-accept", T0_TEXT)]
    body = status(venue)
    assert body["faults"] == counts(**{kind: 1})
    assert (body["orders"], body["open_orders"]) == (1, 1)


def test_accept_fault_on_a_generated_client_order_id_is_logged_with_it(venue: VenueServer) -> None:
    venue.faults.replace(plan(accept_then_drop=1))
    client = trading(venue)
    with pytest.raises(requests.exceptions.ConnectionError):
        client.submit_order(MarketOrderRequest(symbol="AAPL", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY))
    (entry,) = fault_log(venue)
    (order,) = client.get_orders()
    assert isinstance(order, Order) and entry["client_order_id"] == order.client_order_id


def test_admin_paths_are_never_faulted_and_reads_skip_submit_only_kinds(venue: VenueServer) -> None:
    venue.faults.replace(plan(http_500=1))
    assert status(venue)["faults"] == counts()
    assert admin(venue, "GET", "/venue/order-log") == (200, [])
    venue.faults.replace(plan(accept_then_timeout=0.5, accept_then_drop=1))
    client = trading(venue, READ_TIMEOUT)
    assert client.get_account().cash == "100000"  # type: ignore[union-attr]
    assert client.get_orders() == []
    assert status(venue)["faults"] == counts()


def outcomes(server: VenueServer, n: int) -> list[str]:
    """A fixed request sequence: what the client saw for each request."""
    client = trading(server, READ_TIMEOUT)
    seen: list[str] = []
    for i in range(n):
        try:
            if i % 2 == 0:
                client.submit_order(buy(f"d{i}"))
            else:
                client.get_clock()
            seen.append("ok")
        except APIError as error:
            seen.append(str(error.status_code))
        except requests.exceptions.ConnectionError:
            seen.append("dropped")
    return seen


def test_same_plan_and_seed_inject_the_same_faults(tmp_path: Path) -> None:
    same = FaultPlan(http_500=0.2, http_503=0.2, accept_then_drop=0.3, seed=11)
    runs: list[tuple[list[str], list[tuple[object, object, object, object]], dict[str, int]]] = []
    for name, faults in (
        ("a", same),
        ("b", same),
        ("c", FaultPlan(http_500=0.2, http_503=0.2, accept_then_drop=0.3, seed=12)),
    ):
        server = start(tmp_path / f"{name}.db", faults)
        try:
            seen = outcomes(server, 24)
            log = [(e["kind"], e["method"], e["path"], e["client_order_id"]) for e in fault_log(server)]
            faults_seen = status(server)["faults"]
            assert isinstance(faults_seen, dict)
            runs.append((seen, log, faults_seen))
        finally:
            server.stop()
    (seen_a, log_a, counts_a), (seen_b, log_b, counts_b), (seen_c, _, _) = runs
    assert (seen_a, log_a, counts_a) == (seen_b, log_b, counts_b)
    assert {"ok", "500", "503", "dropped"} <= set(seen_a)  # a real mix, not all or nothing
    assert seen_c != seen_a  # another seed, another sequence
    assert len(log_a) == sum(counts_a.values()) == sum(1 for s in seen_a if s != "ok")


def test_draws_depend_only_on_seed_and_request_number() -> None:
    faults = FaultPlan(http_429=0.5, accept_then_drop=0.5, seed=5)
    first = [draw(faults, n, submit=True) for n in range(50)]
    assert first == [draw(faults, n, submit=True) for n in range(50)]
    assert {None, "http_429", "accept_then_drop"} == set(first)
    assert "accept_then_drop" not in {draw(faults, n, submit=False) for n in range(50)}
    always = FaultPlan(timeout=1.0)
    assert {draw(always, n, submit=False) for n in range(20)} == {"timeout"}


def test_put_faults_replaces_the_plan_and_validates(venue: VenueServer) -> None:
    code, body = admin(venue, "GET", "/venue/faults")
    assert code == 200 and body == FaultPlan().to_json()
    assert isinstance(body, dict) and list(body["probabilities"]) == list(FAULT_KINDS)
    wanted = {"probabilities": {"http_503": 1.0}, "seed": 9, "retry_after_seconds": 4, "hold_seconds": 0.5}
    code, body = admin(venue, "PUT", "/venue/faults", wanted)
    assert code == 200 and isinstance(body, dict)
    assert body["probabilities"]["http_503"] == 1.0 and body["seed"] == 9
    assert admin(venue, "GET", "/venue/faults") == (200, body)
    with pytest.raises(APIError) as caught:
        trading(venue).get_clock()
    assert caught.value.status_code == 503
    for bad, named in (
        ({"probabilities": {"http_418": 0.5}}, "http_418"),
        ({"probabilities": {"timeout": 1.5}}, "timeout"),
        ({"probabilities": {"http_500": -0.1}}, "http_500"),
        ({"probabilities": {"http_500": "half"}}, "http_500"),
        ({"probabilities": {"http_500": True}}, "http_500"),
        ({"hold_seconds": -1}, "hold_seconds"),
        ({"seed": "x"}, "seed"),
        ({"probability": {}}, "probability"),
        ([], "object"),
    ):
        code, error = admin(venue, "PUT", "/venue/faults", bad)
        assert code == 422 and isinstance(error, dict), bad
        assert named in error["message"] and error["code"] == 40010001, (bad, error)
    assert admin(venue, "GET", "/venue/faults") == (200, body)  # a refused PUT changes nothing


def test_plan_parsing_for_the_cli() -> None:
    assert parse_fault_args(["http_429=0.05", "accept_then_drop=1"]) == {"http_429": 0.05, "accept_then_drop": 1.0}
    for bad, named in (
        ("http_600=0.1", "http_600"),
        ("timeout=2", "timeout"),
        ("timeout", "KIND=PROB"),
        ("timeout=abc", "abc"),
        ("timeout=nan", "timeout"),
    ):
        with pytest.raises(FaultPlanError, match=named):
            parse_fault_args([bad])
    text = FaultPlan(http_429=0.05, accept_then_drop=0.1, seed=2).describe()
    assert text == "http_429=0.05, accept_then_drop=0.1 (seed 2, retry-after 1s, hold 15s)"


def test_a_held_answer_blocks_nothing_and_stop_is_prompt(tmp_path: Path) -> None:
    """An accepted submit whose answer is held for 30 s: the store and market locks are free (other
    clients submit and the replay steps meanwhile), and ``stop()`` releases the held connection at once."""
    config = MarketConfig(bars=read_bar_file(write_bars(tmp_path / "bars.csv")), sessions=sessions())
    server = VenueServer(
        tmp_path / "held.db",
        None,
        Decimal("100000"),
        market=config,
        faults=FaultPlan(accept_then_timeout=1.0, hold_seconds=30),
    )
    server.start()
    held_client = trading(server, read_timeout=10)
    errors: list[BaseException] = []

    def call() -> None:
        try:
            held_client.submit_order(buy("held"))
        except requests.exceptions.RequestException as error:
            errors.append(error)

    caller = threading.Thread(target=call)
    caller.start()
    deadline = time.monotonic() + 5
    while not fault_log(server) and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        began = time.monotonic()
        server.faults.replace(FaultPlan())
        assert admin(server, "POST", "/venue/step")[0] == 200  # the market lock is free
        other = trading(server)
        assert isinstance(other.submit_order(buy("other")), Order)  # the store lock is free
        held = other.get_order_by_client_id("held")
        assert isinstance(held, Order) and held.status == OrderStatus.FILLED  # filled by that step
        assert time.monotonic() - began < 15  # far below the 30 s hold: nothing waited for it
        assert caller.is_alive()  # still waiting for its answer
    finally:
        began = time.monotonic()
        server.stop()
        stopped = time.monotonic() - began
    caller.join(timeout=5)
    assert stopped < 15  # far below the 30 s hold
    assert not caller.is_alive()
    assert len(errors) == 1 and isinstance(errors[0], requests.exceptions.ConnectionError)


def test_fault_log_survives_restart(tmp_path: Path) -> None:
    db = tmp_path / "restart.db"
    first = start(db, plan(http_502=1))
    with pytest.raises(APIError):
        trading(first).get_clock()
    first.stop()
    second = start(db)
    try:
        assert status(second)["faults"] == counts(http_502=1)
        assert trading(second).get_clock() is not None
    finally:
        second.stop()
