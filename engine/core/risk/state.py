"""What the risk controls remember between inputs (part of ``CoreState``, rebuilt by the fold)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from engine.core.risk.market import MarketBook
from engine.core.risk.params import RiskParams
from engine.core.risk.pretrade import MessageLog
from engine.core.risk.quarantine import Quarantine


@dataclass(frozen=True, slots=True)
class Review:
    """A decision held for REVIEW: the target it would trade to, until ``expires_ts``."""

    decision_id: str
    symbol: str
    signal_id: str
    target: Any  # engine.core.strategy.Target
    confidence: int
    expires_ts: int


@dataclass(slots=True)
class SessionTally:
    decisions: Counter[str] = field(default_factory=Counter)
    intents: Counter[str] = field(default_factory=Counter)
    fills: int = 0
    realized: int = 0
    fees: int = 0


@dataclass(slots=True)
class RiskState:
    params: RiskParams | None = None
    market: MarketBook = field(default_factory=MarketBook)
    log: MessageLog = field(default_factory=MessageLog)
    quarantine: Quarantine = field(default_factory=Quarantine)
    reviews: dict[str, Review] = field(default_factory=dict)  # symbol -> the review waiting for it
    circuits: dict[str, int] = field(default_factory=dict)  # open dependency -> until (ns)
    reducing: str | None = None  # reason trading is REDUCING (a HaltReason), None when not
    session_start_equity: int | None = None
    session_peak: int | None = None
    tally: SessionTally = field(default_factory=SessionTally)
    decisions: Counter[str] = field(default_factory=Counter)  # outcome -> count, whole journal
    held_back: Counter[str] = field(default_factory=Counter)  # reason code of decisions not ACCEPTED -> count

    @property
    def p(self) -> RiskParams:
        """The params of the running config (set by RunStarted; the core never runs without them)."""
        assert self.params is not None, "risk params read before RunStarted"
        return self.params
