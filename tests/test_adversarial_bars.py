"""Adversarial suite, bar files: encodings, sizes, values, timestamps and columns. Each hostile file either
is refused (one line on stderr naming the file, exit 2, no journal made, the file unchanged) or gives a
journal that verifies and holds the documented reason-coded rejection.

Audit finding 6 (failed on the code before the fix): a 200 MiB line took ~2.8 GB and left an empty
journal behind, and parse errors reached the user as multi-line messages suggesting the CSV library's own
arguments.
"""

from __future__ import annotations

import gzip
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest

from engine.journal import read_events
from engine.journal.verify import verify_journal
from journal_schema.events import BarRejected
from tests.adversarial import HEADER, assert_refused, run_cli, state

pytestmark = pytest.mark.adversarial

H = HEADER.encode()
ROW = b"2024-01-02T15:00:00Z,AAPL,100,101,99,100,10"
ROW2 = b"2024-01-02T15:01:00Z,AAPL,100,101,99,100.5,10"


def rows(*lines: bytes, header: bytes = H, end: bytes = b"\n") -> bytes:
    return end.join([header, *lines]) + end


def row(**fields: str) -> bytes:
    """A good row with some fields replaced."""
    base = {
        "timestamp": "2024-01-02T15:05:00Z",
        "symbol": "AAPL",
        "open": "100",
        "high": "101",
        "low": "99",
        "close": "100",
        "volume": "10",
    }
    base.update(fields)
    return ",".join(base.values()).encode()


@dataclass(frozen=True)
class Case:
    content: bytes
    refused: str | None = None  # a fragment of the one-line refusal
    rejected: str | None = None  # a reason code journaled for the hostile row
    suffix: str = ".csv"
    config: str = ""
    accepted: int | None = None  # bars journaled as BarClosed, when it matters


BIG = b"A" * (5 << 20)
CASES: dict[str, Case] = {
    # ---- encodings
    "utf8_bom": Case(rows(ROW).replace(b"timestamp", b"\xef\xbb\xbftimestamp", 1), accepted=1),
    "utf16": Case("\n".join([HEADER, ROW.decode()]).encode("utf-16"), refused="is UTF-16 text: save the file as UTF-8"),
    "latin1_symbol": Case(rows(ROW, row(symbol="\xe9").replace(b"\xc3\xa9", b"\xe9")), refused="not UTF-8 text"),
    "nul_in_symbol": Case(rows(ROW, row(symbol="A\x00B")), rejected="UNPARSEABLE_ROW"),
    "crlf": Case(rows(ROW, ROW2, end=b"\r\n"), accepted=2),
    "cr_only": Case(rows(ROW, ROW2, end=b"\r"), refused="missing column"),
    "binary_noise": Case(bytes(range(256)) * 40, refused="case.csv"),
    "gzip": Case(gzip.compress(rows(ROW, ROW2)), suffix=".csv.gz", accepted=2),
    "not_gzip": Case(rows(ROW), suffix=".csv.gz", refused="not a readable gzip file"),
    "truncated_gzip": Case(gzip.compress(rows(*[ROW] * 200))[:-40], suffix=".csv.gz", refused="gzip"),
    "tab_in_symbol": Case(rows(ROW, row(symbol="AA\tPL")), rejected="UNPARSEABLE_ROW"),
    "newline_in_quoted_symbol": Case(rows(ROW, row(symbol='"AA\nPL"')), rejected="UNPARSEABLE_ROW"),
    # ---- sizes
    "empty": Case(b"", refused="is empty"),
    "header_only": Case(rows(), refused="no data rows after the header"),
    "no_usable_timestamp": Case(
        rows(row(timestamp="2024-01-02T15:05:00"), row(timestamp="1965-01-04T15:00:00Z")),
        refused="no row has a usable timestamp (2 rows: TIMESTAMP_WITHOUT_ZONE 1, TIMESTAMP_OUT_OF_RANGE 1)",
    ),
    "semicolons": Case(rows(ROW.replace(b",", b";"), header=H.replace(b",", b";")), refused="the header holds ';'"),
    "huge_line": Case(rows(ROW, row(symbol=BIG.decode())), refused="line 3 (data row 2)"),
    "huge_header": Case(rows(ROW, header=H + b"," + BIG), refused="the header"),
    "huge_last_line_no_newline": Case(rows(ROW)[:-1] + b"\n" + row(symbol=BIG.decode()), refused="line 3"),
    "line_over_a_small_limit": Case(
        rows(ROW, row(symbol="X" * 200)), config="[bars]\nmax_line_bytes = 128\n", refused="bars.max_line_bytes (128)"
    ),
    "file_over_a_small_limit": Case(
        rows(*[ROW] * 100), config="[bars]\nmax_file_bytes = 2048\n", refused="bars.max_file_bytes"
    ),
    "gzip_bomb": Case(
        gzip.compress(rows(*[ROW] * 20000)),
        suffix=".csv.gz",
        config="[bars]\nmax_file_bytes = 65536\n",
        refused="more than 65536 bytes",
    ),
    "symbol_64_chars": Case(rows(row(symbol="S" * 64)), accepted=1),
    "symbol_65_chars": Case(rows(ROW, row(symbol="S" * 65)), rejected="UNPARSEABLE_ROW"),
    # ---- values
    "nan_price": Case(rows(ROW, row(open="NaN")), rejected="NON_FINITE_PRICE"),
    "inf_price": Case(rows(ROW, row(high="inf")), rejected="NON_FINITE_PRICE"),
    "negative_price": Case(rows(ROW, row(low="-1")), rejected="NON_POSITIVE_PRICE"),
    "zero_price": Case(rows(ROW, row(open="0")), rejected="NON_POSITIVE_PRICE"),
    "tiny_price_rounds_to_zero": Case(rows(ROW, row(open="0.000000001")), rejected="NON_POSITIVE_PRICE"),
    "high_below_low": Case(rows(ROW, row(high="98")), rejected="HIGH_BELOW_LOW"),
    "open_above_high": Case(rows(ROW, row(open="102")), rejected="OPEN_OUTSIDE_RANGE"),
    "close_below_low": Case(rows(ROW, row(close="98")), rejected="CLOSE_OUTSIDE_RANGE"),
    "negative_volume": Case(rows(ROW, row(volume="-5")), rejected="NEGATIVE_VOLUME"),
    "price_beyond_fixed8": Case(rows(ROW, row(open="1e300")), rejected="UNPARSEABLE_ROW"),
    "price_92233720369": Case(rows(ROW, row(open="92233720369", high="92233720369")), rejected="UNPARSEABLE_ROW"),
    "twenty_decimals": Case(rows(ROW, row(close="100.12345678901234567890")), accepted=2),
    "thousands_separator": Case(rows(ROW, row(open='"1,000"')), rejected="UNPARSEABLE_ROW"),
    "hex_price": Case(rows(ROW, row(open="0x64")), rejected="UNPARSEABLE_ROW"),
    "empty_price": Case(rows(ROW, row(close="")), rejected="UNPARSEABLE_ROW"),
    "nan_volume": Case(rows(ROW, row(volume="nan")), rejected="UNPARSEABLE_ROW"),
    "spaces_around_numbers": Case(rows(ROW, row(open=" 100 ", close="  100.5")), accepted=2),
    "exponent_price": Case(rows(ROW, row(open="1e2")), accepted=2),
    "empty_symbol": Case(rows(ROW, row(symbol="")), rejected="UNPARSEABLE_ROW"),
    "duplicate_row": Case(rows(ROW, ROW), rejected="DUPLICATE_BAR"),
    "unknown_symbol": Case(
        rows(ROW, row(symbol="ZZZ")), config='[run]\nuniverse = ["AAPL"]\n', rejected="UNKNOWN_SYMBOL"
    ),
    # ---- timestamps
    "no_zone": Case(rows(ROW, row(timestamp="2024-01-02T15:05:00")), rejected="TIMESTAMP_WITHOUT_ZONE"),
    "year_1969": Case(rows(ROW, row(timestamp="1969-12-31T15:00:00Z")), rejected="TIMESTAMP_OUT_OF_RANGE"),
    "year_9999": Case(rows(ROW, row(timestamp="9999-12-31T15:00:00Z")), rejected="TIMESTAMP_OUT_OF_RANGE"),
    "year_2263": Case(rows(ROW, row(timestamp="2263-01-03T15:00:00Z")), rejected="TIMESTAMP_OUT_OF_RANGE"),
    "february_30": Case(rows(ROW, row(timestamp="2024-02-30T15:00:00Z")), rejected="UNPARSEABLE_ROW"),
    "words": Case(rows(ROW, row(timestamp="yesterday")), rejected="UNPARSEABLE_ROW"),
    "epoch_seconds": Case(rows(ROW, row(timestamp="1704207900")), rejected="UNPARSEABLE_ROW"),
    # two AAPL rows on one date: not a daily file, so a date alone cannot be placed
    "date_only": Case(rows(ROW, row(timestamp="2024-01-02")), rejected="TIMESTAMP_WITHOUT_ZONE"),
    "lowercase_z": Case(rows(ROW, row(timestamp="2024-01-02T15:05:00z")), rejected="UNPARSEABLE_ROW"),
    "out_of_order": Case(rows(ROW2, ROW), rejected="TIMESTAMP_NOT_INCREASING"),
    "outside_session": Case(rows(ROW, row(timestamp="2024-01-02T23:00:00Z")), rejected="OUTSIDE_SESSION"),
    "offset_plus_14": Case(rows(ROW, row(timestamp="2024-01-03T05:05:00+14:00")), accepted=2),
    "nanoseconds": Case(rows(ROW, row(timestamp="2024-01-02T15:05:00.123456789Z")), accepted=2),
    # ---- columns
    "missing_volume": Case(
        rows(ROW.rsplit(b",", 1)[0], header=H.rsplit(b",", 1)[0]), refused="missing column(s) volume"
    ),
    "extra_columns": Case(rows(ROW + b",x,y", header=H + b",note,other"), accepted=1),
    "columns_reordered": Case(
        rows(b"AAPL,2024-01-02T15:00:00Z,100,101,99,100,10", header=b"symbol,timestamp,open,high,low,close,volume"),
        accepted=1,
    ),
    "duplicate_column": Case(rows(ROW + b",11", header=H + b",volume"), refused="more than once"),
    "uppercase_header": Case(rows(ROW, header=H.upper()), refused="missing column"),
    "spaced_header": Case(rows(ROW, header=b" " + H.replace(b",", b", ")), refused="missing column"),
    "more_fields_than_header": Case(rows(ROW, ROW2 + b",extra"), refused="line 3 has 8 fields, the header has 7"),
    "fewer_fields": Case(rows(ROW, b"2024-01-02T15:05:00Z,AAPL,100"), rejected="UNPARSEABLE_ROW"),
    "unclosed_quote": Case(rows(ROW, b'"2024-01-02T15:05:00Z,AAPL,100,101,99,100,10'), refused="quoted field"),
    "parquet_that_is_csv": Case(rows(ROW), suffix=".parquet", refused="not a Parquet file"),
    "txt_suffix": Case(rows(ROW), suffix=".txt", refused="unsupported file type"),
}


def parquet_case(path: Path) -> None:
    pl.DataFrame(
        {
            "timestamp": ["2024-01-02T15:00:00Z"],
            "symbol": ["AAPL"],
            "open": [100],
            "high": [101],
            "low": [99],
            "close": [100.5],
            "volume": [10],
        }
    ).write_parquet(path)


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_hostile_bar_file_is_refused_or_rejected_by_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    case = CASES[name]
    bars = tmp_path / f"case{case.suffix}"
    bars.write_bytes(case.content)
    args = ["run", "--bars", str(bars), "--journal", str(tmp_path / "j.db")]
    if case.config:
        (tmp_path / "c.toml").write_text(case.config)
        args += ["--config", str(tmp_path / "c.toml")]
    before = state(bars)
    code, _, err = run_cli(args, capsys)
    assert state(bars) == before
    if case.refused is not None:
        assert_refused(code, err, case.refused)
        assert not (tmp_path / "j.db").exists(), "a refused run left a journal behind"
        return
    assert code == 0, err
    verified = verify_journal(tmp_path / "j.db")
    assert verified.ok, verified
    events = [ev for _, ev in read_events(tmp_path / "j.db")]
    reasons = Counter(ev.reason for ev in events if isinstance(ev, BarRejected))
    if case.rejected is not None:
        assert reasons[case.rejected] >= 1, reasons
    if case.accepted is not None:
        assert sum(type(ev).__name__ == "BarClosed" for ev in events) == case.accepted, reasons


def test_a_parquet_file_with_typed_columns_is_read_as_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parquet_case(tmp_path / "b.parquet")
    code, _, err = run_cli(["run", "--bars", str(tmp_path / "b.parquet"), "--journal", str(tmp_path / "j.db")], capsys)
    assert code == 0, err
    assert verify_journal(tmp_path / "j.db").ok


def test_memory_stays_bounded_on_a_200_mib_line(tmp_path: Path) -> None:
    """The audit's 200 MiB line: refused while streaming, 1 MiB at a time, before any parse."""
    import subprocess
    import sys

    bars = tmp_path / "big.csv"
    with bars.open("wb") as f:
        f.write(H + b"\n" + ROW + b"\n2024-01-02T15:05:00Z,")
        chunk = b"A" * (1 << 20)
        for _ in range(200):
            f.write(chunk)
        f.write(b",100,101,99,100,10\n")
    code = (
        "import resource, sys\n"
        "from engine.cli import main\n"
        f"rc = main(['run', '--bars', {str(bars)!r}, '--journal', {str(tmp_path / 'j.db')!r}])\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, rc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=300)
    peak_kib, rc = (int(x) for x in out.stdout.split())
    assert rc == 2 and "line 3 (data row 2) is more than 4096 bytes" in out.stderr, out.stderr
    assert peak_kib < 400 * 1024, f"peak RSS {peak_kib} KiB"  # the interpreter and its libraries alone: ~200 MiB
    assert not (tmp_path / "j.db").exists()
