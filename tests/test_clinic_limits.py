"""The clinic consumer against a real mosquitto: messages beyond the contract's size limit,
and a msg_id reused with different content."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from mqtt_broker import Broker
from mqtt_helpers import wait_until
from test_clinic_ingest import Consumer, FakeStation, acked_until, envelope

from mqtt_bridge.clinic_db import MAX_MESSAGE_BYTES, MAX_REJECTED_BYTES, ClinicDB
from mqtt_bridge.outbox import MAX_BODY_BYTES


def padded(env: dict[str, Any], body_bytes: int) -> dict[str, Any]:
    """``env`` with an extra ``pad`` field making its compact body ``body_bytes`` long
    (a valid session body otherwise: unknown fields are allowed)."""
    env["body"]["pad"] = ""
    base = len(json.dumps(env["body"], separators=(",", ":")).encode())
    env["body"]["pad"] = "x" * (body_bytes - base)
    return env


def compact(env: dict[str, Any]) -> bytes:
    return json.dumps(env, separators=(",", ":")).encode()


@pytest.mark.parametrize("body_bytes", [300_000, 20_000_000])
def test_clinic_limits_body_over_256_kib_is_rejected_not_stored(
    broker: Broker, station: FakeStation, tmp_path: Path, body_bytes: int
) -> None:
    """Before, a 302 KB and a 20 MB summary were stored whole as ordinary messages."""
    db_path = tmp_path / "clinic.db"
    consumer = Consumer(broker.url, db_path)
    big = padded(envelope(seq=1), body_bytes)
    payload = compact(big)
    good = envelope(seq=2)
    station.publish("summary", payload)
    station.publish("summary", json.dumps(good))
    ids = {big["msg_id"], good["msg_id"]}
    assert acked_until(station, ids) == ids  # the reject too: the station stops resending
    stats = consumer.close()
    assert (stats.stored, stats.rejected) == (1, 1)
    assert stats.reasons == {"MessageTooLarge": 1}
    with ClinicDB(db_path) as db:
        assert db.msg_ids() == [good["msg_id"]]
        (rej,) = db.rejected()
    assert rej["reason"] == (
        f"MessageTooLarge: the message is {len(payload)} bytes; the contract allows at most "
        f"{MAX_MESSAGE_BYTES} (a body of at most {MAX_BODY_BYTES} bytes and its envelope)"
    )
    assert (rej["msg_id"], rej["station_id"]) == (big["msg_id"], "st-0001")
    assert rej["payload"] == payload[:MAX_REJECTED_BYTES]  # kept for inspection, cut


def test_clinic_limits_body_just_over_the_limit_in_a_small_message_is_rejected(
    broker: Broker, station: FakeStation, tmp_path: Path
) -> None:
    """The body is measured as the station measures it (compact UTF-8 JSON): 100 bytes over
    the limit, in a message within the whole message's limit, is still too large."""
    db_path = tmp_path / "clinic.db"
    consumer = Consumer(broker.url, db_path)
    env = padded(envelope(), MAX_BODY_BYTES + 100)
    payload = compact(env)
    assert len(payload) <= MAX_MESSAGE_BYTES
    station.publish("summary", payload)
    assert station.next_ack() == [env["msg_id"]]
    consumer.close()
    with ClinicDB(db_path) as db:
        assert db.msg_ids() == []
        (rej,) = db.rejected()
    assert rej["reason"] == (
        f"MessageTooLarge: the body is {MAX_BODY_BYTES + 100} bytes of JSON; the contract "
        f"allows at most {MAX_BODY_BYTES}"
    )
    assert rej["payload"] == payload  # a message of a station's size is kept whole


def test_clinic_limits_body_of_exactly_256_kib_is_stored(
    broker: Broker, station: FakeStation, tmp_path: Path
) -> None:
    db_path = tmp_path / "clinic.db"
    consumer = Consumer(broker.url, db_path)
    env = padded(envelope(), MAX_BODY_BYTES)
    station.publish("summary", compact(env))
    assert station.next_ack() == [env["msg_id"]]
    consumer.close()
    with ClinicDB(db_path) as db:
        assert db.msg_ids() == [env["msg_id"]] and db.rejected() == []


@pytest.fixture
def station(broker: Broker) -> Any:
    s = FakeStation(broker.url)
    try:
        yield s
    finally:
        s.close()


def test_clinic_limits_broker_max_packet_size_drops_the_sender_of_a_20_mb_body(
    tmp_path: Path,
) -> None:
    """With mosquitto's ``max_packet_size`` (the contract's advice: at least 270 000) a 20 MB
    PUBLISH never reaches the clinic: the broker disconnects its sender. The consumer sees
    nothing of it, keeps no reject, and goes on with the next station's messages. (A station
    never sends it: its outbox refuses a body over 256 KiB, and its sender keeps a row larger
    than the CONNACK's Maximum Packet Size as rejected.)"""
    b = Broker(tmp_path / "limited-broker", max_packet_size=270_000)
    try:
        consumer = Consumer(b.url, tmp_path / "clinic.db")
        sender = FakeStation(b.url)
        other = FakeStation(b.url, "st-0002")
        try:
            big = padded(envelope(seq=1), 20_000_000)
            sender.client.publish("rehab/v1/stations/st-0001/summary", compact(big), qos=1)
            good = envelope(station="st-0002")
            other.publish("summary", json.dumps(good))
            assert other.next_ack() == [good["msg_id"]]
            wait_until(
                lambda: "disconnected due to oversize packet" in b.log_text(), what="broker cut"
            )
        finally:
            sender.close()
            other.close()
        stats = consumer.close()
    finally:
        b.close()
    assert (stats.received, stats.stored, stats.rejected) == (1, 1, 0)
    with ClinicDB(tmp_path / "clinic.db") as db:
        assert db.msg_ids() == [good["msg_id"]] and db.rejected() == []
