"""What sits under alpaca-py's ``requests.Session``: a timeout, the token bucket and a meter.

alpaca-py 0.44.0 has no HTTP timeout (wire contract section 1.4) and retries 429 / 504 itself,
ignoring ``Retry-After`` and replaying POSTs (section 1.3). ``install`` therefore sets the
private ``client._retry = 0`` and mounts ``MeteredAdapter`` on ``client._session`` for
``http://`` and ``https://``. The adapter, for every HTTP request alpaca-py sends:
1. takes a token from the shared ``TokenBucket`` (``bucket.acquire(sleep)``), so a lockout
   from an earlier 429 is honoured by every later request;
2. sends it with the default timeout ``(connect, read)`` unless the caller gave one;
3. on a 429, locks the bucket out for ``Retry-After`` (seconds or an HTTP-date).
It logs the method, URL and status at DEBUG; never a header (the keys travel in headers).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version

import requests
from requests.adapters import HTTPAdapter

from engine.net.ratelimit import TokenBucket, retry_after_seconds

log = logging.getLogger(__name__)

TESTED_ALPACA_PY = "0.44.0"
CONNECT_TIMEOUT_CAP = 3.05  # seconds; a little over a multiple of 3 s (TCP SYN retransmit)
PRIVATE_HOOKS = ("_retry", "_session", "_base_url")


def alpaca_py_version() -> str:
    try:
        return version("alpaca-py")
    except PackageNotFoundError:
        return "unknown"


def check_hooks(client: object) -> None:
    """Fail loudly when an alpaca-py upgrade removed the private attributes used here."""
    missing = [name for name in PRIVATE_HOOKS if not hasattr(client, name)]
    if not missing:
        retry, session, base = (getattr(client, n) for n in ("_retry", "_session", "_base_url"))
        missing = [
            name
            for name, ok in (
                ("_retry (int)", isinstance(retry, int)),
                ("_session (requests.Session)", isinstance(session, requests.Session)),
                ("_base_url (str)", isinstance(base, str)),
            )
            if not ok
        ]
    if missing:
        raise RuntimeError(
            f"alpaca-py {alpaca_py_version()}: {type(client).__name__} lacks {', '.join(missing)}; the Alpaca "
            f"adapter needs them to disable the built-in retry and install a timeout (tested with alpaca-py "
            f"{TESTED_ALPACA_PY}; see docs/design/alpaca-wire-contract.md sections 1.3, 1.4)"
        )


@dataclass
class Meter:
    """Counts of what went over the wire, shared by the trading and the data client."""

    bucket: TokenBucket
    sleep: Callable[[float], None]
    wall: Callable[[], datetime]  # for Retry-After HTTP-dates only
    requests: int = 0
    responses: int = 0
    rate_limited: int = 0
    last_status: int | None = None  # status of the latest response (None until one arrives)

    def before_send(self) -> None:
        self.bucket.acquire(self.sleep)
        self.requests += 1

    def after_response(self, method: str, url: str, status: int, headers: Mapping[str, str]) -> None:
        self.responses += 1
        self.last_status = status
        log.debug("alpaca %s %s -> %s", method, url, status)
        if status == 429:
            self.rate_limited += 1
            seconds = retry_after_seconds(headers.get("Retry-After"), now=self.wall())
            self.bucket.lock_out(seconds)
            log.info("alpaca rate limited (429); every broker call waits %.3f s", seconds)


class MeteredAdapter(HTTPAdapter):
    def __init__(self, meter: Meter, timeout_seconds: float) -> None:
        super().__init__(max_retries=0)  # urllib3 must not resend anything either
        self._meter = meter
        self._timeout = (min(CONNECT_TIMEOUT_CAP, timeout_seconds), timeout_seconds)

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float | None, float | None] | None = None,
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
        proxies: dict[str, str] | None = None,
    ) -> requests.Response:
        self._meter.before_send()
        response = super().send(
            request,
            stream=stream,
            timeout=self._timeout if timeout is None else timeout,
            verify=verify,
            cert=cert,
            proxies=proxies,
        )
        self._meter.after_response(str(request.method), str(request.url), response.status_code, response.headers)
        return response


def install(client: object, meter: Meter, timeout_seconds: float) -> None:
    """Disable alpaca-py's retry and route the client's session through ``MeteredAdapter``."""
    check_hooks(client)
    client._retry = 0  # type: ignore[attr-defined]
    session: requests.Session = client._session  # type: ignore[attr-defined]
    adapter = MeteredAdapter(meter, timeout_seconds)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
