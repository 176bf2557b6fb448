"""One inbound message that can never be handled must not make the station reconnect
forever: it is rejected or acknowledged with an alarm, and the outbox keeps flowing."""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from mqtt_broker import Broker
from mqtt_helpers import Clinic, commit_selftests, station, wait_until
from plans import PLAN
from plans import example_plan as plan

from mqtt_bridge import envelope, plans, sender

PLAN_TOPIC = "rehab/v1/stations/st-0001/plan"
LONE_SURROGATE = "\ud800"


def result(clinic: Clinic) -> tuple[dict[str, Any], Any]:
    m = clinic.next("/plan/result")
    env = envelope.decode(m.payload, check_body=True)
    return env["body"], m.properties


def test_mqtt_envelope_loads_refuses_lone_surrogates() -> None:
    for text, path in (
        ('"\\ud800"', "$"),
        ('{"a": ["x", "\\udc00"]}', "$.a[1]"),
        ('{"\\udfff": 1}', "$.\\udfff"),
        (f'"{LONE_SURROGATE}"', "$"),
    ):
        with pytest.raises(ValueError, match="not valid Unicode") as info:
            envelope.loads(text)
        assert path in str(info.value)
        str(info.value).encode()  # the reason itself can be stored and sent
    with pytest.raises(ValueError, match="not valid Unicode"):
        envelope.loads(b'{"msg_ids": ["\\ud800"]}')
    assert envelope.loads('"\\ud83d\\ude00"') == "\U0001f600"  # a pair is one scalar value
    assert envelope.loads('"\\\\ud800"') == "\\ud800"  # an escaped backslash, no surrogate


def test_mqtt_client_retained_plan_with_lone_surrogate_is_rejected_once(
    broker: Broker, tmp_path: Path
) -> None:
    """Before, the rejection reason quoting the string failed to encode in outbox.enqueue,
    every attempt rolled back and the sender reconnected every few seconds, forever, while
    the queued messages waited."""
    db = tmp_path / "station.db"
    clinic = Clinic(broker.port, auto_ack=True)
    commit_selftests(db, 20)
    payload = json.dumps(plan(schedule__0__protocol=LONE_SURROGATE)).encode()
    assert b"\\ud800" in payload
    clinic.publish(PLAN_TOPIC, payload, retain=True, corr=b"c1")
    sc = station(db, broker.port)
    try:
        body, props = result(clinic)
        assert (body["plan_version"], body["status"]) == (None, "rejected")
        assert "not valid Unicode" in body["reason"] and props.CorrelationData == b"c1"
        wait_until(lambda: sc.counts().depth == 0, what="the selftests acknowledged")
        assert sc.counts().acknowledged == 20
        assert (sc.stats.connects, sc.stats.sender_errors, sc.stats.plans_rejected) == (1, 0, 1)
    finally:
        sc.close()
    sc = station(db, broker.port)  # the retained plan again: answered already
    try:
        wait_until(lambda: sc.stats.plans_redelivered == 1, what="replay recognised")
        assert sc.stats.plans_rejected == 0 and sc.stats.connects == 1
    finally:
        sc.close()
        clinic.close()


def test_mqtt_client_ack_with_lone_surrogate_is_ignored(broker: Broker, tmp_path: Path) -> None:
    db = tmp_path / "station.db"
    clinic = Clinic(broker.port)
    (msg_id,) = commit_selftests(db, 1)
    sc = station(db, broker.port)
    try:
        clinic.next("/selftest")
        clinic.publish("rehab/v1/stations/st-0001/ack", b'{"msg_ids": ["\\ud800"]}')
        clinic.ack("st-0001", [msg_id])
        wait_until(lambda: sc.counts().depth == 0, what="valid ack after the bad one")
        assert sc.stats.acks_received == 2 and sc.counts().acknowledged == 1
        assert (sc.stats.connects, sc.stats.sender_errors) == (1, 0)
    finally:
        sc.close()
        clinic.close()


def test_mqtt_client_unforeseen_error_on_a_plan_answers_rejected_and_acknowledges(
    broker: Broker,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An exception that retrying cannot clear (a bug: TypeError) is an alarm, the plan is
    answered rejected and PUBACKed, its digest recorded: no reconnect, no loop."""
    db = tmp_path / "station.db"
    clinic = Clinic(broker.port)
    calls: list[bytes] = []

    def receive_plan(*a: Any, **kw: Any) -> Any:
        calls.append(a[2])
        raise TypeError("injected")

    monkeypatch.setattr(plans, "receive_plan", receive_plan)
    sc = station(db, broker.port)
    try:
        with caplog.at_level(logging.ERROR, logger="mqtt_bridge.sender"):
            clinic.publish(PLAN_TOPIC, json.dumps(PLAN).encode(), retain=True, corr=b"x")
            body, props = result(clinic)
        assert (body["plan_version"], body["status"]) == (3, "rejected")
        assert "could not handle the plan (TypeError)" in body["reason"]
        assert props.CorrelationData == b"x"
        assert "ALARM MQTT sender could not handle the message" in caplog.text
        (msg_id,) = commit_selftests(db, 1)  # the outbox still flows
        clinic.next("/selftest")
        clinic.ack("st-0001", [msg_id])
        wait_until(lambda: sc.counts().depth == 0, what="the ack after the plan")
        assert len(calls) == 1 and sc.stats.connects == 1 and sc.stats.sender_errors == 1
        conn = sqlite3.connect(db)
        try:
            digest = plans.message_digest(json.dumps(PLAN).encode(), b"x")
            assert plans.was_answered(conn, digest) and plans.active_version(conn) is None
        finally:
            conn.close()
    finally:
        sc.close()
        clinic.close()


def test_mqtt_client_message_given_up_repeatedly_is_acknowledged(
    broker: Broker,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A database fault that outlasts MAX_GIVE_UPS reconnects: the give-ups of one message
    are counted across reconnects, then it is acknowledged with an alarm and the outbox
    flows again (before, the sender reconnected forever)."""
    monkeypatch.setattr(sender, "MAX_EVENT_ATTEMPTS", 2)
    calls: list[bytes] = []

    def receive_plan(*a: Any, **kw: Any) -> Any:
        calls.append(a[2])
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(plans, "receive_plan", receive_plan)
    db = tmp_path / "station.db"
    clinic = Clinic(broker.port)
    sc = station(db, broker.port)
    try:
        with caplog.at_level(logging.ERROR, logger="mqtt_bridge.sender"):
            clinic.publish(PLAN_TOPIC, json.dumps(PLAN).encode())
            wait_until(lambda: "acknowledged unhandled" in caplog.text, what="give-up alarm")
        assert len(calls) == 2 * sender.MAX_GIVE_UPS and len(set(calls)) == 1
        assert sc.stats.connects == sender.MAX_GIVE_UPS
        (msg_id,) = commit_selftests(db, 1)
        assert json.loads(clinic.next("/selftest").payload)["msg_id"] == msg_id
        assert sc.stats.connects == sender.MAX_GIVE_UPS and len(calls) == 2 * sender.MAX_GIVE_UPS
    finally:
        sc.close()
        clinic.close()
