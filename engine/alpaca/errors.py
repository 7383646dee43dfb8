"""``BrokerError`` and the one function that maps what alpaca-py raises to it.

alpaca-py raises ``APIError`` (with ``.status_code``; the body is read here defensively because
``.code`` / ``.message`` raise on a non-JSON body, wire contract section 1.5), ``requests``
transport errors, and ``ValueError`` / ``TypeError`` for bodies or arguments it cannot use.
``broker_error`` turns each into a ``BrokerError`` with a journal ``ErrorCategory`` and a finer
``kind``. Which operation failed matters: a 403 or 422 on a submit is the broker refusing the
order, on a read it is our fault or our credentials'. The table is in ``docs`` form in the
module ``engine.alpaca`` docstring and tested case by case in tests/test_alpaca_client.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Literal

import requests
from alpaca.common.exceptions import APIError

from engine.net.ratelimit import retry_after_seconds
from journal_schema.reasons import ErrorCategory

BrokerErrorKind = Literal[
    "connection",
    "timeout",
    "http_5xx",
    "rate_limited",
    "unauthorized",
    "forbidden",
    "rejected",
    "duplicate_client_order_id",
    "not_cancelable",
    "not_found",
    "unparseable",
    "bad_request",
    "unexpected",
]
Operation = Literal["submit", "cancel", "cancel_all", "read"]

OUTCOME_UNKNOWN_KINDS: frozenset[str] = frozenset({"connection", "timeout", "http_5xx", "unparseable"})
DUPLICATE_MESSAGE = "client_order_id must be unique"  # wire contract section 3 (text unverified at Alpaca)
DETAIL_LIMIT = 400


class BrokerError(Exception):
    """A broker call failed. ``detail`` is one line without secrets, with the broker's message."""

    def __init__(
        self,
        category: ErrorCategory,
        kind: BrokerErrorKind,
        detail: str,
        status: int | None = None,
        retry_after: float | None = None,
        code: int | None = None,
    ) -> None:
        super().__init__(category, kind, detail, status, retry_after, code)
        self.category: ErrorCategory = category
        self.kind: BrokerErrorKind = kind
        self.detail = detail
        self.status = status
        self.retry_after = retry_after  # seconds, from Retry-After on a 429
        self.code = code  # the broker's own error code, when its body had one

    @property
    def outcome_unknown(self) -> bool:
        """True when a write may or may not have taken effect (look it up by client_order_id)."""
        return self.kind in OUTCOME_UNKNOWN_KINDS

    def __str__(self) -> str:
        status = f" HTTP {self.status}" if self.status is not None else ""
        return f"{self.category}/{self.kind}{status}: {self.detail}"

    def __repr__(self) -> str:
        return f"BrokerError({self.category!r}, {self.kind!r}, status={self.status!r}, detail={self.detail!r})"


def one_line(text: str, limit: int = DETAIL_LIMIT) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _body_of(error: APIError) -> tuple[int | None, str | None, str]:
    """(code, message, raw text) of an error body; never raises."""
    text = str(error)
    try:
        body = json.loads(text)
    except ValueError:  # json.JSONDecodeError: e.g. "Service Unavailable" from a proxy
        return None, None, text
    if not isinstance(body, dict):
        return None, None, text
    code = body.get("code")
    message = body.get("message")
    return (
        code if isinstance(code, int) and not isinstance(code, bool) else None,
        message if isinstance(message, str) else None,
        text,
    )


def _retry_after(error: APIError, now: datetime) -> float:
    response = error.response
    header = response.headers.get("Retry-After") if isinstance(response, requests.Response) else None
    return retry_after_seconds(header, now=now)


def _from_api_error(error: APIError, op: Operation, now: datetime) -> BrokerError:
    status = error.status_code if isinstance(error.status_code, int) else None
    code, message, text = _body_of(error)
    said = message if message is not None else (text or "(empty body)")
    detail = f"{op}: {said}" + (f" (code {code})" if code is not None else "")

    def made(category: ErrorCategory, kind: BrokerErrorKind, retry_after: float | None = None) -> BrokerError:
        return BrokerError(category, kind, detail, status, retry_after, code)

    if status is None:
        return made("UNKNOWN", "unexpected")
    if status >= 500:
        return made("TRANSIENT_NETWORK", "http_5xx")
    if status == 429:
        return made("RATE_LIMIT", "rate_limited", _retry_after(error, now))
    if status == 401:
        return made("AUTH", "unauthorized")
    if status == 403:
        return made("ORDER_REJECTED", "forbidden") if op == "submit" else made("AUTH", "forbidden")
    if status == 404:
        return made("BROKER_STATE", "not_found")
    if op == "submit" and status == 422 and message is not None and DUPLICATE_MESSAGE in message.lower():
        return made("BROKER_STATE", "duplicate_client_order_id")
    if op == "submit" and status in (400, 422):
        return made("ORDER_REJECTED", "rejected")
    if op == "cancel" and status == 422:
        return made("BROKER_STATE", "not_cancelable")
    if status in (400, 422):
        return made("PROGRAMMING_ERROR", "bad_request")
    return made("UNKNOWN", "unexpected")


RETRYABLE_READ: frozenset[str] = frozenset({"TRANSIENT_NETWORK", "RATE_LIMIT"})
"""Categories after which a read is tried again (by the client, the one retry layer: ``read_retries``)."""


def _http_status(exc: requests.exceptions.HTTPError) -> tuple[ErrorCategory, BrokerErrorKind]:
    """``raise_for_status()``: the status says what happened (no status: the response got lost)."""
    response = exc.response
    status = response.status_code if isinstance(response, requests.Response) else None
    if status is None or status >= 500:
        return "TRANSIENT_NETWORK", "http_5xx"
    if status == 429:
        return "RATE_LIMIT", "rate_limited"
    if status == 401:
        return "AUTH", "unauthorized"
    if status == 403:
        return "AUTH", "forbidden"
    return "UNKNOWN", "unexpected"


def transport_error(exc: BaseException) -> tuple[ErrorCategory, BrokerErrorKind] | None:
    """The category and kind of an exception of the HTTP transport (``requests``, or a socket error it
    did not wrap), or None when ``exc`` is not one. The one mapping of transport failures: ``broker_error``
    uses it for a broker call, ``engine.live.taxonomy.classify`` for any exception at the shell."""
    if isinstance(exc, requests.exceptions.Timeout):  # before ConnectionError: ConnectTimeout is both
        return "TRANSIENT_NETWORK", "timeout"
    if isinstance(exc, requests.exceptions.ConnectionError | requests.exceptions.ChunkedEncodingError):
        return "TRANSIENT_NETWORK", "connection"
    if isinstance(exc, requests.exceptions.JSONDecodeError):  # a 2xx body that is not JSON
        return "PROVIDER_SCHEMA", "unparseable"
    if isinstance(exc, requests.exceptions.HTTPError):
        return _http_status(exc)
    if isinstance(exc, requests.exceptions.RequestException):  # InvalidURL, TooManyRedirects, ...
        return "UNKNOWN", "unexpected"
    if isinstance(exc, OSError):  # TimeoutError and ConnectionError too: a socket error
        return "TRANSIENT_NETWORK", "connection"
    return None


def broker_error(exc: BaseException, op: Operation, responded: int | None, now: datetime) -> BrokerError:
    """Map one exception from one attempt of a broker call. ``responded`` is the HTTP status the
    transport saw during the attempt (None when no response arrived); ``now`` is wall time for
    Retry-After dates."""
    name = type(exc).__name__
    said = one_line(f"{name}: {exc}")
    if isinstance(exc, APIError):
        return _from_api_error(exc, op, now)
    transport = transport_error(exc)
    if transport is not None:
        category, kind = transport
        if kind == "timeout":
            return BrokerError(category, kind, f"{op}: {said}")
        if kind == "unparseable":
            return BrokerError(category, kind, f"{op}: body is not JSON ({said})", responded)
        return BrokerError(category, kind, f"{op}: {said}", responded)
    if isinstance(exc, ValueError | TypeError | KeyError | AttributeError):
        if responded is not None and 200 <= responded < 300:  # alpaca-py choked on a 2xx body
            return BrokerError("PROVIDER_SCHEMA", "unparseable", f"{op}: {said}", responded)
        if responded is None and isinstance(exc, ValueError | TypeError):  # refused before any HTTP
            return BrokerError("PROGRAMMING_ERROR", "bad_request", f"{op}: {said}")
    return BrokerError("UNKNOWN", "unexpected", f"{op}: {said}", responded)


def redacted(error: BrokerError, redact: Callable[[str], str]) -> BrokerError:
    """The same error with secrets removed from its detail (the broker may echo anything)."""
    clean = redact(error.detail)
    if clean == error.detail:
        return error
    return BrokerError(error.category, error.kind, clean, error.status, error.retry_after, error.code)
