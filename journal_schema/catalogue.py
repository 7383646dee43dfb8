"""The tagged union of all events, their topics, roles, JSON Schema and fingerprint."""

from __future__ import annotations

import hashlib
from functools import cache
from typing import Any, Union

import msgspec

from journal_schema.events import (
    AlertRaised,
    BarClosed,
    BarRejected,
    ConfigChanged,
    DecisionMade,
    Event,
    KillSwitchEngaged,
    KillSwitchReleased,
    OrderAccepted,
    OrderCanceled,
    OrderCancelRequested,
    OrderExpired,
    OrderFilled,
    OrderIntentCreated,
    OrderIntentResolved,
    OrderPartiallyFilled,
    OrderRejected,
    OrderReplaced,
    OrderReportRejected,
    OrderResubmitRequested,
    OrderSubmitRequested,
    PositionAdopted,
    RunEnded,
    RunStarted,
    SessionClosed,
    SessionOpened,
    SignalGenerated,
    TradingHalted,
    TradingResumed,
)
from journal_schema.live_events import (
    BrokerReportRejected,
    CycleCompleted,
    ForeignActivitySeen,
    OrderCancelAnswered,
    OrderNotFoundAtBroker,
    OrderSubmitFailed,
    OrderSubmitUncertain,
    ReconciliationCompleted,
    ReconciliationMismatch,
)
from journal_schema.risk_events import (
    CircuitClosed,
    CircuitOpened,
    OrderBlocked,
    Quarantined,
    QuarantineLifted,
    ReviewApproved,
    ReviewResolved,
    SessionSummarized,
    ShellErrorReported,
    TradingReduced,
)
from journal_schema.run_events import RunManifest

# Inputs are facts from outside the core, journaled by the shell before the core sees them.
INPUT_TYPES: tuple[type[Event], ...] = (
    RunStarted,
    RunManifest,
    RunEnded,
    ConfigChanged,
    KillSwitchEngaged,
    KillSwitchReleased,
    SessionOpened,
    SessionClosed,
    BarClosed,
    BarRejected,
    OrderAccepted,
    OrderRejected,
    OrderPartiallyFilled,
    OrderFilled,
    OrderCanceled,
    OrderExpired,
    OrderReplaced,
    OrderSubmitFailed,
    OrderSubmitUncertain,
    OrderNotFoundAtBroker,
    BrokerReportRejected,
    ReconciliationMismatch,
    ForeignActivitySeen,
    ReconciliationCompleted,
    CycleCompleted,
    OrderCancelAnswered,
    ReviewApproved,
    CircuitOpened,
    CircuitClosed,
    ShellErrorReported,
)
# Derived events are the core's decisions; replay re-derives and compares them.
DERIVED_TYPES: tuple[type[Event], ...] = (
    SignalGenerated,
    DecisionMade,
    OrderIntentCreated,
    OrderSubmitRequested,
    OrderResubmitRequested,
    OrderCancelRequested,
    OrderIntentResolved,
    OrderReportRejected,
    PositionAdopted,
    TradingHalted,
    TradingResumed,
    AlertRaised,
    OrderBlocked,
    ReviewResolved,
    TradingReduced,
    Quarantined,
    QuarantineLifted,
    SessionSummarized,
)
ALL_TYPES: tuple[type[Event], ...] = INPUT_TYPES + DERIVED_TYPES

# The tagged union msgspec decodes with, built from the one list above (same order).
AnyEvent: Any = Union[ALL_TYPES]  # noqa: UP007 - a runtime Union object for msgspec

INPUT_TYPE_SET: frozenset[type[Event]] = frozenset(INPUT_TYPES)
BY_NAME: dict[str, type[Event]] = {t.__name__: t for t in ALL_TYPES}


def topic_of(event_type: type[Event]) -> str:
    """Stored topic: ``<TypeName>.v<VERSION>``."""
    return f"{event_type.__name__}.v{event_type.VERSION}"


TOPICS: dict[type[Event], str] = {t: topic_of(t) for t in ALL_TYPES}
TOPIC_TO_TYPE: dict[str, type[Event]] = {v: k for k, v in TOPICS.items()}


def _decision_v1(d: dict[str, Any]) -> dict[str, Any]:
    """DecisionMade v1 had no gate: what it accepted was approved in full, at no expiry, no context."""
    return {
        **d,
        "approved_qty": d["order_qty"] if d["outcome"] == "ACCEPTED" else 0,
        "expires_ts": None,
        "context": None,
    }


def _same(d: dict[str, Any]) -> dict[str, Any]:
    """An additive change: the new fields have defaults, the old record reads as it is."""
    return d


# Upcasters: stored topic of an older version -> (current type, payload dict -> current payload dict).
UPCASTERS: dict[str, tuple[type[Event], Any]] = {
    "ConfigChanged.v1": (ConfigChanged, _same),
    "KillSwitchEngaged.v1": (KillSwitchEngaged, _same),
    "KillSwitchReleased.v1": (KillSwitchReleased, _same),
    "BarClosed.v1": (BarClosed, _same),
    "SignalGenerated.v1": (SignalGenerated, _same),
    "SignalGenerated.v2": (SignalGenerated, _same),
    "DecisionMade.v1": (DecisionMade, _decision_v1),
    "DecisionMade.v2": (DecisionMade, _same),
    "OrderPartiallyFilled.v1": (OrderPartiallyFilled, _same),
    "OrderFilled.v1": (OrderFilled, _same),
}


def is_input(event: Event) -> bool:
    return type(event) in INPUT_TYPE_SET


def _check_catalogue() -> None:
    names = [t.__name__ for t in ALL_TYPES]
    if len(set(names)) != len(names) or len(AnyEvent.__args__) != len(names):
        raise RuntimeError(f"event catalogue inconsistent: {names}")


_check_catalogue()


@cache
def json_schema() -> dict[str, Any]:
    """JSON Schema of the whole catalogue, with per-type versions and roles."""
    schema: dict[str, Any] = msgspec.json.schema(AnyEvent)
    defs = schema.get("$defs", {})
    for t in ALL_TYPES:
        d = defs[t.__name__]
        d["x-version"] = t.VERSION
        d["x-topic"] = TOPICS[t]
        d["x-role"] = "input" if t in INPUT_TYPE_SET else "derived"
    return schema


def canonical_schema_bytes() -> bytes:
    """Canonical JSON of the schema: sorted keys, no whitespace."""
    return msgspec.json.encode(json_schema(), order="sorted")


@cache
def schema_fingerprint() -> str:
    """sha256 of the canonical JSON Schema: changes whenever any event shape changes."""
    return hashlib.sha256(canonical_schema_bytes()).hexdigest()
