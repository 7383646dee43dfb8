"""``AlpacaBroker`` error mapping, retries, rate limiting and parsing, against a canned HTTP server.

The server (``http.server`` on 127.0.0.1:0) answers each request with the next scripted reply:
a status, headers and body, or it drops the connection after reading the request, or it hangs
past the client's timeout. Time for the token bucket and the retry backoff is a fake clock
advanced by the injected ``sleep``, so a ``Retry-After: 7`` costs no real seconds.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

import msgspec
import pytest

from engine.alpaca.client import AlpacaBroker, Credentials, Endpoint
from engine.alpaca.errors import BrokerError
from engine.alpaca.model import BrokerBar, BrokerOrder, UnparseableOrder
from engine.alpaca.status import UnknownBrokerStatus, meaning
from engine.net.ratelimit import TokenBucket
from journal_schema.events import OrderSubmitRequested
from journal_schema.units import to_fixed

KEY_ID = "PKCANNEDKEY55AA66BB77"
SECRET = "canned-SECRET-0f1e2d3c4b5a69788796a5b4"
WALL = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)
OID = "61e69015-8549-4bfd-b9c3-01e75843f47d"
T_TEXT = "2024-01-02T14:30:00.123456789Z"
T_NS = 1_704_205_800_123_456_789


@dataclass
class Reply:
    status: int = 200
    body: object = None  # dict / list: JSON; bytes: sent as is; None: empty
    headers: dict[str, str] = field(default_factory=dict)
    action: Literal["reply", "drop", "hang"] = "reply"


@dataclass
class Seen:
    method: str
    path: str
    body: bytes
    headers: dict[str, str]


class Canned:
    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.seen: list[Seen] = []
        self.release = threading.Event()
        canned = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.answer()

            do_POST = do_DELETE = do_GET

            def answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                canned.seen.append(Seen(self.command, self.path, body, dict(self.headers.items())))
                reply = canned.replies.popleft() if canned.replies else Reply(599, {"message": "unscripted"})
                if reply.action == "hang":
                    canned.release.wait(3)
                if reply.action != "reply":
                    self.close_connection = True
                    return  # nothing written: the client sees the connection close
                payload = (
                    reply.body
                    if isinstance(reply.body, bytes)
                    else (b"" if reply.body is None else json.dumps(reply.body).encode())
                )
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                return

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    def script(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    def stop(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@dataclass
class FakeTime:
    now: float = 1000.0
    slept: list[float] = field(default_factory=list)

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds


@pytest.fixture
def canned() -> Iterator[Canned]:
    server = Canned()
    yield server
    server.stop()


@pytest.fixture
def fake() -> FakeTime:
    return FakeTime()


Make = Callable[..., AlpacaBroker]


@pytest.fixture
def make(canned: Canned, fake: FakeTime) -> Make:
    def build(read_retries: int = 2, timeout: float = 2.0) -> AlpacaBroker:
        endpoint = Endpoint(canned.url, canned.url, timeout_seconds=timeout)
        bucket = TokenBucket(rate_per_minute=6000, burst=100, clock=fake.monotonic)
        return AlpacaBroker(
            endpoint,
            Credentials(KEY_ID, SECRET),
            bucket,
            sleep=fake.sleep,
            read_retries=read_retries,
            wall_clock=lambda: WALL,
        )

    return build


def order_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": OID,
        "client_order_id": "cid-1",
        "created_at": T_TEXT,
        "updated_at": T_TEXT,
        "submitted_at": T_TEXT,
        "filled_at": None,
        "expired_at": None,
        "canceled_at": None,
        "failed_at": None,
        "replaced_at": None,
        "replaced_by": None,
        "asset_id": "b0b6dd9d-8b9b-48a9-ba46-b9d54906e415",
        "symbol": "AAPL",
        "asset_class": "us_equity",
        "qty": "10",
        "filled_qty": "0",
        "filled_avg_price": None,
        "order_class": "simple",
        "order_type": "limit",
        "type": "limit",
        "side": "buy",
        "time_in_force": "day",
        "limit_price": "185.25",
        "stop_price": None,
        "status": "new",
        "extended_hours": False,
    }
    body.update(changes)
    return body


CLOCK = {
    "timestamp": "2024-01-02T09:30:00.000001-05:00",
    "is_open": True,
    "next_open": "2024-01-03T09:30:00-05:00",
    "next_close": "2024-01-02T16:00:00-05:00",
}
ACCOUNT = {
    "id": "1d5493c9-ea39-4377-aa94-340734c368ae",
    "status": "ACTIVE",
    "cash": "100000.5",
    "equity": "100010",
    "buying_power": "200001",
    "trading_blocked": False,
}


def submit_req(cid: str = "cid-1") -> OrderSubmitRequested:
    return OrderSubmitRequested(
        ts=1,
        cause_seq=1,
        client_order_id=cid,
        intent_id="i",
        symbol="AAPL",
        side="buy",
        qty=to_fixed("10"),
        order_type="limit",
        limit_price=to_fixed("185.25"),
        time_in_force="day",
    )


def err(call: Callable[[], object]) -> BrokerError:
    with pytest.raises(BrokerError) as caught:
        call()
    return caught.value


# --- rate limits and retries ---------------------------------------------------------------


def test_429_on_a_read_locks_the_bucket_and_the_retry_waits_it_out(canned: Canned, fake: FakeTime, make: Make) -> None:
    broker = make()
    limited = Reply(429, {"code": 42910000, "message": "rate limit exceeded"}, {"Retry-After": "7"})
    canned.script(limited, Reply(200, CLOCK))
    clock = broker.clock()
    assert clock.timestamp == 1_704_205_800_000_001_000  # 09:30:00.000001-05:00
    assert fake.slept == [7.0]  # the bucket's lockout, not a fixed alpaca-py sleep
    stats = broker.stats()
    assert (stats.calls, stats.rate_limited, stats.read_retries, stats.lockouts) == (2, 1, 1, 1)
    assert stats.by_category == {"RATE_LIMIT": 1}
    assert stats.waited_seconds == pytest.approx(7.0) and stats.locked_for == 0.0 and stats.backoff_seconds == 0


def test_429_on_submit_is_not_retried_and_the_next_call_honours_the_lockout(
    canned: Canned, fake: FakeTime, make: Make
) -> None:
    broker = make()
    canned.script(Reply(429, {"code": 42910000, "message": "rate limit exceeded"}, {"Retry-After": "5"}))
    error = err(lambda: broker.submit_order(submit_req()))
    assert (error.category, error.kind, error.status, error.retry_after) == ("RATE_LIMIT", "rate_limited", 429, 5.0)
    assert not error.outcome_unknown and "rate limit exceeded" in error.detail
    assert [s.method for s in canned.seen] == ["POST"]
    stats = broker.stats()
    assert (stats.locked_for, stats.lockouts, stats.rate_limited) == (5.0, 1, 1)
    fake.now += 2  # two seconds pass; three are left
    canned.script(Reply(200, CLOCK))
    broker.clock()
    assert fake.slept == [3.0]
    assert broker.stats().waited_seconds == pytest.approx(3.0)


def test_retry_after_http_date_uses_the_injected_wall_clock(canned: Canned, fake: FakeTime, make: Make) -> None:
    broker = make(read_retries=0)
    canned.script(Reply(429, b"", {"Retry-After": "Tue, 02 Jan 2024 14:30:04 GMT"}))
    error = err(broker.account)
    assert (error.kind, error.retry_after) == ("rate_limited", 4.0)
    assert broker.stats().locked_for == 4.0


def test_reads_are_retried_at_most_read_retries_times(canned: Canned, fake: FakeTime, make: Make) -> None:
    broker = make(read_retries=2)
    canned.script(Reply(503, b"Service Unavailable"), Reply(502, b""), Reply(500, {"code": 1, "message": "boom"}))
    error = err(broker.account)
    assert (error.category, error.kind, error.status, error.code) == ("TRANSIENT_NETWORK", "http_5xx", 500, 1)
    assert len(canned.seen) == 3 and fake.slept == [0.1, 0.2]
    stats = broker.stats()
    assert (stats.read_retries, stats.by_category, stats.backoff_seconds) == (2, {"TRANSIENT_NETWORK": 3}, 0.1 + 0.2)
    canned.script(Reply(429), Reply(429), Reply(429))  # no Retry-After: one second each
    assert err(broker.clock).kind == "rate_limited"
    assert len(canned.seen) == 6 and fake.slept == [0.1, 0.2, 1.0, 1.0]
    canned.script(Reply(503), Reply(200, ACCOUNT))
    assert broker.account().cash == to_fixed("100000.5")
    none = make(read_retries=0)
    canned.script(Reply(503))
    assert err(none.account).kind == "http_5xx"
    assert len(canned.seen) == 9


def test_writes_are_never_retried(canned: Canned, make: Make) -> None:
    broker = make(read_retries=5)
    for reply in (Reply(503), Reply(504, b"Gateway Timeout"), Reply(429), Reply(action="drop"), Reply(200, b"")):
        canned.seen.clear()
        canned.script(reply)
        error = err(lambda: broker.submit_order(submit_req()))
        assert [s.method for s in canned.seen] == ["POST"], reply
        assert error.outcome_unknown is (reply.status != 429 or reply.action == "drop")
    sent = json.loads(canned.seen[0].body)
    assert sent == {
        "symbol": "AAPL",
        "qty": 10.0,
        "side": "buy",
        "type": "limit",
        "time_in_force": "day",
        "client_order_id": "cid-1",
        "limit_price": 185.25,
    }
    for call in (lambda: broker.cancel_order(OID), broker.cancel_all):
        canned.seen.clear()
        canned.script(Reply(503))
        assert err(call).kind == "http_5xx"
        assert [s.method for s in canned.seen] == ["DELETE"]


# --- the error table -----------------------------------------------------------------------

DUPLICATE = {"code": 40010001, "message": "client_order_id must be unique"}
CASES: list[tuple[str, Reply, str, str]] = [
    ("submit", Reply(401, {"code": 40110000, "message": "request is not authorized"}), "AUTH", "unauthorized"),
    ("read", Reply(401, b"<html>401 Authorization Required</html>"), "AUTH", "unauthorized"),
    ("submit", Reply(403, {"code": 40310000, "message": "insufficient buying power"}), "ORDER_REJECTED", "forbidden"),
    ("read", Reply(403, {"code": 40310000, "message": "forbidden"}), "AUTH", "forbidden"),
    ("cancel", Reply(403, {"message": "forbidden"}), "AUTH", "forbidden"),
    ("submit", Reply(422, DUPLICATE), "BROKER_STATE", "duplicate_client_order_id"),
    ("submit", Reply(422, {"code": 40010001, "message": "qty must be > 0"}), "ORDER_REJECTED", "rejected"),
    ("submit", Reply(400, {"code": 40010000, "message": "body format is invalid"}), "ORDER_REJECTED", "rejected"),
    ("submit", Reply(403, DUPLICATE), "ORDER_REJECTED", "forbidden"),  # the text alone does not make a duplicate
    ("submit", Reply(409, {"message": "conflict"}), "UNKNOWN", "unexpected"),
    ("submit", Reply(404, {"message": "endpoint not found"}), "BROKER_STATE", "not_found"),
    ("cancel", Reply(422, {"code": 42210000, "message": "order is not cancelable"}), "BROKER_STATE", "not_cancelable"),
    ("cancel", Reply(404, {"code": 40410000, "message": "order not found"}), "BROKER_STATE", "not_found"),
    ("cancel", Reply(400, {"message": "bad"}), "PROGRAMMING_ERROR", "bad_request"),
    ("cancel_all", Reply(422, {"message": "bad"}), "PROGRAMMING_ERROR", "bad_request"),
    ("cancel_all", Reply(500, b"oops"), "TRANSIENT_NETWORK", "http_5xx"),
    ("read", Reply(404, {"code": 40410000, "message": "not found"}), "BROKER_STATE", "not_found"),
    ("read", Reply(400, {"message": "invalid status"}), "PROGRAMMING_ERROR", "bad_request"),
    ("read", Reply(422, DUPLICATE), "PROGRAMMING_ERROR", "bad_request"),
    ("read", Reply(405, {"message": "method not allowed"}), "UNKNOWN", "unexpected"),
    ("submit", Reply(504, b"Gateway Timeout"), "TRANSIENT_NETWORK", "http_5xx"),
    ("submit", Reply(200, order_body(id=None)), "PROVIDER_SCHEMA", "unparseable"),
    (
        "submit",
        Reply(200, {k: v for k, v in order_body().items() if k != "created_at"}),
        "PROVIDER_SCHEMA",
        "unparseable",
    ),
    ("submit", Reply(200, order_body(qty=10.5)), "PROVIDER_SCHEMA", "unparseable"),  # a float is not exact text
    ("submit", Reply(200, order_body(client_order_id="someone-else")), "PROVIDER_SCHEMA", "unparseable"),
    ("submit", Reply(200, b""), "PROVIDER_SCHEMA", "unparseable"),
    ("submit", Reply(200, b"<html>ok</html>"), "PROVIDER_SCHEMA", "unparseable"),
    ("submit", Reply(302, b"", {"Location": "https://elsewhere/"}), "PROVIDER_SCHEMA", "unparseable"),
    ("read", Reply(200, dict(ACCOUNT, cash=1.5)), "PROVIDER_SCHEMA", "unparseable"),
    ("read", Reply(200, dict(ACCOUNT, cash="NaN")), "PROVIDER_SCHEMA", "unparseable"),
    ("read", Reply(200, dict(ACCOUNT, cash="1e999999999")), "PROVIDER_SCHEMA", "unparseable"),  # not minutes of CPU
    ("submit", Reply(200, order_body(created_at="2024-01-02T14:30:00+99:00")), "PROVIDER_SCHEMA", "unparseable"),
    ("cancel_all", Reply(207, [{"id": OID}]), "PROVIDER_SCHEMA", "unparseable"),
]


def _run(broker: AlpacaBroker, op: str) -> Callable[[], object]:
    return {
        "submit": lambda: broker.submit_order(submit_req()),
        "read": broker.account,
        "cancel": lambda: broker.cancel_order(OID),
        "cancel_all": broker.cancel_all,
    }[op]


@pytest.mark.parametrize(("op", "reply", "category", "kind"), CASES)
def test_error_mapping(canned: Canned, make: Make, op: str, reply: Reply, category: str, kind: str) -> None:
    broker = make(read_retries=0)
    canned.script(reply)
    error = err(_run(broker, op))
    assert (error.category, error.kind) == (category, kind)
    assert error.status == reply.status
    assert error.outcome_unknown is (kind in ("http_5xx", "unparseable"))
    assert "\n" not in error.detail and error.detail.startswith(op)
    message = reply.body.get("message") if isinstance(reply.body, dict) else None
    if reply.status >= 300 and isinstance(message, str):
        assert message in error.detail  # the broker's own words
    if isinstance(reply.body, bytes) and reply.body and reply.status >= 300:
        assert reply.body.decode() in error.detail  # non-JSON error bodies are read, not crashed on
    assert broker.stats().by_category == {category: 1}


def test_success_paths_of_writes(canned: Canned, make: Make) -> None:
    broker = make()
    canned.script(
        Reply(204),
        Reply(200, order_body()),
        Reply(
            207,
            [
                {"id": OID, "status": 200, "body": order_body()},
                {"id": "0c5b5fda-2a4f-4c8b-9a0e-6b1e6cd0b0a1", "status": 422, "body": DUPLICATE},
            ],
        ),
    )
    broker.cancel_order(OID)  # 204: no exception is the answer
    broker.cancel_order(OID.upper())  # alpaca-py accepts any UUID spelling
    assert broker.cancel_all() == [(OID, 200), ("0c5b5fda-2a4f-4c8b-9a0e-6b1e6cd0b0a1", 422)]
    paths = [(s.method, s.path) for s in canned.seen]
    assert paths == [("DELETE", f"/v2/orders/{OID}")] * 2 + [("DELETE", "/v2/orders")]


def test_requests_that_cannot_be_sent_exactly_never_reach_the_wire(canned: Canned, make: Make) -> None:
    broker = make()
    inexact = OrderSubmitRequested(
        ts=1,
        cause_seq=1,
        client_order_id="x",
        intent_id="i",
        symbol="AAPL",
        side="buy",
        qty=to_fixed("12345678901.12345678"),
        order_type="market",
        limit_price=None,
        time_in_force="day",
    )
    error = err(lambda: broker.submit_order(inexact))
    assert (error.category, error.kind, error.status) == ("PROGRAMMING_ERROR", "bad_request", None)
    assert "cannot be sent exactly" in error.detail and not error.outcome_unknown
    market_with_price = msgspec.structs.replace(inexact, qty=to_fixed("1"), limit_price=to_fixed("10"))
    assert err(lambda: broker.submit_order(market_with_price)).kind == "bad_request"
    assert canned.seen == [] and broker.stats().calls == 0


def test_order_by_client_id_404_is_none(canned: Canned, make: Make) -> None:
    broker = make()
    canned.script(Reply(404, {"code": 40410000, "message": "order not found"}), Reply(200, order_body()))
    assert broker.order_by_client_id("cid-1 &x") is None
    assert canned.seen[0].path == "/v2/orders:by_client_order_id?client_order_id=cid-1+%26x"
    assert broker.order_by_client_id("cid-1") is not None
    assert err(lambda: broker.order_by_client_id("")).kind == "bad_request"
    assert len(canned.seen) == 2


def test_dropped_connection_is_transient_with_unknown_outcome(canned: Canned, make: Make) -> None:
    broker = make()
    canned.script(Reply(action="drop"))
    error = err(lambda: broker.submit_order(submit_req()))
    assert (error.category, error.kind, error.status, error.outcome_unknown) == (
        "TRANSIENT_NETWORK",
        "connection",
        None,
        True,
    )
    assert len(canned.seen) == 1
    canned.script(Reply(action="drop"), Reply(200, CLOCK))  # a read is retried after a short backoff
    assert broker.clock().is_open is True


def test_connection_refused_is_transient(fake: FakeTime) -> None:
    dead = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    url = f"http://127.0.0.1:{dead.server_address[1]}"
    dead.server_close()  # nothing listens there now
    broker = AlpacaBroker(
        Endpoint(url, url, timeout_seconds=1),
        Credentials(KEY_ID, SECRET),
        TokenBucket(6000, 100, clock=fake.monotonic),
        sleep=fake.sleep,
    )
    error = err(broker.clock)
    assert (error.category, error.kind, error.outcome_unknown) == ("TRANSIENT_NETWORK", "connection", True)
    assert fake.slept == [0.1, 0.2] and broker.stats().calls == 3


def test_a_hang_beyond_the_timeout_is_a_timeout(canned: Canned, make: Make, fake: FakeTime) -> None:
    broker = make(timeout=0.3)
    canned.script(Reply(action="hang"))
    error = err(lambda: broker.submit_order(submit_req()))
    # the server hangs 3 s and then closes: "timeout" (not "connection") says the 0.3 s timeout fired
    assert (error.category, error.kind, error.outcome_unknown) == ("TRANSIENT_NETWORK", "timeout", True)
    assert "timed out" in error.detail
    canned.script(Reply(action="hang"), Reply(200, CLOCK))
    assert broker.clock().is_open is True
    assert fake.slept == [0.1]


# --- parsing over the wire -----------------------------------------------------------------


def test_an_unknown_order_status_passes_through_untouched(canned: Canned, make: Make) -> None:
    broker = make()
    canned.script(Reply(200, order_body(status="pending_moon", filled_qty="2.5", filled_avg_price="185.123456785")))
    order = broker.submit_order(submit_req())
    assert order.status == "pending_moon"
    with pytest.raises(UnknownBrokerStatus):
        meaning(order.status)
    assert order == BrokerOrder(
        id=OID,
        client_order_id="cid-1",
        symbol="AAPL",
        side="buy",
        order_type="limit",
        time_in_force="day",
        qty=to_fixed("10"),
        filled_qty=to_fixed("2.5"),
        filled_avg_price=18_512_345_678,
        limit_price=to_fixed("185.25"),
        status="pending_moon",
        created_at=T_NS,
        updated_at=T_NS,
        submitted_at=T_NS,
        filled_at=None,
        canceled_at=None,
        expired_at=None,
        failed_at=None,
        replaced_at=None,
        replaced_by=None,
    )


def test_open_orders_keep_unparseable_items_and_send_the_documented_query(canned: Canned, make: Make) -> None:
    broker = make()
    bad = {"id": "x-1", "client_order_id": "c-2", "status": "new", "qty": "1"}
    canned.script(Reply(200, [order_body(), bad, 5, order_body(id="b", client_order_id="c-3", qty="abc")]))
    listed = broker.open_orders()
    assert canned.seen[0].path == "/v2/orders?status=open&limit=500&direction=asc"
    assert isinstance(listed[0], BrokerOrder)
    second, third, fourth = listed[1:]
    assert isinstance(second, UnparseableOrder) and (second.client_order_id, second.order_id) == ("c-2", "x-1")
    assert "required field" in second.detail and json.loads(second.raw) == bad
    assert third == UnparseableOrder(None, None, "Expected `object`, got `int`", "5")
    assert isinstance(fourth, UnparseableOrder) and fourth.order_id == "b" and "qty" in fourth.detail
    huge = order_body(id="h", client_order_id="h", symbol="X" * 5000, side="short")
    canned.script(Reply(200, [huge]), Reply(200, {"orders": []}))
    (clipped,) = broker.open_orders()
    assert isinstance(clipped, UnparseableOrder) and len(clipped.raw) == 2000
    assert err(broker.open_orders).category == "PROVIDER_SCHEMA"  # not a list at all


def test_open_orders_page_after_is_one_microsecond_before_the_last_submission(canned: Canned, make: Make) -> None:
    broker = make()
    broker.orders_page_limit = 2
    first = [
        order_body(id="a", submitted_at="2024-01-02T14:30:00.000002Z"),
        order_body(id="b", submitted_at="2024-01-02T14:30:00.000003500Z"),
    ]
    canned.script(Reply(200, first), Reply(200, [first[1]]))
    assert [o.id for o in broker.open_orders() if isinstance(o, BrokerOrder)] == ["a", "b"]
    after = "2024-01-02T14%3A30%3A00.000002%2B00%3A00"  # 3.5 us - 1 us, truncated to whole microseconds
    assert canned.seen[1].path == f"/v2/orders?status=open&limit=2&after={after}&direction=asc"


def test_bars_text_numbers_pages_and_query(canned: Canned, make: Make) -> None:
    broker = make()
    page1 = (
        b'{"bars": {"AAPL": [{"t": "2024-01-02T14:31:00Z", "o": NaN, "h": Infinity, "l": -Infinity, '
        b'"c": 187.15, "v": 1000, "n": 3, "vw": null}]}, "next_page_token": "tok1"}'
    )
    page2 = {
        "bars": {
            "MSFT": [
                {
                    "t": "2024-01-02T14:30:00Z",
                    "o": "370.10",
                    "h": 371.0,
                    "l": 369,
                    "c": 1e-7,
                    "v": 0.5,
                    "n": None,
                    "vw": None,
                }
            ],
            "AAPL": [{"t": "2024-01-02T14:30:00Z", "o": 1, "h": 2, "l": 0.5, "c": 1.5, "v": 7}],
        },
        "next_page_token": None,
    }
    canned.script(Reply(200, page1), Reply(429, headers={"Retry-After": "2"}), Reply(200, page2))
    bars = broker.bars(["AAPL", "MSFT"], "5Min", T_NS, T_NS + 3600 * 10**9)
    assert bars == [
        BrokerBar("AAPL", 1_704_205_800 * 10**9, "1", "2", "0.5", "1.5", "7"),
        BrokerBar("MSFT", 1_704_205_800 * 10**9, "370.10", "371.0", "369", "1e-07", "0.5"),
        BrokerBar("AAPL", 1_704_205_860 * 10**9, "nan", "inf", "-inf", "187.15", "1000"),
    ]  # sorted by (t, symbol); the runner's bar checks reject the NaN row
    query = (
        "/v2/stocks/bars?start=2024-01-02T14%3A30%3A00.123456%2B00%3A00&end=2024-01-02T15%3A30%3A00.123456"
        "%2B00%3A00&timeframe=5Min&adjustment=raw&feed=iex&symbols=AAPL%2CMSFT&limit=10000"
    )
    assert [s.path for s in canned.seen] == [query, query + "&page_token=tok1", query + "&page_token=tok1"]
    canned.script(Reply(200, {"bars": None}))
    assert err(lambda: broker.bars(["AAPL"], "1Min", 0)).kind == "unparseable"
    same = Reply(200, {"bars": {}, "next_page_token": "same"})
    canned.script(same, same)
    looping = err(lambda: broker.bars(["AAPL"], "1Min", 0))
    assert (looping.category, looping.kind) == ("PROVIDER_SCHEMA", "unparseable") and "repeats" in looping.detail
    naive = {"t": "2024-01-02T14:30:00", "o": 1, "h": 1, "l": 1, "c": 1, "v": 1}
    canned.script(Reply(200, {"bars": {"AAPL": [naive]}}))
    assert "zone" in err(lambda: broker.bars(["AAPL"], "1Min", 0)).detail
    assert err(lambda: broker.bars("AAPL", "1Min", 0)).kind == "bad_request"  # a str is not a list of symbols


def test_positions_are_signed_by_side(canned: Canned, make: Make) -> None:
    broker = make()
    long = {"symbol": "AAPL", "qty": "10", "side": "long", "avg_entry_price": "185.25", "exchange": "NASDAQ"}
    short = {"symbol": "MSFT", "qty": "-2.5", "side": "short", "avg_entry_price": "370"}
    short_unsigned = dict(short, symbol="TSLA", qty="3")
    canned.script(Reply(200, [long, short, short_unsigned]), Reply(200, [dict(long, qty="-1")]))
    assert [(p.symbol, p.qty, p.avg_entry_price) for p in broker.positions()] == [
        ("AAPL", to_fixed("10"), to_fixed("185.25")),
        ("MSFT", -to_fixed("2.5"), to_fixed("370")),
        ("TSLA", -to_fixed("3"), to_fixed("370")),
    ]
    assert "negative" in err(broker.positions).detail


def test_account_and_clock_parse(canned: Canned, make: Make) -> None:
    broker = make()
    canned.script(Reply(200, ACCOUNT), Reply(200, CLOCK))
    account = broker.account()
    assert (account.status, account.cash, account.equity, account.buying_power, account.trading_blocked) == (
        "ACTIVE",
        to_fixed("100000.5"),
        to_fixed("100010"),
        to_fixed("200001"),
        False,
    )
    clock = broker.clock()
    assert (clock.timestamp, clock.next_open, clock.next_close) == (
        1_704_205_800_000_001_000,
        1_704_292_200 * 10**9,
        1_704_229_200 * 10**9,
    )


# --- secrets -------------------------------------------------------------------------------


def test_keys_are_sent_but_never_logged_or_echoed(canned: Canned, make: Make, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    broker = make(read_retries=0)
    canned.script(
        Reply(400, {"message": f"bad key {KEY_ID} / {SECRET}"}),
        Reply(200, order_body()),
        Reply(401, b"no " + SECRET.encode()),
        Reply(200, CLOCK),
        Reply(action="drop"),
        Reply(429, b"slow down"),
    )
    texts = [repr(broker)]
    echoed = err(lambda: broker.submit_order(submit_req()))
    assert echoed.detail == "submit: bad key (redacted) / (redacted)"
    broker.submit_order(submit_req())
    for call in (broker.account, broker.clock, broker.positions, broker.account):
        try:
            call()
        except BrokerError as error:
            texts += [str(error), repr(error), error.detail]
    texts += [str(echoed), repr(echoed), caplog.text, repr(broker.stats())]
    assert canned.seen[0].headers["APCA-API-KEY-ID"] == KEY_ID  # the keys did go out, in headers
    assert canned.seen[0].headers["APCA-API-SECRET-KEY"] == SECRET
    assert "/v2/orders" in caplog.text and "429" in caplog.text
    for text in texts:
        assert KEY_ID not in text and SECRET not in text
