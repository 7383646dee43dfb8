"""The local venue in this process, over real HTTP, replaying a bar file in manual mode (the tests step it)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

from engine.feeds.table import read_bar_file
from engine.venue.market import MarketConfig
from engine.venue.server import VenueServer


@contextmanager
def serving(db: Path, bars: Path) -> Iterator[VenueServer]:
    """A venue with $100,000 on ``db`` replaying ``bars``, stopped afterwards."""
    server = VenueServer(db, None, Decimal(100_000), market=MarketConfig(bars=read_bar_file(bars)))
    server.start()
    try:
        yield server
    finally:
        server.stop()
