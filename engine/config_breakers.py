"""The ``[breakers]`` table of the run config: when a dependency's circuit breaker opens, and for how long.

Each rule reads "``failures`` failed calls within ``window_seconds`` open the breaker for
``open_seconds``"; when several rules trip at once the longest open period wins. The defaults are the
rules the live shell has always used (``engine.live.breakers.DEFAULT_RULES``). The table is left out of
the config snapshot while it holds the defaults, so a config without it keeps its hash.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt


class BreakerRuleTable(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    failures: StrictInt = Field(ge=1, le=1000, description="failed calls that open the breaker")
    window_seconds: StrictInt = Field(ge=1, le=86_400, description="within this many seconds")
    open_seconds: StrictInt = Field(ge=1, le=86_400, description="calls refused this long; then one probe decides")


DEFAULT_RULE_TABLES: tuple[dict[str, int], ...] = (
    {"failures": 3, "window_seconds": 60, "open_seconds": 60},
    {"failures": 10, "window_seconds": 600, "open_seconds": 900},
)


def _default_rules() -> list[BreakerRuleTable]:
    return [BreakerRuleTable.model_validate(r) for r in DEFAULT_RULE_TABLES]


class BreakersSection(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rules: list[BreakerRuleTable] = Field(
        default_factory=_default_rules,
        min_length=1,
        max_length=8,
        description="every dependency's breaker opens when one of these rules trips",
    )

    @property
    def is_default(self) -> bool:
        return [r.model_dump() for r in self.rules] == list(DEFAULT_RULE_TABLES)

    def rule_tuples(self) -> list[tuple[int, int, int]]:
        """``(failures, window_seconds, open_seconds)`` of each rule, in order."""
        return [(r.failures, r.window_seconds, r.open_seconds) for r in self.rules]

    def snapshot(self) -> dict[str, Any]:
        return {"rules": [r.model_dump() for r in self.rules]}
