"""How a SQLite file is opened without writing it: the read-only URIs."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote


def read_only_uri(path: Path) -> str:
    """The URI that opens ``path`` read-only: nothing can be written through it, not even the WAL switch."""
    return f"file:{quote(str(path.resolve()))}?mode=ro"


def inspect_uri(path: Path) -> str:
    """The URI that reads ``path`` to judge it: read-only, and ``immutable`` when no ``-wal`` is beside it (the
    file is then all there is, and SQLite makes no ``-wal`` / ``-shm`` of its own)."""
    return read_only_uri(path) + ("" if Path(f"{path}-wal").exists() else "&immutable=1")
