"""engine.redact: what a secret looks like, and the one stripping of URL passwords."""

from __future__ import annotations

import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.redact import RedactingFilter, config_problem, env_reference, has_password, strip_credentials


@pytest.mark.parametrize(
    "text,shown",
    [
        ("postgresql://u:pw@h:5432/db?table=t", "postgresql://u:***@h:5432/db?table=t"),
        ("http://trader:s3cr3t@127.0.0.1:8765", "http://trader:***@127.0.0.1:8765"),
        ("https://a:p@ss:w@rd@host/x", "https://a:***@host/x"),  # every @ of the password, up to the host
        ("see redis://:onlypw@cache:6379/0 and amqp://g:g@mq/", "see redis://:***@cache:6379/0 and amqp://g:***@mq/"),
        ("http://user@host/x", "http://user@host/x"),  # a user without a password: nothing to hide
        ("no url here: a:b@c", "no url here: a:b@c"),
        ("http://u:***@h", "http://u:***@h"),
    ],
)
def test_strip_credentials(text: str, shown: str) -> None:
    assert strip_credentials(text) == shown
    assert not has_password(strip_credentials(text))


_password = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp"), blacklist_characters="/@"), min_size=1
)


@given(_password, st.sampled_from(["http", "https", "postgresql", "postgres", "amqp"]))
def test_no_password_survives(password: str, scheme: str) -> None:
    text = f"error at {scheme}://someone:{password}@example.org:1/path"
    assert strip_credentials(text) == f"error at {scheme}://someone:***@example.org:1/path"


def test_env_references() -> None:
    assert env_reference("env:VENDOR_TOKEN") == "VENDOR_TOKEN"
    assert env_reference(" env:X1 ") == "X1"
    for value in ("VENDOR_TOKEN", "env:", "env:1X", "env:A-B", "ENV:X", 5, None):
        assert env_reference(value) is None


@pytest.mark.parametrize(
    "key,value,problem",
    [
        (("strategy", "api_token"), "abc", 'api_token = "env:API_TOKEN"'),
        (("strategy", "client_secret"), 123, "looks like a secret"),
        (("strategy", "db_password"), ["a"], "looks like a secret"),
        (("strategy", "api_token"), "env:T", None),
        (("broker", "venue_url"), "http://u:p@h:1", "holds a URL with a password (http://u:***@h:1)"),
        (("strategy", "mirrors"), ["http://h", "http://u:p@h"], "holds a URL with a password"),
        (("broker", "venue_url"), "http://u@h:1", None),
        (("run", "seed"), 3, None),
    ],
)
def test_config_problems(key: tuple[str, ...], value: object, problem: str | None) -> None:
    found = config_problem(key, value)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found and "\n" not in found
        assert "p@" not in found and "abc" not in found


def test_log_records_lose_url_passwords(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("engine.test_redact")
    caplog.handler.addFilter(RedactingFilter())
    try:
        log.warning("cannot reach %s", "postgresql://u:topsecret@db/x")
        try:
            raise ConnectionError("http://u:topsecret@venue:1 refused")
        except ConnectionError:
            log.exception("call failed")
    finally:
        caplog.handler.removeFilter(caplog.handler.filters[-1])
    text = caplog.text
    assert "topsecret" not in text and "postgresql://u:***@db/x" in text and "http://u:***@venue:1" in text
