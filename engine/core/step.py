"""The deterministic core: ``step(state, input, seq) -> derived events``.

No I/O, no clock, no randomness. ``seq`` is the journal sequence number the shell gives
the input; derived events cite it as ``cause_seq``. Event time is the input's ``ts``.

``step`` changes ``state`` in place and returns the events the input derives. An input is
applied whole or not at all: when core code raises while stepping it (a strategy's bug, a
broken invariant), ``step`` raises ``CoreFault`` and the partly changed state must be thrown
away. ``engine.core.atomic.InputFold`` is what every caller (the shell, the fold of a reopened
journal, replay) feeds inputs through: on a fault it puts back the state as it was before the
input and derives the halt on it (``halt_on``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from engine.core import controls, oms
from engine.core.costs.model import CostBook, FillSample
from engine.core.costs.params import CostParams
from engine.core.decide import decide
from engine.core.ids import content_id
from engine.core.orders import REPORT_TYPES, OrderViolation
from engine.core.risk.params import RiskParams
from engine.core.state import CoreConfig, CoreState
from engine.core.strategy import Target
from journal_schema.events import (
    BarClosed,
    ConfigChanged,
    Event,
    KillSwitchEngaged,
    KillSwitchReleased,
    OrderIntentResolved,
    RunStarted,
    SessionClosed,
    SessionOpened,
    SignalGenerated,
)
from journal_schema.live_events import (
    BrokerReportRejected,
    OrderCancelAnswered,
    ReconciliationCompleted,
    ReconciliationMismatch,
)
from journal_schema.risk_events import CircuitClosed, CircuitOpened, ReviewApproved, ShellErrorReported
from journal_schema.units import bps_to_centi

NO_EVENTS = oms.NO_EVENTS


class CoreInvariantError(RuntimeError):
    """The core was fed something it cannot interpret at all (a shell bug)."""


def configure(state: CoreState, config: dict[str, Any], config_hash: str) -> None:
    strategy_cfg = dict(config["strategy"])
    name = strategy_cfg.pop("name")
    if state.resolver is None:
        raise CoreInvariantError("CoreState has no strategy resolver: the shell gives it one")
    spec = state.resolver(name)
    params = spec.validate(strategy_cfg)
    orders = config["orders"]
    oms_cfg = config["oms"]
    new = CoreConfig(
        config_hash=config_hash,
        strategy_name=name,
        strategy_spec=spec,
        strategy_params=params,
        order_type=orders["type"],
        limit_offset_centibps=bps_to_centi(Decimal(orders["limit_offset_bps"])),
        time_in_force=orders["time_in_force"],
        max_submit_attempts=int(oms_cfg["max_submit_attempts"]),
        adopt_broker_positions=bool(oms_cfg["adopt_broker_positions"]),
    )
    old = state.config
    if old is None or old.strategy_spec is not spec or old.strategy_params != params:
        state.strategies = {}  # new strategy or parameters: indicators warm up again
    state.config = new
    risk = RiskParams.from_snapshot(config["risk"], canary=config.get("run", {}).get("canary_symbols", ()))
    state.risk.params = risk
    state.risk.market.liquidity_window = risk.liquidity_window
    state.risk.market.correlation_window = risk.correlation_window
    costs = CostParams.from_snapshot(config["costs"]) if "costs" in config else CostParams()
    if costs != state.costs.p:
        state.costs = CostBook(costs)  # new calibration settings: the model calibrates again


_ADDRESS = re.compile(r"0x[0-9a-fA-F]+")


class CoreFault(Exception):
    """Core code raised while stepping an input; ``state`` is partly changed and must be replaced."""

    def __init__(self, cause: Exception) -> None:
        super().__init__(f"{type(cause).__name__}: {cause}")
        self.cause = cause


def step(state: CoreState, ev: Event, seq: int) -> list[Event]:
    """Apply one input to ``state`` (in place) and return the events it derives; ``CoreFault`` when
    core code raised (``state`` is then partly changed: use ``engine.core.atomic.InputFold``)."""
    try:
        if type(ev) is BarClosed:  # most inputs: dispatched here, one call less per bar
            state.inputs += 1
            return _on_bar(state, ev, seq)
        return _step(state, ev, seq)
    except Exception as exc:  # noqa: BLE001 - every exception from core code is a fault of this input
        raise CoreFault(exc) from exc


def halt_on(state: CoreState, ev: Event, seq: int, exc: Exception) -> list[Event]:
    """The halt for an exception raised by core code while stepping ``ev``: an assertion or a broken
    invariant is CORE_INVARIANT_VIOLATION, anything else CORE_PROGRAMMING_ERROR."""
    invariant = isinstance(exc, (AssertionError, CoreInvariantError, OrderViolation))
    code = "CORE_INVARIANT_VIOLATION" if invariant else "CORE_PROGRAMMING_ERROR"
    # object reprs carry memory addresses: never journal them (replay must derive the same bytes)
    detail = _ADDRESS.sub("0x?", f"{type(exc).__name__}: {exc}")[:400]
    return oms.halt(state, ev, seq, code, f"while stepping {type(ev).__name__}: {detail}")


def _step(state: CoreState, ev: Event, seq: int) -> list[Event]:
    state.inputs += 1
    t = type(ev)
    if t is BarClosed:
        return _on_bar(state, ev, seq)  # type: ignore[arg-type]
    if t in REPORT_TYPES:
        return _on_report(state, ev, seq)
    if t is SessionOpened:
        assert isinstance(ev, SessionOpened)
        state.session = ev.session
        state.session_open, state.session_close = ev.ts, ev.close_ts
        return controls.on_session_opened(state, ev, seq) if state.config is not None else NO_EVENTS
    elif t is SessionClosed:
        assert isinstance(ev, SessionClosed)
        state.session, state.session_open, state.session_close = None, None, None
        state.sessions_closed += 1
        return controls.on_session_closed(state, ev, seq) if state.config is not None else NO_EVENTS
    elif t is RunStarted:
        assert isinstance(ev, RunStarted)
        state.run_id = ev.run_id
        state.unadopted_mismatches = 0
        configure(state, ev.config, ev.config_hash)
        return controls.on_run_started(state, ev, seq)
    elif t is ConfigChanged:
        assert isinstance(ev, ConfigChanged)
        configure(state, ev.config, ev.config_hash)
        if ev.command_id:
            state.commands.add(ev.command_id)  # the inbox journals a command once (engine.operator)
    else:
        handler = _HANDLERS.get(t)
        if handler is not None:
            return handler(state, ev, seq)
    return NO_EVENTS


# Inputs whose whole meaning is one handler ``(state, event, seq) -> derived events``.
_HANDLERS: dict[type[Event], Callable[[CoreState, Any, int], list[Event]]] = {
    KillSwitchEngaged: controls.on_kill,
    KillSwitchReleased: controls.on_release,
    ReviewApproved: controls.on_review_approved,
    CircuitOpened: controls.on_circuit_opened,
    CircuitClosed: controls.on_circuit_closed,
    ShellErrorReported: controls.on_shell_error,
    BrokerReportRejected: oms.on_edge_rejection,
    ReconciliationMismatch: oms.on_mismatch,
    ReconciliationCompleted: oms.on_reconciled,
    OrderCancelAnswered: oms.on_cancel_answered,
}


def _on_report(state: CoreState, ev: Event, seq: int) -> list[Event]:
    """A broker report through the OMS, then the risk bookkeeping of what it changed."""
    cid: str = ev.client_order_id  # type: ignore[attr-defined]
    order = state.orders.orders.get(cid)
    if order is None or state.config is None:
        return oms.on_report(state, ev, seq)
    realized, qty = state.positions.get(order.symbol).realized, state.positions.qty(order.symbol)
    before, cum = order.outcome, order.cum_qty
    out = oms.on_report(state, ev, seq)
    tally = state.risk.tally
    for d in out:
        if type(d) is OrderIntentResolved:
            tally.intents[d.outcome] += 1
    fee = 0
    if order.cum_qty != cum:
        fee = ev.fee  # type: ignore[attr-defined]
        tally.fills += 1
        tally.fees += fee
        bid, ask = ev.bid, ev.ask  # type: ignore[attr-defined]
        if bid is not None and ask is not None:
            state.costs.on_fill(
                order.symbol,
                FillSample(ev.ts, 1 if order.side == "buy" else -1, order.cum_qty - cum, ev.fill_price, fee, bid, ask),  # type: ignore[attr-defined]
            )
    first_ack = before is None and order.outcome == "SUBMITTED"
    return [*out, *controls.after_report(state, order, ev, seq, realized, first_ack, fee, qty)]


def _on_bar(state: CoreState, bar: BarClosed, seq: int) -> list[Event]:
    cfg = state.config
    if cfg is None:
        raise CoreInvariantError("BarClosed before RunStarted: the shell must journal RunStarted first")
    symbol, close = bar.symbol, bar.close
    position = state.positions.mark(symbol, close)
    risk = state.risk
    risk.market.on_bar(bar)
    state.costs.on_bar(symbol, bar.ts, close, bar.volume)
    # after_mark derives nothing unless a review or quarantine is pending or the symbol is held
    held = position.qty or risk.reviews or risk.quarantine.until
    risk_events = controls.after_mark(state, bar, seq, symbol) if held else NO_EVENTS
    target = state.strategy_for(symbol).on_bar(bar)  # a strategy that raises faults the whole bar (InputFold)
    if target is None:
        return risk_events
    problem = _contract_problem(target)
    if problem:
        return [
            *risk_events,
            *oms.halt(state, bar, seq, "STRATEGY_CONTRACT_VIOLATION", f"{cfg.strategy_name} on {symbol}: {problem}"),
        ]
    return [*risk_events, *_signal(state, cfg, bar, seq, target)]


def _signal(state: CoreState, cfg: CoreConfig, bar: BarClosed, seq: int, target: Target) -> list[Event]:
    symbol, ts = bar.symbol, bar.ts
    signal_id = content_id("sig", cfg.strategy_name, symbol, ts, target.direction, target.qty, target.features)
    signal = SignalGenerated(
        ts=ts,
        cause_seq=seq,
        signal_id=signal_id,
        strategy=cfg.strategy_name,
        symbol=symbol,
        session=state.session or "",
        direction=target.direction,  # type: ignore[arg-type]
        target_qty=target.qty,
        features=target.features,
        confidence=target.confidence,
        edge_cbp=target.edge_cbp,
    )
    # a bar of another session than the open one (a live run catching up after a stop) is seen by
    # the strategy but never traded on
    in_session = (
        state.session_open is not None
        and state.session_close is not None
        and (state.session_open < ts <= state.session_close)
    )
    assert state.risk.params is not None
    age = state.risk.market.data_age(bar, state.risk.params.max_data_age_ns)
    return [signal, *decide(state, cfg, symbol, ts, seq, signal_id, target, data_age=age, in_session=in_session)]


def _contract_problem(t: object) -> str:
    """Why a strategy's return value is not a valid Target ('' when it is)."""
    if not isinstance(t, Target):
        return f"returned {type(t).__name__}, not Target or None"
    if type(t.direction) is not int or t.direction not in (-1, 0, 1):
        return f"direction {t.direction!r} is not -1, 0 or 1"
    if type(t.qty) is not int:
        return f"qty {t.qty!r} is not an int (1e-8 units)"
    if (t.qty > 0) - (t.qty < 0) != t.direction:
        return f"qty {t.qty} does not have the sign of direction {t.direction}"
    if not isinstance(t.features, dict) or any(type(k) is not str or type(v) is not int for k, v in t.features.items()):
        return "features must map str to int (1e-8 units)"
    if type(t.horizon) is not str:
        return "horizon must be a str"
    if type(t.confidence) is not int or not 0 <= t.confidence <= 100_000_000:
        return f"confidence {t.confidence!r} is not an int from 0 to 100000000 (1e-8 units)"
    if t.edge_cbp is not None and type(t.edge_cbp) is not int:
        return f"edge_cbp {t.edge_cbp!r} is not an int (hundredths of a basis point) or None"
    return ""
