"""Fault injection: a seeded plan that makes some ``/v2/*`` requests fail the way a real
broker link fails (rate limits, 5xx, silence, answers that never arrive).

Kinds, in catalogue order (the order they are drawn in):

| kind | what the client sees | request processed? |
| --- | --- | --- |
| ``http_429`` | 429, ``Retry-After: ceil(retry_after_seconds)``, ``{"code": 42910000, ...}`` | no |
| ``http_500`` / ``http_502`` / ``http_503`` / ``http_504`` | that status, JSON ``{"code", "message"}`` | no |
| ``timeout`` | nothing: the connection is held ``hold_seconds``, then closed | no |
| ``accept_then_timeout`` | ``POST /v2/orders`` only: held ``hold_seconds``, closed, no answer | yes, committed |
| ``accept_then_drop`` | ``POST /v2/orders`` only: closed at once, no response bytes | yes, committed |

The decision is deterministic: the n-th ``/v2/*`` request since the plan was set (n = 0, 1, ...,
in arrival order) draws from ``random.Random(f"{seed}:{n}")`` one uniform number per applicable
kind, in catalogue order, and the first kind whose draw is below its probability is injected.
Every applicable kind is drawn whatever its probability, so a kind's draws do not depend on
which other kinds are enabled. Submit-only kinds apply only to ``POST /v2/orders``. The
``/venue/*`` admin paths are never faulted and do not advance n.
"""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

FAULT_KINDS: tuple[str, ...] = (
    "http_429",
    "http_500",
    "http_502",
    "http_503",
    "http_504",
    "timeout",
    "accept_then_timeout",
    "accept_then_drop",
)
SUBMIT_ONLY_KINDS = frozenset({"accept_then_timeout", "accept_then_drop"})
HOLDING_KINDS = frozenset({"timeout", "accept_then_timeout"})
# status, Alpaca-style code, message. 42910000 is the commonly documented rate-limit code
# (unverified against real Alpaca, like the 5xx codes, which alpaca-py never reads).
HTTP_FAULTS: Mapping[str, tuple[int, int, str]] = {
    "http_429": (429, 42910000, "rate limit exceeded"),
    "http_500": (500, 50010000, "internal server error"),
    "http_502": (502, 50210000, "bad gateway"),
    "http_503": (503, 50310000, "service unavailable"),
    "http_504": (504, 50410000, "gateway timeout"),
}
_SETTINGS = ("seed", "retry_after_seconds", "hold_seconds")


class FaultPlanError(ValueError):
    """An invalid fault plan; the message names the offending kind or setting."""


def _probability(kind: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FaultPlanError(f"fault {kind}: probability must be a number in [0, 1], got {value!r}")
    p = float(value)
    if not 0.0 <= p <= 1.0:  # also refuses NaN
        raise FaultPlanError(f"fault {kind}: probability {value!r} is outside [0, 1]")
    return p


def _seconds(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise FaultPlanError(f"{name} must be a finite number of seconds >= 0, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class FaultPlan:
    """Per-kind probabilities in [0, 1] (0: never), the seed of the draws, the ``Retry-After``
    value of a 429 and how long the holding kinds keep the connection open."""

    http_429: float = 0.0
    http_500: float = 0.0
    http_502: float = 0.0
    http_503: float = 0.0
    http_504: float = 0.0
    timeout: float = 0.0
    accept_then_timeout: float = 0.0
    accept_then_drop: float = 0.0
    seed: int = 0
    retry_after_seconds: float = 1.0
    hold_seconds: float = 15.0

    def __post_init__(self) -> None:
        for kind in FAULT_KINDS:
            object.__setattr__(self, kind, _probability(kind, getattr(self, kind)))
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise FaultPlanError(f"seed must be an integer, got {self.seed!r}")
        object.__setattr__(self, "retry_after_seconds", _seconds("retry_after_seconds", self.retry_after_seconds))
        object.__setattr__(self, "hold_seconds", _seconds("hold_seconds", self.hold_seconds))

    @classmethod
    def of(cls, probabilities: Mapping[str, float], **settings: Any) -> FaultPlan:
        """A plan from ``{kind: probability}``; an unknown kind raises ``FaultPlanError``."""
        unknown = sorted(set(probabilities) - set(FAULT_KINDS))
        if unknown:
            raise FaultPlanError(f"unknown fault kind {unknown[0]!r} (known: {', '.join(FAULT_KINDS)})")
        kwargs: dict[str, Any] = {**probabilities, **settings}
        return cls(**kwargs)

    def probability(self, kind: str) -> float:
        if kind not in FAULT_KINDS:
            raise FaultPlanError(f"unknown fault kind {kind!r}")
        value: float = getattr(self, kind)
        return value

    def active(self) -> dict[str, float]:
        """The kinds with a nonzero probability, in catalogue order."""
        return {kind: p for kind in FAULT_KINDS if (p := self.probability(kind)) > 0}

    @property
    def retry_after_header(self) -> str:
        return str(math.ceil(self.retry_after_seconds))

    def to_json(self) -> dict[str, Any]:
        """``{"probabilities": {kind: p, ...every kind}, "seed", "retry_after_seconds", "hold_seconds"}``."""
        values = asdict(self)
        return {"probabilities": {k: values[k] for k in FAULT_KINDS}, **{k: values[k] for k in _SETTINGS}}

    @classmethod
    def from_json(cls, data: object) -> FaultPlan:
        """The inverse of ``to_json``; a missing key takes its default (the plan is replaced whole)."""
        if not isinstance(data, dict):
            raise FaultPlanError("the fault plan must be a JSON object")
        unknown = sorted(set(data) - {"probabilities", *_SETTINGS})
        if unknown:
            raise FaultPlanError(f"unknown fault plan field {unknown[0]!r}")
        probabilities = data.get("probabilities", {})
        if not isinstance(probabilities, dict):
            raise FaultPlanError("probabilities must be an object {kind: probability}")
        return cls.of(probabilities, **{k: data[k] for k in _SETTINGS if k in data})

    def describe(self) -> str:
        """One line for people: ``http_429=0.05, accept_then_drop=0.1 (seed 0, retry-after 1s, hold 15s)``."""
        kinds = ", ".join(f"{k}={p:g}" for k, p in self.active().items()) or "none"
        return f"{kinds} (seed {self.seed}, retry-after {self.retry_after_header}s, hold {self.hold_seconds:g}s)"


def parse_fault_args(items: Iterable[str]) -> dict[str, float]:
    """``["http_429=0.05", ...]`` (the CLI's ``--fault KIND=PROB``) to ``{kind: probability}``."""
    out: dict[str, float] = {}
    for item in items:
        kind, sep, raw = item.partition("=")
        kind = kind.strip()
        if not sep:
            raise FaultPlanError(f"--fault {item!r}: expected KIND=PROB, e.g. http_429=0.05")
        if kind not in FAULT_KINDS:
            raise FaultPlanError(f"unknown fault kind {kind!r} (known: {', '.join(FAULT_KINDS)})")
        try:
            value = float(raw)
        except ValueError:
            raise FaultPlanError(f"fault {kind}: probability {raw.strip()!r} is not a number") from None
        out[kind] = _probability(kind, value)
    return out


def draw(plan: FaultPlan, n: int, submit: bool) -> str | None:
    """The kind injected into the ``n``-th request under ``plan`` (``submit``: a POST /v2/orders)."""
    rng = random.Random(f"{plan.seed}:{n}")
    for kind in FAULT_KINDS:
        if kind in SUBMIT_ONLY_KINDS and not submit:
            continue
        if rng.random() < plan.probability(kind):
            return kind
    return None


class FaultInjector:
    """The current plan and the request counter, behind a lock (handler threads call ``decide``)."""

    def __init__(self, plan: FaultPlan | None = None) -> None:
        self._lock = threading.Lock()
        self._plan = plan if plan is not None else FaultPlan()
        self._count = 0

    @property
    def plan(self) -> FaultPlan:
        with self._lock:
            return self._plan

    def replace(self, plan: FaultPlan) -> None:
        """Install ``plan`` and restart the request count, so its draws are reproducible from here."""
        with self._lock:
            self._plan = plan
            self._count = 0

    def decide(self, method: str, path: str) -> tuple[str | None, FaultPlan]:
        """The kind to inject into this ``/v2/*`` request (or None) and the plan it came from."""
        with self._lock:
            n, plan = self._count, self._plan
            self._count += 1
        return draw(plan, n, submit=method == "POST" and path == "/v2/orders"), plan
