"""Orders, positions and P&L projections over real SQLite journals."""

import pytest

from engine.journal import JournalError, JournalWriter
from journal_schema.events import Event, OrderCanceled, OrderRejected, SessionOpened
from projections import Anomaly, build, fold
from tests.journal_factory import MIN, SHARES, T0, USD, accepted, bar, fill, px, submit, trading_day, write_journal


@pytest.fixture
def journal(tmp_path):
    return write_journal(tmp_path / "journal.db", trading_day())


def _by_symbol(rows):
    return {r.symbol: r for r in rows}


def test_pnl_buy_100_at_10_sell_40_at_12_marked_at_11(journal):
    pnl = build(journal).pnl
    aapl = _by_symbol(pnl.rows)["AAPL"]
    assert (aapl.realized, aapl.unrealized, aapl.fees) == (80 * USD, 60 * USD, px("1.50"))
    assert aapl.net == px("138.50")


def test_pnl_marks_a_position_opened_after_its_last_bar_to_that_close(journal):
    msft = _by_symbol(build(journal).pnl.rows)["MSFT"]
    # short 10 @ 301.00, last MSFT bar (before the order) closed at 300.00
    assert (msft.realized, msft.unrealized, msft.fees, msft.net) == (0, 10 * USD, px("0.25"), px("9.75"))


def test_pnl_total_row_sums_symbols(journal):
    pnl = build(journal).pnl
    assert [r.symbol for r in pnl.rows] == ["AAPL", "MSFT"]
    t = pnl.total
    assert (t.symbol, t.realized, t.unrealized, t.fees, t.net) == (
        "TOTAL",
        80 * USD,
        70 * USD,
        px("1.75"),
        px("148.25"),
    )


def test_positions(journal):
    snap = build(journal)
    assert snap.seq == 16
    aapl, msft = snap.positions
    assert (aapl.symbol, aapl.qty, aapl.avg_price, aapl.last_price, aapl.market_value) == (
        "AAPL",
        60 * SHARES,
        px("10"),
        px("11"),
        px("660"),
    )
    assert (aapl.unrealized, aapl.realized, aapl.fees) == (60 * USD, 80 * USD, px("1.50"))
    assert (msft.symbol, msft.qty, msft.avg_price, msft.last_price, msft.market_value) == (
        "MSFT",
        -10 * SHARES,
        px("301"),
        px("300"),
        px("-3000"),
    )


def test_orders_one_row_per_client_order_id_in_request_order(journal):
    rows = build(journal).orders
    assert [r.client_order_id for r in rows] == ["c-buy", "c-sell", "c-short"]
    buy, sell, short = rows
    assert (buy.symbol, buy.side, buy.qty, buy.order_type, buy.limit_price, buy.status) == (
        "AAPL",
        "buy",
        100 * SHARES,
        "market",
        None,
        "FILLED",
    )
    assert (buy.cum_qty, buy.avg_fill_price, buy.fees) == (100 * SHARES, px("10"), px("1"))
    assert (buy.requested_ts, buy.last_ts, buy.reason) == (T0 + MIN, T0 + 2 * MIN, None)
    assert (sell.order_type, sell.limit_price, sell.status, sell.cum_qty, sell.avg_fill_price, sell.fees) == (
        "limit",
        px("12"),
        "FILLED",
        40 * SHARES,
        px("12"),
        px("0.50"),
    )
    assert (short.side, short.status, short.avg_fill_price, short.last_ts) == (
        "sell",
        "FILLED",
        px("301"),
        T0 + 6 * MIN,
    )


def test_at_gives_state_as_of_that_sequence_number_inclusive(journal):
    after_buy = build(journal, at=6)
    assert after_buy.seq == 6
    assert [o.client_order_id for o in after_buy.orders] == ["c-buy"]
    (aapl,) = after_buy.positions
    # bought 100 @ 10.00, last close 9.90
    assert (aapl.qty, aapl.last_price, aapl.unrealized, aapl.realized, aapl.fees) == (
        100 * SHARES,
        px("9.90"),
        px("-10"),
        0,
        px("1"),
    )
    mid_sell = build(journal, at=11)
    sell = mid_sell.orders[1]
    assert (sell.status, sell.cum_qty, sell.fees) == ("PARTIALLY_FILLED", 25 * SHARES, px("0.30"))
    assert mid_sell.pnl.total.realized == 50 * USD  # 25 x (12 - 10)
    before_any_order = build(journal, at=2)
    assert (before_any_order.orders, before_any_order.positions, before_any_order.pnl.total.net) == ([], [], 0)


def test_unfilled_order_has_no_average_price_and_terminal_reasons_are_kept(tmp_path):
    path = write_journal(
        tmp_path / "j.db",
        [
            submit(1, "c1", "IBM", "buy", 5, limit="150.00"),
            [OrderRejected(ts=T0 + 2 * MIN, client_order_id="c1", reason="BROKER_REJECTED", detail="no")],
            submit(3, "c2", "IBM", "buy", 5),
            [accepted(4, "c2")],
            [OrderCanceled(ts=T0 + 5 * MIN, client_order_id="c2", canceled_qty=5 * SHARES, reason="operator")],
        ],
    )
    rejected, canceled = build(path).orders
    assert (rejected.status, rejected.reason, rejected.cum_qty, rejected.avg_fill_price) == (
        "REJECTED",
        "BROKER_REJECTED",
        0,
        None,
    )
    assert (canceled.status, canceled.reason, canceled.last_ts) == ("CANCELED", "operator", T0 + 5 * MIN)


def test_refused_reports_are_anomalies_and_do_not_change_positions(tmp_path):
    groups = trading_day() + [
        [fill(8, "c-ghost", 1, "10.00", "0", cum=1, leaves=0)],  # 17 unknown order
        [fill(8, "c-buy", 1, "10.00", "0", cum=101, leaves=0)],  # 18 after FILLED
        submit(9, "c-over", "AAPL", "buy", 5),  # 19-20
        [fill(9, "c-over", 6, "10.00", "0", cum=6, leaves=0)],  # 21 overfill
        [accepted(9, "c-over")],  # 22 accepted
        [accepted(9, "c-over")],  # 23 accepted twice
        [fill(9, "c-over", 2, "10.00", "0", cum=2, leaves=2)],  # 24 leaves do not add up
    ]
    snap = build(write_journal(tmp_path / "j.db", groups))
    assert [(a.seq, a.code) for a in snap.anomalies] == [
        (17, "UNKNOWN_ORDER_REPORT"),
        (18, "REPORT_AFTER_TERMINAL"),
        (21, "OVERFILL"),
        (23, "ILLEGAL_TRANSITION"),
        (24, "INCONSISTENT_FILL"),
    ]
    assert snap.anomalies[0] == Anomaly(17, "UNKNOWN_ORDER_REPORT", "OrderFilled for unknown client_order_id c-ghost")
    assert snap.pnl.total.net == px("148.25")
    over = snap.orders[-1]
    assert (over.status, over.cum_qty) == ("ACCEPTED", 0)


def test_fold_feeds_every_projection_every_event_in_order(journal):
    class Seen:
        def __init__(self) -> None:
            self.items: list[tuple[int, str]] = []

        def apply(self, seq: int, event: Event) -> None:
            self.items.append((seq, type(event).__name__))

    a, b = Seen(), Seen()
    assert fold(journal, [a, b], at=5) == 5
    assert (
        a.items
        == b.items
        == [
            (1, "SessionOpened"),
            (2, "BarClosed"),
            (3, "OrderIntentCreated"),
            (4, "OrderSubmitRequested"),
            (5, "OrderAccepted"),
        ]
    )


def test_fold_stops_at_the_head_seen_when_it_started(tmp_path):
    path = write_journal(tmp_path / "j.db", [[bar(1, "AAPL", "10")], [bar(2, "AAPL", "11")]])
    seen = []

    class AppendWhileReading:
        def apply(self, seq: int, event: Event) -> None:
            seen.append(seq)
            if seq == 1:
                with JournalWriter(path) as w:
                    w.append([bar(3, "AAPL", "12")])

    assert fold(path, [AppendWhileReading()]) == 2
    assert seen == [1, 2]
    assert build(path).seq == 3


def test_empty_journal(tmp_path):
    path = tmp_path / "empty.db"
    JournalWriter(path).close()
    snap = build(path)
    assert (snap.seq, snap.orders, snap.positions, snap.pnl.rows, snap.pnl.total.net) == (0, [], [], [], 0)


@pytest.mark.parametrize(
    ("at", "message"),
    [
        (0, "sequence number must be >= 1, got 0"),
        (-3, "sequence number must be >= 1, got -3"),
        (17, r"sequence number 17 is beyond the end of the journal \(last seq 16\)"),
    ],
)
def test_at_out_of_range(journal, at, message):
    with pytest.raises(JournalError, match=message):
        build(journal, at=at)


def test_missing_and_non_journal_files(tmp_path):
    with pytest.raises(JournalError, match="journal not found"):
        build(tmp_path / "missing.db")
    (tmp_path / "text.db").write_text("not a database at all, just some text" * 10)
    with pytest.raises(JournalError, match="is not a journal \\(not an SQLite database\\)"):
        build(tmp_path / "text.db")


def test_bar_then_session_events_do_not_create_positions(tmp_path):
    session = SessionOpened(ts=T0, session="2024-01-02", close_ts=T0 + MIN, calendar="XNYS")
    path = write_journal(tmp_path / "j.db", [[session], [bar(1, "AAPL", "10")]])
    snap = build(path)
    assert (snap.seq, snap.positions, snap.pnl.rows) == (2, [], [])
