"""Position fold: quantity, average cost, realized P&L and fees per symbol.

Pure and integer-exact (1e-8 units). The core uses it for sizing; the positions and
P&L projections use the same fold, so there is one implementation of position math.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from journal_schema.units import SCALE, div_round_half_even


@dataclass(slots=True)
class Position:
    qty: int = 0  # signed, 1e-8 shares
    cost: int = 0  # signed cost basis of the open quantity, in 1e-16 USD (qty x price, unscaled)
    realized: int = 0  # realized P&L, 1e-8 USD, before fees
    fees: int = 0  # fees paid, 1e-8 USD
    last_price: int | None = None  # last bar close, 1e-8 USD
    traded: bool = False  # has had at least one fill

    @property
    def avg_price(self) -> int:
        """Average entry price of the open quantity (1e-8 USD), 0 when flat."""
        if self.qty == 0:
            return 0
        return div_round_half_even(self.cost, self.qty) if self.qty > 0 else div_round_half_even(-self.cost, -self.qty)

    def unrealized(self) -> int:
        """Mark-to-market P&L of the open quantity at the last bar close (1e-8 USD)."""
        if self.qty == 0 or self.last_price is None:
            return 0
        return div_round_half_even(self.qty * self.last_price - self.cost, SCALE)


@dataclass(slots=True)
class PositionBook:
    positions: dict[str, Position] = field(default_factory=dict)

    def traded(self) -> list[tuple[str, Position]]:
        """Positions of symbols that have had a fill, by symbol."""
        return [(s, p) for s, p in sorted(self.positions.items()) if p.traded]

    def get(self, symbol: str) -> Position:
        p = self.positions.get(symbol)
        if p is None:
            p = self.positions[symbol] = Position()
        return p

    def qty(self, symbol: str) -> int:
        p = self.positions.get(symbol)
        return 0 if p is None else p.qty

    def apply_fill(self, symbol: str, signed_qty: int, price: int, fee: int) -> None:
        """Apply one fill. Closing quantity realizes P&L against the average cost."""
        p = self.get(symbol)
        p.traded = True
        p.fees += fee
        if p.qty == 0 or (p.qty > 0) == (signed_qty > 0):
            p.qty += signed_qty
            p.cost += signed_qty * price
            return
        closing = min(abs(signed_qty), abs(p.qty))
        # cost of the closed part, proportional to the average cost (exact in 1e-16 units)
        closed_cost = div_round_half_even(p.cost * closing, abs(p.qty))
        sign = 1 if p.qty > 0 else -1
        proceeds = sign * closing * price
        p.realized += div_round_half_even(proceeds - closed_cost, SCALE)
        p.cost -= closed_cost
        p.qty -= sign * closing
        rest = abs(signed_qty) - closing
        if rest:
            new_sign = -sign
            p.qty += new_sign * rest
            p.cost += new_sign * rest * price
        if p.qty == 0:
            p.cost = 0

    def adopt(self, symbol: str, qty: int, avg_price: int) -> None:
        """Take the broker's position as ours (reconciliation with adoption): quantity and average
        price are replaced; realized P&L and fees so far are kept."""
        p = self.get(symbol)
        p.traded = True
        p.qty = qty
        p.cost = qty * avg_price

    def mark(self, symbol: str, price: int) -> Position:
        """Record the last close (a position opened later is marked to it); returns the position."""
        p = self.positions.get(symbol)
        if p is None:
            p = self.positions[symbol] = Position()
        p.last_price = price
        return p
