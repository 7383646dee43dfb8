"""What a symbol may be, wherever one enters (a bar file's rows, the config's universe): 1 to 64
characters, none of them a control character (a NUL, a newline, a tab, DEL). Anything printable is
allowed otherwise (``BRK.B``, ``BTC/USD``, ``7203.T``): the broker, not the engine, knows its symbols."""

from __future__ import annotations

import re

MAX_SYMBOL_CHARS = 64
SYMBOL_PATTERN = r"^[^\x00-\x1f\x7f]{1,64}$"
_SYMBOL = re.compile(SYMBOL_PATTERN)


def symbol_problem(symbol: str) -> str | None:
    """Why ``symbol`` (already stripped of surrounding spaces) is not a symbol, or None."""
    if _SYMBOL.fullmatch(symbol):
        return None
    if not symbol:
        return "symbols must be non-empty"
    if len(symbol) > MAX_SYMBOL_CHARS:
        return f"symbol {symbol[:20]!r}... is longer than {MAX_SYMBOL_CHARS} characters"
    return f"symbol {symbol!r} holds a control character"
