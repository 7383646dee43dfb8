"""`engine tca` through the real CLI entry point, on journals of real historical runs."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import polars as pl
import pytest

from engine.cli import main
from engine.config import resolve
from engine.runner import historical_run
from projections.tca import load_tca
from tools.bench.gen_minute_bars import write

GROUPINGS = ("day", "symbol", "strategy", "order_type")


@pytest.fixture(scope="module")
def bundled(tmp_path_factory) -> Path:
    """The `make run` job in-process: bundled daily bars, default config (market orders)."""
    journal = tmp_path_factory.mktemp("tca") / "j.db"
    cfg, snap = resolve({})
    historical_run(cfg, snap, journal)
    return journal


@pytest.fixture(scope="module")
def minute_limit(tmp_path_factory) -> Path:
    """Two symbols of generated minute bars, limit orders."""
    d = tmp_path_factory.mktemp("tca-min")
    bars = write(2000, ("SYN", "ALT"), seed=3, out=d / "bars.csv")
    cfg, snap = resolve({"orders": {"type": "limit", "limit_offset_bps": 2}, "strategy": {"fast": 5, "slow": 20}})
    historical_run(cfg, snap, d / "j.db", bars=bars)
    return d / "j.db"


def tca(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["tca", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def json_rows(capsys, journal: Path, *argv: str) -> list[dict[str, object]]:
    code, out, err = tca(capsys, "--journal", str(journal), "--format", "json", *argv)
    assert (code, err) == (0, "")
    rows: list[dict[str, object]] = json.loads(out)
    return rows


@pytest.mark.parametrize("by", GROUPINGS)
def test_groups_partition_the_orders_and_blocks_and_the_total_row_agrees_with_the_orders_frame(bundled, capsys, by):
    rows = json_rows(capsys, bundled, "--by", by)
    *groups, total = rows
    frame = load_tca(bundled)
    orders, blocks = frame.orders, frame.blocks
    assert total[by] == "TOTAL"
    assert [g[by] for g in groups] == sorted(set(orders[by]) | set(blocks[by]))
    assert total["orders"] == sum(g["orders"] for g in groups) == orders.height > 100
    assert total["filled_orders"] == (orders["status"] == "FILLED").sum()
    assert total["notional"] == pytest.approx(orders["notional"].sum(), abs=1e-4)
    assert total["is_bps_mean"] == pytest.approx(orders["is_bps"].mean(), abs=1e-5)
    assert total["is_bps_wmean"] == pytest.approx(orders["is_usd"].sum() / orders["notional"].sum() * 1e4, abs=1e-5)
    assert total["spread_paid_bps_p50"] == pytest.approx(orders["spread_paid_bps"].median(), abs=1e-5)
    blocked = {k: v for k, v in total.items() if k.startswith("blocked_")}
    assert blocked == {f"blocked_{r}": n for r, n in blocks.group_by("reason").len().iter_rows()}
    for g in groups:
        mine = orders.filter(pl.col(by) == g[by])
        assert g["orders"] == mine.height
        if mine.height:
            assert g["execution_bps_mean"] == pytest.approx(mine["execution_bps"].mean(), abs=1e-5)


def test_default_is_a_daily_table_with_a_total_line(bundled, capsys):
    code, out, err = tca(capsys, "--journal", str(bundled))
    assert (code, err) == (0, "")
    header, rule, *body = out.splitlines()
    assert header.split()[:6] == ["day", "orders", "filled_orders", "partial_orders", "fill_rate", "notional"]
    assert set(rule) == {"-", " "}
    assert body[0].startswith("2000-") and body[-1].startswith("TOTAL")
    assert len(body) == len(json_rows(capsys, bundled))


def test_csv_has_the_json_columns_in_the_same_order_and_the_same_values(minute_limit, capsys):
    rows = json_rows(capsys, minute_limit, "--by", "symbol")
    code, out, _ = tca(capsys, "--journal", str(minute_limit), "--by", "symbol", "--format", "csv")
    assert code == 0
    table = list(csv.reader(io.StringIO(out)))
    assert table[0] == list(rows[0]) and table[0][:2] == ["symbol", "orders"]
    for line, obj in zip(table[1:], rows, strict=True):
        assert line == ["" if v is None else str(v) for v in obj.values()]


def test_order_type_attributes_blocks_to_the_configured_type(minute_limit, capsys):
    rows = json_rows(capsys, minute_limit, "--by", "order_type")
    assert [r["order_type"] for r in rows] == ["limit", "TOTAL"]
    limit, total = rows
    blocked = [k for k in total if k.startswith("blocked_")]
    assert blocked and all(limit[k] == total[k] for k in blocked)
    assert limit["orders"] == total["orders"] == load_tca(minute_limit).orders.height


def test_at_reports_only_what_was_journaled_by_then(bundled, capsys):
    orders = load_tca(bundled).orders
    at = 5000
    total = json_rows(capsys, bundled, "--by", "symbol", "--at", str(at))[-1]
    assert 0 < total["orders"] == load_tca(bundled, at=at).orders.height < orders.height


def test_errors_are_one_line_with_exit_2(tmp_path, bundled, capsys):
    missing = tmp_path / "missing.db"
    assert tca(capsys, "--journal", str(missing)) == (
        2,
        "",
        f"engine tca: error: journal not found: {missing}\n",
    )
    assert tca(capsys, "--journal", str(bundled), "--at", "0") == (
        2,
        "",
        "engine tca: error: --at must be a sequence number >= 1, got 0\n",
    )
    code, out, err = tca(capsys, "--journal", str(bundled), "--at", "99999999")
    assert (code, out) == (2, "") and "beyond the end of the journal" in err
    assert not missing.exists()


def test_help_explains_the_columns(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["tca", "--help"])
    out = capsys.readouterr().out
    assert exc.value.code == 0
    for word in ("--by {day,symbol,strategy,order_type}", "is_bps_wmean", "blocked_<REASON>", "docs/tca.md"):
        assert word in out


def test_the_cli_offers_exactly_the_report_groupings():
    from engine.cli import tca_cmd
    from projections.tca_report import GROUPINGS as REPORT_GROUPINGS

    assert tca_cmd.GROUPINGS == REPORT_GROUPINGS == GROUPINGS
