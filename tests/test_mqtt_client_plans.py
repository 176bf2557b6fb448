"""Plans over a real mosquitto: malformed input answered and acknowledged, client alive."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from mqtt_broker import Broker
from mqtt_helpers import Clinic, station, wait_until
from plans import PLAN
from plans import example_plan as plan

from mqtt_bridge import envelope, plans

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
