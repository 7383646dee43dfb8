import pytest

from engine.config import ConfigError, config_hash, load, resolve


def test_defaults_and_explicit_defaults_hash_the_same():
    _, a = resolve({})
    _, b = resolve({"strategy": {"name": "sma_cross", "fast": 10, "slow": 30, "qty": 100.0, "long_only": True},
                    "paper": {"half_spread_bps": "2.00"}, "run": {"universe": []}})
    assert a == b and config_hash(a) == config_hash(b)


def test_universe_order_and_duplicates_do_not_change_the_hash():
    _, a = resolve({"run": {"universe": ["MSFT", "AAPL"]}})
    _, b = resolve({"run": {"universe": ["AAPL", "MSFT", "AAPL"]}})
    assert a["run"]["universe"] == ["AAPL", "MSFT"] and config_hash(a) == config_hash(b)


def test_snapshot_holds_no_floats_and_exact_decimal_text():
    _, snap = resolve({"strategy": {"qty": 12.5}, "paper": {"fee_per_share": 0.005, "slippage_bps": 1.25}})
    assert snap["strategy"]["qty"] == "12.5"
    assert snap["paper"]["fee_per_share"] == "0.005" and snap["paper"]["slippage_bps"] == "1.25"


@pytest.mark.parametrize("raw,message", [
    ({"paper": {"fee_per_share": "0.000000001"}}, "paper.fee_per_share: Value error, at most 8 decimal places"),
    ({"paper": {"slippage_bps": -1}}, "paper.slippage_bps: Input should be greater than or equal to 0"),
    ({"orders": {"type": "stop"}}, "orders.type: Input should be 'market' or 'limit'"),
    ({"run": {"universe": [" "]}}, "run.universe: Value error, symbols must be non-empty"),
    ({"strategy": {"fast": 30, "slow": 10}}, "strategy: Value error, fast (30) must be smaller than slow (10)"),
    ({"run": {"mode": "live"}}, "run.mode: Input should be 'backtest'"),
])
def test_invalid_settings_are_one_line_errors(raw, message):
    with pytest.raises(ConfigError) as err:
        resolve(raw)
    assert str(err.value) == message


def test_load_reads_toml(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text('[strategy]\nfast = 5\nslow = 20\nqty = 10\nlong_only = false\n[run]\nseed = 42\n')
    cfg, snap = load(p)
    assert cfg.run.seed == 42 and snap["strategy"] == {"name": "sma_cross", "fast": 5, "slow": 20, "qty": "10",
                                                       "long_only": False}
