"""Builders for the risk-control tests: a scripted strategy and a small harness that drives
``step()`` directly (real core, no journal)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from engine.core.atomic import InputFold
from engine.core.state import CoreState
from engine.core.strategy import StrategySpec, Target
from journal_schema.events import (
    BarClosed,
    DecisionMade,
    Event,
    OrderAccepted,
    OrderFilled,
    OrderRejected,
    OrderSubmitRequested,
    SessionClosed,
    SessionOpened,
)
from tests.support import DAY, MINUTE, T0, run_started

S = 100_000_000  # 1e-8 units per share / per dollar
NS = 1_000_000_000
SECOND = NS
OPEN = T0 + 14 * 60 * MINUTE + 30 * MINUTE  # 14:30 UTC
CLOSE = OPEN + 390 * MINUTE
BIG_VOLUME = 1_000_000 * S  # enough that no order of these tests is LOW_LIQUIDITY


def at(k: int, day: int = 0) -> int:
    """The close of minute bar ``k`` (1-based) of session ``day``."""
    return OPEN + day * DAY + k * MINUTE


def iso(ts: int) -> str:
    """An event time as the ISO-8601 text [risk] blackouts take (whole seconds, UTC)."""
    return datetime.fromtimestamp(ts // NS, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def tgt(shares: int | float, confidence: str | float = 1) -> Target:
    """A target of ``shares`` (signed) with ``confidence`` from 0 to 1."""
    qty = round(shares * S)
    return Target((qty > 0) - (qty < 0), qty, {}, confidence=round(float(confidence) * S))


# --- the scripted strategy ---------------------------------------------------------------


class ScriptParams(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


Script = dict[tuple[str, int], Any]  # (symbol, bar ts) -> Target | None | list of them | callable(bar)


class Scripted:
    """Returns what the script says for (symbol, bar ts): a Target, None, a list (one item per
    time the same bar is seen) or a callable of the bar (it may raise)."""

    def __init__(self, script: Script, symbol: str) -> None:
        self.script = script
        self.symbol = symbol
        self.seen: dict[int, int] = {}

    def on_bar(self, bar: BarClosed) -> Target | None:
        v = self.script.get((bar.symbol, bar.ts))
        if isinstance(v, list):
            n = self.seen.get(bar.ts, 0)
            self.seen[bar.ts] = n + 1
            v = v[n] if n < len(v) else None
        if callable(v):
            return v(bar)  # type: ignore[no-any-return]
        return v  # type: ignore[no-any-return]


def scripted_spec(script: Script) -> StrategySpec:
    return StrategySpec("scripted", ScriptParams, lambda params, symbol: Scripted(script, symbol))


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = merge(base[k], v) if isinstance(v, dict) and isinstance(base.get(k), dict) else v
    return out


# --- the harness -------------------------------------------------------------------------


def bar(
    symbol: str, ts: int, close: float | int, volume: int = BIG_VOLUME, received_ts: int | None = None
) -> BarClosed:
    c = round(close * S)
    return BarClosed(
        ts=ts,
        symbol=symbol,
        open=c,
        high=c + S // 100,
        low=max(1, c - S // 100),
        close=c,
        volume=volume,
        received_ts=received_ts,
    )


def refold(
    inputs: Sequence[Event], resolver: Callable[[str], StrategySpec], faults: dict[int, Exception] | None = None
) -> InputFold:
    """The core state after ``inputs`` (numbered from 1), each applied whole or not at all: what the
    shell's ``fold_inputs`` does over a journal."""
    fold = InputFold(
        CoreState(resolver=resolver), lambda known, until: refold(inputs[:until], resolver, known).state, faults
    )
    for seq, ev in enumerate(inputs, 1):
        fold.apply(ev, seq)
    return fold


def fold_over(inputs: list[Event], resolver: Callable[[str], StrategySpec]) -> InputFold:
    """An ``InputFold`` whose state before a faulting input is folded again from ``inputs`` (the
    inputs fed so far, appended by the caller before each ``apply``)."""
    return InputFold(CoreState(resolver=resolver), lambda known, until: refold(inputs[:until], resolver, known).state)


class Run:
    """One core fed input by input. ``risk``: the [risk] table; ``cfg``: other tables."""

    def __init__(
        self,
        risk: dict[str, Any] | None = None,
        cfg: dict[str, Any] | None = None,
        universe: list[str] | None = None,
        session: bool = True,
    ) -> None:
        self.script: Script = {}
        self.raw: dict[str, Any] = merge(cfg or {}, {"risk": risk} if risk else {})
        self.seq = 0
        self.inputs: list[Event] = []
        self.fold = fold_over(self.inputs, lambda name: scripted_spec(self.script))
        self.log: list[Event] = []  # every derived event, in order
        self.started = run_started(self.raw, universe or ["AAA", "BBB", "CCC"])
        self.feed(self.started)
        if session:
            self.open_session()

    @property
    def state(self) -> CoreState:
        return self.fold.state

    @property
    def params(self) -> Any:
        return self.state.risk.params

    def feed(self, *events: Event) -> list[Event]:
        out: list[Event] = []
        for ev in events:
            self.seq += 1
            self.inputs.append(ev)
            derived = self.fold.apply(ev, self.seq)
            out.extend(derived)
        self.log.extend(out)
        return out

    def open_session(self, day: int = 0) -> list[Event]:
        return self.feed(
            SessionOpened(ts=OPEN + day * DAY, session=label(day), close_ts=CLOSE + day * DAY, calendar="X")
        )

    def close_session(self, day: int = 0) -> list[Event]:
        return self.feed(SessionClosed(ts=CLOSE + day * DAY, session=label(day), calendar="X"))

    def bar(
        self,
        symbol: str,
        ts: int,
        close: float | int,
        target: Any = None,
        volume: int = BIG_VOLUME,
        received_ts: int | None = None,
    ) -> list[Event]:
        if target is not None:
            self.script[(symbol, ts)] = target
        return self.feed(bar(symbol, ts, close, volume, received_ts))

    def signal(self, symbol: str, ts: int, close: float | int, target: Any, **kw: Any) -> DecisionMade:
        """A bar whose target is ``target``: the (last) decision it gave."""
        out = self.bar(symbol, ts, close, target, **kw)
        return last(out, DecisionMade)

    def fill(
        self, req: OrderSubmitRequested, price: float | int | None = None, fee: int = 0, ts: int | None = None
    ) -> list[Event]:
        """The broker accepts and fills ``req`` in full (at ``price``, default its limit or last mark)."""
        ts = req.ts if ts is None else ts
        if price is None:
            p = req.limit_price or self.state.positions.get(req.symbol).last_price or 0
        else:
            p = round(price * S)
        return self.feed(
            OrderAccepted(ts=ts, client_order_id=req.client_order_id, broker_order_id="b-" + req.client_order_id),
            OrderFilled(
                ts=ts,
                client_order_id=req.client_order_id,
                fill_id="f-" + req.client_order_id,
                fill_qty=req.qty,
                fill_price=p,
                fee=fee,
                cum_qty=req.qty,
                leaves_qty=0,
            ),
        )

    def accept(self, req: OrderSubmitRequested, ts: int | None = None) -> list[Event]:
        return self.feed(
            OrderAccepted(
                ts=req.ts if ts is None else ts,
                client_order_id=req.client_order_id,
                broker_order_id="b-" + req.client_order_id,
            )
        )

    def reject(self, req: OrderSubmitRequested, ts: int | None = None) -> list[Event]:
        return self.feed(
            OrderRejected(
                ts=req.ts if ts is None else ts,
                client_order_id=req.client_order_id,
                reason="BROKER_REJECTED",
                detail="no",
            )
        )

    def hold(self, symbol: str, ts: int, close: float | int, shares: int) -> OrderSubmitRequested:
        """Reach a position of ``shares`` in ``symbol`` at ``close`` (signal, accept, fill)."""
        out = self.bar(symbol, ts, close, tgt(shares))
        req = last(out, OrderSubmitRequested)
        self.fill(req)
        assert self.state.positions.qty(symbol) == shares * S, out
        return req


def label(day: int) -> str:
    return f"2030-01-{day + 1:02d}"


def of(events: list[Event], *types: type) -> list[Any]:
    return [e for e in events if isinstance(e, types)]


def last(events: list[Event], t: type) -> Any:
    found = of(events, t)
    assert found, f"no {t.__name__} in {[type(e).__name__ for e in events]}"
    return found[-1]


def names(events: list[Event]) -> list[str]:
    return [type(e).__name__ for e in events]


def raising(exc: Callable[[], BaseException]) -> Callable[[BarClosed], Target]:
    def on_bar(bar: BarClosed) -> Target:
        raise exc()

    return on_bar
