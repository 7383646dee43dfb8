"""``engine report``: one self-contained HTML file with the run's charts, costs and orders."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from engine.cli import EXIT_OK, UsageError

if TYPE_CHECKING:
    from engine.journal.address import JournalLike
    from projections.report_html import ReportData


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "report",
        help="write an HTML report of a journal: equity, drawdown, exposure, costs, orders",
        description="Fold a journal (as of --at) into one self-contained HTML file that opens offline: the "
        "run's identity, P&L, order/fill/block counts, equity, drawdown and exposure charts, TCA histograms "
        "and one row per order. The same journal gives the same bytes.",
    )
    parser.add_argument("--journal", required=True, metavar="PATH", help="journal file")
    parser.add_argument(
        "--out",
        required=True,
        metavar="FILE",
        help="HTML file to write: a new path, or an earlier report (replaced); anything else, and "
        "the journal itself, is refused untouched",
    )
    parser.add_argument(
        "--at", type=int, metavar="SEQ", help="state as of this sequence number (inclusive); default: the last record"
    )
    parser.set_defaults(func=run)


def collect(journal: JournalLike, at: int | None = None) -> ReportData:
    """Fold the journal once for the equity series and the ledger, once for the TCA."""
    from engine.journal.address import parse
    from projections.equity import EquityCurve
    from projections.fold import fold
    from projections.report_html import ReportData
    from projections.snapshot import snapshot_of
    from projections.tca import load_tca

    address = parse(journal)
    curve = EquityCurve()
    fold(address, [curve], at=at)
    return ReportData(
        journal=address.label,
        run=curve.run,
        capital=curve.capital,
        equity=curve.frame(),
        snapshot=snapshot_of(curve.ledger),
        tca=load_tca(address, at=at),
    )


def run(args: argparse.Namespace) -> int:
    from engine.journal.address import parse
    from engine.journal.errors import JournalError
    from engine.journal.target import output_file, starts_with, write_atomically
    from projections.report_html import REPORT_HEAD, render

    if args.at is not None and args.at < 1:
        raise UsageError(f"--at must be a sequence number >= 1, got {args.at}")
    try:  # checked before the journal is folded: a refused --out costs nothing and is left untouched
        journal = parse(args.journal)
        reads = journal.files()
        out = output_file(args.out, what="report", ours=lambda p: starts_with(p, REPORT_HEAD.encode()), reads=reads)
        page = render(collect(journal, args.at)).encode()
    except JournalError as exc:
        raise UsageError(str(exc)) from None
    try:
        write_atomically(out, page)
    except OSError as exc:
        raise UsageError(f"cannot write {args.out}: {exc.strerror or exc}") from None
    print(f"wrote {args.out} ({len(page)} bytes)")
    return EXIT_OK
