"""Breakers close again once their dependency answers: the live runner over the local venue, with the
breakers' clock injected and broker faults scheduled per cycle and per dependency.

The regression this guards (audit finding 1): the BROKER_SUBMIT breaker opened while nothing was waiting
to be sent was never probed, so every later decision was REJECTED with CIRCUIT_OPEN_BROKER_SUBMIT, after
the faults had stopped and across restarts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.alpaca.errors import BrokerError
from engine.config import resolve
from engine.journal import read_events
from engine.kernel import StopRequest
from engine.live.breakers import SECOND_NS
from engine.live.runner import LiveRunner
from engine.live.setup import connect
from engine.venue.server import VenueServer
from journal_schema.events import DecisionMade, Event
from journal_schema.reasons import Dependency
from journal_schema.risk_events import CircuitClosed, CircuitOpened
from replay import replay_journal
from tests.venue_support import serving

CYCLE_NS = 10 * SECOND_NS  # the injected wall clock moves this much per cycle
DEPENDENCY_OF = {  # the broker calls the runner makes, by the dependency whose breaker they count against
    "clock": "CALENDAR",
    "open_orders": "BROKER_READS",
    "order_by_client_id": "BROKER_READS",
    "positions": "BROKER_READS",
    "bars": "MARKET_DATA",
    "submit_order": "BROKER_SUBMIT",
    "cancel_order": "BROKER_SUBMIT",
    "account": "BROKER_SUBMIT",
}


BAR_DAYS = 160  # the venue's bar file: enough sessions for 100 cycles


@dataclass
class Schedule:
    """Which dependencies fail at which cycle (``faults``: the connection fails; ``limited``: the broker answers
    429); the wall clock of the breakers."""

    faults: dict[int, frozenset[str]] = field(default_factory=dict)
    limited: dict[int, frozenset[str]] = field(default_factory=dict)
    cycle: int = 0
    wall: int = 1_000 * SECOND_NS
    calls: dict[str, int] = field(default_factory=dict)

    def failing(self, dep: str) -> bool:
        return dep in self.faults.get(self.cycle, frozenset())

    def patch(self, broker: Any) -> None:
        for name, dep in DEPENDENCY_OF.items():
            setattr(broker, name, self._wrap(getattr(broker, name), dep, name))

    def _wrap(self, real: Callable[..., Any], dep: str, name: str) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] = self.calls.get(name, 0) + 1
            if self.failing(dep):
                raise BrokerError("TRANSIENT_NETWORK", "connection", f"scheduled fault of {dep}")
            if dep in self.limited.get(self.cycle, frozenset()):
                raise BrokerError("RATE_LIMIT", "rate_limited", "HTTP 429", status=429, retry_after=0.0)
            return real(*args, **kwargs)

        return call


def run(
    venue: VenueServer,
    journal: Path,
    schedule: Schedule,
    cycles: int,
    rules: list[dict[str, int]],
    after_cycle: Callable[[LiveRunner], None] | None = None,
    attempts: int = 5,
) -> LiveRunner:
    cfg, snap = resolve(
        {
            "run": {"universe": ["AAPL", "MSFT"]},
            "strategy": {"fast": 2, "slow": 4},
            "broker": {
                "kind": "venue",
                "venue_url": venue.base_url,
                "poll_interval_seconds": "0.001",
                "rate_limit_per_minute": 10_000,
                "timeout_seconds": 2,
                "session_close_grace_seconds": 0,
            },
            "breakers": {"rules": rules},
            "risk": {"quarantine": {"enabled": False}},  # repeated opens would quarantine: another control
            "oms": {"max_submit_attempts": attempts},
        }
    )
    where, broker = connect(cfg)
    schedule.patch(broker)
    runner = LiveRunner(cfg, snap, journal, where, broker, StopRequest(), cycles=cycles)
    runner.ctx.wall_ns = lambda: schedule.wall

    def nap(seconds: float) -> None:  # between cycles: the venue steps a bar, the wall clock a cycle
        if after_cycle is not None:
            after_cycle(runner)
        venue.step()
        schedule.cycle += 1
        schedule.wall += CYCLE_NS

    runner._nap = nap  # type: ignore[method-assign]
    runner.run()
    return runner


def journal_events(journal: Path) -> list[tuple[int, Event]]:
    return list(read_events(journal))


def open_circuits(evs: list[tuple[int, Event]]) -> set[str]:
    still: set[str] = set()
    for _, ev in evs:
        if isinstance(ev, CircuitOpened):
            still.add(ev.dependency)
        elif isinstance(ev, CircuitClosed):
            still.discard(ev.dependency)
    return still


SHORT = [{"failures": 3, "window_seconds": 60, "open_seconds": 60}]


def test_a_submit_breaker_opened_while_nothing_waits_closes_after_its_open_period(
    venue: VenueServer, tmp_path: Path
) -> None:
    """Submits fail for the first 40 cycles (400 s): the breaker opens, the intents run out of attempts
    and nothing is left to send. A read probe after the open period closes the breaker, and the decisions
    after that are ACCEPTED again."""
    journal = tmp_path / "j.db"
    schedule = Schedule(faults={c: frozenset({"BROKER_SUBMIT"}) for c in range(40)})
    run(venue, journal, schedule, 100, SHORT)
    evs = journal_events(journal)
    assert "BROKER_SUBMIT" in {ev.dependency for _, ev in evs if isinstance(ev, CircuitOpened)}
    assert not open_circuits(evs), "a breaker is still open 60 cycles after the faults stopped"
    last_close = max(seq for seq, ev in evs if isinstance(ev, CircuitClosed))
    after = [ev for seq, ev in evs if isinstance(ev, DecisionMade) and seq > last_close]
    assert after and all(not r.startswith("CIRCUIT_OPEN") for ev in after for r in ev.reason_codes)
    assert any(ev.outcome == "ACCEPTED" for ev in after)
    assert replay_journal(journal).identical


def test_a_probe_answered_with_a_429_closes_the_breaker(venue: VenueServer, tmp_path: Path) -> None:
    """A 429 is the broker answering: it is no breaker failure, and a probe that gets one closes the breaker (it
    used to leave the breaker HALF_OPEN for good: its probe was never reported)."""
    journal = tmp_path / "j.db"
    schedule = Schedule(
        faults={c: frozenset({"CALENDAR"}) for c in range(5, 9)},
        limited={c: frozenset({"CALENDAR", "BROKER_SUBMIT"}) for c in range(9, 30)},
    )
    runner = run(venue, journal, schedule, 40, SHORT)
    evs = journal_events(journal)
    assert "CALENDAR" in {ev.dependency for _, ev in evs if isinstance(ev, CircuitOpened)}
    assert not open_circuits(evs) and not runner.ctx.breakers.not_closed(schedule.wall)


# ---------------------------------------------------------------- property: random fault schedules
DEPENDENCIES: tuple[Dependency, ...] = ("BROKER_SUBMIT", "BROKER_READS", "MARKET_DATA", "CALENDAR")
_rule = st.fixed_dictionaries(
    {
        "failures": st.integers(1, 4),
        "window_seconds": st.integers(10, 60),
        "open_seconds": st.integers(10, 60),
    }
)
_faults = st.lists(st.frozensets(st.sampled_from(DEPENDENCIES)), min_size=1, max_size=12)
WARM_UP = 5  # cycles before the strategy's first decision (slow = 4 bars): the faults start after them


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rules=st.lists(_rule, min_size=1, max_size=2),
    faults=_faults,
    limited=_faults,
    restart=st.none() | st.integers(1, 20),
    attempts=st.integers(1, 3),
)
def test_once_faults_stop_every_breaker_closes_within_its_open_period_plus_one_cycle(
    bars: Path,
    tmp_path_factory: pytest.TempPathFactory,
    rules: list[dict[str, int]],
    faults: list[frozenset[str]],
    limited: list[frozenset[str]],
    restart: int | None,
    attempts: int,
) -> None:
    """Faults (failed connections, and 429 answers) per cycle and dependency for the first cycles, then none
    (and a restart on the way, when drawn). From the first cycle whose wall time is past the last fault by the
    longest open period, no breaker is open or half-open, the core has no open circuit, and no decision is
    REJECTED for one."""
    tmp = tmp_path_factory.mktemp("recovery")
    with serving(tmp / "venue.db", bars) as venue:
        schedule = Schedule(faults=dict(enumerate(faults, WARM_UP)), limited=dict(enumerate(limited, WARM_UP)))
        last_fault = WARM_UP + max(len(faults), len(limited)) - 1
        longest = max(r["open_seconds"] for r in rules) * SECOND_NS
        deadline = last_fault + -(-longest // CYCLE_NS)  # the first cycle at or after the last fault + open period
        total = deadline + 4
        marks: dict[int, int] = {}
        stuck: list[str] = []

        def check(runner: LiveRunner) -> None:
            marks[schedule.cycle] = runner.engine.writer.last_seq
            if schedule.cycle >= deadline:
                left = runner.ctx.breakers.not_closed(schedule.wall)
                circuits = sorted(runner.engine.state.risk.circuits)
                if left or circuits:
                    stuck.append(f"cycle {schedule.cycle}: breakers {left}, core circuits {circuits}")

        journal = tmp / "j.db"
        first = restart if restart is not None and restart < total else total
        run(venue, journal, schedule, first, rules, check, attempts)
        if first < total:
            schedule.cycle += 1  # a restart takes a cycle's time too
            schedule.wall += CYCLE_NS
            run(venue, journal, schedule, total - first, rules, check, attempts)
        assert not stuck, stuck[0]
        evs = journal_events(journal)
        after = [ev for seq, ev in evs if isinstance(ev, DecisionMade) and seq > marks.get(deadline, 0)]
        held = [ev.reason_codes for ev in after if any(r.startswith("CIRCUIT_OPEN") for r in ev.reason_codes)]
        assert not held, f"decisions rejected for an open circuit after the deadline: {held}"
        assert not open_circuits(evs)
