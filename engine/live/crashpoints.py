"""Named crash points for the crash drill: ``kill -9`` the engine at exact moments of the protocol.

Disarmed unless ``ENGINE_CRASHPOINTS`` is set, e.g. ``submit.before=0.2,submit.after=0.2``: at each
pass through a named point the process sends itself SIGKILL with that probability (a seeded
``random.Random(ENGINE_CRASHPOINT_SEED)``). An armed process says so on stderr at start. Points:

- ``submit.before``: the submit request is committed to the journal, the broker has not been called;
- ``submit.after``: the broker accepted the order, its answer is not journaled yet;
- ``cancel.before`` / ``cancel.after``: the same around a cancel request;
- ``cycle.reports``: order reports of this cycle are journaled (staged), bars not yet polled.
"""

from __future__ import annotations

import os
import random
import signal
import sys
from collections.abc import Mapping

POINTS = ("submit.before", "submit.after", "cancel.before", "cancel.after", "cycle.reports")


class CrashPointError(ValueError):
    """``ENGINE_CRASHPOINTS`` does not parse."""


class CrashPoints:
    def __init__(self, odds: Mapping[str, float] | None = None, seed: str = "0") -> None:
        self.odds = dict(odds or {})
        unknown = sorted(set(self.odds) - set(POINTS))
        if unknown:
            raise CrashPointError(f"unknown crash point(s) {', '.join(unknown)}; known: {', '.join(POINTS)}")
        self._rng = random.Random(f"crashpoints:{seed}")

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> CrashPoints:
        spec = env.get("ENGINE_CRASHPOINTS", "").strip()
        if not spec:
            return cls()
        odds: dict[str, float] = {}
        for part in spec.split(","):
            name, sep, value = part.strip().partition("=")
            try:
                p = float(value) if sep else 1.0
            except ValueError:
                raise CrashPointError(f"ENGINE_CRASHPOINTS: {part!r} is not NAME=PROBABILITY") from None
            if not 0.0 <= p <= 1.0:
                raise CrashPointError(f"ENGINE_CRASHPOINTS: probability of {name} must be in [0, 1]")
            odds[name] = p
        points = cls(odds, env.get("ENGINE_CRASHPOINT_SEED", "0"))
        print(f"engine: crash points ARMED ({spec}): this process will kill itself", file=sys.stderr, flush=True)
        return points

    @property
    def armed(self) -> bool:
        return any(p > 0 for p in self.odds.values())

    def hit(self, name: str) -> None:
        p = self.odds.get(name, 0.0)
        if p > 0 and self._rng.random() < p:
            print(f"engine: crash point {name}: SIGKILL", file=sys.stderr, flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
