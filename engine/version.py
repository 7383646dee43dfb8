"""Code version recorded in RunStarted: package version plus a digest of the sources
that decide what gets journaled (catalogue, core, broker simulator, feeds, config, and the
live shell and Alpaca adapter that turn broker answers into inputs)."""

from __future__ import annotations

import hashlib
import importlib
import inspect
from functools import cache
from importlib import metadata
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent
_SOURCES = (
    "journal_schema",
    "engine/core",
    "engine/broker",
    "engine/feeds",
    "engine/config.py",
    "engine/config_fields.py",
    "engine/config_broker.py",
    "engine/config_risk.py",
    "engine/config_costs.py",
    "engine/config_breakers.py",
    "engine/config_bars.py",
    "engine/redact.py",
    "engine/shell.py",
    "engine/runner.py",
    "engine/kernel.py",
    "engine/live",
    "engine/alpaca",
    "engine/operator",
    "replay/whatif.py",
)


@cache
def code_version(strategy: str = "") -> str:
    """``<package version>+src.<digest>``; a plug-in strategy (``module:ATTR``) adds its module's source."""
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
    if ":" in strategy:
        module = importlib.import_module(strategy.partition(":")[0])
        source = inspect.getsourcefile(module)
        if source is not None:
            h.update(b"plugin\x00" + strategy.encode() + b"\x00" + Path(source).read_bytes())
    return f"{version}+src.{h.hexdigest()[:12]}"
