"""The config contract's sources: ENGINE__ environment variables, conflicts between file,
environment and command line, and the redacted effective-config summary of `engine run`."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from engine.cli import main
from engine.config import ConfigError, config_hash, load, load_sources, resolve, with_overrides
from engine.config_env import redact
from engine.core.strategy import StrategySpec, Target
from engine.feeds.calendar import load_sessions
from engine.journal import read_events
from journal_schema.events import BarClosed, DecisionMade, RunStarted


class _Quiet:
    def on_bar(self, bar: BarClosed) -> Target | None:
        return None


class SecretParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    api_token: str = ""
    db_url: str = ""


# a strategy whose parameters look secret: the summary must not show them
SECRETIVE = StrategySpec("secretive", SecretParams, lambda params, symbol: _Quiet())


@pytest.mark.parametrize(
    "env,expect",
    [
        ({"ENGINE__RUN__SEED": "42"}, {"run": {"seed": 42}}),
        ({"ENGINE__RUN__UNIVERSE": '["MSFT","AAPL"]'}, {"run": {"universe": ["AAPL", "MSFT"]}}),
        ({"ENGINE__RUN__CALENDAR": "24/7"}, {"run": {"calendar": "24/7"}}),
        (
            {"ENGINE__RUN__MODE": "paper", "ENGINE__BROKER__KIND": "venue"},
            {"run": {"mode": "paper"}, "broker": {"kind": "venue"}},
        ),
        ({"ENGINE__STRATEGY__FAST": "5", "ENGINE__STRATEGY__QTY": "12.5"}, {"strategy": {"fast": 5, "qty": "12.5"}}),
        (
            {"ENGINE__ORDERS__TYPE": "limit", "ENGINE__ORDERS__LIMIT_OFFSET_BPS": "5"},
            {"orders": {"type": "limit", "limit_offset_bps": "5"}},
        ),
        ({"ENGINE__PAPER__HALF_SPREAD_BPS": "3"}, {"paper": {"half_spread_bps": "3"}}),
        ({"ENGINE__PAPER__FEE_PER_SHARE": '"0.005"'}, {"paper": {"fee_per_share": "0.005"}}),
        (
            {"ENGINE__BROKER__VENUE_URL": "http://127.0.0.1:9000", "ENGINE__BROKER__POLL_INTERVAL_SECONDS": "0.5"},
            {"broker": {"venue_url": "http://127.0.0.1:9000", "poll_interval_seconds": "0.5"}},
        ),
        (
            {"ENGINE__OMS__ADOPT_BROKER_POSITIONS": "true", "ENGINE__OMS__MAX_SUBMIT_ATTEMPTS": "7"},
            {"oms": {"adopt_broker_positions": True, "max_submit_attempts": 7}},
        ),
        (
            {"ENGINE__RISK__PROFILE": "conservative", "ENGINE__RISK__CAPITAL": "500000"},
            {"risk": {"profile": "conservative", "capital": "500000"}},
        ),
        ({"ENGINE__RISK__POLICY__MIN_CONFIDENCE": "0.5"}, {"risk": {"policy": {"min_confidence": "0.5"}}}),
        (
            {"ENGINE__RISK__POLICY__ACTIONS__LOW_LIQUIDITY": "REJECT"},
            {"risk": {"policy": {"actions": {"low_liquidity": "REJECT"}}}},
        ),
        ({"ENGINE__RISK__PRETRADE__PRICE_COLLAR_BPS": "300"}, {"risk": {"pretrade": {"price_collar_bps": 300}}}),
        ({"ENGINE__RISK__LIMITS__ON_DAILY_LOSS": "HALTED"}, {"risk": {"limits": {"on_daily_loss": "HALTED"}}}),
        ({"ENGINE__RISK__QUARANTINE__ENABLED": "false"}, {"risk": {"quarantine": {"enabled": False}}}),
        (
            {"ENGINE__RISK__SESSION__CANCEL_DAY_ORDERS_AT_CLOSE": "true"},
            {"risk": {"session": {"cancel_day_orders_at_close": True}}},
        ),
        (
            {
                "ENGINE__RISK__ALLOWLIST": '["IBM"]',
                "ENGINE__RISK__BLACKOUTS": (
                    '[{start = "2024-01-31T19:00Z", end = "2024-01-31T20:00Z", reason = "FOMC"}]'
                ),
            },
            {
                "risk": {
                    "allowlist": ["IBM"],
                    "blackouts": [
                        {"start": "2024-01-31T19:00Z", "end": "2024-01-31T20:00Z", "reason": "FOMC", "symbols": []}
                    ],
                }
            },
        ),
        (
            {"ENGINE__COSTS__GATE": "false", "ENGINE__COSTS__EWMA_ALPHA": "0.1"},
            {"costs": {"gate": False, "ewma_alpha": "0.1"}},
        ),
        ({"engine__Paper__Fee_Bps": "1"}, {"paper": {"fee_bps": "1"}}),  # names are case-insensitive
    ],
)
def test_every_table_can_be_set_from_the_environment(env: dict[str, str], expect: dict[str, Any]) -> None:
    _, snap = load(None, env=env)
    _, as_file = resolve(_as_raw(expect))
    assert snap == as_file and config_hash(snap) == config_hash(as_file)
    for table, keys in expect.items():
        assert _pick(snap[table], keys) == keys


def _as_raw(expect: dict[str, Any]) -> dict[str, Any]:
    raw = json.loads(json.dumps(expect))
    for blackout in raw.get("risk", {}).get("blackouts", []):
        blackout.pop("symbols")
    return raw


def _pick(snap: dict[str, Any], keys: dict[str, Any]) -> dict[str, Any]:
    return {k: _pick(snap[k], v) if isinstance(v, dict) else snap[k] for k, v in keys.items()}


def test_variables_without_the_prefix_are_not_configuration() -> None:
    env = {
        "APCA_API_KEY_ID": "PKXXXX",
        "APCA_API_SECRET_KEY": "s3cret",
        "ENGINE_CACHE_DIR": "/tmp/x",
        "ENGINE_RUN__SEED": "5",
        "PATH": "/usr/bin",
    }
    loaded = load_sources(None, env=env)
    assert loaded.snapshot == load(None)[1] and loaded.origins == {}


def test_the_default_path_is_unchanged_without_file_and_environment() -> None:
    plain_cfg, plain = load(None)
    _, no_env = load(None, env={})
    assert plain == no_env == resolve({})[1] and plain_cfg == resolve({})[0]
    assert config_hash(no_env) == config_hash(plain)
    assert load_sources(None).summary().splitlines() == [
        f"config {config_hash(plain)}  (sha256 of the canonical snapshot)",
        "  every setting at its default",
    ]


@pytest.mark.parametrize(
    "env,message",
    [
        ({"ENGINE__RUN__SEED": "x"}, "run.seed: Input should be a valid integer (env ENGINE__RUN__SEED)"),
        ({"ENGINE__RUN__SEED": '"5"'}, "run.seed: Input should be a valid integer (env ENGINE__RUN__SEED)"),
        (
            {"ENGINE__OMS__ADOPT_BROKER_POSITIONS": "yes"},
            "oms.adopt_broker_positions: Input should be a valid boolean (env ENGINE__OMS__ADOPT_BROKER_POSITIONS)",
        ),
        (
            {"ENGINE__RISK__POLICY__REVIEW_SECONDS": "1.5"},
            "risk.policy.review_seconds: Input should be a valid integer (env ENGINE__RISK__POLICY__REVIEW_SECONDS)",
        ),
        (
            {"ENGINE__PAPER__SLIPPAGE_BPS": "-1"},
            "paper.slippage_bps: Input should be greater than or equal to 0 (env ENGINE__PAPER__SLIPPAGE_BPS)",
        ),
        ({"ENGINE__RUN__UNIVERSE": "AAPL"}, "run.universe: Input should be a valid list (env ENGINE__RUN__UNIVERSE)"),
        (
            {"ENGINE__STRATEGY__FAST": "30", "ENGINE__STRATEGY__SLOW": "10"},
            "strategy: Value error, fast (30) must be smaller than slow (10) (env ENGINE__STRATEGY__FAST; "
            "env ENGINE__STRATEGY__SLOW)",
        ),
        (
            {"ENGINE__RISK__PROFILE": "x"},
            "risk: Value error, unknown risk.profile 'x'; choose one of conservative, "
            "balanced, aggressive (env ENGINE__RISK__PROFILE)",
        ),
    ],
)
def test_a_wrong_type_names_the_key_and_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load(None, env=env)
    assert str(err.value) == message


@pytest.mark.parametrize(
    "name,message",
    [
        ("ENGINE__RUN__SEEDS", "run.seeds: Extra inputs are not permitted (env ENGINE__RUN__SEEDS)"),
        ("ENGINE__FOO__BAR", "foo: Extra inputs are not permitted (env ENGINE__FOO__BAR)"),
        (
            "ENGINE__RISK__POLICY__NOPE",
            "risk.policy.nope: Extra inputs are not permitted (env ENGINE__RISK__POLICY__NOPE)",
        ),
        ("ENGINE__STRATEGY__FASTT", "strategy.fastt: Extra inputs are not permitted (env ENGINE__STRATEGY__FASTT)"),
        ("ENGINE__BROKER__API_KEY", "broker.api_key: Extra inputs are not permitted (env ENGINE__BROKER__API_KEY)"),
        (
            "ENGINE__SEED",
            "ENGINE__SEED: name a table and a key, e.g. ENGINE__RUN__SEED or ENGINE__RISK__POLICY__MIN_CONFIDENCE",
        ),
        (
            "ENGINE__RUN____SEED",
            "ENGINE__RUN____SEED: name a table and a key, e.g. ENGINE__RUN__SEED or "
            "ENGINE__RISK__POLICY__MIN_CONFIDENCE",
        ),
    ],
)
def test_an_unknown_variable_is_an_error_naming_it(name: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load(None, env={name: "1"})
    assert str(err.value) == message


def test_a_whole_table_from_one_variable_is_refused() -> None:
    with pytest.raises(ConfigError) as err:
        load(None, env={"ENGINE__RISK__POLICY": "{min_confidence = 0.5}"})
    assert str(err.value) == (
        "ENGINE__RISK__POLICY: risk.policy is set to a table; set its keys one by one (ENGINE__RISK__POLICY__<KEY>)"
    )


def _file(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "c.toml"
    p.write_text(text)
    return p


@pytest.mark.parametrize(
    "text,flags,env,message",
    [
        (
            "[paper]\nhalf_spread_bps = 2\n",
            {},
            {"ENGINE__PAPER__HALF_SPREAD_BPS": "3"},
            "paper.half_spread_bps is 2 in {p} but 3 in env ENGINE__PAPER__HALF_SPREAD_BPS",
        ),
        (
            "[risk.policy]\nmin_confidence = 0.6\n",
            {},
            {"ENGINE__RISK__POLICY__MIN_CONFIDENCE": "0.5"},
            "risk.policy.min_confidence is 0.6 in {p} but 0.5 in env ENGINE__RISK__POLICY__MIN_CONFIDENCE",
        ),
        (
            None,
            {("broker", "kind"): "venue"},
            {"ENGINE__BROKER__KIND": "alpaca"},
            "broker.kind is 'alpaca' in env ENGINE__BROKER__KIND but 'venue' on the command line",
        ),
        (
            '[broker]\nkind = "sim"\n',
            {("broker", "kind"): "venue"},
            {},
            "broker.kind is 'sim' in {p} but 'venue' on the command line",
        ),
        (
            None,
            {},
            {"ENGINE__RUN__SEED": "1", "engine__run__seed": "2"},
            "run.seed is 1 in env ENGINE__RUN__SEED but 2 in env engine__run__seed",
        ),  # two spellings, two sources
        (
            "[oms]\nadopt_broker_positions = true\n",
            {},
            {"ENGINE__OMS__ADOPT_BROKER_POSITIONS": "1"},
            "oms.adopt_broker_positions is True in {p} but 1 in env ENGINE__OMS__ADOPT_BROKER_POSITIONS",
        ),  # true is not 1
    ],
)
def test_two_sources_disagreeing_is_an_error_naming_both(
    tmp_path: Path, text: str | None, flags: dict[tuple[str, ...], Any], env: dict[str, str], message: str
) -> None:
    p = None if text is None else _file(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load(p, flags, env=env)
    assert str(err.value) == message.format(p=p)


def test_the_same_value_twice_is_fine_and_hashes_like_once(tmp_path: Path) -> None:
    p = _file(tmp_path, '[paper]\nhalf_spread_bps = 3\n[broker]\nkind = "venue"\n[run]\nuniverse = ["AAPL"]\n')
    once = load(p)[1]
    env = {
        "ENGINE__PAPER__HALF_SPREAD_BPS": "3.0",
        "ENGINE__BROKER__KIND": "venue",
        "ENGINE__RUN__UNIVERSE": '["AAPL"]',
    }
    loaded = load_sources(p, {("broker", "kind"): "venue"}, env=env)
    assert loaded.snapshot == once and config_hash(loaded.snapshot) == config_hash(once)
    assert [s.label for s in loaded.origins[("broker", "kind")]] == [
        f"file {p}",
        "env ENGINE__BROKER__KIND",
        "command line",
    ]


def test_conflict_messages_redact_secret_looking_values() -> None:
    with pytest.raises(ConfigError) as err:
        with_overrides({"strategy": {"api_token": "abc"}}, {("strategy", "api_token"): "xyz"}, "c.toml")
    assert str(err.value) == "strategy.api_token is '<redacted>' in c.toml but '<redacted>' on the command line"
    assert "abc" not in str(err.value) and "xyz" not in str(err.value)


@pytest.mark.parametrize(
    "key,value,shown",
    [
        (("strategy", "db_password"), "pw", "<redacted>"),
        (("strategy", "KEY_ID"), "PK1", "<redacted>"),
        (("strategy", "api_key"), "k", "<redacted>"),
        (("strategy", "client_secret"), "s", "<redacted>"),
        (("strategy", "dsn"), "postgresql://trader:hunter2@db:5432/j", "postgresql://trader:***@db:5432/j"),
        (("strategy", "dsn"), "postgres://trader@db/j", "postgres://trader@db/j"),  # no password to hide
        (("strategy", "urls"), ["postgresql+psycopg://u:p@h/d"], ["postgresql+psycopg://u:***@h/d"]),
        (("paper", "half_spread_bps"), "3", "3"),
    ],
)
def test_redaction(key: tuple[str, ...], value: Any, shown: Any) -> None:
    assert redact(key, value) == shown


def daily_bars(path: Path, days: int) -> Path:
    """AAPL daily bars at the close of ``days`` XNYS sessions from 2024-01-03, a zig-zag."""
    sessions = load_sessions("XNYS", date(2024, 1, 2), date(2024, 6, 30))
    rows = ["timestamp,symbol,open,high,low,close,volume"]
    prev = 100.0
    for i, close_ns in enumerate(sessions.closes[1 : days + 1].tolist()):
        stamp = datetime.fromtimestamp(close_ns // 10**9, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        c = 100.0 + (i % 10 if i % 20 < 10 else 10 - i % 10) * 2.0
        rows.append(f"{stamp},AAPL,{prev:.2f},{max(prev, c) + 0.5:.2f},{min(prev, c) - 0.5:.2f},{c:.2f},1000000")
        prev = c
    path.write_text("\n".join(rows) + "\n")
    return path


def test_engine_run_prints_the_summary_on_stderr_and_journals_the_env_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bars = daily_bars(tmp_path / "bars.csv", 60)
    p = _file(tmp_path, '[run]\nuniverse = ["AAPL"]\n[strategy]\nfast = 3\n')
    monkeypatch.setenv("ENGINE__PAPER__HALF_SPREAD_BPS", "3")
    monkeypatch.setenv("ENGINE__STRATEGY__SLOW", "8")
    monkeypatch.setenv("ENGINE__RISK__POLICY__MIN_CONFIDENCE", "0.5")
    monkeypatch.setenv("ENGINE__RISK__POLICY__MIN_LIQUIDITY_SCORE", "0")
    monkeypatch.setenv("APCA_API_SECRET_KEY", "never-shown")
    journal = tmp_path / "j.db"
    code = main(
        ["run", "--config", str(p), "--bars", str(bars), "--journal", str(journal), "--json", "--broker", "sim"]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    summary = json.loads(out)  # stdout is still only the run's summary
    ((_, started),) = read_events(journal, (RunStarted,))
    assert isinstance(started, RunStarted)
    assert started.config["paper"]["half_spread_bps"] == "3" and started.config["strategy"]["slow"] == 8
    assert started.config["risk"]["policy"]["min_confidence"] == "0.5"
    assert started.config_hash == config_hash(started.config) != config_hash(load(None)[1])
    decisions = [ev for _, ev in read_events(journal, (DecisionMade,))]
    assert decisions and all(isinstance(d, DecisionMade) and d.config_hash == started.config_hash for d in decisions)
    assert sum(summary["decisions"].values()) == len(decisions) and summary["journal"] == str(journal)
    assert err.splitlines() == [
        f"config {started.config_hash}  (sha256 of the canonical snapshot)",
        "  paper.half_spread_bps = 3   (env ENGINE__PAPER__HALF_SPREAD_BPS)",
        "  risk.policy.min_confidence = 0.5   (env ENGINE__RISK__POLICY__MIN_CONFIDENCE)",
        "  risk.policy.min_liquidity_score = 0   (env ENGINE__RISK__POLICY__MIN_LIQUIDITY_SCORE)",
        f'  run.universe = ["AAPL"]   (file {p})',
        f"  strategy.fast = 3   (file {p})",
        "  strategy.slow = 8   (env ENGINE__STRATEGY__SLOW)",
    ]
    assert "never-shown" not in err + out


def test_the_summary_shows_secret_references_and_names_derived_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bars = daily_bars(tmp_path / "bars.csv", 20)
    monkeypatch.setenv("ENGINE__STRATEGY__NAME", "tests.test_config_env:SECRETIVE")
    monkeypatch.setenv("ENGINE__STRATEGY__API_TOKEN", "env:VENDOR_TOKEN")  # a secret is given by reference
    monkeypatch.setenv("VENDOR_TOKEN", "tok-123")
    monkeypatch.setenv("ENGINE__STRATEGY__DB_URL", "postgresql://trader@db:5432/journal")
    monkeypatch.setenv("ENGINE__RISK__PROFILE", "aggressive")
    code = main(["run", "--bars", str(bars), "--journal", str(tmp_path / "j.db")])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.startswith("run run-")
    lines = err.splitlines()
    assert "  strategy.api_token = env:VENDOR_TOKEN   (env ENGINE__STRATEGY__API_TOKEN)" in lines
    assert "  strategy.db_url = postgresql://trader@db:5432/journal   (env ENGINE__STRATEGY__DB_URL)" in lines
    assert "  risk.profile = aggressive   (env ENGINE__RISK__PROFILE)" in lines
    assert "  risk.limits.max_symbol_weight_pct = 40   (risk.profile aggressive)" in lines
    assert "tok-123" not in err
    monkeypatch.setenv("ENGINE__STRATEGY__API_TOKEN", "tok-123")  # in the clear: refused, and not shown
    assert main(["run", "--bars", str(bars), "--journal", str(tmp_path / "k.db")]) == 2
    err = capsys.readouterr().err
    assert "strategy.api_token looks like a secret" in err and "tok-123" not in err


def test_config_errors_from_the_environment_are_one_line_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ENGINE__RUN__SEEDS", "1")
    assert main(["run", "--journal", str(tmp_path / "j.db")]) == 2
    err = capsys.readouterr().err
    assert err == "engine run: error: run.seeds: Extra inputs are not permitted (env ENGINE__RUN__SEEDS)\n"
    assert not (tmp_path / "j.db").exists()
    monkeypatch.delenv("ENGINE__RUN__SEEDS")
    monkeypatch.setenv("ENGINE__BROKER__KIND", "alpaca")
    assert main(["run", "--journal", str(tmp_path / "j.db"), "--broker", "venue"]) == 2
    assert capsys.readouterr().err == (
        "engine run: error: broker.kind is 'alpaca' in env ENGINE__BROKER__KIND but 'venue' on the command line\n"
    )


def test_venue_and_what_if_replay_read_the_environment_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ENGINE__PAPER__NOPE", "1")
    bars = daily_bars(tmp_path / "bars.csv", 5)
    assert main(["venue", "--bars", str(bars), "--db", str(tmp_path / "v.db"), "--port", "0"]) == 2
    assert capsys.readouterr().err == (
        "engine venue: error: paper.nope: Extra inputs are not permitted (env ENGINE__PAPER__NOPE)\n"
    )
    p = _file(tmp_path, "")
    assert (
        main(["replay", "--from", str(tmp_path / "missing.db"), "--config", str(p), "--out", str(tmp_path / "w.db")])
        == 2
    )
    assert capsys.readouterr().err == (
        "engine replay: error: paper.nope: Extra inputs are not permitted (env ENGINE__PAPER__NOPE)\n"
    )


def test_the_summary_names_the_mode_that_follows_the_broker_and_the_flag() -> None:
    loaded = load_sources(None, {("broker", "kind"): "venue"}, env={"ENGINE__RUN__UNIVERSE": '["AAPL"]'})
    assert loaded.summary().splitlines()[1:] == [
        "  broker.kind = venue   (command line)",
        "  run.mode = paper   (follows broker.kind venue)",
        '  run.universe = ["AAPL"]   (env ENGINE__RUN__UNIVERSE)',
    ]
