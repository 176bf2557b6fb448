"""``clinic send-plan`` against a real mosquitto: accepted 0; rejected, not sent or no
answer 1; usage 2."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from mqtt_helpers import station
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from plans import example_plan

from mqtt_bridge.clinic import BrokerOptions, parse_broker_url
from mqtt_bridge.sendplan import send_plan
from station import config
from station import plan as station_plan

ROOT = Path(__file__).resolve().parents[1]
WAIT_S = 10.0
STATION = "st-0001"


def plan(version: int = 3, station: str = STATION, **over: Any) -> dict[str, Any]:
    """The example plan (maximal tests allowed) for ``station`` at ``version``."""
    return example_plan(plan_version=version, station_id=station, **over)


def client(url: str) -> mqtt.Client:
    host, port, _ = parse_broker_url(url)
    c = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"t-{uuid.uuid4().hex[:8]}", protocol=mqtt.MQTTv5
    )
    c.connect(host, port)
    return c


def result_envelope(body: dict[str, Any]) -> dict[str, Any]:
    """A ``rehab.plan_result/1`` body in the envelope, as the station's outbox sends it."""
    body.setdefault("reason", "")
    return {
        "schema": "rehab.plan_result/1",
        "msg_id": str(uuid.uuid4()),
        "station_id": STATION,
        "seq": 1,
        "created_at": "2026-11-20T10:00:01Z",
        "clock_synced": True,
        "boot_id": "b-1",
        "body": body,
    }


class Responder:
    """Plays the station's plan handler: answers each plan with ``decide(plan)`` on
    ``plan/result``, echoing the correlation data as the station does."""

    def __init__(self, url: str, decide: Any, stale_first: dict | None = None) -> None:
        self.received: queue.Queue[dict[str, Any]] = queue.Queue()
        ready = threading.Event()
        self.c = client(url)

        def on_message(c: mqtt.Client, u: Any, m: mqtt.MQTTMessage) -> None:
            if not m.payload:
                return
            p = json.loads(m.payload)
            mp: Any = m.properties
            self.received.put(p)
            answer = result_envelope({"plan_version": p["plan_version"], **decide(p)})
            if stale_first is not None:
                c.publish(mp.ResponseTopic, json.dumps(result_envelope(stale_first)), qos=1)
            props = Properties(PacketTypes.PUBLISH)
            props.CorrelationData = mp.CorrelationData
            c.publish(mp.ResponseTopic, json.dumps(answer), qos=1, properties=props)

        self.c.on_message = on_message
        self.c.on_subscribe = lambda c, u, mid, rcs, p: ready.set()
        self.c.subscribe(f"rehab/v1/stations/{STATION}/plan", qos=1)
        self.c.loop_start()
        assert ready.wait(WAIT_S)

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


@pytest.fixture
def answering(broker) -> Iterator[Any]:
    made: list[Responder] = []

    def start(decide: Any, stale_first: dict | None = None) -> Responder:
        made.append(Responder(broker.url, decide, stale_first))
        return made[-1]

    try:
        yield start
    finally:
        for r in made:
            r.close()


def opts(url: str) -> BrokerOptions:
    return BrokerOptions(url, f"clinic-plan-{uuid.uuid4().hex[:8]}")


def test_clinic_sendplan_accepted(broker, answering: Any) -> None:
    station = answering(lambda p: {"status": "accepted"})
    result = send_plan(opts(broker.url), STATION, json.dumps(plan()).encode(), WAIT_S)
    assert (result.outcome, result.exit_code, result.plan_version) == ("accepted", 0, 3)
    assert station.received.get(timeout=WAIT_S)["plan_version"] == 3


def test_clinic_sendplan_rejected_by_station(broker, answering: Any) -> None:
    answering(lambda p: {"status": "rejected", "reason": "plan_version: 3 is not newer than 3"})
    result = send_plan(opts(broker.url), STATION, json.dumps(plan()).encode(), WAIT_S)
    assert (result.outcome, result.exit_code) == ("rejected", 1)
    assert result.describe() == (
        "rejected by the station: plan_version 3: plan_version: 3 is not newer than 3"
    )


def test_clinic_sendplan_ignores_answers_to_other_versions(broker, answering: Any) -> None:
    """A result for another plan (here a stale "accepted" for version 2, without correlation
    data, arriving first) must not be taken for this plan's answer."""
    stale = {"plan_version": 2, "status": "accepted"}
    answering(lambda p: {"status": "rejected", "reason": "caps.max_force_n: too high"}, stale)
    result = send_plan(opts(broker.url), STATION, json.dumps(plan(3)).encode(), WAIT_S)
    assert (result.outcome, result.plan_version) == ("rejected", 3)
    assert result.reason == "caps.max_force_n: too high"


def test_clinic_sendplan_no_answer_leaves_plan_retained(broker, tmp_path: Path) -> None:
    result = send_plan(opts(broker.url), STATION, json.dumps(plan()).encode(), 0.5)
    assert (result.outcome, result.exit_code) == ("no_answer", 1)
    assert result.describe() == (
        "no answer: plan_version 3: the station did not answer within 0.5 s; the plan stays "
        "retained on the broker and the station takes it when it connects"
    )
    got: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
    c = client(broker.url)
    c.on_message = lambda c, u, m: got.put(m)
    c.subscribe(f"rehab/v1/stations/{STATION}/plan", qos=1)
    c.loop_start()
    msg = got.get(timeout=WAIT_S)
    c.disconnect()
    c.loop_stop()
    assert msg.retain and json.loads(msg.payload)["plan_version"] == 3


def test_clinic_sendplan_invalid_plan_is_not_sent() -> None:
    # An unreachable broker: an invalid plan must be refused before any connection.
    bad = plan(caps={"max_force_n": 500.0})
    result = send_plan(opts("mqtt://127.0.0.1:9"), STATION, json.dumps(bad).encode(), WAIT_S)
    assert (result.outcome, result.exit_code) == ("invalid", 1)


def test_clinic_sendplan_wrong_station_is_not_sent() -> None:
    data = json.dumps(plan(station="st-0002")).encode()
    result = send_plan(opts("mqtt://127.0.0.1:9"), STATION, data, WAIT_S)
    assert result.outcome == "invalid"
    assert "station_id: the plan is for 'st-0002', this station is 'st-0001'" in result.reason


def run_cli(
    broker_url: str, plan_file: Path, timeout_s: float, *extra: str
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "station",
            "clinic",
            "send-plan",
            "--broker",
            broker_url,
            "--station",
            STATION,
            str(plan_file),
            "--timeout",
            str(timeout_s),
            *extra,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=WAIT_S + timeout_s,
    )


def test_clinic_sendplan_command_exit_codes(broker, answering: Any, tmp_path: Path) -> None:
    f = tmp_path / "plan.json"
    f.write_text(json.dumps(plan(3)))
    none = run_cli(broker.url, f, 0.5)
    assert none.returncode == 1, none.stderr
    assert none.stdout.startswith("no answer")
    answering(
        lambda p: (
            {"status": "accepted"}
            if p["plan_version"] == 3
            else {"status": "rejected", "reason": "plan_version: not newer"}
        )
    )
    ok = run_cli(broker.url, f, WAIT_S)
    assert (ok.returncode, ok.stdout.strip()) == (0, "accepted: plan_version 3")
    f.write_text(json.dumps(plan(4)))
    rej = run_cli(broker.url, f, WAIT_S)
    assert rej.returncode == 1
    assert "rejected by the station" in rej.stdout


def test_clinic_sendplan_same_file_again_gets_a_new_answer(broker, tmp_path: Path) -> None:
    """A station answers each plan message once (its retained replays are not answered);
    the same file sent again, here after the station's own limits were raised, is a new
    message (new correlation data) and gets its own answer."""
    limit = {"max_force_n": 10.0}

    def check(p: dict[str, Any]) -> None:
        if p["caps"]["max_force_n"] > limit["max_force_n"]:
            raise ValueError(f"caps.max_force_n: above this station's {limit['max_force_n']} N")

    data = json.dumps(plan()).encode()
    sc = station(tmp_path / "station.db", broker.port, semantic_check=check)
    try:
        first = send_plan(opts(broker.url), STATION, data, WAIT_S)
        assert (first.outcome, first.reason) == (
            "rejected",
            "caps.max_force_n: above this station's 10.0 N",
        )
        limit["max_force_n"] = 50.0
        second = send_plan(opts(broker.url), STATION, data, WAIT_S)
        assert (second.outcome, second.plan_version) == ("accepted", 3)
        assert (sc.stats.plans_rejected, sc.stats.plans_accepted) == (1, 1)
    finally:
        sc.close()


def test_clinic_sendplan_command_unreachable_broker_exits_1_not_usage(tmp_path: Path) -> None:
    f = tmp_path / "plan.json"
    f.write_text(json.dumps(plan(3)))
    r = run_cli("mqtt://127.0.0.1:9", f, 0.5)
    assert r.returncode == 1, r.stderr
    assert r.stdout.strip() == (
        "no answer: plan_version 3: broker mqtt://127.0.0.1:9 not reachable within 0.5 s"
    )


def test_clinic_sendplan_command_plan_that_runs_nothing_is_sent_only_with_force(
    broker, answering: Any, tmp_path: Path
) -> None:
    """Maximal grip only, with maximal tests not allowed: a station would accept it and
    give the patient empty sessions. Not sent; ``--force`` sends it."""
    station = answering(lambda p: {"status": "accepted"})
    f = tmp_path / "plan.json"
    f.write_text(json.dumps(plan(3, gates={"maximal_tests": False})))
    refused = run_cli(broker.url, f, WAIT_S)
    assert refused.returncode == 1, refused.stderr
    assert refused.stdout == ""
    assert refused.stderr.splitlines() == [
        "rehab-station clinic: plan_version 3: it runs nothing on mon, wed, fri: max_grip is a "
        "maximal test and gates.maximal_tests is not true",
        "rehab-station clinic: plan_version 3 not sent; correct the plan, or send it anyway "
        "with --force",
    ]
    forced = run_cli(broker.url, f, WAIT_S, "--force")
    assert (forced.returncode, forced.stdout.strip()) == (0, "accepted: plan_version 3")
    assert "warning: plan_version 3: it runs nothing on mon, wed, fri" in forced.stderr
    # only the forced sending reached the station (a retained first one would come first)
    assert station.received.get(timeout=WAIT_S)["gates"] == {"maximal_tests": False}
    assert station.received.empty()


def test_clinic_sendplan_command_misspelt_param_is_named_and_not_sent(tmp_path: Path) -> None:
    f = tmp_path / "plan.json"
    f.write_text(json.dumps(plan(3, schedule__0__params__trials_per_hnd=6)))
    r = run_cli("mqtt://127.0.0.1:9", f, WAIT_S)  # refused before any connection
    assert r.returncode == 1, r.stderr
    assert (
        "would refuse it: schedule[0].params.trials_per_hnd: unknown parameter; known: hands, "
        "pad, trials_per_hand" in r.stderr
    )
    assert "not sent" in r.stderr


def test_clinic_sendplan_accepted_names_the_caps_the_station_applies(
    broker, tmp_path: Path
) -> None:
    limits = {**config.defaults()["safety"], "max_force_n": 30.0}
    sc = station(
        tmp_path / "station.db",
        broker.port,
        semantic_check=lambda d: station_plan.semantic_check(d, STATION, limits),
    )
    try:
        data = json.dumps(plan(caps__max_force_n=40)).encode()
        result = send_plan(opts(broker.url), STATION, data, WAIT_S)
    finally:
        sc.close()
    assert (result.outcome, result.exit_code) == ("accepted", 0)
    assert result.describe() == (
        "accepted: plan_version 3; the station's caps apply: max_force_n 40 -> 30 N"
    )
