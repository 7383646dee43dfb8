"""engine.live.breakers: per-dependency circuit breakers with an injected clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.live.breakers import (
    DEFAULT_RULES,
    Breaker,
    BreakerRule,
    Breakers,
    Opened,
    closed_event,
    opened_event,
    rules_of,
)
from journal_schema.reasons import DEPENDENCIES
from journal_schema.risk_events import CircuitClosed, CircuitOpened

S = 1_000_000_000  # one second in ns
T0 = 1_700_000_000 * S


def fail(breaker: Breaker, at: int, *, disable: bool = False) -> Opened | None:
    return breaker.failure(at, "TRANSIENT_NETWORK", "read: connection reset", disable=disable)


def opened(breaker: Breaker, at: int, *, disable: bool = False) -> Opened:
    result = fail(breaker, at, disable=disable)
    assert result is not None, f"the failure at {at} should have opened the breaker"
    return result


def test_default_rules() -> None:
    assert (BreakerRule(3, 60 * S, 60 * S), BreakerRule(10, 600 * S, 900 * S)) == DEFAULT_RULES


def test_two_failures_in_60s_stay_closed_the_third_opens_for_60s() -> None:
    b = Breaker("BROKER_READS")
    assert fail(b, T0) is None
    assert fail(b, T0 + 10 * S) is None
    assert b.state == "CLOSED" and b.allow(T0 + 20 * S)
    o = opened(b, T0 + 59 * S)
    assert o == Opened(
        dependency="BROKER_READS",
        category="TRANSIENT_NETWORK",
        failures=3,
        window_seconds=60,
        open_seconds=60,
        until_ns=T0 + 119 * S,
        detail="read: connection reset",
    )
    assert b.state == "OPEN" and b.until_ns == T0 + 119 * S
    assert b.is_open(T0 + 119 * S - 1) and not b.allow(T0 + 119 * S - 1)


def test_the_window_is_strict() -> None:
    b = Breaker("MARKET_DATA")
    for at in (T0, T0 + 30 * S, T0 + 60 * S):  # the first is exactly 60 s old at the third
        assert fail(b, at) is None
    assert b.state == "CLOSED"


def test_failures_spread_beyond_60s_do_not_open() -> None:
    b = Breaker("MARKET_DATA")
    for i in range(9):  # 31 s apart: never 3 within 60 s, and fewer than 10
        assert fail(b, T0 + i * 31 * S) is None
    assert b.state == "CLOSED" and b.allow(T0 + 9 * 31 * S)


def test_ten_failures_in_ten_minutes_open_for_fifteen_minutes() -> None:
    b = Breaker("CALENDAR")
    for i in range(9):  # 61 s apart: the 3-in-60 s rule never trips
        assert fail(b, T0 + i * 61 * S) is None
    last = T0 + 9 * 61 * S  # 549 s after the first
    o = opened(b, last)
    assert (o.failures, o.window_seconds, o.open_seconds, o.until_ns) == (10, 600, 900, last + 900 * S)
    assert not b.allow(last + 899 * S)
    assert b.allow(last + 900 * S)


def test_when_both_rules_trip_the_longer_open_wins() -> None:
    for rules in (
        (BreakerRule(3, 60 * S, 60 * S), BreakerRule(3, 600 * S, 900 * S)),
        (BreakerRule(3, 600 * S, 900 * S), BreakerRule(3, 60 * S, 60 * S)),
    ):
        b = Breaker("BROKER_SUBMIT", rules)
        fail(b, T0)
        fail(b, T0 + S)
        o = opened(b, T0 + 2 * S)
        assert (o.window_seconds, o.open_seconds, o.until_ns) == (600, 900, T0 + 902 * S)


def test_a_success_does_not_clear_the_failure_history() -> None:
    b = Breaker("BROKER_READS")
    fail(b, T0)
    fail(b, T0 + 10 * S)
    assert b.success(T0 + 20 * S) is False
    assert opened(b, T0 + 30 * S).failures == 3


def test_failures_while_open_are_not_counted() -> None:
    b = Breaker("BROKER_READS")
    for i in range(3):
        fail(b, T0 + i * S)
    until = T0 + 62 * S
    for at in (T0 + 30 * S, T0 + 40 * S, T0 + 50 * S):  # calls that were in flight
        assert fail(b, at) is None
    assert b.success(T0 + 50 * S) is False and b.state == "OPEN"  # nor are successes
    assert b.allow(until) and b.success(until)
    # were the three failures while open counted, this one would be the third within 60 s
    assert fail(b, until + S) is None
    assert b.state == "CLOSED"


def test_one_probe_at_until_and_success_closes() -> None:
    b = Breaker("BROKER_READS")
    for i in range(3):
        fail(b, T0 + i * S)
    until = T0 + 62 * S
    assert not b.allow(until - 1)
    assert b.allow(until)
    assert b.state == "HALF_OPEN"
    assert not b.allow(until) and not b.allow(until + 10 * S)  # the probe is out
    assert not b.is_open(until)
    assert b.success(until + S) is True
    assert b.state == "CLOSED" and b.allow(until + 2 * S)
    assert b.success(until + 3 * S) is False  # closed: nothing to report


def test_an_open_breaker_is_half_open_on_time_alone_and_a_probe_is_due() -> None:
    b = Breaker("BROKER_SUBMIT")
    for i in range(3):
        fail(b, T0 + i * S)
    until = T0 + 62 * S
    assert b.state_at(until - 1) == "OPEN" and not b.probe_due(until - 1)
    assert b.state_at(until) == "HALF_OPEN" and b.probe_due(until)  # nobody has called: time alone
    assert b.state_at(until + 3600 * S) == "HALF_OPEN"
    assert b.allow(until + 5 * S)  # the probe goes out
    assert b.state_at(until + 5 * S) == "HALF_OPEN" and not b.probe_due(until + 5 * S)
    assert b.success(until + 6 * S) and b.state_at(until + 6 * S) == "CLOSED"


def test_breakers_list_the_dependencies_not_closed() -> None:
    breakers = Breakers()
    for i in range(3):
        fail(breakers.get("MARKET_DATA"), T0 + i * S)
    assert breakers.not_closed(T0 + 3 * S) == {"MARKET_DATA": "OPEN"}
    assert breakers.not_closed(T0 + 62 * S) == {"MARKET_DATA": "HALF_OPEN"}
    breakers.get("MARKET_DATA").success(T0 + 62 * S)
    assert breakers.not_closed(T0 + 62 * S) == {}


def test_rules_from_the_config_table_are_in_seconds() -> None:
    assert rules_of([(3, 60, 60), (10, 600, 900)]) == DEFAULT_RULES
    assert rules_of([(1, 5, 7)]) == (BreakerRule(1, 5 * S, 7 * S),)


def test_failure_in_half_open_reopens_at_once_with_the_rule_that_opened_it() -> None:
    b = Breaker("MARKET_DATA")
    for i in range(10):
        fail(b, T0 + i * 61 * S)
    until = T0 + 549 * S + 900 * S
    assert b.allow(until)
    o = opened(b, until + S)
    assert (o.open_seconds, o.until_ns) == (900, until + S + 900 * S)
    assert b.state == "OPEN" and not b.allow(until + 2 * S)

    short = Breaker("MARKET_DATA")
    for i in range(3):
        fail(short, T0 + i * S)
    assert short.allow(T0 + 62 * S)
    o = opened(short, T0 + 62 * S)
    assert (o.failures, o.open_seconds, o.until_ns) == (1, 60, T0 + 122 * S)  # the older three are >= 60 s old


def test_failure_reported_after_until_without_allow_is_the_probe_answer() -> None:
    b = Breaker("BROKER_READS")
    for i in range(3):
        fail(b, T0 + i * S)
    assert opened(b, T0 + 62 * S).until_ns == T0 + 122 * S


def test_disable_opens_at_once_for_the_long_period() -> None:
    b = Breaker("MARKET_DATA")
    o = b.failure(T0, "PROVIDER_SCHEMA", "bars: body is not JSON", disable=True)
    assert o == Opened("MARKET_DATA", "PROVIDER_SCHEMA", 1, 0, 900, T0 + 900 * S, "bars: body is not JSON")
    assert b.state == "OPEN" and not b.allow(T0 + 899 * S)
    assert b.allow(T0 + 900 * S)
    assert opened(b, T0 + 901 * S).open_seconds == 900  # the probe fails: the long period again


def test_detail_is_one_line() -> None:
    b = Breaker("MARKET_DATA")
    o = b.failure(T0, "PROVIDER_SCHEMA", "line one\nline two " + "x" * 1000, disable=True)
    assert o is not None and "\n" not in o.detail and len(o.detail) <= 400
    assert o.detail.startswith("line one line two x")


def test_rules_are_checked() -> None:
    with pytest.raises(ValueError):
        BreakerRule(0, S, S)
    with pytest.raises(ValueError):
        BreakerRule(1, 0, S)
    with pytest.raises(ValueError):
        Breaker("CALENDAR", ())


def test_breakers_one_per_dependency_and_open_ones_sorted() -> None:
    bs = Breakers()
    assert {dep: bs.get(dep).dependency for dep in ("BROKER_SUBMIT", "BROKER_READS", "MARKET_DATA", "CALENDAR")} == {
        dep: dep for dep in DEPENDENCIES
    }
    assert bs.get("CALENDAR") is bs.get("CALENDAR")
    assert bs.open_dependencies(T0) == []
    bs.get("MARKET_DATA").failure(T0, "PROVIDER_SCHEMA", "x", disable=True)
    bs.get("BROKER_READS").failure(T0, "PROVIDER_SCHEMA", "x", disable=True)
    assert bs.open_dependencies(T0 + S) == ["BROKER_READS", "MARKET_DATA"]
    assert bs.get("CALENDAR").allow(T0 + S)  # the others are not affected
    assert bs.open_dependencies(T0 + 900 * S) == []  # due for a probe


def test_restore_puts_a_dependency_open_until_the_journaled_time() -> None:
    bs = Breakers()
    until = T0 + 300 * S
    bs.restore("BROKER_SUBMIT", until)
    b = bs.get("BROKER_SUBMIT")
    assert bs.open_dependencies(until - 1) == ["BROKER_SUBMIT"]
    assert not b.allow(until - 1) and b.until_ns == until
    assert b.allow(until) and not b.allow(until)
    o = opened(b, until + S)  # no rule is known after a restart: the first one
    assert (o.dependency, o.open_seconds, o.until_ns) == ("BROKER_SUBMIT", 60, until + 61 * S)
    assert b.allow(until + 61 * S)
    assert b.success(until + 62 * S) is True


def test_events_have_the_right_fields() -> None:
    o = Opened("BROKER_READS", "RATE_LIMIT", 3, 60, 60, T0 + 60 * S, "read: too many requests")
    event = opened_event(o, T0 + 5)
    assert event == CircuitOpened(
        ts=T0 + 5,
        dependency="BROKER_READS",
        category="RATE_LIMIT",
        failures=3,
        window_seconds=60,
        open_seconds=60,
        until_ts=T0 + 60 * S,
        detail="read: too many requests",
    )
    assert Breakers.opened_event(o, T0 + 5) == event
    closed = closed_event("BROKER_READS", T0 + 7)
    assert closed == CircuitClosed(ts=T0 + 7, dependency="BROKER_READS")
    assert Breakers.closed_event("BROKER_READS", T0 + 7) == closed
    # decoding validates the schema's constraints (failures >= 1, open_seconds >= 1, ...)
    for e in (event, closed):
        assert msgspec.json.decode(msgspec.json.encode(e), type=type(e)) == e


def test_a_disable_event_passes_the_schema() -> None:
    o = Breaker("MARKET_DATA").failure(T0, "PROVIDER_SCHEMA", "x", disable=True)
    assert o is not None
    event = opened_event(o, T0)
    assert msgspec.json.decode(msgspec.json.encode(event), type=CircuitOpened) == event


# ---------------------------------------------------------------- property: an independent model
Kind = Literal["failure", "success", "allow"]


@dataclass
class Model:
    """Failures are a plain list; a rule trips at failure f when it has ``failures`` of them in
    ``(f - window, f]``. Open means ``f <= t < f + open`` of an opening failure f."""

    rules: tuple[BreakerRule, ...]
    history: list[int] = field(default_factory=list)
    opened_by: BreakerRule | None = None  # set while not closed
    until: int = 0
    probe_out: bool = False
    intervals: list[tuple[int, int]] = field(default_factory=list)

    def is_open(self, t: int) -> bool:
        return any(start <= t < end for start, end in self.intervals)

    def allow(self, t: int) -> bool:
        if self.opened_by is None:
            return True
        if t < self.until or self.probe_out:
            return False
        self.probe_out = True
        return True

    def success(self, t: int) -> bool:
        if self.opened_by is None or t < self.until:
            return False
        self.opened_by, self.probe_out = None, False
        return True

    def failure(self, t: int) -> int | None:
        if self.opened_by is not None and t < self.until:
            return None  # ignored while open
        self.history.append(t)
        if self.opened_by is not None:
            rule = self.opened_by  # a failed probe
        else:
            tripped = [r for r in self.rules if sum(t - r.window_ns < f <= t for f in self.history) >= r.failures]
            if not tripped:
                return None
            rule = sorted(tripped, key=lambda r: -r.open_ns)[0]
        self.opened_by, self.probe_out, self.until = rule, False, t + rule.open_ns
        self.intervals.append((t, self.until))
        return self.until


_rule = st.builds(
    BreakerRule,
    failures=st.integers(1, 5),
    window_ns=st.integers(1, 120).map(lambda s: s * S),
    open_ns=st.integers(1, 200).map(lambda s: s * S),
)
_rules = st.one_of(st.just(DEFAULT_RULES), st.lists(_rule, min_size=1, max_size=3).map(tuple))
_steps = st.lists(
    st.tuples(st.integers(0, 90), st.sampled_from(["failure", "failure", "failure", "success", "allow"])),
    max_size=80,
)


@settings(max_examples=300, deadline=None)
@given(_rules, _steps)
def test_breaker_agrees_with_the_model(rules: tuple[BreakerRule, ...], steps: list[tuple[int, Kind]]) -> None:
    breaker, model = Breaker("BROKER_READS", rules), Model(rules)
    t = T0
    times: list[int] = []
    for gap, _ in steps:
        t += gap * S
        times.append(t)
    for i, ((_, kind), at) in enumerate(zip(steps, times, strict=True)):
        if kind == "failure":
            got = fail(breaker, at)
            assert (got.until_ns if got else None) == model.failure(at)
        elif kind == "success":
            assert breaker.success(at) == model.success(at)
        else:
            assert breaker.allow(at) == model.allow(at)
        nxt = times[i + 1] if i + 1 < len(times) else at + 2000 * S
        probes = {at, at + 1, nxt - 1, model.until - 1, model.until}
        for q in sorted(q for q in probes if at <= q < nxt):
            assert breaker.is_open(q) == model.is_open(q), (q - T0, model.intervals)
