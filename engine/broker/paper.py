"""In-process paper broker: simulated venue whose reports are journaled as inputs.

Market orders fill at the next bar's open of their symbol (plus half-spread, slippage
and seeded jitter); limit orders fill on a later bar that trades through the limit;
``day`` orders still open at the close of their session expire; a cancel request takes a working
order off at once. Reports are stamped
with the bar (or session close) that produced them. Deterministic: the jitter of an
order is drawn from ``random.Random(f"{seed}:{client_order_id}")`` (seeded via sha512 of
the string, not builtin ``hash()``), so it does not depend on processing order.

Its effects never leave the process, so the runner does not need to commit before
submitting to it; live runs against an external broker do (``engine.live``).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from engine.broker.fills import CostModel, fee, limit_price_fill, market_price, order_cost
from engine.config import PaperSection, bps_to_centi
from journal_schema.events import (
    BarClosed,
    Event,
    OrderAccepted,
    OrderCanceled,
    OrderCancelRequested,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderSubmitRequested,
    SessionClosed,
)
from journal_schema.units import SCALE, to_fixed


def cost_model(cfg: PaperSection) -> CostModel:
    return CostModel(
        half_spread_centibps=bps_to_centi(cfg.half_spread_bps),
        slippage_centibps=bps_to_centi(cfg.slippage_bps),
        jitter_centibps=bps_to_centi(cfg.slippage_jitter_bps),
        fee_per_share=to_fixed(cfg.fee_per_share),
        fee_centibps=bps_to_centi(cfg.fee_bps),
    )


@dataclass(slots=True)
class _Working:
    request: OrderSubmitRequested
    broker_order_id: str
    accepted_ts: int
    session_close: int | None  # day orders expire at this close


class PaperBroker:
    def __init__(self, model: CostModel, seed: int, universe: list[str],
                 session_closes: list[int] | None = None) -> None:
        self.model = model
        self.seed = seed
        self.universe = frozenset(universe)
        self._closes = sorted(session_closes or [])
        self._working: dict[str, dict[str, _Working]] = {}
        self._count = 0

    def _session_close_after(self, ts: int) -> int | None:
        i = bisect.bisect_right(self._closes, ts)
        return self._closes[i] if i < len(self._closes) else None

    def submit(self, req: OrderSubmitRequested) -> list[Event]:
        if req.symbol not in self.universe:
            return [OrderRejected(ts=req.ts, client_order_id=req.client_order_id, reason="UNKNOWN_SYMBOL",
                                  detail=f"paper venue does not trade {req.symbol}")]
        if req.qty <= 0 or req.qty % SCALE:
            return [OrderRejected(ts=req.ts, client_order_id=req.client_order_id, reason="INVALID_QUANTITY",
                                  detail="paper venue trades whole shares only")]
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
                return [OrderCanceled(ts=req.ts, client_order_id=req.client_order_id, canceled_qty=w.request.qty,
                                      reason="canceled on request")]  # fmt: skip
        return []

    def on_bar(self, bar: BarClosed) -> list[Event]:
        """Fills produced by ``bar`` for orders accepted before it (call before the core sees it)."""
        book = self._working.get(bar.symbol)
        if not book:
            return []
        reports: list[Event] = []
        for cid in list(book):
            w = book[cid]
            if w.accepted_ts >= bar.ts:
                continue
            req = w.request
            cost = order_cost(self.model, self.seed, cid)
            if req.order_type == "market":
                price: int | None = market_price(bar.open, req.side, cost)
            else:
                assert req.limit_price is not None
                price = limit_price_fill(bar.open, bar.high, bar.low, req.side, req.limit_price, cost)
            if price is None:
                continue
            del book[cid]
            reports.append(OrderFilled(
                ts=bar.ts, client_order_id=cid, fill_id=f"{w.broker_order_id}-1", fill_qty=req.qty,
                fill_price=price, fee=fee(self.model, req.qty, price), cum_qty=req.qty, leaves_qty=0,
            ))
        return reports

    def on_session_closed(self, ev: SessionClosed) -> list[Event]:
        """Expire day orders whose session ends with this close."""
        reports: list[Event] = []
        for book in self._working.values():
            for cid in [c for c, w in book.items() if w.session_close is not None and w.session_close <= ev.ts]:
                w = book.pop(cid)
                reports.append(OrderExpired(ts=ev.ts, client_order_id=cid, expired_qty=w.request.qty,
                                            reason="day order not filled by the session close"))
        return reports
