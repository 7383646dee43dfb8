"""The command table of ``engine.cli``: ``engine --help`` imports no subcommand, and the table says
what the subcommand modules register."""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys

from engine.cli import COMMANDS, build_parser

HEAVY = ("polars", "numpy", "psycopg", "pydantic", "msgspec", "engine.runner", "engine.journal", "projections")


def _registered(module: str) -> dict[str, str | None]:
    """The commands ``module`` adds, with their help lines."""
    parser = argparse.ArgumentParser()
    subparsers = parser.add_subparsers()
    importlib.import_module(f"engine.cli.{module}").add_parser(subparsers)
    return {action.dest: action.help for action in subparsers._choices_actions}


def test_the_table_lists_exactly_what_each_module_registers() -> None:
    modules = {module for module, _ in COMMANDS.values()}
    registered = {name: (module, line) for module in modules for name, line in _registered(module).items()}
    assert registered == COMMANDS


def test_engine_help_imports_no_subcommand_and_nothing_heavy() -> None:
    code = (
        "import sys\n"
        "from engine.cli import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print(sorted(m for m in sys.modules if m.startswith({HEAVY!r}) or m.endswith('_cmd')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "run the strategy over bars" in done.stdout  # the help was printed
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_a_command_gets_its_full_parser_and_the_others_stay_listed() -> None:
    parser = build_parser("kill")
    args = parser.parse_args(["kill", "--reason", "r", "--journal", "j.db"])
    assert args.command == "kill" and args.reason == "r"
    every = build_parser(every=True)
    assert set(every._subparsers._group_actions[0].choices) == set(COMMANDS)  # type: ignore[union-attr]
