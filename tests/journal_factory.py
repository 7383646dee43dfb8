"""Real journals for projection/verify/query tests, written with JournalWriter."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from engine.journal import JournalWriter
from journal_schema.events import (
    BarClosed,
    Event,
    OrderAccepted,
    OrderFilled,
    OrderIntentCreated,
    OrderPartiallyFilled,
    OrderSubmitRequested,
    SessionOpened,
)
from journal_schema.units import SCALE, to_fixed

T0 = 1_704_200_400_000_000_000  # 2024-01-02T13:00:00Z (ns)
MIN = 60_000_000_000
USD = SCALE
SHARES = SCALE


def px(text: str) -> int:
    return to_fixed(text)


def write_journal(path: Path, groups: Sequence[Sequence[Event]]) -> Path:
    with JournalWriter(path) as writer:
        for group in groups:
            writer.append(group)
        writer.flush()
    return path


def bar(minute: int, symbol: str, close: str) -> BarClosed:
    c = px(close)
    return BarClosed(ts=T0 + minute * MIN, symbol=symbol, open=c, high=c, low=c, close=c, volume=1000 * SHARES)


def submit(minute: int, cid: str, symbol: str, side: str, qty: int, *, limit: str | None = None) -> list[Event]:
    """The intent and its submit request: two records, as the core derives them."""
    common = dict(
        ts=T0 + minute * MIN,
        cause_seq=1,
        client_order_id=cid,
        intent_id=f"int-{cid}",
        symbol=symbol,
        side=side,
        qty=qty * SHARES,
        order_type="market" if limit is None else "limit",
        limit_price=None if limit is None else px(limit),
        time_in_force="day",
    )
    return [OrderIntentCreated(decision_id=f"dec-{cid}", **common), OrderSubmitRequested(**common)]  # type: ignore[arg-type]


def accepted(minute: int, cid: str) -> OrderAccepted:
    return OrderAccepted(ts=T0 + minute * MIN, client_order_id=cid, broker_order_id=f"b-{cid}")


def fill(minute: int, cid: str, qty: int, price: str, fee: str, *, cum: int, leaves: int) -> Event:
    cls = OrderFilled if leaves == 0 else OrderPartiallyFilled
    return cls(
        ts=T0 + minute * MIN,
        client_order_id=cid,
        fill_id=f"f-{cid}-{cum}",
        fill_qty=qty * SHARES,
        fill_price=px(price),
        fee=px(fee),
        cum_qty=cum * SHARES,
        leaves_qty=leaves * SHARES,
    )


def trading_day() -> list[list[Event]]:
    """The reference scenario (sequence numbers in comments; a submit is an intent and a request).

    AAPL: bar 9.90; buy 100 filled @ 10.00 (fee 1.00); sell 40 in two fills @ 12.00
    (fees 0.30 + 0.20); last bar 11.00 -> realized 80.00, unrealized 60.00, fees 1.50.
    MSFT: bar 300.00 *before* any MSFT order; short 10 @ 301.00 (fee 0.25), no later bar
    -> marked to 300.00: unrealized 10.00.
    """
    session = SessionOpened(ts=T0, session="2024-01-02", close_ts=T0 + 390 * MIN, calendar="XNYS")
    return [
        [session],  # 1
        [bar(1, "AAPL", "9.90")],  # 2
        submit(1, "c-buy", "AAPL", "buy", 100),  # 3-4
        [accepted(2, "c-buy")],  # 5
        [fill(2, "c-buy", 100, "10.00", "1.00", cum=100, leaves=0)],  # 6
        [bar(3, "MSFT", "300.00")],  # 7
        submit(3, "c-sell", "AAPL", "sell", 40, limit="12.00"),  # 8-9
        [accepted(4, "c-sell")],  # 10
        [fill(4, "c-sell", 25, "12.00", "0.30", cum=25, leaves=15)],  # 11
        [fill(5, "c-sell", 15, "12.00", "0.20", cum=40, leaves=0)],  # 12
        submit(5, "c-short", "MSFT", "sell", 10),  # 13-14
        [fill(6, "c-short", 10, "301.00", "0.25", cum=10, leaves=0)],  # 15
        [bar(7, "AAPL", "11.00")],  # 16
    ]
