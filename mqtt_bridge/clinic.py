"""The clinic consumer: receive every station's summaries, self-tests and status, store them
in the clinic database, and only then acknowledge.

Order per batch (``reference/MQTT.md`` §4.2, step 4): validate each message; store it
(``INSERT OR IGNORE`` on ``msg_id``; a ``msg_id`` reused with different content keeps the
first and records the conflict) or its rejection in one transaction: a message that
cannot be read or checked is a reject, so no single message can abort the batch, while an
error in storing a valid one aborts it unacknowledged (it comes back); commit; then the
MQTT PUBACK (``manual_ack=True``, so the broker keeps the message until it is on disk) and
the application acknowledgement ``{"msg_ids": [...]}`` on ``rehab/v1/stations/<id>/ack``,
which lets the station delete the outbox row. A crash anywhere before the commit leaves the
message unacknowledged at both levels, so it is delivered again and deduplicated.

Several consumers (``--workers N``, or processes on several machines) share the work
through an MQTT v5 shared subscription (``$share/<group>/...``, :func:`subscriptions`):
the broker hands each message to one member. A message redelivered to another member
after one died is stored once (the unique ``msg_id``) and acknowledged again.

paho traps handled (§2): MQTT v5 with ``clean_start=False`` and a session expiry, so
messages queue at the broker while the consumer is down; resubscribe in every
``on_connect`` (a broker that lost its state also lost the subscription); callbacks only
enqueue and never raise, and ``suppress_exceptions`` guards the network thread anyway;
database work happens in the caller's thread, never in paho's.
"""

from __future__ import annotations

import copy
import json
import logging
import queue
import threading
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from mqtt_bridge import clinic_settings, clocks, topics
from mqtt_bridge.clinic_checks import (
    MessageTooLarge,
    _check_envelope,
    _check_status,
    _msg_id_of,
)
from mqtt_bridge.clinic_connect import (
    SESSION_EXPIRY_S,
    STOP_TIMEOUT_S,
    BrokerOptions,
    make_client,
    parse_broker_url,
    stop_loop,
)
from mqtt_bridge.clinic_db import ClinicDB, Stored
from mqtt_bridge.inbound import Inbound

log = logging.getLogger(__name__)

#: Subscriptions of the consumer: every station's status and every outbox topic (summaries,
#: self-tests, plan results): whatever leaves a station's outbox needs the clinic's ack.
SUBSCRIPTIONS = [
    (topics.ALL_STATUS, 1),
    # The clinic's own retained plans: what each station is asked to do (sessions planned).
    (f"{topics.ROOT}/+/{topics.PLAN}", 1),
    (topics.ALL_SUMMARY, 1),
    (topics.ALL_SELFTEST, 1),
    (topics.ALL_PLAN_RESULT, 1),
]
#: The outbox topics: each message is handled by one member of a shared subscription.
OUTBOX_SUBSCRIPTIONS = [
    (topics.ALL_SUMMARY, 1),
    (topics.ALL_SELFTEST, 1),
    (topics.ALL_PLAN_RESULT, 1),
]
#: Times a batch is stored again after a transient database error (two consumers
#: deadlocked on PostgreSQL) before the error propagates.
TRANSIENT_RETRIES = 5


def subscriptions(group: str | None = None, status: bool = True) -> list[tuple[str, int]]:
    """The consumer's subscriptions. ``group``: take the outbox topics through the MQTT v5
    shared subscription ``$share/<group>/...``, so each message goes to one member of the
    group. ``status``: also the stations' status and the clinic's retained plans, never
    shared: a shared subscription gets no retained messages (MQTT v5 §4.8.2), and one
    consumer of a group (the first worker) is enough to keep them."""
    if group is None:
        return list(SUBSCRIPTIONS)
    if not group or any(c in group for c in "/+#"):
        raise ValueError(
            f"a share group is a non-empty name without '/', '+' or '#', got {group!r}"
        )
    subs = [(f"$share/{group}/{t}", q) for t, q in OUTBOX_SUBSCRIPTIONS]
    if status:
        subs = [s for s in SUBSCRIPTIONS if s not in OUTBOX_SUBSCRIPTIONS] + subs
    return subs


#: Messages stored per transaction at most; the broker's in-flight window (mosquitto
#: ``max_inflight_messages``, default 20) usually bounds a batch first.
MAX_BATCH = 200


@dataclass
class IngestStats:
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    id_conflicts: int = 0
    rejected: int = 0
    statuses: int = 0
    plans: int = 0
    acks_published: int = 0
    connects: int = 0
    batches: int = 0
    retries: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class _Outcome:
    station_id: str | None
    ack_msg_id: str | None


class Ingest:
    """The consumer. ``client`` is a configured, not yet connected paho ``Client`` built by
    :func:`make_client`; :meth:`run` connects, consumes and disconnects.

    Not reusable: one :meth:`run` per instance. ``stop_timeout_s`` bounds the wait for
    paho's network thread when :meth:`run` ends. ``subs`` are the subscriptions
    (:func:`subscriptions`; default: every topic, not shared). ``end_session``: a clean
    stop ends the broker session (a member of a shared subscription then leaves the group
    at once instead of being dealt messages until its session expires). ``monotonic``
    measures :meth:`run`'s ``max_seconds`` and ``until_idle_s``; times stored come from
    ``db``'s wall clock."""

    def __init__(
        self,
        client: mqtt.Client,
        db: ClinicDB,
        stop_timeout_s: float = STOP_TIMEOUT_S,
        *,
        monotonic: clocks.Monotonic = clocks.monotonic,
        subs: list[tuple[str, int]] | None = None,
        end_session: bool = False,
    ) -> None:
        self.client = client
        self.subs = list(SUBSCRIPTIONS if subs is None else subs)
        self.end_session = end_session
        # Errors of the database or the files, never a defect of a message.
        self._fatal: tuple[type[BaseException], ...] = (OSError, *db.errors)
        self._db_failures: tuple[type[BaseException], ...] = (OSError, *db.failures)
        self.db = db
        self.stop_timeout_s = stop_timeout_s
        self._monotonic = monotonic
        self.stats = IngestStats()
        self._q: queue.Queue[Inbound] = queue.Queue()
        self._generation = 0
        self._connected = threading.Event()
        #: Set on every SUBACK of the consumer's subscriptions (cleared on disconnect).
        self.subscribed = threading.Event()
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        client.on_disconnect = self._on_disconnect

    # -- paho callbacks (network thread): never raise, never touch SQLite ---------------

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, rc: Any, props: Any
    ) -> None:
        try:
            if rc.is_failure:
                log.error("broker refused the connection: %s", rc)
                return
            # A new connection invalidates packet ids of messages received on the old one.
            self._generation += 1
            self.stats.connects += 1
            client.subscribe(self.subs)
            self._connected.set()
            log.info("connected (session present: %s); subscribed", flags.session_present)
        except Exception:
            log.exception("on_connect failed")

    def _on_subscribe(
        self, client: mqtt.Client, userdata: Any, mid: int, codes: Any, props: Any
    ) -> None:
        try:
            refused = [str(c) for c in codes if c.is_failure]
            if refused:
                log.error("subscription refused: %s", refused)
                return
            self.subscribed.set()
            log.info("subscribed to %s", ", ".join(t for t, _ in self.subs))
        except Exception:
            log.exception("on_subscribe failed")

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, rc: Any, props: Any
    ) -> None:
        self._connected.clear()
        self.subscribed.clear()
        log.info("disconnected: %s", rc)

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            self._q.put(Inbound.copy_of(msg, self._generation))
        except Exception:
            log.exception("on_message failed")

    # -- the consumer loop (caller's thread) ---------------------------------------------

    def run(
        self,
        stop: threading.Event,
        max_seconds: float | None = None,
        until_idle_s: float | None = None,
        connect: Callable[[], Any] | None = None,
    ) -> IngestStats:
        """Consume until ``stop`` is set, ``max_seconds`` pass, or (once connected) no
        message arrives for ``until_idle_s``. ``connect`` starts connecting (the function
        :func:`make_client` returns); None if the caller already did."""
        if connect is not None:
            connect()
        self.client.loop_start()
        t_start = last = self._monotonic()
        clean = False
        try:
            while not stop.is_set():
                now = self._monotonic()
                if max_seconds is not None and now - t_start >= max_seconds:
                    break
                if until_idle_s is not None and self.stats.connects and now - last >= until_idle_s:
                    break
                batch = self._take(timeout_s=0.2)
                if batch:
                    self.process(batch)
                    last = self._monotonic()
                elif not self._connected.is_set():
                    last = self._monotonic()  # idle means connected and quiet
            clean = True
        finally:
            # After a failure the session stays: what was in flight comes back on restart.
            if self.end_session and clean:
                props = Properties(PacketTypes.DISCONNECT)
                props.SessionExpiryInterval = 0
                self.client.disconnect(properties=props)
            else:
                self.client.disconnect()
            stop_loop(self.client, self.stop_timeout_s)
        return self.stats

    def _take(self, timeout_s: float) -> list[Inbound]:
        try:
            first = self._q.get(timeout=timeout_s)
        except queue.Empty:
            return []
        batch = [first]
        while len(batch) < MAX_BATCH:
            try:
                batch.append(self._q.get_nowait())
            except queue.Empty:
                break
        return batch

    def process(self, batch: list[Inbound]) -> None:
        """Store a batch in one transaction, then PUBACK and acknowledge to the stations.

        A database error propagates before any acknowledgement: the messages stay
        unacknowledged and are delivered again after the consumer restarts. A transient one
        (a deadlock with another consumer) runs the batch again, up to
        :data:`TRANSIENT_RETRIES` times."""
        before = copy.deepcopy(self.stats)
        for attempt in range(TRANSIENT_RETRIES + 1):
            now = self.db.now()
            try:
                with self.db.transaction():
                    outcomes = [self._store_isolated(m, now) for m in batch]
                break
            except Exception as exc:
                if attempt == TRANSIENT_RETRIES or not self.db.is_transient(exc):
                    raise
                log.warning("storing a batch: %s; storing it again", exc)
                self.stats = copy.deepcopy(before)
                self.stats.retries = before.retries + attempt + 1
        self.stats.batches += 1
        for m in batch:
            # A PUBACK with a packet id from a previous connection could acknowledge a
            # different message; the end-to-end ack covers it anyway, so skip it.
            if m.qos > 0 and m.generation == self._generation:
                self.client.ack(m.mid, m.qos)
        acks: dict[str, list[str]] = defaultdict(list)
        for o in outcomes:
            if o.station_id and o.ack_msg_id and o.ack_msg_id not in acks[o.station_id]:
                acks[o.station_id].append(o.ack_msg_id)
        for station_id, ids in acks.items():
            payload = json.dumps({"msg_ids": ids}, separators=(",", ":"))
            self.client.publish(topics.ack(station_id), payload, qos=1)
            self.stats.acks_published += 1

    def _store_isolated(self, m: Inbound, now: str) -> _Outcome:
        """Read and check one message, then store it.

        Reading and checking are guarded: a defect of the input, or an unforeseen error
        while reading it, makes the message a reject (kept and acknowledged), never a crash;
        otherwise the whole batch would roll back unacknowledged and come back after every
        restart, stopping ingestion for every station. Storing is not guarded: an error
        there (a bug in :class:`ClinicDB`, ``MemoryError``, a full disk) is a fault of the
        consumer, not of the message; it propagates and nothing of the batch is
        acknowledged, so the message comes back. Database and file errors while checking
        (``sqlite3.Error`` or ``psycopg.Error``, ``OSError``: missing schemas) propagate
        too."""
        self.stats.received += 1
        if m.topic.endswith(f"/{topics.PLAN}"):
            # The clinic's own message, never acknowledged to a station: kept or ignored.
            self.stats.plans += clinic_settings.keep_plan(self.db, m.topic, m.payload, now)
            return _Outcome(None, None)
        station_id: str | None = None
        try:
            station_id, kind = topics.parse_station_topic(m.topic)
            if kind == topics.STATUS:
                status = _check_status(m.payload, station_id)
            else:
                env = _check_envelope(m.payload, station_id, kind)
        except self._fatal:
            raise
        except (ValueError, KeyError, TypeError) as exc:
            # UnicodeDecodeError, JSONDecodeError and SchemaError are ValueErrors.
            return self._reject(m, station_id, f"{type(exc).__name__}: {exc}", now)
        except Exception as exc:
            log.exception("reading the message on %s failed; kept as rejected", m.topic)
            return self._reject(m, station_id, f"consumer error {type(exc).__name__}: {exc}", now)
        # Any error below propagates: nothing of the batch is acknowledged.
        if kind == topics.STATUS:
            if status is not None:
                # A retained status replayed on subscribe says nothing about liveness.
                self.db.store_status(station_id, status, now, seen=not m.retain)
                self.stats.statuses += 1
            return _Outcome(None, None)
        stored = self.db.store(env, kind, now)
        if stored is Stored.NEW:
            self.stats.stored += 1
        elif stored is Stored.DUPLICATE:
            self.stats.duplicates += 1
        else:
            self.stats.id_conflicts += 1
            log.warning(
                "msg_id %s on %s reused with different content: the first was kept, "
                "the conflict recorded",
                env["msg_id"],
                m.topic,
            )
        # A conflict is acknowledged too: the station would resend it for ever, and a
        # second look cannot make its id free.
        return _Outcome(station_id, env["msg_id"])

    def _reject(self, m: Inbound, station_id: str | None, reason: str, now: str) -> _Outcome:
        msg_id = _msg_id_of(m.payload)
        try:
            # A savepoint: PostgreSQL refuses every statement after a failed one until the
            # failed part is rolled back.
            with self.db.savepoint():
                self.db.reject(m.topic, reason, m.payload, station_id, msg_id, now)
        except self._db_failures:
            raise  # the database itself failed (locked, disk): nothing is acknowledged
        except Exception:
            # Something of this message cannot be stored (a reason or id that is not
            # valid text): keep it without the id, with the reason made plain ASCII.
            log.exception("keeping the rejected message on %s failed; kept without msg_id", m.topic)
            msg_id = None
            reason = reason.encode("ascii", "backslashreplace").decode("ascii")
            reason = reason.replace("\x00", "\\x00")  # PostgreSQL text holds no NUL
            self.db.reject(m.topic, reason, m.payload, station_id, None, now)
        self.stats.rejected += 1
        key = reason.split(":", 1)[0]
        self.stats.reasons[key] = self.stats.reasons.get(key, 0) + 1
        log.warning("rejected message on %s: %s", m.topic, reason)
        # Kept in `rejected`; acknowledging it end to end stops a resend loop of a message
        # that can never become valid, and the station learns nothing it can fix anyway.
        return _Outcome(station_id, msg_id)


__all__ = [
    "MAX_BATCH",
    "OUTBOX_SUBSCRIPTIONS",
    "SESSION_EXPIRY_S",
    "STOP_TIMEOUT_S",
    "SUBSCRIPTIONS",
    "BrokerOptions",
    "Inbound",
    "Ingest",
    "IngestStats",
    "MessageTooLarge",
    "make_client",
    "parse_broker_url",
    "stop_loop",
    "subscriptions",
]
