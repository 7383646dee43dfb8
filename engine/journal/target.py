"""What a command may write to, and how a file it only reads is opened.

The rules (docs/operations.md, "What each command may write"):

* A command writes a journal only at a path that does not exist or that holds a journal of this engine,
  judged by its schema objects, recorded versions and settings (``migrations_sqlite.sqlite_status``), never by a
  table name. ``--replace`` deletes only such a journal. Anything else (a text file, another program's
  database, an empty or zero-byte file, a directory, a device) is refused with one line before a byte of
  it is touched: not its content, not its mode, not its mtime.
* A command never writes the file it reads (``report --out`` the journal, a what-if ``--out`` its
  source): the same file under another name, a hard link or a symbolic link, is the same file.
* Other outputs (``engine report``'s HTML, a what-if's comparison JSON) go to a path that does not exist
  or holds an earlier output of the same kind, recognised by its content; they are written to a
  temporary file and renamed over it, so a reader never sees half a file.
* A file with no write permission bits is refused for writing even when the process could write it
  anyway (as root): its owner said it is not to be changed.
* Reading never writes: SQLite journals are opened with a ``mode=ro`` URI (and never switched to WAL).
  A read of a journal in WAL mode may leave SQLite's own ``-wal`` and ``-shm`` files next to it, as any
  reader of such a journal does; the journal itself is untouched.

Symbolic links are followed: the rules apply to the file a link points at, and a link that points
nowhere is refused.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from engine.journal.errors import Category, JournalError
from engine.journal.uris import inspect_uri

SQLITE_HEADER = b"SQLite format 3\x00"
INBOX_TABLES = frozenset({"commands", "commands_widened"})  # engine.operator.inbox (widened: mid-upgrade)


class PathRefused(JournalError):
    """A path a command may not use as asked; the message is one line and names the path."""

    category: Category = "REFUSED"


def resolved(path: str | Path) -> Path:
    """``path`` with its symbolic links followed; a link to nothing, a loop of links or a name the system
    cannot hold is refused."""
    p = Path(path)
    try:
        real = p.resolve(strict=False)
        dangling = p.is_symlink() and not p.exists()
        real.exists()  # a name too long for the system fails here, not later
    except RuntimeError:  # a loop of links (Path.resolve raises RuntimeError, not OSError, for one)
        raise PathRefused(f"{p}: a loop of symbolic links") from None
    except OSError as exc:
        raise PathRefused(f"{p}: {exc.strerror or exc}") from None
    if dangling:
        raise PathRefused(f"{p} is a symbolic link to {os.readlink(p)}, which does not exist")
    return real


def _kind(st: os.stat_result) -> str:
    if stat.S_ISDIR(st.st_mode):
        return "a directory"
    if stat.S_ISFIFO(st.st_mode):
        return "a named pipe"
    if stat.S_ISSOCK(st.st_mode):
        return "a socket"
    if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
        return "a device"
    return "not a regular file"


def _regular(st: os.stat_result, shown: str, *, write: bool) -> None:
    if not stat.S_ISREG(st.st_mode):
        raise PathRefused(f"{shown} is {_kind(st)}, not a journal file")
    if write and not st.st_mode & 0o222:
        raise PathRefused(
            f"{shown} is read-only (mode {stat.S_IMODE(st.st_mode):04o}): it is not written; make "
            "it writable, or choose another path"
        )


def _shown(given: str | Path, real: Path) -> str:
    """The path as the user gave it, with where a link leads."""
    return str(given) if Path(given).absolute() == real else f"{given} (a link to {real})"


def _advice(write: bool) -> str:
    """What a refusal suggests: a command that would write is told to look elsewhere; a reader only that
    nothing happened to the file."""
    return ": it is left as it is; choose another path" if write else ""


def _sqlite_header(p: Path, st: os.stat_result, shown: str, *, write: bool = True) -> None:
    """An SQLite file, whole: its header's page count (when SQLite marks it valid) fits in the file, unless
    pages are still in its ``-wal``."""
    if st.st_size == 0:
        raise PathRefused(f"{shown} is an empty file (0 bytes), not a journal" + _advice(write))
    try:
        with p.open("rb") as f:
            head = f.read(100)
    except OSError as exc:
        raise PathRefused(f"cannot read {shown}: {exc.strerror or exc}") from None
    if not head.startswith(SQLITE_HEADER):
        raise PathRefused(f"{shown} is not a journal (not an SQLite database){_advice(write)}")
    if len(head) < 100:
        raise PathRefused(f"{shown} is damaged: {len(head)} bytes, shorter than an SQLite header")
    page = int.from_bytes(head[16:18], "big")
    page = 65536 if page == 1 else page
    pages, counter, valid_for = (int.from_bytes(head[i : i + 4], "big") for i in (28, 24, 92))
    if pages and counter == valid_for and st.st_size < pages * page and not Path(f"{p}-wal").exists():
        raise PathRefused(
            f"{shown} is damaged: {st.st_size} bytes where its header says {pages * page} "
            "(truncated?); restore it from a copy"
        )


def existing_journal_file(path: str | Path, *, write: bool) -> Path:
    """``path`` resolved, when it holds a journal of this engine; refused (``PathRefused``) otherwise,
    including when it does not exist. Reads only the file's first bytes and, read-only, its schema."""
    p = resolved(path)
    shown = _shown(path, p)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise PathRefused(f"journal not found: {path}") from None
    except OSError as exc:
        raise PathRefused(f"cannot read {path}: {exc.strerror or exc}") from None
    _regular(st, shown, write=write)
    _sqlite_header(p, st, shown, write=write)
    problem = journal_problem(p, shown)
    if problem is not None:
        raise PathRefused(problem)
    return p


def journal_problem(p: Path, shown: str) -> str | None:
    """Why the SQLite file ``p`` is not a journal of this engine, or None (read through ``inspect_uri``)."""
    from engine.journal.migrations_sqlite import sqlite_status

    try:
        db = sqlite3.connect(inspect_uri(p), uri=True, timeout=5.0)
    except sqlite3.Error as exc:
        return f"{shown} is not a readable SQLite journal: {exc}"
    try:
        if not db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
            return f"{shown} is an empty SQLite database, not a journal of this engine: delete it, or use another path"
        return sqlite_status(db.cursor(), shown).foreign
    except sqlite3.Error as exc:
        return f"{shown} is not a readable SQLite journal: {exc}"
    finally:
        db.close()


def journal_to_write(path: str | Path) -> tuple[Path, bool]:
    """Where a writer may put a journal: ``(resolved path, exists)``. A missing path needs its directory;
    an existing one must hold a journal of this engine and be writable."""
    p = resolved(path)
    if not p.exists():
        if not p.parent.is_dir():
            raise PathRefused(f"cannot create journal {path}: directory {Path(path).parent} does not exist")
        return p, False
    return existing_journal_file(path, write=True), True


def inbox_path(journal: str | Path) -> Path:
    """``<journal>.inbox``: the operator inbox of a SQLite journal, next to the file a link points at."""
    return Path(f"{Path(journal).resolve()}.inbox")


def inbox_problem(inbox: Path) -> str | None:
    """Why an existing ``<journal>.inbox`` is not an operator inbox of this engine (so it is neither
    written nor deleted), or None (also when there is none). An empty file or database is an inbox being
    made (``engine kill`` creates it while the running engine may look): it holds nothing to lose."""
    return sqlite_file_problem(inbox, INBOX_TABLES, "an operator inbox of this engine", being_made=True)


def sqlite_file_problem(path: Path, tables: frozenset[str], what: str, *, being_made: bool = False) -> str | None:
    """Why an existing file at ``path`` is not ``what``: an SQLite database holding some of ``tables`` and
    nothing else (read-only; ``immutable`` when no ``-wal`` is beside it). None when nothing is there, and,
    with ``being_made``, when the file or database is still empty."""
    if not path.exists():
        return f"{path} is a symbolic link to nothing, not {what}" if path.is_symlink() else None
    p = path.resolve()
    st = p.stat()
    reason = None
    if not stat.S_ISREG(st.st_mode):
        reason = _kind(st)
    elif st.st_size == 0 and being_made:
        return None
    elif not starts_with(p, SQLITE_HEADER):
        reason = "not an SQLite database"
    else:
        try:
            db = sqlite3.connect(inspect_uri(p), uri=True, timeout=5.0)
            try:
                names = {str(r[0]) for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            finally:
                db.close()
        except sqlite3.Error as exc:
            names, reason = set(), f"not a readable SQLite database: {exc}"
        if reason is None and (not names and not being_made or not names <= tables):
            reason = f"it holds {', '.join(sorted(names)) or 'no table'}"
    if reason is None:
        return None
    return f"{path} is not {what} ({reason}): it is left as it is; move it away, or choose another path"


def same_file(a: str | Path, b: str | Path) -> bool:
    """The same file under two names (links included), or the same path when either does not exist (a path
    that cannot be resolved, a loop of links, is the same only as itself)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        pass
    try:
        return Path(a).resolve() == Path(b).resolve()
    except (OSError, RuntimeError):
        return Path(a).absolute() == Path(b).absolute()


def output_file(path: str | Path, *, what: str, ours: Callable[[Path], bool], reads: Iterable[str | Path]) -> Path:
    """Where a command may write its output ``what`` (a report, a comparison): a new path in an existing
    directory, or an earlier output of the same kind (``ours`` recognises one by its content); never a
    journal the command reads (``reads``). Returns the resolved path."""
    p = resolved(path)
    for source in reads:
        if same_file(p, source):
            alias = "" if str(path) == str(source) else f" ({source})"
            raise PathRefused(f"{path} is the journal this command reads{alias}: write the {what} to another path")
    if not p.parent.is_dir():
        raise PathRefused(f"cannot write {path}: directory {Path(path).parent} does not exist")
    if not p.exists():
        return p
    st = p.stat()
    if not stat.S_ISREG(st.st_mode):
        raise PathRefused(f"cannot write {path}: it is {_kind(st)}")
    if not ours(p):
        raise PathRefused(
            f"{path} exists and is not a {what} this engine wrote: it is left as it is; remove it, or "
            "choose another path"
        )
    if not st.st_mode & 0o222:
        raise PathRefused(
            f"{path} is read-only (mode {stat.S_IMODE(st.st_mode):04o}): it is not written; make it "
            "writable, or choose another path"
        )
    return p


def write_atomically(p: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file next to ``p``, then rename it over ``p`` (a reader never sees
    half a file; a failed write leaves ``p`` as it was)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # as an ordinary new file would be (mkstemp makes 0600)
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def starts_with(p: Path, prefix: bytes) -> bool:
    """Whether the file begins with ``prefix`` (read: its first bytes only)."""
    try:
        with p.open("rb") as f:
            return f.read(len(prefix)) == prefix
    except OSError:
        return False
