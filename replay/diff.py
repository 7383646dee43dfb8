"""Field-level difference between two events (as plain builtins)."""

from __future__ import annotations

from typing import Any

import msgspec

from journal_schema.events import Event


def field_diff(recorded: Event | None, replayed: Event | None) -> list[str]:
    """Lines ``path: recorded -> replayed`` for every differing leaf."""
    a = msgspec.to_builtins(recorded) if recorded is not None else None
    b = msgspec.to_builtins(replayed) if replayed is not None else None
    out: list[str] = []
    _walk("", a, b, out)
    return out


def _walk(path: str, a: Any, b: Any, out: list[str]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in list(a) + [k for k in b if k not in a]:
            _walk(f"{path}.{key}" if path else str(key), a.get(key, "<absent>"), b.get(key, "<absent>"), out)
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _walk(f"{path}[{i}]", x, y, out)
    elif a != b:
        out.append(f"{path or '<event>'}: {a!r} -> {b!r}")
