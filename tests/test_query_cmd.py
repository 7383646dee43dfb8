"""`engine query events|orders|positions|pnl` through the real CLI entry point."""

import csv
import io
import json

import pytest

from engine.cli import main
from tests.journal_factory import fill, trading_day, write_journal


@pytest.fixture
def journal(tmp_path):
    return write_journal(tmp_path / "journal.db", trading_day())


def _run(capsys, *argv):
    code = main(["query", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def _no_floats(s):
    raise AssertionError(f"binary float in JSON output: {s}")


def test_pnl_table(journal, capsys):
    assert _run(capsys, "pnl", "--journal", str(journal)) == (
        0,
        (
            "symbol  realized  unrealized  fees     net\n"
            "------  --------  ----------  ----  ------\n"
            "AAPL       80.00       60.00  1.50  138.50\n"
            "MSFT        0.00       10.00  0.25    9.75\n"
            "TOTAL      80.00       70.00  1.75  148.25\n"
            "as of seq 16\n"
        ),
        "",
    )


def test_pnl_json_keeps_exact_decimal_strings(journal, capsys):
    code, out, _ = _run(capsys, "pnl", "--journal", str(journal), "--format", "json")
    assert code == 0
    assert json.loads(out, parse_float=_no_floats) == [
        {
            "symbol": "AAPL",
            "realized": "80.00000000",
            "unrealized": "60.00000000",
            "fees": "1.50000000",
            "net": "138.50000000",
        },
        {
            "symbol": "MSFT",
            "realized": "0.00000000",
            "unrealized": "10.00000000",
            "fees": "0.25000000",
            "net": "9.75000000",
        },
        {
            "symbol": "TOTAL",
            "realized": "80.00000000",
            "unrealized": "70.00000000",
            "fees": "1.75000000",
            "net": "148.25000000",
        },
    ]


def test_positions_at_a_sequence_number(journal, capsys):
    assert _run(capsys, "positions", "--journal", str(journal), "--at", "6") == (
        0,
        (
            "symbol  qty  avg_price  last_price  market_value  unrealized  realized  fees\n"
            "------  ---  ---------  ----------  ------------  ----------  --------  ----\n"
            "AAPL    100    10.0000      9.9000        990.00      -10.00      0.00  1.00\n"
            "as of seq 6\n"
        ),
        "",
    )


def test_orders_csv(journal, capsys):
    code, out, _ = _run(capsys, "orders", "--journal", str(journal), "--format", "csv", "--at", "11")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows == [
        {
            "client_order_id": "c-buy",
            "symbol": "AAPL",
            "side": "buy",
            "qty": "100.00000000",
            "type": "market",
            "limit": "",
            "status": "FILLED",
            "cum_qty": "100.00000000",
            "avg_price": "10.00000000",
            "fees": "1.00000000",
            "requested": "2024-01-02T13:01:00Z",
            "last": "2024-01-02T13:02:00Z",
            "reason": "",
        },
        {
            "client_order_id": "c-sell",
            "symbol": "AAPL",
            "side": "sell",
            "qty": "40.00000000",
            "type": "limit",
            "limit": "12.00000000",
            "status": "PARTIALLY_FILLED",
            "cum_qty": "25.00000000",
            "avg_price": "12.00000000",
            "fees": "0.30000000",
            "requested": "2024-01-02T13:03:00Z",
            "last": "2024-01-02T13:04:00Z",
            "reason": "",
        },
    ]


def test_events_type_filter_limit_json(journal, capsys):
    code, out, _ = _run(
        capsys,
        "events",
        "--journal",
        str(journal),
        "--type",
        "OrderFilled",
        "--type",
        "OrderPartiallyFilled",
        "--limit",
        "2",
        "--format",
        "json",
    )
    assert code == 0
    first, second = json.loads(out, parse_float=_no_floats)
    assert (first["seq"], first["type"], first["client_order_id"], first["symbol"]) == (6, "OrderFilled", "c-buy", None)
    assert first["ts"] == "2024-01-02T13:02:00Z"
    assert first["event"]["fill_price"] == 1_000_000_000  # embedded JSON, integer 1e-8 units
    assert (second["seq"], second["type"]) == (11, "OrderPartiallyFilled")


def _seqs(capsys, journal, *flags):
    code, out, err = _run(capsys, "events", "--journal", str(journal), "--format", "csv", *flags)
    assert (code, err) == (0, "")
    return [int(row["seq"]) for row in csv.DictReader(io.StringIO(out))]


def test_events_of_one_symbol_or_one_order(journal, capsys):
    assert _seqs(capsys, journal, "--symbol", "AAPL") == [2, 3, 4, 8, 9, 16]  # broker reports carry no symbol
    assert _seqs(capsys, journal, "--order", "c-sell") == [8, 9, 10, 11, 12]
    assert _seqs(capsys, journal, "--order", "c-sell", "--type", "OrderFilled", "--at", "11") == []
    assert _seqs(capsys, journal, "--symbol", "MSFT", "--type", "BarClosed") == [7]
    assert _seqs(capsys, journal, "--symbol", "NOPE") == []


def test_events_table(journal, capsys):
    code, out, _ = _run(capsys, "events", "--journal", str(journal), "--at", "2")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["seq", "ts", "type", "symbol", "client_order_id", "event"]
    assert lines[2].split()[:5] == ["1", "2024-01-02T13:00:00Z", "SessionOpened", "-", "-"]
    assert lines[3].endswith(
        '{"type":"BarClosed","ts":1704200460000000000,"symbol":"AAPL","open":990000000,'
        '"high":990000000,"low":990000000,"close":990000000,"volume":100000000000}'
    )
    assert len(lines) == 4


def test_refused_reports_are_warned_on_stderr(tmp_path, capsys):
    path = write_journal(tmp_path / "j.db", [*trading_day(), [fill(9, "c-ghost", 1, "1", "0", cum=1, leaves=0)]])
    code, out, err = _run(capsys, "pnl", "--journal", str(path), "--format", "csv")
    assert code == 0
    assert out.splitlines()[-1] == "TOTAL,80.00000000,70.00000000,1.75000000,148.25000000"
    assert err == (
        "warning: seq 17: UNKNOWN_ORDER_REPORT: OrderFilled for unknown client_order_id c-ghost (report not applied)\n"
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["pnl", "--at", "0"], "--at must be a sequence number >= 1, got 0"),
        (["orders", "--at", "17"], "sequence number 17 is beyond the end of the journal (last seq 16)"),
        (["events", "--at", "100"], "sequence number 100 is beyond the end of the journal (last seq 16)"),
        (["events", "--limit", "0"], "--limit must be >= 1, got 0"),
        (["events", "--type", "Nope"], "unknown event type Nope (known: AlertRaised, BarClosed,"),
    ],
)
def test_usage_errors_are_one_line(journal, capsys, argv, message):
    code, out, err = _run(capsys, *argv, "--journal", str(journal))
    assert (code, out) == (2, "")
    assert err.startswith(f"engine query: error: {message}")
    assert err.count("\n") == 1


def test_missing_journal(tmp_path, capsys):
    missing = tmp_path / "missing.db"
    assert _run(capsys, "positions", "--journal", str(missing)) == (
        2,
        "",
        f"engine query: error: journal not found: {missing}\n",
    )
    assert not missing.exists()
