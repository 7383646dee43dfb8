"""TCA over a hand-built SQLite journal: every figure against hand arithmetic (to 0.01 bp)."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest

from engine.journal import JournalError
from journal_schema.events import (
    BarClosed,
    DecisionMade,
    Event,
    OrderCanceled,
    OrderCancelRequested,
    OrderIntentCreated,
    OrderRejected,
    OrderSubmitRequested,
    RunStarted,
    SignalGenerated,
)
from journal_schema.risk_events import OrderBlocked
from projections.tca import ORDER_COLUMNS, load_tca, tca_of_events
from projections.tca_report import tca_report
from tests.journal_factory import MIN, SHARES, T0, accepted, px, trading_day, write_journal
from tests.journal_factory import fill as plain_fill

H = "0" * 64
BP = 0.01  # tolerance of every bps figure
USD = 1e-9  # tolerance of every USD figure


def run_started(order_type: str = "limit") -> RunStarted:
    return RunStarted(
        ts=T0,
        run_id="run-t",
        code_version="t",
        config={"orders": {"type": order_type}, "strategy": {"name": "cfg"}},
        config_hash=H,
        schema_fingerprint=H,
        dataset_fingerprint=H,
        dataset="hand",
        universe=[],
        seed=0,
        mode="backtest",
    )


def bar(minute: int, symbol: str, open_: str, close: str) -> BarClosed:
    o, c = px(open_), px(close)
    return BarClosed(
        ts=T0 + minute * MIN, symbol=symbol, open=o, high=max(o, c), low=min(o, c), close=c, volume=1_000_000 * SHARES
    )


def decision(
    minute: int, symbol: str, key: str, outcome: str = "ACCEPTED", reasons: tuple[str, ...] = (), strategy: str = "momo"
) -> list[Event]:
    ts = T0 + minute * MIN
    signal = SignalGenerated(
        ts=ts,
        cause_seq=1,
        signal_id=f"sig-{key}",
        strategy=strategy,
        symbol=symbol,
        session="2024-01-02",
        direction=1,
        target_qty=SHARES,
        features={},
    )
    made = DecisionMade(
        ts=ts,
        cause_seq=1,
        decision_id=f"dec-{key}",
        signal_id=f"sig-{key}",
        symbol=symbol,
        outcome=outcome,
        reason_codes=list(reasons or ("SIGNAL_ACCEPTED",)),
        config_hash=H,
        position_qty=0,
        open_order_qty=0,
        target_qty=SHARES,
        order_qty=SHARES,
        approved_qty=SHARES,
        expires_ts=None,
        context=None,
    )
    return [signal, made]


def order(
    minute: int, symbol: str, cid: str, side: str, qty: int, *, limit: str | None = None, strategy: str = "momo"
) -> list[Event]:
    """Signal, accepted decision, intent and submit request: what the core derives from a bar."""
    common: dict[str, Any] = dict(
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
    return [
        *decision(minute, symbol, cid, strategy=strategy),
        OrderIntentCreated(decision_id=f"dec-{cid}", **common),
        OrderSubmitRequested(**common),
    ]


def quoted_fill(
    minute: int, cid: str, qty: int, price: str, fee: str, bid: str, ask: str, *, cum: int, leaves: int
) -> Event:
    f = plain_fill(minute, cid, qty, price, fee, cum=cum, leaves=leaves)
    return type(f)(**{**{k: getattr(f, k) for k in f.__struct_fields__}, "bid": px(bid), "ask": px(ask)})


def scenario() -> list[list[Event]]:
    """Six orders (sequence numbers on the left) and four blocks, all on 2024-01-02."""
    return [
        [run_started()],  # 1
        # c-buy: AAPL buy 100 market; decided at close 10.00; two quoted fills
        [bar(1, "AAPL", "9.95", "10.00"), *order(1, "AAPL", "c-buy", "buy", 100)],  # 2-6
        [accepted(1, "c-buy")],  # 7
        [quoted_fill(2, "c-buy", 60, "10.06", "0.30", "10.00", "10.04", cum=60, leaves=40)],  # 8 before its bar
        [bar(2, "AAPL", "10.01", "10.10")],  # 9 arrival bar
        [quoted_fill(3, "c-buy", 40, "10.08", "0.20", "10.04", "10.08", cum=100, leaves=0)],  # 10 terminal
        [bar(3, "AAPL", "10.06", "10.12")],  # 11 same ts as 10
        # c-sell: MSFT sell 50 market at close 200.00; 30 filled, the rest canceled
        [bar(4, "MSFT", "200.00", "200.00"), *order(4, "MSFT", "c-sell", "sell", 50)],  # 12-16
        [accepted(4, "c-sell")],  # 17
        [quoted_fill(5, "c-sell", 20, "199.80", "0.10", "199.84", "200.00", cum=20, leaves=30)],  # 18
        [bar(5, "MSFT", "199.90", "199.70")],  # 19 arrival bar
        [quoted_fill(6, "c-sell", 10, "199.60", "0.05", "199.60", "199.70", cum=30, leaves=20)],  # 20
        [bar(6, "MSFT", "199.65", "199.50")],  # 21
        [OrderCancelRequested(ts=T0 + 7 * MIN, cause_seq=21, client_order_id="c-sell", reason="OPPOSITE_SIGNAL")],  # 22
        [OrderCanceled(ts=T0 + 7 * MIN, client_order_id="c-sell", canceled_qty=20 * SHARES, reason="asked")],  # 23
        [bar(8, "MSFT", "199.00", "198.00")],  # 24 after the cancel
        # c-rej: IBM buy 10 limit 149 at close 150.00; rejected after the next bar
        [bar(9, "IBM", "150.00", "150.00"), *order(9, "IBM", "c-rej", "buy", 10, limit="149", strategy="rev")],  # 25-29
        [bar(10, "IBM", "151.00", "152.00")],  # 30 arrival bar
        [OrderRejected(ts=T0 + 11 * MIN, client_order_id="c-rej", reason="BROKER_REJECTED", detail="no")],  # 31
        # c-nq: AMZN sell 10 limit 49.50 at close 50.00; filled two bars later, no quote (a real broker)
        [bar(12, "AMZN", "50.00", "50.00"), *order(12, "AMZN", "c-nq", "sell", 10, limit="49.50", strategy="rev")],
        [bar(13, "AMZN", "49.80", "49.60")],  # arrival bar
        [plain_fill(14, "c-nq", 10, "49.50", "0", cum=10, leaves=0)],
        [bar(14, "AMZN", "49.55", "49.40")],
        # c-open: GOOG buy 5 at close 100.00, never filled, no later GOOG bar
        [bar(15, "GOOG", "100.00", "100.00"), *order(15, "GOOG", "c-open", "buy", 5)],
        [accepted(15, "c-open")],
        # blocks: a skip, a rejection with two reasons, a pre-trade block of an accepted decision
        [bar(16, "IBM", "152.00", "152.00"), *decision(16, "IBM", "x", "SKIPPED", ("COST_GATE_BLOCK",))],
        [
            bar(17, "MSFT", "198.00", "198.00"),
            *decision(17, "MSFT", "y", "REJECTED", ("LOW_LIQUIDITY", "HIGH_CORRELATION"), strategy="rev"),
        ],
        [
            bar(18, "AAPL", "10.20", "10.20"),
            *decision(18, "AAPL", "z"),
            OrderBlocked(
                ts=T0 + 18 * MIN,
                cause_seq=1,
                decision_id="dec-z",
                client_order_id="c-blk",
                symbol="AAPL",
                side="buy",
                qty=SHARES,
                limit_price=None,
                reason="ORDER_SIZE_BLOCK",
                detail="too big",
            ),
        ],
    ]


@pytest.fixture
def tca(tmp_path):
    return load_tca(write_journal(tmp_path / "j.db", scenario()))


def row(tca, cid: str) -> dict[str, Any]:
    (found,) = tca.orders.filter(pl.col("client_order_id") == cid).to_dicts()
    return found


def assert_costs(r: dict[str, Any], usd: dict[str, float], bps: dict[str, float]) -> None:
    for name, value in usd.items():
        assert r[f"{name}_usd"] == pytest.approx(value, abs=USD), name
    for name, value in bps.items():
        assert r[f"{name}_bps"] == pytest.approx(value, abs=BP), name


def test_orders_frame_has_one_row_per_submitted_order_with_the_documented_columns(tca):
    assert tca.orders.columns == list(ORDER_COLUMNS)
    assert tca.orders["client_order_id"].to_list() == ["c-buy", "c-sell", "c-rej", "c-nq", "c-open"]
    assert tca.orders["status"].to_list() == ["FILLED", "PARTIAL_CANCELED", "REJECTED", "FILLED", "OPEN"]
    assert tca.orders["strategy"].to_list() == ["momo", "momo", "rev", "rev", "momo"]
    assert set(tca.orders["day"]) == {"2024-01-02"}
    assert tca.counts == {"decisions": 8, "rejects": 1, "cancels": 1, "expired": 0, "partial_orders": 2}


def test_buy_filled_above_the_decision_price_has_positive_shortfall(tca):
    r = row(tca, "c-buy")
    # P_d = 10.00 (close of seq 2); P_a = mid of the first fill (10.00 + 10.04) / 2 = 10.02: that fill is
    # stamped at the arrival bar's ts (seq 9; journaled before it, as the paper broker does)
    # V = (60 x 10.06 + 40 x 10.08) / 100 = 10.068; fees 0.30 + 0.20 = 0.50; notional 100 x 10.00 = 1,000
    assert (r["decision_price"], r["arrival_price"], r["arrival_source"], r["arrival_is_proxy"]) == (
        10.0,
        pytest.approx(10.02),
        "QUOTE_MID",
        False,
    )
    assert r["fill_vwap"] == pytest.approx(10.068)
    assert r["end_price"] == pytest.approx(10.12)  # bar at the final fill's ts, journaled after it
    # delay = (10.02 - 10.00) x 100 = 2.00 -> 20 bp; execution = (10.068 - 10.02) x 100 = 4.80 -> 48 bp
    # fees 0.50 -> 5 bp; opportunity 0 (all filled); IS = 7.30 -> 73 bp
    assert_costs(
        r,
        {"delay": 2.0, "execution": 4.8, "fees": 0.5, "opportunity": 0.0, "is": 7.3},
        {"delay": 20.0, "execution": 48.0, "fees": 5.0, "opportunity": 0.0, "is": 73.0},
    )
    # spread paid: ((10.06 - 10.02) x 60 + (10.08 - 10.06) x 40) / (10.02 x 60 + 10.06 x 40)
    #            = 3.2 / 1003.6 x 10,000 = 31.8852 bp
    assert r["spread_paid_bps"] == pytest.approx(31.8852, abs=BP)
    assert (r["qty"], r["filled_qty"], r["n_fills"], r["partial"], r["notional"]) == (100.0, 100.0, 2, True, 1000.0)
    assert (r["fill_latency_ns"], r["last_fill_latency_ns"]) == (MIN, 2 * MIN)
    assert (r["decision_seq"], r["submit_ts"], r["decision_source"]) == (4, T0 + MIN, "BAR_CLOSE")


def test_sell_filled_below_the_decision_price_has_positive_shortfall_and_opportunity_cost(tca):
    r = row(tca, "c-sell")
    # s = -1; P_d = 200.00; P_a = (199.84 + 200.00) / 2 = 199.92; V = (20 x 199.80 + 10 x 199.60) / 30
    # = 5,992 / 30 = 199.7333; P_e = 199.50 (last MSFT close at or before the cancel; 198.00 comes after)
    # fees 0.15; notional 50 x 200 = 10,000
    assert r["arrival_price"] == pytest.approx(199.92) and r["arrival_source"] == "QUOTE_MID"
    assert (r["end_price"], r["status"], r["cancel_requests"]) == (199.5, "PARTIAL_CANCELED", 1)
    # delay = -(199.92 - 200) x 30 = 2.40 -> 2.4 bp; execution = -(199.7333 - 199.92) x 30 = 5.60 -> 5.6 bp
    # opportunity = -(199.50 - 200.00) x 20 unfilled = 10.00 -> 10 bp; IS = 2.4 + 5.6 + 0.15 + 10 = 18.15
    assert_costs(
        r,
        {"delay": 2.4, "execution": 5.6, "fees": 0.15, "opportunity": 10.0, "is": 18.15},
        {"delay": 2.4, "execution": 5.6, "fees": 0.15, "opportunity": 10.0, "is": 18.15},
    )
    # spread paid: (-(199.80 - 199.92) x 20 + -(199.60 - 199.65) x 10) / (199.92 x 20 + 199.65 x 10)
    #            = 2.9 / 5,994.9 x 10,000 = 4.8374 bp
    assert r["spread_paid_bps"] == pytest.approx(4.8374, abs=BP)
    assert (r["filled_qty"], r["partial"]) == (30.0, True)


def test_rejected_order_pays_only_the_opportunity_cost_to_its_end_price(tca):
    r = row(tca, "c-rej")
    # nothing filled: delay = execution = 0; P_e = 152.00 (IBM close before the rejection at minute 11)
    # opportunity = (152 - 150) x 10 = 20.00 of notional 1,500 -> 133.33 bp
    assert (r["arrival_source"], r["arrival_price"], r["arrival_is_proxy"]) == ("NEXT_BAR_OPEN", 151.0, True)
    assert (r["fill_vwap"], r["spread_paid_bps"], r["fill_latency_ns"], r["n_fills"]) == (None, None, None, 0)
    assert_costs(
        r,
        {"delay": 0.0, "execution": 0.0, "fees": 0.0, "opportunity": 20.0, "is": 20.0},
        {"opportunity": 133.3333, "is": 133.3333},
    )


def test_fill_without_a_quote_uses_the_next_bar_open_as_a_proxy(tca):
    r = row(tca, "c-nq")
    # sell: P_d = 50.00, P_a = 49.80 (open of the first AMZN bar after the request), V = 49.50
    # delay = -(49.80 - 50.00) x 10 = 2.00 -> 40 bp; execution = -(49.50 - 49.80) x 10 = 3.00 -> 60 bp
    assert (r["arrival_source"], r["arrival_is_proxy"], r["spread_paid_bps"]) == ("NEXT_BAR_OPEN", True, None)
    assert_costs(r, {"delay": 2.0, "execution": 3.0, "is": 5.0}, {"delay": 40.0, "execution": 60.0, "is": 100.0})
    assert (r["partial"], r["fill_latency_ns"], r["order_type"]) == (False, 2 * MIN, "limit")


def test_open_order_without_a_later_bar_uses_the_decision_price(tca):
    r = row(tca, "c-open")
    assert (r["status"], r["arrival_source"], r["arrival_price"], r["arrival_is_proxy"]) == (
        "OPEN",
        "DECISION_PRICE",
        100.0,
        True,
    )
    assert (r["end_price"], r["is_bps"], r["filled_qty"]) == (100.0, 0.0, 0.0)


def test_blocks_have_one_row_per_reason_and_per_pre_trade_block(tca):
    b = tca.blocks.select("seq", "symbol", "strategy", "order_type", "gate", "reason", "outcome", "day")
    assert b.rows() == [
        (48, "IBM", "momo", "limit", "COST", "COST_GATE_BLOCK", "SKIPPED", "2024-01-02"),
        (51, "MSFT", "rev", "limit", "POLICY", "LOW_LIQUIDITY", "REJECTED", "2024-01-02"),
        (51, "MSFT", "rev", "limit", "POLICY", "HIGH_CORRELATION", "REJECTED", "2024-01-02"),
        (55, "AAPL", "momo", "limit", "PRE_TRADE", "ORDER_SIZE_BLOCK", "BLOCKED", "2024-01-02"),
    ]  # the order type is the configured one (RunStarted: orders.type = "limit")


def test_at_gives_the_tca_as_of_a_sequence_number(tmp_path):
    tca = load_tca(write_journal(tmp_path / "j.db", scenario()), at=8)  # after the first fill of c-buy
    (r,) = tca.orders.to_dicts()
    # the arrival bar is not journaled yet: P_a = P_d = 10.00 (DECISION_PRICE); q = 60 of 100
    # execution = (10.06 - 10.00) x 60 = 3.60; fees 0.30; opportunity = (10.00 - 10.00) x 40 = 0 -> IS 39 bp
    assert (r["status"], r["arrival_source"], r["filled_qty"]) == ("PARTIALLY_FILLED", "DECISION_PRICE", 60.0)
    assert_costs(r, {"delay": 0.0, "execution": 3.6, "opportunity": 0.0}, {"is": 39.0})
    assert tca.blocks.is_empty() and tca.counts["partial_orders"] == 1


def test_a_quote_at_a_later_bar_is_not_the_arrival_price_and_bar_order_within_a_ts_does_not_matter(tmp_path):
    groups = [
        [bar(1, "AAPL", "10.00", "10.00"), *order(1, "AAPL", "late", "buy", 10, limit="10.00")],
        [bar(1, "MSFT", "50.00", "50.00"), *order(1, "MSFT", "live", "sell", 10)],
        [bar(2, "AAPL", "10.30", "10.20")],  # arrival bar: the limit is not reached
        [bar(2, "MSFT", "49.00", "49.00")],  # arrival bar, journaled before the fill of its ts (a live broker)
        [quoted_fill(2, "live", 10, "48.90", "0", "48.90", "49.10", cum=10, leaves=0)],
        [quoted_fill(3, "late", 10, "10.00", "0", "9.98", "10.02", cum=10, leaves=0)],
        [bar(3, "AAPL", "10.00", "9.90")],
    ]
    tca = load_tca(write_journal(tmp_path / "j.db", groups))
    late, live = row(tca, "late"), row(tca, "live")
    assert (late["arrival_source"], late["arrival_price"]) == ("NEXT_BAR_OPEN", 10.3)
    assert late["spread_paid_bps"] == pytest.approx(0.0, abs=BP)  # filled at the mid 10.00
    # live: mid 49.00 at the arrival bar's ts; -(48.90 - 49.00) x 10 / (10 x 50.00) = 20 bp execution
    assert (live["arrival_source"], live["arrival_price"]) == ("QUOTE_MID", 49.0)
    assert_costs(live, {}, {"delay": 200.0, "execution": 20.0, "is": 220.0})


def test_old_journal_without_decisions_or_quotes(tmp_path):
    """journal_factory.trading_day(): no RunStarted, signals or decisions; fills carry no bid/ask."""
    tca = load_tca(write_journal(tmp_path / "j.db", trading_day()))
    buy = row(tca, "c-buy")
    # P_d = 9.90, the last AAPL close before the submit request; V = 10.00, fee 1.00
    # IS = (10.00 - 9.90) x 100 + 1.00 = 11.00 of notional 990 -> 111.11 bp, whatever the arrival price
    assert (buy["strategy"], buy["day"], buy["decision_seq"], buy["decision_price"]) == (None, "2024-01-02", None, 9.9)
    assert (buy["arrival_source"], buy["spread_paid_bps"]) == ("NEXT_BAR_OPEN", None)
    assert buy["is_bps"] == pytest.approx(111.1111, abs=BP)
    short = row(tca, "c-short")  # MSFT: no bar after the request
    assert (short["arrival_source"], short["decision_price"], short["end_price"]) == ("DECISION_PRICE", 300.0, 300.0)
    assert tca.blocks.is_empty()


def test_report_aggregates_per_group_with_a_total_row(tca):
    report = tca_report(tca, "strategy")
    assert report["strategy"].to_list() == ["momo", "rev", "TOTAL"]
    total = report.row(2, named=True)
    # orders 5, filled 2 (c-buy, c-nq); fill_rate = (100 + 30 + 0 + 10 + 0) / (100 + 50 + 10 + 10 + 5) = 0.8
    # notional 1,000 + 10,000 + 1,500 + 500 + 500 = 13,500; IS USD 7.30 + 18.15 + 20 + 5 + 0 = 50.45
    assert (total["orders"], total["filled_orders"], total["partial_orders"], total["rejects"], total["cancels"]) == (
        5,
        2,
        2,
        1,
        1,
    )
    assert total["fill_rate"] == pytest.approx(0.8) and total["notional"] == pytest.approx(13_500)
    assert total["is_bps_wmean"] == pytest.approx(50.45 / 13_500 * 10_000, abs=BP)  # 37.37 bp
    # is_bps: 73, 18.15, 133.33, 100, 0 -> mean 64.90, median 73
    assert total["is_bps_mean"] == pytest.approx((73 + 18.15 + 133.3333 + 100 + 0) / 5, abs=BP)
    assert total["is_bps_p50"] == pytest.approx(73.0, abs=BP)
    assert {k: v for k, v in total.items() if k.startswith("blocked_")} == {
        "blocked_COST_GATE_BLOCK": 1,
        "blocked_HIGH_CORRELATION": 1,
        "blocked_LOW_LIQUIDITY": 1,
        "blocked_ORDER_SIZE_BLOCK": 1,
    }
    rev = report.row(1, named=True)
    assert (rev["orders"], rev["blocked_LOW_LIQUIDITY"], rev["blocked_COST_GATE_BLOCK"]) == (2, 1, 0)


def test_skips_no_control_imposed_are_not_blocks():
    events = [
        run_started(),
        *decision(1, "IBM", "a", "SKIPPED", ("ALREADY_AT_TARGET",)),
        *decision(2, "IBM", "b", "SKIPPED", ("OPPOSITE_ORDER_CANCEL_REQUESTED",)),
        *decision(3, "IBM", "c", "SKIPPED", ("KILL_SWITCH_ENGAGED",)),
    ]
    tca = tca_of_events(enumerate(events, 1))
    assert tca.blocks["reason"].to_list() == ["KILL_SWITCH_ENGAGED"] and tca.counts["decisions"] == 3


def test_report_of_an_empty_journal_is_a_total_row_of_zeros(tmp_path):
    report = tca_report(tca_of_events([]), "day")
    assert report.rows(named=True) == [
        {
            **dict.fromkeys(report.columns),
            "day": "TOTAL",
            "orders": 0,
            "filled_orders": 0,
            "partial_orders": 0,
            "notional": 0.0,
            "rejects": 0,
            "cancels": 0,
        }
    ]


def test_unreadable_journal_is_a_projection_error(tmp_path):
    with pytest.raises(JournalError, match="journal not found"):
        load_tca(tmp_path / "missing.db")
