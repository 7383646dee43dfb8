"""``engine verify JOURNAL``: check density, hash chain and canonical encoding."""

from __future__ import annotations

import argparse
from typing import Any

from engine.cli import EXIT_CHECK_FAILED, EXIT_OK, UsageError
from engine.journal.store import JournalError
from engine.journal.verify import verify_journal


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "verify",
        help="check a journal for tampering: sequence, hash chain, canonical events",
        description="Stream every record, recompute the sha256 chain from genesis and check each "
        "event decodes and re-encodes to its stored bytes. Prints the chain digest, or the "
        "first bad sequence number (exit 1).",
    )
    parser.add_argument("journal", metavar="JOURNAL", help="journal file (journal.db)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        result = verify_journal(args.journal)
    except JournalError as exc:
        raise UsageError(str(exc)) from None
    if not result.ok:
        print(f"TAMPERED at seq {result.bad_seq}: {result.problem}")
        return EXIT_CHECK_FAILED
    print(f"ok: {result.records} records, chain digest {result.digest.hex()}")
    return EXIT_OK
