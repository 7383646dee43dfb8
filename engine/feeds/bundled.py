"""The bundled real dataset: daily bars of AAPL, IBM, MSFT and GOOG, 2000-2013.

Source: Quandl WIKI prices (public domain), as shipped in the PyPI package
``bokeh-sampledata`` 2026.1 at ``bokeh_sampledata/_data/stocks.csv.gz``; copied to
``engine/data/stocks.csv.gz`` and pinned by sha256 below. The file also holds FB, which
the default dataset leaves out.

Transform (recorded in the dataset fingerprint): prices are unadjusted in the source,
so open/high/low/close are multiplied by ``Adj Close / Close`` (exact decimal arithmetic,
rounded half-even to $0.0001) so splits do not look like crashes; volume is left as
published. Each bar is stamped at its session's close from the calendar; a date that
is not a session is stamped 16:00 America/New_York and will be rejected OUTSIDE_SESSION.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime, time
from decimal import ROUND_HALF_EVEN, Decimal
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl

from engine.feeds.calendar import Sessions, load_sessions
from engine.feeds.table import BarTable, FeedError, file_sha256

NAME = "bundled:quandl-wiki-daily-AAPL-GOOG-IBM-MSFT-2000-2013"
SHA256 = "5abadf99b2d394f920120a27de6f0df129859d71d4cfb0bf661bcc99446ab1fd"
TICKERS = ("AAPL", "GOOG", "IBM", "MSFT")
TRANSFORM = "adjust=ohlc*adj_close/close,round=0.0001,half_even;volume=raw;stamp=session_close"
_TICK = Decimal("0.0001")
_NY = ZoneInfo("America/New_York")


def data_path() -> Path:
    return Path(str(resources.files("engine") / "data" / "stocks.csv.gz"))


def load_bundled(calendar: str = "XNYS") -> tuple[BarTable, Sessions]:
    path = data_path()
    digest = file_sha256(path)
    if digest != SHA256:
        raise FeedError(f"bundled data {path} is corrupt: sha256 {digest} != {SHA256}")
    src = pl.read_csv(path, infer_schema=False).filter(pl.col("Ticker").is_in(TICKERS))
    days = [date.fromisoformat(d) for d in src["Date"].to_list()]
    sessions = load_sessions(calendar, min(days), max(days))
    stamps = []
    for d in days:
        close = sessions.close_of(d)
        when = (
            datetime.fromtimestamp(close / 1e9, ZoneInfo("UTC"))
            if close is not None
            else datetime.combine(d, time(16), _NY)
        )
        stamps.append(when.isoformat())
    cols: dict[str, list[str]] = {"open": [], "high": [], "low": [], "close": []}
    for o, h, lo, c, adj in src.select("Open", "High", "Low", "Close", "Adj Close").iter_rows():
        ratio = Decimal(adj) / Decimal(c)
        for key, raw in (("open", o), ("high", h), ("low", lo), ("close", c)):
            cols[key].append(str((Decimal(raw) * ratio).quantize(_TICK, rounding=ROUND_HALF_EVEN)))
    text = pl.DataFrame({"timestamp": stamps, "symbol": src["Ticker"], **cols, "volume": src["Volume"]})
    fingerprint = hashlib.sha256(f"{SHA256}|{','.join(TICKERS)}|{TRANSFORM}|{calendar}".encode()).hexdigest()
    return BarTable.from_text(text, fingerprint, NAME), sessions
