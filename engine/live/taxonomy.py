"""The shell's error taxonomy: every exception at the shell is classified into a category and an action.

``classify`` names the ``ErrorCategory`` (journal_schema.reasons) of an exception; ``ACTIONS`` gives
the one ``ErrorAction`` of each category; the shell does what the action says:

| category | action | what the shell does |
| --- | --- | --- |
| TRANSIENT_NETWORK | RETRY | idempotent reads: ``retry_read``; counts as a breaker failure |
| RATE_LIMIT | RETRY | the same, waiting at least Retry-After |
| AUTH | HALT_TRADING | journals ``ShellErrorReported``; the core halts trading |
| BAD_DATA | SKIP_SYMBOL | drops this symbol's data or order for now, goes on with the rest |
| PROVIDER_SCHEMA | DISABLE_PROVIDER | opens the dependency's breaker at once (long open period) |
| ORDER_REJECTED | SKIP_SYMBOL | the order is rejected for good; the other symbols go on |
| BROKER_STATE | RETRY | the broker's state is the answer; the next cycle looks again |
| INVARIANT_VIOLATION | HALT_TRADING | journals ``ShellErrorReported``; the core halts trading |
| PROGRAMMING_ERROR | HALT_TRADING | journals ``ShellErrorReported``; the core halts trading |
| UNKNOWN | HALT_TRADING | journals ``ShellErrorReported``; the core halts trading |

Submits and cancels are never retried here: the exactly-once protocol (engine.live.submit and
engine.live.sync) decides what to do after an uncertain write. ``KeyboardInterrupt`` and
``SystemExit`` are not errors to classify: ``classify`` refuses them so nothing swallows them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

import msgspec
import orjson
import requests

from engine.alpaca.errors import BrokerError, one_line
from engine.core.orders import OrderViolation
from engine.core.step import CoreInvariantError
from journal_schema.reasons import ERROR_ACTIONS, ERROR_CATEGORIES, ErrorAction, ErrorCategory

T = TypeVar("T")

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

RETRYABLE_READ: frozenset[str] = frozenset({"TRANSIENT_NETWORK", "RATE_LIMIT"})
"""Categories ``retry_read`` tries again at once (BROKER_STATE's RETRY is "look again next cycle")."""

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
_TRANSPORT = (
    requests.exceptions.Timeout,
    requests.exceptions.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
)
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


def _http_error_category(exc: requests.exceptions.HTTPError) -> ErrorCategory:
    """``raise_for_status()``: the status says what happened (no status: the response got lost)."""
    response = exc.response
    status = response.status_code if isinstance(response, requests.Response) else None
    if status is None or status >= 500:
        return "TRANSIENT_NETWORK"
    if status == 429:
        return "RATE_LIMIT"
    if status in (401, 403):
        return "AUTH"
    return "UNKNOWN"


def category_of(exc: Exception) -> ErrorCategory:
    """The category of one exception. Subclasses are tested before their bases: a
    ``json.JSONDecodeError`` is a ValueError, every ``requests`` error is an OSError."""
    if isinstance(exc, BrokerError):
        return exc.category
    if isinstance(exc, _SCHEMA):  # before ValueError and OSError (requests' JSONDecodeError is both)
        return "PROVIDER_SCHEMA"
    if isinstance(exc, _INVARIANT):  # CoreInvariantError is a RuntimeError
        return "INVARIANT_VIOLATION"
    if isinstance(exc, _TRANSPORT):  # before the builtin ConnectionError / OSError
        return "TRANSIENT_NETWORK"
    if isinstance(exc, requests.exceptions.HTTPError):
        return _http_error_category(exc)
    if isinstance(exc, requests.exceptions.RequestException):  # InvalidURL, TooManyRedirects, ...
        return "UNKNOWN"  # as engine.alpaca.errors.classify: not a network hiccup, not retried
    if isinstance(exc, TimeoutError | ConnectionError | OSError):
        return "TRANSIENT_NETWORK"
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


def retry_read(
    call: Callable[[], T],
    *,
    attempts: int = 3,
    sleep: Callable[[float], None],
    base_delay: float = 0.2,
    on_error: Callable[[Classified], None] | None = None,
) -> T:
    """``call()`` again after TRANSIENT_NETWORK or RATE_LIMIT failures, at most ``attempts`` calls in
    all, sleeping ``base_delay * 2**i`` after failure ``i`` (at least a BrokerError's ``retry_after``).
    Any other category, or the last failed attempt, re-raises the exception. ``on_error`` sees every
    classified failure (e.g. to count it in a breaker).

    Only for idempotent reads. Never use it for submits or cancels: the exactly-once protocol owns
    them (an uncertain write is looked up by client_order_id, not sent again blindly)."""
    if attempts < 1:
        raise ValueError(f"attempts must be >= 1, not {attempts}")
    for i in range(attempts):
        try:
            return call()
        except Exception as exc:
            classified = classify(exc)
            if on_error is not None:
                on_error(classified)
            if classified.category not in RETRYABLE_READ or i == attempts - 1:
                raise
            delay = base_delay * 2**i
            if isinstance(exc, BrokerError) and exc.retry_after is not None:
                delay = max(delay, exc.retry_after)
            sleep(delay)
    raise AssertionError("unreachable: the last attempt returns or raises")
