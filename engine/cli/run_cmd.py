"""``engine run``: journal a historical run over bars, or a long-running paper / live run
against the local venue or Alpaca (``--broker venue|alpaca``). The config comes from ``--config``,
the ``ENGINE__`` environment variables and the flags; its redacted summary goes to stderr before
the run starts (stdout stays the run's summary)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

import orjson

from engine.cli import EXIT_CHECK_FAILED, EXIT_OK, UsageError

if TYPE_CHECKING:
    from engine.config import Loaded
    from engine.journal.address import JournalAddress


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "run",
        help="run the strategy over bars or against a broker, journaling every event",
        description="Without --broker (or with --broker sim): a historical run over bars (the bundled "
        "AAPL/GOOG/IBM/MSFT daily data by default) with the in-process paper broker. With --broker venue or "
        "alpaca: a long-running run that polls the broker for bars and order updates, reconciles on start, "
        "resumes an existing journal, and stops cleanly on SIGINT/SIGTERM (exit 0). Every input and decision "
        "is journaled.",
    )
    p.add_argument(
        "--bars",
        metavar="FILE",
        help="bars as .csv, .csv.gz or .parquet with columns "
        "timestamp,symbol,open,high,low,close,volume (default: bundled data)",
    )
    p.add_argument("--config", metavar="FILE.toml", help="run configuration (default: built-in defaults)")
    p.add_argument(
        "--journal",
        metavar="PATH",
        default="journal.db",
        help="journal to create; a paper or live run resumes an existing one (default: %(default)s)",
    )
    p.add_argument(
        "--batch",
        type=int,
        default=4096,
        metavar="N",
        help="commit at least every N journal records (default: %(default)s)",
    )
    p.add_argument(
        "--replace",
        action="store_true",
        help="delete an existing journal at --journal first (refused while another process writes it)",
    )
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    live = p.add_argument_group("paper and live runs")
    live.add_argument(
        "--broker",
        choices=("sim", "venue", "alpaca"),
        help="sets broker.kind: sim (historical, default), venue (the local paper venue) or alpaca "
        '(Alpaca\'s paper endpoint; live needs [run] mode = "live" and --confirm-live)',
    )
    live.add_argument("--venue-url", metavar="URL", help="sets broker.venue_url (default http://127.0.0.1:8765)")
    live.add_argument(
        "--confirm-live", action="store_true", help='required to trade real money when [run] mode = "live"'
    )
    live.add_argument("--cycles", type=int, metavar="N", help="stop after N poll cycles (default: run until stopped)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import os

    from engine.config import ConfigError, load_sources
    from engine.feeds.calendar import CalendarError
    from engine.feeds.table import FeedError
    from engine.journal import JournalError, parse
    from engine.kernel import RunCancelled, RunError
    from engine.operator import InboxError
    from engine.runner import MarketInputs, _bar_inputs, simulated_run
    from engine.summary import data_problem, summary_dict, summary_text

    if args.batch < 1:
        raise UsageError("--batch must be at least 1")
    try:  # the journal path first: a file that is not a journal is refused before anything is loaded or printed
        journal = parse(args.journal)
        journal.check_target()
    except JournalError as exc:
        raise UsageError(str(exc)) from None
    overrides: dict[tuple[str, ...], object] = {("broker", "kind"): args.broker} if args.broker else {}
    if args.venue_url:
        overrides[("broker", "venue_url")] = args.venue_url
    try:
        loaded = load_sources(args.config, overrides, env=os.environ)
        cfg, snapshot = loaded.cfg, loaded.snapshot
        if cfg.broker.kind != "sim":
            return _live(args, loaded, journal)
        if args.confirm_live or args.cycles is not None:
            raise UsageError("--confirm-live and --cycles are for --broker venue|alpaca runs")
        if args.venue_url:
            raise UsageError("--venue-url is for --broker venue, not sim")

        def inputs() -> MarketInputs:
            market = _bar_inputs(cfg, args.bars)  # bars and calendar checked first: an error stays one line
            print(loaded.summary(), file=sys.stderr)
            return market

        result = simulated_run(cfg, snapshot, journal, inputs, batch=args.batch, replace=args.replace)
    except (ConfigError, FeedError, CalendarError, RunError, JournalError, InboxError) as exc:
        raise UsageError(str(exc)) from None
    except RunCancelled as exc:
        print(f"engine run: {exc}", file=sys.stderr)
        return 130
    if args.json:
        sys.stdout.write(orjson.dumps(summary_dict(result), option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        print(summary_text(result))
    problem = data_problem(result, cfg.run.universe)
    if problem:  # journaled and summarized, but a run on data that does not fit it is not a success
        print(f"engine run: the data does not fit this run: {problem}", file=sys.stderr)
        return EXIT_CHECK_FAILED
    return EXIT_OK


def _live(args: argparse.Namespace, loaded: Loaded, journal: JournalAddress) -> int:
    import logging
    import os

    from engine.kernel import RunCancelled
    from engine.live.crashpoints import CrashPointError
    from engine.live.runner import live_run
    from engine.live.setup import LiveSetupError, target
    from engine.redact import install_log_redaction
    from engine.summary import live_summary_text

    cfg, snapshot = loaded.cfg, loaded.snapshot
    if args.bars:
        raise UsageError("--bars is for historical runs; a paper or live run polls the broker for bars")
    if args.venue_url and cfg.broker.kind != "venue":
        raise UsageError(f"--venue-url is for --broker venue, not {cfg.broker.kind}")
    if args.cycles is not None and args.cycles < 1:
        raise UsageError("--cycles must be at least 1")
    try:
        target(cfg, os.environ, args.confirm_live)  # the start-up refusals come before the summary, on one line
    except LiveSetupError as exc:
        raise UsageError(str(exc)) from None
    print(loaded.summary(), file=sys.stderr)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    install_log_redaction()  # no URL password reaches the log, whatever a library puts in a message
    try:
        result = live_run(
            cfg, snapshot, journal, confirm_live=args.confirm_live, cycles=args.cycles, replace=args.replace
        )
    except (LiveSetupError, CrashPointError) as exc:
        raise UsageError(str(exc)) from None
    except RunCancelled as exc:
        print(f"engine run: {exc}", file=sys.stderr)
        return EXIT_OK
    if args.json:
        from engine.summary import live_summary_dict

        sys.stdout.write(orjson.dumps(live_summary_dict(result), option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        print(live_summary_text(result))
    return EXIT_OK
