"""The decision policy: from a strategy's target to a decision, and an order when one is needed.

``order_qty = target_qty - position_qty - open_order_qty`` (all signed). The decision is SKIPPED
with a reason when the kill switch is on, trading is halted, no session is open or the bar is not
of the open session (SESSION_CLOSED), or the target is already met. When orders on the other side
are working for the symbol, they are canceled first (``OrderCancelRequested``, write-ahead like a
submit) and the target is kept as pending; once every
order whose cancel was requested has ended (canceled, filled or expired), the same target is
decided again, against the position it left. Otherwise the decision is ACCEPTED: an intent and
its submit request for ``|order_qty|``. A new target for the symbol replaces a pending one, and
while a cancel of the symbol is out any new target is kept to be decided again after it.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.core.ids import client_order_id, content_id
from engine.core.state import CoreConfig, CoreState
from engine.core.strategy import Target
from journal_schema.events import (
    DecisionMade,
    Event,
    OrderCancelRequested,
    OrderIntentCreated,
    OrderSubmitRequested,
)
from journal_schema.units import div_round_half_even


@dataclass(frozen=True, slots=True)
class Pending:
    """A target waiting for the cancels of the orders against it."""

    signal_id: str
    target: Target


def decide(state: CoreState, cfg: CoreConfig, symbol: str, ts: int, seq: int, signal_id: str,
           target: Target, *, in_session: bool | None = None) -> list[Event]:
    """Decide ``target`` for ``symbol`` now (a new signal, or a pending one whose cancels are done).
    ``in_session``: whether the signal's bar lies in the open session (default: a session is open)."""
    state.pending.pop(symbol, None)
    session = state.session or ""
    position = state.positions.qty(symbol)
    working = state.orders.open_qty(symbol)
    order_qty = target.qty - position - working
    side = "buy" if order_qty > 0 else "sell"
    opposite = [o for o in state.orders.open_orders(symbol) if o.side != side] if order_qty else []
    if state.kill_switch:
        reasons = ["KILL_SWITCH_ENGAGED"]
    elif state.halted is not None:
        reasons = ["TRADING_HALTED"]
    elif state.session is None or in_session is False:
        reasons = ["SESSION_CLOSED"]
    elif order_qty == 0:
        reasons = ["ALREADY_AT_TARGET"]
    elif opposite:
        reasons = ["OPPOSITE_ORDER_CANCEL_REQUESTED"]
    else:
        reasons = ["SIGNAL_ACCEPTED"]
    accepted = reasons == ["SIGNAL_ACCEPTED"]
    outcome = "ACCEPTED" if accepted else "SKIPPED"
    decision_id = content_id("dec", signal_id, cfg.config_hash, outcome, reasons, position, working, order_qty)
    decision = DecisionMade(
        ts=ts, cause_seq=seq, decision_id=decision_id, signal_id=signal_id, symbol=symbol,
        outcome=outcome, reason_codes=reasons, config_hash=cfg.config_hash,  # type: ignore[arg-type]
        position_qty=position, open_order_qty=working, target_qty=target.qty, order_qty=order_qty,
    )  # fmt: skip
    if opposite or any(o.cancel_state is not None for o in state.orders.open_orders(symbol)):
        # a cancel is out for this symbol: decide this target again once it is done
        state.pending[symbol] = Pending(signal_id, target)
    if reasons == ["OPPOSITE_ORDER_CANCEL_REQUESTED"]:
        out: list[Event] = [decision]
        for order in opposite:
            if order.cancel_state is None:
                cancel = OrderCancelRequested(ts=ts, cause_seq=seq, client_order_id=order.client_order_id,
                                              reason="OPPOSITE_SIGNAL")  # fmt: skip
                state.orders.apply_derived(cancel)
                out.append(cancel)
        return out
    if not accepted:
        return [decision]
    qty = abs(order_qty)
    last = state.positions.get(symbol).last_price
    limit_price = _limit_price(last or 0, side, cfg) if cfg.order_type == "limit" else None
    intent_id = content_id("int", decision_id, side, qty, cfg.order_type, limit_price, cfg.time_in_force)
    cid = client_order_id(
        strategy=cfg.strategy_name, symbol=symbol, side=side, session=session,
        horizon=target.horizon, signal_id=signal_id, qty=qty,
    )  # fmt: skip
    intent = OrderIntentCreated(
        ts=ts, cause_seq=seq, intent_id=intent_id, decision_id=decision_id, client_order_id=cid, symbol=symbol,
        side=side, qty=qty, order_type=cfg.order_type, limit_price=limit_price,  # type: ignore[arg-type]
        time_in_force=cfg.time_in_force,  # type: ignore[arg-type]
    )  # fmt: skip
    request = OrderSubmitRequested(
        ts=ts, cause_seq=seq, client_order_id=cid, intent_id=intent_id, symbol=symbol, side=side,  # type: ignore[arg-type]
        qty=qty, order_type=cfg.order_type, limit_price=limit_price,  # type: ignore[arg-type]
        time_in_force=cfg.time_in_force,  # type: ignore[arg-type]
    )  # fmt: skip
    state.orders.apply_derived(intent)
    state.orders.apply_derived(request)
    if cfg.time_in_force == "day":
        # as brokers do: a day order lives until the first session close after it is sent; one sent
        # at the very close (daily bars are stamped there) lives through the next session
        at_close = state.session_close is not None and ts >= state.session_close
        state.orders.orders[cid].day_expiry = state.sessions_closed + (2 if at_close else 1)
    return [decision, intent, request]


def decide_pending(state: CoreState, symbol: str, ts: int, seq: int) -> list[Event]:
    """Decide a pending target again once no order of ``symbol`` waits for its cancel."""
    pending, cfg = state.pending.get(symbol), state.config
    if pending is None or cfg is None:
        return []
    if any(o.cancel_state is not None for o in state.orders.open_orders(symbol)):
        return []
    return decide(state, cfg, symbol, ts, seq, pending.signal_id, pending.target)


CENT = 1_000_000  # $0.01 in 1e-8 units
SUB_PENNY = 10_000  # $0.0001


def _limit_price(close: int, side: str, cfg: CoreConfig) -> int:
    """Last close moved by the configured offset, rounded half-even to the US equity tick
    ($0.01 at or above $1, $0.0001 below)."""
    factor = 1_000_000 + (cfg.limit_offset_centibps if side == "buy" else -cfg.limit_offset_centibps)
    raw = div_round_half_even(close * factor, 1_000_000)
    tick = CENT if raw >= 100 * CENT else SUB_PENNY
    return max(tick, div_round_half_even(raw, tick) * tick)
