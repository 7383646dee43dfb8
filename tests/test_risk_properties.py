"""Properties of the risk layer over random runs: random bars for 2-3 symbols, random targets,
operator inputs and broker answers, under a tight [risk] config.

(a) no submit request breaks max_trade_notional, the symbol weight cap or the gross / net caps
    (checked against books kept here from the inputs, not the core's);
(b) nothing is ordered from a KillSwitchEngaged until its KillSwitchReleased;
(c) while halted the only order messages are cancels;
(d) the same inputs into a fresh core derive byte-identical events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.core.state import CoreState
from engine.core.strategy import Target
from journal_schema.codec import encode
from journal_schema.events import (
    BarClosed,
    DecisionMade,
    Event,
    KillSwitchEngaged,
    KillSwitchReleased,
    OrderAccepted,
    OrderCanceled,
    OrderCancelRequested,
    OrderFilled,
    OrderIntentCreated,
    OrderPartiallyFilled,
    OrderRejected,
    OrderResubmitRequested,
    OrderSubmitRequested,
    SessionClosed,
    SessionOpened,
    TradingHalted,
    TradingResumed,
)
from journal_schema.risk_events import ReviewApproved, ShellErrorReported
from tests.risk_support import CLOSE, DAY, OPEN, Script, at, fold_over, label, scripted_spec
from tests.support import run_started

S = 100_000_000
CENT = S // 100
CAPITAL = 100_000
RISK: dict[str, Any] = {
    "capital": str(CAPITAL),
    "limits": {
        "max_trade_notional": "2000",
        "max_symbol_weight_pct": "3",
        "max_gross_exposure_pct": "6",
        "max_net_exposure_pct": "5",
        "max_daily_loss": "300",
        "on_daily_loss": "HALTED",
    },
    "pretrade": {"max_order_notional": "4000"},
    "policy": {"review_seconds": 180},
    "session": {"cancel_day_orders_at_close": True},
}
TRADE_CAP = 2000 * S  # 1e-8 USD
WEIGHT_CAP = CAPITAL * S * 3 // 100
GROSS_CAP = CAPITAL * S * 6 // 100
NET_CAP = CAPITAL * S * 5 // 100
ORDER_TYPES = (OrderIntentCreated, OrderSubmitRequested, OrderResubmitRequested)
SYMBOLS = ("AAA", "BBB", "CCC")
OPS = (None,) * 24 + ("kill", "kill_all", "release", "release", "approve", "shell", "session", "boom")


# --- a plan: everything random, drawn up front ---------------------------------------------------


@dataclass(frozen=True)
class Plan:
    symbols: tuple[str, ...]
    start: tuple[int, ...]  # first close per symbol, cents
    # per round: per symbol (move bp, volume, target, confidence %), and an operator input
    rounds: list[tuple[list[tuple[int, int, int | None, int]], str | None]]
    broker: list[str]  # answers to submits, used in turn


@st.composite
def plans(draw: Any) -> Plan:
    n = draw(st.integers(2, 3))
    per_symbol = st.tuples(
        st.integers(-400, 400),  # move, bp
        st.sampled_from([5, 200, 100_000, 100_000, 100_000]),  # volume, shares
        st.one_of(st.none(), st.integers(-90, 90), st.integers(-90, 90)),  # target, shares
        st.sampled_from([100, 100, 90, 50]),  # confidence, %
    )
    rounds = draw(
        st.lists(st.tuples(st.lists(per_symbol, min_size=n, max_size=n), st.sampled_from(OPS)), min_size=3, max_size=30)
    )
    start = tuple(draw(st.lists(st.integers(1500, 9000), min_size=n, max_size=n)))
    broker = draw(st.lists(st.sampled_from(["fill", "fill", "accept", "reject", "partial"]), min_size=1, max_size=12))
    return Plan(SYMBOLS[:n], start, rounds, broker)


# --- a small broker answering the core's requests ------------------------------------------------------


@dataclass
class Broker:
    answers: list[str]
    n: int = 0
    working: dict[str, list[Any]] = field(default_factory=dict)  # cid -> [symbol, side, qty, cum]

    def next(self) -> str:
        a = self.answers[self.n % len(self.answers)]
        self.n += 1
        return a

    def fill(self, cid: str, ts: int, qty: int, price: int) -> Event:
        w = self.working[cid]
        w[3] += qty
        cls = OrderFilled if w[3] == w[2] else OrderPartiallyFilled
        if w[3] == w[2]:
            del self.working[cid]
        return cls(
            ts=ts,
            client_order_id=cid,
            fill_id=f"f{self.n}-{cid}",
            fill_qty=qty,
            fill_price=price,
            fee=0,
            cum_qty=w[3],
            leaves_qty=w[2] - w[3],
        )

    def answer(self, d: Event, marks: dict[str, int]) -> list[Event]:
        if isinstance(d, OrderSubmitRequested):
            cid, ts = d.client_order_id, d.ts
            a = self.next()
            if a == "reject":
                return [OrderRejected(ts=ts, client_order_id=cid, reason="BROKER_REJECTED", detail="no")]
            self.working[cid] = [d.symbol, d.side, d.qty, 0]
            out: list[Event] = [OrderAccepted(ts=ts, client_order_id=cid, broker_order_id="b-" + cid)]
            if a == "fill":
                out.append(self.fill(cid, ts, d.qty, marks[d.symbol]))
            elif a == "partial" and d.qty >= 2 * S:
                out.append(self.fill(cid, ts, d.qty // S // 2 * S, marks[d.symbol]))
            return out
        if isinstance(d, OrderCancelRequested) and d.client_order_id in self.working:
            w = self.working.pop(d.client_order_id)
            return [
                OrderCanceled(ts=d.ts, client_order_id=d.client_order_id, canceled_qty=w[2] - w[3], reason="canceled")
            ]
        return []

    def on_bar(self, bar: BarClosed) -> list[Event]:
        """Working orders of the bar's symbol fill at its close when the next answer is a fill."""
        out: list[Event] = []
        for cid, w in list(self.working.items()):
            if w[0] == bar.symbol and self.next() == "fill":
                out.append(self.fill(cid, bar.ts, w[2] - w[3], bar.close))
        return out


# --- running a plan ---------------------------------------------------------------------------------------


def boom(bar: BarClosed) -> Target:
    raise ZeroDivisionError("division by zero")


def fresh(script: Script) -> CoreState:
    return CoreState(resolver=lambda name: scripted_spec(script))


def run_plan(plan: Plan) -> tuple[list[tuple[Event, list[Event]]], Script]:
    """Feed the plan; returns every (input, derived events) in order and the strategy's script."""
    script: Script = {}
    fed: list[Event] = []
    fold = fold_over(fed, lambda name: scripted_spec(script))
    broker = Broker(plan.broker)
    marks: dict[str, int] = {}
    timeline: list[tuple[Event, list[Event]]] = []
    reviews: list[str] = []

    def feed(ev: Event) -> None:
        """One input, then the broker's answers to what it derived (depth first)."""
        if isinstance(ev, BarClosed):
            for report in broker.on_bar(ev):  # fills the bar makes are reported before it
                feed(report)
            marks[ev.symbol] = ev.close
        fed.append(ev)
        derived = fold.apply(ev, len(fed))
        timeline.append((ev, derived))
        answers: list[Event] = []
        for d in derived:
            if isinstance(d, DecisionMade) and d.outcome == "REVIEW":
                reviews.append(d.decision_id)
            answers += broker.answer(d, marks)
        for a in answers:
            feed(a)

    feed(run_started({"risk": RISK}, list(plan.symbols)))
    day, k = 0, 0
    feed(SessionOpened(ts=OPEN, session=label(0), close_ts=CLOSE, calendar="X"))
    cents = list(plan.start)
    for i, (per_symbol, op) in enumerate(plan.rounds):
        k += 1
        ts = at(k, day)
        for j, (move, volume, target, conf) in enumerate(per_symbol):
            sym = plan.symbols[j]
            cents[j] = max(100, cents[j] + cents[j] * move // 10_000)
            if op == "boom" and j == 0:
                script[(sym, ts)] = boom
            elif target is not None:
                script[(sym, ts)] = Target((target > 0) - (target < 0), target * S, {}, confidence=conf * S // 100)
            c = cents[j] * CENT
            feed(BarClosed(ts=ts, symbol=sym, open=c, high=c, low=c, close=c, volume=volume * S))
        t = ts + 1
        if op == "kill":
            feed(KillSwitchEngaged(ts=t, reason="r", actor="ops", cancel_all=False, command_id=f"k{i}"))
        elif op == "kill_all":
            feed(KillSwitchEngaged(ts=t, reason="r", actor="ops", cancel_all=True, command_id=f"k{i}"))
        elif op == "release":
            feed(KillSwitchReleased(ts=t, reason="r", actor="ops", command_id=f"r{i}"))
        elif op == "approve":
            did = reviews[-1] if reviews else "dec-unknown"
            feed(ReviewApproved(ts=t, decision_id=did, actor="ops", reason="ok", command_id=f"a{i}"))
        elif op == "shell":
            feed(
                ShellErrorReported(
                    ts=t,
                    dependency="BROKER_READS",
                    category="UNKNOWN",
                    action="HALT_TRADING",
                    error_type="X",
                    detail="?",
                )
            )
        elif op == "session":
            feed(SessionClosed(ts=CLOSE + day * DAY, session=label(day), calendar="X"))
            day, k = day + 1, 0
            feed(SessionOpened(ts=OPEN + day * DAY, session=label(day), close_ts=CLOSE + day * DAY, calendar="X"))
    return timeline, script


SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- (a) the caps ----------------------------------------------------------------------------------------


@dataclass
class Books:
    """Positions, working quantities and marks rebuilt from the inputs and requests alone."""

    pos: dict[str, int] = field(default_factory=dict)
    orders: dict[str, list[Any]] = field(default_factory=dict)  # cid -> [symbol, signed leaves]
    marks: dict[str, int] = field(default_factory=dict)

    def projected(self, symbol: str) -> int:
        return self.pos.get(symbol, 0) + sum(q for s, q in self.orders.values() if s == symbol)

    def value(self, symbol: str, qty: int | None = None) -> int:
        q = self.projected(symbol) if qty is None else qty
        v, r = divmod(q * self.marks.get(symbol, 0), S)
        assert r == 0  # whole shares at whole cents: exact
        return v

    def apply(self, ev: Event) -> None:
        if isinstance(ev, BarClosed):
            self.marks[ev.symbol] = ev.close
        elif isinstance(ev, OrderSubmitRequested):
            self.orders[ev.client_order_id] = [ev.symbol, ev.qty if ev.side == "buy" else -ev.qty]
        elif isinstance(ev, (OrderFilled, OrderPartiallyFilled)):
            o = self.orders[ev.client_order_id]
            signed = ev.fill_qty if o[1] > 0 else -ev.fill_qty
            self.pos[o[0]] = self.pos.get(o[0], 0) + signed
            o[1] -= signed
        if isinstance(ev, (OrderFilled, OrderCanceled, OrderRejected)):
            self.orders.pop(ev.client_order_id, None)


def check_caps(timeline: list[tuple[Event, list[Event]]]) -> int:
    books = Books()
    checked = 0
    for ev, derived in timeline:
        books.apply(ev)
        for d in derived:
            if not isinstance(d, OrderSubmitRequested):
                continue
            sym, price = d.symbol, books.marks[d.symbol]
            assert d.qty > 0 and d.qty % S == 0, d  # whole shares
            assert d.qty * price // S <= 4000 * S, d  # max_order_notional (any order)
            before = books.projected(sym)
            after = before + (d.qty if d.side == "buy" else -d.qty)
            if before == 0 or (before > 0) != (after > 0):
                increase = after  # from flat, or the far side of a flip
            elif abs(after) > abs(before):
                increase = after - before
            else:
                increase = 0
            if increase:
                checked += 1
                assert abs(increase) * price // S <= TRADE_CAP, (d, before, after)
                assert abs(after) * price // S <= WEIGHT_CAP, (d, before, after)
                others = [books.value(s) for s in books.marks if s != sym]
                mine = books.value(sym, after)
                assert abs(mine) + sum(abs(v) for v in others) <= GROSS_CAP, (d, before, after, others)
                sign = 1 if increase > 0 else -1
                assert sign * (mine + sum(others)) <= NET_CAP, (d, before, after, others)
            if before == 0 or (before > 0) == (after > 0) and abs(after) > abs(before):
                assert d.qty * price // S <= TRADE_CAP, d  # an order that only adds risk: its notional
            books.apply(d)
    return checked


@SETTINGS
@given(plans())
def test_no_submit_request_breaks_the_trade_weight_gross_or_net_caps(plan: Plan) -> None:
    timeline, _ = run_plan(plan)
    check_caps(timeline)


def test_the_cap_property_sees_risk_adding_orders() -> None:
    """The random runs do send orders that add risk (the property above is not vacuous)."""
    plan = Plan(
        ("AAA", "BBB"),
        (5000, 5000),
        [([(0, 100_000, 30 * (i + 1), 100), (0, 100_000, -30 * (i + 1), 100)], None) for i in range(6)],
        ["fill"],
    )
    timeline, _ = run_plan(plan)
    assert check_caps(timeline) >= 4
    reasons = {c for _, derived in timeline for d in derived if isinstance(d, DecisionMade) for c in d.reason_codes}
    assert {"CLIPPED_TRADE_SIZE", "CLIPPED_SYMBOL_WEIGHT"} <= reasons or "SYMBOL_WEIGHT_LIMIT" in reasons, reasons


# --- (b) kill switch, (c) halts ------------------------------------------------------------------------------


@SETTINGS
@given(plans())
def test_nothing_is_ordered_while_the_kill_switch_is_on_or_trading_is_halted(plan: Plan) -> None:
    timeline, _ = run_plan(plan)
    killed = halted = False
    for ev, derived in timeline:
        if isinstance(ev, KillSwitchEngaged):
            killed = True
        elif isinstance(ev, KillSwitchReleased):
            killed = False
        for d in derived:
            if isinstance(d, TradingHalted):
                halted = True
            elif isinstance(d, TradingResumed) and d.reason in ("OPERATOR_RESUMED", "RECONCILED"):
                halted = False
            if killed:
                assert not isinstance(d, ORDER_TYPES), (ev, d)
            if halted:  # cancels only
                assert not isinstance(d, ORDER_TYPES), (ev, d)


# --- (d) replay ------------------------------------------------------------------------------------------------


@SETTINGS
@given(plans())
def test_replaying_the_inputs_derives_byte_identical_events(plan: Plan) -> None:
    timeline, script = run_plan(plan)
    fed: list[Event] = []
    fold = fold_over(fed, lambda name: scripted_spec(script))
    for seq, (ev, derived) in enumerate(timeline, 1):
        fed.append(ev)
        again = fold.apply(ev, seq)
        assert [encode(e) for e in again] == [encode(e) for e in derived], (seq, ev)
