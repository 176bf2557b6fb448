"""The clinic consumer against a real mosquitto: store, commit, then acknowledge."""

from __future__ import annotations

import datetime as dt
import json
import queue
import signal
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from mqtt_bridge import clinic
from mqtt_bridge.clinic import BrokerOptions, Ingest, IngestStats, make_client, parse_broker_url
from mqtt_bridge.clinic_db import ClinicDB
from mqtt_bridge.clocks import ManualClock
from mqtt_bridge.inbound import Inbound
from mqtt_bridge.outbox import MAX_BODY_BYTES

ROOT = Path(__file__).resolve().parents[1]
WAIT_S = 10.0  # upper bound for any single wait; tests pass far sooner


def session_body() -> dict[str, Any]:
    """A minimal valid ``rehab.session/1`` body."""
    return {
        "session_id": "s-1",
        "started_at": "2026-11-20T09:50:00Z",
        "ended_at": "2026-11-20T10:00:00Z",
        "complete": True,
        "state": "complete",
        "ended_reason": "",
        "protocols": [
            {
                "protocol": "max_grip",
                "trials": 3,
                "metrics": {
                    "involved_mean_force": {"value": 101.5, "unit": "N", "uncertainty": 2.0}
                },
            }
        ],
        "adherence": {"minutes": 10.0, "trials": 3, "days_this_week": 1},
        "checkin": {
            "pain_before": 1,
            "pain_after": 1,
            "new_numbness": False,
            "wound_problem": False,
        },
        "safety_events": [],
        "data_quality": {"bus_errors": 0, "overruns": 0},
        "software_version": "0.1.0",
        "plan_version": 3,
    }


def envelope(station: str = "st-0001", seq: int = 1, **over: Any) -> dict[str, Any]:
    env = {
        "schema": "rehab.session/1",
        "msg_id": str(uuid.uuid4()),
        "station_id": station,
        "seq": seq,
        "created_at": "2026-11-20T10:00:00Z",
        "clock_synced": True,
        "boot_id": "0b6d7e1e-0000-4000-8000-000000000001",
        "body": session_body(),
    }
    env.update(over)
    return env


def status(state: str, station: str = "st-0001") -> dict[str, Any]:
    return {
        "schema": "rehab.status/1",
        "station_id": station,
        "state": state,
        "last_seen": "2026-11-20T10:00:00Z",
    }


class FakeStation:
    """A plain paho client playing a station: publishes raw payloads, collects acks."""

    def __init__(self, url: str, station: str = "st-0001") -> None:
        host, port, _ = parse_broker_url(url)
        self.station = station
        self.acks: queue.Queue[list[str]] = queue.Queue()
        self.subscribed = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"fake-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv5,
        )
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(
            f"rehab/v1/stations/{station}/ack", qos=1
        )
        self.client.on_subscribe = lambda c, u, mid, rcs, p: self.subscribed.set()
        self.client.on_message = lambda c, u, m: self.acks.put(json.loads(m.payload)["msg_ids"])
        self.client.connect(host, port)
        self.client.loop_start()
        assert self.subscribed.wait(WAIT_S)

    def publish(self, kind: str, payload: bytes | str, retain: bool = False) -> None:
        info = self.client.publish(
            f"rehab/v1/stations/{self.station}/{kind}", payload, qos=1, retain=retain
        )
        info.wait_for_publish(WAIT_S)
        assert info.is_published()

    def next_ack(self) -> list[str]:
        return self.acks.get(timeout=WAIT_S)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class Consumer:
    """An :class:`Ingest` running in a thread of the test, stoppable and restartable."""

    def __init__(
        self, url: str, db_path: Path, client_id: str = "clinic-test", fails_at_once: bool = False
    ) -> None:
        """``fails_at_once``: a fault the test injected may end the consumer on the queued
        messages the broker delivers with the session, before the SUBACK is seen (its
        ``subscribed`` is then set and cleared, or never set): wait for either."""
        self.url, self.db_path, self.client_id = url, db_path, client_id
        self.stop = threading.Event()
        self.db = ClinicDB(db_path)
        client, connect = make_client(BrokerOptions(url, client_id))
        self.ingest = Ingest(client, self.db)
        self.result: IngestStats | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(connect,), daemon=True)
        self.thread.start()
        if fails_at_once:
            self.thread.join(WAIT_S)
            assert self.error is not None or self.ingest.subscribed.is_set(), (
                "consumer neither subscribed nor ended"
            )
        else:
            assert self.ingest.subscribed.wait(WAIT_S), "consumer did not subscribe"

    def _run(self, connect: Any) -> None:
        try:
            self.result = self.ingest.run(self.stop, connect=connect)
        except BaseException as exc:
            self.error = exc

    def close(self) -> IngestStats:
        self.stop.set()
        self.thread.join(WAIT_S)
        self.db.close()
        return self.ingest.stats


def acked_until(station: FakeStation, ids: set[str]) -> set[str]:
    """Application acks collected until every id in ``ids`` was acknowledged."""
    seen: set[str] = set()
    while not ids <= seen:
        seen.update(station.next_ack())
    return seen


@pytest.fixture
def station(broker) -> Iterator[FakeStation]:
    s = FakeStation(broker.url)
    try:
        yield s
    finally:
        s.close()


def test_clinic_ingest_same_message_twice_stores_one_row_and_acks_twice(
    broker, station: FakeStation, tmp_path: Path
) -> None:
    consumer = Consumer(broker.url, tmp_path / "clinic.db")
    env = envelope()
    station.publish("summary", json.dumps(env))
    assert station.next_ack() == [env["msg_id"]]
    station.publish("summary", json.dumps(env))
    assert station.next_ack() == [env["msg_id"]]
    stats = consumer.close()
    with ClinicDB(tmp_path / "clinic.db") as db:
        assert db.msg_ids() == [env["msg_id"]]
        assert db.counters() == {"duplicates": 1}
        assert db.stations()[0]["max_seq"] == 1
    assert (stats.stored, stats.duplicates, stats.rejected) == (1, 1, 0)


def test_clinic_ingest_selftest_topic_stores_selftest(
    broker, station: FakeStation, tmp_path: Path
) -> None:
    consumer = Consumer(broker.url, tmp_path / "clinic.db")
    env = envelope(schema="rehab.selftest/1", body={"passed": True})
    station.publish("selftest", json.dumps(env))
    assert station.next_ack() == [env["msg_id"]]
    consumer.close()
    with ClinicDB(tmp_path / "clinic.db") as db:
        (m,) = db.messages(kind="selftest")
    assert m["body"] == {"passed": True}


MALFORMED = [
    (b"\xc3\x28 not utf-8", "UnicodeDecodeError", False),
    (b"{not json", "JSONDecodeError", False),
    (b"[1, 2]", "ValueError", False),
    (b"[" * 50_000, "nested too deeply", False),
    (json.dumps(envelope()).replace("101.5", "1e999").encode(), "1e999 is out of range", True),
    (json.dumps({k: v for k, v in envelope().items() if k != "seq"}).encode(), "seq", True),
    (json.dumps(envelope(station="st-0002")).encode(), "does not match the topic", True),
    (json.dumps(envelope(schema="rehab.selftest/1")).encode(), "on a summary topic", True),
    (json.dumps({**envelope(), "body": {"session_id": "s"}}).encode(), "body", True),
    (json.dumps({**envelope(), "extra": 1}).encode(), "extra", True),
    (json.dumps({**envelope(), "seq": "7"}).encode(), "seq", True),
]


@pytest.mark.parametrize(("payload", "reason", "has_msg_id"), MALFORMED)
def test_clinic_ingest_malformed_is_rejected_stored_and_acked(
    broker, station: FakeStation, tmp_path: Path, payload: bytes, reason: str, has_msg_id: bool
) -> None:
    db_path = tmp_path / "clinic.db"
    consumer = Consumer(broker.url, db_path)
    station.publish("summary", payload)
    good = envelope(seq=2)
    station.publish("summary", json.dumps(good))  # the consumer survives and goes on
    expected = {good["msg_id"]}
    if has_msg_id:  # a readable msg_id is acknowledged end to end: no resend loop
        expected.add(json.loads(payload)["msg_id"])
    assert acked_until(station, expected) == expected
    consumer.close()
    # A restart with the same persistent session gets nothing again: the reject was PUBACKed.
    again = Consumer(broker.url, db_path)
    station.publish("summary", json.dumps(envelope(seq=3)))
    station.next_ack()
    stats = again.close()
    assert (stats.received, stats.rejected) == (1, 0)
    with ClinicDB(db_path) as db:
        (rej,) = db.rejected()
        assert reason in rej["reason"]
        assert rej["payload"] == payload
        assert rej["station_id"] == "st-0001"
        assert len(db.msg_ids()) == 2


def test_clinic_ingest_deeply_nested_payload_among_good_ones_is_rejected_alone(
    broker, station: FakeStation, tmp_path: Path
) -> None:
    """100 000 levels of ``[`` on a summary topic, queued between good messages: before,
    reading its msg_id for the reject raised RecursionError, the batch rolled back
    unacknowledged and came back after every restart, stopping ingestion for all."""
    db_path = tmp_path / "clinic.db"
    Consumer(broker.url, db_path).close()  # the persistent session queues the next ones
    deep = b"[" * 100_000
    goods = [envelope(seq=1), envelope(seq=3)]
    station.publish("summary", json.dumps(goods[0]))
    station.publish("summary", deep)
    station.publish("summary", json.dumps(goods[1]))
    consumer = Consumer(broker.url, db_path)
    ids = {g["msg_id"] for g in goods}
    assert acked_until(station, ids) == ids
    later = envelope(seq=4)
    station.publish("summary", json.dumps(later))  # the consumer is alive and goes on
    assert acked_until(station, {later["msg_id"]}) == {later["msg_id"]}
    assert consumer.thread.is_alive() and consumer.error is None
    stats = consumer.close()
    assert (stats.stored, stats.rejected) == (3, 1)
    again = Consumer(broker.url, db_path)  # nothing comes back: every message was PUBACKed
    station.publish("summary", json.dumps(envelope(seq=5)))
    station.next_ack()
    assert again.close().received == 1
    with ClinicDB(db_path) as db:
        assert sorted(m["seq"] for m in db.messages()) == [1, 3, 4, 5]
        (rej,) = db.rejected()
    assert rej["reason"] == "ValueError: JSON nested too deeply"
    assert (rej["station_id"], rej["msg_id"]) == ("st-0001", None)


def test_clinic_ingest_rejected_station_message_of_the_largest_size_is_kept_whole(
    broker, station: FakeStation, tmp_path: Path
) -> None:
    """A rejected message is acknowledged end to end, so the station deletes it: the clinic
    must keep all of it. Before, only 64 KiB of a body of up to 256 KiB was kept."""
    consumer = Consumer(broker.url, tmp_path / "clinic.db")
    env = envelope(body={"session_id": "s-1", "pad": ""})
    env["body"]["pad"] = "x" * (MAX_BODY_BYTES - len(json.dumps(env["body"])))
    assert len(json.dumps(env["body"], separators=(",", ":"))) <= MAX_BODY_BYTES
    payload = json.dumps(env).encode()
    station.publish("summary", payload)
    assert station.next_ack() == [env["msg_id"]]
    consumer.close()
    with ClinicDB(tmp_path / "clinic.db") as db:
        (rej,) = db.rejected()
    assert "body" in rej["reason"] and rej["payload"] == payload
    assert len(payload) > MAX_BODY_BYTES


def test_clinic_ingest_unforeseen_error_reading_one_message_rejects_it_alone(
    broker, station: FakeStation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A message that makes the consumer fail while reading it, in a way nobody foresaw
    (here a RuntimeError injected into the check of seq 2), is kept as a reject; the batch
    commits and every message is acknowledged."""
    db_path = tmp_path / "clinic.db"
    Consumer(broker.url, db_path).close()
    envs = [envelope(seq=i) for i in (1, 2, 3)]
    check = clinic._check_envelope

    def failing_check(payload: bytes, *a: Any) -> dict[str, Any]:
        env = check(payload, *a)
        if env["seq"] == 2:
            raise RuntimeError("injected fault")
        return env

    monkeypatch.setattr(clinic, "_check_envelope", failing_check)
    for env in envs:
        station.publish("summary", json.dumps(env))
    consumer = Consumer(broker.url, db_path)
    ids = {e["msg_id"] for e in envs}
    assert acked_until(station, ids) == ids  # the reject too: it is kept, not resent
    assert consumer.thread.is_alive() and consumer.error is None
    stats = consumer.close()
    assert (stats.stored, stats.rejected) == (2, 1)
    with ClinicDB(db_path) as db:
        assert sorted(m["seq"] for m in db.messages()) == [1, 3]
        (rej,) = db.rejected()
    assert rej["reason"] == "consumer error RuntimeError: injected fault"
    assert (rej["msg_id"], rej["payload"]) == (envs[1]["msg_id"], json.dumps(envs[1]).encode())


def test_clinic_ingest_error_storing_a_valid_message_acknowledges_nothing(
    broker, station: FakeStation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An error in the storing step (a bug in ClinicDB.store: TypeError, once) is a fault of
    the consumer: before, the valid summary became an acknowledged reject and the station
    deleted its copy. Now the batch rolls back unacknowledged and comes back."""
    db_path = tmp_path / "clinic.db"
    Consumer(broker.url, db_path).close()
    envs = [envelope(seq=i) for i in (1, 2, 3)]
    store = ClinicDB.store
    failed: list[int] = []

    def failing_store(self: ClinicDB, env: dict[str, Any], *a: Any) -> bool:
        stored = store(self, env, *a)  # the row is written, then the fault
        if env["seq"] == 2 and not failed:
            failed.append(2)
            raise TypeError("injected fault")
        return stored

    monkeypatch.setattr(ClinicDB, "store", failing_store)
    for env in envs:
        station.publish("summary", json.dumps(env))
    consumer = Consumer(broker.url, db_path, fails_at_once=True)
    consumer.thread.join(WAIT_S)
    assert isinstance(consumer.error, TypeError) and failed == [2]
    acked = set()
    while not station.acks.empty():  # seq 1 may have come in a batch of its own
        acked.update(station.acks.get_nowait())
    assert acked <= {envs[0]["msg_id"]}  # seq 2 and what came with it: nothing acknowledged
    with ClinicDB(db_path) as db:  # the failed batch rolled back: seq 2 neither kept nor rejected
        assert envs[1]["msg_id"] not in db.msg_ids() and db.rejected() == []
    consumer.db.close()
    again = Consumer(broker.url, db_path)
    ids = {e["msg_id"] for e in envs} - acked
    assert acked_until(station, ids) >= ids
    stats = again.close()
    # Every summary stored once and none rejected, whichever consumer stored seq 1 (it may
    # have come in a batch of its own whose ack had not reached the station yet).
    assert stats.rejected == 0
    with ClinicDB(db_path) as db:
        assert sorted(m["seq"] for m in db.messages()) == [1, 2, 3] and db.rejected() == []


def test_clinic_ingest_lone_surrogate_msg_id_is_rejected_without_id(
    broker, station: FakeStation, tmp_path: Path
) -> None:
    """{"msg_id": "\\ud800"}: before, its msg_id was read for the reject and could not be
    stored (UnicodeEncodeError): the batch, with a valid message of another station, rolled
    back and came back at every restart, stopping ingestion for every station."""
    db_path = tmp_path / "clinic.db"
    Consumer(broker.url, db_path).close()
    other = FakeStation(broker.url, "st-0002")
    try:
        good = envelope(station="st-0002")
        station.publish("summary", b'{"msg_id": "\\ud800"}')
        other.publish(
            "selftest", json.dumps({**good, "schema": "rehab.selftest/1", "body": {"passed": True}})
        )
        consumer = Consumer(broker.url, db_path)
        assert other.next_ack() == [good["msg_id"]]
        later = envelope(seq=2)
        station.publish("summary", json.dumps(later))
        assert station.next_ack() == [later["msg_id"]]
        assert consumer.thread.is_alive() and consumer.error is None
        stats = consumer.close()
    finally:
        other.close()
    assert (stats.stored, stats.rejected) == (2, 1)
    with ClinicDB(db_path) as db:
        (rej,) = db.rejected()
    assert (rej["station_id"], rej["msg_id"]) == ("st-0001", None)
    assert "not valid Unicode" in rej["reason"]


def test_clinic_ingest_reject_that_cannot_be_kept_with_its_id_is_kept_without(
    broker, station: FakeStation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fallback reject is guarded: when keeping it with its msg_id fails (injected
    TypeError), it is kept with msg_id None and the batch still commits."""
    db_path = tmp_path / "clinic.db"
    reject = ClinicDB.reject

    def failing_reject(self: ClinicDB, topic: str, reason: str, payload: bytes, *a: Any) -> None:
        if a[1] is not None:
            raise TypeError("injected fault")
        reject(self, topic, reason, payload, *a)

    monkeypatch.setattr(ClinicDB, "reject", failing_reject)
    consumer = Consumer(broker.url, db_path)
    bad = envelope(seq="1")
    station.publish("summary", json.dumps(bad))
    good = envelope(seq=2)
    station.publish("summary", json.dumps(good))
    assert station.next_ack() == [good["msg_id"]]  # the reject has no id to acknowledge
    assert consumer.thread.is_alive() and consumer.error is None
    stats = consumer.close()
    assert (stats.stored, stats.rejected) == (1, 1)
    with ClinicDB(db_path) as db:
        (rej,) = db.rejected()
    assert rej["msg_id"] is None and "seq" in rej["reason"]


def test_clinic_ingest_unacked_message_is_redelivered_after_a_failed_commit(
    broker, station: FakeStation, tmp_path: Path
) -> None:
    """The fault the ack-after-commit order guards against: storing fails, so nothing is
    acknowledged; the restarted consumer receives the message again and stores it."""
    db_path = tmp_path / "clinic.db"
    consumer = Consumer(broker.url, db_path)
    consumer.db._conn.execute("PRAGMA query_only=ON")  # every write now fails
    env = envelope()
    station.publish("summary", json.dumps(env))
    consumer.thread.join(WAIT_S)
    assert consumer.error is not None and "readonly" in str(consumer.error)
    assert station.acks.empty()
    consumer.db.close()
    again = Consumer(broker.url, db_path)
    assert station.next_ack() == [env["msg_id"]]
    again.close()
    with ClinicDB(db_path) as db:
        assert db.msg_ids() == [env["msg_id"]]


def test_clinic_ingest_messages_queue_while_consumer_is_down(
    broker, station: FakeStation, tmp_path: Path
) -> None:
    db_path = tmp_path / "clinic.db"
    Consumer(broker.url, db_path).close()  # creates the persistent session
    envs = [envelope(seq=i) for i in range(1, 6)]
    for env in envs:
        station.publish("summary", json.dumps(env))
    consumer = Consumer(broker.url, db_path)
    acked: list[str] = []
    while len(acked) < len(envs):
        acked += station.next_ack()
    consumer.close()
    assert sorted(acked) == sorted(e["msg_id"] for e in envs)


def test_clinic_ingest_status_updates_station_table(
    broker, station: FakeStation, tmp_path: Path
) -> None:
    consumer = Consumer(broker.url, tmp_path / "clinic.db")
    station.publish("status", json.dumps(status("online")))
    station.publish("summary", json.dumps(envelope()))  # ordered after the status
    station.next_ack()
    consumer.close()
    with ClinicDB(tmp_path / "clinic.db") as db:
        (st,) = db.stations()
    assert st["last_status"]["state"] == "online"
    assert st["last_seen"] is not None


def test_clinic_ingest_command_stops_cleanly_on_sigterm(
    broker, station: FakeStation, tmp_path: Path
) -> None:
    db = tmp_path / "clinic.db"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "station",
            "clinic",
            "ingest",
            "--broker",
            broker.url,
            "--db",
            str(db),
            "--json",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    for line in proc.stderr:  # bounded: the process logs and exits on failure
        if "subscribed to" in line:
            break
    env = envelope()
    station.publish("summary", json.dumps(env))
    assert station.next_ack() == [env["msg_id"]]
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=WAIT_S)
    assert proc.returncode == 0, err
    counters = json.loads(out)
    assert (counters["stored"], counters["rejected"]) == (1, 0)


def test_clinic_ingest_command_needs_broker(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "station", "clinic", "ingest", "--db", str(tmp_path / "c.db")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=WAIT_S,
    )
    assert proc.returncode == 2
    assert "--broker URL is required" in proc.stderr


def test_clinic_ingest_run_ends_while_paho_is_stuck_in_a_tls_handshake(tmp_path: Path) -> None:
    """A server that accepts TCP and never answers: paho's network thread blocks in the TLS
    handshake (for its connect timeout, here 120 s) and loop_stop() would wait that long;
    run() bounds the wait and returns."""
    silent = socket.create_server(("127.0.0.1", 0))  # listens; never accepts, never speaks
    port = silent.getsockname()[1]
    try:
        client, connect = make_client(BrokerOptions(f"mqtts://127.0.0.1:{port}", "clinic-t"))
        client.connect_timeout = 120.0
        with ClinicDB(tmp_path / "clinic.db") as db:
            ingest = Ingest(client, db, stop_timeout_s=0.5)
            runner = threading.Thread(
                target=ingest.run,
                args=(threading.Event(), 0.2),
                kwargs={"connect": connect},
                daemon=True,
            )
            runner.start()
            runner.join(WAIT_S)
            assert not runner.is_alive(), "run() waited for paho's blocked network thread"
            assert ingest.stats.connects == 0
    finally:
        silent.close()  # resets the pending connection: paho's thread ends


def offline_client(client_id: str) -> mqtt.Client:
    """A consumer's paho client that never connects (no broker needed)."""
    return mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5, manual_ack=True
    )


def test_clinic_ingest_times_come_from_the_databases_wall_clock(tmp_path: Path) -> None:
    """received_at, last_seen and a reject's time are the clinic database's wall clock: a
    day between two batches passes without a sleep."""
    clock = ManualClock(dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC))
    topic = "rehab/v1/stations/st-0001/summary"
    with ClinicDB(tmp_path / "clinic.db", wall_clock=clock.wall) as db:
        ingest = Ingest(offline_client("clinic-clock"), db)
        env = envelope(seq=1)
        ingest.process([Inbound(topic, json.dumps(env).encode(), 1, 1, False, 0)])
        clock.advance(86400.0)
        ingest.process([Inbound(topic, b"{not json", 2, 1, False, 0)])
        (m,) = db.messages()
        (r,) = db.rejected()
        (st,) = db.stations()
    assert m["received_at"] == st["last_seen"] == "2026-11-20T10:00:00.000Z"
    assert r["received_at"] == "2026-11-21T10:00:00.000Z"


def test_clinic_ingest_run_deadline_follows_the_injected_monotonic_clock(tmp_path: Path) -> None:
    """run(max_seconds=3600) ends when an hour has passed on the clock it was given; on
    real time this test could not end within its wait."""

    class Idle:  # a client whose network loop does nothing: no message ever comes
        def loop_start(self) -> None: ...
        def disconnect(self) -> None: ...
        def loop_stop(self) -> None: ...

    clock = ManualClock()
    started = threading.Event()

    def monotonic() -> float:
        t = clock.monotonic()
        started.set()  # run() has read its start time
        return t

    with ClinicDB(tmp_path / "clinic.db") as db:
        ingest = Ingest(Idle(), db, monotonic=monotonic)  # type: ignore[arg-type]
        stop = threading.Event()
        runner = threading.Thread(target=ingest.run, args=(stop, 3600.0), daemon=True)
        runner.start()
        assert started.wait(WAIT_S)
        clock.advance(3600.0)
        runner.join(WAIT_S)
        stop.set()  # ends it should the deadline not have
        assert not runner.is_alive(), "run() did not end at its deadline"


def test_clinic_parse_broker_url() -> None:
    assert parse_broker_url("mqtt://h") == ("h", 1883, False)
    assert parse_broker_url("mqtts://h:1234") == ("h", 1234, True)
    with pytest.raises(ValueError, match="mqtt://host"):
        parse_broker_url("http://h")


def test_clinic_ingest_seq_beyond_the_contracts_bound_is_rejected_alone(
    broker, station: FakeStation, tmp_path: Path
) -> None:
    """The envelope schema did not bound ``seq``: 2**53 was stored, a value that a JSON
    reader working in doubles (JavaScript, many databases' JSON) cannot tell from 2**53 + 1,
    so a gap or a duplicate could hide there. Now the schema bounds it to 2**53 - 1: a
    reject, kept and acknowledged, and the batch goes on."""
    db_path = tmp_path / "clinic.db"
    consumer = Consumer(broker.url, db_path)
    bad, good = envelope(seq=2**53), envelope(seq=2)
    station.publish("summary", json.dumps(bad))
    station.publish("summary", json.dumps(good))
    expected = {bad["msg_id"], good["msg_id"]}
    assert acked_until(station, expected) == expected
    stats = consumer.close()
    assert consumer.error is None
    assert (stats.stored, stats.rejected) == (1, 1)
    with ClinicDB(db_path) as db:
        (rej,) = db.rejected()
        assert "seq" in rej["reason"] and "9007199254740991" in rej["reason"]
        assert db.msg_ids() == [good["msg_id"]]


def test_clinic_ingest_keeps_the_retained_plan_for_sessions_planned_per_week(
    broker, station: FakeStation, tmp_path: Path
) -> None:
    """The report said nothing of sessions planned per week: the clinic kept no copy of the
    plans it sends. The consumer now keeps the plan retained for each station (the clinic's
    own message: never acknowledged, and one for another station or not a plan is ignored)."""
    from mqtt_bridge.clinic_report import build_report
    from station.plan import default_sim_plan

    raw = json.loads(json.dumps(default_sim_plan("st-0001").raw))
    raw["plan_version"] = 4
    raw["schedule"][0]["days"] = ["mon", "wed", "fri"]
    station.publish("plan", json.dumps(raw), retain=True)  # retained before the consumer runs
    db_path = tmp_path / "clinic.db"
    consumer = Consumer(broker.url, db_path)
    other = FakeStation(broker.url, station="st-0002")
    try:
        other.publish("plan", json.dumps(raw), retain=True)  # st-0001's plan on st-0002's topic
    finally:
        other.close()
    env = envelope(seq=1)
    station.publish("summary", json.dumps(env))
    assert station.next_ack() == [env["msg_id"]]  # the plan was not acknowledged
    stats = consumer.close()
    assert (stats.plans, stats.stored, stats.rejected) == (1, 1, 0)
    with ClinicDB(db_path) as db:
        rep = build_report(db, "st-0001", now=dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC))
        assert [s["station_id"] for s in db.stations()] == ["st-0001"]
    a = rep["stations"][0]["adherence"]
    assert a["planned_per_week"] == 3
    assert a["planned_note"].startswith("3 (mon, wed, fri; plan_version 4")
    assert a["per_week"][0]["planned"] == 3
