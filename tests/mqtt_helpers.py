"""Test helpers for the station MQTT tests: a plain paho clinic, bounded waits."""

from __future__ import annotations

import json
import queue
import ssl
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from mqtt_bridge import outbox
from mqtt_bridge.client import StationClient

WAIT_S = 15.0  # upper bound of any wait; tests pass far sooner
FAST = {"reconnect_min_s": (0.1, 0.2), "reconnect_max_s": (0.5, 1.0), "seed": 7}


def wait_until(pred: Callable[[], bool], timeout_s: float = WAIT_S, what: str = "") -> None:
    """Poll ``pred`` until true; raise AssertionError naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what or pred}")
        time.sleep(0.02)


class Clinic:
    """A plain paho v5 client playing the clinic: subscribes in every on_connect, records
    messages, and (``auto_ack``) acknowledges enveloped messages end to end."""

    def __init__(
        self,
        port: int,
        subscriptions: tuple[str, ...] = ("rehab/v1/stations/+/+", "rehab/v1/stations/+/plan/+"),
        *,
        client_id: str | None = None,
        auto_ack: bool = False,
        persistent: bool = False,
        username: str | None = None,
        password: str | None = None,
        tls: tuple[Path, Path | None, Path | None] | None = None,
    ) -> None:
        self.messages: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self.acked: set[str] = set()
        self.subscriptions = subscriptions
        self.auto_ack = auto_ack
        self.subscribed = threading.Event()
        self.c = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id or f"clinic-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv5,
        )
        self.c.reconnect_delay_set(0.1, 0.5)  # type: ignore[arg-type]
        if username:
            self.c.username_pw_set(username, password)
        if tls:
            ca, cert, key = tls
            self.c.tls_set(
                ca_certs=str(ca),
                certfile=str(cert) if cert else None,
                keyfile=str(key) if key else None,
                cert_reqs=ssl.CERT_REQUIRED,
                tls_version=ssl.PROTOCOL_TLS_CLIENT,
            )
        self.c.on_connect = self._on_connect
        self.c.on_subscribe = lambda c, u, mid, codes, p: self.subscribed.set()
        self.c.on_message = self._on_message
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 3600 if persistent else 0
        self.c.connect_async("127.0.0.1", port, 30, clean_start=not persistent, properties=props)
        self.c.loop_start()
        assert self.subscribed.wait(WAIT_S), "clinic did not subscribe"

    def _on_connect(self, c: mqtt.Client, u: Any, flags: Any, rc: Any, props: Any) -> None:
        if not rc.is_failure:
            c.subscribe([(s, 1) for s in self.subscriptions])

    def _on_message(self, c: mqtt.Client, u: Any, m: mqtt.MQTTMessage) -> None:
        self.messages.put(m)
        if self.auto_ack and m.topic.endswith(("/summary", "/selftest")):
            msg_id = json.loads(m.payload)["msg_id"]
            station = m.topic.split("/")[3]
            c.publish(f"rehab/v1/stations/{station}/ack", json.dumps({"msg_ids": [msg_id]}), 1)
            self.acked.add(msg_id)

    def next(self, suffix: str = "", timeout_s: float = WAIT_S) -> mqtt.MQTTMessage:
        """The next message whose topic ends with ``suffix`` (others are skipped)."""
        deadline = time.monotonic() + timeout_s
        while True:
            m = self.messages.get(timeout=max(0.01, deadline - time.monotonic()))
            if m.topic.endswith(suffix):
                return m

    def ack(self, station: str, msg_ids: list[str]) -> None:
        info = self.c.publish(
            f"rehab/v1/stations/{station}/ack", json.dumps({"msg_ids": msg_ids}), qos=1
        )
        info.wait_for_publish(WAIT_S)

    def publish(self, topic: str, payload: bytes, retain: bool = False, corr: bytes = b"") -> Any:
        props = Properties(PacketTypes.PUBLISH)
        if corr:
            props.CorrelationData = corr
        info = self.c.publish(topic, payload, qos=1, retain=retain, properties=props)
        info.wait_for_publish(WAIT_S)
        return info

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


def station(db: Path, port: int, station_id: str = "st-0001", **kw: Any) -> StationClient:
    """A started StationClient with fast reconnects, waited until connected."""
    sc = StationClient(station_id, "127.0.0.1", port, db_path=db, **{**FAST, **kw})
    sc.start()
    assert sc.wait_ready(WAIT_S), "station did not connect and subscribe"
    return sc


def commit_selftests(db: Path, n: int) -> list[str]:
    conn = outbox.connect(db)
    try:
        return [
            outbox.enqueue(conn, "rehab.selftest/1", {"passed": True, "n": i}) for i in range(n)
        ]
    finally:
        conn.close()
