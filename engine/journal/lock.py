"""Single-writer lock for a journal: an advisory ``flock`` on ``<journal>.lock``.

The kernel releases the lock when the holder dies (even on ``kill -9``), so there is no
stale-lock cleanup and no lease timer. The lock file's content names the holder so the
refusal message can say who has it.
"""

from __future__ import annotations

import errno
import fcntl
import os
import socket
import stat
import sys
from datetime import UTC, datetime
from pathlib import Path

import orjson

from engine.journal.errors import JournalLockedError
from engine.redact import strip_credentials

__all__ = ["JournalLockedError", "WriterLock", "holder_pid", "lock_path", "lock_problem"]


def lock_path(journal: str | Path) -> Path:
    """``<journal>.lock``, beside the file a symbolic link points at (every process agrees on it)."""
    return Path(f"{Path(journal).resolve()}.lock")


class WriterLock:
    def __init__(self, journal_path: Path) -> None:
        self.path = lock_path(journal_path)
        self._fd: int | None = None

    def acquire(self) -> WriterLock:
        """Take the lock. ``<journal>.lock`` may be new, or a writer lock of this engine (empty, or naming
        its holder); any other file of that name (a link, ``poetry.lock`` beside a journal named ``poetry``)
        is refused and left as it is."""
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        except OSError as exc:
            reason = "it is a symbolic link" if exc.errno == errno.ELOOP else exc.strerror
            raise JournalLockedError(f"cannot open the writer lock {self.path}: {reason}") from None
        if not _is_lock_file(fd):
            os.close(fd)
            raise JournalLockedError(
                f"{self.path} exists and is not a writer lock of this engine: it is left as it "
                "is; move it away, or name the journal otherwise"
            )
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
            "command": strip_credentials(" ".join(sys.argv)),  # a journal address's password stays out
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


def lock_problem(journal: str | Path) -> str | None:
    """Why ``<journal>.lock`` could not be taken as the writer lock (it is something else), or None."""
    path = lock_path(journal)
    if not path.exists() and not path.is_symlink():
        return None
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return f"{path} is not a writer lock of this engine (a symbolic link, or unreadable): it is left as it is"
    try:
        ok = _is_lock_file(fd)
    finally:
        os.close(fd)
    return None if ok else f"{path} exists and is not a writer lock of this engine: it is left as it is; move it away"


def _is_lock_file(fd: int) -> bool:
    """A regular file that is empty (released) or holds the holder record a writer writes."""
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        return False
    if st.st_size == 0:
        return True
    if st.st_size > 4096:
        return False
    try:
        info = orjson.loads(os.pread(fd, 4096, 0))
    except orjson.JSONDecodeError:
        return False
    return isinstance(info, dict) and {"pid", "host", "command", "since"} <= set(info)


def _read_holder(fd: int) -> str:
    raw = os.pread(fd, 4096, 0)
    try:
        info = orjson.loads(raw)
        return f"pid {info['pid']} on {info['host']} since {info['since']} (command: {info['command']})"
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return "another process (holder details unreadable)"


def holder_pid(journal: str | Path) -> int | None:
    """The pid the writer lock file names (None when it names none: released, or not readable).
    Only read: probing the flock could make a run that is starting fail to take it."""
    try:
        info = orjson.loads(lock_path(journal).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    pid = info.get("pid") if isinstance(info, dict) else None
    return pid if isinstance(pid, int) else None
