"""engine.live.taxonomy: every shell exception gets a category and an action; bounded read retries."""

from __future__ import annotations

import json

import msgspec
import orjson
import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st

from engine.alpaca.errors import BrokerError
from engine.core.orders import OrderViolation
from engine.core.step import CoreInvariantError
from engine.live.taxonomy import ACTIONS, Classified, check_actions, classify
from journal_schema.reasons import ERROR_ACTIONS, ERROR_CATEGORIES


def _decode_error(loader: object) -> Exception:
    try:
        if loader is orjson:
            orjson.loads(b"{not json")
        elif loader is json:
            json.loads("{not json")
        else:
            msgspec.json.decode(b'{"a": "x"}', type=dict[str, int])
    except Exception as exc:  # noqa: BLE001 - the error is the test's input
        return exc
    raise AssertionError("decoding should have failed")


def _http_error(status: int) -> requests.exceptions.HTTPError:
    response = requests.Response()
    response.status_code = status
    return requests.exceptions.HTTPError(f"{status} error", response=response)


def _assert(exc: Exception, category: str, action: str) -> Classified:
    got = classify(exc)
    assert (got.category, got.action) == (category, action), f"{exc!r} -> {got}"
    assert got.error_type == type(exc).__name__
    return got


# ---------------------------------------------------------------- one test per category
def test_transient_network_is_retried() -> None:
    for exc in (
        BrokerError("TRANSIENT_NETWORK", "http_5xx", "read: Service Unavailable", 503),
        requests.exceptions.ConnectTimeout("connect timed out"),
        requests.exceptions.ReadTimeout("read timed out"),
        requests.exceptions.ConnectionError("connection reset"),
        requests.exceptions.SSLError("handshake"),
        requests.exceptions.ChunkedEncodingError("dropped"),
        _http_error(502),
        TimeoutError("timed out"),
        ConnectionResetError(104, "reset"),
        ConnectionError("refused"),
        OSError(101, "Network is unreachable"),
    ):
        _assert(exc, "TRANSIENT_NETWORK", "RETRY")


def test_rate_limit_is_retried() -> None:
    _assert(BrokerError("RATE_LIMIT", "rate_limited", "read: too many", 429, retry_after=3.0), "RATE_LIMIT", "RETRY")
    _assert(_http_error(429), "RATE_LIMIT", "RETRY")


def test_auth_halts_trading() -> None:
    _assert(BrokerError("AUTH", "unauthorized", "read: unauthorized", 401), "AUTH", "HALT_TRADING")
    _assert(BrokerError("AUTH", "forbidden", "read: forbidden", 403), "AUTH", "HALT_TRADING")
    _assert(_http_error(401), "AUTH", "HALT_TRADING")


def test_bad_data_skips_the_symbol() -> None:
    _assert(BrokerError("BAD_DATA", "unexpected", "filled quantity went down"), "BAD_DATA", "SKIP_SYMBOL")
    _assert(ValueError("price is NaN"), "BAD_DATA", "SKIP_SYMBOL")


def test_provider_schema_disables_the_provider() -> None:
    _assert(BrokerError("PROVIDER_SCHEMA", "unparseable", "read: not JSON", 200), "PROVIDER_SCHEMA", "DISABLE_PROVIDER")
    for loader in (orjson, json, msgspec):
        _assert(_decode_error(loader), "PROVIDER_SCHEMA", "DISABLE_PROVIDER")
    _assert(msgspec.ValidationError("Expected `int`"), "PROVIDER_SCHEMA", "DISABLE_PROVIDER")
    _assert(msgspec.DecodeError("truncated"), "PROVIDER_SCHEMA", "DISABLE_PROVIDER")
    # requests' JSONDecodeError is an OSError and a ValueError: the schema check comes first
    _assert(requests.exceptions.JSONDecodeError("Expecting value", "", 0), "PROVIDER_SCHEMA", "DISABLE_PROVIDER")


def test_order_rejected_skips_the_symbol() -> None:
    error = BrokerError("ORDER_REJECTED", "rejected", "submit: insufficient buying power", 403)
    _assert(error, "ORDER_REJECTED", "SKIP_SYMBOL")


def test_broker_state_is_retried_later() -> None:
    _assert(BrokerError("BROKER_STATE", "not_found", "read: order not found", 404), "BROKER_STATE", "RETRY")


def test_invariant_violation_halts_trading() -> None:
    _assert(OrderViolation("OVERFILL", "cum qty above order qty"), "INVARIANT_VIOLATION", "HALT_TRADING")
    _assert(CoreInvariantError("unknown input type"), "INVARIANT_VIOLATION", "HALT_TRADING")
    _assert(BrokerError("INVARIANT_VIOLATION", "unexpected", "books disagree"), "INVARIANT_VIOLATION", "HALT_TRADING")


def test_programming_error_halts_trading() -> None:
    for exc in (
        AssertionError("x"),
        TypeError("unsupported operand"),
        AttributeError("no attribute"),
        KeyError("missing"),
        IndexError("out of range"),
        NameError("undefined"),
        ZeroDivisionError("division by zero"),
        NotImplementedError("later"),  # a RuntimeError, but a bug
        BrokerError("PROGRAMMING_ERROR", "bad_request", "read: bad request", 422),
    ):
        _assert(exc, "PROGRAMMING_ERROR", "HALT_TRADING")


def test_unknown_halts_trading() -> None:
    for exc in (
        RuntimeError("odd"),
        RecursionError("deep"),
        Exception("bare"),
        requests.exceptions.TooManyRedirects("loop"),
        requests.exceptions.InvalidURL("bad url"),  # a ValueError too, but no network hiccup
        _http_error(418),
        BrokerError("UNKNOWN", "unexpected", "read: ???"),
    ):
        _assert(exc, "UNKNOWN", "HALT_TRADING")


# ---------------------------------------------------------------- the table
def test_table_covers_every_category_with_the_documented_action() -> None:
    assert set(ACTIONS) == set(ERROR_CATEGORIES)
    assert set(ACTIONS.values()) <= set(ERROR_ACTIONS)
    assert ACTIONS == {
        "TRANSIENT_NETWORK": "RETRY",
        "RATE_LIMIT": "RETRY",
        "AUTH": "HALT_TRADING",
        "BAD_DATA": "SKIP_SYMBOL",
        "PROVIDER_SCHEMA": "DISABLE_PROVIDER",
        "ORDER_REJECTED": "SKIP_SYMBOL",
        "BROKER_STATE": "RETRY",
        "INVARIANT_VIOLATION": "HALT_TRADING",
        "PROGRAMMING_ERROR": "HALT_TRADING",
        "UNKNOWN": "HALT_TRADING",
    }


def test_table_check_refuses_a_missing_unknown_or_bad_entry() -> None:
    check_actions(ACTIONS)
    without_auth = {c: a for c, a in ACTIONS.items() if c != "AUTH"}
    with pytest.raises(RuntimeError, match="AUTH"):
        check_actions(without_auth)
    with pytest.raises(RuntimeError, match="NEW_ONE"):
        check_actions({**ACTIONS, "NEW_ONE": "RETRY"})
    with pytest.raises(RuntimeError, match="IGNORE"):
        check_actions({**ACTIONS, "AUTH": "IGNORE"})


@pytest.mark.parametrize("exc", [KeyboardInterrupt(), SystemExit(1), GeneratorExit()])
def test_interrupts_are_refused(exc: BaseException) -> None:
    with pytest.raises(TypeError, match="must not be classified"):
        classify(exc)


_EXCEPTION_TYPES = [ValueError, TypeError, OSError, RuntimeError, KeyError, Exception, CoreInvariantError]


@given(st.sampled_from(_EXCEPTION_TYPES), st.text(max_size=2000))
def test_detail_is_one_short_line(kind: type[Exception], message: str) -> None:
    got = classify(kind(message))
    assert got.detail.splitlines() == [got.detail]  # one line, not empty
    assert len(got.detail) <= 400
    assert got.action == ACTIONS[got.category]


def test_detail_of_a_broker_error_keeps_its_words() -> None:
    got = classify(BrokerError("AUTH", "unauthorized", "read: request is not authorized", 401))
    assert got.detail == "AUTH/unauthorized HTTP 401: read: request is not authorized"
    assert got.error_type == "BrokerError"


# ---------------------------------------------------------------- one transport mapping
def _http_error(status: int) -> requests.exceptions.HTTPError:
    response = requests.Response()
    response.status_code = status
    return requests.exceptions.HTTPError(f"{status}", response=response)


@pytest.mark.parametrize(
    "exc",
    [
        requests.exceptions.ReadTimeout("slow"),
        requests.exceptions.ConnectTimeout("slow connect"),
        requests.exceptions.ConnectionError("reset"),
        requests.exceptions.ChunkedEncodingError("cut"),
        requests.exceptions.InvalidURL("no"),
        _http_error(503),
        _http_error(429),
        _http_error(401),
        _http_error(403),
        _http_error(409),
        OSError("socket"),
        TimeoutError("socket timeout"),
        ConnectionResetError("peer"),
    ],
    ids=lambda e: type(e).__name__ + (f"-{e.response.status_code}" if isinstance(e, requests.HTTPError) else ""),
)
def test_the_shell_and_the_broker_adapter_map_a_transport_error_alike(exc: Exception) -> None:
    """One mapping of transport failures: the shell's classifier and the adapter's agree."""
    from datetime import UTC, datetime

    from engine.alpaca.errors import broker_error

    assert classify(exc).category == broker_error(exc, "read", None, datetime(2024, 1, 2, tzinfo=UTC)).category
