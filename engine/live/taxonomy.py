"""The shell's error taxonomy: every exception at the shell is classified into a category and an action.

``classify`` names the ``ErrorCategory`` (journal_schema.reasons) of an exception; ``ACTIONS`` gives
the one ``ErrorAction`` of each category; the shell does what the action says:

| category | action | what the shell does |
| --- | --- | --- |
| TRANSIENT_NETWORK | RETRY | the broker client tries a read again (``read_retries``); a breaker failure |
| RATE_LIMIT | RETRY | the same, waiting at least Retry-After |
| AUTH | HALT_TRADING | journals ``ShellErrorReported``; the core halts trading |
| BAD_DATA | SKIP_SYMBOL | drops this symbol's data or order for now, goes on with the rest |
| PROVIDER_SCHEMA | DISABLE_PROVIDER | opens the dependency's breaker at once (long open period) |
| ORDER_REJECTED | SKIP_SYMBOL | the order is rejected for good; the other symbols go on |
| BROKER_STATE | RETRY | the broker's state is the answer; the next cycle looks again |
| INVARIANT_VIOLATION | HALT_TRADING | journals ``ShellErrorReported``; the core halts trading |
| PROGRAMMING_ERROR | HALT_TRADING | journals ``ShellErrorReported``; the core halts trading |
| UNKNOWN | HALT_TRADING | journals ``ShellErrorReported``; the core halts trading |

The one retry layer of broker reads is the client's (``engine.alpaca.client``, ``read_retries``);
the shell does not wrap it in another. Submits and cancels are never retried: the exactly-once
protocol (engine.live.submit and engine.live.sync) decides what to do after an uncertain write.
``KeyboardInterrupt`` and ``SystemExit`` are not errors to classify: ``classify`` refuses them so
nothing swallows them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

import msgspec
import orjson

from engine.alpaca.errors import BrokerError, one_line, transport_error
from engine.core.orders import OrderViolation
from engine.core.step import CoreInvariantError
from journal_schema.reasons import ERROR_ACTIONS, ERROR_CATEGORIES, ErrorAction, ErrorCategory

_ACTIONS: dict[ErrorCategory, ErrorAction] = {
    "TRANSIENT_NETWORK": "RETRY",
    "RATE_LIMIT": "RETRY",
    "AUTH": "HALT_TRADING",
    "BAD_DATA": "SKIP_SYMBOL",
    "PROVIDER_SCHEMA": "DISABLE_PROVIDER",
    "ORDER_REJECTED": "SKIP_SYMBOL",
    "BROKER_STATE": "RETRY",
    "INVARIANT_VIOLATION": "HALT_TRADING",
    "PROGRAMMING_ERROR": "HALT_TRADING",
    "UNKNOWN": "HALT_TRADING",
}
ACTIONS: dict[str, str] = {category: action for category, action in _ACTIONS.items()}
"""ErrorCategory -> ErrorAction, for every category."""

DETAIL_LIMIT = 400


def check_actions(table: Mapping[str, str]) -> None:
    """Raise RuntimeError unless ``table`` maps exactly every ErrorCategory to an ErrorAction."""
    missing = sorted(set(ERROR_CATEGORIES) - set(table))
    extra = sorted(set(table) - set(ERROR_CATEGORIES))
    bad = sorted(f"{c}->{a}" for c, a in table.items() if a not in ERROR_ACTIONS)
    if missing or extra or bad:
        raise RuntimeError(f"error action table is wrong: missing {missing}, unknown {extra}, bad actions {bad}")


check_actions(ACTIONS)


@dataclass(frozen=True)
class Classified:
    """What one exception is: its category, the action for it, its class name and a one-line detail."""

    category: ErrorCategory
    action: ErrorAction
    error_type: str
    detail: str


_SCHEMA = (msgspec.ValidationError, msgspec.DecodeError, orjson.JSONDecodeError, json.JSONDecodeError)
_INVARIANT = (OrderViolation, CoreInvariantError)
_PROGRAMMING = (
    AssertionError,
    TypeError,
    AttributeError,
    KeyError,
    IndexError,
    NameError,
    ZeroDivisionError,
    NotImplementedError,
)


def category_of(exc: Exception) -> ErrorCategory:
    """The category of one exception. Subclasses are tested before their bases: a
    ``json.JSONDecodeError`` is a ValueError, every ``requests`` error is an OSError."""
    if isinstance(exc, BrokerError):
        return exc.category
    if isinstance(exc, _SCHEMA):  # before ValueError and OSError (requests' JSONDecodeError is both)
        return "PROVIDER_SCHEMA"
    if isinstance(exc, _INVARIANT):  # CoreInvariantError is a RuntimeError
        return "INVARIANT_VIOLATION"
    transport = transport_error(exc)  # requests and socket errors: the broker adapter's one mapping
    if transport is not None:
        return transport[0]
    if isinstance(exc, _PROGRAMMING):  # NotImplementedError is a RuntimeError, KeyError a LookupError
        return "PROGRAMMING_ERROR"
    if isinstance(exc, ValueError):
        return "BAD_DATA"
    return "UNKNOWN"


def _detail(exc: BaseException) -> str:
    try:
        text = str(exc)
    except Exception:  # noqa: BLE001 - a broken __str__ must not hide the error being classified
        text = f"<{type(exc).__name__} whose str() raised>"
    return one_line(text, DETAIL_LIMIT) or type(exc).__name__  # a blank message: the class name


def classify(exc: BaseException) -> Classified:
    """Classify one exception. KeyboardInterrupt, SystemExit (any BaseException that is not an
    Exception) raise TypeError: they must propagate, never be journaled and carried on from."""
    if not isinstance(exc, Exception):
        raise TypeError(f"{type(exc).__name__} is not an error and must not be classified")
    category = category_of(exc)
    return Classified(category, _ACTIONS[category], type(exc).__name__, _detail(exc))
