import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from journal_schema.catalogue import (
    ALL_TYPES,
    DERIVED_TYPES,
    INPUT_TYPES,
    TOPICS,
    canonical_schema_bytes,
    json_schema,
    schema_fingerprint,
)
from journal_schema.codec import UnknownTopicError, decode, decode_topic, encode
from tests.gen import for_type

ISSUE_TYPES = {
    "RunStarted",
    "SessionOpened",
    "SessionClosed",
    "BarClosed",
    "BarRejected",
    "SignalGenerated",
    "DecisionMade",
    "OrderIntentCreated",
    "OrderSubmitRequested",
    "OrderAccepted",
    "OrderRejected",
    "OrderPartiallyFilled",
    "OrderFilled",
    "OrderCanceled",
    "OrderExpired",
    "ConfigChanged",
    "KillSwitchEngaged",
    "KillSwitchReleased",
    "RunEnded",
}


def test_catalogue_has_every_required_type_exactly_once():
    names = [t.__name__ for t in ALL_TYPES]
    assert set(names) >= ISSUE_TYPES
    assert len(names) == len(set(names))
    assert not set(INPUT_TYPES) & set(DERIVED_TYPES)


def _walk(info, path, out):
    mi = msgspec.inspect
    if isinstance(info, mi.Metadata):
        info = info.type
    if isinstance(info, mi.FloatType | mi.DecimalType):
        out.append(path)
    for attr in ("fields",):
        for f in getattr(info, attr, ()):
            _walk(f.type, f"{path}.{f.name}", out)
    for attr in ("types",):
        for i, t in enumerate(getattr(info, attr, ())):
            _walk(t, f"{path}|{i}", out)
    for attr in ("item_type", "key_type", "value_type"):
        if hasattr(info, attr):
            _walk(getattr(info, attr), f"{path}.{attr}", out)


@pytest.mark.parametrize("event_type", ALL_TYPES, ids=lambda t: t.__name__)
def test_no_binary_floats_in_any_event(event_type):
    found: list[str] = []
    _walk(msgspec.inspect.type_info(event_type), event_type.__name__, found)
    assert found == []


@pytest.mark.parametrize("event_type", ALL_TYPES, ids=lambda t: t.__name__)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_every_event_round_trips_byte_for_byte(event_type, data):
    event = data.draw(for_type(event_type))
    raw = encode(event)
    assert decode_topic(TOPICS[event_type], raw) == event
    assert decode(raw) == event
    assert encode(decode(raw)) == raw


def test_topic_mismatch_is_refused():
    from journal_schema.events import BarClosed, RunEnded

    raw = encode(RunEnded(ts=1, run_id="r", reason="END_OF_DATA"))
    with pytest.raises(msgspec.ValidationError):
        decode_topic(TOPICS[BarClosed], raw)


def test_unknown_fields_and_bad_values_are_refused():
    bad = b'{"type":"BarClosed","ts":1,"symbol":"A","open":1,"high":1,"low":1,"close":1,"volume":1,"x":2}'
    with pytest.raises(msgspec.ValidationError):
        decode(bad)
    with pytest.raises(msgspec.ValidationError):
        decode(b'{"type":"BarClosed","ts":-5,"symbol":"A","open":1,"high":1,"low":1,"close":1,"volume":1}')


def test_schema_fingerprint_is_sha256_of_canonical_schema():
    import hashlib

    assert schema_fingerprint() == hashlib.sha256(canonical_schema_bytes()).hexdigest()
    defs = json_schema()["$defs"]
    assert defs["BarClosed"]["x-role"] == "input"
    assert defs["DecisionMade"]["x-role"] == "derived"
    assert defs["BarClosed"]["x-topic"] == "BarClosed.v2"


def test_schema_fingerprint_is_stable_across_processes():
    import os
    import subprocess
    import sys

    code = "from journal_schema.catalogue import schema_fingerprint; print(schema_fingerprint())"
    outs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("1", "2")
    }
    assert outs == {schema_fingerprint() + "\n"}


def test_older_versions_are_upcast_on_read():
    """Records written before a version bump still decode, into the current type."""
    from journal_schema.events import BarClosed, DecisionMade, KillSwitchEngaged

    bar = decode_topic(
        "BarClosed.v1", b'{"type":"BarClosed","ts":5,"symbol":"A","open":1,"high":2,"low":1,"close":2,"volume":3}'
    )
    assert bar == BarClosed(ts=5, symbol="A", open=1, high=2, low=1, close=2, volume=3) and bar.received_ts is None
    kill = decode_topic("KillSwitchEngaged.v1", b'{"type":"KillSwitchEngaged","ts":1,"reason":"r","actor":"a"}')
    assert isinstance(kill, KillSwitchEngaged) and (kill.cancel_all, kill.command_id) == (False, "")
    v1 = (
        b'{"type":"DecisionMade","ts":1,"cause_seq":1,"decision_id":"d","signal_id":"s","symbol":"A",'
        b'"outcome":"%s","reason_codes":["%s"],"config_hash":"' + b"0" * 64 + b'","position_qty":0,'
        b'"open_order_qty":0,"target_qty":5,"order_qty":5}'
    )
    accepted = decode_topic("DecisionMade.v1", v1 % (b"ACCEPTED", b"SIGNAL_ACCEPTED"))
    skipped = decode_topic("DecisionMade.v1", v1 % (b"SKIPPED", b"SESSION_CLOSED"))
    assert isinstance(accepted, DecisionMade) and accepted.approved_qty == 5 and accepted.context is None
    assert isinstance(skipped, DecisionMade) and skipped.approved_qty == 0 and skipped.expires_ts is None
    with pytest.raises(UnknownTopicError):
        decode_topic("DecisionMade.v0", v1 % (b"ACCEPTED", b"SIGNAL_ACCEPTED"))
