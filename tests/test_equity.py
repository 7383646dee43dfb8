"""The equity projection (projections/equity.py) on small hand-built journals."""

from __future__ import annotations

import polars as pl
import pytest

from engine.journal import JournalError
from journal_schema.events import SessionClosed, SessionOpened
from projections import build
from projections.equity import SCHEMA, EquityCurve, capital_of, equity_frame
from projections.fold import fold
from tests.journal_factory import MIN, T0, USD, bar, fill, px, submit, trading_day, write_journal
from tests.support import run_started

CAPITAL = 1_000_000 * USD  # the default risk.capital of the config snapshot


def _closed(minute: int, session: str = "2024-01-02") -> SessionClosed:
    return SessionClosed(ts=T0 + minute * MIN, session=session, calendar="XNYS")


def _started() -> list[list]:
    return [[run_started()]]


def test_capital_comes_from_the_run_started_config():
    assert capital_of(run_started().config) == CAPITAL
    assert capital_of(run_started({"risk": {"capital": "250000.5"}}).config) == px("250000.5")
    assert capital_of({}) is None
    assert capital_of({"risk": {"capital": "lots"}}) is None


def test_one_row_per_session_close_with_equity_and_exposure(tmp_path):
    # trading_day: AAPL long 60 marked at 11.00, MSFT short 10 marked at 300.00; net P&L 148.25
    path = write_journal(tmp_path / "j.db", _started() + trading_day() + [[_closed(390)]])
    frame = equity_frame(path)
    assert frame.schema == pl.Schema(SCHEMA)
    assert frame.height == 1
    row = frame.row(0, named=True)
    assert row["day"] == "2024-01-02"
    assert row["capital"] == CAPITAL
    assert (row["realized"], row["unrealized"], row["fees"]) == (80 * USD, 70 * USD, px("1.75"))
    assert row["equity"] == CAPITAL + px("148.25")
    assert row["gross_exposure"] == px("660") + px("3000")
    assert row["net_exposure"] == px("660") - px("3000")
    assert (row["peak"], row["drawdown"]) == (row["equity"], 0.0)


def test_without_sessions_one_row_per_bar_timestamp_after_its_fills(tmp_path):
    groups = [g for g in _started() + trading_day() if not isinstance(g[0], SessionOpened)]
    frame = equity_frame(write_journal(tmp_path / "j.db", groups))
    assert frame["ts"].dt.epoch("ns").to_list() == [T0 + MIN, T0 + 3 * MIN, T0 + 7 * MIN]
    # minute 1: bought 100 @ 10.00 (fee 1.00) marked at 9.90; minute 3: 60 AAPL left (realized 80, fees 1.50)
    # still marked at 9.90, short 10 MSFT @ 301 marked at 300; minute 7: AAPL marked at 11.00
    assert frame["equity"].to_list() == [CAPITAL - 11 * USD, CAPITAL + px("82.25"), CAPITAL + px("148.25")]
    assert frame["gross_exposure"].to_list() == [px("990"), px("594") + px("3000"), px("660") + px("3000")]


def test_bars_of_one_timestamp_make_one_row(tmp_path):
    groups = _started() + [
        [bar(1, "AAPL", "10")],
        [bar(1, "MSFT", "20")],
        [bar(2, "AAPL", "11")],
        [bar(2, "MSFT", "21")],
    ]
    frame = equity_frame(write_journal(tmp_path / "j.db", groups))
    assert frame["ts"].dt.epoch("ns").to_list() == [T0 + MIN, T0 + 2 * MIN]


def test_drawdown_is_the_fraction_below_the_running_peak_and_never_positive(tmp_path):
    groups = _started() + [
        [bar(1, "AAPL", "10")],
        submit(1, "c1", "AAPL", "buy", 100),
        [fill(1, "c1", 100, "10", "0", cum=100, leaves=0)],
        [bar(2, "AAPL", "12")],
        [bar(3, "AAPL", "9")],
        [bar(4, "AAPL", "11")],
    ]
    frame = equity_frame(write_journal(tmp_path / "j.db", groups))
    assert frame["equity"].to_list() == [CAPITAL, CAPITAL + 200 * USD, CAPITAL - 100 * USD, CAPITAL + 100 * USD]
    assert frame["peak"].to_list() == [CAPITAL, CAPITAL + 200 * USD, CAPITAL + 200 * USD, CAPITAL + 200 * USD]
    peak = CAPITAL + 200 * USD
    assert frame["drawdown"].to_list() == [
        0.0,
        0.0,
        (CAPITAL - 100 * USD) / peak - 1.0,
        (CAPITAL + 100 * USD) / peak - 1.0,
    ]
    assert frame["drawdown"].max() == 0.0
    assert frame["drawdown"][2] == pytest.approx(-300 / 1_000_200)


def test_a_last_row_is_added_when_the_book_moved_after_the_last_close(tmp_path):
    session = SessionOpened(ts=T0, session="2024-01-02", close_ts=T0 + 390 * MIN, calendar="XNYS")
    base = _started() + [[session], [bar(1, "AAPL", "10")], [_closed(2)]]
    frame = equity_frame(write_journal(tmp_path / "same.db", base))
    assert frame.height == 1  # nothing moved after the close: no extra row
    moved = base + [submit(3, "c1", "AAPL", "buy", 10), [fill(3, "c1", 10, "10", "1", cum=10, leaves=0)]]
    frame = equity_frame(write_journal(tmp_path / "moved.db", moved))
    assert frame.height == 2
    last = frame.row(1, named=True)
    assert (last["ts"].date().isoformat(), last["fees"], last["equity"]) == ("2024-01-02", USD, CAPITAL - USD)


def test_final_equity_is_capital_plus_the_pnl_projection_net_at_any_seq(tmp_path):
    path = write_journal(tmp_path / "j.db", _started() + trading_day())
    for at in (3, 7, 12, 16, 17):  # from the first bar on
        frame = equity_frame(path, at=at)
        assert frame["equity"][-1] == CAPITAL + build(path, at=at).pnl.total.net, at


def test_the_curve_folds_with_other_projections_and_keeps_the_run(tmp_path):
    path = write_journal(tmp_path / "j.db", _started() + trading_day())
    curve = EquityCurve()
    fold(path, [curve])
    assert curve.run is not None and curve.run.run_id == "run-test"
    assert curve.capital == CAPITAL
    assert curve.ledger.seq == 17


def test_without_run_started_capital_is_unknown_and_equity_is_the_pnl(tmp_path):
    groups = [g for g in trading_day() if not isinstance(g[0], SessionOpened)]
    curve = EquityCurve()
    fold(write_journal(tmp_path / "j.db", groups), [curve])
    frame = curve.frame()
    assert curve.capital is None
    assert frame["equity"].to_list() == [-11 * USD, px("82.25"), px("148.25")]
    assert frame["drawdown"].to_list() == [None, 0.0, 0.0]  # no positive peak yet in the first row


def test_a_journal_without_bars_gives_an_empty_frame(tmp_path):
    frame = equity_frame(write_journal(tmp_path / "j.db", _started()))
    assert frame.height == 0
    assert frame.schema == pl.Schema(SCHEMA)


def test_a_missing_journal_is_a_projection_error(tmp_path):
    with pytest.raises(JournalError, match="missing.db"):
        equity_frame(tmp_path / "missing.db")
