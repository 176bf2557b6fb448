"""The station client's sender, stepped by hand on a clock moved by hand (no broker, no
sleeps): resend backoff, in-flight expiry, snapshots and link times follow the injected
clocks, and each typed event does its one thing."""

from __future__ import annotations

import datetime as dt
import json
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from mqtt_bridge import outbox, plans, topics
from mqtt_bridge.clocks import ManualClock
from mqtt_bridge.events import Connected, Event, LinkChange, PubAck
from mqtt_bridge.inbound import Inbound
from mqtt_bridge.sender import SNAPSHOT_EVERY_S, Sender, Snapshot
from mqtt_bridge.stats import ClientStats

STATION = "st-0001"
RESEND_S = 60.0
START = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)


@dataclass
class FakePaho:
    """What the sender uses of paho's Client: publish (recorded, with fresh mids), ack."""

    published: list[tuple[int, int]] = field(default_factory=list)  # (mid, seq)
    acked: list[int] = field(default_factory=list)

    def publish(self, topic: str, payload: bytes, qos: int = 0, properties: Any = None) -> Any:
        mid = len(self.published) + 1
        self.published.append((mid, json.loads(payload)["seq"]))
        return SimpleNamespace(rc=mqtt.MQTT_ERR_SUCCESS, mid=mid)

    def ack(self, mid: int, qos: int) -> None:
        self.acked.append(mid)

    def socket(self) -> None:
        return None

    def seqs(self) -> list[int]:
        return [seq for _, seq in self.published]


@dataclass
class Rig:
    sender: Sender
    paho: FakePaho
    events: queue.Queue[Event]
    clock: ManualClock
    store: outbox.Outbox
    connected: threading.Event
    stop: threading.Event

    def step(self, *events: Event) -> None:
        for ev in events:
            self.events.put(ev)
        self.sender.step(block=False)

    def enqueue(self, n: int = 1) -> list[str]:
        return [self.store.enqueue("rehab.selftest/1", {"passed": True, "n": i}) for i in range(n)]


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    clock = ManualClock(START)
    db = tmp_path / "station.db"
    store = outbox.Outbox(db, wall_clock=clock.wall)  # the sender's own connection
    plans.ensure_tables(store.conn)  # as StationClient does
    events: queue.Queue[Event] = queue.Queue()
    connected, stop = threading.Event(), threading.Event()
    connected.set()
    paho = FakePaho()
    sender = Sender(
        STATION,
        paho,  # type: ignore[arg-type]
        store,
        events,
        connected,
        stop,
        lambda: 1,
        ClientStats(),
        window=20,
        resend_after_s=RESEND_S,
        max_resend_after_s=3600.0,
        max_rows=100,
        poll_s=0.0,
        semantic_check=None,
        plan_handler=None,
        monotonic=clock.monotonic,
        wall_clock=clock.wall,
    )
    other = outbox.Outbox(db, wall_clock=clock.wall)  # a producer's connection
    try:
        yield Rig(sender, paho, events, clock, other, connected, stop)
    finally:
        other.close()
        store.close()


def test_mqtt_sender_resend_backoff_follows_the_monotonic_clock(rig: Rig) -> None:
    """Sent and PUBACKed, not acknowledged by the clinic: sent again after resend_after_s,
    then after twice that, on the monotonic clock; a wall-clock step changes nothing."""
    rig.enqueue()
    rig.step()
    assert rig.paho.seqs() == [1]
    rig.step(PubAck(1, 0, "Success"))
    assert rig.store.counts().sent == 1
    rig.clock.advance(RESEND_S - 0.5)
    rig.clock.step_wall(86400.0)  # NTP sets the wall clock a day on: no resend for that
    rig.step()
    assert rig.paho.seqs() == [1]
    rig.clock.advance(0.5)
    rig.step()
    assert rig.paho.seqs() == [1, 1]
    rig.step(PubAck(2, 0, "Success"))  # the second attempt: the delay doubles
    rig.clock.advance(2 * RESEND_S - 0.5)
    rig.step()
    assert rig.paho.seqs() == [1, 1]
    rig.clock.advance(0.5)
    rig.step()
    assert rig.paho.seqs() == [1, 1, 1]
    assert rig.sender.stats.published == 3


def test_mqtt_sender_publish_without_puback_goes_again_after_resend_after_s(rig: Rig) -> None:
    """In flight, no PUBACK: the row stays out of the window until resend_after_s has
    passed on the monotonic clock, then it is published again."""
    rig.enqueue()
    rig.step()
    rig.clock.advance(RESEND_S)  # not more than resend_after_s yet
    rig.step()
    assert rig.paho.seqs() == [1]
    rig.clock.advance(0.5)
    rig.step()
    assert rig.paho.seqs() == [1, 1]
    rig.step(PubAck(1, 0, "Success"))  # the first one's late PUBACK: no longer in flight
    assert rig.store.counts().sent == 0 and rig.sender.stats.pubacks == 0
    rig.step(PubAck(2, 0, "Success"))
    assert rig.store.counts().sent == 1 and rig.sender.stats.pubacks == 1


def test_mqtt_sender_snapshot_refreshes_on_the_monotonic_clock_with_wall_ages(rig: Rig) -> None:
    rig.connected.clear()  # nothing is published: the rows stay pending
    rig.enqueue()
    rig.step()
    assert rig.sender.snapshot == Snapshot(1, 0.0, None)
    rig.enqueue()
    rig.clock.advance(SNAPSHOT_EVERY_S)  # not more than the refresh period yet
    rig.step()
    assert rig.sender.snapshot == Snapshot(1, 0.0, None)
    rig.clock.advance(3600.0)
    rig.step()
    assert rig.sender.snapshot == Snapshot(2, 3601.0, None)
    assert rig.sender.snapshot.as_status() == {
        "outbox_depth": 2,
        "outbox_oldest_pending_s": 3601.0,
        "plan_version": None,
    }


def test_mqtt_sender_connected_event_refreshes_the_snapshot_at_once(rig: Rig) -> None:
    rig.connected.clear()
    rig.step()
    assert rig.sender.snapshot.outbox_depth == 0
    rig.enqueue(3)
    rig.step(Connected(2))  # within the refresh period: only the event refreshes it
    assert rig.sender.snapshot.outbox_depth == 3


def test_mqtt_sender_refused_puback_marks_the_row_rejected(rig: Rig) -> None:
    rig.enqueue(2)
    rig.step()
    rig.step(PubAck(1, 0x87, "Not authorized"), PubAck(2, 0, "Success"))
    (row,) = rig.store.rejected()
    assert (row["seq"], row["reason"]) == (1, "PUBACK 0x87 Not authorized")
    assert rig.sender.stats.reason_codes == {"Not authorized": 1, "Success": 1}
    assert PubAck(1, 0x87, "Not authorized").refused and not PubAck(2, 0, "Success").refused


def test_mqtt_sender_clinic_ack_removes_rows_and_is_pubacked(rig: Rig) -> None:
    ids = rig.enqueue(2)
    rig.step()
    ack = Inbound(
        topics.ack(STATION), json.dumps({"msg_ids": ids}).encode(), 7, 1, False, generation=1
    )
    stale = Inbound(topics.ack(STATION), b'{"msg_ids": []}', 8, 1, False, generation=0)
    rig.step(PubAck(1, 0, "Success"), ack, stale)
    c = rig.store.counts()
    assert (c.depth, c.acknowledged, rig.sender.stats.rows_acknowledged) == (0, 2, 2)
    assert rig.paho.acked == [7]  # mid 8 came on an earlier connection: not PUBACKed


def test_mqtt_sender_link_times_come_from_the_wall_clock(rig: Rig, tmp_path: Path) -> None:
    rig.step(LinkChange("b:8883", outbox.LINK_DOWN, "connection refused: x", "T1"))
    rig.step(LinkChange("b:8883", outbox.LINK_CONNECTED, None, "T2"))
    assert rig.store.link() == {
        "broker": "b:8883",
        "state": outbox.LINK_CONNECTED,
        "since": "T2",
        "last_error": "connection refused: x",
        "last_error_at": "T1",
    }
    rig.clock.advance(2 * 3600.0)
    rig.stop.set()
    rig.sender.run()  # stopped at once: records that the client ended, closes its store
    link = outbox.read_link(tmp_path / "station.db")
    assert link is not None and link["state"] == outbox.LINK_STOPPED
    assert link["since"] == "2026-11-20T12:00:00.000Z"
