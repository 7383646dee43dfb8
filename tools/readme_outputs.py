"""Regenerate the command outputs the README shows, from the code as it is.

    python -m tools.readme_outputs [--check]

Every ``console`` block of README.md whose commands are ``make run`` or ``.venv/bin/engine ...`` is
re-run in a temporary directory, in README order (so ``journal.db`` is the one ``make run`` wrote),
and its output replaced. The directory holds ``bars.csv`` and ``small.toml`` (the 14-bar example of
docs/cli.md, kept in docs/examples/) and a link to ``docs/``. A block whose output ends in a line
``  ...`` keeps its length (the README shows its head); ``make run`` keeps its install lines.
Blocks that start long-running processes (``engine venue``, ``--broker``) and ``make test`` are left
alone. ``--check`` changes nothing and exits 1 when a block differs in more than what the commit
enters: the run manifest records the git commit, so chain digests (and the what-if run id, derived
from the recorded journal) cannot be those of the README's own commit and are not compared.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
ENGINE = ROOT / ".venv" / "bin" / "engine"
MAKE_RUN = ".venv/bin/engine run --journal journal.db --replace"
SKIPPED = ("engine venue", "--broker", "make test")
BLOCK = re.compile(r"^```console\n(.*?)^```$", re.S | re.M)
COMMIT_BOUND = re.compile(r"(digest +)[0-9a-f]{64}|^(what-if run )run-[0-9a-f]{16}", re.M)


def _masked(text: str) -> str:
    return COMMIT_BOUND.sub(lambda m: (m.group(1) or m.group(2)) + "<commit-bound>", text)


def _run(command: str, cwd: Path) -> list[str]:
    shell = command.replace(".venv/bin/engine", str(ENGINE))
    done = subprocess.run(shell, shell=True, cwd=cwd, capture_output=True, text=True, check=False)  # noqa: S602
    if done.returncode not in (0, 1):
        raise SystemExit(f"{command!r} exited {done.returncode}: {done.stderr.strip()}")
    return (done.stderr + done.stdout).splitlines()


def _refresh(block: str, cwd: Path) -> str:
    lines = block.splitlines()
    commands = [i for i, line in enumerate(lines) if line.startswith("$ ")]
    if not commands or any(any(s in lines[i] for s in SKIPPED) for i in commands):
        return block
    if lines[commands[0]] == "$ make run":
        keep = lines.index(MAKE_RUN) + 1
        return "\n".join([*lines[:keep], *_run(MAKE_RUN, cwd)]) + "\n"
    out: list[str] = []
    for n, i in enumerate(commands):
        end = commands[n + 1] if n + 1 < len(commands) else len(lines)
        old = lines[i + 1 : end]
        new = _run(lines[i][2:], cwd)
        if old and old[-1] == "  ...":
            new = [*new[: len(old) - 1], "  ..."]
        out += [lines[i], *new]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when the README is out of date")
    args = parser.parse_args(argv)
    text = README.read_text()
    with tempfile.TemporaryDirectory(prefix="readme-") as tmp:
        cwd = Path(tmp)
        shutil.copy(ROOT / "docs" / "examples" / "bars.csv", cwd / "bars.csv")
        shutil.copy(ROOT / "docs" / "examples" / "small.toml", cwd / "small.toml")
        (cwd / "docs").symlink_to(ROOT / "docs")
        new = BLOCK.sub(lambda m: "```console\n" + _refresh(m.group(1), cwd) + "```", text)
    if new == text or (args.check and _masked(new) == _masked(text)):
        print("README outputs are current")
        return 0
    if args.check:
        print("README outputs differ from the code: run python -m tools.readme_outputs", file=sys.stderr)
        return 1
    README.write_text(new)
    print("README outputs refreshed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
