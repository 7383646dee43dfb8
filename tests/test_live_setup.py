"""``engine.live.setup``: which broker a paper / live run talks to, and the refusals of unsafe starts.

Nothing here may touch the network (there is none): every test runs with socket connections
refused, so building the Alpaca adapter must be construction only.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from enum import Enum
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.alpaca.client import AlpacaBroker, Credentials
from engine.cli import main
from engine.config import EngineConfig, resolve
from engine.live.setup import KEY_ENV, SECRET_ENV, VENUE_DUMMY, LiveSetupError, connect, target
from journal_schema.codec import canonical_json

KEY = "PKTESTKEY1234567890"
SECRET = "sEcReT-abcdef-0987654321"
KEYS = {KEY_ENV: KEY, SECRET_ENV: SECRET}
LIVE_URL = "https://api.alpaca.markets"
PAPER_URL = "https://paper-api.alpaca.markets"
DATA_URL = "https://data.alpaca.markets"


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[object]]:
    attempts: list[object] = []

    def refuse(*args: Any, **kwargs: Any) -> None:
        attempts.append(args)
        raise OSError("network access in a unit test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    yield attempts
    assert attempts == [], "a test tried to reach the network"


def config(kind: str, mode: str | None = None, universe: list[str] | None = None, **broker: Any) -> EngineConfig:
    run: dict[str, Any] = {"universe": ["AAPL"] if universe is None else universe}
    if mode is not None:
        run["mode"] = mode
    cfg, _ = resolve({"run": run, "broker": {"kind": kind, **broker}})
    return cfg


def base_url(client: object) -> str:
    base = client._base_url  # type: ignore[attr-defined]
    return str(base.value) if isinstance(base, Enum) else str(base)


def refusal(cfg: EngineConfig, env: dict[str, str], confirm_live: bool = False) -> str:
    """The one-line message ``target`` refuses with; ``connect`` refuses the same way, before building anything."""
    with pytest.raises(LiveSetupError) as info:
        target(cfg, env, confirm_live)
    message = str(info.value)
    assert message and "\n" not in message and message.strip() == message
    with pytest.raises(LiveSetupError) as again:
        connect(cfg, env, confirm_live)
    assert str(again.value) == message
    return message


# ----------------------------------------------------------------------------- the local venue


def test_venue_without_keys_uses_dummy_credentials_and_one_url() -> None:
    cfg = config("venue", venue_url="http://127.0.0.1:9999")
    where, creds = target(cfg, {})
    assert isinstance(creds, Credentials) and creds == VENUE_DUMMY
    assert (creds.key_id, creds.secret_key) == ("venue-key", "venue-secret")
    assert (where.kind, where.mode) == ("venue", "paper")
    assert where.endpoint.trading_url == where.endpoint.data_url == cfg.broker.venue_url == "http://127.0.0.1:9999"
    assert where.endpoint.paper is True
    assert where.endpoint.timeout_seconds == float(cfg.broker.timeout_seconds)
    assert "http://127.0.0.1:9999" in where.description
    _, broker = connect(cfg, {})
    assert base_url(broker._trading) == base_url(broker._data) == "http://127.0.0.1:9999"


def test_venue_with_keys_in_the_environment_uses_those_keys() -> None:
    where, creds = target(config("venue"), {**KEYS, "UNRELATED": "x"})
    assert (creds.key_id, creds.secret_key) == (KEY, SECRET)
    assert where.endpoint.trading_url == "http://127.0.0.1:8765"


def test_venue_with_only_one_key_is_refused() -> None:
    message = refusal(config("venue"), {KEY_ENV: KEY})
    assert message.startswith(f"{SECRET_ENV} is not set")


# ----------------------------------------------------------------------------- Alpaca paper and live


def test_alpaca_paper_without_keys_names_both_variables() -> None:
    message = refusal(config("alpaca"), {})
    assert KEY_ENV in message and SECRET_ENV in message and "paper" in message


@pytest.mark.parametrize(("present", "missing"), [(KEY_ENV, SECRET_ENV), (SECRET_ENV, KEY_ENV)])
@pytest.mark.parametrize(("mode", "confirm"), [("paper", False), ("live", True)])
def test_only_one_key_names_the_missing_one(present: str, missing: str, mode: str, confirm: bool) -> None:
    env = {present: KEYS[present], missing: "   "}  # blank counts as not set
    message = refusal(config("alpaca", mode), env, confirm)
    assert message.startswith(f"{missing} is not set")
    assert KEY not in message and SECRET not in message


@pytest.mark.parametrize("env", [KEYS, {}], ids=["with-keys", "without-keys"])
def test_alpaca_live_without_confirm_live_is_refused(env: dict[str, str]) -> None:
    message = refusal(config("alpaca", "live"), env, confirm_live=False)
    assert "--confirm-live" in message and "live" in message


def test_alpaca_live_with_keys_and_confirm_targets_the_live_endpoint() -> None:
    cfg = config("alpaca", "live", data_feed="sip", timeout_seconds="2.5")
    where, creds = target(cfg, KEYS, confirm_live=True)
    assert (where.kind, where.mode, where.endpoint.paper) == ("alpaca", "live", False)
    assert (where.endpoint.trading_url, where.endpoint.data_url) == (None, None)  # alpaca-py's own defaults
    assert (where.endpoint.data_feed, where.endpoint.timeout_seconds) == ("sip", 2.5)
    assert (creds.key_id, creds.secret_key) == (KEY, SECRET)
    assert LIVE_URL in where.description
    where2, broker = connect(cfg, KEYS, confirm_live=True)
    assert where2 == where
    assert isinstance(broker, AlpacaBroker) and broker.endpoint.paper is False
    assert base_url(broker._trading) == LIVE_URL
    assert base_url(broker._data) == DATA_URL


def test_alpaca_paper_targets_the_paper_endpoint_and_ignores_confirm_live() -> None:
    for confirm in (False, True):
        where, broker = connect(config("alpaca"), KEYS, confirm_live=confirm)
        assert (where.mode, where.endpoint.paper) == ("paper", True)
        assert base_url(broker._trading) == PAPER_URL
        assert PAPER_URL in where.description and LIVE_URL not in where.description


def test_explicit_paper_mode_is_the_same_as_the_default() -> None:
    assert target(config("alpaca", "paper"), KEYS) == target(config("alpaca"), KEYS)


@pytest.mark.parametrize("kind", ["venue", "alpaca"])
def test_an_empty_universe_is_refused(kind: str) -> None:
    message = refusal(config(kind, universe=[]), KEYS)
    assert "run.universe" in message


def test_the_sim_broker_is_not_a_live_run() -> None:
    message = refusal(config("sim", universe=["AAPL"]), KEYS, confirm_live=True)
    assert "sim" in message


# ----------------------------------------------------------------------------- secrets stay secret


@pytest.mark.parametrize(("kind", "mode"), [("venue", None), ("alpaca", "paper"), ("alpaca", "live")])
def test_no_key_reaches_a_repr_or_the_config_snapshot(kind: str, mode: str | None) -> None:
    raw: dict[str, Any] = {"run": {"universe": ["AAPL"], **({"mode": mode} if mode else {})}, "broker": {"kind": kind}}
    cfg, snapshot = resolve(raw)
    where, creds = target(cfg, KEYS, confirm_live=True)
    where2, broker = connect(cfg, KEYS, confirm_live=True)
    texts = [
        repr(where),
        str(where),
        repr(creds),
        str(creds),
        repr(broker),
        str(broker),
        repr(where2),
        repr(where.endpoint),
        canonical_json(snapshot).decode(),
        repr(cfg),
        repr(snapshot),
    ]
    for text in texts:
        assert KEY not in text and SECRET not in text, text
        assert KEY[4:] not in text and SECRET[6:] not in text
    assert (creds.key_id, creds.secret_key) == (KEY, SECRET)  # the keys themselves are there to be used


@settings(max_examples=50, deadline=None)
@given(
    key=st.text(st.characters(codec="ascii", categories=("L", "N")), min_size=8, max_size=40),
    secret=st.text(st.characters(codec="ascii", categories=("L", "N", "P")), min_size=8, max_size=60),
)
def test_repr_of_credentials_never_shows_more_than_two_key_characters(key: str, secret: str) -> None:
    _, creds = target(config("alpaca"), {KEY_ENV: key, SECRET_ENV: secret})
    shown = repr(creds)
    assert secret not in shown and key[2:] not in shown and "redacted" in shown
    assert (creds.key_id, creds.secret_key) == (key, secret)


# ----------------------------------------------------------------------------- through the CLI


def write_config(tmp_path: Path, text: str) -> str:
    path = tmp_path / "run.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def no_journal(directory: Path) -> None:
    left = sorted(p.name for p in directory.iterdir() if p.name != "run.toml")
    assert left == [], f"the refused run left files behind: {left}"


def test_cli_alpaca_run_without_keys_exits_2_and_creates_no_journal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    monkeypatch.delenv(SECRET_ENV, raising=False)
    cfg = write_config(tmp_path, '[run]\nuniverse = ["AAPL"]\n')
    journal = tmp_path / "journal.db"
    code = main(["run", "--broker", "alpaca", "--config", cfg, "--journal", str(journal)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("engine run: error: ")
    assert KEY_ENV in err and SECRET_ENV in err
    assert not journal.exists()
    no_journal(tmp_path)


def test_cli_live_mode_with_keys_but_no_confirm_live_exits_2_and_creates_no_journal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    monkeypatch.setenv(SECRET_ENV, SECRET)
    cfg = write_config(tmp_path, '[run]\nmode = "live"\nuniverse = ["AAPL"]\n')
    journal = tmp_path / "journal.db"
    code = main(["run", "--broker", "alpaca", "--config", cfg, "--journal", str(journal)])
    captured = capsys.readouterr()
    assert code == 2
    assert "--confirm-live" in captured.err
    assert KEY not in captured.err + captured.out and SECRET not in captured.err + captured.out
    assert not journal.exists()
    no_journal(tmp_path)
