import pytest

from engine.config import ConfigError, config_hash, load, resolve


def test_defaults_and_explicit_defaults_hash_the_same():
    _, a = resolve({})
    _, b = resolve(
        {
            "strategy": {"name": "sma_cross", "fast": 10, "slow": 30, "qty": 100.0, "long_only": True},
            "paper": {"half_spread_bps": "2.00"},
            "run": {"universe": []},
        }
    )
    assert a == b and config_hash(a) == config_hash(b)


def test_universe_order_and_duplicates_do_not_change_the_hash():
    _, a = resolve({"run": {"universe": ["MSFT", "AAPL"]}})
    _, b = resolve({"run": {"universe": ["AAPL", "MSFT", "AAPL"]}})
    assert a["run"]["universe"] == ["AAPL", "MSFT"] and config_hash(a) == config_hash(b)


def test_snapshot_holds_no_floats_and_exact_decimal_text():
    _, snap = resolve({"strategy": {"qty": 12.5}, "paper": {"fee_per_share": 0.005, "slippage_bps": 1.25}})
    assert snap["strategy"]["qty"] == "12.5"
    assert snap["paper"]["fee_per_share"] == "0.005" and snap["paper"]["slippage_bps"] == "1.25"


@pytest.mark.parametrize(
    "raw,message",
    [
        ({"paper": {"fee_per_share": "0.000000001"}}, "paper.fee_per_share: Value error, at most 8 decimal places"),
        ({"paper": {"slippage_bps": -1}}, "paper.slippage_bps: Input should be greater than or equal to 0"),
        ({"orders": {"type": "stop"}}, "orders.type: Input should be 'market' or 'limit'"),
        ({"run": {"universe": [" "]}}, "run.universe: Value error, symbols must be non-empty"),
        ({"strategy": {"fast": 30, "slow": 10}}, "strategy: Value error, fast (30) must be smaller than slow (10)"),
        (
            {"run": {"mode": "live"}},
            "Value error, run.mode 'live' does not go with broker.kind 'sim': backtest runs "
            "use the sim broker; paper runs the venue or alpaca; live runs alpaca",
        ),
        (
            {"run": {"mode": "paper"}, "broker": {"kind": "sim"}},
            "Value error, run.mode 'paper' does not go with "
            "broker.kind 'sim': backtest runs use the sim broker; paper runs the venue or alpaca; live runs alpaca",
        ),
        (
            {"run": {"mode": "live"}, "broker": {"kind": "venue"}},
            "Value error, run.mode 'live' needs broker.kind 'alpaca', not 'venue'",
        ),
        ({"broker": {"kind": "ib"}}, "broker.kind: Input should be 'sim', 'venue' or 'alpaca'"),
        (
            {"broker": {"venue_url": "http://h:1/v2"}},
            "broker.venue_url: String should match pattern '^https?://[^/\\s]+$'",
        ),
        ({"oms": {"max_submit_attempts": 0}}, "oms.max_submit_attempts: Input should be greater than or equal to 1"),
        ({"oms": {"adopt_broker_positions": "yes"}}, "oms.adopt_broker_positions: Input should be a valid boolean"),
        ({"run": {"seed": "5"}}, "run.seed: Input should be a valid integer"),
        (
            {"broker": {"timeframe": "2Day"}},
            "broker.timeframe: String should match pattern '^([1-9][0-9]*(Min|Hour)|1Day)$'",
        ),
    ],
)
def test_invalid_settings_are_one_line_errors(raw, message):
    with pytest.raises(ConfigError) as err:
        resolve(raw)
    assert str(err.value) == message


def test_load_reads_toml(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text("[strategy]\nfast = 5\nslow = 20\nqty = 10\nlong_only = false\n[run]\nseed = 42\n")
    cfg, snap = load(p)
    assert cfg.run.seed == 42 and snap["strategy"] == {
        "name": "sma_cross",
        "fast": 5,
        "slow": 20,
        "qty": "10",
        "long_only": False,
        "edge_bps": None,
    }


def test_mode_follows_the_broker_when_omitted_and_overrides_conflict_by_name():
    from engine.config import with_overrides

    _, snap = resolve(with_overrides({}, {("broker", "kind"): "venue"}, "c.toml"))
    assert (snap["run"]["mode"], snap["broker"]["kind"]) == ("paper", "venue")
    assert resolve({})[1]["run"]["mode"] == "backtest"
    with pytest.raises(ConfigError) as err:
        with_overrides({"broker": {"kind": "alpaca"}}, {("broker", "kind"): "venue"}, "c.toml")
    assert str(err.value) == "broker.kind is 'alpaca' in c.toml but 'venue' on the command line"
    same = with_overrides({"broker": {"kind": "venue"}}, {("broker", "kind"): "venue"}, "c.toml")
    assert same == {"broker": {"kind": "venue"}}


def test_live_only_flags_are_refused_on_a_historical_run(tmp_path, capsys):
    from engine.cli import main

    assert main(["run", "--venue-url", "http://127.0.0.1:1", "--journal", str(tmp_path / "j.db")]) == 2
    assert "--venue-url is for --broker venue, not sim" in capsys.readouterr().err
    assert not (tmp_path / "j.db").exists()


def test_breaker_rules_are_configuration_left_out_of_the_snapshot_at_their_defaults():
    cfg, snap = resolve({})
    assert "breakers" not in snap and cfg.breakers.rule_tuples() == [(3, 60, 60), (10, 600, 900)]
    explicit = {
        "breakers": {
            "rules": [
                {"failures": 3, "window_seconds": 60, "open_seconds": 60},
                {"failures": 10, "window_seconds": 600, "open_seconds": 900},
            ]
        }
    }
    assert resolve(explicit)[1] == snap  # the defaults written out hash the same
    cfg, snap = resolve({"breakers": {"rules": [{"failures": 5, "window_seconds": 30, "open_seconds": 120}]}})
    assert cfg.breakers.rule_tuples() == [(5, 30, 120)]
    assert snap["breakers"] == {"rules": [{"failures": 5, "window_seconds": 30, "open_seconds": 120}]}
    assert resolve(snap)[1] == snap  # a journaled snapshot resolves to itself (replay, reconfigure)


@pytest.mark.parametrize(
    "rules,message",
    [
        ([], "breakers.rules: List should have at least 1 item after validation, not 0"),
        (
            [{"failures": 0, "window_seconds": 60, "open_seconds": 60}],
            "breakers.rules.0.failures: Input should be greater than or equal to 1",
        ),
        ([{"failures": 3, "window_seconds": 60}], "breakers.rules.0.open_seconds: Field required"),
        (
            [{"failures": 3, "window_seconds": 60, "open_seconds": 60, "half_open": 1}],
            "breakers.rules.0.half_open: Extra inputs are not permitted",
        ),
        (
            [{"failures": 3, "window_seconds": 60, "open_seconds": 1.5}],
            "breakers.rules.0.open_seconds: Input should be a valid integer",
        ),
    ],
)
def test_invalid_breaker_rules_are_one_line_errors(rules, message):
    with pytest.raises(ConfigError) as err:
        resolve({"breakers": {"rules": rules}})
    assert str(err.value) == message
