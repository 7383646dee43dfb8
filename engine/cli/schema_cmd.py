"""``engine schema``: the event catalogue's JSON Schema, or its fingerprint."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import msgspec

from engine.cli import EXIT_OK
from journal_schema.catalogue import canonical_schema_bytes, schema_fingerprint


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "schema",
        help="print the event catalogue's JSON Schema",
        description="Print the JSON Schema of every journaled event type (keys sorted), "
        "or with --fingerprint only its sha256 fingerprint (as recorded in RunStarted).",
    )
    parser.add_argument("--fingerprint", action="store_true", help="print only the schema fingerprint")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.fingerprint:
        sys.stdout.write(schema_fingerprint() + "\n")
    else:
        sys.stdout.write(msgspec.json.format(canonical_schema_bytes(), indent=2).decode() + "\n")
    return EXIT_OK
