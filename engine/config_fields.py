"""What every config table shares: the strict base model and the decimal-place rules."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import BaseModel, ConfigDict, field_serializer


def plain(d: Decimal) -> str:
    """Canonical decimal text: no exponent, no trailing zeros ("2.50" -> "2.5", "1E+2" -> "100")."""
    return format(d.normalize(), "f")


class Section(BaseModel):
    """A config table: unknown keys refused, immutable, decimals serialized as plain text."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_serializer("*", when_used="json")
    def _ser(self, v: Any) -> Any:
        return plain(v) if isinstance(v, Decimal) else v


def at_most_places(v: Decimal, places: int, problem: str) -> Decimal:
    """``v`` when it has at most ``places`` decimal places; else ``ValueError(problem)``, and a value too large
    to be written with them (``1e26`` in basis points) is refused as such, never a ``decimal`` exception."""
    try:
        exact = v == v.quantize(Decimal(1).scaleb(-places))
    except InvalidOperation:
        raise ValueError(f"{v} is too large") from None
    if not exact:
        raise ValueError(problem)
    return v


def two_places(v: Decimal) -> Decimal:
    return at_most_places(v, 2, "basis points are limited to two decimal places")


def six_places(v: Decimal) -> Decimal:
    """Ratios and factors: at most 6 decimal places (they become integers in 1e-6 units)."""
    return at_most_places(v, 6, "at most 6 decimal places")
