"""TLS + ACL on a real mosquitto (MQTT.md §7.1-7.3): test what is delivered, not SUBACKs."""

from __future__ import annotations

import json
import ssl
import threading
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from mqtt_broker import ACL, PASSWORDS, Broker, Pki
from mqtt_helpers import WAIT_S, Clinic, commit_selftests, station, wait_until
from paho.mqtt.enums import CallbackAPIVersion
from plans import example_plan as plan

from mqtt_bridge import outbox
from mqtt_bridge.clocks import ManualClock


def clinic(b: Broker, **kw: Any) -> Clinic:
    return Clinic(b.port, username="clinic-ingest", password=PASSWORDS["clinic-ingest"], **kw)


class Probe:
    """A raw paho v5 client: did the broker accept it (CONNACK success), and what arrives."""

    def __init__(
        self,
        port: int,
        *,
        tls: tuple[Path, Path | None, Path | None] | None = None,
        user: str | None = None,
        password: str | None = None,
    ) -> None:
        self.accepted = False
        self.done = threading.Event()
        self.got: list[mqtt.MQTTMessage] = []
        self.pubacks: dict[int, str] = {}
        self.c = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"probe-{port}-{id(self)}", protocol=mqtt.MQTTv5
        )
        if tls:
            ca, cert, key = tls
            self.c.tls_set(
                ca_certs=str(ca),
                certfile=str(cert) if cert else None,
                keyfile=str(key) if key else None,
                cert_reqs=ssl.CERT_REQUIRED,
                tls_version=ssl.PROTOCOL_TLS_CLIENT,
            )
        if user:
            self.c.username_pw_set(user, password)
        self.c.on_connect = self._on_connect
        self.c.on_disconnect = lambda *a: self.done.set()
        self.c.on_connect_fail = lambda *a: self.done.set()
        self.c.on_message = lambda c, u, m: self.got.append(m)
        self.c.on_publish = lambda c, u, mid, rc, p: self.pubacks.__setitem__(mid, str(rc))
        self.c.reconnect_delay_set(30, 60)  # one attempt is what we judge
        try:
            self.c.connect_async("127.0.0.1", port, 30)
            self.c.loop_start()
        except (OSError, ssl.SSLError):
            self.done.set()

    def _on_connect(self, c: mqtt.Client, u: Any, f: Any, rc: Any, p: Any) -> None:
        self.accepted = not rc.is_failure
        self.done.set()

    def result(self) -> bool:
        assert self.done.wait(WAIT_S), "neither a CONNACK nor a disconnect"
        return self.accepted

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


def test_mqtt_security_station_over_mutual_tls_delivers_and_gets_its_plan(
    secure_broker: Broker, pki: Pki, tmp_path: Path
) -> None:
    db = tmp_path / "station.db"
    c = clinic(secure_broker, auto_ack=True)
    ids = commit_selftests(db, 2)
    cert, key = pki.client("st-0001")
    sc = station(
        db, secure_broker.tls_port or 0, ca_file=str(pki.ca), cert_file=str(cert), key_file=str(key)
    )
    try:
        wait_until(lambda: c.acked == set(ids) and sc.counts().depth == 0, what="delivered")
        c.publish("rehab/v1/stations/st-0001/plan", json.dumps(plan()).encode(), retain=True)
        wait_until(lambda: sc.stats.plans_accepted == 1, what="own plan received")
        res = json.loads(c.next("/plan/result").payload)
        assert res["station_id"] == "st-0001" and res["body"]["status"] == "accepted"
    finally:
        sc.close()
        c.close()


def test_mqtt_security_broker_refusal_marks_the_row_rejected(
    secure_broker: Broker, tmp_path: Path
) -> None:
    """A station whose id is not its username: every publish is outside its ACL, so the
    v5 PUBACK carries 0x87 and the row becomes ``rejected`` (kept, never resent)."""
    db = tmp_path / "station.db"
    commit_selftests(db, 1)
    clock = ManualClock()
    sc = station(
        db,
        secure_broker.port,
        station_id="st-0002",
        username="st-0001",
        password=PASSWORDS["st-0001"],
        resend_after_s=60.0,
        monotonic=clock.monotonic,
    )
    try:
        wait_until(lambda: sc.counts().rejected == 1, what="row rejected")
        with outbox.Outbox(db) as ob:
            (row,) = ob.rejected()
        assert row["reason"] == "PUBACK 0x87 Not authorized"
        assert sc.stats.reason_codes == {"Not authorized": 1}
        published = sc.stats.published
        clock.advance(3600.0)  # sixty resend delays on the station's clock
        # A later row: the sender's next pass publishes every due row, and only it goes.
        commit_selftests(db, 1)
        wait_until(lambda: sc.counts().rejected == 2, what="the later row refused too")
        assert sc.stats.published == published + 1  # the rejected row was never resent
        # The administrator grants the topics; the technician queues the rows again
        # (rehab-station outbox --retry-rejected, on a connection of its own) and the
        # running station publishes them, now accepted.
        secure_broker.reload_acl(ACL + "\nuser st-0001\ntopic write rehab/v1/stations/st-0002/#\n")
        with outbox.Outbox(db) as ob:
            assert ob.retry_rejected() == 2
        wait_until(lambda: sc.counts().sent == 2, what="retried rows accepted by the broker")
        assert sc.counts().rejected == 0 and sc.stats.published == published + 3
    finally:
        sc.close()


def test_mqtt_security_station_cannot_read_another_stations_plan(
    secure_broker: Broker, pki: Pki
) -> None:
    c = clinic(secure_broker)
    for sid in ("st-0001", "st-0002"):
        c.publish(
            f"rehab/v1/stations/{sid}/plan", json.dumps(plan(station_id=sid)).encode(), retain=True
        )
    cert, key = pki.client("st-0001")
    probe = Probe(secure_broker.tls_port or 0, tls=(pki.ca, cert, key))
    try:
        assert probe.result()
        # mosquitto grants these SUBACKs and filters at delivery: judge the deliveries.
        probe.c.subscribe(
            [("rehab/v1/stations/st-0002/plan", 1), ("rehab/v1/stations/#", 1), ("#", 1)]
        )
        wait_until(lambda: len(probe.got) >= 2, what="own retained plan via the wildcards")
        c.publish(
            "rehab/v1/stations/st-0002/plan",
            json.dumps(plan(station_id="st-0002", plan_version=4)).encode(),
        )
        c.publish("rehab/v1/stations/st-0001/plan", json.dumps(plan(plan_version=4)).encode())
        wait_until(lambda: len(probe.got) >= 4, what="own live plan via the wildcards")
        assert {m.topic for m in probe.got} == {"rehab/v1/stations/st-0001/plan"}
    finally:
        probe.close()
        c.close()


def test_mqtt_security_station_cannot_publish_into_another_station(
    secure_broker: Broker, pki: Pki
) -> None:
    c = clinic(secure_broker, subscriptions=("rehab/v1/stations/+/selftest",))
    cert, key = pki.client("st-0001")
    probe = Probe(secure_broker.tls_port or 0, tls=(pki.ca, cert, key))
    try:
        assert probe.result()
        foreign = probe.c.publish("rehab/v1/stations/st-0002/selftest", b"{}", qos=1)
        own = probe.c.publish("rehab/v1/stations/st-0001/selftest", b"{}", qos=1)
        wait_until(lambda: {foreign.mid, own.mid} <= set(probe.pubacks), what="PUBACKs")
        assert probe.pubacks[foreign.mid] == "Not authorized"
        assert c.next("/selftest").topic == "rehab/v1/stations/st-0001/selftest"
        assert c.messages.empty()  # the foreign one, published first, never arrived
    finally:
        probe.close()
        c.close()


@pytest.mark.parametrize(
    ("case", "accepted"),
    [
        ("no certificate", False),
        ("rogue CA", False),
        ("plain TCP to TLS port", False),
        ("wrong password", False),
        ("anonymous", False),
        ("client trusts wrong CA", False),
        ("own certificate", True),  # the controls: the same probe does connect
        ("own password", True),
    ],
)
def test_mqtt_security_refused_connections(
    secure_broker: Broker, pki: Pki, case: str, accepted: bool
) -> None:
    tls_port, port = secure_broker.tls_port or 0, secure_broker.port
    probes = {
        "no certificate": lambda: Probe(tls_port, tls=(pki.ca, None, None)),
        "rogue CA": lambda: Probe(tls_port, tls=(pki.ca, *pki.rogue("st-0002"))),
        "plain TCP to TLS port": lambda: Probe(tls_port),
        "wrong password": lambda: Probe(port, user="st-0001", password="guess"),
        "anonymous": lambda: Probe(port),
        "client trusts wrong CA": lambda: Probe(
            tls_port, tls=(pki.rogue_ca, *pki.client("st-0001"))
        ),
        "own certificate": lambda: Probe(tls_port, tls=(pki.ca, *pki.client("st-0001"))),
        "own password": lambda: Probe(port, user="st-0001", password=PASSWORDS["st-0001"]),
    }
    probe = probes[case]()
    try:
        assert probe.result() is accepted
    finally:
        probe.close()
