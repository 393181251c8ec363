"""The contract refuses bad input with a reason that names the field, and never crashes."""

from __future__ import annotations

import contextlib
import json

import pytest
from helpers import chain, event
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hadir.contract import (
    MAX_PAYLOAD_BYTES,
    Ack,
    Channel,
    ContractError,
    DeviceState,
    canonical,
    parse,
    parse_event,
    parse_topic,
    topic,
)
from hadir.signing import new_key, verify_event

KEY = new_key()
DEV = "pi-test-01"
GOOD = event(DEV, 1, key=KEY)
TOPIC = topic(DEV, Channel.EVENT)


def test_valid_event_round_trips_and_verifies():
    parsed = parse_event(TOPIC, GOOD.to_bytes())
    assert parsed == GOOD
    assert verify_event(parsed, KEY.public_key())
    assert parsed.event_hash() == GOOD.event_hash()


def test_topics_confine_a_device_to_its_subtree():
    assert topic(DEV, Channel.EVENT) == "absensi/v1/pi-test-01/up/event"
    assert topic(DEV, Channel.ACK) == "absensi/v1/pi-test-01/down/ack"
    assert parse_topic("absensi/v1/pi-test-01/up/state") == (DEV, Channel.STATE)
    with pytest.raises(ValueError, match="device_id"):
        topic("Bad Device", Channel.EVENT)


def _body(**changes) -> bytes:
    data = json.loads(GOOD.to_bytes())
    for k, v in changes.items():
        if v is ...:
            data.pop(k)
        else:
            data[k] = v
    return json.dumps(data).encode()


@pytest.mark.parametrize(("payload", "reason", "field"), [
    (b"{not json", "malformed_json", None),
    (b"[1, 2]", "not_an_object", None),
    (_body(seq=...), "invalid", "seq"),
    (_body(score="high"), "invalid", "score"),
    (_body(captured_at="yesterday"), "invalid", "captured_at"),
    (_body(captured_at="2026-11-24T07:00:00"), "invalid", "captured_at"),  # no time zone
    (_body(schema_version=2), "schema_version", "schema_version"),
    (_body(extra_field=1), "invalid", "extra_field"),
    (_body(key="pi-test-01:99"), "invalid", None),  # key does not match device:seq
    (_body(prev_hash="abc"), "invalid", "prev_hash"),
    (b"{" + b" " * MAX_PAYLOAD_BYTES + b"}", "oversize", None),
])
def test_bad_payloads_are_refused_with_reason(payload, reason, field):
    with pytest.raises(ContractError) as info:
        parse(TOPIC, payload)
    assert info.value.reason == reason
    if field:
        assert info.value.field == field
        assert field in str(info.value)


def test_payload_on_another_devices_topic_is_refused():
    with pytest.raises(ContractError) as info:
        parse(topic("pi-other-02", Channel.EVENT), GOOD.to_bytes())
    assert info.value.reason == "device_mismatch"
    assert "pi-other-02" in info.value.detail


@pytest.mark.parametrize("name", ["other/v1/x/up/event", "absensi/v1/pi-test-01/up/unknown",
                                  "absensi/v1/BAD/up/event", "absensi/v1/pi-test-01/down/gallery"])
def test_wrong_topics_are_refused(name):
    with pytest.raises(ContractError) as info:
        parse(name, GOOD.to_bytes(), "up")  # as the hub reads them
    assert info.value.reason == "bad_topic"


def test_unknown_face_must_not_name_an_employee():
    with pytest.raises(ContractError, match="employee_id must be null"):
        parse(TOPIC, _body(kind="unknown_face"))


def test_chain_links_each_event_to_the_previous():
    events = chain(DEV, KEY, 3)
    assert events[1].prev_hash == events[0].event_hash()
    assert events[2].prev_hash == events[1].event_hash()


def test_device_state_message():
    state = DeviceState(device_id=DEV, state="offline")
    _, channel, parsed = parse(topic(DEV, Channel.STATE), state.model_dump_json().encode())
    assert channel is Channel.STATE and parsed == state


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2048))
def test_random_bytes_never_crash_the_parser(data):
    with contextlib.suppress(ContractError):
        parse(TOPIC, data)


_json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
                            | st.text(max_size=20), lambda inner: st.lists(inner, max_size=3)
                            | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=8)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(sorted(json.loads(GOOD.to_bytes()))), _json_values)
def test_mutated_events_never_crash_the_parser(field, value):
    data = json.loads(GOOD.to_bytes())
    data[field] = value
    try:
        parsed = parse_event(TOPIC, json.dumps(data).encode())
    except ContractError as exc:
        assert exc.reason in {"invalid", "schema_version", "device_mismatch", "not_canonical"}
    else:
        # Whatever still parses verifies only if the mutation changed neither the body nor the signature.
        assert verify_event(parsed, KEY.public_key()) == (parsed.body() == GOOD.body() and parsed.sig == GOOD.sig)


def test_canonical_event_bytes_are_the_body_plus_the_signature():
    ev = event(DEV, 7, key=KEY)
    assert ev.to_bytes() == canonical(ev.model_dump(mode="json"))
    assert json.loads(ev.to_bytes())["sig"] == ev.sig
    ack = Ack(device_id=DEV, keys=[ev.key], digests=[ev.event_hash()[:16]], stored_at=ev.captured_at, sig="c2ln")
    assert ack.to_bytes() == canonical(ack.model_dump(mode="json"))


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.text(max_size=8), _json_values, max_size=6))
def test_canonical_is_exactly_json_dumps_with_the_canonical_options(obj):
    # canonical() uses a prebuilt C encoder for speed: its bytes must stay those of json.dumps, which
    # devices already in the field sign with.
    def outcome(encode):  # noqa: ANN001, ANN202
        try:
            return encode(obj)
        except ValueError as exc:  # infinity: both must refuse it the same way
            return repr(exc)

    assert outcome(canonical) == outcome(lambda o: json.dumps(
        o, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode())


@pytest.mark.parametrize("bad", [{"x": float("nan")}, {"x": float("inf")}, {"x": object()}, {"x": {1, 2}}])
def test_canonical_refuses_what_json_cannot_carry(bad):
    with pytest.raises((ValueError, TypeError)):
        canonical(bad)
