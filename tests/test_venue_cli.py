"""``engine venue`` as a subprocess: start, talk to it with alpaca-py, SIGTERM, restart, refusals.

The bar file is two symbols of one-minute bars; ``--config`` sets a 24/7 calendar (always open) and
zero fill costs, so a market order fills at the next bar's open exactly. Ports come from
``--port 0 --port-file``. One in-process test checks that ``[paper]`` is the venue's cost model.
"""

from __future__ import annotations

import functools
import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, OrderStatus, TimeInForce
from alpaca.trading.models import Order, Position
from alpaca.trading.requests import MarketOrderRequest

ENGINE = [sys.executable, "-m", "engine.cli", "venue"]
T0 = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)
MIN = timedelta(minutes=1)
STARTUP_SECONDS = 30  # generous: a cold calendar cache imports pandas
CONFIG = """\
[run]
calendar = "24/7"
seed = 5

[paper]
half_spread_bps = 0
slippage_bps = 0
"""


def write_bars(path: Path, bars: int = 5, base: int = 100) -> Path:
    lines = ["timestamp,symbol,open,high,low,close,volume"]
    for k in range(1, bars + 1):
        stamp = (T0 + k * MIN).isoformat().replace("+00:00", "Z")
        lines.append(f"{stamp},AAPL,{base + k},{base + k + 1},{base + k - 1},{base + k},1000")
        lines.append(f"{stamp},MSFT,{300 + k},{301 + k},{299 + k},{300 + k},500")
    path.write_text("\n".join(lines) + "\n")
    return path


def buy(qty: float, cid: str) -> MarketOrderRequest:
    return MarketOrderRequest(
        symbol="AAPL", qty=qty, side=OrderSide.BUY, time_in_force=TimeInForce.GTC, client_order_id=cid
    )


def trading_at(url: str) -> TradingClient:
    client = TradingClient(api_key="k", secret_key="s", paper=True, url_override=url)
    client._retry = 0
    client._session.request = functools.partial(  # type: ignore[method-assign]
        client._session.request, timeout=(3.05, 5)
    )
    return client


@dataclass
class Venue:
    proc: subprocess.Popen[str]
    port: int
    banner: list[str]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def admin(self, method: str, path: str) -> object:
        request = urllib.request.Request(self.url + path, method=method)
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.loads(response.read())

    def trading(self) -> TradingClient:
        return trading_at(self.url)

    def stop(self, sig: int = signal.SIGTERM) -> tuple[int, str, str]:
        self.proc.send_signal(sig)
        out, err = self.proc.communicate(timeout=120)  # a liveness bound on a loaded machine
        return self.proc.returncode, out, err


def launch(tmp_path: Path, *args: str, lines: int = 1) -> Venue:
    port_file = tmp_path / f"port-{time.monotonic_ns()}"
    proc = subprocess.Popen(
        [*ENGINE, *args, "--port", "0", "--port-file", str(port_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + STARTUP_SECONDS
    while not port_file.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            out, err = proc.communicate()
            pytest.fail(f"the venue did not start (exit {proc.returncode}): {out} {err}")
        time.sleep(0.02)
    assert proc.stdout is not None
    banner = [proc.stdout.readline().rstrip("\n") for _ in range(lines)]
    return Venue(proc, int(port_file.read_text()), banner)


@pytest.fixture
def files(tmp_path: Path) -> Iterator[tuple[Path, Path, Path]]:
    config = tmp_path / "venue.toml"
    config.write_text(CONFIG)
    yield write_bars(tmp_path / "bars.csv"), config, tmp_path / "venue.db"


def test_serve_step_sigterm_and_resume(tmp_path: Path, files: tuple[Path, Path, Path]) -> None:
    bars, config, db = files
    common = ("--bars", str(bars), "--config", str(config), "--db", str(db), "--manual")
    venue = launch(tmp_path, *common)
    try:
        assert venue.banner == [
            f"venue: serving http://127.0.0.1:{venue.port} (bars {bars}: 10 bars, AAPL,MSFT, manual, db {db})"
        ]
        client = venue.trading()
        clock = client.get_clock()
        assert (clock.timestamp, clock.is_open) == (T0, True)  # type: ignore[union-attr]
        placed = client.submit_order(buy(10, "cli-1"))
        assert isinstance(placed, Order) and placed.status == OrderStatus.ACCEPTED
        assert venue.admin("POST", "/venue/step") == {"sim_time": "2024-01-02T14:31:00.000000Z", "exhausted": False}
        (position,) = client.get_all_positions()
        assert isinstance(position, Position)
        assert (position.symbol, position.qty, position.avg_entry_price) == ("AAPL", "10", "101")  # open, no costs
        assert client.get_clock().timestamp == T0 + MIN  # type: ignore[union-attr]
    finally:
        code, out, err = venue.stop()
    assert code == 0, err
    assert out.splitlines()[-1] == "venue: stopped at sim time 2024-01-02T14:31:00.000000Z (1 orders)"

    again = launch(tmp_path, *common)
    try:
        client = again.trading()
        assert client.get_clock().timestamp == T0 + MIN  # type: ignore[union-attr]
        found = client.get_order_by_client_id("cli-1")
        assert isinstance(found, Order) and found.status == OrderStatus.FILLED and found.id == placed.id
        status = again.admin("GET", "/venue/status")
        assert isinstance(status, dict) and (status["orders"], status["fills"]) == (1, 1)
        with pytest.raises(APIError) as duplicate:
            client.submit_order(buy(1, "cli-1"))
        assert duplicate.value.status_code == 422
    finally:
        code, _, err = again.stop(signal.SIGINT)
    assert code == 0, err

    other = write_bars(tmp_path / "other.csv", base=200)
    refused = subprocess.run(
        [*ENGINE, "--bars", str(other), "--config", str(config), "--db", str(db), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert refused.returncode == 2
    (line,) = refused.stderr.splitlines()
    assert line.startswith(f"engine venue: error: venue database {db} was made with bar file {bars}")


def test_real_time_driver_and_faults_from_the_command_line(tmp_path: Path, files: tuple[Path, Path, Path]) -> None:
    bars, config, db = files
    venue = launch(
        tmp_path,
        "--bars",
        str(bars),
        "--config",
        str(config),
        "--db",
        str(db),
        "--speed",
        "600",
        "--fault",
        "http_503=1",
        "--fault-seed",
        "4",
        "--hold",
        "2",
        lines=2,
    )
    try:
        assert venue.banner[0].endswith(", speed 600, db " + str(db) + ")")
        assert venue.banner[1] == "venue: faults http_503=1 (seed 4, retry-after 1s, hold 2s)"
        with pytest.raises(APIError) as caught:
            venue.trading().get_clock()
        assert caught.value.status_code == 503
        deadline = time.monotonic() + 5  # 5 one-minute bars at 10 per wall second
        status: object = None
        while time.monotonic() < deadline:
            status = venue.admin("GET", "/venue/status")
            if isinstance(status, dict) and status["exhausted"]:
                break
            time.sleep(0.05)
        assert isinstance(status, dict) and status["sim_time"] == "2024-01-02T14:35:00.000000Z"
        assert status["faults"]["http_503"] == 1
        plan = venue.admin("GET", "/venue/faults")
        assert isinstance(plan, dict) and (plan["seed"], plan["hold_seconds"]) == (4, 2.0)
    finally:
        code, _, err = venue.stop()
    assert code == 0, err


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_bad_fault_exits_2_with_one_line(files: tuple[Path, Path, Path]) -> None:
    bars, _, db = files
    result = subprocess.run(
        [*ENGINE, "--bars", str(bars), "--db", str(db), "--fault", "http_999=0.1"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "engine venue: error: unknown fault kind 'http_999' (known: http_429, http_500, http_502, http_503, "
        "http_504, timeout, accept_then_timeout, accept_then_drop)"
    ]
    assert result.stdout == "" and not db.exists()


def test_usage_and_input_errors_exit_2_with_one_line(
    tmp_path: Path, files: tuple[Path, Path, Path], taken_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    """In-process (``engine.cli.main``): the same code path as the subprocess, without the start-up cost."""
    from engine.cli import main

    bars, config, db = files
    bad_config = tmp_path / "bad.toml"
    bad_config.write_text("[nope]\n")
    ok = ["--bars", str(bars), "--config", str(config), "--db", str(db), "--port", "0"]
    cases = [
        ([*ok, "--fault", "timeout=1.5"], "fault timeout: probability 1.5 is outside [0, 1]"),
        ([*ok, "--fault", "timeout"], "expected KIND=PROB"),
        ([*ok, "--fault", "http_500=half"], "fault http_500: probability 'half' is not a number"),
        ([*ok, "--hold", "-1"], "--hold must be a number of seconds >= 0"),
        ([*ok, "--cash", "lots"], "--cash 'lots' is not a number"),
        ([*ok, "--speed", "0"], "--speed must be a positive number"),
        ([*ok, "--port", "70000"], "--port must be between 0 and 65535"),
        ([*ok, "--bars", str(tmp_path / "missing.csv")], "bar file not found"),
        ([*ok, "--config", str(bad_config)], "nope: Extra inputs are not permitted"),
        ([*ok, "--config", str(tmp_path / "missing.toml")], "config file not found"),
        ([*ok, "--port", str(taken_port)], f"cannot listen on 127.0.0.1:{taken_port}: Address already in use"),
        ([*ok, "--db", str(tmp_path / "no" / "v.db")], "cannot use venue database"),
    ]
    for args, message in cases:
        assert main(["venue", *args]) == 2, args
        captured = capsys.readouterr()
        (line,) = captured.err.splitlines()
        assert line.startswith("engine venue: error: ") and message in line, line
        assert captured.out == ""
        assert not db.exists()  # refused before the database was created (also for a taken port)


def test_the_venue_fills_with_the_paper_section_of_the_config(tmp_path: Path) -> None:
    """``[paper]`` is the paper broker's and the venue's one cost model (``cost_model``): a 0.5%
    participation cap lets 5 of 1000 shares fill a bar, so 12 shares fill 5, 5, then 2."""
    import argparse

    from engine.broker.paper import cost_model
    from engine.cli.venue_cmd import _build, add_parser
    from engine.config import load

    config = tmp_path / "venue.toml"
    config.write_text(CONFIG + 'spread = "bar_range"\nmax_participation = "0.005"\nlatency_ms = 250\n')
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    args = parser.parse_args(
        [
            "venue",
            "--bars",
            str(write_bars(tmp_path / "bars.csv")),
            "--config",
            str(config),
            "--db",
            str(tmp_path / "venue.db"),
            "--port",
            "0",
            "--manual",
        ]
    )
    server = _build(args)
    try:
        server.start()
        assert server.market is not None
        cfg, _ = load(str(config))
        assert (server.market.costs, server.market.seed) == (cost_model(cfg.paper), 5)
        assert server.market.costs.max_participation_ppm == 5_000 and server.market.costs.spread_from_range
        client = trading_at(server.base_url)
        placed = client.submit_order(buy(12, "cap"))
        assert isinstance(placed, Order)
        seen = []
        for _ in range(3):
            server.step()
            now = client.get_order_by_id(placed.id)
            assert isinstance(now, Order)
            seen.append((now.status, now.filled_qty))
        assert seen == [
            (OrderStatus.PARTIALLY_FILLED, "5"),
            (OrderStatus.PARTIALLY_FILLED, "10"),
            (OrderStatus.FILLED, "12"),
        ]
    finally:
        server.stop()
