"""The local venue in this process, over real HTTP, replaying a bar file in manual mode (the tests step it).

Its fixtures ``bars`` and ``venue`` serve every test module (tests/conftest.py registers them); the bar
file covers ``BAR_DAYS`` sessions (60), or the module's own ``BAR_DAYS``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import pytest

from engine.feeds.table import read_bar_file
from engine.venue.market import MarketConfig
from engine.venue.server import VenueServer
from tools.drill import bar_file

BAR_DAYS = 60


@contextmanager
def serving(db: Path, bars: Path) -> Iterator[VenueServer]:
    """A venue with $100,000 on ``db`` replaying ``bars``, stopped afterwards."""
    server = VenueServer(db, None, Decimal(100_000), market=MarketConfig(bars=read_bar_file(bars)))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def bars(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    days = getattr(request.module, "BAR_DAYS", BAR_DAYS)
    return bar_file(tmp_path_factory.mktemp("bars") / "bars.csv", days=days)


@pytest.fixture
def venue(tmp_path: Path, bars: Path) -> Iterator[VenueServer]:
    with serving(tmp_path / "venue.db", bars) as server:
        yield server
