"""Adversarial suite, configs and command-line arguments: each is refused with one line on stderr in the
engine's own words and exit 2 (argparse's usage block included), no journal is made, and the inputs stay
as they were."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.adversarial import assert_refused, journal_with_bars, run_cli, state, write_bars

pytestmark = pytest.mark.adversarial

CONFIGS: dict[str, tuple[str, str]] = {
    "not_toml": ("[run\nseed = 1\n", "is not valid TOML"),
    "unknown_table": ("[foo]\nx = 1\n", "foo: Extra inputs are not permitted"),
    "unknown_key": ("[run]\nsed = 1\n", "run.sed: Extra inputs are not permitted"),
    "string_seed": ('[run]\nseed = "5"\n', "run.seed: Input should be a valid integer"),
    "negative_seed": ("[run]\nseed = -1\n", "run.seed: Input should be greater than or equal to 0"),
    "huge_seed": ("[run]\nseed = 9223372036854775808\n", "run.seed"),
    "nan_fee": ("[paper]\nfee_bps = nan\n", "paper.fee_bps"),
    "inf_spread": ("[paper]\nhalf_spread_bps = inf\n", "paper.half_spread_bps"),
    "three_decimal_bps": ("[paper]\nslippage_bps = 1.234\n", "basis points are limited to two decimal places"),
    "fast_above_slow": ("[strategy]\nfast = 30\nslow = 10\n", "fast (30) must be smaller than slow (10)"),
    "unknown_strategy": ('[strategy]\nname = "nope"\n', "unknown strategy 'nope'"),
    "unimportable_strategy": ('[strategy]\nname = "no.such.module:SPEC"\n', "cannot load strategy"),
    "control_char_symbol": ('[run]\nuniverse = ["AA\\u0000PL"]\n', "holds a control character"),
    "long_symbol": (f'[run]\nuniverse = ["{"S" * 65}"]\n', "longer than 64 characters"),
    "unknown_calendar": ('[run]\ncalendar = "XXXX"\n', "XXXX"),
    "live_without_alpaca": ('[run]\nmode = "live"\n', "run.mode 'live' does not go with broker.kind 'sim'"),
    "secret_in_clear": (
        '[strategy]\nname = "tests.test_config_env:SECRETIVE"\napi_token = "tok-9x"\n',
        "strategy.api_token looks like a secret",
    ),
    "secret_reference_unset": (
        '[strategy]\nname = "tests.test_config_env:SECRETIVE"\napi_token = "env:NOPE_X"\n',
        "names env NOPE_X, which is not set",
    ),
    "url_with_password": ('[broker]\nvenue_url = "http://u:pw-9x@127.0.0.1:8765"\n', "holds a URL with a password"),
    "breaker_rule_zero": (
        "[[breakers.rules]]\nfailures = 0\nwindow_seconds = 1\nopen_seconds = 1\n",
        "breakers.rules.0.failures",
    ),
    "bars_limit_tiny": ("[bars]\nmax_line_bytes = 1\n", "bars.max_line_bytes"),
    "bars_limit_text": ('[bars]\nmax_file_bytes = "1GB"\n', "bars.max_file_bytes"),
    "a_table_as_a_value": ("[run]\nseed = { x = 1 }\n", "run.seed"),
    "binary_file": ("\x00\x01\x02 not a config", "config"),
    # found by fuzzing (tools/fuzz.py): each was a traceback, or showed a password
    "broker_kind_a_list": ('[broker]\nkind = ["AAPL", "MSFT"]\n', "broker.kind"),
    "risk_profile_a_list": ('[risk]\nprofile = ["AAPL"]\n', "unknown risk.profile"),
    "latency_beyond_a_decimal": ("[paper]\nlatency_ms = 1e+22\n", "paper.latency_ms: Value error, 1E+22 is too large"),
    "offset_beyond_a_decimal": ("[orders]\nlimit_offset_bps = 1e+26\n", "is too large"),
    "profile_with_a_password": ('[risk]\nprofile = "http://u:pw-9x@h:1"\n', "http://u:***@h:1"),
}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_a_hostile_config_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str) -> None:
    text, needle = CONFIGS[name]
    config = tmp_path / "c.toml"
    config.write_text(text, encoding="utf-8")
    bars = write_bars(tmp_path / "bars.csv")
    before = state(config), state(bars)
    code, _, err = run_cli(
        ["run", "--bars", str(bars), "--config", str(config), "--journal", str(tmp_path / "j.db")], capsys
    )
    assert_refused(code, err, needle)
    assert "tok-9x" not in err and "pw-9x" not in err
    assert (state(config), state(bars)) == before
    assert not (tmp_path / "j.db").exists()


def test_a_config_that_is_a_directory_or_missing_or_not_utf8(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bars = write_bars(tmp_path / "bars.csv")
    (tmp_path / "latin1.toml").write_bytes(b'[run]\ncalendar = "\xe9"\n')
    for config, needle in (
        (tmp_path, "cannot read config"),
        (tmp_path / "missing.toml", "config file not found"),
        (tmp_path / "latin1.toml", "cannot read config"),
    ):
        code, _, err = run_cli(
            ["run", "--bars", str(bars), "--config", str(config), "--journal", str(tmp_path / "j.db")], capsys
        )
        assert_refused(code, err, needle)
    assert not (tmp_path / "j.db").exists()


ARGS: dict[str, tuple[list[str], str]] = {
    "no_command": ([], "the following arguments are required: COMMAND"),
    "unknown_command": (["frob"], "invalid choice: 'frob'"),
    "unknown_flag": (["run", "--fast"], "unrecognized arguments: --fast"),
    "batch_not_a_number": (["run", "--batch", "x"], "argument --batch: invalid int value: 'x'"),
    "batch_zero": (["run", "--batch", "0"], "--batch must be at least 1"),
    "batch_negative": (["run", "--batch", "-5"], "--batch must be at least 1"),
    "cycles_on_a_backtest": (["run", "--cycles", "3"], "--confirm-live and --cycles are for --broker venue|alpaca"),
    "venue_url_on_a_backtest": (["run", "--venue-url", "http://h:1"], "--venue-url is for --broker venue, not sim"),
    "bad_broker": (["run", "--broker", "ib"], "argument --broker: invalid choice: 'ib'"),
    "missing_bars": (["run", "--bars", "{d}/nope.csv"], "bar file not found"),
    "bars_is_a_directory": (["run", "--bars", "{d}"], "is not a file"),
    "query_without_view": (["query"], "the following arguments are required: VIEW"),
    "query_at_zero": (["query", "pnl", "--journal", "{d}/j.db", "--at", "0"], "--at must be a sequence number >= 1"),
    "query_limit_zero": (["query", "events", "--journal", "{d}/j.db", "--limit", "0"], "--limit must be >= 1"),
    "query_bad_format": (["query", "pnl", "--journal", "{d}/j.db", "--format", "xml"], "invalid choice: 'xml'"),
    "report_without_out": (["report", "--journal", "{d}/j.db"], "the following arguments are required: --out"),
    "report_at_negative": (["report", "--journal", "{d}/j.db", "--out", "{d}/r.html", "--at", "-3"], "--at must be"),
    "replay_config_without_out": (
        ["replay", "--from", "{d}/j.db", "--config", "{d}/c.toml"],
        "--config and --out go together",
    ),
    "replay_replace_alone": (["replay", "--from", "{d}/j.db", "--replace"], "--replace and --format are for a what-if"),
    "copy_encrypt_and_decrypt": (
        ["journal", "copy", "{d}/j.db", "{d}/k.db", "--encrypt", "--decrypt"],
        "--encrypt and --decrypt exclude each other",
    ),
    "migrate_down_without_to": (["migrate", "down", "--journal", "{d}/j.db"], "required: --to"),
    "migrate_to_unknown": (["migrate", "up", "--journal", "{d}/j.db", "--to", "99"], "no migration 99"),
    "kill_without_reason": (["kill", "--journal", "{d}/j.db"], "required: --reason"),
    "kill_negative_wait": (["kill", "--journal", "{d}/j.db", "--reason", "r", "--wait", "-1"], "--wait must be"),
    "kill_nan_wait": (["kill", "--journal", "{d}/j.db", "--reason", "r", "--wait", "nan"], "--wait must be"),
    "approve_empty_id": (["approve", " ", "--journal", "{d}/j.db"], "DECISION_ID must not be empty"),
    "venue_bad_port": (["venue", "--bars", "{d}/bars.csv", "--port", "70000"], "--port must be between 0 and 65535"),
    "venue_bad_speed": (["venue", "--bars", "{d}/bars.csv", "--speed", "-1"], "--speed must be a positive number"),
    "venue_bad_fault": (["venue", "--bars", "{d}/bars.csv", "--fault", "http_599=0.5"], "http_599"),
    "venue_fault_probability": (["venue", "--bars", "{d}/bars.csv", "--fault", "http_500=2"], "outside [0, 1]"),
    "project_sqlite": (["project", "--journal", "{d}/j.db", "--projection", "orders"], "postgresql://"),
}


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return journal_with_bars(tmp_path_factory.mktemp("cli"), "c.toml", "[paper]\nfee_bps = 1\n")


@pytest.mark.parametrize("name", sorted(ARGS))
def test_a_hostile_command_line_is_one_line_exit_2(made: Path, capsys: pytest.CaptureFixture[str], name: str) -> None:
    argv, needle = ARGS[name]
    before = {p.name: state(p) for p in made.iterdir()}
    code, _, err = run_cli([a.replace("{d}", str(made)) for a in argv], capsys)
    assert_refused(code, err, needle)
    assert {p.name: state(p) for p in made.iterdir() if p.name in before} == before
