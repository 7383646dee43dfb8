"""The order state machine under random report sequences (hypothesis stateful testing).

The model below is written from the lifecycle in the issue, independently of the table in
engine/core/orders.py: NEW -> SUBMIT_REQUESTED -> ACCEPTED -> PARTIALLY_FILLED* -> one terminal
status. Every report is checked against the model's expectation (applied, refused with a
reason, or an invariant violation), and the books are checked after every step.
"""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule

from engine.core.orders import STATUSES, TERMINAL_STATUSES, OrderBook, OrderViolation, ReportRefused, apply_report
from engine.core.positions import PositionBook
from journal_schema.events import (
    Event,
    OrderAccepted,
    OrderCanceled,
    OrderExpired,
    OrderFilled,
    OrderIntentCreated,
    OrderPartiallyFilled,
    OrderRejected,
    OrderReplaced,
    OrderSubmitRequested,
)
from journal_schema.live_events import (
    OrderNotFoundAtBroker,
    OrderSubmitFailed,
    OrderSubmitUncertain,
)

S = 100_000_000
KINDS = (
    "accepted",
    "partial",
    "filled",
    "canceled",
    "expired",
    "rejected",
    "replaced",
    "failed",
    "uncertain",
    "not_found",
)
# The lifecycle, as the issue draws it: which report each open status may take, and where it leads.
MODEL = {
    "SUBMIT_REQUESTED": {
        "accepted": "ACCEPTED",
        "partial": "PARTIALLY_FILLED",
        "filled": "FILLED",
        "canceled": "CANCELED",
        "expired": "EXPIRED",
        "rejected": "REJECTED",
        "failed": "FAILED",
        "uncertain": "SUBMIT_REQUESTED",
        "not_found": "SUBMIT_REQUESTED",
    },
    "ACCEPTED": {
        "partial": "PARTIALLY_FILLED",
        "filled": "FILLED",
        "canceled": "CANCELED",
        "expired": "EXPIRED",
        "rejected": "REJECTED",
        "replaced": "REPLACED",
    },
    "PARTIALLY_FILLED": {
        "partial": "PARTIALLY_FILLED",
        "filled": "FILLED",
        "canceled": "CANCELED",
        "expired": "EXPIRED",
        "replaced": "REPLACED",
    },
}


def report(kind: str, cid: str, ts: int, fill_qty: int, cum: int, leaves: int) -> Event:
    if kind in ("partial", "filled"):
        cls = OrderFilled if kind == "filled" else OrderPartiallyFilled
        return cls(
            ts=ts,
            client_order_id=cid,
            fill_id=f"{cid}-{ts}",
            fill_qty=fill_qty,
            fill_price=10 * S,
            fee=0,
            cum_qty=cum,
            leaves_qty=leaves,
        )
    return {
        "accepted": lambda: OrderAccepted(ts=ts, client_order_id=cid, broker_order_id=f"b-{cid}"),
        "canceled": lambda: OrderCanceled(ts=ts, client_order_id=cid, canceled_qty=leaves, reason="x"),
        "expired": lambda: OrderExpired(ts=ts, client_order_id=cid, expired_qty=leaves, reason="x"),
        "rejected": lambda: OrderRejected(ts=ts, client_order_id=cid, reason="BROKER_REJECTED", detail="x"),
        "replaced": lambda: OrderReplaced(ts=ts, client_order_id=cid, replaced_by="b2"),
        "failed": lambda: OrderSubmitFailed(ts=ts, client_order_id=cid, category="AUTH", detail="x"),
        "uncertain": lambda: OrderSubmitUncertain(
            ts=ts, client_order_id=cid, attempt=1, category="TRANSIENT_NETWORK", detail="timeout"
        ),
        "not_found": lambda: OrderNotFoundAtBroker(ts=ts, client_order_id=cid),
    }[kind]()


class OrderLifecycle(RuleBasedStateMachine):
    cids = Bundle("cids")

    def __init__(self) -> None:
        super().__init__()
        self.book = OrderBook()
        self.positions = PositionBook()
        self.status: dict[str, str] = {}  # the model's view
        self.cum: dict[str, int] = {}
        self.side: dict[str, str] = {}
        self.ts = 0

    @rule(target=cids, qty=st.integers(1, 50), side=st.sampled_from(["buy", "sell"]))
    def new_order(self, qty: int, side: str) -> str:
        cid = f"c{len(self.status)}"
        self.ts += 1
        common = dict(
            ts=self.ts,
            cause_seq=1,
            client_order_id=cid,
            intent_id=f"i-{cid}",
            symbol="AAA",
            side=side,
            qty=qty * S,
            order_type="market",
            limit_price=None,
            time_in_force="day",
        )
        self.book.apply_derived(OrderIntentCreated(decision_id="d", **common))  # type: ignore[arg-type]
        assert self.book.orders[cid].status == "NEW"
        self.book.apply_derived(OrderSubmitRequested(**common))  # type: ignore[arg-type]
        self.status[cid], self.cum[cid], self.side[cid] = "SUBMIT_REQUESTED", 0, side
        return cid

    @rule(cid=cids, kind=st.sampled_from(KINDS), fill=st.integers(-1, 60), consistent=st.booleans())
    def send(self, cid: str, kind: str, fill: int, consistent: bool) -> None:
        order = self.book.orders[cid]
        qty, before = order.qty, self.status[cid]
        fill_qty = fill * S
        cum = self.cum[cid] + fill_qty
        leaves = qty - cum if consistent else qty - cum + S
        if kind == "filled" and consistent:
            leaves = 0 if cum == qty else qty - cum  # a final fill that does not complete is inconsistent
        self.ts += 1
        ev = report(kind, cid, self.ts, fill_qty, cum, leaves)
        expected = self._expect(before, kind, fill_qty, cum, leaves, qty)
        try:
            apply_report(self.book, self.positions, ev)
        except ReportRefused as refused:
            assert expected == ("refused", refused.code), (before, kind, expected)
        except OrderViolation as violation:
            assert expected == ("violation", violation.code), (before, kind, expected)
        else:
            assert expected[0] == "applied", (before, kind, expected)
            self.status[cid] = expected[1]
            if kind in ("partial", "filled"):
                self.cum[cid] = cum
        assert order.status == self.status[cid]

    @staticmethod
    def _expect(before: str, kind: str, fill_qty: int, cum: int, leaves: int, qty: int) -> tuple[str, str]:
        if before in TERMINAL_STATUSES:
            return "refused", "REPORT_AFTER_TERMINAL"
        nxt = MODEL[before].get(kind)
        if nxt is None:
            return "refused", "ILLEGAL_TRANSITION"
        if kind in ("partial", "filled"):
            if fill_qty <= 0 or cum > qty:
                return "violation", "OVERFILL"
            complete = cum == qty
            if leaves != qty - cum or (kind == "filled") != complete:
                return "refused", "INCONSISTENT_FILL"
        return "applied", nxt

    @invariant()
    def books_agree(self) -> None:
        for cid, order in self.book.orders.items():
            assert order.status in STATUSES
            assert 0 <= order.cum_qty <= order.qty
            assert (order.status == "FILLED") == (order.cum_qty == order.qty)
            is_open = order.status not in TERMINAL_STATUSES
            assert (cid in self.book.open_by_symbol.get("AAA", {})) == is_open
        signed = sum(o.cum_qty if o.side == "buy" else -o.cum_qty for o in self.book.orders.values())
        assert self.positions.qty("AAA") == signed
        working = sum(o.signed_leaves for o in self.book.orders.values() if o.status not in TERMINAL_STATUSES)
        assert self.book.open_qty("AAA") == working


TestOrderLifecycle = OrderLifecycle.TestCase
TestOrderLifecycle.settings = settings(max_examples=300, stateful_step_count=40, deadline=None)
