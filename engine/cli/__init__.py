"""The ``engine`` command line. Each module of ``SUBCOMMANDS`` (``engine.cli.<name>_cmd``) exposes
``add_parser(subparsers)``, which adds its subcommand (``operator_cmd`` adds kill, resume and
approve), and ``run(args) -> int``. Exit codes: 0 success, 1 a check failed (divergence,
tampering), 2 usage or input error (missing file, bad config), 3 an operator command queued for
a running engine that has not journaled it yet."""

from __future__ import annotations

import argparse
import gc
import importlib
import sys
from collections.abc import Sequence
from typing import NoReturn

# command -> (the module of engine.cli that adds it, the line `engine --help` shows for it). Only the
# module of the command given is imported, so `engine --help` imports no subcommand; a test checks that
# each module registers exactly these commands with exactly these lines.
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("run_cmd", "run the strategy over bars or against a broker, journaling every event"),
    "replay": ("replay_cmd", "re-run recorded inputs through the current code and compare"),
    "verify": ("verify_cmd", "check a journal for tampering: sequence, hash chain, canonical events"),
    "journal": ("journal_cmd", "journal maintenance: copy a journal between SQLite and PostgreSQL, make a cipher key"),
    "migrate": ("migrate_cmd", "show, upgrade or downgrade a journal's schema version"),
    "query": ("query_cmd", "orders, positions, P&L, cost model or events of a journal, at any sequence number"),
    "project": (
        "project_cmd",
        "run a projection worker: keep orders, positions or per-order TCA of a Postgres journal in tables",
    ),
    "report": ("report_cmd", "write an HTML report of a journal: equity, drawdown, exposure, costs, orders"),
    "tca": ("tca_cmd", "transaction cost analysis: implementation shortfall per day, symbol, strategy or order type"),
    "schema": ("schema_cmd", "print the event catalogue's JSON Schema"),
    "venue": ("venue_cmd", "serve the local paper venue (Alpaca's REST API) over a bar file"),
    "kill": ("operator_cmd", "engage the kill switch (no new orders; --cancel-all cancels open ones)"),
    "resume": ("operator_cmd", "release the kill switch and lift a halt or reduce-only state"),
    "approve": ("operator_cmd", "approve a decision held for REVIEW"),
    "reconfigure": ("reconfigure_cmd", "change a running engine's configuration (journaled as ConfigChanged)"),
}
EXIT_OK, EXIT_CHECK_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """A user-facing error: printed as one line, exit code 2."""


class Parser(argparse.ArgumentParser):
    """argparse with its usage errors on one line, like every other error of the engine (the usage block
    is for ``--help``)."""

    def error(self, message: str) -> NoReturn:
        flat = " ".join(message.split())
        self.exit(EXIT_USAGE, f"{self.prog}: error: {flat} (see {self.prog} --help)\n")


def build_parser(command: str | None = None, *, every: bool = False) -> argparse.ArgumentParser:
    """The parser with the full subparser of ``command`` (all of them with ``every``); the other
    commands are listed with their help line only, their modules not imported."""
    parser = Parser(
        prog="engine",
        description="Event-sourced trading engine: journal, deterministic core, replay.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    wanted = {module for name, (module, _) in COMMANDS.items() if every or name == command}
    for module in sorted(wanted, key=[m for m, _ in COMMANDS.values()].index):
        importlib.import_module(f"engine.cli.{module}").add_parser(subparsers)
    for name, (_, line) in COMMANDS.items():
        if name not in subparsers.choices:
            subparsers.add_parser(name, help=line)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_in = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(args_in[0] if args_in and args_in[0] in COMMANDS else None)
    args = parser.parse_args(args_in)
    try:
        code: int = args.func(args)
    except UsageError as exc:
        from engine.redact import strip_credentials  # a journal address may carry a password: never shown

        print(f"engine {args.command}: error: {strip_credentials(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        return EXIT_OK
    return code


def console() -> NoReturn:
    """The ``engine`` program (the console script and ``python -m engine.cli``): ``main``, then exit.

    Before exiting, every object left is frozen out of the cyclic garbage collector (``gc.freeze``), so
    the interpreter's last collection at exit does not traverse and free them one by one: the process's
    memory goes back to the system at once (0.13 s of a 100,000-bar ``engine run``). Everything a
    command writes is committed and closed before ``main`` returns; exit still runs the ``atexit``
    handlers and flushes stdout and stderr. Not for callers of ``main`` in a longer-lived process."""
    code = main()
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    console()
