"""The fuzz targets of tools/fuzz.py under hypothesis (structured inputs and raw bytes), so every
``make test`` fuzzes the bar-file parser and the config loader for a while; ``python -m tools.fuzz``
runs the same properties coverage-guided (atheris) for as long as asked."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tools.fuzz import PropertyBroken, check_bar_file, check_config

pytestmark = pytest.mark.adversarial

COLUMNS = ["timestamp", "symbol", "open", "high", "low", "close", "volume"]
_stamp = st.one_of(
    st.sampled_from(
        [
            "2024-01-02T15:00:00Z",
            "2024-01-02T15:01:00.5+00:00",
            "1969-12-31T23:59:59Z",
            "9999-12-31T00:00Z",
            "2262-04-11T23:47:16.854775808Z",
            "2024-02-30T00:00:00Z",
            "2024-01-02 15:00:00",
            "",
            "now",
        ]
    ),
    st.datetimes().map(lambda d: d.isoformat() + "Z"),
    st.text(max_size=30),
)
_number = st.one_of(
    st.sampled_from(["100", "0", "-1", "1e300", "NaN", "inf", "0.000000005", "92233720368", "1_0", "", " 7 "]),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.integers().map(str),
    st.text(max_size=12),
)
_symbol = st.one_of(st.sampled_from(["AAPL", "MSFT", "", "BRK.B", "A" * 70]), st.text(max_size=20))
_cell = {
    "timestamp": _stamp,
    "symbol": _symbol,
    "open": _number,
    "high": _number,
    "low": _number,
    "close": _number,
    "volume": _number,
}


def _quote(text: str) -> str:
    return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"\n\r') else text


@st.composite
def csv_bytes(draw: st.DrawFn) -> bytes:
    header = draw(
        st.one_of(
            st.just(COLUMNS), st.permutations(COLUMNS).map(list), st.lists(st.sampled_from([*COLUMNS, "x"]), max_size=9)
        )
    )
    lines = [",".join(header)]
    for _ in range(draw(st.integers(0, 12))):
        cells = [draw(_cell.get(name, st.text(max_size=5))) for name in header]
        if draw(st.integers(0, 9)) == 0:
            cells.append(draw(st.text(max_size=5)))  # a ragged row
        lines.append(",".join(_quote(c) for c in cells))
    text = draw(st.sampled_from(["\n", "\r\n"])).join(lines) + "\n"
    return text.encode("utf-8", errors="surrogatepass")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=csv_bytes(), compressed=st.booleans())
def test_the_bar_parser_holds_its_property_on_csv_like_files(tmp_path: Path, data: bytes, compressed: bool) -> None:
    check_bar_file(gzip.compress(data) if compressed else data, ".csv.gz" if compressed else ".csv", tmp_path)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=2000), suffix=st.sampled_from([".csv", ".csv.gz", ".parquet"]))
def test_the_bar_parser_holds_its_property_on_raw_bytes(tmp_path: Path, data: bytes, suffix: str) -> None:
    check_bar_file(data, suffix, tmp_path)


KEYS = {
    "run": ["seed", "mode", "calendar", "universe", "canary_symbols", "encrypt_journal", "api_token"],
    "strategy": ["name", "fast", "slow", "qty", "long_only", "edge_bps", "api_token", "db_password"],
    "orders": ["type", "limit_offset_bps", "time_in_force"],
    "paper": ["half_spread_bps", "fee_bps", "latency_ms", "spread", "max_participation"],
    "broker": ["kind", "venue_url", "timeframe", "poll_interval_seconds", "rate_limit_per_minute"],
    "oms": ["max_submit_attempts", "adopt_broker_positions"],
    "risk": ["profile"],
    "costs": ["min_samples", "edge_buffer_bps"],
    "bars": ["max_line_bytes", "max_file_bytes"],
    "bogus": ["x"],
}
_toml_value = st.one_of(
    st.integers(-(2**70), 2**70).map(str),
    st.floats(allow_nan=True).map(lambda f: {"nan": "nan", "inf": "inf", "-inf": "-inf"}.get(str(f), repr(f))),
    st.booleans().map(lambda b: "true" if b else "false"),
    st.text(max_size=20).map(lambda t: '"' + t.replace("\\", "\\\\").replace('"', '\\"') + '"'),
    st.sampled_from(
        [
            '"env:VENDOR_TOKEN"',
            '"env:MISSING"',
            '"http://u:pw12@h:1"',
            '"venue"',
            '"limit"',
            '"24/7"',
            '["AAPL", "MSFT"]',
            '[" "]',
            "[]",
            '"s3cr3t-value"',
            "{ env = 1 }",
        ]
    ),
)


@st.composite
def toml_text(draw: st.DrawFn) -> str:
    lines = []
    for table in draw(st.lists(st.sampled_from(sorted(KEYS)), max_size=5, unique=True)):
        lines.append(f"[{table}]")
        for key in draw(st.lists(st.sampled_from(KEYS[table]), max_size=4, unique=True)):
            lines.append(f"{key} = {draw(_toml_value)}")
    if draw(st.integers(0, 9)) == 0:
        lines.insert(draw(st.integers(0, len(lines))), draw(st.text(max_size=30)))  # noise
    return "\n".join(lines) + "\n"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=toml_text())
def test_the_config_loader_holds_its_property(tmp_path: Path, text: str) -> None:
    check_config(text, tmp_path)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=400))
def test_the_config_loader_holds_its_property_on_any_text(tmp_path: Path, text: str) -> None:
    check_config(text, tmp_path)


def test_the_properties_can_fail(tmp_path: Path) -> None:
    """The targets are not vacuous: a secret echoed in a refusal, or a bar beyond the range, breaks them."""
    import engine.config as config
    from engine.feeds import table

    original = config.config_problem
    config.config_problem = lambda key, value: f"{key} = {value}" if key[-1] == "api_token" else None  # type: ignore[assignment]
    try:
        with pytest.raises(PropertyBroken, match="shown"):
            check_config('[strategy]\napi_token = "s3cr3t-value"\n', tmp_path)
    finally:
        config.config_problem = original
    good = b"timestamp,symbol,open,high,low,close,volume\n1969-12-31T15:00:00Z,AAPL,100,101,99,100,10\n"
    check_bar_file(good, ".csv", tmp_path)  # rejected as out of range: the property holds
    saved = table.EDGE_TS_MIN
    table.EDGE_TS_MIN = -(2**62)  # type: ignore[misc]
    try:
        with pytest.raises(PropertyBroken, match="out of range"):
            check_bar_file(good, ".csv", tmp_path)
    finally:
        table.EDGE_TS_MIN = saved  # type: ignore[misc]
