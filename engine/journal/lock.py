"""Single-writer lock for a journal: an advisory ``flock`` on ``<journal>.lock``.

The kernel releases the lock when the holder dies (even on ``kill -9``), so there is no
stale-lock cleanup and no lease timer. The lock file's content names the holder so the
refusal message can say who has it.
"""

from __future__ import annotations

import fcntl
import os
import socket
import sys
from datetime import UTC, datetime
from pathlib import Path

import orjson


class JournalLockedError(RuntimeError):
    """Another process holds the journal's writer lock."""


class WriterLock:
    def __init__(self, journal_path: Path) -> None:
        self.path = Path(str(journal_path) + ".lock")
        self._fd: int | None = None

    def acquire(self) -> WriterLock:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise JournalLockedError(f"cannot open the writer lock {self.path}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise JournalLockedError(
                f"journal {self.path.with_suffix('')} is already open for writing by {holder}; "
                "only one writer may append to a journal"
            ) from None
        holder_info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "command": " ".join(sys.argv),
            "since": datetime.now(UTC).isoformat(timespec="seconds"),  # shell: wall clock is fine
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, orjson.dumps(holder_info), 0)
        os.fsync(fd)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def __enter__(self) -> WriterLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _read_holder(fd: int) -> str:
    raw = os.pread(fd, 4096, 0)
    try:
        info = orjson.loads(raw)
        return (
            f"pid {info['pid']} on {info['host']} since {info['since']} "
            f"(command: {info['command']})"
        )
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return "another process (holder details unreadable)"
