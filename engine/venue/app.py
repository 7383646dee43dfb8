"""Routing and endpoint logic, independent of sockets: ``VenueApp.serve(request) -> Outcome``
(fault injection, then ``handle``) and ``VenueApp.handle(request) -> Response`` (no faults).

Routes (alpaca-py ``TradingClient`` methods, wire contract section 2):

| method | path | client call |
| --- | --- | --- |
| POST | /v2/orders | submit_order |
| GET | /v2/orders | get_orders |
| DELETE | /v2/orders | cancel_orders (207 with a list) |
| GET | /v2/orders:by_client_order_id | get_order_by_client_id (matched before /v2/orders/{id}) |
| GET | /v2/orders/{id} | get_order_by_id |
| DELETE | /v2/orders/{id} | cancel_order_by_id (204) |
| GET | /v2/account | get_account |
| GET | /v2/clock | get_clock |
| GET | /v2/positions | get_all_positions |
| GET | /v2/positions/{symbol or asset_id} | get_open_position (404 when none) |
| GET | /v2/stocks/bars | StockHistoricalDataClient.get_stock_bars |

With a ``VenueMarket`` (bar replay) the clock, account, positions and bars come from it;
without one (the orders-only tests) the clock is injected, the account is the static starting
cash, there are no positions and bars are 404.

Every request needs non-empty ``APCA-API-KEY-ID`` and ``APCA-API-SECRET-KEY`` headers (any
value); otherwise 401. The header values are never logged or stored.

``/venue/*`` is the admin API (``engine.venue.admin``): no auth, never faulted. Every ``/v2/*``
request first asks the ``FaultInjector`` (``engine.venue.faults``); an injected fault is logged to
``fault_log``. The submit-only kinds run the submit normally (the fault row is written in the
order's transaction) and then withhold the answer; a submit that is refused (duplicate client
order id, validation) is answered normally and no fault is logged.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

from engine.venue import admin, faultlog
from engine.venue.clock import ClockReading, VenueClock
from engine.venue.errors import CODE_METHOD_NOT_ALLOWED, CODE_UNAUTHORIZED, VenueError, not_found, validation
from engine.venue.faultlog import FaultRecord
from engine.venue.faults import HOLDING_KINDS, HTTP_FAULTS, SUBMIT_ONLY_KINDS, FaultInjector, FaultPlan
from engine.venue.market import VenueMarket
from engine.venue.marketdata import MAX_LIMIT as MAX_BARS_PAGE
from engine.venue.marketdata import bars_page
from engine.venue.messages import Outcome, Request, Response, json_response
from engine.venue.orders import Direction, OrderQuery, StatusFilter
from engine.venue.store import VenueStore
from engine.venue.wire import (
    account_json,
    clock_json,
    decode_new_order,
    error_json,
    order_json,
    parse_query_time,
    position_json,
    utc_text,
)
from journal_schema.units import to_decimal

log = logging.getLogger(__name__)

KEY_HEADER = "APCA-API-KEY-ID"
SECRET_HEADER = "APCA-API-SECRET-KEY"
MAX_ORDERS_LIMIT = 500  # Alpaca's documented maximum for GET /v2/orders
STATUS_FILTERS: dict[str, StatusFilter] = {"open": "open", "closed": "closed", "all": "all"}
DIRECTIONS: dict[str, Direction] = {"asc": "asc", "desc": "desc"}


__all__ = ["Outcome", "Request", "Response", "VenueApp"]


@dataclass(frozen=True)
class _Call:
    path_arg: str
    query: dict[str, list[str]]
    body: bytes
    fault: FaultRecord | None = None  # an accept_then_* fault to log with an accepted submit


Handler = Callable[["VenueApp", _Call], Response]
_json = json_response


def _path(target: str) -> str:
    """The request path; alpaca-py builds base + "/v2" + path, so tolerate "//v2"."""
    return "/" + urlsplit(target).path.lstrip("/")


def _named_client_order_id(request: Request) -> str | None:
    """The client order id a request names (submit body or query), for the fault log."""
    split = urlsplit(request.target)
    if request.method == "POST" and request.body:
        try:
            data = json.loads(request.body)
        except (UnicodeDecodeError, ValueError):
            return None
        cid = data.get("client_order_id") if isinstance(data, dict) else None
        return cid if isinstance(cid, str) else None
    return _one(parse_qs(split.query), "client_order_id")


def fault_response(kind: str, plan: FaultPlan) -> Response:
    status, code, message = HTTP_FAULTS[kind]
    headers = {"Retry-After": plan.retry_after_header} if status == 429 else {}
    return json_response(status, {"code": code, "message": message}, headers)


def _one(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[-1] if values else None


class VenueApp:
    def __init__(
        self,
        store: VenueStore,
        clock: VenueClock | None,
        starting_cash: Decimal,
        market: VenueMarket | None = None,
        faults: FaultPlan | None = None,
    ) -> None:
        if clock is None and market is None:
            raise ValueError("the venue needs a clock or a market")
        self.store = store
        self.market = market
        self.clock: VenueClock = market.reading if market is not None else clock  # type: ignore[assignment]
        self.starting_cash = starting_cash
        self.bars_page_size = MAX_BARS_PAGE
        self.faults = FaultInjector(faults)
        self.admin = admin.AdminApi(store, market, self.faults, self.clock)

    @contextmanager
    def _gate(self) -> Iterator[None]:
        """Hold the market lock so an order's time and the replay's next step cannot interleave."""
        if self.market is None:
            yield
            return
        with self.market.lock:
            yield

    def serve(self, request: Request) -> Outcome:
        """Admin, fault injection, then the Alpaca endpoint (see the module docstring)."""
        path = _path(request.target)
        if path.startswith(admin.PREFIX):
            return Outcome(self.admin.handle(request.method, path, request.body))
        if not path.startswith("/v2/"):
            return Outcome(self.handle(request))
        kind, plan = self.faults.decide(request.method, path)
        if kind is None:
            return Outcome(self.handle(request))
        hold = plan.hold_seconds if kind in HOLDING_KINDS else 0.0
        record = FaultRecord(kind, request.method, path, _named_client_order_id(request))
        if kind in SUBMIT_ONLY_KINDS:
            response = self.handle(request, record)
            if response.status != 200:  # refused: nothing was accepted, so nothing to withhold
                return Outcome(response)
            log.warning("fault %s after accepting %s %s", kind, request.method, path)
            return Outcome(None, hold)
        with self.store.transaction() as cur:
            faultlog.record(cur, self._now(), record)
        log.warning("fault %s on %s %s", kind, request.method, path)
        return Outcome(None, hold) if kind == "timeout" else Outcome(fault_response(kind, plan))

    def handle(self, request: Request, fault: FaultRecord | None = None) -> Response:
        try:
            self._authorize(request.headers)
            split = urlsplit(request.target)
            handler, path_arg = self._route(request.method, split.path)
            query = parse_qs(split.query, keep_blank_values=True)
            return handler(self, _Call(path_arg, query, request.body, fault))
        except VenueError as error:
            return _json(error.status, error_json(error))

    @staticmethod
    def _authorize(headers: Mapping[str, str]) -> None:
        if not headers.get(KEY_HEADER) or not headers.get(SECRET_HEADER):
            # Unverified body and status choice: the wire contract is silent on auth failures.
            raise VenueError(401, CODE_UNAUTHORIZED, "request is not authorized")

    def _route(self, method: str, path: str) -> tuple[Handler, str]:
        path = "/" + path.lstrip("/")  # alpaca-py builds base + "/v2" + path; tolerate "//v2"
        for prefix, methods in _PREFIX_ROUTES:
            if path.startswith(prefix) and len(path) > len(prefix) and "/" not in path[len(prefix) :]:
                return self._pick(methods, method), path[len(prefix) :]
        if path in _EXACT_ROUTES:
            return self._pick(_EXACT_ROUTES[path], method), ""
        raise not_found("endpoint not found")

    @staticmethod
    def _pick(methods: Mapping[str, Handler], method: str) -> Handler:
        if method not in methods:
            raise VenueError(405, CODE_METHOD_NOT_ALLOWED, "method not allowed")
        return methods[method]

    def _now(self) -> str:
        return utc_text(self.clock().timestamp)

    # --- endpoints -----------------------------------------------------------------------

    def submit_order(self, call: _Call) -> Response:
        new = decode_new_order(call.body)
        with self._gate():
            order = self.store.submit(new, self._now(), call.fault)
        log.info("accepted order %s client_order_id=%s", order.id, order.client_order_id)
        return _json(200, order_json(order))

    def get_order(self, call: _Call) -> Response:
        return _json(200, order_json(self.store.get(call.path_arg)))

    def get_order_by_client_id(self, call: _Call) -> Response:
        cid = _one(call.query, "client_order_id")
        if not cid:
            raise validation("client_order_id is required")
        return _json(200, order_json(self.store.get_by_client_order_id(cid)))

    def list_orders(self, call: _Call) -> Response:
        return _json(200, [order_json(o) for o in self.store.list_orders(self._order_query(call.query))])

    def cancel_order(self, call: _Call) -> Response:
        with self._gate():
            self.store.cancel(call.path_arg, self._now())
        return Response(204)

    def cancel_all(self, call: _Call) -> Response:
        results: list[dict[str, Any]] = []
        for order in self.store.list_orders(OrderQuery(status="open", limit=2**31, direction="asc")):
            try:
                with self._gate():
                    canceled = self.store.cancel(order.id, self._now())
                results.append({"id": order.id, "status": 200, "body": order_json(canceled)})
            except VenueError as error:  # raced to a terminal status
                results.append({"id": order.id, "status": error.status, "body": error_json(error)})
        return _json(207, results)

    def account(self, call: _Call) -> Response:
        if self.market is None:
            return _json(200, account_json(self.starting_cash))
        values = [to_decimal(p.qty) * to_decimal(p.current_price) for p in self.market.positions()]
        long_value = sum((v for v in values if v > 0), Decimal(0))
        short_value = sum((v for v in values if v < 0), Decimal(0))
        return _json(200, account_json(to_decimal(self.market.cash()), long_value, short_value))

    def get_clock(self, call: _Call) -> Response:
        reading: ClockReading = self.clock()
        return _json(200, clock_json(reading))

    def _positions(self) -> list[dict[str, Any]]:
        if self.market is None:
            return []
        return [
            position_json(
                p.symbol,
                to_decimal(p.qty),
                to_decimal(p.cost),
                to_decimal(p.avg_entry_price),
                to_decimal(p.current_price),
                None if p.lastday_price is None else to_decimal(p.lastday_price),
            )
            for p in self.market.positions()
        ]

    def list_positions(self, call: _Call) -> Response:
        return _json(200, self._positions())

    def get_position(self, call: _Call) -> Response:
        wanted = call.path_arg.upper()
        for body in self._positions():
            if wanted in (body["symbol"], body["asset_id"].upper()):
                return _json(200, body)
        raise not_found("position does not exist")  # body unverified (wire contract section 2.8)

    def stock_bars(self, call: _Call) -> Response:
        if self.market is None:
            raise not_found("the venue has no bar file")
        return _json(200, bars_page(self.market.replay, call.query, self.bars_page_size))

    @staticmethod
    def _order_query(query: dict[str, list[str]]) -> OrderQuery:
        status = STATUS_FILTERS.get(_one(query, "status") or "open")
        if status is None:
            raise validation("invalid status")
        direction = DIRECTIONS.get(_one(query, "direction") or "desc")
        if direction is None:
            raise validation("invalid direction")
        raw_limit = _one(query, "limit") or "50"
        if not raw_limit.isdigit() or int(raw_limit) < 1:
            raise validation("invalid limit")
        side = _one(query, "side") or None
        if side is not None and side not in ("buy", "sell"):
            raise validation("invalid side")
        raw_symbols = _one(query, "symbols") or ""
        symbols = tuple(sorted({s.strip().upper() for s in raw_symbols.split(",") if s.strip()}))
        after, until = _one(query, "after"), _one(query, "until")
        return OrderQuery(
            status=status,
            limit=min(int(raw_limit), MAX_ORDERS_LIMIT),
            direction=direction,
            symbols=symbols,
            side=side,
            after=parse_query_time(after, "after") if after else None,
            until=parse_query_time(until, "until") if until else None,
        )


_PREFIX_ROUTES: tuple[tuple[str, Mapping[str, Handler]], ...] = (
    ("/v2/orders/", {"GET": VenueApp.get_order, "DELETE": VenueApp.cancel_order}),
    ("/v2/positions/", {"GET": VenueApp.get_position}),
)
_EXACT_ROUTES: Mapping[str, Mapping[str, Handler]] = {
    "/v2/orders:by_client_order_id": {"GET": VenueApp.get_order_by_client_id},
    "/v2/orders": {"POST": VenueApp.submit_order, "GET": VenueApp.list_orders, "DELETE": VenueApp.cancel_all},
    "/v2/account": {"GET": VenueApp.account},
    "/v2/clock": {"GET": VenueApp.get_clock},
    "/v2/positions": {"GET": VenueApp.list_positions},
    "/v2/stocks/bars": {"GET": VenueApp.stock_bars},
}
