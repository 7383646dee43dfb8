"""``engine run``: journal a paper-trading run over historical bars."""

from __future__ import annotations

import argparse
import sys

import orjson

from engine.cli import EXIT_OK, UsageError


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "run",
        help="run the strategy over bars, journaling every event",
        description="Run a paper-trading session over historical bars (the bundled AAPL/GOOG/IBM/MSFT "
        "daily data by default) with the in-process paper broker, journaling every input and decision.",
    )
    p.add_argument("--bars", metavar="FILE", help="bars as .csv, .csv.gz or .parquet with columns "
                   "timestamp,symbol,open,high,low,close,volume (default: bundled data)")
    p.add_argument("--config", metavar="FILE.toml", help="run configuration (default: built-in defaults)")
    p.add_argument("--journal", metavar="PATH", default="journal.db", help="journal to create (default: %(default)s)")
    p.add_argument("--batch", type=int, default=4096, metavar="N",
                   help="commit at least every N journal records (default: %(default)s)")
    p.add_argument("--replace", action="store_true",
                   help="delete an existing journal at --journal first (refused while another process writes it)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from engine.config import ConfigError, load
    from engine.feeds.calendar import CalendarError
    from engine.feeds.table import FeedError
    from engine.journal import JournalError, JournalLockedError
    from engine.runner import RunCancelled, RunError, historical_run
    from engine.summary import summary_dict, summary_text

    if args.batch < 1:
        raise UsageError("--batch must be at least 1")
    try:
        cfg, snapshot = load(args.config)
        result = historical_run(cfg, snapshot, args.journal, bars=args.bars, batch=args.batch,
                                replace=args.replace)
    except (ConfigError, FeedError, CalendarError, RunError, JournalError, JournalLockedError) as exc:
        raise UsageError(str(exc)) from None
    except RunCancelled as exc:
        print(f"engine run: {exc}", file=sys.stderr)
        return 130
    if args.json:
        sys.stdout.write(orjson.dumps(summary_dict(result), option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        print(summary_text(result))
    return EXIT_OK
