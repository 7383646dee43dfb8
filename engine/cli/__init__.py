"""The ``engine`` command line. Each module of ``SUBCOMMANDS`` (``engine.cli.<name>_cmd``) exposes
``add_parser(subparsers)``, which adds its subcommand (``operator_cmd`` adds kill, resume and
approve), and ``run(args) -> int``. Exit codes: 0 success, 1 a check failed (divergence,
tampering), 2 usage or input error (missing file, bad config), 3 an operator command queued for
a running engine that has not journaled it yet."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import NoReturn

# operator: kill, resume, approve; reconfigure: ConfigChanged
SUBCOMMANDS = ("run", "replay", "verify", "journal", "migrate", "query", "project", "report", "tca", "schema", "venue",
               "operator", "reconfigure")
EXIT_OK, EXIT_CHECK_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """A user-facing error: printed as one line, exit code 2."""


class Parser(argparse.ArgumentParser):
    """argparse with its usage errors on one line, like every other error of the engine (the usage block
    is for ``--help``)."""

    def error(self, message: str) -> NoReturn:
        flat = " ".join(message.split())
        self.exit(EXIT_USAGE, f"{self.prog}: error: {flat} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="engine",
        description="Event-sourced trading engine: journal, deterministic core, replay.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in SUBCOMMANDS:
        module = importlib.import_module(f"engine.cli.{name}_cmd")
        module.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except UsageError as exc:
        from engine.redact import strip_credentials  # a journal address may carry a password: never shown

        print(f"engine {args.command}: error: {strip_credentials(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        return EXIT_OK
    return code


if __name__ == "__main__":
    sys.exit(main())
