"""``engine tca``: the execution (transaction cost) report of a journal, per day, symbol, strategy or
order type, as of any sequence number."""

from __future__ import annotations

import argparse
import csv
import io
import sys
from typing import Any

import msgspec

from engine.cli import EXIT_OK, UsageError

FORMATS = ("table", "json", "csv")
GROUPINGS = ("day", "symbol", "strategy", "order_type")  # projections.tca_report.GROUPINGS (lazy import)
MACHINE_PLACES = 6
DESCRIPTION = """\
Fold a journal into per-order TCA (decision, arrival, fill and end prices; delay, execution, fee
and opportunity costs) and print an execution report: one row per group, then a TOTAL row. JSON
and CSV keep the column order below and round figures to 6 decimals; the table rounds bps and USD
to 2 decimals and fill_rate to 3."""
EPILOG = """\
columns (one row per group, then TOTAL; definitions in docs/tca.md):
  orders            orders submitted (one per client_order_id with an OrderSubmitRequested)
  filled_orders     orders filled completely
  partial_orders    orders with more than one fill, or filled in part
  fill_rate         filled quantity / ordered quantity
  notional          sum of qty x decision price (USD)
  is_bps_mean       implementation shortfall per order, bps of its notional: mean,
  is_bps_wmean        notional-weighted mean (sum of IS USD / sum of notional),
  is_bps_p50..p95     and percentiles (linear interpolation); positive = cost
  spread_paid_bps_* effective half-spread paid against the fill's quote (fills with bid/ask)
  delay_bps_mean    decision price -> arrival price, on the filled quantity
  execution_bps_mean  arrival price -> fill VWAP, on the filled quantity
  fees_bps_mean     fees
  opportunity_bps_mean  decision price -> end price, on the unfilled quantity
  rejects, cancels  orders rejected by the broker / canceled (in full or in part)
  blocked_<REASON>  decisions not ACCEPTED (one per reason code; gate POLICY) and orders
                    stopped by a pre-trade check (OrderBlocked; gate PRE_TRADE), per reason;
                    --by order_type counts them under the run's configured order type
"""


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "tca",
        help="transaction cost analysis: implementation shortfall per day, symbol, strategy or order type",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--journal", required=True, metavar="PATH", help="journal file")
    parser.add_argument(
        "--at",
        type=int,
        metavar="SEQ",
        help="as of this sequence number (inclusive); default: the last record",
    )
    parser.add_argument("--by", choices=GROUPINGS, default="day", help="one row per ... (default: day, the session)")
    parser.add_argument("--format", choices=FORMATS, default="table", help="output format (default: table)")
    parser.set_defaults(func=run)


def _cell(name: str, value: object) -> str:
    """A value for people: counts as integers, bps and USD with 2 decimals, fill_rate with 3."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}" if name == "fill_rate" else f"{value:.2f}"
    return str(value)


def _machine(value: object) -> object:
    return round(value, MACHINE_PLACES) if isinstance(value, float) else value


def render_rows(columns: list[str], rows: list[tuple[object, ...]], fmt: str) -> str:
    """The report as ``table``, ``json`` (an array, one object per line) or ``csv`` (header row)."""
    if fmt == "json":
        lines = [msgspec.json.encode(dict(zip(columns, map(_machine, r), strict=True))).decode() for r in rows]
        return "[\n" + ",\n".join(lines) + "\n]\n" if lines else "[]\n"
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([["" if v is None else _machine(v) for v in r] for r in rows])
        return out.getvalue()
    from projections.render import Column, Table, render_table

    kinds = [Column(c, "text" if i == 0 else "int") for i, c in enumerate(columns)]  # "int": right-aligned
    cells = [tuple(_cell(c, v) for c, v in zip(columns, r, strict=True)) for r in rows]
    return render_table(Table(tuple(kinds), cells))


def run(args: argparse.Namespace) -> int:
    from engine.journal.errors import JournalError
    from projections.tca import load_tca
    from projections.tca_report import tca_report

    if args.at is not None and args.at < 1:
        raise UsageError(f"--at must be a sequence number >= 1, got {args.at}")
    try:
        report = tca_report(load_tca(args.journal, at=args.at), args.by)
    except JournalError as exc:
        raise UsageError(str(exc)) from None
    sys.stdout.write(render_rows(report.columns, report.rows(), args.format))
    return EXIT_OK
