"""The venue's request and response values, shared by the routing (``app``, ``admin``) and the
socket layer (``server``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from engine.venue.wire import encode


@dataclass(frozen=True)
class Request:
    method: str
    target: str  # path plus query string, as on the request line
    headers: Mapping[str, str]  # looked up case-insensitively by the caller's mapping
    body: bytes = b""


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    """What the socket layer does with one request: send ``response``, or (``response`` None, an
    injected fault) write nothing, keep the connection ``hold_seconds`` and close it."""

    response: Response | None
    hold_seconds: float = 0.0


def json_response(status: int, payload: object, headers: Mapping[str, str] | None = None) -> Response:
    return Response(status, encode(payload), {"Content-Type": "application/json", **(headers or {})})
