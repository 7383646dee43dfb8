"""The venue's clock is injected: one function returning the current market-clock reading.

Order timestamps (``created_at`` etc.) use ``timestamp`` from the same reading, so a test or
the bar-replay clock (``session_reading``) controls every time the venue reports. All datetimes are aware.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from engine.feeds.calendar import Sessions

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


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


def ns_to_datetime(ns: int) -> datetime:
    """Integer ns UTC to an aware datetime (truncated to microseconds)."""
    return EPOCH + timedelta(microseconds=ns // 1000)


def session_reading(sessions: Sessions, now_ns: int) -> ClockReading:
    """The clock at ``now_ns``: open when ``open <= now < close`` of a session; ``next_open`` and
    ``next_close`` are the first session open / close strictly after ``now``. Past the end of
    the calendar they fall back to ``now`` (the caller loads sessions well past the last bar)."""
    opens, closes = sessions.opens, sessions.closes
    i = int(np.searchsorted(closes, now_ns, side="right"))  # first close strictly after now
    is_open = i < len(closes) and int(opens[i]) <= now_ns
    j = int(np.searchsorted(opens, now_ns, side="right"))  # first open strictly after now
    next_open = int(opens[j]) if j < len(opens) else now_ns
    next_close = int(closes[i]) if i < len(closes) else now_ns
    return ClockReading(
        timestamp=ns_to_datetime(now_ns),
        is_open=is_open,
        next_open=ns_to_datetime(next_open),
        next_close=ns_to_datetime(next_close),
    )
