"""``AlpacaBroker``: the one code path the engine uses for real Alpaca and for the local venue.

Both are reached through alpaca-py 0.44.0's ``TradingClient`` and ``StockHistoricalDataClient``
with ``raw_data=True`` (so bodies are parsed here, and an unknown order status reaches the
runner as text instead of a pydantic error, wire contract sections 4 and 6); the venue is
selected by a base-URL override. ``engine.alpaca.transport`` disables alpaca-py's own retry,
adds a timeout and puts every HTTP request behind the shared token bucket.

Retries: reads (everything except ``submit_order``, ``cancel_order`` and ``cancel_all``) are
retried at most ``read_retries`` times after a ``RATE_LIMIT`` error (the wait is the bucket's
``Retry-After`` lockout) or a ``TRANSIENT_NETWORK`` one (backoff ``0.1 * 2**i`` s through
``sleep``). Writes are never retried here: they raise ``BrokerError`` and the runner's
exactly-once protocol (look the order up by ``client_order_id``) decides.

Not thread-safe: one broker (and its token bucket) per runner thread.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import TypeVar
from urllib.parse import urlsplit

import msgspec
import requests
from alpaca.common.exceptions import APIError
from alpaca.data.enums import DataFeed
from alpaca.data.historical.stock import StockHistoricalDataClient
from alpaca.trading.client import TradingClient

from engine.alpaca import build, parse
from engine.alpaca.errors import RETRYABLE_READ, BrokerError, Operation, broker_error, one_line, redacted
from engine.alpaca.model import (
    BrokerAccount,
    BrokerBar,
    BrokerClock,
    BrokerOrder,
    BrokerPosition,
    UnparseableOrder,
)
from engine.alpaca.transport import Meter, install
from engine.net.ratelimit import TokenBucket
from journal_schema.events import OrderSubmitRequested

log = logging.getLogger(__name__)

T = TypeVar("T")
BACKOFF_SECONDS = (0.1, 0.2, 0.4, 0.8)  # transient-error waits between read attempts (last one repeats)
ORDERS_PAGE_LIMIT = 500  # Alpaca's maximum for GET /v2/orders
MIN_SECRET_TO_REDACT = 6  # shorter "keys" (the venue's dummies) would garble every message
# What one attempt may raise: alpaca-py's APIError, requests' errors (OSError subclasses), and
# ValueError / TypeError / KeyError / AttributeError from alpaca-py handling a body or argument.
_CAUGHT = (APIError, requests.exceptions.RequestException, OSError, ValueError, TypeError, KeyError, AttributeError)
_PARSE_ERRORS = (msgspec.ValidationError, ValueError)  # parse.ParseError is a ValueError


@dataclass(frozen=True, repr=False)
class Credentials:
    key_id: str
    secret_key: str

    def __post_init__(self) -> None:
        for name in ("key_id", "secret_key"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"Credentials.{name} must be a non-empty string")

    def __repr__(self) -> str:
        shown = self.key_id[:2] if len(self.key_id) >= 8 else ""
        return f"Credentials(key_id={shown}…(redacted))"

    __str__ = __repr__

    def redact(self, text: str) -> str:
        for secret in (self.secret_key, self.key_id):
            if len(secret) >= MIN_SECRET_TO_REDACT:
                text = text.replace(secret, "(redacted)")
        return text


def _base_url(value: str | None, name: str) -> str | None:
    """``scheme://host[:port][/prefix]``: no trailing slash, no ``/v2`` (alpaca-py adds it)."""
    if value is None:
        return None
    text = value.strip().rstrip("/")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"Endpoint.{name} must be http(s)://host[:port], got {value!r}")
    if parts.query or parts.fragment:
        raise ValueError(f"Endpoint.{name} must not have a query or fragment: {value!r}")
    if parts.path.rstrip("/").endswith("/v2"):
        raise ValueError(f"Endpoint.{name} must not end in /v2 (alpaca-py appends it): {value!r}")
    return text


@dataclass(frozen=True)
class Endpoint:
    trading_url: str | None  # None: alpaca-py's default (paper or live per ``paper``); venue: http://127.0.0.1:PORT
    data_url: str | None  # None: https://data.alpaca.markets
    paper: bool = True
    data_feed: str = "iex"
    timeout_seconds: float = 10.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "trading_url", _base_url(self.trading_url, "trading_url"))
        object.__setattr__(self, "data_url", _base_url(self.data_url, "data_url"))
        DataFeed(self.data_feed)  # ValueError for an unknown feed
        if not 0 < self.timeout_seconds < float("inf"):
            raise ValueError(f"Endpoint.timeout_seconds must be positive, got {self.timeout_seconds!r}")


@dataclass(frozen=True)
class CallStats:
    calls: int  # HTTP requests sent (both clients)
    by_category: dict[str, int]  # failed attempts by ErrorCategory, retried ones included
    rate_limited: int  # 429 answers seen
    read_retries: int  # read attempts repeated after a RATE_LIMIT / TRANSIENT_NETWORK error
    waited_seconds: float  # the bucket's token waits, Retry-After lockouts included
    lockouts: int  # the bucket's Retry-After lockouts
    locked_for: float  # seconds of lockout remaining now
    tokens: float  # tokens in the bucket now
    backoff_seconds: float = 0.0  # waits between retries of transient errors (not bucket waits)


@dataclass
class _Counters:
    by_category: dict[str, int] = field(default_factory=dict)
    read_retries: int = 0
    backoff_seconds: float = 0.0


class AlpacaBroker:
    def __init__(
        self,
        endpoint: Endpoint,
        credentials: Credentials,
        bucket: TokenBucket,
        *,
        sleep: Callable[[float], None] = time.sleep,
        read_retries: int = 2,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),  # shell: Retry-After HTTP-dates only
    ) -> None:
        if read_retries < 0:
            raise ValueError("read_retries must be >= 0")
        self.endpoint = endpoint
        self.orders_page_limit = ORDERS_PAGE_LIMIT
        self._bucket = bucket
        self._sleep = sleep
        self._read_retries = read_retries
        self._wall = wall_clock
        self._redact = credentials.redact
        self._counters = _Counters()
        self._meter = Meter(bucket, sleep, wall_clock)
        self._trading = TradingClient(
            credentials.key_id,
            credentials.secret_key,
            paper=endpoint.paper,
            raw_data=True,
            url_override=endpoint.trading_url,
        )
        self._data = StockHistoricalDataClient(
            credentials.key_id, credentials.secret_key, raw_data=True, url_override=endpoint.data_url
        )
        for client in (self._trading, self._data):
            install(client, self._meter, endpoint.timeout_seconds)

    def __repr__(self) -> str:
        trading, data = (_url(c._base_url) for c in (self._trading, self._data))
        e = self.endpoint
        return f"AlpacaBroker(trading={trading}, data={data}, paper={e.paper}, feed={e.data_feed})"

    # --- the call path -------------------------------------------------------------------

    def _fail(self, error: BrokerError) -> BrokerError:
        error = redacted(error, self._redact)
        self._counters.by_category[error.category] = self._counters.by_category.get(error.category, 0) + 1
        log.info("alpaca call failed: %s", error)  # the runner journals it and decides how bad it is
        return error

    def _attempt(self, op: Operation, fn: Callable[[], object], conv: Callable[[object], T]) -> T:
        """One HTTP exchange and its parse. The BrokerError is raised outside the ``except``
        block, so it carries no chained exception (whose request would hold the key headers)."""
        before = self._meter.responses
        failure: BrokerError | None = None
        try:
            raw = fn()
        except _CAUGHT as exc:
            responded = self._meter.last_status if self._meter.responses > before else None
            failure = broker_error(exc, op, responded, self._wall())
        if failure is None:
            try:
                return conv(raw)
            except _PARSE_ERRORS as exc:
                failure = BrokerError(
                    "PROVIDER_SCHEMA", "unparseable", f"{op}: {one_line(str(exc))}", self._meter.last_status
                )
        raise self._fail(failure)

    def _write(self, op: Operation, fn: Callable[[], object], conv: Callable[[object], T]) -> T:
        return self._attempt(op, fn, conv)

    def _read(self, fn: Callable[[], object], conv: Callable[[object], T]) -> T:
        for attempt in range(self._read_retries + 1):
            try:
                return self._attempt("read", fn, conv)
            except BrokerError as error:
                if attempt == self._read_retries or error.category not in RETRYABLE_READ:
                    raise
                self._counters.read_retries += 1
                if error.category == "TRANSIENT_NETWORK":  # a 429's wait is the bucket lockout
                    wait = BACKOFF_SECONDS[min(attempt, len(BACKOFF_SECONDS) - 1)]
                    self._counters.backoff_seconds += wait
                    self._sleep(wait)
        raise AssertionError("unreachable: the last attempt returns or raises")

    @staticmethod
    def _early(op: Operation, exc: ValueError) -> BrokerError:
        return BrokerError("PROGRAMMING_ERROR", "bad_request", f"{op}: {one_line(str(exc))}")

    # --- orders --------------------------------------------------------------------------

    def submit_order(self, req: OrderSubmitRequested) -> BrokerOrder:
        """POST /v2/orders once. A duplicate client_order_id raises BROKER_STATE /
        duplicate_client_order_id; ``outcome_unknown`` errors mean: look it up by cid."""
        try:
            request = build.order_request(req)
        except ValueError as exc:
            failure = self._early("submit", exc)
        else:
            return self._write(
                "submit",
                lambda: self._trading.submit_order(request),
                lambda raw: _matching(parse.order(raw), req.client_order_id),
            )
        raise self._fail(failure)

    def order_by_client_id(self, client_order_id: str) -> BrokerOrder | None:
        """The order with this client_order_id, or None when the broker never saw it (404)."""
        if not client_order_id:
            raise self._fail(BrokerError("PROGRAMMING_ERROR", "bad_request", "read: empty client_order_id"))
        try:
            return self._read(
                lambda: self._trading.get_order_by_client_id(client_order_id),
                lambda raw: _matching(parse.order(raw), client_order_id),
            )
        except BrokerError as error:
            if error.kind == "not_found":
                return None
            raise

    def open_orders(self) -> list[BrokerOrder | UnparseableOrder]:
        """Every open order, oldest first: GET /v2/orders?status=open&direction=asc&limit=500,
        then again with ``after`` while a page is full. ``after`` is exclusive, and several
        orders can share a submission time, so each next page starts one microsecond before
        the latest submission seen and repeats are dropped by order id."""
        limit = min(self.orders_page_limit, ORDERS_PAGE_LIMIT)  # a bigger ask gets 500 and looks like the end
        seen: dict[str, BrokerOrder | UnparseableOrder] = {}
        after: int | None = None
        while True:
            request = build.open_orders_request(limit, after)
            page = self._read(functools.partial(self._trading.get_orders, request), _with_raw)
            new = 0
            for item, raw in page:
                key = item.id if isinstance(item, BrokerOrder) else (item.order_id or item.raw)
                if key not in seen:
                    seen[key] = item
                    new += 1
                stamp = parse.submitted_ns(item, raw)
                after = stamp if stamp is not None and (after is None or stamp > after) else after
            if len(page) < limit:
                return list(seen.values())
            if new == 0 or after is None:
                raise self._fail(
                    BrokerError(
                        "UNKNOWN",
                        "unexpected",
                        f"read: cannot page open orders: a full page of {len(page)} brought nothing new "
                        "(at least a page's worth of orders share one submission microsecond)",
                    )
                )

    def cancel_order(self, broker_order_id: str) -> None:
        """DELETE /v2/orders/{id} once (a request to cancel; read the order back for the outcome)."""
        try:
            order_id = build.uuid_text(broker_order_id)
        except ValueError as exc:
            failure = self._early("cancel", exc)
        else:
            return self._write("cancel", lambda: self._trading.cancel_order_by_id(order_id), _nothing)
        raise self._fail(failure)

    def cancel_all(self) -> list[tuple[str, int]]:
        """DELETE /v2/orders once: (order id, per-order HTTP status) from the 207 body."""
        return self._write("cancel_all", self._trading.cancel_orders, parse.cancel_results)

    # --- account -------------------------------------------------------------------------

    def positions(self) -> list[BrokerPosition]:
        return self._read(self._trading.get_all_positions, parse.positions)

    def account(self) -> BrokerAccount:
        return self._read(self._trading.get_account, parse.account)

    def clock(self) -> BrokerClock:
        return self._read(self._trading.get_clock, parse.clock)

    # --- market data ---------------------------------------------------------------------

    def bars(self, symbols: Sequence[str], timeframe: str, start: int, end: int | None = None) -> list[BrokerBar]:
        """Every page of GET /v2/stocks/bars (feed from the endpoint, adjustment=raw), sorted by
        (t, symbol). Pages are fetched here, not by alpaca-py's ``get_stock_bars``, so that each
        page is retried on its own, a malformed page is PROVIDER_SCHEMA, and a page token that
        repeats ends the call instead of looping forever."""
        try:
            params = build.bars_params(symbols, timeframe, start, end, self.endpoint.data_feed)
        except ValueError as exc:
            raise self._fail(self._early("read", exc)) from None
        out: list[BrokerBar] = []
        tokens: set[str] = set()
        token: str | None = None
        while True:
            query = dict(params, page_token=token) if token is not None else dict(params)
            rows, token = self._read(functools.partial(self._data.get, "/stocks/bars", query), parse.bars_page)
            out.extend(rows)
            if token is None:
                return sorted(out, key=lambda b: (b.t, b.symbol))
            if token in tokens:
                raise self._fail(
                    BrokerError("PROVIDER_SCHEMA", "unparseable", f"read: bars next_page_token repeats: {token[:80]!r}")
                )
            tokens.add(token)

    # --- numbers for the cycle summary ---------------------------------------------------

    def stats(self) -> CallStats:
        state = self._bucket.state()
        return CallStats(
            calls=self._meter.requests,
            by_category=dict(sorted(self._counters.by_category.items())),
            rate_limited=self._meter.rate_limited,
            read_retries=self._counters.read_retries,
            waited_seconds=state.waited_seconds,
            lockouts=state.lockouts,
            locked_for=state.locked_for,
            tokens=state.tokens,
            backoff_seconds=self._counters.backoff_seconds,
        )


def _url(base: object) -> str:
    return str(base.value) if isinstance(base, Enum) else str(base)  # alpaca-py's defaults are BaseURL members


def _matching(order: BrokerOrder, client_order_id: str) -> BrokerOrder:
    if order.client_order_id != client_order_id:
        raise parse.ParseError(f"answer is for client_order_id {order.client_order_id!r}, not {client_order_id!r}")
    return order


def _with_raw(raw: object) -> list[tuple[BrokerOrder | UnparseableOrder, object]]:
    items = parse.order_list(raw)
    assert isinstance(raw, list)  # order_list checked it
    return list(zip(items, raw, strict=True))


def _nothing(raw: object) -> None:
    return None
