"""Pre-trade checks at the OMS boundary, right before a submit request (docs/risk.md#pre-trade-checks).

In order, the first that fails blocks the order (``OrderBlocked`` + a WARNING alert, no intent):
``DUPLICATE_ORDER_BLOCK`` (the client order id exists, or an open order has the same symbol, side,
quantity and bar), ``ORDER_SIZE_BLOCK`` (notional or shares above the maximum), ``PRICE_COLLAR_BLOCK``
(a limit price too far from the last close; market orders carry no price to collar: use
``orders.type = "limit"`` to have every order collared), ``RATE_THROTTLE_BLOCK`` (orders in the
throttle window, all symbols or this one),
``CANCEL_LOOP_BLOCK`` (the symbol was canceled-and-replaced too often in the loop-guard window).
Windows are in event time, so replays block the same orders.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from engine.core.orders import OrderBook
from engine.core.risk.params import RiskParams
from journal_schema.units import SCALE, fmt_fixed


@dataclass(slots=True)
class MessageLog:
    """Event times of sent orders and cancels, for the throttles and the loop guard."""

    orders: deque[int] = field(default_factory=deque)
    by_symbol: dict[str, deque[int]] = field(default_factory=dict)
    cancels: deque[int] = field(default_factory=deque)
    replace_cancels: dict[str, deque[int]] = field(default_factory=dict)  # OPPOSITE_SIGNAL cancels

    def order_sent(self, symbol: str, ts: int) -> None:
        self.orders.append(ts)
        self.by_symbol.setdefault(symbol, deque()).append(ts)

    def cancel_sent(self, symbol: str, ts: int, *, replace: bool) -> None:
        self.cancels.append(ts)
        if replace:
            self.replace_cancels.setdefault(symbol, deque()).append(ts)


def _recent(q: deque[int] | None, since: int) -> int:
    if not q:
        return 0
    while q and q[0] <= since:
        q.popleft()
    return len(q)


def cancels_allowed(params: RiskParams, log: MessageLog, ts: int, n: int) -> bool:
    """Whether ``n`` more throttled cancels fit in the window."""
    return _recent(log.cancels, ts - params.throttle_window_ns) + n <= params.max_cancels


def check(
    params: RiskParams,
    orders: OrderBook,
    log: MessageLog,
    *,
    cid: str,
    symbol: str,
    side: str,
    qty: int,
    ts: int,
    limit_price: int | None,
    last: int,
) -> tuple[str, str] | None:
    """The first pre-trade check the order fails: (code, detail), or None when it may be sent."""
    if cid in orders.orders:
        return "DUPLICATE_ORDER_BLOCK", f"client_order_id {cid} already exists ({orders.orders[cid].status})"
    for o in orders.open_orders(symbol):
        if o.side == side and o.qty == qty and o.requested_ts == ts:
            return "DUPLICATE_ORDER_BLOCK", f"{o.client_order_id} is the same order for the same bar"
    ref = limit_price if limit_price is not None else last
    notional = qty * ref // SCALE
    if notional > params.max_order_notional:
        return "ORDER_SIZE_BLOCK", (
            f"notional {fmt_fixed(notional, 2)} above max_order_notional {fmt_fixed(params.max_order_notional, 2)}"
        )
    if qty > params.max_order_shares:
        return "ORDER_SIZE_BLOCK", (
            f"{fmt_fixed(qty, 2)} shares above max_order_shares {fmt_fixed(params.max_order_shares, 2)}"
        )
    if limit_price is not None and last > 0 and abs(limit_price - last) * 10_000 > last * params.collar_bp:
        return "PRICE_COLLAR_BLOCK", (
            f"limit price {fmt_fixed(limit_price, 4)} more than {params.collar_bp} bps "
            f"from the last close {fmt_fixed(last, 4)}"
        )
    since = ts - params.throttle_window_ns
    if _recent(log.orders, since) >= params.max_orders:
        return "RATE_THROTTLE_BLOCK", f"{params.max_orders} orders already in the throttle window"
    if _recent(log.by_symbol.get(symbol), since) >= params.max_orders_symbol:
        return "RATE_THROTTLE_BLOCK", f"{params.max_orders_symbol} orders of {symbol} already in the throttle window"
    loops = _recent(log.replace_cancels.get(symbol), ts - params.loop_window_ns)
    if loops >= params.loop_limit:
        return "CANCEL_LOOP_BLOCK", f"{loops} cancel-and-replace cycles of {symbol} in the loop-guard window"
    return None
