"""The socket layer: a ``ThreadingHTTPServer`` on 127.0.0.1 whose handler hands every request to
``VenueApp.serve``. HTTP/1.1 with ``Content-Length`` on every response (also ``0`` on a 204), so
alpaca-py's keep-alive ``requests.Session`` works (wire contract section 1.2).

An injected fault that withholds the answer closes the connection without writing a byte; a
holding one first waits ``hold_seconds`` on the server's stop event, outside every lock (the
app has returned by then), so ``stop()`` ends holds at once. ``stop()`` waits briefly for
requests being processed, then closes the database.
"""

from __future__ import annotations

import logging
import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from engine.venue import ledger
from engine.venue.app import Request, Response, VenueApp
from engine.venue.clock import VenueClock
from engine.venue.faults import FaultInjector, FaultPlan
from engine.venue.market import MarketConfig, VenueMarket
from engine.venue.replay import ReplayDriver
from engine.venue.store import VenueStore
from journal_schema.units import to_fixed

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1 << 20
POLL_SECONDS = 0.05  # how soon stop() takes effect
DRAIN_SECONDS = 2.0  # how long stop() waits for requests being processed


class _VenueHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    app: VenueApp  # set by VenueServer once the database is open, before serving

    def __init__(self, address: tuple[str, int]) -> None:
        super().__init__(address, _Handler)
        self.stopping = threading.Event()
        self._busy = 0
        self._idle = threading.Condition()

    def begin(self) -> bool:
        """Count a request in; False once the venue is stopping (the request is not served)."""
        with self._idle:
            if self.stopping.is_set():
                return False
            self._busy += 1
            return True

    def end(self) -> None:
        with self._idle:
            self._busy -= 1
            self._idle.notify_all()

    def drain(self, timeout: float) -> bool:
        """Wait until no request is being processed (True) or ``timeout`` passes (False)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._busy == 0, timeout)


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
        if not self.server.begin():
            self.close_connection = True  # stopping: the database may already be closed
            return
        try:
            outcome = self.server.app.serve(request)
        finally:
            self.server.end()
        if outcome.response is not None:
            self._send(outcome.response)
            return
        if outcome.hold_seconds > 0:
            self.server.stopping.wait(outcome.hold_seconds)
        self.close_connection = True  # no response bytes: the client sees a timeout or a closed connection

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
        self,
        db_path: str | Path,
        clock: VenueClock | None,
        starting_cash: Decimal,
        host: str = "127.0.0.1",
        port: int = 0,
        market: MarketConfig | None = None,
        speed: float | None = None,
        faults: FaultPlan | None = None,
    ) -> None:
        """With ``market`` the venue replays its bar file (the clock comes from it; pass
        ``clock=None``); ``speed`` starts the real-time driver, otherwise tests call ``step()``.
        ``faults`` is the initial fault plan (none by default; replaceable at runtime).

        Raises ``VenueConfigError`` when the database was made with another bar file,
        ``OSError`` when the address is taken, ``sqlite3.Error`` for an unusable database."""
        self.host = host
        self._httpd = _VenueHTTPServer((host, port))  # bind first: a taken port leaves no database behind
        try:
            self.store = VenueStore(db_path, to_fixed(starting_cash))
        except BaseException:
            self._httpd.server_close()
            raise
        try:
            self.market = VenueMarket(self.store, market) if market is not None else None
            self.app = VenueApp(self.store, clock, starting_cash, self.market, faults)
            self.driver = ReplayDriver(self.market.replay, self.market.step, speed) if self.market and speed else None
        except BaseException:
            self.store.close()
            self._httpd.server_close()
            raise
        self._httpd.app = self.app
        self._thread: threading.Thread | None = None
        self._stopped = False

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """The ``url_override`` for alpaca-py: no trailing slash, no ``/v2``."""
        host = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host  # noqa: S104 - a comparison
        return f"http://{host}:{self.port}"

    @property
    def faults(self) -> FaultInjector:
        """The current fault plan and its request counter (``faults.replace(plan)`` at runtime)."""
        return self.app.faults

    def fills(self) -> list[ledger.Fill]:
        """Every fill the venue has made, oldest first."""
        with self.store.reading() as cur:
            return ledger.fills(cur)

    def step(self) -> int | None:
        """Advance the replay one bar timestamp (deterministic driver for tests)."""
        if self.market is None:
            raise RuntimeError("the venue has no bar file to replay")
        return self.market.step()

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": POLL_SECONDS}, name="venue-http", daemon=True
        )
        self._thread.start()
        if self.driver is not None:
            self.driver.start()

    def serve_forever(self) -> None:
        self._httpd.serve_forever(poll_interval=POLL_SECONDS)

    def stop(self) -> None:
        """Stop the driver and the HTTP server, end held connections, close the database. Prompt:
        held (faulted) connections are released at once; requests being processed get
        ``DRAIN_SECONDS``. Calling it again does nothing."""
        if self._stopped:
            return
        self._stopped = True
        self._httpd.stopping.set()
        if self.driver is not None:
            self.driver.stop()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()
        if not self._httpd.drain(DRAIN_SECONDS):
            log.warning("venue stopped with requests still being processed")
        self.store.close()
