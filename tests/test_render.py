"""Table, CSV and JSON rendering: rounded for people, exact decimal strings for programs."""

import json

from journal_schema.units import exact
from projections.render import Column, Table, fmt_qty, render
from tests.journal_factory import px

TABLE = Table(
    (
        Column("symbol"),
        Column("qty", "qty"),
        Column("price", "price"),
        Column("pnl", "money"),
        Column("ts", "ts"),
        Column("event", "json"),
    ),
    [
        ("AAPL", px("60"), px("10.123456"), px("0.005"), 0, b'{"a":1}'),
        ("X", px("-0.5"), None, px("-1234.5"), 1_500_000_000, None),
    ],
)


def test_table_rounds_and_right_aligns_numbers():
    assert render(TABLE, "table") == (
        "symbol   qty    price       pnl  ts                      event\n"
        "------  ----  -------  --------  ----------------------  -------\n"
        'AAPL      60  10.1235      0.00  1970-01-01T00:00:00Z    {"a":1}\n'
        "X       -0.5        -  -1234.50  1970-01-01T00:00:01.5Z  -\n"
    )


def test_csv_is_exact():
    assert render(TABLE, "csv") == (
        "symbol,qty,price,pnl,ts,event\n"
        'AAPL,60.00000000,10.12345600,0.00500000,1970-01-01T00:00:00Z,"{""a"":1}"\n'
        "X,-0.50000000,,-1234.50000000,1970-01-01T00:00:01.5Z,\n"
    )


def test_json_is_exact_strings_never_floats():
    text = render(TABLE, "json")
    rows = json.loads(text, parse_float=lambda s: (_ for _ in ()).throw(AssertionError(s)))
    assert rows == [
        {
            "symbol": "AAPL",
            "qty": "60.00000000",
            "price": "10.12345600",
            "pnl": "0.00500000",
            "ts": "1970-01-01T00:00:00Z",
            "event": {"a": 1},
        },
        {
            "symbol": "X",
            "qty": "-0.50000000",
            "price": None,
            "pnl": "-1234.50000000",
            "ts": "1970-01-01T00:00:01.5Z",
            "event": None,
        },
    ]


def test_empty_tables():
    empty = Table((Column("a"), Column("b", "money")), [])
    assert render(empty, "json") == "[]\n"
    assert render(empty, "csv") == "a,b\n"
    assert render(empty, "table") == "a  b\n-  -\n"


def test_exact_and_qty_formatting():
    assert [exact(v) for v in (0, 1, -1, px("80"))] == ["0.00000000", "0.00000001", "-0.00000001", "80.00000000"]
    assert [fmt_qty(v) for v in (px("100"), px("-10"), px("0.125"), 1)] == ["100", "-10", "0.125", "0.00000001"]
