"""The venue's clock is injected: one function returning the current market-clock reading.

Order timestamps (``created_at`` etc.) use ``timestamp`` from the same reading, so a test or
the later bar-replay clock controls every time the venue reports. All datetimes are aware.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class ClockReading:
    timestamp: datetime
    is_open: bool
    next_open: datetime
    next_close: datetime

    def __post_init__(self) -> None:
        for name in ("timestamp", "next_open", "next_close"):
            value: datetime = getattr(self, name)
            if value.tzinfo is None or value.utcoffset() is None:
                raise ValueError(f"ClockReading.{name} must be timezone-aware, got {value!r}")


VenueClock = Callable[[], ClockReading]


def fixed_clock(reading: ClockReading) -> VenueClock:
    """A clock that always answers ``reading``."""

    def read() -> ClockReading:
        return reading

    return read
