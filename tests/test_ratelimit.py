from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.net.ratelimit import TokenBucket, retry_after_seconds


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_default_is_200_per_minute_with_a_small_burst():
    clock = FakeClock()
    bucket = TokenBucket(clock=clock)
    granted = sum(bucket.try_acquire() for _ in range(10))
    assert granted == 3  # burst = 200/60 = 3.33 tokens
    waited = sum(bucket.acquire(sleep=clock.sleep) for _ in range(200))
    # 200 more tokens at 200/min take 60 s, less the 1/3 token left over from the burst
    assert abs(waited - (60 - 0.1)) < 1e-6
    assert bucket.state().granted == 203 and bucket.state().waited_seconds == waited


def test_retry_after_locks_the_bucket_until_then():
    clock = FakeClock()
    bucket = TokenBucket(rate_per_minute=600, burst=10, clock=clock)
    bucket.lock_out(5.0)
    assert not bucket.try_acquire()
    assert bucket.state().locked_for == 5.0 and bucket.state().lockouts == 1
    waited = bucket.acquire(sleep=clock.sleep)
    assert waited >= 5.0 and clock.now >= 1005.0


@settings(max_examples=300)
@given(
    rate=st.integers(1, 600),
    burst=st.integers(1, 20),
    gaps=st.lists(st.floats(0, 2, allow_nan=False), min_size=1, max_size=300),
)
def test_never_more_than_burst_plus_rate_times_elapsed(rate, burst, gaps):
    clock = FakeClock()
    bucket = TokenBucket(rate_per_minute=rate, burst=burst, clock=clock)
    start = clock.now
    times = []
    for g in gaps:
        clock.now += g
        if bucket.try_acquire():
            times.append(clock.now)
    # any window [a, b] of grants holds at most burst + rate * (b - a) of them
    for i in range(len(times)):
        for j in range(i, len(times)):
            assert j - i + 1 <= burst + rate / 60 * (times[j] - times[i]) + 1e-9
    assert len(times) <= burst + rate / 60 * (clock.now - start) + 1e-9


@settings(max_examples=200)
@given(rate=st.integers(1, 600), n=st.integers(1, 50))
def test_requests_spaced_at_the_rate_are_all_granted(rate, n):
    clock = FakeClock()
    bucket = TokenBucket(rate_per_minute=rate, burst=1, clock=clock)
    for _ in range(n):
        assert bucket.try_acquire()
        clock.now += 60 / rate


def test_retry_after_forms():
    now = datetime(2026, 11, 21, 12, 0, 0, tzinfo=UTC)
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds("Sat, 21 Nov 2026 12:00:30 GMT", now=now) == 30.0
    assert retry_after_seconds("Sat, 21 Nov 2026 11:00:00 GMT", now=now) == 0.0
    assert retry_after_seconds(None) == 1.0 and retry_after_seconds("soon", default=2.0) == 2.0
