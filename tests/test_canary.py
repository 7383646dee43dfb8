"""Canary mode (run.canary_symbols) through step(): outside the canary symbols only exits pass
(CANARY_SYMBOL_EXCLUDED), every decision says CANARY_MODE (last), and with it off decisions carry
no canary code; the config rejects canary symbols outside the universe."""

from __future__ import annotations

from typing import Any

import pytest

from engine.config import ConfigError, config_hash, resolve
from journal_schema.events import ConfigChanged, DecisionMade, OrderSubmitRequested
from journal_schema.reasons import DECISION_REASONS
from tests.risk_support import Run, S, at, last, of, tgt

CANARY = {"run": {"universe": ["AAA", "BBB", "CCC"], "canary_symbols": ["AAA"]}}


def canary_run(**run: Any) -> Run:
    return Run(cfg={"run": {**CANARY["run"], **run}})


def test_both_codes_are_stable_decision_reasons() -> None:
    assert {"CANARY_SYMBOL_EXCLUDED", "CANARY_MODE"} <= set(DECISION_REASONS)


def test_entry_outside_the_canary_is_rejected() -> None:
    r = canary_run()
    d = r.signal("BBB", at(1), 50, tgt(10))
    assert (d.outcome, d.reason_codes, d.approved_qty) == ("REJECTED", ["CANARY_SYMBOL_EXCLUDED", "CANARY_MODE"], 0)
    assert not of(r.log, OrderSubmitRequested)


def test_entry_in_the_canary_is_accepted_and_says_canary_mode() -> None:
    r = canary_run()
    d = r.signal("AAA", at(1), 100, tgt(10))
    assert (d.outcome, d.reason_codes, d.approved_qty) == ("ACCEPTED", ["SIGNAL_ACCEPTED", "CANARY_MODE"], 10 * S)
    assert last(r.log, OrderSubmitRequested).symbol == "AAA"


def hold_outside(r: Run, shares: int) -> None:
    """A position in BBB from before canary mode (a ConfigChanged turns it on)."""
    r.hold("BBB", at(1), 50, shares)
    _, snap = resolve(CANARY)
    r.feed(
        ConfigChanged(
            ts=at(2),
            config=snap,
            config_hash=config_hash(snap),
            previous_config_hash=r.started.config_hash,
            actor="ops",
        )
    )
    assert r.params.canary == frozenset({"AAA"})


def test_exit_outside_the_canary_is_allowed() -> None:
    r = Run()
    hold_outside(r, 10)
    d = r.signal("BBB", at(3), 50, tgt(0))
    assert (d.outcome, d.reason_codes, d.approved_qty) == ("ACCEPTED", ["SIGNAL_ACCEPTED", "CANARY_MODE"], -10 * S)
    r.fill(last(r.log, OrderSubmitRequested))
    assert r.state.positions.qty("BBB") == 0


def test_adding_outside_the_canary_is_rejected_and_a_flip_goes_to_flat_only() -> None:
    r = Run()
    hold_outside(r, 10)
    more = r.signal("BBB", at(3), 50, tgt(20))
    assert (more.outcome, more.reason_codes) == ("REJECTED", ["CANARY_SYMBOL_EXCLUDED", "CANARY_MODE"])
    flip = r.signal("BBB", at(4), 50, tgt(-10))
    assert flip.outcome == "ACCEPTED" and flip.order_qty == -20 * S and flip.approved_qty == -10 * S
    assert flip.reason_codes == ["SIGNAL_ACCEPTED", "CANARY_SYMBOL_EXCLUDED", "CANARY_MODE"]
    assert last(r.log, OrderSubmitRequested).qty == 10 * S


def test_every_decision_says_canary_mode_last_whatever_its_outcome() -> None:
    r = canary_run()
    r.hold("AAA", at(1), 100, 10)
    same = r.signal("AAA", at(2), 100, tgt(10))
    assert (same.outcome, same.reason_codes) == ("SKIPPED", ["ALREADY_AT_TARGET", "CANARY_MODE"])
    decisions = of(r.log, DecisionMade)
    assert len(decisions) == 2 and all(d.reason_codes[-1] == "CANARY_MODE" for d in decisions)
    assert r.state.risk.held_back == {"ALREADY_AT_TARGET": 1}  # CANARY_MODE is not a reason to hold back


def test_canary_off_decisions_carry_no_canary_code_and_the_snapshot_is_unchanged() -> None:
    r = Run()
    r.hold("BBB", at(1), 50, 10)
    r.signal("CCC", at(2), 20, tgt(5))
    codes = {c for d in of(r.log, DecisionMade) for c in d.reason_codes}
    assert codes == {"SIGNAL_ACCEPTED"}
    assert "canary_symbols" not in r.started.config["run"]
    assert resolve({})[1] == resolve({"run": {"canary_symbols": []}})[1]


def test_canary_symbols_are_sorted_and_unique() -> None:
    cfg, snap = resolve({"run": {"canary_symbols": ["MSFT", "AAPL", "MSFT"]}})
    assert cfg.run.canary_symbols == snap["run"]["canary_symbols"] == ["AAPL", "MSFT"]


@pytest.mark.parametrize(
    ("run", "message"),
    [
        (
            {"universe": ["AAA"], "canary_symbols": ["AAA", "ZZZ"]},
            "run: Value error, canary_symbols ZZZ not in run.universe",
        ),
        ({"canary_symbols": [" "]}, "run.canary_symbols: Value error, symbols must be non-empty"),
        ({"canary_symbols": "AAA"}, "run.canary_symbols: Input should be a valid list"),
    ],
)
def test_config_errors_are_one_line_naming_the_key(run: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        resolve({"run": run})
    assert str(err.value) == message and "\n" not in str(err.value)
