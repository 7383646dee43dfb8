"""``engine project``: keep a projection of a Postgres journal in tables next to it (a projection worker)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from engine.cli import EXIT_OK, UsageError
from engine.kernel import StopRequest
from engine.workers import DEFAULT_BATCH, DEFAULT_POLL_SECONDS, ProjectionWorker, WorkerError, WorkerStopped
from engine.workers.tables import SPECS, output_table, position_table


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "project",
        help="run a projection worker: keep orders, positions or per-order TCA of a Postgres journal in tables",
        description="Fold a PostgreSQL journal into the tables <T>_proj_<projection> and <T>_proj_position "
        "(created if missing) next to the journal table T, committing the changed rows and the new journal "
        "position in one transaction per batch, then follow new records (LISTEN plus a poll). Restarting, "
        "also after kill -9, resumes from the committed position. SIGINT/SIGTERM stop it between transactions.",
    )
    parser.add_argument("--journal", required=True, metavar="URL", help="postgresql://user@host:port/db?table=T")
    parser.add_argument(
        "--projection",
        required=True,
        choices=tuple(SPECS),
        help="which projection to keep: orders (the rows of `engine query orders`), positions (one row per "
        "symbol) or tca (one row per submitted order: the per-order frame of `engine tca`, docs/tca.md)",
    )
    parser.add_argument("--once", action="store_true", help="fold up to the current head, then exit")
    parser.add_argument(
        "--poll-seconds",
        type=float,
        default=DEFAULT_POLL_SECONDS,
        metavar="S",
        help=f"read the journal at least every S seconds, notified or not (default: {DEFAULT_POLL_SECONDS:g})",
    )
    parser.add_argument(
        "--batch",
        type=int,
        default=DEFAULT_BATCH,
        metavar="N",
        help=f"records per transaction, at most (default: {DEFAULT_BATCH})",
    )
    parser.set_defaults(func=run)


def _note(message: str) -> None:
    print(f"engine project: {message}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    if not args.poll_seconds > 0:
        raise UsageError(f"--poll-seconds must be > 0, got {args.poll_seconds:g}")
    if args.batch < 1:
        raise UsageError(f"--batch must be >= 1, got {args.batch}")
    stop = StopRequest()
    with stop.installed():
        try:
            worker = ProjectionWorker(args.journal, args.projection, batch=args.batch)
        except WorkerError as exc:
            raise UsageError(str(exc)) from None
        try:
            return _work(worker, args, lambda: stop.requested)
        except WorkerError as exc:
            raise UsageError(str(exc)) from None
        finally:
            worker.close()


def _work(worker: ProjectionWorker, args: argparse.Namespace, stopping: Any) -> int:
    try:
        worker.recover(stopping)
    except WorkerStopped as at:
        _note(f"stopped during the start-up re-fold (at seq {at}); nothing written")
        return EXIT_OK
    p = worker.progress
    fixed = f"; rewrote {p.corrected} row(s) that differed from the re-fold" if p.corrected else ""
    _note(f"{args.projection} of {worker.loc}: resumed at seq {p.resumed_at}{fixed}")
    if args.once:
        worker.catch_up(stopping)
    else:
        _note(f"following (LISTEN {worker.loc.table}, poll every {args.poll_seconds:g} s)")
        while not stopping():
            worker.catch_up(stopping)
            if not stopping():
                worker.wait(args.poll_seconds, stopping)
    table = output_table(worker.loc.table, args.projection)
    print(
        f"{args.projection}: position {p.position} (journal head {worker.head()}); {p.records} record(s) folded "
        f"in {p.transactions} transaction(s), {p.rows_written} row(s) written since seq {p.resumed_at}; "
        f"tables {table}, {position_table(worker.loc.table)}"
    )
    return EXIT_OK
