"""The event catalogue: one frozen msgspec Struct per event type.

Conventions (see ``journal_schema.units``): ``ts`` is event time in integer nanoseconds
UTC taken from the input (bar close, broker report, calendar), never the wall clock of
the core. Every price, quantity and money field is a ``Fixed8`` integer (1e-8 units).
Derived events carry ``cause_seq``: the journal sequence number of the input that
produced them. ``VERSION`` is the per-type schema version; bump it (and add an
upcaster) whenever a field changes.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

import msgspec

from journal_schema.policy import PolicyContext
from journal_schema.reasons import (
    AlertOnly,
    BarRejectReason,
    CancelReason,
    DecisionReason,
    ErrorCategory,
    HaltReason,
    IntentSkipReason,
    OrderRejectReason,
    ReportRefusal,
    ReportRejectReason,
    ResumeReason,
    RunEndReason,
    SubmittedReason,
)
from journal_schema.units import Fixed8, Nanos

Side = Literal["buy", "sell"]
OrderType = Literal["market", "limit"]
TimeInForce = Literal["day", "gtc"]
Mode = Literal["backtest", "paper", "live"]
IntentOutcome = Literal["SUBMITTED", "SKIPPED", "FAILED"]
IntentReason = SubmittedReason | IntentSkipReason | ErrorCategory
AlertCode = ReportRejectReason | ReportRefusal | AlertOnly
Severity = Literal["WARNING", "CRITICAL"]
Sha256Hex = Annotated[str, msgspec.Meta(pattern="^[0-9a-f]{64}$")]
Seq = Annotated[int, msgspec.Meta(ge=1, description="journal sequence number")]


class Event(msgspec.Struct, frozen=True, tag=True, tag_field="type", gc=False, forbid_unknown_fields=True):
    """Base of every journaled event."""

    VERSION: ClassVar[int] = 1
    ts: Nanos


# ---------------------------------------------------------------- run lifecycle (inputs)
class RunStarted(Event, frozen=True):
    """A run segment begins. Everything needed to reproduce it is here."""

    run_id: str
    code_version: str
    config: dict[str, Any]
    config_hash: Sha256Hex
    schema_fingerprint: Sha256Hex
    dataset_fingerprint: Sha256Hex
    dataset: str
    universe: list[str]
    seed: int
    mode: Mode


class RunEnded(Event, frozen=True):
    """A run segment ended: data exhausted, operator interrupt, or the core halted."""

    run_id: str
    reason: RunEndReason


class ConfigChanged(Event, frozen=True):
    """Operator replaced the running configuration (``engine reconfigure``): ``config`` is the whole new
    snapshot and ``config_hash`` its sha256, which every later ``DecisionMade`` carries; only the
    ``strategy``, ``orders``, ``oms``, ``risk`` and ``costs`` tables may differ from the running one.
    ``command_id`` names the operator command it carries out. v2 added ``reason`` and ``command_id``
    (a v1 record reads as "")."""

    VERSION: ClassVar[int] = 2
    config: dict[str, Any]
    config_hash: Sha256Hex
    previous_config_hash: Sha256Hex
    actor: str
    reason: str = ""
    command_id: str = ""


class KillSwitchEngaged(Event, frozen=True):
    """Operator kill switch on (``engine kill``): every later decision is SKIPPED with
    KILL_SWITCH_ENGAGED; with ``cancel_all`` every open order is canceled once. ``command_id``
    names the operator command it carries out ("" when journaled without one). v2 added
    ``cancel_all`` and ``command_id`` (a v1 record reads as ``False`` / "")."""

    VERSION: ClassVar[int] = 2
    reason: str
    actor: str
    cancel_all: bool = False
    command_id: str = ""


class KillSwitchReleased(Event, frozen=True):
    """Operator resume (``engine resume``): the kill switch is off, and a halt or a reduce-only state
    is lifted (``TradingResumed(OPERATOR_RESUMED)``). v2 added ``command_id``."""

    VERSION: ClassVar[int] = 2
    reason: str
    actor: str
    command_id: str = ""


# ---------------------------------------------------------------- market data (inputs)
class SessionOpened(Event, frozen=True):
    """``ts`` is the session open; ``close_ts`` the scheduled close."""

    session: Annotated[str, msgspec.Meta(pattern=r"^\d{4}-\d{2}-\d{2}$")]
    close_ts: Nanos
    calendar: str


class SessionClosed(Event, frozen=True):
    """A calendar session closed; ``ts`` is its close. Day orders of the session expire."""

    session: Annotated[str, msgspec.Meta(pattern=r"^\d{4}-\d{2}-\d{2}$")]
    calendar: str


class BarClosed(Event, frozen=True, omit_defaults=True):
    """An accepted bar. ``ts`` is the bar's close time; ``received_ts`` when a live shell received
    it (its data age is the difference), absent for historical data. v2 added ``received_ts``."""

    VERSION: ClassVar[int] = 2
    symbol: str
    open: Fixed8
    high: Fixed8
    low: Fixed8
    close: Fixed8
    volume: Fixed8
    received_ts: Nanos | None = None


class RawBar(msgspec.Struct, frozen=True, gc=False, forbid_unknown_fields=True):
    """The values of a rejected row exactly as they were read (strings, or null if absent)."""

    timestamp: str | None
    symbol: str | None
    open: str | None
    high: str | None
    low: str | None
    close: str | None
    volume: str | None


class BarRejected(Event, frozen=True):
    """A bar that failed edge validation. ``ts`` is the stream time when it was seen."""

    reason: BarRejectReason
    detail: str
    source_row: Annotated[int, msgspec.Meta(ge=0, description="1-based data row in the file; 0 if none")]
    raw: RawBar


# ---------------------------------------------------------------- decisions (derived)
class SignalGenerated(Event, frozen=True):
    """The strategy wants ``target_qty`` (signed) in ``symbol``; ``features`` are its inputs (1e-8)
    and ``confidence`` how sure it is (1e-8 units, 0 to 1). ``edge_cbp`` is the strategy's expected
    edge of the trade in hundredths of a basis point (None: it gives none; the cost gate then does not
    apply). v2 added ``confidence`` (v1: 1); v3 added ``edge_cbp``."""

    VERSION: ClassVar[int] = 3
    cause_seq: Seq
    signal_id: str
    strategy: str
    symbol: str
    session: str
    direction: Literal[-1, 0, 1]
    target_qty: Fixed8
    features: dict[str, int]
    confidence: Annotated[int, msgspec.Meta(ge=0, le=100_000_000)] = 100_000_000
    edge_cbp: int | None = None


class DecisionMade(Event, frozen=True):
    """Policy outcome for a signal, with reason codes and the config hash it was made under.
    ``order_qty = target_qty - position_qty - open_order_qty`` (all signed).

    ``SKIPPED``: no order is needed or none may be sent now (kill switch, halt, at target, cancels
    first). Otherwise the policy gate ran: ``REJECTED`` (a REJECT rule tripped), ``REVIEW`` (held
    until ``engine approve`` or ``expires_ts``) or ``ACCEPTED`` for ``approved_qty`` (signed; less
    than ``order_qty`` when a limit clipped it). ``context`` is what the gate saw. v2 added
    ``approved_qty``, ``expires_ts`` and ``context`` and the outcomes REJECTED and REVIEW; v3 added
    the cost fields of ``context`` (expected cost and edge, cost-model calibration)."""

    VERSION: ClassVar[int] = 3
    cause_seq: Seq
    decision_id: str
    signal_id: str
    symbol: str
    outcome: Literal["ACCEPTED", "SKIPPED", "REJECTED", "REVIEW"]
    reason_codes: list[DecisionReason]
    config_hash: Sha256Hex
    position_qty: Fixed8
    open_order_qty: Fixed8
    target_qty: Fixed8
    order_qty: Fixed8
    approved_qty: Fixed8
    expires_ts: Nanos | None
    context: PolicyContext | None


class OrderIntentCreated(Event, frozen=True):
    """What to trade to carry out an accepted decision (``qty`` positive, ``side`` gives the sign).
    The order it becomes is ``NEW`` under ``client_order_id`` until its submit request."""

    cause_seq: Seq
    intent_id: str
    decision_id: str
    client_order_id: str
    symbol: str
    side: Side
    qty: Fixed8
    order_type: OrderType
    limit_price: Fixed8 | None
    time_in_force: TimeInForce


class OrderSubmitRequested(Event, frozen=True):
    """Write-ahead request: a broker sees the order only after this is committed."""

    cause_seq: Seq
    client_order_id: str
    intent_id: str
    symbol: str
    side: Side
    qty: Fixed8
    order_type: OrderType
    limit_price: Fixed8 | None
    time_in_force: TimeInForce


class OrderResubmitRequested(Event, frozen=True):
    """Write-ahead request to submit the same order again (same ``client_order_id``): the broker
    answered that it has never seen it. ``attempt`` counts submissions of this order, from 2."""

    cause_seq: Seq
    client_order_id: str
    attempt: Annotated[int, msgspec.Meta(ge=2)]


class OrderCancelRequested(Event, frozen=True):
    """Write-ahead request to cancel the rest of a working order; the broker sees it only after this
    is committed. The order's own report (``OrderCanceled``, or a fill) says how it ended."""

    cause_seq: Seq
    client_order_id: str
    reason: CancelReason


class OrderIntentResolved(Event, frozen=True):
    """The one outcome of an intent: ``SUBMITTED`` (the broker has the order), ``SKIPPED`` (the
    engine chose not to send it; ``reason`` says why) or ``FAILED`` (``reason`` is the error category).
    An order a pre-trade check stops never becomes an intent (``OrderBlocked``)."""

    cause_seq: Seq
    intent_id: str
    client_order_id: str
    outcome: IntentOutcome
    reason: IntentReason
    attempts: Annotated[int, msgspec.Meta(ge=1)]
    detail: str


class OrderReportRejected(Event, frozen=True):
    """The order state machine refused a broker report (it was not applied). ``status`` is the
    order's status when the report arrived; ``report`` the refused event's type name."""

    cause_seq: Seq
    client_order_id: str
    report: str
    status: str
    reason: ReportRefusal
    detail: str


class PositionAdopted(Event, frozen=True):
    """Reconciliation found another position at the broker and the config adopts the broker's view."""

    cause_seq: Seq
    symbol: str
    journal_qty: Fixed8
    broker_qty: Fixed8
    broker_avg_price: Fixed8


class TradingHalted(Event, frozen=True):
    """The core found an invariant violation and stopped creating orders."""

    cause_seq: Seq
    reason: HaltReason
    detail: str


class TradingResumed(Event, frozen=True):
    """A halt was lifted: ``halt_reason`` was the reason it was halted for."""

    cause_seq: Seq
    reason: ResumeReason
    halt_reason: HaltReason


class AlertRaised(Event, frozen=True):
    """Something an operator must look at. ``subject`` names what it is about (a client order id,
    a symbol, or the run)."""

    cause_seq: Seq
    severity: Severity
    code: AlertCode
    subject: str
    detail: str


# ---------------------------------------------------------------- broker reports (inputs)
class OrderAccepted(Event, frozen=True):
    """Broker report: the order is live at the venue under ``broker_order_id``."""

    client_order_id: str
    broker_order_id: str


class OrderRejected(Event, frozen=True):
    """Broker report: the order was refused; terminal."""

    client_order_id: str
    reason: OrderRejectReason
    detail: str


class OrderPartiallyFilled(Event, frozen=True, omit_defaults=True):
    """Broker report: one fill that leaves ``leaves_qty`` working. ``fee`` is this fill's fee.
    ``bid`` / ``ask`` are the quote a simulated fill was priced against (the paper broker and the
    venue report them; a real broker's fills have none). v2 added ``bid`` and ``ask``."""

    VERSION: ClassVar[int] = 2
    client_order_id: str
    fill_id: str
    fill_qty: Fixed8
    fill_price: Fixed8
    fee: Fixed8
    cum_qty: Fixed8
    leaves_qty: Fixed8
    bid: Fixed8 | None = None
    ask: Fixed8 | None = None


class OrderFilled(Event, frozen=True, omit_defaults=True):
    """The final fill of an order: ``leaves_qty`` is zero. ``bid`` / ``ask`` as in
    ``OrderPartiallyFilled``. v2 added ``bid`` and ``ask``."""

    VERSION: ClassVar[int] = 2
    client_order_id: str
    fill_id: str
    fill_qty: Fixed8
    fill_price: Fixed8
    fee: Fixed8
    cum_qty: Fixed8
    leaves_qty: Fixed8
    bid: Fixed8 | None = None
    ask: Fixed8 | None = None


class OrderCanceled(Event, frozen=True):
    """Broker report: the rest of the order (``canceled_qty``) was canceled; terminal."""

    client_order_id: str
    canceled_qty: Fixed8
    reason: str


class OrderExpired(Event, frozen=True):
    """Broker report: the rest of the order (``expired_qty``) expired (time in force); terminal."""

    client_order_id: str
    expired_qty: Fixed8
    reason: str


class OrderReplaced(Event, frozen=True):
    """Broker report: the order was replaced by another broker order (``replaced_by``); terminal."""

    client_order_id: str
    replaced_by: str | None
