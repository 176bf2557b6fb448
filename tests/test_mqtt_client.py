"""The station client against a real mosquitto: envelope, acks, resends, status, restarts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from mqtt_broker import Broker
from mqtt_helpers import WAIT_S, Clinic, commit_selftests, station, wait_until

from mqtt_bridge import envelope, outbox
from mqtt_bridge.client import StationClient
from mqtt_bridge.clocks import ManualClock
from mqtt_bridge.publisher import publish_packet_size

ROOT = Path(__file__).resolve().parents[1]


def test_mqtt_client_publishes_envelope_with_v5_properties(broker: Broker, tmp_path: Path) -> None:
    db = tmp_path / "station.db"
    clinic = Clinic(broker.port)
    (msg_id,) = commit_selftests(db, 1)
    sc = station(db, broker.port)
    try:
        m = clinic.next("/selftest")
        assert m.topic == "rehab/v1/stations/st-0001/selftest" and m.qos == 1 and not m.retain
        env = envelope.decode(m.payload, check_body=True)
        assert (env["msg_id"], env["seq"], env["station_id"]) == (msg_id, 1, "st-0001")
        assert env["schema"] == "rehab.selftest/1" and env["body"] == {"passed": True, "n": 0}
        p = m.properties
        assert p is not None
        assert p.ContentType == "application/json"  # type: ignore[attr-defined]
        assert p.PayloadFormatIndicator == 1  # type: ignore[attr-defined]
        assert p.UserProperty == [("msg_id", msg_id), ("schema", "rehab.selftest/1")]  # type: ignore[attr-defined]
        wait_until(lambda: sc.counts().sent == 1, what="PUBACK marks the row sent")
        assert sc.counts().depth == 1  # a broker PUBACK does not remove it
    finally:
        sc.close()
        clinic.close()


def test_mqtt_client_clinic_ack_removes_the_row(broker: Broker, tmp_path: Path) -> None:
    db = tmp_path / "station.db"
    clinic = Clinic(broker.port, auto_ack=True)
    ids = commit_selftests(db, 5)
    sc = station(db, broker.port)
    try:
        wait_until(lambda: sc.counts().depth == 0, what="all rows acknowledged")
        c = sc.counts()
        assert (c.acknowledged, c.pending, c.sent) == (5, 0, 0)
        assert clinic.acked == set(ids)
        assert sc.stats.rows_acknowledged == 5
    finally:
        sc.close()
        clinic.close()


def test_mqtt_client_resends_until_the_clinic_acknowledges(broker: Broker, tmp_path: Path) -> None:
    db = tmp_path / "station.db"
    clinic = Clinic(broker.port)
    (msg_id,) = commit_selftests(db, 1)
    clock = ManualClock()
    sc = station(db, broker.port, resend_after_s=3600.0, monotonic=clock.monotonic)
    try:
        first = clinic.next("/selftest")
        wait_until(lambda: sc.counts().sent == 1, what="PUBACK marks the row sent")
        clock.advance(3600.0)  # an hour on the station's clock, no ack from the clinic
        again = clinic.next("/selftest")  # the same message comes again
        assert again.payload == first.payload
        assert json.loads(again.payload)["msg_id"] == msg_id
        clinic.ack("st-0001", [msg_id])
        wait_until(lambda: sc.counts().depth == 0, what="ack removes the resent row")
        with outbox.Outbox(db) as ob:
            assert ob.counts().acknowledged == 1
        assert sc.stats.published == 2
    finally:
        sc.close()
        clinic.close()


def test_mqtt_client_enqueue_while_running_is_published(broker: Broker, tmp_path: Path) -> None:
    db = tmp_path / "station.db"
    clinic = Clinic(broker.port, auto_ack=True)
    sc = station(db, broker.port)
    try:
        ids = commit_selftests(db, 3)  # another connection, as the session engine does
        wait_until(lambda: clinic.acked == set(ids), what="rows written later are sent")
    finally:
        sc.close()
        clinic.close()


def test_mqtt_client_status_birth_and_clean_offline(broker: Broker, tmp_path: Path) -> None:
    db = tmp_path / "station.db"
    sc = station(db, broker.port, software_version="9.9.9")
    late = Clinic(broker.port, ("rehab/v1/stations/st-0001/status",))
    try:
        m = late.next("/status")
        assert m.retain  # the birth is retained: a late subscriber sees it
        status = json.loads(m.payload)
        assert status["schema"] == "rehab.status/1" and status["state"] == "online"
        assert status["software_version"] == "9.9.9" and status["outbox_depth"] == 0
        sc.close()
        off = json.loads(late.next("/status").payload)
        assert (off["state"], off["reason"]) == ("offline", "shutdown")
    finally:
        sc.close()
        late.close()
    again = Clinic(broker.port, ("rehab/v1/stations/st-0001/status",))
    try:
        assert json.loads(again.next("/status").payload)["state"] == "offline"
    finally:
        again.close()


def test_mqtt_client_will_says_offline_after_sigkill(broker: Broker, tmp_path: Path) -> None:
    clinic = Clinic(broker.port, ("rehab/v1/stations/st-0001/status",))
    proc = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "tests" / "mqtt_station_client_proc.py"),
            "--db",
            str(tmp_path / "station.db"),
            "--port",
            str(broker.port),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "connected"
        assert json.loads(clinic.next("/status").payload)["state"] == "online"
        proc.send_signal(signal.SIGKILL)
        proc.wait(WAIT_S)
        will = clinic.next("/status")
        status = json.loads(will.payload)
        assert (status["state"], status["reason"]) == ("offline", "connection lost")
    finally:
        proc.kill()
        proc.wait(WAIT_S)
        clinic.close()
    late = Clinic(broker.port, ("rehab/v1/stations/st-0001/status",))
    try:
        assert json.loads(late.next("/status").payload)["state"] == "offline"  # retained
    finally:
        late.close()


def reconnected_since(sc: StationClient, connects: int) -> Callable[[], bool]:
    return lambda: sc.stats.connects > connects


def test_mqtt_client_broker_restarts_lose_nothing(broker: Broker, tmp_path: Path) -> None:
    """SIGKILL loses the broker's sessions and queued messages; SIGTERM saves them. Either
    way every row reaches the clinic once acknowledgements flow."""
    db = tmp_path / "station.db"
    clinic = Clinic(
        broker.port,
        ("rehab/v1/stations/+/selftest",),
        client_id="clinic-r",
        auto_ack=True,
        persistent=True,
    )
    sc = station(db, broker.port, resend_after_s=1.0, max_resend_after_s=2.0)
    produced: list[str] = []
    try:
        for sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGKILL):
            produced += commit_selftests(db, 15)
            connects = sc.stats.connects
            broker.restart(sig, down_s=0.3)  # mid-stream: rows in flight, unacknowledged
            produced += commit_selftests(db, 5)  # written while the broker is away
            wait_until(reconnected_since(sc, connects), what="station reconnected")
        wait_until(lambda: sc.counts().depth == 0, timeout_s=30, what="outbox drained")
        assert set(produced) <= clinic.acked
        assert sc.counts().acknowledged == len(produced) == 60
    finally:
        sc.close()
        clinic.close()


def test_mqtt_client_persistent_session_keeps_plans_sent_while_off(
    broker: Broker, tmp_path: Path
) -> None:
    """MQTT.md §2.2: with paho's default Clean Start a plan sent while the station was off
    is lost; with clean_start=False and a session expiry it is delivered at the restart."""
    db = tmp_path / "station.db"
    station(db, broker.port).close()  # creates the persistent session
    clinic = Clinic(broker.port)
    from plans import PLAN

    clinic.publish("rehab/v1/stations/st-0001/plan", json.dumps(PLAN).encode(), retain=False)
    sc = station(db, broker.port)
    try:
        wait_until(lambda: sc.stats.plans_accepted == 1, what="queued plan delivered")
    finally:
        sc.close()
        clinic.close()


def test_mqtt_client_reconnect_backoff_is_jittered_per_station(tmp_path: Path) -> None:
    def delays(seed: int | None) -> tuple[float, float]:
        sc = StationClient("st-0001", "127.0.0.1", 1, db_path=tmp_path / "s.db", seed=seed)
        sc.close()
        return sc.reconnect_delay_s

    assert delays(1) == delays(1)
    assert delays(1) != delays(2)
    lo, hi = delays(None)
    assert 1.0 <= lo <= 5.0 and 300.0 <= hi <= 360.0


def test_mqtt_client_close_is_bounded_without_a_broker(tmp_path: Path) -> None:
    sc = StationClient("st-0001", "127.0.0.1", 9, db_path=tmp_path / "s.db", seed=1)
    sc.start()
    assert not sc.wait_connected(0.3)
    sc.close(timeout_s=3.0)
    sc.close()  # idempotent
    assert not sc.threads_alive()


def test_mqtt_client_row_too_large_for_the_broker_is_rejected_not_sent(tmp_path: Path) -> None:
    """A broker with a Maximum Packet Size (MQTT v5 CONNACK): before, a larger row was sent,
    the broker dropped the connection ("packet too large"), paho sent it first again after
    every reconnect, and nothing behind it got out. The row exactly at the limit goes out
    (the station's packet size is exact); the one a byte larger is rejected, naming both."""
    db = tmp_path / "station.db"
    conn = outbox.connect(db)
    for n in (1500, 1501):
        check = {"name": "pads", "status": "FAIL", "detail": "x" * n}
        outbox.enqueue(conn, "rehab.selftest/1", {"passed": False, "checks": [check]})
    conn.close()
    small = commit_selftests(db, 3)
    with outbox.Outbox(db) as ob:
        at_limit, over = ob.due(0.0, 2)
    topic = "rehab/v1/stations/st-0001/selftest"
    sizes = [
        publish_packet_size(topic, e.payload("st-0001"), envelope.properties(e.schema, e.msg_id))
        for e in (at_limit, over)
    ]
    assert sizes[1] == sizes[0] + 1
    b = Broker(tmp_path / "small-broker", max_packet_size=sizes[0])
    try:
        clinic = Clinic(b.port, auto_ack=True)
        sc = station(db, b.port)
        try:
            wait_until(lambda: clinic.acked == {at_limit.msg_id, *small}, what="the rest delivered")
            wait_until(lambda: sc.counts().rejected == 1, what="the large row rejected")
            (rej,) = outbox.read_rejected(db)
            assert rej["seq"] == over.seq
            assert rej["reason"] == (
                f"the message is {sizes[1]} bytes as an MQTT packet; the broker accepts at most "
                f"{sizes[0]} (Maximum Packet Size in its CONNACK)"
            )
            assert sc.stats.connects == 1 and sc.connected  # never dropped by the broker
        finally:
            sc.close()
            clinic.close()
    finally:
        b.close()
    assert "too large" not in b.log_text().lower()


def open_fds(path: Path) -> list[str]:
    """This process's file descriptors open on ``path`` (Linux /proc)."""
    out = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") == str(path):
                out.append(fd)
        except OSError:
            pass  # closed meanwhile
    return out


@pytest.mark.parametrize(
    ("kw", "error"),
    [
        ({"ca_file": "missing-ca.pem"}, FileNotFoundError),  # _make_client: tls_set
        ({"software_version": "v" * 65}, ValueError),  # _set_will: status schema
    ],
)
def test_mqtt_client_failed_construction_closes_the_database(
    tmp_path: Path, kw: dict[str, str], error: type[Exception]
) -> None:
    """No object is returned to close(), so the constructor must close what it opened."""
    db = tmp_path / "station.db"
    if "ca_file" in kw:
        kw = {"ca_file": str(tmp_path / kw["ca_file"])}
    with pytest.raises(error) as info:
        StationClient("st-0001", "127.0.0.1", 1, db_path=db, **kw)  # type: ignore[arg-type]
    assert info.traceback  # the frames (and the half-built client) are still referenced
    assert db.exists() and open_fds(db) == []


def test_mqtt_client_reconnect_waits_are_full_jitter_doubling_to_the_cap(tmp_path: Path) -> None:
    """Each failed or lost connection draws the next wait uniformly up to min * 2**n (capped
    at the station's max). Stations that lost the broker together draw different waits."""

    class Paho:  # records what paho is told; no network
        def reconnect_delay_set(self, lo: float, hi: float) -> None:
            self.delay = (lo, hi)

    def waits(seed: int) -> list[float]:
        sc = StationClient(
            "st-0001",
            "127.0.0.1",
            1,
            db_path=tmp_path / f"s{seed}.db",
            seed=seed,
            reconnect_min_s=(2.0, 2.0),
            reconnect_max_s=(10.0, 10.0),
        )
        sc.close()
        paho, out = Paho(), []
        for _ in range(6):
            sc._jitter_next_attempt(paho)  # type: ignore[arg-type]
            assert paho.delay == (sc.next_reconnect_s, sc.next_reconnect_s)
            out.append(sc.next_reconnect_s)
        return out

    w = waits(1)
    ceilings = [2.0, 4.0, 8.0, 10.0, 10.0, 10.0]
    assert all(0.1 <= d <= c for d, c in zip(w, ceilings, strict=True))
    assert waits(2) != w
