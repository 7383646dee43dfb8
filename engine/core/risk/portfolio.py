"""Portfolio limits: equity, exposure, the size an order may have under the caps, and which limit
the book breaches now. Pure integer arithmetic in 1e-8 units (docs/risk.md#portfolio-limits).

An order splits into a risk-reducing part (towards flat) and a risk-increasing part (away from
flat, including the far side of a flip). Only the increasing part is clipped: to whole shares that
keep the trade notional, the symbol's weight, gross and net exposure under their caps. Exposure
counts positions plus working orders (what the book becomes if they fill) at the last marks.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from engine.core.orders import OrderBook
from engine.core.positions import PositionBook
from engine.core.risk.params import RiskParams
from journal_schema.units import SCALE, div_round_half_even, fmt_fixed


def equity(params: RiskParams, positions: PositionBook) -> int:
    """capital + realized - fees + unrealized at the last marks (1e-8 USD)."""
    return book(params, positions)[0]


def values(positions: PositionBook, orders: OrderBook | None = None) -> dict[str, int]:
    """Signed value (1e-8 USD) per symbol at its last mark: positions, plus working orders if given."""
    out: dict[str, int] = {}
    for symbol, p in positions.positions.items():
        qty = p.qty + (orders.open_qty(symbol) if orders is not None else 0)
        if qty and p.last_price:
            out[symbol] = div_round_half_even(qty * p.last_price, SCALE)
    if orders is not None:
        for symbol in orders.open_by_symbol:
            if symbol not in out:
                p = positions.get(symbol)
                qty = p.qty + orders.open_qty(symbol)
                if qty and p.last_price:
                    out[symbol] = div_round_half_even(qty * p.last_price, SCALE)
    return out


@dataclass(frozen=True, slots=True)
class Sized:
    approved: int  # signed quantity that may be sent (1e-8 shares)
    increasing: bool  # some of the order adds risk
    clipped_by: str | None  # CLIPPED_* reason when the increasing part was cut
    rejected_by: str | None  # *_LIMIT reason when none of a purely increasing order fits
    gross: int  # gross exposure after the approved quantity
    net: int
    weight_bp: int  # |symbol value| / capital after, basis points


def split(projected: int, order_qty: int) -> tuple[int, int]:
    """(reducing part, increasing part) of ``order_qty`` for a book at ``projected`` (all signed)."""
    target = projected + order_qty
    if projected == 0:
        return 0, order_qty
    if target == 0 or ((projected > 0) == (target > 0) and abs(target) <= abs(projected)):
        return order_qty, 0
    if (projected > 0) == (target > 0):
        return 0, order_qty
    return -projected, target  # a flip: to flat, then the far side


def size(
    params: RiskParams,
    positions: PositionBook,
    orders: OrderBook,
    symbol: str,
    order_qty: int,
    price: int,
    *,
    reducing_only: bool,
) -> Sized:
    """The quantity of ``order_qty`` the limits allow (``reducing_only``: trading is REDUCING)."""
    vals = values(positions, orders)
    projected = positions.qty(symbol) + orders.open_qty(symbol)
    reducing, inc = split(projected, order_qty)
    clipped_by = rejected_by = None
    if inc and price > 0:
        sign = 1 if inc > 0 else -1
        base = abs(projected + reducing)  # the position the increasing part starts from (same side)
        gross_other = sum(abs(v) for s, v in vals.items() if s != symbol)  # ints
        net_other = sum(v for s, v in vals.items() if s != symbol)  # ints
        cap = params.capital
        room = {
            "TRADE_SIZE": params.max_trade_notional * SCALE // price,
            "SYMBOL_WEIGHT": cap * params.weight_bp // 10_000 * SCALE // price - base,
            "GROSS_EXPOSURE": (cap * params.gross_bp // 10_000 - gross_other) * SCALE // price - base,
            "NET_EXPOSURE": (cap * params.net_bp // 10_000 - sign * net_other) * SCALE // price - base,
        }
        if reducing_only:
            room["REDUCE_ONLY"] = 0
        name, allowed = min(room.items(), key=lambda kv: kv[1])
        if allowed < abs(inc):
            allowed = max(0, allowed) // SCALE * SCALE  # whole shares
            clipped = sign * allowed
            if clipped == 0 and reducing == 0:
                rejected_by = "REDUCE_ONLY" if name == "REDUCE_ONLY" else f"{name}_LIMIT"
            else:
                clipped_by = "REDUCE_ONLY" if name == "REDUCE_ONLY" else f"CLIPPED_{name}"
            inc = clipped
    approved = 0 if rejected_by else reducing + inc
    after = dict(vals)
    new_value = div_round_half_even((projected + approved) * price, SCALE) if price else vals.get(symbol, 0)
    after[symbol] = new_value
    gross = sum(abs(v) for v in after.values())  # ints
    net = sum(after.values())  # ints
    weight = abs(new_value) * 10_000 // params.capital
    return Sized(approved, bool(split(projected, order_qty)[1]), clipped_by, rejected_by, gross, net, weight)


def book(params: RiskParams, positions: PositionBook) -> tuple[int, int]:
    """(equity, gross exposure) in one pass: what every mark of a held symbol checks."""
    eq, gross = params.capital, 0
    for p in positions.positions.values():
        if p.traded:
            eq += p.realized - p.fees + p.unrealized()
            if p.qty and p.last_price:
                gross += abs(div_round_half_even(p.qty * p.last_price, SCALE))
    return eq, gross


def breach(params: RiskParams, positions: PositionBook, gross: int | None = None) -> tuple[str, str] | None:
    """The first portfolio cap the held positions break at the last marks: (reason, detail)."""
    cap = params.capital
    if gross is not None and gross * 10_000 <= cap * min(params.gross_bp, params.net_bp, params.weight_bp):
        return None  # the common case: under every cap at once (net and each weight are at most gross)
    vals = values(positions)
    gross, net = sum(abs(v) for v in vals.values()), sum(vals.values())  # ints
    if gross * 10_000 > cap * params.gross_bp:
        return "GROSS_EXPOSURE_LIMIT", f"gross exposure {_usd(gross)} above {pct(params.gross_bp)}% of capital"
    if abs(net) * 10_000 > cap * params.net_bp:
        return "NET_EXPOSURE_LIMIT", f"net exposure {_usd(net)} above {pct(params.net_bp)}% of capital"
    for symbol, v in sorted(vals.items()):
        if abs(v) * 10_000 > cap * params.weight_bp:
            return "SYMBOL_WEIGHT_LIMIT", f"{symbol} value {_usd(v)} above {pct(params.weight_bp)}% of capital"
    return None


def _usd(units: int) -> str:
    return fmt_fixed(units, 2)


def pct(bp: int) -> str:
    """Basis points as percentage text: 2500 -> '25'."""
    return format((Decimal(bp) / 100).normalize(), "f")
