"""Errors the venue answers with: HTTP status plus Alpaca's ``{"code": int, "message": str}`` body.

The codes and messages below follow Alpaca's commonly documented forms. Only the HTTP statuses
matter to alpaca-py (it raises ``APIError`` with ``status_code``); the code and message bodies
are **unverified** against real Alpaca unless noted (docs/design/alpaca-wire-contract.md).
"""

from __future__ import annotations

# Unverified: Alpaca's generic validation code; 422 + "client_order_id must be unique" is the
# commonly documented duplicate refusal (wire contract section 3).
CODE_VALIDATION = 40010001
CODE_MALFORMED = 40010000  # unverified
CODE_UNAUTHORIZED = 40110000  # unverified: the wire contract is silent on auth failures
CODE_NOT_FOUND = 40410000  # unverified body; 404 itself is what recovery relies on
CODE_METHOD_NOT_ALLOWED = 40510000  # unverified
CODE_NOT_CANCELABLE = 42210000  # unverified (wire contract section 2.18)

MSG_DUPLICATE_CID = "client_order_id must be unique"
MSG_ORDER_NOT_FOUND = "order not found"
MSG_NOT_CANCELABLE = "order is not cancelable"


class VenueError(Exception):
    """A refusal the HTTP layer turns into ``status`` with ``{"code": code, "message": message}``."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.code = code
        self.message = message


def validation(message: str) -> VenueError:
    return VenueError(422, CODE_VALIDATION, message)


def not_found(message: str = MSG_ORDER_NOT_FOUND) -> VenueError:
    return VenueError(404, CODE_NOT_FOUND, message)


class VenueConfigError(ValueError):
    """The venue cannot start with this configuration (for example, its database was made with
    another bar file). The message is one line, fit for the CLI's stderr."""
