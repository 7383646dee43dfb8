"""Circuit breakers, one per dependency (BROKER_SUBMIT, BROKER_READS, MARKET_DATA, CALENDAR).

Pure: every time is an integer of nanoseconds the caller passes in; nothing here reads a clock.
A failure counts within a rule's window when ``now - failure < window_ns``.

State machine of one ``Breaker`` (``state_at(now)``)::

    CLOSED --failure() trips a rule / disable=True-->  OPEN (until = now + open_ns)
    OPEN   --time reaches until-------------------->  HALF_OPEN (on time alone: a probe is due)
    HALF_OPEN --allow(): True, once---------------->  HALF_OPEN with the one probe call out
    HALF_OPEN --success()  (returns True)----------->  CLOSED   (the caller journals CircuitClosed)
    HALF_OPEN --failure()  (returns Opened)--------->  OPEN     (at once, the rule that last opened it)

* CLOSED: ``allow`` is True. Each ``failure`` is recorded; when some rule has ``failures`` of them
  within its window the breaker opens, for the longest ``open_ns`` among the rules that trip.
  ``disable=True`` (the error's action is DISABLE_PROVIDER) opens it at once for the longest
  ``open_ns`` of all rules. A ``success`` does not clear the history: failures older than the
  longest window are simply forgotten.
* OPEN: ``allow`` is False until ``now >= until``; failures and successes before then (calls that
  were already in flight) are not counted.
* HALF_OPEN: from ``until`` on, whether or not anyone calls. ``probe_due(now)`` says a probe should be
  made: the caller makes one, through ``allow`` (True once), with its next use of the dependency or,
  when it has none to make (nothing waiting to be submitted), with a cheap read of it (the live shell:
  ``engine.live.runner``). Further ``allow`` are False until the caller reports the probe with
  ``success`` or ``failure`` (it must report every call it was allowed). A failure or success reported
  at or after ``until`` without ``allow`` is taken as the probe's answer.

Defaults (``DEFAULT_RULES``, the ``[breakers]`` table of the config): 3 failures within 60 s open for
60 s; 10 failures within 10 minutes open for 15 minutes. On restart the live shell rebuilds the
breakers from the journal: a ``CircuitOpened`` without a later ``CircuitClosed`` is
``Breakers.restore(dependency, until_ts)``.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Literal

from journal_schema.reasons import DEPENDENCIES, Dependency, ErrorCategory
from journal_schema.risk_events import CircuitClosed, CircuitOpened

SECOND_NS = 1_000_000_000
DETAIL_LIMIT = 400

BreakerState = Literal["CLOSED", "OPEN", "HALF_OPEN"]
RuleTuple = tuple[int, int, int]  # (failures, window_seconds, open_seconds), as the config writes a rule


@dataclass(frozen=True)
class BreakerRule:
    """``failures`` failures within ``window_ns`` open the breaker for ``open_ns``."""

    failures: int
    window_ns: int
    open_ns: int

    def __post_init__(self) -> None:
        if self.failures < 1 or self.window_ns < 1 or self.open_ns < 1:
            raise ValueError(f"a breaker rule needs failures, window_ns and open_ns >= 1: {self}")


DEFAULT_RULES: tuple[BreakerRule, ...] = (
    BreakerRule(3, 60 * SECOND_NS, 60 * SECOND_NS),
    BreakerRule(10, 10 * 60 * SECOND_NS, 15 * 60 * SECOND_NS),
)


def rules_of(config_rules: list[RuleTuple]) -> tuple[BreakerRule, ...]:
    """The rules of the config's ``[breakers]`` table (seconds) as ``BreakerRule`` (nanoseconds)."""
    return tuple(BreakerRule(f, w * SECOND_NS, o * SECOND_NS) for f, w, o in config_rules)


@dataclass(frozen=True)
class Opened:
    """A breaker just opened; ``opened_event`` makes the journal's ``CircuitOpened`` of it."""

    dependency: Dependency
    category: ErrorCategory
    failures: int
    window_seconds: int
    open_seconds: int
    until_ns: int
    detail: str


def _ceil_seconds(ns: int) -> int:
    return -(-ns // SECOND_NS)


def _one_line(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= DETAIL_LIMIT else flat[: DETAIL_LIMIT - 1] + "…"


class Breaker:
    """The breaker of one dependency (see the module docstring for its states)."""

    def __init__(self, dependency: Dependency, rules: tuple[BreakerRule, ...] = DEFAULT_RULES) -> None:
        if not rules:
            raise ValueError("a breaker needs at least one rule")
        self.dependency: Dependency = dependency
        self.rules = rules
        self._longest_window = max(r.window_ns for r in rules)
        self._long_rule = max(rules, key=lambda r: r.open_ns)  # first of the longest opens
        self._failures: deque[int] = deque()
        self._state: BreakerState = "CLOSED"
        self._until = 0
        self._last_rule: BreakerRule | None = None

    @property
    def state(self) -> BreakerState:
        """The state as of the last call (an OPEN breaker past ``until`` that nobody asked is still OPEN
        here; ``state_at`` tells the state on time alone)."""
        return self._state

    def state_at(self, now: int) -> BreakerState:
        """The state at ``now``: an OPEN breaker is HALF_OPEN once its open period is over."""
        if self._state == "OPEN" and now >= self._until:
            return "HALF_OPEN"
        return self._state

    def probe_due(self, now: int) -> bool:
        """True when the open period is over and no probe is out yet: the caller should make one."""
        return self._state == "OPEN" and now >= self._until

    @property
    def until_ns(self) -> int | None:
        """When an OPEN breaker lets a probe through; None unless OPEN."""
        return self._until if self._state == "OPEN" else None

    def is_open(self, now: int) -> bool:
        """True while calls are refused for the open period (OPEN and ``now < until``)."""
        return self._state == "OPEN" and now < self._until

    def allow(self, now: int) -> bool:
        """May the caller call the dependency now? At ``until`` exactly one probe is allowed."""
        if self._state == "CLOSED":
            return True
        if self._state == "OPEN" and now >= self._until:
            self._state = "HALF_OPEN"
            return True
        return False

    def failure(self, now: int, category: ErrorCategory, detail: str, *, disable: bool = False) -> Opened | None:
        """Record a failed call; the ``Opened`` record when this failure opens the breaker."""
        if self.is_open(now):
            return None  # a call that was in flight when the breaker opened
        probe = self._state != "CLOSED"  # HALF_OPEN, or OPEN past until: the probe's answer
        self._record(now)
        if disable:
            return self._open(now, self._long_rule, 1, 0, category, detail)
        if probe:
            rule = self._last_rule if self._last_rule is not None else self.rules[0]
            return self._open(now, rule, self._count(now, rule), _ceil_seconds(rule.window_ns), category, detail)
        tripped = [r for r in self.rules if self._count(now, r) >= r.failures]
        if not tripped:
            return None
        rule = max(tripped, key=lambda r: r.open_ns)
        return self._open(now, rule, self._count(now, rule), _ceil_seconds(rule.window_ns), category, detail)

    def success(self, now: int) -> bool:
        """Record a successful call; True when it closes the breaker (journal ``CircuitClosed``)."""
        self._prune(now)
        if self._state == "CLOSED" or self.is_open(now):
            return False
        self._state = "CLOSED"
        return True

    def restore(self, until_ns: int) -> None:
        """Put the breaker OPEN until ``until_ns`` (rebuilt from the journal after a restart)."""
        self._state = "OPEN"
        self._until = until_ns
        self._last_rule = None

    def _open(
        self, now: int, rule: BreakerRule, failures: int, window_seconds: int, category: ErrorCategory, detail: str
    ) -> Opened:
        self._state = "OPEN"
        self._until = now + rule.open_ns
        self._last_rule = rule
        return Opened(
            dependency=self.dependency,
            category=category,
            failures=max(failures, 1),
            window_seconds=window_seconds,
            open_seconds=_ceil_seconds(rule.open_ns),
            until_ns=self._until,
            detail=_one_line(detail),
        )

    def _record(self, now: int) -> None:
        self._failures.append(now)
        self._prune(now)

    def _prune(self, now: int) -> None:
        while self._failures and now - self._failures[0] >= self._longest_window:
            self._failures.popleft()

    def _count(self, now: int, rule: BreakerRule) -> int:
        return sum(1 for f in self._failures if now - f < rule.window_ns)


def opened_event(o: Opened, ts: int, until_ts: int | None = None) -> CircuitOpened:
    """The journal event of a breaker that opened; ``ts`` is the event time the caller gives and
    ``until_ts`` the end of the open period on that clock (default: the breaker's own ``until_ns``,
    right when the breaker's clock is the event clock)."""
    return CircuitOpened(
        ts=ts,
        dependency=o.dependency,
        category=o.category,
        failures=o.failures,
        window_seconds=o.window_seconds,
        open_seconds=o.open_seconds,
        until_ts=o.until_ns if until_ts is None else until_ts,
        detail=o.detail,
    )


def closed_event(dep: Dependency, ts: int) -> CircuitClosed:
    """The journal event of a breaker that closed (its probe succeeded)."""
    return CircuitClosed(ts=ts, dependency=dep)


class Breakers:
    """One ``Breaker`` per dependency, all with the same rules."""

    opened_event = staticmethod(opened_event)
    closed_event = staticmethod(closed_event)

    def __init__(self, rules: tuple[BreakerRule, ...] = DEFAULT_RULES) -> None:
        self.rules = rules
        self._breakers: dict[str, Breaker] = {dep: Breaker(dep, rules) for dep in _dependencies()}

    @classmethod
    def of(cls, config_rules: list[RuleTuple]) -> Breakers:
        """The breakers of the config's ``[breakers]`` rules (``rules_of``)."""
        return cls(rules_of(config_rules))

    def get(self, dep: Dependency) -> Breaker:
        return self._breakers[dep]

    def not_closed(self, now: int) -> dict[str, BreakerState]:
        """Each dependency whose breaker is not CLOSED at ``now``, with its state, sorted."""
        states = {dep: b.state_at(now) for dep, b in sorted(self._breakers.items())}
        return {dep: state for dep, state in states.items() if state != "CLOSED"}

    def open_dependencies(self, now: int) -> list[str]:
        """Dependencies refused for their open period at ``now``, sorted (a dependency due for or
        in its probe is not listed; the core blocks it until ``CircuitClosed`` all the same)."""
        return sorted(dep for dep, breaker in self._breakers.items() if breaker.is_open(now))

    def restore(self, dep: Dependency, until_ns: int) -> None:
        """``dep`` OPEN until ``until_ns``: the journal's last CircuitOpened had no CircuitClosed."""
        self._breakers[dep].restore(until_ns)


def _dependencies() -> tuple[Dependency, ...]:
    deps: tuple[Dependency, ...] = ("BROKER_SUBMIT", "BROKER_READS", "MARKET_DATA", "CALENDAR")
    if set(deps) != set(DEPENDENCIES):
        raise RuntimeError(f"breakers cover {sorted(deps)}, the journal's dependencies are {sorted(DEPENDENCIES)}")
    return deps
