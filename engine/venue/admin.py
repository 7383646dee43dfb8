"""The venue's admin endpoints under ``/venue/``: no auth headers, never faulted, JSON bodies.

| method | path | body |
| --- | --- | --- |
| GET | /venue/status | ``{"sim_time", "next_bar", "exhausted", "orders", "open_orders", "fills", "faults"}`` |
| GET | /venue/faults | the fault plan (``FaultPlan.to_json``) |
| PUT | /venue/faults | replace the plan (same shape; missing keys take defaults); 422 naming a bad kind |
| POST | /venue/step | advance one bar timestamp: ``{"sim_time", "exhausted"}``; 409 without a bar file |
| GET | /venue/order-log | ``[{"at", "event", "client_order_id", "order_id"}]``, oldest first |
| GET | /venue/fault-log | ``[{"seq", "at", "kind", "method", "path", "client_order_id"}]``, oldest first |
| GET | /venue/fills | ``[{"fill_id", "order_id", "client_order_id", "symbol", "side", "qty", "price", "fee", ...}]`` |
| GET | /venue/positions | ``{symbol: qty}`` of nonzero positions |

Times are venue UTC text (``2024-01-02T14:30:00.000000Z``); quantities and money are exact
decimal strings (``"10"``, ``"100.03"``). A fill (also ``"bid"``, ``"ask"``, ``"at"``) is one slice
of an order (``{order_id}-{n}``); ``bid`` / ``ask`` are the simulated quote it was priced against
(null for a fill recorded before the venue kept quotes). Order-log events: ``accepted``,
``duplicate_refused``, ``partially_filled``, ``filled``, ``canceled``, ``expired``. ``faults``
counts the rows of ``fault_log`` per kind, every kind listed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from engine.venue import faultlog, ledger
from engine.venue.clock import VenueClock, ns_to_datetime
from engine.venue.errors import CODE_MALFORMED, CODE_METHOD_NOT_ALLOWED, VenueError, not_found, validation
from engine.venue.faults import FaultInjector, FaultPlan, FaultPlanError
from engine.venue.market import VenueMarket, fixed_text
from engine.venue.messages import Response, json_response
from engine.venue.store import VenueStore
from engine.venue.wire import error_json, utc_text

log = logging.getLogger(__name__)

PREFIX = "/venue/"
CODE_CONFLICT = 40910000  # venue-specific; real Alpaca has no admin API


def _opt_text(units: int | None) -> str | None:
    return None if units is None else fixed_text(units)


class AdminApi:
    def __init__(self, store: VenueStore, market: VenueMarket | None, faults: FaultInjector, clock: VenueClock) -> None:
        self.store = store
        self.market = market
        self.faults = faults
        self.clock = clock
        self._routes: Mapping[str, Mapping[str, Callable[[bytes], Response]]] = {
            "/venue/status": {"GET": self.status},
            "/venue/faults": {"GET": self.get_faults, "PUT": self.put_faults},
            "/venue/step": {"POST": self.step},
            "/venue/order-log": {"GET": self.order_log},
            "/venue/fault-log": {"GET": self.fault_log},
            "/venue/fills": {"GET": self.fills},
            "/venue/positions": {"GET": self.positions},
        }

    def handle(self, method: str, path: str, body: bytes) -> Response:
        try:
            methods = self._routes.get(path.rstrip("/"))
            if methods is None:
                raise not_found("endpoint not found")
            if method not in methods:
                raise VenueError(405, CODE_METHOD_NOT_ALLOWED, "method not allowed")
            return methods[method](body)
        except VenueError as error:
            return json_response(error.status, error_json(error))

    def _sim_time(self) -> str:
        if self.market is None:
            return utc_text(self.clock().timestamp)
        return utc_text(ns_to_datetime(self.market.replay.now_ns))

    def _next_bar(self) -> int | None:
        return None if self.market is None else self.market.replay.next_ts()

    def status(self, body: bytes) -> Response:
        nxt = self._next_bar()
        orders, open_orders = self.store.counts()
        with self.store.reading() as cur:
            fills = ledger.fill_count(cur)
            faults = faultlog.counts(cur)
        return json_response(
            200,
            {
                "sim_time": self._sim_time(),
                "next_bar": None if nxt is None else utc_text(ns_to_datetime(nxt)),
                "exhausted": nxt is None,
                "orders": orders,
                "open_orders": open_orders,
                "fills": fills,
                "faults": faults,
            },
        )

    def get_faults(self, body: bytes) -> Response:
        return json_response(200, self.faults.plan.to_json())

    def put_faults(self, body: bytes) -> Response:
        try:
            data = json.loads(body) if body else None
        except ValueError:  # also UnicodeDecodeError
            raise VenueError(400, CODE_MALFORMED, "request body format is invalid") from None
        try:
            plan = FaultPlan.from_json(data)
        except FaultPlanError as error:
            raise validation(str(error)) from None
        self.faults.replace(plan)
        log.info("fault plan replaced: %s", plan.describe())
        return json_response(200, plan.to_json())

    def step(self, body: bytes) -> Response:
        if self.market is None:
            raise VenueError(409, CODE_CONFLICT, "the venue has no bar file to step")
        self.market.step()
        return json_response(200, {"sim_time": self._sim_time(), "exhausted": self._next_bar() is None})

    def order_log(self, body: bytes) -> Response:
        rows = self.store.log()
        return json_response(200, [{"at": a, "event": e, "client_order_id": c, "order_id": o} for a, e, c, o in rows])

    def fault_log(self, body: bytes) -> Response:
        with self.store.reading() as cur:
            rows = faultlog.entries(cur)
        return json_response(
            200,
            [
                {
                    "seq": r.seq,
                    "at": r.at,
                    "kind": r.kind,
                    "method": r.method,
                    "path": r.path,
                    "client_order_id": r.client_order_id,
                }
                for r in rows
            ],
        )

    def fills(self, body: bytes) -> Response:
        with self.store.reading() as cur:
            rows = ledger.fills(cur)
        out: list[dict[str, Any]] = [
            {
                "fill_id": f.fill_id,
                "order_id": f.order_id,
                "client_order_id": f.client_order_id,
                "symbol": f.symbol,
                "side": f.side,
                "qty": fixed_text(f.qty),
                "price": fixed_text(f.price),
                "fee": fixed_text(f.fee),
                "bid": _opt_text(f.bid),
                "ask": _opt_text(f.ask),
                "at": utc_text(ns_to_datetime(f.ts)),
            }
            for f in rows
        ]
        return json_response(200, out)

    def positions(self, body: bytes) -> Response:
        with self.store.reading() as cur:
            held = ledger.holdings(cur)
        return json_response(200, {h.symbol: fixed_text(h.qty) for h in held})
