"""Topic layout and the envelope of station-to-clinic messages."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from mqtt_bridge import clocks, envelope, topics


def env(**over: object) -> dict[str, object]:
    e = envelope.build(
        "rehab.selftest/1",
        envelope.new_msg_id(),
        "st-0001",
        7,
        "2026-11-20T10:00:00.123Z",
        True,
        "0b6d7e1e-0000-4000-8000-000000000001",
        {"passed": True},
    )
    e.update(over)
    return e


def test_mqtt_topics_layout() -> None:
    assert topics.status("st-0001") == "rehab/v1/stations/st-0001/status"
    assert topics.summary("st-0001") == "rehab/v1/stations/st-0001/summary"
    assert topics.selftest("st-0001") == "rehab/v1/stations/st-0001/selftest"
    assert topics.ack("st-0001") == "rehab/v1/stations/st-0001/ack"
    assert topics.plan("st-0001") == "rehab/v1/stations/st-0001/plan"
    assert topics.plan_result("st-0001") == "rehab/v1/stations/st-0001/plan/result"
    assert topics.ALL_SUMMARY == "rehab/v1/stations/+/summary"


@pytest.mark.parametrize("bad", ["", "a/b", "st+1", "#", "-st", "x" * 65, "st 1", "st-1\n"])
def test_mqtt_topics_station_id_that_would_change_the_topic_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="must be 1-64 letters"):
        topics.status(bad)


def test_mqtt_topics_parse_round_trips_every_kind() -> None:
    for kind in topics.KINDS:
        assert topics.parse_station_topic(topics.topic("st-9", kind)) == ("st-9", kind)
    for bad in (
        "rehab/v1/stations/st-9/other",
        "rehab/v2/stations/st-9/status",
        "rehab/v1/stations/a/b/status",
    ):
        with pytest.raises(ValueError):
            topics.parse_station_topic(bad)


def test_mqtt_topics_schema_and_kind_maps_agree() -> None:
    assert topics.KIND_FOR_SCHEMA == {
        "rehab.session/1": "summary",
        "rehab.selftest/1": "selftest",
        "rehab.plan_result/1": "plan/result",
    }


def test_mqtt_envelope_round_trip_is_compact_utf8() -> None:
    e = env(body={"passed": True, "note": "Kraft ü"})
    data = envelope.encode(e)
    assert b" " not in data.replace("Kraft ü".encode(), b"")
    assert "ü".encode() in data
    assert envelope.decode(data) == e
    assert list(json.loads(data)) == list(envelope.FIELDS)


@pytest.mark.parametrize(
    ("payload", "error", "text"),
    [
        (b"\xc3\x28", UnicodeDecodeError, ""),
        (b"{not json", json.JSONDecodeError, ""),
        (b"[1, 2]", ValueError, "(top level): [1, 2] is an array, expected an object"),
        (b'{"a": NaN}', ValueError, "NaN is not valid JSON"),
        (b"[" * 5000 + b"]" * 5000, ValueError, "nested too deeply"),
        (b'{"a": 1e999}', ValueError, "the number 1e999 is out of range"),
        (b'{"a": [-1.5E+400]}', ValueError, "the number -1.5E+400 is out of range"),
        (b'{"a": 9223372036854775808}', ValueError, "the integer 9223372036854775808 is out"),
        (b'{"station_id": "st-a", "station_id": "st-b"}', ValueError, "'station_id' appears twice"),
        (b'{"body": {"x": {"k": 1, "k": 1}}}', ValueError, "'k' appears twice"),
    ],
)
def test_mqtt_envelope_decode_refuses_what_is_not_json(
    payload: bytes, error: type[Exception], text: str
) -> None:
    with pytest.raises(error) as info:
        envelope.decode(payload)
    assert text in str(info.value)


def test_mqtt_envelope_loads_keeps_every_finite_number() -> None:
    text = b"[1.7976931348623157e308, -4.9e-324, 1e-999, 9223372036854775807, -9223372036854775807]"
    assert envelope.loads(text) == [1.7976931348623157e308, -5e-324, 0.0, 2**63 - 1, 1 - 2**63]


@pytest.mark.parametrize(
    ("change", "text"),
    [
        ({"seq": "7"}, 'seq: "7" is a string, expected an integer'),
        ({"seq": 0}, "seq: 0 is below the minimum 1"),
        ({"msg_id": "not-a-uuid"}, "msg_id:"),
        ({"msg_id": str(uuid.uuid1())}, "msg_id:"),
        ({"created_at": "2026-11-20 10:00"}, "created_at:"),
        ({"clock_synced": 1}, "clock_synced: 1 is a number, expected a boolean"),
        ({"extra": 1}, "unknown field 'extra'"),
        ({"body": []}, "body: [] is an array, expected an object"),
    ],
)
def test_mqtt_envelope_decode_names_the_bad_field(change: dict[str, object], text: str) -> None:
    with pytest.raises(ValueError) as info:
        envelope.decode(json.dumps(env(**change)))
    assert text in str(info.value)


def test_mqtt_envelope_missing_field_is_named() -> None:
    e = env()
    del e["seq"]
    with pytest.raises(ValueError, match="the field 'seq' is required"):
        envelope.decode(json.dumps(e))


def test_mqtt_envelope_check_body_validates_against_the_named_schema() -> None:
    envelope.decode(json.dumps(env()), check_body=True)
    with pytest.raises(ValueError, match=r"^body\.passed: \"yes\" is a string"):
        envelope.decode(json.dumps(env(body={"passed": "yes"})), check_body=True)
    with pytest.raises(ValueError, match=r"unknown schema 'rehab\.nothing/1'"):
        envelope.decode(json.dumps(env(schema="rehab.nothing/1")), check_body=True)


def test_mqtt_envelope_encode_refuses_nan() -> None:
    with pytest.raises(ValueError):
        envelope.encode(env(body={"value": float("nan")}))


def test_mqtt_envelope_v5_properties() -> None:
    p: Any = envelope.properties("rehab.session/1", "abc")
    assert p.ContentType == "application/json"
    assert p.PayloadFormatIndicator == 1
    assert p.UserProperty == [("msg_id", "abc"), ("schema", "rehab.session/1")]


def test_mqtt_envelope_msg_ids_are_uuid4_and_distinct() -> None:
    ids = {envelope.new_msg_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(uuid.UUID(i).version == 4 for i in ids)


def test_mqtt_envelope_clock_and_boot_facts_have_the_right_shape() -> None:
    assert isinstance(envelope.clock_synced(), bool)
    assert envelope.boot_id() == envelope.boot_id()
    now = clocks.iso_utc(clocks.utc_now())
    assert now.endswith("Z") and len(now) == len("2026-11-20T10:00:00.123Z")
