"""Edge validation of bar files: every bad kind becomes exactly one journaled rejection."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import polars as pl
import pytest

from engine.config import resolve
from engine.feeds.calendar import Sessions
from engine.feeds.stream import StreamStats, events, universe_of
from engine.feeds.table import FeedError, read_bar_file
from engine.runner import historical_run
from journal_schema.events import BarClosed, BarRejected, SessionClosed, SessionOpened
from journal_schema.reasons import BAR_REJECT_REASONS
from tests.support import recorded_inputs

# 2024-01-02 (Tue) XNYS session: 14:30Z - 21:00Z; 2024-01-03 likewise.
GOOD = "2024-01-02T{t}Z,{sym},100.00,101.00,99.50,100.50,1000"
HEADER = "timestamp,symbol,open,high,low,close,volume"
BAD_ROWS = {
    "UNPARSEABLE_ROW": "2024-01-02T15:10:00Z,AAPL,abc,101,99,100,10",
    "TIMESTAMP_WITHOUT_ZONE": "2024-01-02T15:11:00,AAPL,100,101,99,100,10",
    "TIMESTAMP_OUT_OF_RANGE": "9999-12-31T15:11:30Z,AAPL,100,101,99,100,10",
    "NON_FINITE_PRICE": "2024-01-02T15:12:00Z,AAPL,NaN,101,99,100,10",
    "NON_POSITIVE_PRICE": "2024-01-02T15:13:00Z,AAPL,0,101,99,100,10",
    "HIGH_BELOW_LOW": "2024-01-02T15:14:00Z,AAPL,100,98,99,100,10",
    "OPEN_OUTSIDE_RANGE": "2024-01-02T15:15:00Z,AAPL,102,101,99,100,10",
    "CLOSE_OUTSIDE_RANGE": "2024-01-02T15:16:00Z,AAPL,100,101,99,98,10",
    "NEGATIVE_VOLUME": "2024-01-02T15:17:00Z,AAPL,100,101,99,100,-10",
    "UNKNOWN_SYMBOL": "2024-01-02T15:18:00Z,ZZZZ,100,101,99,100,10",
    # same symbol + timestamp + values as the previous AAPL bar (15:20, below)
    "DUPLICATE_BAR": "2024-01-02T15:20:00Z,AAPL,100.00,101.00,99.50,100.50,1000",
    # same timestamp as the previous AAPL bar, different values
    "TIMESTAMP_NOT_INCREASING": "2024-01-02T15:20:00Z,AAPL,100,101,99,100.25,7",
    "OUTSIDE_SESSION": "2024-01-02T22:00:00Z,AAPL,100,101,99,100,10",
}


def write_csv(path: Path, rows: list[str]) -> Path:
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    return path


def good_rows() -> list[str]:
    rows = [GOOD.format(t=f"15:{m:02d}:00", sym=s) for m in range(0, 30) for s in ("AAPL", "MSFT")]
    return rows


def test_bad_kinds_cover_every_reason_code():
    assert set(BAD_ROWS) == set(BAR_REJECT_REASONS)


def test_one_row_of_every_bad_kind_yields_exactly_those_rejections(tmp_path):
    rows = good_rows()
    rows.insert(41, BAD_ROWS["DUPLICATE_BAR"])  # after the 15:20 AAPL bar
    rows.insert(42, BAD_ROWS["TIMESTAMP_NOT_INCREASING"])
    rows += [v for k, v in BAD_ROWS.items() if k not in ("DUPLICATE_BAR", "TIMESTAMP_NOT_INCREASING")]
    csv = write_csv(tmp_path / "bars.csv", rows)
    cfg, snap = resolve({"run": {"universe": ["AAPL", "MSFT"]}})
    result = historical_run(cfg, snap, tmp_path / "j.db", bars=csv)
    assert result.stats.rejected == dict.fromkeys(BAD_ROWS, 1)
    assert result.stats.bars_accepted == 60
    assert result.stats.bars_read == 60 + len(BAD_ROWS)
    inputs = recorded_inputs(tmp_path / "j.db")
    rejected = [e for e in inputs if isinstance(e, BarRejected)]
    assert Counter(e.reason for e in rejected) == Counter(list(BAD_ROWS))
    unparseable = next(e for e in rejected if e.reason == "UNPARSEABLE_ROW")
    assert unparseable.raw.open == "abc" and unparseable.source_row == 63
    assert sum(isinstance(e, BarClosed) for e in inputs) == 60
    assert result.end_reason == "END_OF_DATA"


def test_clean_file_has_no_rejections_and_sessions_bracket_bars(tmp_path):
    rows = good_rows() + [GOOD.format(t="15:00:00", sym="AAPL").replace("2024-01-02", "2024-01-03")]
    csv = write_csv(tmp_path / "bars.csv", rows)
    cfg, snap = resolve({})
    result = historical_run(cfg, snap, tmp_path / "j.db", bars=csv)
    assert result.stats.rejected == {}
    inputs = recorded_inputs(tmp_path / "j.db")
    kinds = [type(e).__name__ for e in inputs if isinstance(e, SessionOpened | SessionClosed)]
    assert kinds == ["SessionOpened", "SessionClosed", "SessionOpened", "SessionClosed"]
    opened = [e for e in inputs if isinstance(e, SessionOpened)]
    assert [e.session for e in opened] == ["2024-01-02", "2024-01-03"]
    bars = [e for e in inputs if isinstance(e, BarClosed)]
    assert all(opened[0].ts < b.ts <= opened[0].close_ts for b in bars[:-1])


def test_file_grouped_by_symbol_is_merged_into_timestamp_order(tmp_path):
    rows = sorted(good_rows(), key=lambda r: r.split(",")[1])  # all AAPL rows, then all MSFT rows
    csv = write_csv(tmp_path / "bars.csv", rows)
    cfg, snap = resolve({})
    result = historical_run(cfg, snap, tmp_path / "j.db", bars=csv)
    assert result.stats.rejected == {}
    bars = [e for e in recorded_inputs(tmp_path / "j.db") if isinstance(e, BarClosed)]
    assert [b.ts for b in bars] == sorted(b.ts for b in bars)
    assert [b.symbol for b in bars[:4]] == ["AAPL", "MSFT", "AAPL", "MSFT"]


def test_rows_out_of_order_within_a_symbol_are_rejected(tmp_path):
    rows = good_rows()[::-1]  # newest first: only each symbol's first row in the file is in order
    csv = write_csv(tmp_path / "bars.csv", [*rows, "2024-01-02T15:45:00Z,AAPL,100,101,99,100,10"])
    cfg, snap = resolve({})
    result = historical_run(cfg, snap, tmp_path / "j.db", bars=csv)
    assert result.stats.rejected == {"TIMESTAMP_NOT_INCREASING": 58}
    accepted = [e for e in recorded_inputs(tmp_path / "j.db") if isinstance(e, BarClosed)]
    t1529, t1545 = 1704209340 * 10**9, 1704210300 * 10**9  # 2024-01-02T15:29Z, 15:45Z
    assert sorted((b.symbol, b.ts) for b in accepted) == [("AAPL", t1529), ("AAPL", t1545), ("MSFT", t1529)]


def test_exact_decimal_parsing(tmp_path):
    csv = write_csv(tmp_path / "b.csv", ["2024-01-02T15:00:00-05:00,AAPL,0.00000001,12345678.12345678,0.00000001,1,5"])
    frame = read_bar_file(csv).frame
    assert frame["open"][0] == 1 and frame["high"][0] == 1234567812345678 and frame["close"][0] == 100_000_000
    assert frame["ts"][0] == 1704225600_000_000_000  # 15:00-05:00 == 20:00Z
    assert frame["reason"][0] is None


def test_parquet_input_matches_csv(tmp_path):
    rows = good_rows()
    csv = write_csv(tmp_path / "b.csv", rows)
    df = pl.read_csv(csv).with_columns(
        pl.col("timestamp").str.replace("Z", "+00:00").str.to_datetime("%Y-%m-%dT%H:%M:%S%z", time_zone="UTC")
    )
    df.write_parquet(tmp_path / "b.parquet")
    a, b = read_bar_file(csv).frame, read_bar_file(tmp_path / "b.parquet").frame
    cols = ["ts", "symbol", "open", "high", "low", "close", "volume", "reason"]
    assert a.select(cols).equals(b.select(cols))


@pytest.mark.parametrize(
    "content,message",
    [
        (None, "bar file not found"),
        ("timestamp,symbol,open\n", "missing column(s) high, low, close, volume"),
    ],
)
def test_unusable_files_fail_fast(tmp_path, content, message):
    path = tmp_path / "x.csv"
    if content is not None:
        path.write_text(content)
    with pytest.raises(FeedError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_bar_file(path)


def test_configured_universe_wins_over_file_symbols(tmp_path):
    table = read_bar_file(write_csv(tmp_path / "b.csv", good_rows()))
    assert universe_of(table, []) == ["AAPL", "MSFT"]
    assert universe_of(table, ["MSFT"]) == ["MSFT"]


def test_empty_sessions_between_bars_are_journaled():
    import numpy as np

    day = 86_400 * 10**9
    sessions = Sessions(
        "SYN",
        ["2030-01-01", "2030-01-02", "2030-01-03"],
        np.array([day + 10, 10 + 2 * day, 10 + 3 * day], dtype=np.int64),
        np.array([day + 100, 100 + 2 * day, 100 + 3 * day], dtype=np.int64),
    )
    text = pl.DataFrame(
        {
            "timestamp": ["1970-01-02T00:00:00.00000005Z", "1970-01-04T00:00:00.00000005Z"],
            "symbol": ["A", "A"],
            "open": ["1", "1"],
            "high": ["1", "1"],
            "low": ["1", "1"],
            "close": ["1", "1"],
            "volume": ["1", "1"],
        }
    )
    from engine.feeds.table import BarTable

    out = list(events(BarTable.from_text(text, "f", "t"), sessions, ["A"], StreamStats()))
    assert [type(e).__name__ for e in out] == [
        "SessionOpened",
        "BarClosed",
        "SessionClosed",
        "SessionOpened",
        "SessionClosed",
        "SessionOpened",
        "BarClosed",
        "SessionClosed",
    ]


@pytest.mark.parametrize(
    "stamp",
    [
        "1969-12-31T23:59:59Z",
        "1970-01-01T00:00:00Z",
        "1970-01-01T23:59:59.999999999Z",
        "0001-01-01T00:00:00Z",
        "1969-12-31T20:00:00-05:00",
        "1970-01-01T20:00:00-03:00",
        "2262-04-01T00:00:00.000000001Z",
        "2262-04-11T23:47:16.854775808Z",
        "2300-01-01T00:00:00Z",
        "9999-12-31T23:59:59.999999999Z",
    ],
)
def test_timestamps_outside_the_journal_range_are_rejected_not_wrapped(tmp_path, stamp):
    """Audit finding 4: such rows were journaled with negative or wrapped times (verify and replay then
    failed at seq 1), or rejected under the wrong reason code."""
    csv = write_csv(tmp_path / "b.csv", [f"{stamp},AAPL,100,101,99,100,10", GOOD.format(t="15:00:00", sym="AAPL")])
    table = read_bar_file(csv)
    bad = table.frame.filter(pl.col("row") == 1)
    assert bad["reason"].to_list() == ["TIMESTAMP_OUT_OF_RANGE"] and bad["ts"].to_list() == [None]
    assert table.frame.filter(pl.col("row") == 2)["reason"].to_list() == [None]


@pytest.mark.parametrize(
    "stamp,ns",
    [
        ("1970-01-02T00:00:00Z", 86_400 * 10**9),
        ("1970-01-02T00:00:00.000000001+00:00", 86_400 * 10**9 + 1),
        ("2262-04-01T00:00:00Z", 9_222_422_400 * 10**9),
        ("2262-03-31T19:00:00-05:00", 9_222_422_400 * 10**9),
    ],
)
def test_the_first_and_last_accepted_timestamps(tmp_path, stamp, ns):
    table = read_bar_file(write_csv(tmp_path / "b.csv", [f"{stamp},AAPL,100,101,99,100,10"]))
    assert table.frame["ts"].to_list() == [ns] and table.frame["reason"].to_list() == [None]


def test_decimal_edge_cases(tmp_path):
    rows = [
        "2024-01-02T15:00:00Z,A,0.000000025,1,0.000000015,0.5,1",  # > 8 decimals round half-even
        "2024-01-02T15:01:00Z,A,1e2,100,100,100,1",  # exponent notation is exact
        "2024-01-02T15:02:00Z,A,100000000000,100000000000,100000000000,100000000000,1",  # beyond int64 units
        "2024-01-02T15:03:00Z,A, 7.5 ,8,7,7.5,1",  # surrounding blanks are ignored
        "2024-01-02T15:04:00Z,A,inf,8,7,7.5,1",
    ]
    f = read_bar_file(write_csv(tmp_path / "b.csv", rows)).frame
    assert f["open"].to_list()[:2] == [2, 100 * 10**8] and f["low"][0] == 2
    assert f["reason"].to_list() == [None, None, "UNPARSEABLE_ROW", None, "NON_FINITE_PRICE"]
    assert f["open"][3] == 750_000_000


def test_out_of_order_row_after_a_row_without_zone_is_still_rejected(tmp_path):
    rows = [
        "2024-01-02T15:05:00Z,AAPL,100,101,99,100,10",
        "2024-01-02T15:06:00,AAPL,100,101,99,100,10",
        "2024-01-02T15:01:00Z,AAPL,100,101,99,100,10",
    ]
    f = read_bar_file(write_csv(tmp_path / "b.csv", rows)).frame
    assert dict(zip(f["row"].to_list(), f["reason"].to_list(), strict=True)) == {
        1: None,
        2: "TIMESTAMP_WITHOUT_ZONE",
        3: "TIMESTAMP_NOT_INCREASING",
    }


def test_stop_requested_while_loading_cancels_before_anything_is_journaled(tmp_path):
    from engine.kernel import RunCancelled, StopRequest
    from engine.runner import _run

    stop = StopRequest()
    stop.requested = True  # as if SIGINT arrived during the parse
    cfg, snap = resolve({})
    with pytest.raises(RunCancelled, match="nothing was journaled"):
        _run(cfg, snap, tmp_path / "j.db", write_csv(tmp_path / "b.csv", good_rows()), 64, False, stop)
    assert not (tmp_path / "j.db").exists()
