"""``engine replay``: prove the current code reproduces a journal byte for byte."""

from __future__ import annotations

import argparse

import msgspec

from engine.cli import EXIT_CHECK_FAILED, EXIT_OK, UsageError


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "replay",
        help="re-run recorded inputs through the current code and compare",
        description="Feed the journal's recorded inputs, in order, through the current core and compare "
        "every derived event byte for byte. Exit 0 and print the chain digest when identical; exit 1 "
        "at the first divergence (or tampered record) with both events and a field-level diff.",
    )
    p.add_argument("--from", dest="journal", required=True, metavar="JOURNAL", help="journal to replay")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from engine.config import one_line
    from engine.core.strategy import StrategyError
    from engine.journal import JournalError
    from replay import replay_journal

    try:
        result = replay_journal(args.journal)
    except (JournalError, StrategyError) as exc:
        raise UsageError(str(exc)) from None
    except ValidationError as exc:
        raise UsageError(f"the journal's config does not validate under the current code: {one_line(exc)}") from None
    d = result.divergence
    if d is None:
        print(f"identical: {result.records} records ({result.inputs} inputs, {result.derived} derived), "
              f"digest {result.digest}")
        return EXIT_OK
    print(f"DIVERGED at seq {d.seq}: {d.kind}: {d.message}")
    if d.recorded is not None:
        print(f"  recorded: {msgspec.json.encode(d.recorded).decode()}")
    if d.replayed is not None:
        print(f"  replayed: {msgspec.json.encode(d.replayed).decode()}")
    for line in d.diff:
        print(f"  diff {line}")
    return EXIT_CHECK_FAILED
