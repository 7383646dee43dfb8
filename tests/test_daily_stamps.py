"""Daily bars the way vendors stamp them: each convention is that session's close.

A file with one bar per symbol per date may stamp it at the session's close, at any time of its
date (in the offset it gives), at midnight UTC, at midnight New York (``T05:00Z``/``T04:00Z``) or
with the date alone; each convention gives the journal the bars stamped at the close give, early
closes included. A run that rejects more than half of its bars, or whose universe names a symbol
with no bars, exits 1 with the reason histogram and an example row per reason.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
import pytest

from engine.cli import main
from engine.feeds.bundled import load_bundled
from engine.journal import read_events
from journal_schema.events import BarClosed, BarRejected
from journal_schema.units import exact

NY = ZoneInfo("America/New_York")
FIRST, LAST = date(2000, 10, 16), date(2000, 12, 8)  # across the end of daylight time and an early close
EARLY_CLOSE = date(2000, 11, 24)  # the day after Thanksgiving: the session closes at 13:00 New York
Stamp = Callable[[date, datetime], str]


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


CONVENTIONS: dict[str, Stamp] = {
    "midnight_utc": lambda d, _close: f"{d}T00:00:00Z",
    "midnight_new_york": lambda d, _close: _utc(datetime.combine(d, time(0), NY)),
    "date_only": lambda d, _close: d.isoformat(),
    "four_pm_new_york": lambda d, _close: datetime.combine(d, time(16), NY).isoformat(),
    "noon_with_offset": lambda d, _close: f"{d}T12:00:00-05:00",
    "tokyo_midnight": lambda d, _close: f"{d}T00:00:00+09:00",  # 15:00 UTC the day before: the offset decides
    "naive_midnight": lambda d, _close: f"{d} 00:00:00",
}


@pytest.fixture(scope="module")
def daily() -> pl.DataFrame:
    """AAPL and MSFT daily bars of the bundled data, with each row's session date and close."""
    table, _ = load_bundled()
    frame = table.frame.filter(pl.col("reason").is_null() & pl.col("symbol").is_in(["AAPL", "MSFT"]))
    frame = frame.with_columns(pl.from_epoch("ts", time_unit="ns").dt.replace_time_zone("UTC").alias("at"))
    frame = frame.with_columns(pl.col("at").dt.convert_time_zone("America/New_York").dt.date().alias("day"))
    return frame.filter(pl.col("day").is_between(FIRST, LAST)).sort("ts", "symbol")


def write(path: Path, daily: pl.DataFrame, stamp: Stamp | None) -> Path:
    rows = ["timestamp,symbol,open,high,low,close,volume"]
    for r in daily.iter_rows(named=True):
        when = _utc(r["at"]) if stamp is None else stamp(r["day"], r["at"])
        rows.append(",".join([when, r["symbol"], *(exact(r[k]) for k in ("open", "high", "low", "close", "volume"))]))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(rows) + "\n")
    return path


def run(bars: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, dict[str, object], str]:
    code = main(["run", "--bars", str(bars), "--journal", str(bars.parent / "j.db"), "--json", *extra])
    out = capsys.readouterr()
    return code, json.loads(out.out) if out.out.strip() else {}, out.err


@pytest.fixture(scope="module")
def reference(daily: pl.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    bars = write(tmp_path_factory.mktemp("close") / "bars.csv", daily, None)
    assert main(["run", "--bars", str(bars), "--journal", str(bars.parent / "j.db")]) == 0
    closes = [ev.ts for _, ev in read_events(bars.parent / "j.db", [BarClosed]) if isinstance(ev, BarClosed)]
    early = int(datetime.combine(EARLY_CLOSE, time(13), NY).timestamp()) * 10**9
    assert early in closes  # the early close is the bar's time, not 16:00
    return {"bars": bars, "rows": daily.height}


@pytest.mark.parametrize("convention", sorted(CONVENTIONS))
def test_each_daily_convention_is_the_session_close(
    convention: str,
    daily: pl.DataFrame,
    reference: dict[str, object],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ref_code, ref, _ = run(Path(str(reference["bars"])), capsys, "--replace")
    bars = write(tmp_path / "bars.csv", daily, CONVENTIONS[convention])  # the same file name: the dataset field
    code, summary, err = run(bars, capsys)
    assert ref_code == 0 and code == 0, err
    assert summary["bars_rejected"] == 0 and summary["bars_accepted"] == reference["rows"], summary
    assert summary["digest"] == ref["digest"]


def test_a_daily_bar_on_a_date_without_a_session_is_rejected_naming_the_date(
    daily: pl.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = write(tmp_path / "bars.csv", daily, CONVENTIONS["date_only"]).read_text()
    (tmp_path / "bars.csv").write_text(text + "2000-11-23,AAPL,1,1,1,1,1\n")  # Thanksgiving: no session
    code, summary, err = run(tmp_path / "bars.csv", capsys)
    assert code == 0, err
    assert summary["rejections_by_code"] == {"OUTSIDE_SESSION": 1}
    (rejected,) = [ev for _, ev in read_events(tmp_path / "j.db", [BarRejected]) if isinstance(ev, BarRejected)]
    assert "2000-11-23" in rejected.detail and "session" in rejected.detail


def test_dates_alone_in_an_intraday_file_are_refused_with_the_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [f"2024-01-02T15:{m:02d}:00Z,AAPL,10,11,9,10,100" for m in range(10)] + ["2024-01-03,AAPL,10,11,9,10,100"]
    (tmp_path / "bars.csv").write_text("timestamp,symbol,open,high,low,close,volume\n" + "\n".join(rows) + "\n")
    code, summary, err = run(tmp_path / "bars.csv", capsys)
    assert code == 0, err
    assert summary["rejections_by_code"] == {"TIMESTAMP_WITHOUT_ZONE": 1}
    (rejected,) = [ev for _, ev in read_events(tmp_path / "j.db", [BarRejected]) if isinstance(ev, BarRejected)]
    assert "2024-01-03" in rejected.detail and "date without a time" in rejected.detail


def test_a_run_rejecting_most_bars_exits_1_with_the_histogram_and_an_example_per_reason(
    daily: pl.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = write(tmp_path / "bars.csv", daily, None).read_text().splitlines()
    bad = [text[0], *text[1:4], *(line.replace("2000-", "2000-13-", 1) for line in text[4:])]
    (tmp_path / "bars.csv").write_text("\n".join(bad) + "\n")
    code, summary, err = run(tmp_path / "bars.csv", capsys)
    assert code == 1, err
    assert summary["bars_rejected"] * 2 > summary["bars_read"]
    assert "more than half" in err and "UNPARSEABLE_ROW" in err
    first_bad = bad[4].split(",")[0]
    assert "row 4" in err and repr(first_bad) in err and "not an ISO-8601" in err, err


def test_a_universe_symbol_without_bars_exits_1_naming_it(
    daily: pl.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bars = write(tmp_path / "bars.csv", daily, None)
    (tmp_path / "c.toml").write_text('[run]\nuniverse = ["AAPL", "MSFT", "TSLA"]\n')
    code, _, err = run(bars, capsys, "--config", str(tmp_path / "c.toml"))
    assert code == 1
    assert "TSLA" in err and "no bars" in err, err


def test_rows_of_symbols_the_universe_leaves_out_are_not_bad_data(
    daily: pl.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Choosing one symbol of a file that holds four is not a data problem, though 3/4 of its rows are
    UNKNOWN_SYMBOL; a file grouped by symbol is merged into time order."""
    lines = write(tmp_path / "bars.csv", daily, None).read_text().splitlines()
    extra = [
        line.replace(",AAPL,", f",{other},") for other in ("IBM", "GOOG") for line in lines[1:] if ",AAPL," in line
    ]
    (tmp_path / "bars.csv").write_text("\n".join([*lines, *extra]) + "\n")
    (tmp_path / "c.toml").write_text('[run]\nuniverse = ["MSFT"]\n')
    code, summary, err = run(tmp_path / "bars.csv", capsys, "--config", str(tmp_path / "c.toml"))
    assert code == 0, err
    assert summary["bars_rejected"] * 4 == summary["bars_read"] * 3  # every row but MSFT's: UNKNOWN_SYMBOL
