"""The station client's sender thread: every SQL statement of the MQTT client runs here.

paho's callbacks (network thread) only put events (:mod:`mqtt_bridge.events`) into a
``queue.Queue``: a :class:`~mqtt_bridge.events.PubAck`, an inbound message
(:class:`~mqtt_bridge.inbound.Inbound`), :class:`~mqtt_bridge.events.Connected` and
:class:`~mqtt_bridge.events.LinkChange` (the link's state for ``rehab-station outbox``, sent
when it changes). The sender applies them in batches (one transaction per batch of PUBACKs
or acks: ``synchronous=FULL`` costs an fsync per commit), handles plans and acks, and has
its :class:`~mqtt_bridge.publisher.Publisher` send the due outbox rows. Snapshot refreshes
follow the injected monotonic clock; stored times the injected wall clock.

An event whose handling fails with a fault that can clear (``sqlite3.OperationalError``:
the database locked beyond its timeout, a disk I/O error; ``OSError``) is kept, with every
later one, and tried again a second later, in order. After :data:`MAX_EVENT_ATTEMPTS`
failures the sender gives up on it, logs an alarm and, for an inbound message, drops the
connection: the broker delivers an unacknowledged message again only on a new connection,
so nothing is lost, only delayed. The same message given up :data:`MAX_GIVE_UPS` times
(counted by digest, across reconnects) is acknowledged with an alarm instead.

Any other exception while handling one inbound message cannot clear by retrying: it is
logged as an alarm and the message is acknowledged (a plan is first answered
``rejected`` naming the error, if that can be written), so that one message can never make
the station reconnect forever and starve the outbox.
"""

from __future__ import annotations

import logging
import queue
import socket
import sqlite3
import threading
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt

from mqtt_bridge import clocks, envelope, outbox, plans, schema, topics
from mqtt_bridge.events import Connected, Event, LinkChange, PubAck
from mqtt_bridge.inbound import Inbound
from mqtt_bridge.publisher import Publisher
from mqtt_bridge.stats import ClientStats

log = logging.getLogger(__name__)

#: Attempts at one event before the sender gives up on it (each failure waits a second;
#: a locked database first waits out the connection's busy timeout).
MAX_EVENT_ATTEMPTS = 5
#: Events taken from the queue at once.
MAX_EVENTS = 1000
#: Times one inbound message (by digest) is given up with a reconnect before the sender
#: acknowledges it with an alarm: a fault that outlasts this many reconnects is not
#: cleared by another one, and the message must not hold up every later one.
MAX_GIVE_UPS = 3
#: Digests whose give-ups are remembered (oldest forgotten first).
MAX_GIVE_UP_DIGESTS = 64
#: Faults that can clear by themselves (a lock released, space freed): worth a retry.
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (sqlite3.OperationalError, OSError)
#: Monotonic seconds between refreshes of the status snapshot while nothing else asks.
SNAPSHOT_EVERY_S = 1.0


def _digest(m: Inbound) -> str:
    """Identifies one inbound message across redeliveries: topic, correlation, payload."""
    return plans.message_digest(m.topic.encode() + b"\0" + bytes(m.payload), m.correlation)


@dataclass(frozen=True)
class Snapshot:
    """What the status messages report of the outbox and the plan; read by the network
    thread, replaced whole by the sender."""

    outbox_depth: int = 0
    outbox_oldest_pending_s: float | None = None
    plan_version: int | None = None

    def as_status(self) -> dict[str, Any]:
        return {
            "outbox_depth": self.outbox_depth,
            "outbox_oldest_pending_s": self.outbox_oldest_pending_s,
            "plan_version": self.plan_version,
        }


class Sender:
    """Owns the outbox connection; runs in one thread (:meth:`run`)."""

    def __init__(
        self,
        station_id: str,
        client: mqtt.Client,
        store: outbox.Outbox,
        events: queue.Queue[Event],
        connected: threading.Event,
        stop: threading.Event,
        generation: Callable[[], int],
        stats: ClientStats,
        *,
        window: int,
        resend_after_s: float,
        max_resend_after_s: float,
        max_rows: int,
        poll_s: float,
        semantic_check: plans.SemanticCheck | None,
        plan_handler: Callable[[dict[str, Any]], None] | None,
        monotonic: clocks.Monotonic = clocks.monotonic,
        wall_clock: clocks.WallClock = clocks.utc_now,
    ) -> None:
        self.station_id = station_id
        self._monotonic = monotonic
        self._wall_clock = wall_clock
        self._mqtt = client
        self._outbox = store
        self._events = events
        self._connected = connected
        self._stop = stop
        self._generation = generation
        self.stats = stats
        self.publisher = Publisher(
            station_id,
            client,
            store,
            stats,
            window=window,
            resend_after_s=resend_after_s,
            max_resend_after_s=max_resend_after_s,
            monotonic=monotonic,
        )
        self.max_rows = max_rows
        self.poll_s = poll_s
        self.semantic_check = semantic_check
        self.plan_handler = plan_handler
        #: Events taken from the queue and not yet handled, oldest first.
        self._backlog: deque[Event] = deque()
        self._head_failures = 0  # failed attempts at the event heading the backlog
        #: Inbound message digest -> times given up with a reconnect (kept across them).
        self._give_ups: OrderedDict[str, int] = OrderedDict()
        #: The broker of the last link event (None: none yet, nothing to mark stopped).
        self._link_broker: str | None = None
        #: Read by the network thread for status messages; replaced whole, never mutated.
        self.snapshot = Snapshot()
        self._last_snapshot: float | None = None  # monotonic time of the last refresh

    def run(self) -> None:
        """The thread body: until ``stop`` is set, :meth:`step` again and again."""
        while not self._stop.is_set():
            try:
                self.step()
            except Exception:
                # A database error (disk full, locked too long) must not end the thread:
                # count it, wait, retry; the watchdog sees sender_errors grow.
                self.stats.sender_errors += 1
                log.exception("MQTT sender step failed; retrying")
                self._stop.wait(1.0)
        try:
            self._drain_events(block=False)
            if self._link_broker is not None:
                self._outbox.record_link(
                    self._link_broker,
                    outbox.LINK_STOPPED,
                    None,
                    clocks.iso_utc(self._wall_clock()),
                )
        except Exception:
            log.exception("MQTT sender: final event drain failed")
        self._outbox.close()

    def step(self, block: bool = True) -> None:
        """One pass of the thread: apply the queued events (waiting up to ``poll_s`` for the
        first when ``block``), publish the due rows while connected, and refresh the status
        snapshot every :data:`SNAPSHOT_EVERY_S` of the monotonic clock. Raises what the
        database raises; :meth:`run` counts it and steps again."""
        self._drain_events(block)
        if self._connected.is_set():
            self.publisher.publish_due()
        now = self._monotonic()
        if self._last_snapshot is None or now - self._last_snapshot > SNAPSHOT_EVERY_S:
            self.refresh_snapshot()
            self._last_snapshot = now

    def _drain_events(self, block: bool) -> None:
        """Handle the backlog, oldest first, then write the PUBACK results. New events are
        taken from the queue only once the backlog is empty, so order is kept. An event that
        fails stays at the head (with every later one) and the exception propagates: the
        caller waits and calls again. At the :data:`MAX_EVENT_ATTEMPTS`-th failure the
        event is given up (:meth:`_give_up`) and the rest go on."""
        if not self._backlog:
            self._take(block)
        while self._backlog:
            ev = self._backlog[0]
            try:
                self._handle(ev)
            except TRANSIENT_ERRORS as exc:
                self._head_failures += 1
                if self._head_failures < MAX_EVENT_ATTEMPTS:
                    raise
                self._give_up(ev, exc)
            except Exception as exc:
                self._unhandled(ev, exc)
            self._backlog.popleft()
            self._head_failures = 0
        self.publisher.apply_pubacks()

    def _take(self, block: bool) -> None:
        try:
            self._backlog.append(
                self._events.get(timeout=self.poll_s) if block else self._events.get_nowait()
            )
            while len(self._backlog) < MAX_EVENTS:
                self._backlog.append(self._events.get_nowait())
        except queue.Empty:
            pass

    def _handle(self, ev: Event) -> None:
        match ev:
            case PubAck():
                self.publisher.on_puback(ev)
            case Inbound():
                # Flush PUBACK results first so an ack never races its own row's PUBACK.
                self.publisher.apply_pubacks()
                self._message(ev)
            case Connected():
                self.refresh_snapshot()
            case LinkChange(broker=broker, state=state, error=error, at=at):
                self._link_broker = broker
                self._outbox.record_link(broker, state, error, at)

    def _give_up(self, ev: Event, exc: Exception) -> None:
        """Stop trying one event. An inbound message is not PUBACKed, and the connection is
        dropped so that the broker delivers it again (paho reconnects by itself)."""
        self.stats.sender_errors += 1
        if not isinstance(ev, Inbound):
            log.error(
                "MQTT sender gave up on a %s event after %d attempts: %r",
                type(ev).__name__,
                MAX_EVENT_ATTEMPTS,
                exc,
            )
            return
        m = ev
        key = _digest(m)
        count = self._give_ups.pop(key, 0) + 1
        self._give_ups[key] = count
        while len(self._give_ups) > MAX_GIVE_UP_DIGESTS:
            self._give_ups.popitem(last=False)
        if count >= MAX_GIVE_UPS:
            log.error(
                "ALARM MQTT sender gave up on the message on %s %d times (%r); acknowledged "
                "unhandled so that it no longer holds up the connection",
                m.topic,
                count,
                exc,
            )
            del self._give_ups[key]
            self._puback_inbound(m)
            return
        log.error(
            "ALARM MQTT sender gave up on the message on %s after %d failed attempts (%r); "
            "reconnecting so that the broker delivers it again",
            m.topic,
            MAX_EVENT_ATTEMPTS,
            exc,
        )
        self._force_reconnect()

    def _unhandled(self, ev: Event, exc: Exception) -> None:
        """An error that retrying cannot clear. An inbound message is acknowledged (a plan is
        first answered ``rejected``, if that can be written); other events are dropped."""
        self.stats.sender_errors += 1
        if not isinstance(ev, Inbound):
            log.error("ALARM MQTT sender could not handle a %s event: %r", type(ev).__name__, exc)
            return
        m = ev
        log.error(
            "ALARM MQTT sender could not handle the message on %s (%r); acknowledged so that "
            "it is not delivered again",
            m.topic,
            exc,
            exc_info=exc,
        )
        if m.topic == topics.plan(self.station_id) and m.payload:
            reason = f"the station could not handle the plan ({type(exc).__name__}); not applied"
            try:
                plans.answer_unhandled(
                    self._outbox.conn,
                    m.payload,
                    m.correlation,
                    reason,
                    max_rows=self.max_rows,
                    wall_clock=self._wall_clock,
                )
                self.stats.plans_rejected += 1
            except Exception:
                log.exception("ALARM the plan on %s could not be answered", m.topic)
        self._puback_inbound(m)

    def _force_reconnect(self) -> None:
        """Shut the connection's socket down: paho's network thread sees the connection lost,
        calls ``on_disconnect`` and reconnects with its backoff. (``disconnect()`` would end
        the automatic reconnection.) The plain socket's shutdown, also under TLS: the
        SSL object stays with the network thread."""
        sock = self._mqtt.socket()
        if not isinstance(sock, socket.socket):
            return  # not connected: the broker redelivers when the station connects
        try:
            socket.socket.shutdown(sock, socket.SHUT_RDWR)
        except OSError as exc:
            log.warning("could not drop the MQTT connection: %s", exc)

    def _message(self, m: Inbound) -> None:
        if m.topic == topics.ack(self.station_id):
            self._ack_message(m)
        elif m.topic == topics.plan(self.station_id):
            self._plan_message(m)
        else:
            log.warning("message on unexpected topic %s ignored", m.topic)
            self._puback_inbound(m)

    def _plan_message(self, m: Inbound) -> None:
        out = plans.receive_plan(
            self._outbox.conn,
            self.station_id,
            m.payload,
            semantic_check=self.semantic_check,
            correlation=m.correlation,
            max_rows=self.max_rows,
            wall_clock=self._wall_clock,
        )
        if out.status == "accepted":
            self.stats.plans_accepted += 1
        elif out.status == "rejected":
            self.stats.plans_rejected += 1
        elif out.status == "redelivered":
            self.stats.plans_redelivered += 1
        self._puback_inbound(m)  # only after the decision is committed
        if out.plan is not None:
            self.refresh_snapshot()
            if self.plan_handler is not None:
                try:
                    self.plan_handler(out.plan)
                except Exception:
                    log.exception("plan_handler failed for plan_version %s", out.plan_version)

    def _ack_message(self, m: Inbound) -> None:
        self.stats.acks_received += 1
        try:
            doc = envelope.loads(m.payload)
            schema.validate(doc, schema.load(topics.SCHEMA_FOR_KIND[topics.ACK]))
        except ValueError as exc:
            log.warning("malformed ack ignored: %s", exc)
        else:
            self.stats.rows_acknowledged += self._outbox.acknowledge(doc["msg_ids"])
        self._puback_inbound(m)  # after the commit: a crash before it means redelivery

    def _puback_inbound(self, m: Inbound) -> None:
        # A mid from an earlier connection could name another message now: skip it; the
        # broker redelivers, and handling is idempotent.
        if m.qos > 0 and m.generation == self._generation():
            self._mqtt.ack(m.mid, m.qos)

    def refresh_snapshot(self) -> None:
        """Outbox depth, oldest age and plan version for the status messages."""
        c = self._outbox.counts()
        self.snapshot = Snapshot(
            outbox_depth=c.pending + c.sent + c.rejected,
            outbox_oldest_pending_s=None
            if c.oldest_pending_age_s is None
            else round(c.oldest_pending_age_s, 1),
            plan_version=plans.active_version(self._outbox.conn),
        )
