"""``engine query events|orders|positions|pnl|costs``: projections of a journal, as of a seq."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from engine.cli import EXIT_OK, UsageError
from engine.journal.errors import JournalError
from projections import Snapshot, build, event_rows
from projections.costs import build_costs, costs_table
from projections.events import events_table
from projections.orders import orders_table
from projections.pnl import pnl_table
from projections.positions import positions_table
from projections.render import FORMATS, Format, Table, render

VIEWS = ("events", "orders", "positions", "pnl", "costs")


def add_parser(subparsers: Any) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--journal", required=True, metavar="PATH", help="journal file")
    common.add_argument(
        "--at",
        type=int,
        metavar="SEQ",
        help="state as of this sequence number (inclusive); default: the last record",
    )
    common.add_argument("--format", choices=FORMATS, default="table", help="output format (default: table)")
    parser = subparsers.add_parser(
        "query",
        help="orders, positions, P&L, cost model or events of a journal, at any sequence number",
        description="Fold a journal into a projection and print it. JSON and CSV keep exact "
        "decimal strings; the table rounds prices to 4 and money to 2 decimals.",
    )
    views = parser.add_subparsers(dest="view", required=True, metavar="VIEW")
    events = views.add_parser("events", parents=[common], help="list journal records")
    events.add_argument(
        "--type",
        action="append",
        default=[],
        metavar="NAME",
        help="only this event type, e.g. OrderFilled (repeatable)",
    )
    events.add_argument("--symbol", metavar="SYMBOL", help="only events of this symbol, e.g. AAPL")
    events.add_argument(
        "--order", metavar="CLIENT_ORDER_ID", help="only events of this order (its client_order_id, CID1-...)"
    )
    events.add_argument("--limit", type=int, metavar="N", help="at most N records (the first N)")
    views.add_parser("orders", parents=[common], help="one row per client_order_id")
    views.add_parser("positions", parents=[common], help="one row per symbol")
    views.add_parser("pnl", parents=[common], help="realized, unrealized, fees and net per symbol")
    views.add_parser("costs", parents=[common], help="the calibrated cost model per symbol (docs/execution.md)")
    parser.set_defaults(func=run)


def _table(args: argparse.Namespace) -> tuple[Table, Snapshot | None]:
    if args.view == "events":
        rows = event_rows(
            args.journal,
            at=args.at,
            types=args.type,
            symbol=args.symbol,
            client_order_id=args.order,
            limit=args.limit,
        )
        return events_table(rows), None
    if args.view == "costs":
        return costs_table(build_costs(args.journal, at=args.at)), None
    snap = build(args.journal, at=args.at)
    if args.view == "orders":
        return orders_table(snap.orders), snap
    if args.view == "positions":
        return positions_table(snap.positions), snap
    return pnl_table(snap.pnl), snap


def run(args: argparse.Namespace) -> int:
    if args.at is not None and args.at < 1:
        raise UsageError(f"--at must be a sequence number >= 1, got {args.at}")
    if getattr(args, "limit", None) is not None and args.limit < 1:
        raise UsageError(f"--limit must be >= 1, got {args.limit}")
    try:
        table, snap = _table(args)
    except JournalError as exc:
        raise UsageError(str(exc)) from None
    fmt: Format = args.format
    out = render(table, fmt)
    if snap is not None:
        for a in snap.anomalies:
            note = f"warning: seq {a.seq}: {a.code}: {a.detail} (report not applied)"
            print(note, file=sys.stderr)
        if fmt == "table":
            out += f"as of seq {snap.seq}\n"
    sys.stdout.write(out)
    return EXIT_OK
