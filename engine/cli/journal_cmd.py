"""``engine journal copy SRC DST``: move a journal between SQLite and PostgreSQL and prove the copy."""

from __future__ import annotations

import argparse
import os
from typing import Any

from engine.cli import EXIT_CHECK_FAILED, EXIT_OK, UsageError
from engine.journal.cipher import KEY_ENV

JOURNAL_HELP = "a SQLite file (journal.db) or postgresql://user[:password]@host:port/dbname?table=NAME"


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "journal",
        help="journal maintenance: copy a journal between SQLite and PostgreSQL, make a cipher key",
        description="Journal maintenance commands.",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    copy = actions.add_parser(
        "copy",
        help="copy a journal record for record and verify the copy",
        description="Copy every record of SRC, byte for byte, into DST (SQLite to PostgreSQL, back, or "
        "between two of either), in pages, up to SRC's last record when the copy starts (SRC may be being "
        "written). Then verify DST from genesis like `engine verify` and check it has SRC's record count "
        "and chain digest. Exit 1 when that check fails.",
    )
    copy.add_argument("src", metavar="SRC", help=f"the journal to copy: {JOURNAL_HELP}")
    copy.add_argument("dst", metavar="DST", help="the new journal (same forms); it must hold no records")
    copy.add_argument(
        "--replace", action="store_true", help="delete DST's records first (refused while another process writes DST)"
    )
    copy.add_argument(
        "--encrypt",
        action="store_true",
        help=f"make DST encrypted with the key in env {KEY_ENV} (SRC may be plaintext or encrypted)",
    )
    copy.add_argument(
        "--decrypt",
        action="store_true",
        help="copy an encrypted SRC into a plaintext DST (without it, an encrypted SRC needs --encrypt)",
    )
    copy.add_argument(
        "--source-key-env",
        metavar="VAR",
        default=KEY_ENV,
        help=f"the environment variable holding SRC's key, to re-key a journal (default: {KEY_ENV})",
    )
    copy.set_defaults(func=run_copy)
    new_key = actions.add_parser(
        "new-key",
        help="print a new random cipher key for encrypted journals",
        description=f"Print a new random AES-256 key (base64) for run.encrypt_journal / journal copy --encrypt. "
        f"Give it to the engine in env {KEY_ENV}; keep it in a secret store: without it an encrypted journal "
        "cannot be read.",
    )
    new_key.set_defaults(func=run_new_key)


def run_new_key(args: argparse.Namespace) -> int:
    from engine.journal.cipher import new_key

    print(new_key())
    return EXIT_OK


def run_copy(args: argparse.Namespace) -> int:
    from engine.journal import JournalError
    from engine.journal.copy import CopyFailed, copy_journal
    from engine.redact import shown

    src, dst = shown(args.src), shown(args.dst)
    src_key = os.environ.get(args.source_key_env) or None
    if args.source_key_env != KEY_ENV and src_key is None:
        raise UsageError(f"--source-key-env {args.source_key_env}: that environment variable is not set")
    try:
        result = copy_journal(
            args.src,
            args.dst,
            replace=args.replace,
            encrypt=args.encrypt,
            decrypt=args.decrypt,
            src_key=src_key,
            dst_key=os.environ.get(KEY_ENV) or None,
        )
    except JournalError as exc:
        raise UsageError(str(exc)) from None
    except CopyFailed as exc:
        print(f"FAILED: {exc}")
        return EXIT_CHECK_FAILED
    v = result.verified
    if not v.ok:
        print(f"FAILED: the copy {dst} does not verify: TAMPERED at seq {v.bad_seq}: {v.problem}")
        return EXIT_CHECK_FAILED
    if not result.ok:
        print(
            f"FAILED: the copy {dst} has {v.records} records, chain digest {v.digest.hex()}; "
            f"the source {src} has {result.records} records, chain digest {result.digest.hex()}"
        )
        return EXIT_CHECK_FAILED
    print(f"copied {result.records} records from {src} to {dst}, chain digest {result.digest.hex()} (verified)")
    return EXIT_OK
