"""The deterministic core: ``step(state, input, seq) -> (state, derived events)``.

No I/O, no clock, no randomness. ``seq`` is the journal sequence number the shell gives
the input; derived events cite it as ``cause_seq``. Event time is the input's ``ts``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from engine.config import bps_to_centi
from engine.core import oms
from engine.core.decide import decide
from engine.core.ids import content_id
from engine.core.orders import REPORT_TYPES
from engine.core.state import CoreConfig, CoreState
from engine.core.strategy import Target
from journal_schema.events import (
    BarClosed,
    ConfigChanged,
    Event,
    KillSwitchEngaged,
    KillSwitchReleased,
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

NO_EVENTS = oms.NO_EVENTS


class CoreInvariantError(RuntimeError):
    """The core was fed something it cannot interpret at all (a shell bug)."""


def configure(state: CoreState, config: dict[str, Any], config_hash: str) -> None:
    strategy_cfg = dict(config["strategy"])
    name = strategy_cfg.pop("name")
    spec = state.resolver(name)
    params = spec.params_model.model_validate(strategy_cfg)
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


def step(state: CoreState, ev: Event, seq: int) -> tuple[CoreState, list[Event]]:
    state.inputs += 1
    t = type(ev)
    if t is BarClosed:
        return state, _on_bar(state, ev, seq)  # type: ignore[arg-type]
    if t in REPORT_TYPES:
        return state, oms.on_report(state, ev, seq)
    if t is SessionOpened:
        state.session = ev.session  # type: ignore[attr-defined]
        state.session_open, state.session_close = ev.ts, ev.close_ts  # type: ignore[attr-defined]
    elif t is SessionClosed:
        state.session, state.session_open, state.session_close = None, None, None
        state.sessions_closed += 1
    elif t is RunStarted:
        assert isinstance(ev, RunStarted)
        state.run_id = ev.run_id
        state.unadopted_mismatches = 0
        configure(state, ev.config, ev.config_hash)
    elif t is ConfigChanged:
        assert isinstance(ev, ConfigChanged)
        configure(state, ev.config, ev.config_hash)
    elif t is KillSwitchEngaged:
        state.kill_switch = True
    elif t is KillSwitchReleased:
        state.kill_switch = False
    elif t is BrokerReportRejected:
        return state, oms.on_edge_rejection(state, ev, seq)  # type: ignore[arg-type]
    elif t is ReconciliationMismatch:
        return state, oms.on_mismatch(state, ev, seq)  # type: ignore[arg-type]
    elif t is ReconciliationCompleted:
        return state, oms.on_reconciled(state, ev, seq)  # type: ignore[arg-type]
    elif t is OrderCancelAnswered:
        return state, oms.on_cancel_answered(state, ev, seq)  # type: ignore[arg-type]
    return state, NO_EVENTS


def _on_bar(state: CoreState, bar: BarClosed, seq: int) -> list[Event]:
    cfg = state.config
    if cfg is None:
        raise CoreInvariantError("BarClosed before RunStarted: the shell must journal RunStarted first")
    symbol = bar.symbol
    state.positions.mark(symbol, bar.close)
    target = state.strategy_for(symbol).on_bar(bar)
    if target is None:
        return NO_EVENTS
    problem = _contract_problem(target)
    if problem:
        return oms.halt(state, bar, seq, "STRATEGY_CONTRACT_VIOLATION", f"{cfg.strategy_name} on {symbol}: {problem}")
    return _signal(state, cfg, bar, seq, target)


def _signal(state: CoreState, cfg: CoreConfig, bar: BarClosed, seq: int, target: Target) -> list[Event]:
    symbol, ts = bar.symbol, bar.ts
    signal_id = content_id("sig", cfg.strategy_name, symbol, ts, target.direction, target.qty, target.features)
    signal = SignalGenerated(
        ts=ts, cause_seq=seq, signal_id=signal_id, strategy=cfg.strategy_name, symbol=symbol,
        session=state.session or "", direction=target.direction, target_qty=target.qty,  # type: ignore[arg-type]
        features=target.features,
    )  # fmt: skip
    # a bar of another session than the open one (a live run catching up after a stop) is seen by
    # the strategy but never traded on
    in_session = state.session_open is not None and state.session_close is not None and (
        state.session_open < ts <= state.session_close)
    return [signal, *decide(state, cfg, symbol, ts, seq, signal_id, target, in_session=in_session)]


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
    if not isinstance(t.features, dict) or any(type(k) is not str or type(v) is not int
                                               for k, v in t.features.items()):
        return "features must map str to int (1e-8 units)"
    if type(t.horizon) is not str:
        return "horizon must be a str"
    return ""
