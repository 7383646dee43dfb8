"""The socket layer: a ``ThreadingHTTPServer`` on 127.0.0.1 whose handler hands every request to
``VenueApp``. HTTP/1.1 with ``Content-Length`` on every response (also ``0`` on a 204), so
alpaca-py's keep-alive ``requests.Session`` works (wire contract section 1.2).
"""

from __future__ import annotations

import logging
import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from engine.venue.app import Request, Response, VenueApp
from engine.venue.clock import VenueClock
from engine.venue.store import VenueStore

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1 << 20
POLL_SECONDS = 0.05  # how soon stop() takes effect


class _VenueHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], app: VenueApp) -> None:
        super().__init__(address, _Handler)
        self.app = app


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are separate writes; avoid 40 ms delayed-ACK stalls
    server: _VenueHTTPServer

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0 or length > MAX_BODY_BYTES:
            self._send(Response(413))
            self.close_connection = True
            return
        body = self.rfile.read(length) if length else b""
        headers = {k.upper(): v for k, v in self.headers.items()}
        request = Request(self.command, self.path, _UpperKeys(headers), body)
        self._send(self.server.app.handle(request))

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if response.body:
            self.wfile.write(response.body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        # Request line and status only; headers (and so the secret key) are never logged.
        log.debug("%s %s", self.address_string(), format % args)


class _UpperKeys(dict[str, str]):
    """Header lookup that ignores case (HTTP header names are case-insensitive)."""

    def get(self, key: str, default: str | None = None) -> str | None:  # type: ignore[override]
        return super().get(key.upper(), default)


class VenueServer:
    """The venue on ``host:port`` (port 0 picks a free one); ``start()`` serves in a thread."""

    def __init__(
        self, db_path: str | Path, clock: VenueClock, starting_cash: Decimal, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.store = VenueStore(db_path)
        self.app = VenueApp(self.store, clock, starting_cash)
        self._httpd = _VenueHTTPServer((host, port), self.app)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """The ``url_override`` for alpaca-py: no trailing slash, no ``/v2``."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": POLL_SECONDS}, name="venue-http", daemon=True
        )
        self._thread.start()

    def serve_forever(self) -> None:
        self._httpd.serve_forever(poll_interval=POLL_SECONDS)

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()
        self.store.close()
