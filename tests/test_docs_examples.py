"""The strategy example of docs/strategies.md (docs/examples/breakout.py) works as documented."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from docs.examples.breakout import SPEC, Breakout, BreakoutParams
from engine.config import config_hash, resolve
from engine.core.strategy import Target
from engine.strategies import resolve_strategy
from journal_schema.events import BarClosed

REPO = Path(__file__).resolve().parent.parent
SCALE = 100_000_000
HEADER = "timestamp,symbol,open,high,low,close,volume"
CLOSES = [10, 11, 12, 13, 12, 11, 9, 10, 14, 15, 13, 8, 9]


def bar(close: int, minute: int = 0) -> BarClosed:
    c = close * SCALE
    return BarClosed(
        ts=1_704_207_600_000_000_000 + minute * 60_000_000_000,
        symbol="AAPL",
        open=c,
        high=c,
        low=c,
        close=c,
        volume=1000 * SCALE,
    )


def test_on_bar_gives_exactly_the_expected_targets():
    strategy = Breakout(BreakoutParams(lookback=3, qty=Decimal(10)), "AAPL")
    got = [strategy.on_bar(bar(c, i)) for i, c in enumerate(CLOSES)]
    long_ = Target(direction=1, qty=10 * SCALE, features={"highest": 12 * SCALE, "lowest": 10 * SCALE})
    flat = Target(direction=0, qty=0, features={"highest": 13 * SCALE, "lowest": 12 * SCALE})
    long_again = Target(direction=1, qty=10 * SCALE, features={"highest": 11 * SCALE, "lowest": 9 * SCALE})
    flat_again = Target(direction=0, qty=0, features={"highest": 15 * SCALE, "lowest": 13 * SCALE})
    assert got == [
        None,
        None,
        None,  # warm-up: fewer than 3 previous closes
        long_,  # 13 > max(10, 11, 12)
        None,  # 12 inside [11, 13]
        flat,  # 11 < min(12, 13, 12)
        None,  # 9 < min(13, 12, 11) but already flat
        None,  # 10 inside [9, 12]
        long_again,  # 14 > max(11, 9, 10)
        None,  # 15 > max(9, 10, 14) but already long
        None,  # 13 inside [10, 15]
        flat_again,  # 8 < min(14, 15, 13)
        None,  # 9 inside [8, 15]
    ]


def test_each_symbol_has_its_own_state():
    params = BreakoutParams(lookback=1, qty=Decimal(5))
    a, b = Breakout(params, "AAA"), Breakout(params, "BBB")
    assert a.on_bar(bar(10)) is None and b.on_bar(bar(20)) is None
    assert a.on_bar(bar(11)) == Target(1, 5 * SCALE, {"highest": 10 * SCALE, "lowest": 10 * SCALE})
    assert b.on_bar(bar(19)) is None  # below the channel, but BBB was never long


def test_params_refuse_unknown_keys_and_bad_values():
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        BreakoutParams.model_validate({"lookback": 3, "lookbak": 4})
    with pytest.raises(ValidationError):
        BreakoutParams.model_validate({"lookback": 0})
    with pytest.raises(ValidationError):
        BreakoutParams.model_validate({"qty": 0})


def test_config_resolves_the_plugin_and_fills_defaults():
    assert resolve_strategy("docs.examples.breakout:SPEC") is SPEC
    _, snapshot = resolve({"strategy": {"name": "docs.examples.breakout:SPEC", "lookback": 3}})
    assert snapshot["strategy"] == {"name": "docs.examples.breakout:SPEC", "lookback": 3, "qty": "100"}
    _, explicit = resolve({"strategy": {"name": "docs.examples.breakout:SPEC", "lookback": 3, "qty": "100.0"}})
    assert config_hash(explicit) == config_hash(snapshot)


def engine(*args: str, hash_seed: str) -> subprocess.CompletedProcess[str]:
    """``python -m engine.cli`` from the repository root, so ``docs.examples`` is importable."""
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture()
def bars_and_config(tmp_path: Path) -> tuple[Path, Path]:
    rows, prev = [], CLOSES[0]
    for m, c in enumerate(CLOSES):  # one minute bars inside the 2024-01-02 XNYS session
        rows.append(f"2024-01-02T15:{m:02d}:00Z,AAPL,{prev},{max(prev, c) + 0.5},{min(prev, c) - 0.5},{c},1000")
        prev = c
    bars = tmp_path / "bars.csv"
    bars.write_text(HEADER + "\n" + "\n".join(rows) + "\n")
    config = tmp_path / "breakout.toml"
    config.write_text('[strategy]\nname = "docs.examples.breakout:SPEC"\nlookback = 3\nqty = 10\n')
    return bars, config


def test_run_then_replay_end_to_end(tmp_path, bars_and_config):
    bars, config = bars_and_config
    journal = tmp_path / "journal.db"
    run = engine(
        "run", "--bars", str(bars), "--config", str(config), "--journal", str(journal), "--json", hash_seed="1"
    )
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    assert summary["bars_accepted"] == len(CLOSES) and summary["bars_rejected"] == 0
    assert summary["signals"] == 4 and summary["orders"] == 4 and summary["fills"] == 4
    assert summary["positions"]["AAPL"]["qty"] == "0.00000000"

    replay = engine("replay", "--from", str(journal), hash_seed="2")
    assert replay.returncode == 0, replay.stdout + replay.stderr
    m = re.fullmatch(r"identical: (\d+) records \(\d+ inputs, \d+ derived\), digest ([0-9a-f]{64})\n", replay.stdout)
    assert m, replay.stdout
    assert int(m.group(1)) == summary["events"] and m.group(2) == summary["digest"]

    signals = engine(
        "query", "events", "--journal", str(journal), "--type", "SignalGenerated", "--format", "json", hash_seed="3"
    )
    assert signals.returncode == 0, signals.stderr
    rows = json.loads(signals.stdout)
    assert [r["event"]["strategy"] for r in rows] == ["docs.examples.breakout:SPEC"] * 4
    assert [r["event"]["direction"] for r in rows] == [1, 0, 1, 0]
    assert [r["ts"] for r in rows] == [f"2024-01-02T15:{m:02d}:00Z" for m in (3, 5, 8, 11)]
