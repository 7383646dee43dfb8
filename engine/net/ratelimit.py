"""One token bucket for every broker call, with ``Retry-After`` lockouts.

A bucket holds at most ``burst`` tokens and refills at ``rate_per_minute``; each request
takes one. A 429 answer's ``Retry-After`` locks the bucket until that moment (no token
is granted before it, whatever the fill level). Time comes from an injected monotonic
clock so the behaviour is exactly testable; the adapter uses ``time.monotonic``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

DEFAULT_RATE_PER_MINUTE = 200
_EPS = 1e-9  # a token refilled to 0.999999999 after sleeping the computed delay counts as whole


@dataclass(frozen=True)
class BucketState:
    """What a cycle summary shows: tokens left, lockout, waits and 429s so far."""

    tokens: float
    locked_for: float  # seconds until a Retry-After lockout ends (0 when none)
    waited_seconds: float
    granted: int
    lockouts: int


class TokenBucket:
    def __init__(
        self,
        rate_per_minute: float = DEFAULT_RATE_PER_MINUTE,
        burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,  # shell: a rate is per wall second
    ) -> None:
        if rate_per_minute <= 0:
            raise ValueError("rate_per_minute must be positive")
        self.rate = rate_per_minute / 60.0  # tokens per second
        self.capacity = float(burst if burst is not None else max(1.0, rate_per_minute / 60.0))
        if self.capacity < 1:
            raise ValueError("burst must be at least 1")
        self._clock = clock
        self._tokens = self.capacity
        self._stamp = clock()
        self._locked_until = float("-inf")
        self._waited = 0.0
        self._granted = 0
        self._lockouts = 0

    def _refill(self, now: float) -> None:
        if now > self._stamp:
            self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now

    def delay(self) -> float:
        """Seconds until a token can be taken (0 when one can be taken now)."""
        now = self._clock()
        self._refill(now)
        wait_lock = self._locked_until - now
        wait_token = (1 - self._tokens) / self.rate
        wait = max(wait_lock, wait_token)
        return wait if wait > _EPS else 0.0

    def try_acquire(self) -> bool:
        """Take a token if one is available now."""
        if self.delay() > 0:
            return False
        self._tokens = max(0.0, self._tokens - 1)
        self._granted += 1
        return True

    def acquire(self, sleep: Callable[[float], None] = time.sleep) -> float:
        """Block until a token is taken; returns the seconds waited."""
        waited = 0.0
        while not self.try_acquire():
            d = self.delay()
            sleep(d)
            waited += d
        self._waited += waited
        return waited

    def lock_out(self, seconds: float) -> None:
        """A 429 said to come back after ``seconds``: grant nothing until then."""
        self._lockouts += 1
        self._locked_until = max(self._locked_until, self._clock() + max(0.0, seconds))
        self._tokens = min(self._tokens, 0.0)  # the venue's view: we were over the limit

    def state(self) -> BucketState:
        now = self._clock()
        self._refill(now)
        return BucketState(
            self._tokens, max(0.0, self._locked_until - now), self._waited, self._granted, self._lockouts
        )


def retry_after_seconds(value: str | None, now: datetime | None = None, default: float = 1.0) -> float:
    """``Retry-After`` as seconds: delta-seconds or an HTTP-date (RFC 9110 10.2.3).
    Missing or unreadable values give ``default``; dates in the past give 0."""
    if value is None or not value.strip():
        return default
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return default
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)  # shell: an HTTP-date is wall-clock time by definition
    return max(0.0, (when - now).total_seconds())
