"""The journal's error type, below every module that raises it."""

from __future__ import annotations


class JournalError(RuntimeError):
    """The journal cannot be opened or written as asked (the message is one line for the user)."""
