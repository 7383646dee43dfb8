"""``engine kill`` / ``engine resume`` / ``engine approve``: operator commands, journaled as inputs.

When no process writes the journal the command journals the input itself (after any command still
queued in the inbox, so the journal keeps the order they were given in). When a run holds the
journal's writer lock the command is queued in the journal's inbox (``<journal>.inbox`` next to a SQLite
journal, the table ``<T>_inbox`` next to a Postgres one) and the run journals it at its
next input boundary; the command waits ``--wait`` seconds for that (``engine.operator``).
"""

from __future__ import annotations

import argparse
import getpass
import math
import os
import socket
import time
from typing import TYPE_CHECKING, Any

from engine.cli import EXIT_OK, UsageError

if TYPE_CHECKING:
    from engine.journal.address import JournalAddress
    from engine.operator import Command, CommandQueue


EXIT_QUEUED = 3
POLL_SECONDS = 0.1
DEFAULT_WAIT = 10.0

EXIT_CODES = """\
exit codes:
  0  journaled (by this command, or by the running engine within --wait)
  2  usage or input error (the journal does not exist or is not a journal, empty --reason)
  3  queued: a running engine holds the journal and has not journaled the command within --wait;
     it stays in the inbox (<journal>.inbox, or table <T>_inbox of a Postgres journal) and is
     journaled at the engine's next cycle (a live run that stopped journals it when it starts again)"""

WHERE = """\
If no process writes the journal, the command journals the input itself (at the wall clock, never
before the journal's last event). If a run holds the journal's writer lock, the command is queued
in the journal's inbox (<journal>.inbox; table <T>_inbox of a Postgres journal T) and the run
journals it at its next input boundary (every cycle of a live run, every 4096 inputs of a
historical run and before its RunEnded); the command waits --wait seconds for that and prints the
journal sequence number."""

KILL_HELP = f"""\
Engage the kill switch: journal KillSwitchEngaged(reason, actor, cancel_all, command_id). From then
on every decision is SKIPPED with reason KILL_SWITCH_ENGAGED (no new orders) until `engine resume`.
With --cancel-all every open order is also canceled once (OrderCancelRequested with cancel reason
KILL_SWITCH; a live run sends the cancels in the same cycle).

{WHERE}"""

RESUME_HELP = f"""\
Release the kill switch: journal KillSwitchReleased(reason, actor, command_id). Decisions are made
again; a halt or a reduce-only state is lifted too (TradingResumed with reason OPERATOR_RESUMED).

{WHERE}"""

APPROVE_HELP = f"""\
Approve a decision the policy gate held for REVIEW (REVIEW_REQUIRED; the decision id is in its
DecisionMade event and the REVIEW_REQUIRED alert): journal ReviewApproved(decision_id, actor, reason,
command_id). The core answers with ReviewResolved, printed here: APPROVED (decided again with the
REVIEW rules waived, reason OPERATOR_APPROVED), EXPIRED (nobody approved it before its expiry) or
NOT_FOUND (no decision of that id is waiting for review).

{WHERE}"""


def add_parser(subparsers: Any) -> None:
    """Add ``kill``, ``resume`` and ``approve`` (one module, three subcommands)."""
    kill = _subparser(
        subparsers, "kill", "engage the kill switch (no new orders; --cancel-all cancels open ones)", KILL_HELP
    )
    kill.add_argument("--reason", required=True, help="why (journaled with the command)")
    kill.add_argument(
        "--cancel-all", action="store_true", help="also cancel every open order once (cancel reason KILL_SWITCH)"
    )
    _common(kill)
    kill.set_defaults(func=run, kind="KILL")

    resume = _subparser(
        subparsers, "resume", "release the kill switch and lift a halt or reduce-only state", RESUME_HELP
    )
    resume.add_argument("--reason", required=True, help="why (journaled with the command)")
    _common(resume)
    resume.set_defaults(func=run, kind="RESUME")

    approve = _subparser(subparsers, "approve", "approve a decision held for REVIEW", APPROVE_HELP)
    approve.add_argument("decision_id", metavar="DECISION_ID", help="the decision held for review")
    approve.add_argument("--reason", default="", help="why (journaled with the command; optional)")
    _common(approve)
    approve.set_defaults(func=run, kind="APPROVE")


def _subparser(subparsers: Any, name: str, help_: str, description: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        name,
        help=help_,
        description=description,
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--journal",
        required=True,
        metavar="JOURNAL",
        help="the run's journal: journal.db or postgresql://user@host:port/db?table=T",
    )
    parser.add_argument("--actor", default=None, help="who gives the command (default: $USER@hostname)")
    parser.add_argument(
        "--wait",
        type=float,
        default=DEFAULT_WAIT,
        metavar="SECONDS",
        help=f"how long to wait for a running engine to journal it (default {DEFAULT_WAIT:g}; exit 3 if it has not)",
    )


def default_actor() -> str:
    user = os.environ.get("USER")
    if not user:
        try:
            user = getpass.getuser()
        except (OSError, KeyError):
            user = "unknown"
    return f"{user}@{socket.gethostname()}"


def run(args: argparse.Namespace) -> int:
    from engine.operator import Command
    from engine.operator.inbox import new_command_id

    reason = str(args.reason)
    decision_id = str(getattr(args, "decision_id", ""))
    if args.kind != "APPROVE" and not reason.strip():
        raise UsageError("--reason must not be empty")
    if args.kind == "APPROVE" and not decision_id.strip():
        raise UsageError("DECISION_ID must not be empty")
    journal = existing_journal(args.journal, args.wait)
    actor = args.actor if args.actor is not None else default_actor()
    cmd = Command(
        command_id=new_command_id(),
        kind=args.kind,
        reason=reason,
        actor=actor,
        cancel_all=bool(getattr(args, "cancel_all", False)),
        decision_id=decision_id,
    )
    return deliver(journal, cmd, float(args.wait))


def existing_journal(name: str, wait: float) -> JournalAddress:
    """The journal a command is for (it must exist and be a journal), after checking ``--wait``."""
    from engine.journal import JournalError, JournalReader, parse

    if math.isnan(wait) or wait < 0:
        raise UsageError("--wait must be a number of seconds, 0 or more")
    try:
        journal = parse(name)
        if journal.missing():
            raise UsageError(f"journal {journal} does not exist")
        JournalReader(journal).close()  # a journal, not any file (opening a writer would make it one)
    except JournalError as exc:
        raise UsageError(str(exc)) from None
    return journal


def deliver(journal: JournalAddress, cmd: Command, wait: float) -> int:
    """Journal ``cmd`` directly, or queue it for the run that holds the journal and wait for it."""
    from engine.journal.lock import JournalLockedError
    from engine.journal.store import JournalError
    from engine.operator import InboxError, open_inbox

    try:
        try:
            seq = _journal_directly(journal, cmd)
        except JournalLockedError:
            inbox = open_inbox(journal)
            try:
                queued = _queue(journal, inbox, cmd, wait)
            finally:
                inbox.close()
            if queued is None:
                return EXIT_QUEUED
            cmd, seq = queued
        else:
            print(f"journaled {cmd.event_name} at seq {seq} (command {cmd.command_id})")
        if cmd.kind == "APPROVE" and seq > 0:
            _print_review(journal, seq)
    except (JournalError, InboxError) as exc:
        raise UsageError(str(exc)) from None
    return EXIT_OK


def _journal_directly(journal: JournalAddress, cmd: Command) -> int:
    """Open the journal as its writer (``JournalLockedError`` if a run holds it), journal what the
    inbox still holds, then ``cmd``; returns the seq of ``cmd``."""
    from engine.operator import drain_inbox, journal_command
    from engine.shell import Engine

    engine = Engine.open(journal)
    try:
        ts = max(time.time_ns(), _last_ts(journal))  # shell: wall clock, but the stream time never goes back
        for earlier, seq in drain_inbox(engine, ts):
            print(f"journaled {earlier.event_name} at seq {seq} (command {earlier.command_id}, queued earlier)")
        return journal_command(engine, cmd, ts)
    finally:
        engine.close()


def _queue(journal: JournalAddress, inbox: CommandQueue, cmd: Command, wait: float) -> tuple[Command, int] | None:
    """Queue ``cmd`` for the running engine and wait for it to be journaled; returns the queued
    command (with the inbox's id) and its seq, or None (exit 3) if it is still pending."""
    from dataclasses import replace

    from engine.journal.lock import JournalLockedError
    from engine.operator import UNKNOWN_SEQ

    who = _holder(journal)
    command_id = inbox.queue(cmd)
    cmd = replace(cmd, command_id=command_id)
    holder = who if who is not None else "pid unknown: the lock file does not say"
    deadline = time.monotonic() + wait  # shell: how long the operator waits
    by_us = False
    while True:
        seq = inbox.status(command_id)
        if seq is not None:
            if by_us:
                print(
                    f"journaled {cmd.event_name} at seq {seq} (command {command_id}; the engine that held the "
                    "journal has stopped)"
                )
            elif seq == UNKNOWN_SEQ:  # journaled, then the engine restarted before marking it
                print(
                    f"journaled {cmd.event_name} by the running engine ({holder}); its seq was not recorded "
                    f"(command {command_id})"
                )
            else:
                print(f"journaled {cmd.event_name} at seq {seq} by the running engine ({holder})")
            return cmd, seq
        expired = time.monotonic() >= deadline  # shell: how long the operator waits
        if expired or _holder(journal) is None:  # the writer may have gone: journal it ourselves
            try:
                _drain_directly(journal)
            except JournalLockedError:
                pass  # still (or again) written by a run
            else:
                by_us = True
                continue  # the status now says where it went
        if expired:
            print(
                f"queued as command {command_id}: the running engine has not journaled it within {wait:g}s; "
                "it will when its next cycle runs"
            )
            return None
        time.sleep(POLL_SECONDS)


def _drain_directly(journal: JournalAddress) -> None:
    """The writer went away: journal what its inbox holds as the writer (``JournalLockedError`` if
    a run holds the journal again)."""
    from engine.operator import drain_inbox
    from engine.shell import Engine

    engine = Engine.open(journal)
    try:
        drain_inbox(engine, max(time.time_ns(), _last_ts(journal)))  # shell: an operator input's time is the wall clock
    finally:
        engine.close()


def _holder(journal: JournalAddress) -> str | None:
    """Who writes the journal: "pid N from the lock file" (SQLite), "backend pid N (...)" (the Postgres
    advisory lock's session); None when nobody does (or, for SQLite, the lock file names no pid)."""
    return journal.writer_holder()


def _last_ts(journal: JournalAddress) -> int:
    """Event time of the journal's last record (0 for an empty journal)."""
    from engine.journal import JournalReader

    with JournalReader(journal) as reader:
        last = reader.last_seq()
        for _, ev in reader.events(start=last) if last else ():
            return int(ev.ts)
    return 0


def _print_review(journal: JournalAddress, seq: int) -> None:
    """Print the ReviewResolved the core derived from the approval at ``seq`` (in its group: the
    records after it up to the next input); nothing if there is none."""
    from engine.journal import JournalReader
    from journal_schema.catalogue import INPUT_TYPE_SET
    from journal_schema.risk_events import ReviewResolved

    with JournalReader(journal) as reader:
        for _, ev in reader.events(start=seq + 1):
            if type(ev) in INPUT_TYPE_SET:
                return
            if isinstance(ev, ReviewResolved) and ev.cause_seq == seq:
                detail = f": {ev.detail}" if ev.detail else ""
                print(f"review of decision {ev.decision_id}: {ev.outcome}{detail}")
                return
