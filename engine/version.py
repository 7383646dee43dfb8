"""Code version recorded in RunStarted: package version plus a digest of the sources
that decide what gets journaled (catalogue, core, broker simulator, feeds, config)."""

from __future__ import annotations

import hashlib
from functools import cache
from importlib import metadata
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent
_SOURCES = ("journal_schema", "engine/core", "engine/broker", "engine/feeds", "engine/config.py")


@cache
def code_version() -> str:
    try:
        version = metadata.version("engine")
    except metadata.PackageNotFoundError:
        version = "0+unknown"
    h = hashlib.sha256()
    for rel in _SOURCES:
        base = _ROOT / rel
        files = [base] if base.is_file() else sorted(base.rglob("*.py"))
        for f in files:
            h.update(str(f.relative_to(_ROOT)).encode() + b"\x00" + f.read_bytes() + b"\x00")
    return f"{version}+src.{h.hexdigest()[:12]}"
