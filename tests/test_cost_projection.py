"""``engine query costs``: the cost-model projection folds the journal to exactly the model the
core decided with (one implementation), and the CLI prints it."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from engine.cli import main
from engine.shell import Engine
from projections.costs import build_costs
from tests.support import SCALE, run_engine, synthetic_stream

CFG = {
    "strategy": {"fast": 2, "slow": 4, "qty": 10},
    "risk": {"policy": {"min_liquidity_score": "0"}},
    "costs": {"min_samples": 3},
}


def wave(n: int) -> list[tuple[str, int]]:
    """Two symbols whose closes swing, so the SMA crosses often."""
    return [
        (sym, round((100 + 5 * math.sin(i / 3 + k)) * SCALE)) for i in range(n) for k, sym in enumerate(("AAA", "BBB"))
    ]


@pytest.fixture(scope="module")
def journal(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("costs") / "j.db"
    inputs, _ = synthetic_stream(wave(120))
    run_engine(path, inputs, CFG)
    return path


def test_the_projection_equals_the_cores_model(journal: Path) -> None:
    core = Engine.open(str(journal))
    core.close()
    proj = build_costs(journal)
    assert set(proj.book.symbols) == set(core.state.costs.symbols) == {"AAA", "BBB"}
    for symbol in ("AAA", "BBB"):
        mine, theirs = proj.book.symbols[symbol], core.state.costs.symbols[symbol]
        assert mine.samples == theirs.samples > 3
        assert proj.book.fit(symbol) == core.state.costs.fit(symbol)
        assert proj.book.fit(symbol)[4] is True  # calibrated


def test_query_costs_prints_one_row_per_symbol(journal: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["query", "costs", "--journal", str(journal), "--format", "json"]) == 0
    import json

    rows = json.loads(capsys.readouterr().out)
    assert [r["symbol"] for r in rows] == ["AAA", "BBB"]
    assert all(r["calibrated"] == "true" and r["half_spread_bps"] == "2.00" for r in rows)
