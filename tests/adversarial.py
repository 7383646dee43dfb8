"""Helpers of the adversarial suite (tests/test_adversarial_*.py): hostile inputs, each checked for the
documented behaviour: a reason-coded rejection with the journal verifying, or one line on stderr with exit 2
and the inputs unchanged (bytes, mode and mtime)."""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pytest

from engine.cli import main

HEADER = "timestamp,symbol,open,high,low,close,volume"
GOOD_ROWS = [
    f"2024-01-02T15:{m:02d}:00Z,AAPL,{100 + m % 3},{102 + m % 3},{99 + m % 3},{101 + m % 3},1000" for m in range(12)
]


@dataclass(frozen=True)
class FileState:
    content: bytes | None  # None: a directory, a link to nothing or a special file
    mode: int
    mtime_ns: int
    link: str | None


def state(path: Path) -> FileState | None:
    """What a path holds, to compare before and after a command (None: nothing there)."""
    if not path.exists() and not path.is_symlink():
        return None
    st = path.lstat()
    link = os.readlink(path) if path.is_symlink() else None
    content = path.read_bytes() if path.is_file() and not path.is_symlink() else None
    return FileState(content, st.st_mode, st.st_mtime_ns, link)


def states(root: Path) -> dict[str, FileState | None]:
    """Every entry under ``root`` (not following links), by relative name."""
    out: dict[str, FileState | None] = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in [*dirnames, *filenames]:
            p = Path(dirpath) / name
            out[str(p.relative_to(root))] = state(p)
    return out


def assert_unchanged(before: dict[str, FileState | None], root: Path) -> None:
    """Every entry under ``root`` is as it was, and nothing new is there but SQLite's ``-wal`` / ``-shm``
    beside a database that was there (what any reader of a WAL-mode database leaves: a journal read)."""
    after = states(root)
    new = set(after) - set(before)
    sqlite_own = {n for n in new if n.endswith(("-wal", "-shm")) and n[:-4] in before}
    assert new == sqlite_own, f"made: {sorted(new - sqlite_own)}"
    changed = sorted(k for k in before if after.get(k) != before[k])
    assert not changed, f"changed or removed: {changed}"


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``engine ARGS`` in this process: (exit code, stdout, stderr)."""
    try:
        code = main(args)
    except SystemExit as exc:  # argparse
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def assert_refused(code: int, err: str, *needles: str) -> None:
    """Exit 2 and exactly one line on stderr, in the engine's words (no traceback), naming ``needles``."""
    lines = err.splitlines()
    assert code == 2, (code, err)
    assert len(lines) == 1 and lines[0].startswith("engine"), err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def write_bars(path: Path, rows: list[str] | None = None) -> Path:
    path.write_text("\n".join([HEADER, *(GOOD_ROWS if rows is None else rows)]) + "\n")
    return path


def foreign_db(path: Path, ddl: str = "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)") -> Path:
    """Another program's SQLite database (rollback journal mode, one table, one row)."""
    with sqlite3.connect(path) as db:
        db.execute(ddl)
        table = ddl.split()[2]
        columns = len(db.execute(f"PRAGMA table_info({table})").fetchall())
        db.execute(f"INSERT INTO {table} VALUES ({', '.join('?' * columns)})", [1] * columns)
    db.close()
    return path


def journal_with_bars(directory: Path, config_name: str, config_text: str) -> Path:
    """A real journal ``j.db`` of a run over ``bars.csv`` in ``directory``, and a config file beside them."""
    bars = write_bars(directory / "bars.csv")
    assert main(["run", "--bars", str(bars), "--journal", str(directory / "j.db")]) == 0
    (directory / config_name).write_text(config_text)
    return directory
