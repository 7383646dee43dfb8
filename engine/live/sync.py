"""Bringing the journal up to date with the broker: order snapshots, unanswered submits,
positions, and the start-up reconciliation.

Every cycle (``sync_orders``): each order the journal has open at the broker (ACCEPTED,
PARTIALLY_FILLED) is read from the broker's open-order list, or by client order id once it has
left that list, and the difference is journaled (``engine.live.reports``). Each order the
journal has requested but never heard back about (SUBMIT_REQUESTED, not in this cycle's outbox:
its submit timed out, its answer was lost, or the process died in between) is looked up by
client order id: found, its reports are journaled; not found (HTTP 404), ``OrderNotFoundAtBroker``
is journaled and the core decides whether to resubmit it. Nothing is ever resubmitted on a guess.

At start (``reconcile``): the same for every open order, then the broker's positions against the
journal's; orders and positions that are not ours are reported (``ForeignActivitySeen``) and left
alone; a persistent difference is a ``ReconciliationMismatch``. ``ReconciliationCompleted`` ends it.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.alpaca.errors import BrokerError
from engine.alpaca.model import BrokerOrder, BrokerPosition, UnparseableOrder
from engine.core.orders import Order
from engine.live.context import Context
from engine.live.reports import RAW_LIMIT, reports_for, snapshot_key
from journal_schema.live_events import (
    BrokerReportRejected,
    ForeignActivitySeen,
    OrderNotFoundAtBroker,
    ReconciliationCompleted,
    ReconciliationMismatch,
)
from journal_schema.units import exact


@dataclass
class SyncResult:
    checked: int = 0
    found: int = 0
    not_found: int = 0
    failed: int = 0  # lookups that raised (left for the next cycle)
    foreign: int = 0


def sync_orders(ctx: Context, *, report_foreign: bool) -> SyncResult:
    """Journal what the broker says about every open order of ours. BrokerError from the
    open-order list propagates; a failed single lookup is counted and left for the next cycle."""
    book = ctx.engine.state.orders
    fresh = {cid for cid, _ in ctx.outbox}
    working = book.with_status("ACCEPTED", "PARTIALLY_FILLED")
    pending = [o for o in book.with_status("SUBMIT_REQUESTED") if o.client_order_id not in fresh]
    result = SyncResult()
    if not (working or pending or report_foreign):
        return result
    listing: list[BrokerOrder | UnparseableOrder] = ctx.broker.open_orders() if (working or report_foreign) else []
    snaps = {o.client_order_id: o for o in listing if isinstance(o, BrokerOrder)}
    broken = {o.client_order_id: o for o in listing if isinstance(o, UnparseableOrder) and o.client_order_id}
    for order in sorted(working + pending, key=lambda o: o.requested_ts):
        if ctx.quarantined.get(order.client_order_id) == "mismatch":
            continue
        result.checked += 1
        _sync_one(ctx, order, snaps.get(order.client_order_id), broken.get(order.client_order_id), result)
    if report_foreign:
        for item in listing:
            result.foreign += _foreign_order(ctx, item)
    return result


def _sync_one(
    ctx: Context, order: Order, snap: BrokerOrder | None, broken: UnparseableOrder | None, result: SyncResult
) -> None:
    cid = order.client_order_id
    if broken is not None:
        _unparseable(ctx, order, broken.detail, broken.raw)
        return
    if snap is None:
        try:
            snap = ctx.broker.order_by_client_id(cid)
        except BrokerError as error:
            ctx.failed(error, "BROKER_READS")
            result.failed += 1
            if error.category == "PROVIDER_SCHEMA":
                _unparseable(ctx, order, error.detail, error.detail)
            return
    if snap is None:
        result.not_found += 1
        if order.status == "SUBMIT_REQUESTED":
            ctx.input(OrderNotFoundAtBroker(ts=ctx.now, client_order_id=cid))
        else:
            ctx.input(
                ReconciliationMismatch(
                    ts=ctx.now,
                    kind="ORDER_MISSING_AT_BROKER",
                    symbol=order.symbol,
                    client_order_id=cid,
                    journal_qty=order.qty,
                    broker_qty=0,
                    broker_avg_price=0,
                    detail=f"journal has {cid} {order.status} (broker id {order.broker_order_id}); the broker does not",
                )
            )
        return
    result.found += 1
    key = snapshot_key(snap)
    if ctx.quarantined.get(cid) == key:
        return  # the core refused this very snapshot already
    for ev in reports_for(order, snap):
        ctx.input(ev)
    if cid in ctx.refused:
        ctx.refused.discard(cid)
        ctx.quarantined[cid] = key


def _unparseable(ctx: Context, order: Order, detail: str, raw: str) -> None:
    text = raw[:RAW_LIMIT]
    if order.rejected_snapshot == text:
        return
    ctx.input(
        BrokerReportRejected(
            ts=ctx.now,
            client_order_id=order.client_order_id,
            reason="UNPARSEABLE_BROKER_PAYLOAD",
            detail=detail,
            raw=text,
        )
    )


def _foreign_order(ctx: Context, item: BrokerOrder | UnparseableOrder) -> int:
    book = ctx.engine.state.orders.orders
    if isinstance(item, UnparseableOrder):
        cid, oid = item.client_order_id, item.order_id
        if (cid and cid in book) or (oid or item.raw) in ctx.foreign_seen:
            return 0
        ctx.foreign_seen.add(oid or item.raw)
        ctx.input(
            ForeignActivitySeen(
                ts=ctx.now,
                kind="ORDER",
                symbol="",
                broker_order_id=oid,
                client_order_id=cid,
                side=None,
                qty=0,
                status=f"unparseable: {item.detail}"[:RAW_LIMIT],
            )
        )
        return 1
    if item.client_order_id in book or item.id in ctx.foreign_seen:
        return 0
    ctx.foreign_seen.add(item.id)
    ctx.input(
        ForeignActivitySeen(
            ts=ctx.now,
            kind="ORDER",
            symbol=item.symbol,
            broker_order_id=item.id,
            client_order_id=item.client_order_id,
            side=item.side,
            qty=item.qty or 0,
            status=item.status,
        )
    )
    return 1


def _position_differences(ctx: Context, held: list[BrokerPosition]) -> tuple[list[str], int]:
    """Symbols of ours whose quantities differ, and how many foreign positions were reported."""
    book = ctx.engine.state.positions
    broker = {p.symbol: p for p in held}
    ours = set(ctx.universe) | {s for s, p in book.positions.items() if p.traded}
    differ, foreign = [], 0
    for symbol in sorted(ours | broker.keys()):
        theirs = broker.get(symbol)
        if symbol not in ours:
            key = f"position:{symbol}:{theirs.qty if theirs else 0}"
            if theirs is not None and key not in ctx.foreign_seen:
                ctx.foreign_seen.add(key)
                ctx.input(
                    ForeignActivitySeen(
                        ts=ctx.now,
                        kind="POSITION",
                        symbol=symbol,
                        broker_order_id=None,
                        client_order_id=None,
                        side="long" if theirs.qty > 0 else "short",
                        qty=theirs.qty,
                        status="held",
                    )
                )
                foreign += 1
            continue
        if book.qty(symbol) != (theirs.qty if theirs else 0):
            differ.append(symbol)
    return differ, foreign


def reconcile(ctx: Context, run_id: str) -> ReconciliationCompleted:
    """The start-up reconciliation. Raises BrokerError when the broker cannot be read completely
    (the caller retries: trading must not start on half a picture)."""
    orders = sync_orders(ctx, report_foreign=True)
    if orders.failed:
        raise BrokerError("TRANSIENT_NETWORK", "unexpected", f"{orders.failed} order lookup(s) failed")
    differ, foreign = _position_differences(ctx, ctx.broker.positions())
    if differ:  # fills may have landed between the order reads and the position read: look once more
        sync_orders(ctx, report_foreign=False)
        held = ctx.broker.positions()
        differ, more = _position_differences(ctx, held)
        foreign += more
        by_symbol = {p.symbol: p for p in held}
        positions = ctx.engine.state.positions
        for symbol in differ:
            theirs = by_symbol.get(symbol)
            mine, qty = positions.qty(symbol), theirs.qty if theirs else 0
            ctx.input(
                ReconciliationMismatch(
                    ts=ctx.now,
                    kind="POSITION_QTY",
                    symbol=symbol,
                    client_order_id=None,
                    journal_qty=mine,
                    broker_qty=qty,
                    broker_avg_price=theirs.avg_entry_price if theirs else 0,
                    detail=f"{symbol}: journal {exact(mine)}, broker {exact(qty)}",
                )
            )
    done = ReconciliationCompleted(
        ts=ctx.now,
        run_id=run_id,
        orders_checked=orders.checked,
        orders_found=orders.found,
        orders_not_found=orders.not_found,
        positions_checked=len(set(ctx.universe) | {p for p, _ in ctx.engine.state.positions.traded()}),
        mismatches=len(differ),
        foreign=orders.foreign + foreign,
    )
    ctx.input(done)
    return done
