"""In-process paper broker: simulated venue whose reports are journaled as inputs.

Working orders fill through the one execution simulator (``engine.broker.fills.FillSimulator``):
from the bars of their symbol after they reached the market, a slice per bar capped by the bar's
volume (partial fills until the order is done), priced from the bar's open with a quoted spread,
volatility- and participation-dependent slippage and seeded jitter; limit prices are always
honoured. ``day`` orders still open at the close of their session expire (the unfilled rest); a
cancel request takes a working order's rest off at once. Reports are stamped with the bar (or
session close) that produced them and carry the simulated quote (``bid`` / ``ask``).

Its effects never leave the process, so the runner does not need to commit before
submitting to it; live runs against an external broker do (``engine.live``).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from engine.broker.fills import CostModel, FillSimulator, SliceFill, WorkingOrder
from engine.config import EngineConfig
from engine.config_broker import PaperSection
from engine.feeds.calendar import Sessions
from journal_schema.events import (
    BarClosed,
    Event,
    OrderAccepted,
    OrderCanceled,
    OrderCancelRequested,
    OrderExpired,
    OrderFilled,
    OrderPartiallyFilled,
    OrderRejected,
    OrderSubmitRequested,
    SessionClosed,
)
from journal_schema.units import SCALE, bps_to_centi, to_fixed


def cost_model(cfg: PaperSection) -> CostModel:
    """The simulator's parameters from ``[paper]``."""
    return CostModel(
        half_spread_centibps=bps_to_centi(cfg.half_spread_bps),
        slippage_centibps=bps_to_centi(cfg.slippage_bps),
        jitter_centibps=bps_to_centi(cfg.slippage_jitter_bps),
        fee_per_share=to_fixed(cfg.fee_per_share),
        fee_centibps=bps_to_centi(cfg.fee_bps),
        spread_from_range=cfg.spread == "bar_range",
        range_fraction_ppm=int(cfg.range_spread_fraction * 1_000_000),
        max_half_spread_centibps=bps_to_centi(cfg.max_half_spread_bps),
        impact_k_ppm=int(cfg.impact_k * 1_000_000),
        max_participation_ppm=int(cfg.max_participation * 1_000_000),
        latency_ns=int(cfg.latency_ms * 1_000_000),
        vol_window=cfg.vol_window_bars,
    )


@dataclass(slots=True)
class _Working:
    request: OrderSubmitRequested
    broker_order_id: str
    accepted_ts: int
    session_close: int | None  # day orders expire at this close
    cum_qty: int = 0
    slices: int = 0

    @property
    def leaves(self) -> int:
        return self.request.qty - self.cum_qty

    def view(self) -> WorkingOrder:
        r = self.request
        return WorkingOrder(
            r.client_order_id, r.side, r.order_type, r.limit_price, self.leaves, r.ts, self.accepted_ts, self.slices
        )


class PaperBroker:
    def __init__(
        self, model: CostModel, seed: int, universe: list[str], session_closes: list[int] | None = None
    ) -> None:
        self.model = model
        self.seed = seed
        self.sim = FillSimulator(model, seed)
        self.universe = frozenset(universe)
        self._closes = sorted(session_closes or [])
        self._working: dict[str, dict[str, _Working]] = {}
        self._count = 0

    def _session_close_after(self, ts: int) -> int | None:
        i = bisect.bisect_right(self._closes, ts)
        return self._closes[i] if i < len(self._closes) else None

    def submit(self, req: OrderSubmitRequested) -> list[Event]:
        if req.symbol not in self.universe:
            return [
                OrderRejected(
                    ts=req.ts,
                    client_order_id=req.client_order_id,
                    reason="UNKNOWN_SYMBOL",
                    detail=f"paper venue does not trade {req.symbol}",
                )
            ]
        if req.qty <= 0 or req.qty % SCALE:
            return [
                OrderRejected(
                    ts=req.ts,
                    client_order_id=req.client_order_id,
                    reason="INVALID_QUANTITY",
                    detail="paper venue trades whole shares only",
                )
            ]
        self._count += 1
        broker_id = f"paper-{self._count:08d}"
        close = self._session_close_after(req.ts) if req.time_in_force == "day" else None
        self._working.setdefault(req.symbol, {})[req.client_order_id] = _Working(req, broker_id, req.ts, close)
        return [OrderAccepted(ts=req.ts, client_order_id=req.client_order_id, broker_order_id=broker_id)]

    def cancel(self, req: OrderCancelRequested) -> list[Event]:
        """Cancel a working order at once (stamped with the request); nothing when it is not working."""
        for book in self._working.values():
            w = book.pop(req.client_order_id, None)
            if w is not None:
                return [
                    OrderCanceled(
                        ts=req.ts,
                        client_order_id=req.client_order_id,
                        canceled_qty=w.leaves,
                        reason="canceled on request",
                    )
                ]
        return []

    def on_bar(self, bar: BarClosed) -> list[Event]:
        """Fills produced by ``bar`` for orders that reached the market before it (call before the
        core sees it, for every bar: the simulator folds each bar into its volatility)."""
        book = self._working.get(bar.symbol)
        slices = self.sim.on_bar(bar, [w.view() for w in book.values()] if book else ())
        if not slices:
            return []
        assert book is not None
        return [self._report(book, bar.ts, f) for f in slices]

    @staticmethod
    def _report(book: dict[str, _Working], ts: int, f: SliceFill) -> Event:
        w = book[f.client_order_id]
        w.cum_qty += f.qty
        w.slices = f.n
        final = w.leaves == 0
        if final:
            del book[f.client_order_id]
        return (OrderFilled if final else OrderPartiallyFilled)(
            ts=ts,
            client_order_id=f.client_order_id,
            fill_id=f"{w.broker_order_id}-{f.n}",
            fill_qty=f.qty,
            fill_price=f.price,
            fee=f.fee,
            cum_qty=w.cum_qty,
            leaves_qty=w.leaves,
            bid=f.bid,
            ask=f.ask,
        )

    def on_session_closed(self, ev: SessionClosed) -> list[Event]:
        """Expire day orders whose session ends with this close."""
        reports: list[Event] = []
        for book in self._working.values():
            for cid in [c for c, w in book.items() if w.session_close is not None and w.session_close <= ev.ts]:
                w = book.pop(cid)
                reports.append(
                    OrderExpired(
                        ts=ev.ts,
                        client_order_id=cid,
                        expired_qty=w.leaves,
                        reason="day order not filled by the session close",
                    )
                )
        return reports


def paper_broker(cfg: EngineConfig, universe: list[str], sessions: Sessions) -> PaperBroker:
    """The in-process broker of a historical (or what-if) run, from the run config."""
    return PaperBroker(cost_model(cfg.paper), cfg.run.seed, universe, sessions.closes.tolist())
