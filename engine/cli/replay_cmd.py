"""``engine replay``: prove the current code reproduces a journal byte for byte, or (with
``--config`` and ``--out``) re-run its market inputs under another config and compare."""

from __future__ import annotations

import argparse
import os
import sys

import msgspec

from engine.cli import EXIT_CHECK_FAILED, EXIT_OK, UsageError


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "replay",
        help="re-run recorded inputs through the current code and compare",
        description="Feed the journal's recorded inputs, in order, through the current core and compare "
        "every derived event byte for byte. Exit 0 and print the chain digest when identical; exit 1 "
        "at the first divergence (or tampered record) with both events and a field-level diff. "
        "With --config and --out (a what-if replay): run the journal's recorded market inputs (bars, "
        "rejected bars, session opens and closes) under another config, with fills from the paper broker, "
        "into the new journal --out, and print a comparison of the two journals (also written to "
        "<out>.comparison.json, or <table>.comparison.json in the working directory when --out is a "
        "postgresql:// journal).",
    )
    p.add_argument("--from", dest="journal", required=True, metavar="JOURNAL", help="journal to replay")
    w = p.add_argument_group("what-if replay (--config and --out together)")
    w.add_argument("--config", metavar="FILE.toml", help="the config to run the recorded market inputs under")
    w.add_argument(
        "--out",
        metavar="JOURNAL",
        help="the new journal to write (not the --from journal): a SQLite file or "
        "postgresql://user@host:port/db?table=T",
    )
    w.add_argument(
        "--replace",
        action="store_true",
        help="delete an existing --out first (refused while another process writes it)",
    )
    w.add_argument("--format", choices=("table", "json"), help="print the comparison as a table (default) or JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if (args.config is None) != (args.out is None):
        raise UsageError("--config and --out go together (a what-if replay)")
    if args.config is not None:
        return _whatif(args)
    if args.replace or args.format is not None:
        raise UsageError("--replace and --format are for a what-if replay (--config with --out)")
    return _verify(args)


def _verify(args: argparse.Namespace) -> int:
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
        print(
            f"identical: {result.records} records ({result.inputs} inputs, {result.derived} derived), "
            f"digest {result.digest}"
        )
        return EXIT_OK
    print(f"DIVERGED at seq {d.seq}: {d.kind}: {d.message}")
    if d.recorded is not None:
        print(f"  recorded: {msgspec.json.encode(d.recorded).decode()}")
    if d.replayed is not None:
        print(f"  replayed: {msgspec.json.encode(d.replayed).decode()}")
    for line in d.diff:
        print(f"  diff {line}")
    return EXIT_CHECK_FAILED


def _whatif(args: argparse.Namespace) -> int:
    import orjson

    from engine.config import ConfigError, load
    from engine.journal import JournalError
    from engine.kernel import RunCancelled, RunError
    from replay.compare import comparison_dict, comparison_text
    from replay.whatif import WhatIfError, whatif

    try:
        cfg, snapshot = load(args.config, env=os.environ)  # ENGINE__ variables apply here too
        result = whatif(args.journal, cfg, snapshot, args.out, replace=args.replace)
    except (ConfigError, WhatIfError, RunError, JournalError) as exc:
        raise UsageError(str(exc)) from None
    except RunCancelled as exc:
        print(f"engine replay: {exc}", file=sys.stderr)
        return 130
    if args.format == "json":
        sys.stdout.write(orjson.dumps(comparison_dict(result.comparison), option=orjson.OPT_INDENT_2).decode() + "\n")
        return EXIT_OK
    r = result.run
    print(f"what-if run {r.run_id} on {r.dataset}: {r.end_reason}")
    print(f"  journal     {r.journal} ({r.last_seq} events)")
    print(f"  digest      {r.digest}")
    print(f"  comparison  {result.comparison_path}")
    print()
    sys.stdout.write(comparison_text(result.comparison))
    return EXIT_OK
