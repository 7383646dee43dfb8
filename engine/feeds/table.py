"""Loading bar files into one parsed, stateless-validated table.

Columns ``timestamp,symbol,open,high,low,close,volume`` (others are ignored);
timestamps ISO-8601 with a UTC offset or ``Z``, each bar stamped at its close, from
1970-01-02T00:00:00Z to 2262-04-01T00:00:00Z (``journal_schema.units.EDGE_TS_MIN..EDGE_TS_MAX``:
others are TIMESTAMP_OUT_OF_RANGE, never wrapped around or journaled with a negative time).
A daily file (``engine.feeds.daily``: one bar per symbol per date, over two dates or more) may
stamp a bar at any time of its session's date, or give the date alone: each bar becomes its
session's close.
Numbers are parsed exactly from their decimal text into 1e-8 integers (more than 8
fractional digits round half-even; values beyond +/-92,233,720,368 are unparseable).
Checks on a row and on the rows before it in the file are done here, vectorised: parse
errors, non-finite, ranges, volume, an exact repeat of an earlier row (DUPLICATE_BAR), a
timestamp not after every earlier row of the same symbol (TIMESTAMP_NOT_INCREASING).
Rows are then merged into timestamp order (stable), so a file grouped by symbol works;
checks that need the run (universe, sessions) are done by ``engine.feeds.stream``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import polars as pl

from engine.feeds import daily
from engine.feeds.calendar import load_sessions
from engine.feeds.scan import DEFAULT_LIMITS, BoundsError, Limits, check_bounds, check_cells, diagnose
from engine.feeds.symbols import SYMBOL_PATTERN, symbol_problem
from journal_schema.units import EDGE_TS_MAX, EDGE_TS_MIN, SCALE_DIGITS

COLUMNS = ("timestamp", "symbol", "open", "high", "low", "close", "volume")
PRICES = ("open", "high", "low", "close")
_ZONED = "%Y-%m-%dT%H:%M:%S%.f%z"
_NAIVE = "%Y-%m-%dT%H:%M:%S%.f"
_DATE = "%Y-%m-%d"
EDGE_RANGE_TEXT = "1970-01-02T00:00:00Z .. 2262-04-01T00:00:00Z"


class FeedError(ValueError):
    """The bar file cannot be used at all (missing, unreadable, wrong columns)."""


@dataclass(frozen=True)
class BarTable:
    """Rows in processing order: parseable timestamps ascending (stable), unparseable first."""

    frame: pl.DataFrame  # row, ts, symbol, open..volume (Int64, 1e-8), reason
    fingerprint: str  # sha256 of the bars as parsed (``content_fingerprint``), or the caller's
    source: str
    raw: pl.DataFrame  # the text as read, file order; ``frame.row`` n is ``raw`` row n - 1

    def __len__(self) -> int:
        return self.frame.height

    def raw_values(self, row: int) -> dict[str, str | None]:
        """The text of data row ``row`` (1-based), for a rejection."""
        return dict(zip(COLUMNS, self.raw.row(row - 1), strict=True))

    @classmethod
    def from_text(
        cls, text: pl.DataFrame, fingerprint: str | None, source: str, sessions_for: daily.SessionsFor | None = None
    ) -> BarTable:
        """Parse ``text``; ``sessions_for`` stamps a daily file's bars at their sessions' closes.
        ``fingerprint`` None: the content fingerprint of the parsed bars."""
        raw = text.select(COLUMNS)
        frame = parse(raw, sessions_for)
        return cls(frame, content_fingerprint(frame) if fingerprint is None else fingerprint, source, raw)


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def content_fingerprint(frame: pl.DataFrame) -> str:
    """sha256 of the parsed bars (row numbers, times, symbols, values, reasons): one set of bars has
    one fingerprint however its file writes them (daily stamps, number formats, row text)."""
    h = hashlib.sha256(b"bars/v2")
    for name in ("row", "ts", *PRICES, "volume"):
        h.update(frame[name].cast(pl.Int64).fill_null(-(2**63)).to_numpy().tobytes())
    for name in ("symbol", "reason"):
        h.update("\x1f".join(frame[name].fill_null("\x00").to_list()).encode())
    return h.hexdigest()


def read_bar_file(path: str | Path, limits: Limits = DEFAULT_LIMITS, calendar: str = "XNYS") -> BarTable:
    """Read and check a bar file (a daily one stamped by ``calendar``'s sessions); ``FeedError`` (one
    line) when it cannot be used at all."""
    p = Path(path)
    try:
        if not p.is_file():
            raise FeedError(f"bar file not found: {p}" if not p.exists() else f"{p} is not a file")
    except OSError as exc:  # a name too long, a loop of links
        raise FeedError(f"{p}: {exc.strerror or exc}") from None
    suffix = "".join(p.suffixes[-2:]) if p.suffix == ".gz" else p.suffix
    if suffix not in (".csv", ".csv.gz", ".parquet"):
        raise FeedError(f"{p}: unsupported file type {suffix!r}; use .csv, .csv.gz or .parquet")
    try:
        if suffix == ".parquet":
            raw = _read_parquet(p, limits)
        else:
            check_bounds(p, limits)
            raw = _read_csv(p)
    except BoundsError as exc:
        raise FeedError(str(exc)) from None
    except OSError as exc:
        raise FeedError(f"cannot read {p}: {exc.strerror or exc}") from None
    twice = [c for c in COLUMNS if f"{c}_duplicated_0" in raw.columns]  # the parser renames a repeated header
    if twice:
        raise FeedError(
            f"{p}: column(s) {', '.join(twice)} appear more than once in the header; which to use is ambiguous"
        )
    missing = [c for c in COLUMNS if c not in raw.columns]
    if missing:
        header = ",".join(raw.columns)
        found = next((f"; the header holds {sep!r}" for sep in (";", "\t", "|") if sep in header), "")
        raise FeedError(
            f"{p}: missing column(s) {', '.join(missing)}; need {','.join(COLUMNS)} (lower case, "
            f"comma-separated{found})"
        )
    return BarTable.from_text(raw, None, str(p), lambda first, last: load_sessions(calendar, first, last))


def _read_csv(p: Path) -> pl.DataFrame:
    try:
        return pl.read_csv(p, infer_schema=False)
    except pl.exceptions.NoDataError:
        raise FeedError(f"{p} is empty: a bar file starts with the header {','.join(COLUMNS)}") from None
    except pl.exceptions.PolarsError as exc:
        problem = diagnose(p)  # the parser's message suggests its own arguments: say what is wrong instead
        if problem is None:
            problem = f"{p}: not a CSV file the engine can read ({_first_line(exc)})"
        raise FeedError(problem) from None


def _read_parquet(p: Path, limits: Limits) -> pl.DataFrame:
    if p.stat().st_size > limits.max_file_bytes:
        raise BoundsError(
            f"{p}: more than {limits.max_file_bytes} bytes (bars.max_file_bytes): split the file, or raise the limit"
        )
    try:
        raw = _stringify(pl.read_parquet(p))
    except pl.exceptions.PolarsError as exc:
        raise FeedError(f"{p}: not a Parquet file the engine can read ({_first_line(exc)})") from None
    if raw.height:
        widths = raw.select(pl.sum_horizontal(pl.all().str.len_bytes().fill_null(0)).alias("w"))["w"]
        row = int(widths.arg_max() or 0)
        check_cells(p, int(widths[row]), row + 1, limits)
    return raw


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


def _stringify(df: pl.DataFrame) -> pl.DataFrame:
    """Parquet columns to the same text form a CSV would have (one parse path)."""
    exprs = []
    for name, dtype in df.schema.items():
        col = pl.col(name)
        if isinstance(dtype, pl.Datetime):
            fmt = "%Y-%m-%dT%H:%M:%S%.f%:z" if dtype.time_zone else "%Y-%m-%dT%H:%M:%S%.f"
            exprs.append(col.dt.to_string(fmt).alias(name))
        else:
            exprs.append(col.cast(pl.String).alias(name))
    return df.select(exprs)


def _fixed(name: str) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """(value in 1e-8 units or null, is_non_finite, is_unparseable) for a text column.

    The text is parsed exactly as a decimal (polars ``Decimal(38, 8)``: more than eight
    fractional digits round half-even) and its scaled integer taken as the value."""
    text = pl.col(name).str.strip_chars()
    scaled = text.cast(pl.Decimal(38, SCALE_DIGITS), strict=False).to_physical()
    value = scaled.cast(pl.Int64, strict=False)
    as_float = text.cast(pl.Float64, strict=False)
    non_finite = as_float.is_nan() | as_float.is_infinite()
    unparseable = value.is_null() & ~non_finite.fill_null(False)
    return value, non_finite.fill_null(False), unparseable


def parse(raw: pl.DataFrame, sessions_for: daily.SessionsFor | None = None) -> pl.DataFrame:
    """Parse and run the stateless checks. Returns rows in processing order. With ``sessions_for``,
    a daily file's bars are stamped at their sessions' closes first (``engine.feeds.daily``)."""
    lf = _cells(raw).collect().lazy()  # parsed once: the daily test and the checks both read the cells
    if sessions_for is not None and daily.is_daily(lf):
        lf = daily.at_session_close(lf, sessions_for)
    return _checked(lf)


def _cells(raw: pl.DataFrame) -> pl.LazyFrame:
    """Each cell parsed: ``ts`` (ns, when zoned and in range), ``day`` (the date the text gives, in its
    own offset; also for a date alone or a time without offset), the symbol and the 1e-8 values.
    Each parse of the timestamp text is made once, into a temporary column, and the rules read those."""
    ts_text = pl.col("timestamp").str.strip_chars().str.replace(r"Z$", "+00:00").str.replace(" ", "T")
    text = pl.col("_ts_text")
    parsed = (
        # microseconds reach years 1 to 9999 where nanoseconds wrap around int64 outside 1677-2262: the range
        # is judged on them, and a nanosecond value is used only when it agrees with them (no wrap)
        text.str.to_datetime(_ZONED, strict=False, time_zone="UTC", time_unit="ns").dt.epoch("ns").alias("_nanos"),
        text.str.to_datetime(_ZONED, strict=False, time_zone="UTC", time_unit="us").dt.epoch("us").alias("_micros"),
        (
            text.str.to_datetime(_NAIVE, strict=False, time_unit="us").is_not_null()
            | text.str.to_date(_DATE, strict=False).is_not_null()
        ).alias("_unzoned"),
        text.str.slice(0, 10).str.to_date(_DATE, strict=False).alias("_written"),
    )
    nanos, micros, unzoned, written = pl.col("_nanos"), pl.col("_micros"), pl.col("_unzoned"), pl.col("_written")
    in_range = (
        micros.is_between(EDGE_TS_MIN // 1000 - 1, EDGE_TS_MAX // 1000 + 1)
        & (nanos // 1000 == micros)
        & nanos.is_between(EDGE_TS_MIN, EDGE_TS_MAX)
    )
    day_in_range = written.is_between(daily.FIRST_DAY, daily.LAST_DAY)
    sym = pl.col("symbol").str.strip_chars()
    cols: dict[str, pl.Expr] = {}
    non_finite: dict[str, pl.Expr] = {}
    bad: dict[str, pl.Expr] = {}
    for name in PRICES + ("volume",):
        cols[name], non_finite[name], bad[name] = _fixed(name)
    return (
        raw.lazy()
        .with_row_index("row", offset=1)
        .with_columns(ts_text.alias("_ts_text"))
        .with_columns(*parsed)
        .with_columns(
            pl.when(in_range).then(nanos).alias("ts"),
            pl.when(in_range.fill_null(False) | (unzoned & day_in_range)).then(written).alias("day"),
            ((micros.is_not_null() & ~in_range.fill_null(False)) | (unzoned & ~day_in_range.fill_null(False))).alias(
                "_out_of_range"
            ),
            unzoned.alias("_naive"),
            pl.lit(False).alias("_no_session"),
            sym.alias("sym"),
            *(e.alias(n) for n, e in cols.items()),
            *(e.alias(f"_nf_{n}") for n, e in non_finite.items()),
            *(e.alias(f"_bad_{n}") for n, e in bad.items()),
        )
        .drop("_ts_text", "_nanos", "_micros", "_unzoned", "_written")
    )


def _checked(lf: pl.LazyFrame) -> pl.DataFrame:
    """The stateless checks and the file-order checks; rows merged into timestamp order."""
    cols = PRICES + ("volume",)
    o, h, lo, c, v = (pl.col(n) for n in cols)
    unparseable = (
        (pl.col("ts").is_null() & ~pl.col("_naive") & ~pl.col("_out_of_range"))
        | ~pl.col("sym").str.contains(SYMBOL_PATTERN).fill_null(False)
        | pl.any_horizontal([pl.col(f"_bad_{n}") for n in cols])
        | pl.col("_nf_volume")
    )
    reason = (
        pl.when(unparseable)
        .then(pl.lit("UNPARSEABLE_ROW"))
        .when(pl.col("_out_of_range"))
        .then(pl.lit("TIMESTAMP_OUT_OF_RANGE"))
        .when(pl.col("_no_session"))
        .then(pl.lit("OUTSIDE_SESSION"))
        .when(pl.col("ts").is_null())
        .then(pl.lit("TIMESTAMP_WITHOUT_ZONE"))
        .when(pl.any_horizontal([pl.col(f"_nf_{n}") for n in PRICES]))
        .then(pl.lit("NON_FINITE_PRICE"))
        .when(pl.min_horizontal(o, h, lo, c) <= 0)
        .then(pl.lit("NON_POSITIVE_PRICE"))
        .when(h < lo)
        .then(pl.lit("HIGH_BELOW_LOW"))
        .when((o < lo) | (o > h))
        .then(pl.lit("OPEN_OUTSIDE_RANGE"))
        .when((c < lo) | (c > h))
        .then(pl.lit("CLOSE_OUTSIDE_RANGE"))
        .when(v < 0)
        .then(pl.lit("NEGATIVE_VOLUME"))
        .when(pl.col("_repeat"))
        .then(pl.lit("DUPLICATE_BAR"))
        .when(pl.col("ts") <= pl.col("_prev_max"))
        .then(pl.lit("TIMESTAMP_NOT_INCREASING"))
        .otherwise(pl.lit(None, dtype=pl.String))
    )
    # File order, per symbol: a row repeating an earlier row exactly is a duplicate; a row not
    # after every earlier timestamp of its symbol is out of order (rows are merged by time below).
    lf = lf.with_columns(
        ~pl.struct("sym", "ts", "day", *cols).is_first_distinct().alias("_repeat"),
        pl.col("ts").cum_max().forward_fill().shift(1).over("sym").alias("_prev_max"),
    )
    keep = ["row", "ts", "sym", *cols, "reason"]
    lf = lf.with_columns(reason.alias("reason")).select(keep).rename({"sym": "symbol"})
    return lf.sort("ts", nulls_last=False, maintain_order=True).collect()


def describe_rejection(reason: str, raw: dict[str, str | None]) -> str:
    """Human detail for a stateless rejection (computed only for rejected rows)."""
    if reason == "UNPARSEABLE_ROW":
        fields = [k for k, val in raw.items() if val is None or not str(val).strip()]
        if fields:
            return f"missing {', '.join(fields)}"
        problem = symbol_problem(str(raw["symbol"]).strip()) or timestamp_problem(str(raw["timestamp"]))
        return problem or _number_problem(raw)
    if reason == "TIMESTAMP_WITHOUT_ZONE" and len(str(raw["timestamp"]).strip()) == 10:
        return (
            f"timestamp {raw['timestamp']!r} is a date without a time: only a daily file (one bar per symbol per "
            "date) may give dates alone"
        )
    return {
        "TIMESTAMP_WITHOUT_ZONE": f"timestamp {raw['timestamp']!r} has no UTC offset (only a daily file may omit it)",
        "OUTSIDE_SESSION": f"{raw['timestamp']!r} is a daily bar of a date on which the calendar has no session",
        "TIMESTAMP_OUT_OF_RANGE": f"timestamp {raw['timestamp']!r} is outside {EDGE_RANGE_TEXT}, the range a "
        "journal holds",
        "NON_FINITE_PRICE": "a price is NaN or infinite",
        "NON_POSITIVE_PRICE": "a price is zero or negative",
        "HIGH_BELOW_LOW": f"high {raw['high']} < low {raw['low']}",
        "OPEN_OUTSIDE_RANGE": f"open {raw['open']} outside [{raw['low']}, {raw['high']}]",
        "CLOSE_OUTSIDE_RANGE": f"close {raw['close']} outside [{raw['low']}, {raw['high']}]",
        "NEGATIVE_VOLUME": f"volume {raw['volume']} < 0",
        "DUPLICATE_BAR": "repeats an earlier row of the file exactly",
        "TIMESTAMP_NOT_INCREASING": f"{raw['timestamp']} is not after an earlier row of {raw['symbol']}",
    }.get(reason, reason)


def _number_problem(raw: dict[str, str | None]) -> str:
    for name in (*PRICES, "volume"):
        text = str(raw[name]).strip()
        try:
            float(text)
        except ValueError:
            return f"{name} {raw[name]!r} is not a number"
    return "a value is not a number within +/-92,233,720,368 (a NaN or infinite volume included)"


def timestamp_problem(text: str) -> str | None:
    """Why ``text`` is not a timestamp the loader reads (None when it is one)."""
    value = text.strip()
    cells = _cells(pl.DataFrame({c: [value if c == "timestamp" else "1"] for c in COLUMNS})).collect()
    if cells["ts"][0] is not None or cells["_naive"][0] or cells["_out_of_range"][0]:
        return None
    try:
        datetime.fromisoformat(value)
        why = ": a form the loader does not read"
    except ValueError as exc:  # "month must be in 1..12" says why; "Invalid isoformat string" only repeats it
        why = "" if str(exc).startswith("Invalid isoformat") else f": {exc}"
    return (
        f"timestamp {text!r} is not an ISO-8601 date-time with a UTC offset (2024-01-02T21:00:00Z) or a date "
        f"(2024-01-02){why}"
    )
