"""Which broker a live run talks to, from the config and the environment, and the checks that
refuse to start a run that is not safe to start.

- ``venue``: the local paper venue at ``broker.venue_url`` (trading and market data on one port).
  Keys are optional (the venue accepts any non-empty pair; dummy ones are used when none are set).
- ``alpaca`` in ``paper`` mode: Alpaca's paper endpoint; keys required.
- ``alpaca`` in ``live`` mode: Alpaca's live endpoint; keys required AND the explicit
  ``--confirm-live`` flag. Anything less refuses to start with a message saying what is missing.

Keys come only from ``APCA_API_KEY_ID`` / ``APCA_API_SECRET_KEY`` (Alpaca's own variable names),
never from the config file, so they never reach the config snapshot, the journal or a log line.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from engine.alpaca.client import AlpacaBroker, Credentials, Endpoint
from engine.config import EngineConfig
from engine.net.ratelimit import TokenBucket

KEY_ENV = "APCA_API_KEY_ID"
SECRET_ENV = "APCA_API_SECRET_KEY"
VENUE_DUMMY = Credentials("venue-key", "venue-secret")


class LiveSetupError(ValueError):
    """The live run must not start (the message says why, on one line)."""


@dataclass(frozen=True)
class BrokerTarget:
    """Where the run trades, for the journal and the start-up line (never holds a key)."""

    kind: str
    mode: str
    endpoint: Endpoint
    description: str  # e.g. "venue http://127.0.0.1:8765" or "alpaca paper (https://paper-api.alpaca.markets)"


def _credentials(env: Mapping[str, str], required: bool, why: str) -> Credentials | None:
    key, secret = env.get(KEY_ENV, "").strip(), env.get(SECRET_ENV, "").strip()
    if key and secret:
        return Credentials(key, secret)
    if key or secret:
        missing = SECRET_ENV if key else KEY_ENV
        raise LiveSetupError(f"{missing} is not set ({KEY_ENV} and {SECRET_ENV} go together)")
    if required:
        raise LiveSetupError(f"{why} needs Alpaca API keys: set {KEY_ENV} and {SECRET_ENV} in the environment")
    return None


def target(
    cfg: EngineConfig, env: Mapping[str, str] = os.environ, confirm_live: bool = False
) -> tuple[BrokerTarget, Credentials]:
    """Resolve the broker of a paper or live run; raises LiveSetupError when it must not start."""
    kind, mode, b = cfg.broker.kind, cfg.run.mode, cfg.broker
    if kind == "sim":
        raise LiveSetupError("broker.kind 'sim' is a historical run, not a live one")
    if not cfg.run.universe:
        raise LiveSetupError(f"a {mode} run needs run.universe: the symbols to poll and trade")
    timeout = float(b.timeout_seconds)
    if kind == "venue":
        creds = _credentials(env, required=False, why="")
        endpoint = Endpoint(b.venue_url, b.venue_url, paper=True, data_feed=b.data_feed, timeout_seconds=timeout)
        return BrokerTarget(kind, mode, endpoint, f"venue {b.venue_url}"), creds or VENUE_DUMMY
    if mode == "live" and not confirm_live:
        raise LiveSetupError("run.mode is 'live': real money. Start again with --confirm-live to trade live")
    keys = _credentials(env, required=True, why=f"alpaca {mode} trading")
    assert keys is not None
    endpoint = Endpoint(None, None, paper=mode != "live", data_feed=b.data_feed, timeout_seconds=timeout)
    url = "https://api.alpaca.markets" if mode == "live" else "https://paper-api.alpaca.markets"
    return BrokerTarget(kind, mode, endpoint, f"alpaca {mode} ({url}, {b.data_feed} data)"), keys


def connect(
    cfg: EngineConfig, env: Mapping[str, str] = os.environ, confirm_live: bool = False
) -> tuple[BrokerTarget, AlpacaBroker]:
    """The target and an adapter for it, sharing one token bucket for every broker call."""
    where, creds = target(cfg, env, confirm_live)
    bucket = TokenBucket(cfg.broker.rate_limit_per_minute)
    return where, AlpacaBroker(where.endpoint, creds, bucket)
