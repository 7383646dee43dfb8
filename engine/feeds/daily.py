"""Daily bar files the way vendors write them: each bar is its session's close.

A file is *daily* when no symbol has two different rows on one date and the rows span two dates
or more (a file of one date is taken as written). The date of a row is the one its text gives, in
the offset it gives: ``2024-01-02T00:00:00+09:00`` is the 2nd, though it is 15:00 UTC on the 1st.
A date alone (``2024-01-02``) and a time without an offset (``2024-01-02 00:00:00``) count too,
since in a daily file only the date matters.

In a daily file every bar is stamped at the close of its date's session, from the calendar: a
bar stamped at midnight UTC, at midnight New York (``T05:00:00Z`` / ``T04:00:00Z``), at 16:00
New York on an early-close day, or with the date alone, all become that session's close (13:00
New York on an early close). A timestamp that already is a session's close keeps it. A bar of a
date without a session is ``OUTSIDE_SESSION``, placed at that date's midnight UTC, and its
detail says so.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import numpy as np
import polars as pl

from engine.feeds.calendar import Sessions

SessionsFor = Callable[[date, date], Sessions]  # the calendar's sessions of [first, last] (and a day around)

# the dates whose sessions fit the journal's time range (journal_schema.units.EDGE_TS_MIN..EDGE_TS_MAX)
FIRST_DAY = date(1970, 1, 2)
LAST_DAY = date(2262, 3, 31)
VALUES = ("open", "high", "low", "close", "volume")


def is_daily(cells: pl.LazyFrame) -> bool:
    """One row per symbol per date (exact repeats aside), over two dates or more."""
    rows = cells.filter(pl.col("day").is_not_null()).select("sym", "day", "timestamp", *VALUES).unique()
    per_day = rows.group_by("sym", "day").len()
    found = per_day.select(pl.col("len").max().alias("most"), pl.col("day").n_unique().alias("days")).collect()
    most, days = found.row(0)
    return most is not None and most == 1 and days >= 2


def at_session_close(cells: pl.LazyFrame, sessions_for: SessionsFor) -> pl.LazyFrame:
    """``ts`` of every row with a date: its session's close (kept when it already is a close);
    ``_no_session`` where the date has none."""
    first, last = cells.select(pl.col("day").min(), pl.col("day").max().alias("last")).collect().row(0)
    sessions = sessions_for(first, last)
    closes = pl.LazyFrame(
        {"day": np.array(sessions.labels, dtype="datetime64[D]"), "_close": sessions.closes},
        schema={"day": pl.Date, "_close": pl.Int64},
    )
    at_close = pl.col("ts").is_in(pl.Series(sessions.closes, dtype=pl.Int64).implode()).fill_null(False)
    dated = pl.col("day").is_not_null()
    no_session = dated & ~at_close & pl.col("_close").is_null()
    midnight = pl.col("day").cast(pl.Datetime("ns")).dt.epoch("ns")
    return (
        cells.join(closes, on="day", how="left", maintain_order="left")
        .with_columns(
            pl.when(~dated | at_close)
            .then(pl.col("ts"))
            .when(no_session)
            .then(midnight)
            .otherwise(pl.col("_close"))
            .alias("ts"),
            no_session.alias("_no_session"),
        )
        .drop("_close")
    )
