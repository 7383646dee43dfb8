"""The one numeric representation used by every stored event.

Prices, quantities, money amounts and volumes are Python ``int`` values counting
units of 1e-8 (``SCALE``). ``Fixed8(1)`` is 0.00000001; one share is ``100_000_000``.
Timestamps are ``int`` nanoseconds since the Unix epoch, UTC. Nothing stored is a
binary float, so encoding is exact and identical on every machine.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Annotated

import msgspec

SCALE = 100_000_000
"""Fixed-point scale: stored integers count units of 1e-8."""

SCALE_DIGITS = 8

Fixed8 = Annotated[
    int,
    msgspec.Meta(
        description="fixed-point decimal: integer count of 1e-8 units (price in USD, quantity in shares, money in USD)"
    ),
]
Nanos = Annotated[int, msgspec.Meta(ge=0, description="timestamp: integer nanoseconds since 1970-01-01T00:00:00Z")]

TS_MAX = 2**63 - 1
"""The last timestamp the journal holds: ``Nanos`` are signed 64-bit integers everywhere they are
folded (numpy, polars, Postgres), and never negative (``ge=0``): 1970-01-01 to 2262-04-11T23:47:16Z."""

EDGE_TS_MIN = 86_400 * 1_000_000_000
"""The first timestamp accepted from outside (1970-01-02T00:00:00Z): one day inside the journal's range,
so the session holding an input (which opens less than a day before it) is inside it too."""

EDGE_TS_MAX = 9_222_422_400 * 1_000_000_000
"""The last timestamp accepted from outside (2262-04-01T00:00:00Z): eleven days inside the journal's range,
for the session closes and the calendar lookups around the last input."""


def ts_accepted(ns: int) -> bool:
    """Whether an input's timestamp is inside the range the edge accepts (``EDGE_TS_MIN..EDGE_TS_MAX``)."""
    return EDGE_TS_MIN <= ns <= EDGE_TS_MAX


_QUANT = Decimal(1).scaleb(-SCALE_DIGITS)


class FixedPointError(ValueError):
    """A value cannot be represented as a finite 1e-8 fixed-point number."""


def to_fixed(value: Decimal | int | str) -> int:
    """Convert a decimal value to 1e-8 units, rounding half-even. Floats are refused."""
    if isinstance(value, float):
        raise FixedPointError("binary floats are not accepted; pass a str, int or Decimal")
    try:
        d = Decimal(value)
    except (InvalidOperation, ValueError) as exc:
        raise FixedPointError(f"not a decimal number: {value!r}") from exc
    if not d.is_finite():
        raise FixedPointError(f"not finite: {value!r}")
    return int((d * SCALE).to_integral_value(rounding=ROUND_HALF_EVEN))


def to_decimal(units: int) -> Decimal:
    """1e-8 units back to an exact Decimal (for display and config echoes)."""
    return (Decimal(units) / SCALE).quantize(_QUANT)


def exact(units: int) -> str:
    """Exact decimal text with 8 places, never exponent notation ("0.00000000")."""
    return format(to_decimal(units), "f")


def fmt_fixed(units: int, places: int = 4) -> str:
    """Human display of a fixed-point value, rounded half-even to ``places`` decimals."""
    q = Decimal(1).scaleb(-places)
    return format((Decimal(units) / SCALE).quantize(q, rounding=ROUND_HALF_EVEN), "f")


def div_round_half_even(num: int, den: int) -> int:
    """Integer division rounded half-to-even; ``den`` must be positive."""
    if den <= 0:
        raise ValueError("denominator must be positive")
    q, r = divmod(num, den)
    twice = 2 * r
    if twice > den or (twice == den and q % 2 == 1):
        q += 1
    return q


def mul_fixed(a: int, b: int) -> int:
    """Product of two 1e-8 values (e.g. qty x price = money), rounded half-even."""
    return div_round_half_even(a * b, SCALE)


def bps_to_centi(v: Decimal) -> int:
    """Basis points (two decimals at most) to integer hundredths of a bp (1e-6 of a unit)."""
    return int(v * 100)
