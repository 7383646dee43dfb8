"""``engine venue``: serve the local paper venue (the Alpaca REST subset alpaca-py uses) over a bar file."""

from __future__ import annotations

import argparse
import logging
import math
import os
import signal
import sqlite3
import sys
import threading
from decimal import Decimal, InvalidOperation
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from engine.cli import EXIT_OK, UsageError

if TYPE_CHECKING:
    from engine.venue.faults import FaultPlan
    from engine.venue.server import VenueServer

WAIT_SECONDS = 0.2  # how often the main thread looks at the stop flag
MAX_SYMBOLS_SHOWN = 10


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "venue",
        help="serve the local paper venue (Alpaca's REST API) over a bar file",
        description="Serve the local paper venue on HOST:PORT: the subset of Alpaca's trading and market-data "
        "REST API that alpaca-py uses, replaying a bar file as the market clock and filling orders with the "
        "paper fill model. State (orders, fills, positions, cash, the replay position) lives in --db, so a "
        "restart resumes. Serves until SIGINT or SIGTERM (exit 0). Admin endpoints under /venue/.",
    )
    p.add_argument(
        "--bars",
        required=True,
        metavar="FILE",
        help="bars as .csv, .csv.gz or .parquet with columns timestamp,symbol,open,high,low,close,volume",
    )
    p.add_argument("--port", type=int, default=8765, metavar="P", help="TCP port (default: %(default)s; 0: a free one)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    p.add_argument(
        "--speed",
        type=float,
        default=60.0,
        metavar="X",
        help="simulated seconds per wall second (default: %(default)g)",
    )
    p.add_argument("--manual", action="store_true", help="no replay driver: the clock moves only on POST /venue/step")
    p.add_argument("--db", default="venue.db", metavar="PATH", help="venue database (default: %(default)s)")
    p.add_argument(
        "--config",
        metavar="FILE.toml",
        help="run configuration: [paper] fill costs, [run] seed and calendar (default: built-in defaults)",
    )
    p.add_argument(
        "--cash", default="100000", metavar="USD", help="starting cash of a new database (default: %(default)s)"
    )
    p.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="KIND=PROB",
        help="inject fault KIND with probability PROB (repeatable); kinds: http_429, http_500, "
        "http_502, http_503, http_504, timeout, accept_then_timeout, accept_then_drop",
    )
    p.add_argument(
        "--fault-seed", type=int, metavar="N", help="seed of the fault draws (default: [run] seed of --config, else 0)"
    )
    p.add_argument(
        "--retry-after",
        type=float,
        default=1.0,
        metavar="S",
        help="Retry-After of an injected 429, whole seconds rounded up (default: %(default)g)",
    )
    p.add_argument(
        "--hold",
        type=float,
        default=15.0,
        metavar="S",
        help="how long a timeout fault holds the connection (default: %(default)g)",
    )
    p.add_argument(
        "--port-file",
        metavar="PATH",
        help="once listening, write the port number to PATH (atomically; removed at a clean stop)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        return _serve(args, stop)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _serve(args: argparse.Namespace, stop: threading.Event) -> int:
    from engine.redact import install_log_redaction
    from engine.venue.wire import utc_text

    logging.basicConfig(level=logging.WARNING, format="venue: %(levelname)s %(message)s", stream=sys.stderr)
    install_log_redaction()
    if args.port_file:
        _check_port_file(Path(args.port_file))
    server = _build(args)
    try:
        server.start()
        if args.port_file:
            _write_port_file(Path(args.port_file), server.port)
    except BaseException:
        server.stop()
        raise
    replay = server.market.replay if server.market is not None else None
    count = sum(len(rows) for rows in replay.by_ts.values()) if replay else 0
    symbols = sorted(replay.by_symbol) if replay else []
    shown = ",".join(symbols[:MAX_SYMBOLS_SHOWN]) + (
        f",... (+{len(symbols) - MAX_SYMBOLS_SHOWN} more)" if len(symbols) > MAX_SYMBOLS_SHOWN else ""
    )
    pace = "manual" if args.manual else f"speed {args.speed:g}"
    print(
        f"venue: serving http://{args.host}:{server.port} (bars {args.bars}: {count} bars, {shown}, {pace}, "
        f"db {args.db})",
        flush=True,
    )
    plan = server.faults.plan
    if plan.active():
        print(f"venue: faults {plan.describe()}", flush=True)
    try:
        while not stop.wait(WAIT_SECONDS):
            pass
    finally:
        orders, _ = server.store.counts()  # read before the database closes
        sim_time = utc_text(server.app.clock().timestamp)
        server.stop()
        if args.port_file and _is_port_file(Path(args.port_file), server.port):
            Path(args.port_file).unlink()  # ours: another file put there meanwhile is left alone
    print(f"venue: stopped at sim time {sim_time} ({orders} orders)", flush=True)
    return EXIT_OK


def _is_port_file(path: Path, port: int | None = None) -> bool:
    """A port file (a port number and a newline; this ``port`` when given), read without following a link."""
    try:
        text = path.read_bytes()[:16] if path.is_file() and not path.is_symlink() else b""
    except OSError:
        return False
    return text.endswith(b"\n") and text[:-1].isdigit() and (port is None or int(text[:-1]) == port)


def _check_port_file(path: Path) -> None:
    """--port-file may be a new path or an earlier port file: anything else is refused, untouched."""
    if (path.exists() or path.is_symlink()) and not _is_port_file(path):
        raise UsageError(f"--port-file {path} exists and is not a port file: it is left as it is; choose another path")
    if not path.parent.is_dir():
        raise UsageError(f"--port-file {path}: directory {path.parent} does not exist")


def _write_port_file(path: Path, port: int) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(f"{port}\n", encoding="ascii")
        os.replace(tmp, path)  # readers see no file or the whole number
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise UsageError(f"cannot write --port-file {path}: {exc.strerror or exc}") from None


def _plan(args: argparse.Namespace, default_seed: int) -> FaultPlan:
    from engine.venue.faults import FaultPlan, FaultPlanError, parse_fault_args

    for flag, value in (("--retry-after", args.retry_after), ("--hold", args.hold)):
        if not math.isfinite(value) or value < 0:
            raise UsageError(f"{flag} must be a number of seconds >= 0, got {value:g}")
    try:
        probabilities = parse_fault_args(args.fault)
        seed = default_seed if args.fault_seed is None else args.fault_seed
        return FaultPlan.of(probabilities, seed=seed, retry_after_seconds=args.retry_after, hold_seconds=args.hold)
    except FaultPlanError as exc:
        raise UsageError(str(exc)) from None


def _cash(text: str) -> Decimal:
    try:
        cash = Decimal(text)
    except InvalidOperation:
        raise UsageError(f"--cash {text!r} is not a number") from None
    if not cash.is_finite() or cash < 0:
        raise UsageError(f"--cash must be a finite amount >= 0, got {text}")
    return cash


def _build(args: argparse.Namespace) -> VenueServer:
    from engine.broker.paper import cost_model
    from engine.config import ConfigError, load
    from engine.feeds.table import FeedError, read_bar_file
    from engine.venue.market import MarketConfig
    from engine.venue.server import VenueServer

    cash = _cash(args.cash)
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be between 0 and 65535, got {args.port}")
    if not args.manual and not (math.isfinite(args.speed) and args.speed > 0):
        raise UsageError(f"--speed must be a positive number of simulated seconds per wall second, got {args.speed:g}")
    try:
        cfg, _ = load(args.config, env=os.environ)  # ENGINE__ variables apply here too
        bars = read_bar_file(args.bars, cfg.bars.limits(), cfg.run.calendar)
    except (ConfigError, FeedError) as exc:
        raise UsageError(str(exc)) from None
    plan = _plan(args, cfg.run.seed)
    market = MarketConfig(bars=bars, calendar=cfg.run.calendar, costs=cost_model(cfg.paper), seed=cfg.run.seed)
    try:
        return VenueServer(
            args.db,
            None,
            cash,
            host=args.host,
            port=args.port,
            market=market,
            speed=None if args.manual else args.speed,
            faults=plan,
        )
    except sqlite3.Error as exc:
        raise UsageError(f"cannot use venue database {args.db}: {exc}") from None
    except OSError as exc:
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    except ValueError as exc:  # VenueConfigError (another bar file), VenueDbError, CalendarError, no usable bars
        raise UsageError(str(exc)) from None
