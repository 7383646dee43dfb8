"""``engine reconfigure``: change the configuration of a running (or stopped) engine, journaled as ConfigChanged.

The new configuration is loaded like ``engine run`` loads one (the TOML file, then ``ENGINE__``
environment variables; the same contract and errors). Its tables the core reads (``strategy``,
``orders``, ``oms``, ``risk`` and ``costs``) replace the running ones (the journal's last
``RunStarted`` or ``ConfigChanged``); ``run``, ``paper``, ``broker`` and ``strategy.name`` stay as the
run started (read by the process at start-up; the strategy's code version is recorded then), and a
file or variable that gives one of them another value is refused (restart the run instead). The
command prints every changed setting, then is delivered like ``engine kill`` (journaled directly when no
run holds the journal, else through the inbox; ``engine.cli.operator_cmd``). From its journal sequence
on, every decision carries the new ``config_hash``.
"""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING, Any

from engine.cli import UsageError
from engine.cli.operator_cmd import EXIT_CODES, WHERE, _common, default_actor, deliver, existing_journal

if TYPE_CHECKING:
    from engine.config import Loaded
    from engine.journal.address import JournalAddress

LIVE_TABLES = ("strategy", "orders", "oms", "risk", "costs")
START_UP_TABLES = ("run", "paper", "broker", "breakers", "bars")  # kept from the running configuration
START_UP_KEYS = ("strategy.name",)  # its code version is recorded at start (RunStarted.code_version)

HELP = f"""\
Replace the configuration the journal's engine runs under: journal ConfigChanged(config, config_hash,
previous_config_hash, actor, reason, command_id) with the whole new snapshot. NEW.toml is loaded
like `engine run --config` loads a file (with ENGINE__ environment variables, the same errors).
Its tables {", ".join(LIVE_TABLES)} replace the running ones; {", ".join(START_UP_TABLES)} and
strategy.name stay as the run started (they are read at start-up, and the strategy's code version
is recorded then), and a file or ENGINE__ variable giving one of them another value is refused:
restart the run instead.
Every changed setting is printed. A new strategy or new strategy parameters warm up again; new
cost settings restart the cost model's calibration.

{WHERE}"""


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "reconfigure",
        help="change a running engine's configuration (journaled as ConfigChanged)",
        description=HELP,
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", required=True, metavar="NEW.toml", help="the whole new configuration")
    parser.add_argument("--reason", required=True, help="why (journaled with the command)")
    parser.add_argument("--dry-run", action="store_true", help="print the changes and stop; journal nothing")
    _common(parser)
    parser.set_defaults(func=run)


def running_config(journal: JournalAddress) -> tuple[dict[str, Any], str]:
    """The snapshot and hash of the journal's last RunStarted or ConfigChanged."""
    from engine.journal.read import read_events
    from journal_schema.events import ConfigChanged, RunStarted

    found: tuple[dict[str, Any], str] | None = None
    for _, ev in read_events(journal, (RunStarted, ConfigChanged)):
        assert isinstance(ev, RunStarted | ConfigChanged)
        found = dict(ev.config), ev.config_hash
    if found is None:
        raise UsageError(f"journal {journal} has no RunStarted: there is no running configuration to change")
    return found


def changes(old: Any, new: Any, prefix: str = "") -> list[tuple[str, Any, Any]]:
    """``(dotted key, old, new)`` of every setting that differs (a missing key is None)."""
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[tuple[str, Any, Any]] = []
        for key in sorted(set(old) | set(new)):
            out += changes(old.get(key), new.get(key), f"{prefix}{key}.")
        return out
    return [] if old == new else [(prefix.rstrip("."), old, new)]


def new_snapshot(current: dict[str, Any], loaded: Loaded, name: str) -> dict[str, Any]:
    """The running snapshot with the live tables of ``loaded``; a start-up setting the file or the
    environment gives with another value than the running one is refused, naming its source."""
    from engine.config import ConfigError, resolve

    refused = []
    for key, sources in loaded.origins.items():
        dotted = ".".join(key)
        if key[0] in LIVE_TABLES and dotted not in START_UP_KEYS:
            continue
        running: Any = current
        for part in key:
            running = running.get(part) if isinstance(running, dict) else None
        value: Any = loaded.snapshot
        for part in key:
            value = value.get(part) if isinstance(value, dict) else None
        if value != running:
            refused.append(f"{dotted} ({sources[-1].label})")
    if refused:
        raise UsageError(
            f"{', '.join(refused)} cannot change while running (read at start-up: restart the run "
            f"with the new file); only {', '.join(LIVE_TABLES)} may, not strategy.name"
        )
    merged = {table: loaded.snapshot[table] if table in LIVE_TABLES else current[table] for table in current}
    merged["strategy"] = {**loaded.snapshot["strategy"], "name": current["strategy"]["name"]}
    try:
        return resolve(merged)[1]
    except ConfigError as exc:
        raise UsageError(f"{name} with the running start-up settings: {exc}") from None


def run(args: argparse.Namespace) -> int:
    from engine.config import ConfigError, config_hash, load_sources
    from engine.journal.errors import JournalError
    from engine.operator import Command
    from engine.operator.inbox import new_command_id

    if not str(args.reason).strip():
        raise UsageError("--reason must not be empty")
    journal = existing_journal(args.journal, args.wait)
    try:
        loaded = load_sources(args.config, None, env=os.environ)
        current, current_hash = running_config(journal)
    except (ConfigError, JournalError) as exc:
        raise UsageError(str(exc)) from None
    snapshot = new_snapshot(current, loaded, args.config)
    diff = changes(current, snapshot)
    new_hash = config_hash(snapshot)
    if not diff:
        raise UsageError(
            f"{args.config} gives the running configuration (config_hash {current_hash}): nothing to change"
        )
    for key, was, now in diff:
        print(f"  {key}: {_shown(key, was)} -> {_shown(key, now)}")
    print(f"config_hash {current_hash} -> {new_hash}")
    if args.dry_run:
        print("dry run: nothing journaled")
        return 0
    actor = args.actor if args.actor is not None else default_actor()
    cmd = Command(
        command_id=new_command_id(),
        kind="CONFIG",
        reason=str(args.reason),
        actor=actor,
        config=snapshot,
        config_hash=new_hash,
        previous_config_hash=current_hash,
    )
    return deliver(journal, cmd, float(args.wait))


def _shown(key: str, value: Any) -> str:
    """A setting's value for the change list, with secrets hidden as in the start-up summary."""
    from engine.config_env import redact

    value = redact(tuple(key.split(".")), value)
    return "(unset)" if value is None else repr(value) if isinstance(value, str) else str(value)
