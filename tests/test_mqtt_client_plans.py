"""Plans over a real mosquitto: malformed input answered and acknowledged, client alive."""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
from mqtt_broker import Broker
from mqtt_helpers import WAIT_S, Clinic, commit_selftests, station, wait_until
from plans import PLAN
from plans import example_plan as plan

from mqtt_bridge import envelope, plans
from mqtt_bridge.client import StationClient
from mqtt_bridge.inbound import Inbound
from mqtt_bridge.sender import MAX_EVENT_ATTEMPTS

PLAN_TOPIC = "rehab/v1/stations/st-0001/plan"


def raw(p: Any) -> bytes:
    return json.dumps(p).encode()


MALFORMED: list[tuple[str, bytes, str]] = [
    ("not utf-8", b"\xff\xfe\x00{", "the plan is not UTF-8 text"),
    ("not json", b'{"schema": "rehab.plan/1",', "the plan is not valid JSON"),
    (
        "infinite number",
        raw(plan(plan_version=4, schedule__0__params={"trials_per_hand": 3})).replace(
            b'"trials_per_hand": 3', b'"trials_per_hand": 1e999'
        ),
        "the plan is not valid JSON: the number 1e999 is out of range",
    ),
    ("not an object", b"[1, 2, 3]", "(top level): [1, 2, 3] is an array, expected an object"),
    ("missing field", raw(plan(caps=...)), "(top level): the field 'caps' is required"),
    ("wrong type", raw(plan(plan_version="4")), 'plan_version: "4" is a string'),
    (
        "out of range",
        raw(plan(plan_version=4, caps__max_force_n=500)),
        "caps.max_force_n: 500 is above the maximum 200",
    ),
    (
        "oversize",
        raw(plan(plan_version=4, schedule__0__params={"pad": "x" * 17000})),
        "the plan is 17",
    ),
    (
        "stale version",
        raw(plan(plan_version=2)),
        "plan_version: 2 is not newer than the active plan_version 3",
    ),
    (
        "same version, other content",
        raw(plan(caps__max_force_n=10.0)),
        "plan_version: 3 is not newer",
    ),
    (
        "wrong station",
        raw(plan(plan_version=4, station_id="st-0002")),
        "station_id: the plan is for 'st-0002', this station is 'st-0001'",
    ),
    ("unknown field", raw(plan(plan_version=4, note="call me")), "unknown field 'note'"),
    ("bad day", raw(plan(plan_version=4, schedule__0__days=["mon", "mon"])), "schedule[0].days:"),
]


def result(clinic: Clinic) -> tuple[dict[str, Any], Any]:
    m = clinic.next("/plan/result")
    env = envelope.decode(m.payload, check_body=True)
    assert env["schema"] == "rehab.plan_result/1"
    return env["body"], m.properties


def active(db: Path) -> int | None:
    conn = sqlite3.connect(db)
    try:
        return plans.active_version(conn)
    finally:
        conn.close()


def test_mqtt_client_plan_accepted_stored_answered_and_handled(
    broker: Broker, tmp_path: Path
) -> None:
    db = tmp_path / "station.db"
    handled: list[dict[str, Any]] = []
    checked: list[int] = []
    clinic = Clinic(broker.port)
    sc = station(
        db,
        broker.port,
        plan_handler=handled.append,
        semantic_check=lambda p: checked.append(p["plan_version"]),
    )
    try:
        clinic.publish(PLAN_TOPIC, raw(PLAN), retain=True, corr=b"st-0001/plan/3")
        body, props = result(clinic)
        assert body == {
            "plan_version": 3,
            "status": "accepted",
            "reason": "",
            "active_plan_version": 3,
        }
        assert props.CorrelationData == b"st-0001/plan/3"
        wait_until(lambda: handled == [PLAN], what="plan_handler called")
        assert checked == [3] and active(db) == 3
        wait_until(lambda: sc.counts().depth == 0, what="plan result leaves on PUBACK")
    finally:
        sc.close()
        clinic.close()


def test_mqtt_client_malformed_plans_rejected_with_reasons_client_stays_alive(
    broker: Broker, tmp_path: Path
) -> None:
    db = tmp_path / "station.db"
    clinic = Clinic(broker.port)
    handled: list[dict[str, Any]] = []
    sc = station(db, broker.port, plan_handler=handled.append)
    try:
        clinic.publish(PLAN_TOPIC, raw(PLAN), retain=True)
        assert result(clinic)[0]["status"] == "accepted"
        for name, payload, reason in MALFORMED:
            clinic.publish(PLAN_TOPIC, payload, retain=True, corr=name.encode())
            body, props = result(clinic)
            assert props.CorrelationData == name.encode(), name
            assert body["status"] == "rejected", name
            assert body["reason"].startswith(reason) or reason in body["reason"], (name, body)
            assert body["active_plan_version"] == 3, name
            assert active(db) == 3, name
        assert sc.stats.plans_rejected == len(MALFORMED)
        assert sc.threads_alive() and sc.stats.callback_errors == 0
        clinic.publish(PLAN_TOPIC, raw(plan(plan_version=4)), retain=True)
        body, _ = result(clinic)
        assert (body["status"], body["plan_version"]) == ("accepted", 4)
        assert [p["plan_version"] for p in handled] == [3, 4]
    finally:
        sc.close()
    # Every message was PUBACKed once (no poison loop): a restarted station gets only the
    # retained valid plan again, recognises it, and answers nothing.
    sc = station(db, broker.port)
    try:
        wait_until(lambda: sc.stats.plans_redelivered == 1, what="retained plan replayed")
        assert (sc.stats.plans_accepted, sc.stats.plans_rejected) == (0, 0)
        assert active(db) == 4
    finally:
        sc.close()
        clinic.close()


def test_mqtt_client_plan_handler_exception_does_not_stop_the_client(
    broker: Broker, tmp_path: Path
) -> None:
    db = tmp_path / "station.db"
    clinic = Clinic(broker.port, auto_ack=True)

    def broken(p: dict[str, Any]) -> None:
        raise RuntimeError("station bug")

    sc = station(db, broker.port, plan_handler=broken)
    try:
        clinic.publish(PLAN_TOPIC, raw(PLAN))
        assert result(clinic)[0]["status"] == "accepted"
        clinic.publish(PLAN_TOPIC, raw(plan(plan_version=5)))
        assert result(clinic)[0]["plan_version"] == 5
        assert sc.threads_alive()
    finally:
        sc.close()
        clinic.close()


def test_mqtt_client_malformed_ack_is_ignored(broker: Broker, tmp_path: Path) -> None:
    from mqtt_helpers import commit_selftests

    db = tmp_path / "station.db"
    clinic = Clinic(broker.port)
    (msg_id,) = commit_selftests(db, 1)
    sc = station(db, broker.port)
    try:
        clinic.next("/selftest")
        bads = [b"\xff", b"{}", b'{"msg_ids": "x"}', b'{"msg_ids": [1]}']
        # Nested deep enough to parse yet exhaust the validator's recursion (before, a
        # RecursionError escaped into the sender loop and took the rest of its batch).
        for depth in range(900, 1000, 10):
            bads.append(b'{"schema": ' + b"[" * depth + b"]" * depth + b', "msg_ids": []}')
            bads.append(b'{"msg_ids": ' + b"[" * depth + b"]" * depth + b"}")
        for bad in bads:
            clinic.publish("rehab/v1/stations/st-0001/ack", bad)
        clinic.ack("st-0001", [msg_id])
        wait_until(lambda: sc.counts().depth == 0, what="valid ack after malformed ones")
        assert sc.stats.acks_received == len(bads) + 1 and sc.threads_alive()
        assert sc.stats.sender_errors == 0
    finally:
        sc.close()
        clinic.close()


def flaky_receive_plan(monkeypatch: pytest.MonkeyPatch, fail_calls: set[int]) -> list[bytes]:
    """``plans.receive_plan`` raising "database is locked" at the calls numbered in
    ``fail_calls`` (from 1): the fault of a second connection holding the write lock longer
    than the busy timeout. Returns the payloads of every call."""
    real = plans.receive_plan
    calls: list[bytes] = []

    def receive_plan(conn: sqlite3.Connection, station_id: str, payload: bytes, **kw: Any) -> Any:
        calls.append(payload)
        if len(calls) in fail_calls:
            raise sqlite3.OperationalError("database is locked")
        return real(conn, station_id, payload, **kw)

    monkeypatch.setattr(plans, "receive_plan", receive_plan)
    return calls


def queued_messages(sc: StationClient) -> int:
    return sum(1 for ev in list(sc._events.queue) if isinstance(ev, Inbound))


def test_mqtt_client_failed_event_is_retried_with_the_rest_of_its_batch(
    broker: Broker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plan whose storing fails once, taken from the queue together with a clinic ack:
    before, both were dropped (no answer to the plan on a live connection, the ack lost)."""
    db = tmp_path / "station.db"
    clinic = Clinic(broker.port)
    (msg_id,) = commit_selftests(db, 1)
    release = threading.Event()
    handled: list[int] = []

    def hold_first(p: dict[str, Any]) -> None:
        handled.append(p["plan_version"])
        if p["plan_version"] == 3:  # holds the sender thread: the next messages queue up
            release.wait(WAIT_S)

    calls = flaky_receive_plan(monkeypatch, fail_calls={2})
    sc = station(db, broker.port, plan_handler=hold_first)
    try:
        clinic.next("/selftest")
        clinic.publish(PLAN_TOPIC, raw(PLAN))
        wait_until(lambda: handled == [3], what="plan 3 handled")
        clinic.publish(PLAN_TOPIC, raw(plan(plan_version=4)))
        clinic.ack("st-0001", [msg_id])
        wait_until(lambda: queued_messages(sc) == 2, what="plan 4 and the ack queued")
        release.set()
        assert [result(clinic)[0]["plan_version"] for _ in range(2)] == [3, 4]
        wait_until(lambda: sc.counts().depth == 0, what="the ack applied")
        assert handled == [3, 4] and active(db) == 4 and len(calls) == 3
        assert sc.counts().acknowledged == 1
        assert (sc.stats.sender_errors, sc.stats.connects) == (1, 1)  # no reconnect needed
    finally:
        release.set()
        sc.close()
        clinic.close()


def test_mqtt_client_event_failing_every_attempt_is_redelivered_after_a_reconnect(
    broker: Broker,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A plan that keeps failing: after MAX_EVENT_ATTEMPTS the sender gives up on it, logs
    an alarm and drops the connection; the broker delivers the unacknowledged plan again on
    the new one (not retained: only the redelivery can bring it back)."""
    db = tmp_path / "station.db"
    clinic = Clinic(broker.port)
    calls = flaky_receive_plan(monkeypatch, fail_calls=set(range(1, MAX_EVENT_ATTEMPTS + 1)))
    sc = station(db, broker.port)
    try:
        with caplog.at_level(logging.ERROR, logger="mqtt_bridge.sender"):
            clinic.publish(PLAN_TOPIC, raw(PLAN))
            body, _ = result(clinic)
        assert (body["plan_version"], body["status"]) == (3, "accepted")
        assert len(calls) == MAX_EVENT_ATTEMPTS + 1 and len(set(calls)) == 1
        assert sc.stats.sender_errors == MAX_EVENT_ATTEMPTS and sc.stats.connects == 2
        assert "gave up on the message on rehab/v1/stations/st-0001/plan" in caplog.text
        assert active(db) == 3 and sc.threads_alive()
    finally:
        sc.close()
        clinic.close()


def test_mqtt_client_retained_plan_is_answered_once_across_restarts(
    broker: Broker, tmp_path: Path
) -> None:
    """The contract: each plan message is answered once; its retained copy replayed at every
    connect is not answered again. Before, a rejected retained plan got a new answer at
    every restart, and an accepted one sent as ``"plan_version": 3.0`` was answered
    "3 is not newer than the active plan_version 3" at the first restart."""
    db = tmp_path / "station.db"
    clinic = Clinic(broker.port)
    rejected_plan = raw(plan(plan_version=4, caps__max_force_n=500))
    as_float = raw(PLAN).replace(b'"plan_version": 3', b'"plan_version": 3.0')
    answers: list[tuple[int, str]] = []
    for payload, corr in ((as_float, b"float"), (rejected_plan, b"rejected")):
        clinic.publish(PLAN_TOPIC, payload, retain=True, corr=corr)
        sc = station(db, broker.port)
        try:
            body, props = result(clinic)
            assert props.CorrelationData == corr
            answers.append((body["plan_version"], body["status"]))
            wait_until(lambda: sc.counts().depth == 0, what="answer delivered")  # noqa: B023
        finally:
            sc.close()
        for _ in range(2):  # restarts: the broker replays the retained plan each time
            sc = station(db, broker.port)
            try:
                wait_until(lambda: sc.stats.plans_redelivered == 1, what="replay recognised")  # noqa: B023
                assert (sc.stats.plans_accepted, sc.stats.plans_rejected) == (0, 0)
                assert sc.counts().depth == 0  # nothing new to answer
            finally:
                sc.close()
    assert answers == [(3, "accepted"), (4, "rejected")]
    # Nothing else was answered: the next answer the clinic sees is for a new plan.
    sc = station(db, broker.port)
    try:
        clinic.publish(PLAN_TOPIC, raw(plan(plan_version=5)), retain=True)
        body, _ = result(clinic)
        assert (body["plan_version"], body["status"]) == (5, "accepted")
        assert active(db) == 5
    finally:
        sc.close()
        clinic.close()


def test_mqtt_client_active_plan_sent_again_with_new_correlation_is_answered(
    broker: Broker, tmp_path: Path
) -> None:
    """The contract and send-plan: the same plan with new CorrelationData is a new question
    with its own answer. Before, matching the active plan's content made it a silent
    redelivery whatever the correlation data."""
    db = tmp_path / "station.db"
    clinic = Clinic(broker.port)
    handled: list[int] = []
    sc = station(db, broker.port, plan_handler=lambda p: handled.append(p["plan_version"]))
    try:
        clinic.publish(PLAN_TOPIC, raw(PLAN), corr=b"first")
        body, props = result(clinic)
        assert (body["status"], body["reason"], props.CorrelationData) == ("accepted", "", b"first")
        clinic.publish(PLAN_TOPIC, raw(PLAN), corr=b"second")
        body, props = result(clinic)
        assert (body["plan_version"], body["status"]) == (3, "accepted")
        assert body["reason"] == "already the active plan" and body["active_plan_version"] == 3
        assert props.CorrelationData == b"second"
        clinic.publish(PLAN_TOPIC, raw(PLAN), corr=b"second")  # a replay: no answer
        clinic.publish(PLAN_TOPIC, raw(PLAN))  # no correlation data: no answer either
        wait_until(lambda: sc.stats.plans_redelivered == 2, what="replays recognised")
        clinic.publish(PLAN_TOPIC, raw(plan(plan_version=4)), corr=b"third")
        body, _ = result(clinic)  # the next answer is the new plan's: none in between
        assert (body["plan_version"], body["status"], body["reason"]) == (4, "accepted", "")
        assert handled == [3, 4] and active(db) == 4 and sc.stats.plans_accepted == 3
    finally:
        sc.close()
        clinic.close()
