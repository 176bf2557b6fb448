"""The station's MQTT client: drains the outbox to the clinic, receives plans and acks.

Threads: paho's network thread (``loop_start``) runs the callbacks, which only copy data
into a ``queue.Queue``; the **sender thread** owns the SQLite connection and does all the
work (reference/MQTT.md §2.3: SQL in ``on_publish`` invites lock-order deadlocks with
paho's ``_out_message_mutex``).

paho traps handled (MQTT.md §2): MQTT v5, ``clean_start=False`` with a
``SessionExpiryInterval`` (the default Clean Start on the first connect would drop plans
queued while the station was off); resubscribe and publish the retained ``online`` birth
in **every** ``on_connect`` (a broker that lost its state lost the subscriptions);
``manual_ack=True`` so a plan or ack is PUBACKed only after it is committed; every
callback wrapped so no exception reaches the network thread (and ``suppress_exceptions``
as a second net); reconnect backoff randomised per station (paho has no jitter); PUBACK
reason codes >= 0x80 mark the row ``rejected``; ``mid`` is kept in memory only; every
wait is bounded.

Plans: parsed by :func:`mqtt_bridge.plans.parse_plan`, then the station's
``semantic_check(plan)`` (raise ``ValueError(reason)`` to refuse); the accepted plan and
the ``plan/result`` answer (an outbox row deleted on PUBACK) commit in one transaction;
then the PUBACK; then ``plan_handler(plan)``. Malformed input is answered, acknowledged
and never retried (no poison-message loop).
"""

from __future__ import annotations

import json
import logging
import queue
import random
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from mqtt_bridge import envelope, outbox, plans, schema, topics

log = logging.getLogger(__name__)

STATUS_SCHEMA = "rehab.status/1"
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Inbound:
    """One received message, copied out of paho's object in the network thread."""

    topic: str
    payload: bytes
    mid: int
    qos: int
    retain: bool
    generation: int
    correlation: bytes | None


@dataclass
class ClientStats:
    """Counters for telemetry and tests (updated by the sender and network threads)."""

    connects: int = 0
    connect_failures: int = 0
    published: int = 0
    pubacks: int = 0
    rejected: int = 0
    acks_received: int = 0
    rows_acknowledged: int = 0
    plans_accepted: int = 0
    plans_rejected: int = 0
    plans_redelivered: int = 0
    callback_errors: int = 0
    sender_errors: int = 0
    last_connect_error: str = ""
    reason_codes: dict[str, int] = field(default_factory=dict)


def _guarded(fn: F) -> F:
    """Log and count any exception of a paho callback instead of letting it kill the
    network thread (MQTT.md §2.4: the thread dies while ``is_connected()`` stays True)."""

    @wraps(fn)
    def wrapper(self: StationClient, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(self, *args, **kwargs)
        except Exception:
            self.stats.callback_errors += 1
            log.exception("MQTT callback %s failed", fn.__name__)
            return None

    return wrapper  # type: ignore[return-value]


class StationClient:
    """One station's connection to the clinic broker.

    ``station_id`` is the client id, the topic level and the certificate CN / username.
    TLS is used when ``ca_file`` is given or ``tls`` is true (then the system CAs);
    ``cert_file``/``key_file`` add the client certificate. ``db_path`` is the station
    database holding the outbox and the plans. ``semantic_check(plan)`` raises
    ``ValueError(reason)`` to refuse a plan that passed the schema; ``plan_handler(plan)``
    is called (in the sender thread) after an accepted plan is committed.
    ``reconnect_min_s``/``reconnect_max_s`` are ranges from which this station's backoff
    bounds are drawn (``seed`` makes it reproducible).

    Call :meth:`start`, and :meth:`close` to stop (publishes ``offline``; bounded).
    """

    def __init__(
        self,
        station_id: str,
        host: str,
        port: int = 8883,
        *,
        db_path: str | Path,
        ca_file: str | None = None,
        cert_file: str | None = None,
        key_file: str | None = None,
        tls: bool = False,
        username: str | None = None,
        password: str | None = None,
        keepalive_s: int = 30,
        session_expiry_s: int = 7 * 24 * 3600,
        will_delay_s: int = 30,
        resend_after_s: float = 60.0,
        max_resend_after_s: float = 3600.0,
        max_rows: int = outbox.DEFAULT_MAX_ROWS,
        window: int = 20,
        software_version: str = "unknown",
        semantic_check: Callable[[dict[str, Any]], None] | None = None,
        plan_handler: Callable[[dict[str, Any]], None] | None = None,
        reconnect_min_s: tuple[float, float] = (1.0, 5.0),
        reconnect_max_s: tuple[float, float] = (300.0, 360.0),
        seed: int | None = None,
        poll_s: float = 0.2,
    ) -> None:
        self.station_id = topics.check_station_id(station_id)
        self.host, self.port = host, port
        self.db_path = Path(db_path)
        self.keepalive_s = keepalive_s
        self.session_expiry_s = session_expiry_s
        self.will_delay_s = will_delay_s
        self.resend_after_s = resend_after_s
        self.max_resend_after_s = max(max_resend_after_s, resend_after_s)
        self.max_rows = max_rows
        self.window = window
        self.software_version = software_version
        self.semantic_check = semantic_check
        self.plan_handler = plan_handler
        self.poll_s = poll_s
        self.stats = ClientStats()
        rng = random.Random(seed)
        self.reconnect_delay_s = (rng.uniform(*reconnect_min_s), rng.uniform(*reconnect_max_s))

        self._events: queue.Queue[tuple[Any, ...]] = queue.Queue()
        self._stop = threading.Event()
        self._connected = threading.Event()
        self._generation = 0  # bumped per CONNACK: a mid is valid within one connection
        self._snapshot: dict[str, Any] = {
            "outbox_depth": 0,
            "outbox_oldest_pending_s": None,
            "plan_version": None,
        }
        self._inflight: dict[int, tuple[int, float]] = {}  # mid -> (seq, published mono)
        self._sender: threading.Thread | None = None
        self._started = False
        self._closed = False

        # The sender thread's store; opened here so a bad path fails at construction.
        self._outbox = outbox.Outbox(self.db_path, max_rows=max_rows)
        plans.ensure_tables(self._outbox.conn)
        self._mqtt = self._make_client(ca_file, cert_file, key_file, tls, username, password)

    # -- construction ---------------------------------------------------------------------

    def _make_client(
        self,
        ca_file: str | None,
        cert_file: str | None,
        key_file: str | None,
        tls: bool,
        username: str | None,
        password: str | None,
    ) -> mqtt.Client:
        c = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.station_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        c.suppress_exceptions = True  # second net; every callback is also wrapped
        c.reconnect_delay_set(*self.reconnect_delay_s)  # type: ignore[arg-type]
        if ca_file or cert_file or tls:
            # CERT_REQUIRED with hostname checking; never tls_insecure_set(True).
            c.tls_set(
                ca_certs=ca_file,
                certfile=cert_file,
                keyfile=key_file,
                cert_reqs=ssl.CERT_REQUIRED,
                tls_version=ssl.PROTOCOL_TLS_CLIENT,
            )
        if username is not None or password is not None:
            c.username_pw_set(username or self.station_id, password)
        c.on_connect = self._on_connect
        c.on_connect_fail = self._on_connect_fail
        c.on_disconnect = self._on_disconnect
        c.on_publish = self._on_publish
        c.on_message = self._on_message
        c.on_subscribe = self._on_subscribe
        self._set_will(c)
        return c

    def _status(self, state: str, reason: str = "") -> bytes:
        body: dict[str, Any] = {
            "schema": STATUS_SCHEMA,
            "station_id": self.station_id,
            "state": state,
            "last_seen": envelope.utc_now(),
            "clock_synced": envelope.clock_synced(),
            "boot_id": envelope.boot_id(),
            "software_version": self.software_version,
            **self._snapshot,
        }
        if reason:
            body["reason"] = reason
        schema.validate(body, schema.load(STATUS_SCHEMA))
        return json.dumps(body, separators=(",", ":")).encode()

    def _set_will(self, c: mqtt.Client) -> None:
        props = Properties(PacketTypes.WILLMESSAGE)
        # The broker waits this long before publishing the will: a quick reconnect (a
        # broker restart, a Wi-Fi blip) then causes no offline/online flap (MQTT.md E4).
        props.WillDelayInterval = self.will_delay_s
        props.ContentType = envelope.CONTENT_TYPE
        props.PayloadFormatIndicator = 1
        c.will_set(
            topics.status(self.station_id),
            self._status("offline", "connection lost"),
            qos=1,
            retain=True,
            properties=props,
        )

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Connect in the background (a broker that is down is retried) and start the
        sender thread. Raises ``RuntimeError`` if called twice."""
        if self._started:
            raise RuntimeError("StationClient.start() called twice")
        self._started = True
        n = self._outbox.requeue_sent()
        if n:
            log.info("outbox: %d sent but unacknowledged messages will be sent again", n)
        self._refresh_snapshot()
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self.session_expiry_s
        # connect_async only records the target (it raises ValueError for bad arguments);
        # the connection and its retries happen in paho's thread.
        self._mqtt.connect_async(
            self.host, self.port, self.keepalive_s, clean_start=False, properties=props
        )
        self._sender = threading.Thread(
            target=self._sender_main, name=f"mqtt-sender-{self.station_id}", daemon=True
        )
        self._sender.start()
        if self._mqtt.loop_start() != mqtt.MQTT_ERR_SUCCESS:
            raise RuntimeError("paho loop_start failed")

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop the sender, publish the retained ``offline`` status, disconnect (so the
        broker drops the will) and stop paho's thread; every step bounded. Idempotent.
        Unacknowledged rows stay in the outbox for the next start."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        if self._sender is not None:
            self._sender.join(timeout_s)
            if self._sender.is_alive():
                log.error("MQTT sender thread did not stop within %s s", timeout_s)
        if self._started and self._connected.is_set():
            try:
                info = self._mqtt.publish(
                    topics.status(self.station_id),
                    self._status("offline", "shutdown"),
                    qos=1,
                    retain=True,
                    properties=envelope.properties(STATUS_SCHEMA),
                )
                info.wait_for_publish(timeout_s)
            except (RuntimeError, ValueError) as exc:  # paho raises for unsent messages
                log.warning("offline status not confirmed: %s", exc)
        if self._started:
            self._mqtt.disconnect()
            # loop_stop() joins paho's thread without a timeout: bound it from outside.
            stopper = threading.Thread(target=self._mqtt.loop_stop, daemon=True)
            stopper.start()
            stopper.join(timeout_s)
            if stopper.is_alive():
                log.error("paho network thread did not stop within %s s", timeout_s)
        if self._sender is None or not self._sender.is_alive():
            self._outbox.close()

    def __enter__(self) -> StationClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- observation ----------------------------------------------------------------------

    def wait_connected(self, timeout_s: float) -> bool:
        """Whether a CONNACK with success arrived within ``timeout_s``."""
        return self._connected.wait(timeout_s)

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def threads_alive(self) -> bool:
        """For a watchdog: the sender and paho's network thread are both running."""
        # paho exposes no public handle on its loop thread; _thread is set by loop_start.
        net = getattr(self._mqtt, "_thread", None)
        return bool(self._sender and self._sender.is_alive() and net and net.is_alive())

    def counts(self) -> outbox.Counts:
        """Outbox counts, read on a connection of the caller's thread."""
        with outbox.Outbox(self.db_path, max_rows=self.max_rows) as ob:
            return ob.counts()

    # -- paho callbacks (network thread): copy into the queue, nothing else --------------

    @_guarded
    def _on_connect(self, c: mqtt.Client, u: Any, flags: Any, rc: Any, props: Any) -> None:
        if rc.is_failure:
            self.stats.connect_failures += 1
            self.stats.last_connect_error = str(rc)
            log.error("broker %s:%s refused the connection: %s", self.host, self.port, rc)
            return
        self._generation += 1
        self.stats.connects += 1
        log.info(
            "connected to %s:%s (session present: %s)", self.host, self.port, flags.session_present
        )
        # Subscriptions may be gone even with a session (a broker killed before saving).
        for name in (topics.plan(self.station_id), topics.ack(self.station_id)):
            result, _ = c.subscribe(name, qos=1)
            if result != mqtt.MQTT_ERR_SUCCESS:
                log.error("subscribe %s failed: %s", name, mqtt.error_string(result))
        info = c.publish(
            topics.status(self.station_id),
            self._status("online"),
            qos=1,
            retain=True,
            properties=envelope.properties(STATUS_SCHEMA),
        )
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            log.warning("online status not sent: %s", mqtt.error_string(info.rc))
        self._set_will(c)  # the next CONNECT's will carries this connection's last_seen
        self._connected.set()
        self._events.put(("connected", self._generation))

    @_guarded
    def _on_connect_fail(self, c: mqtt.Client, u: Any) -> None:
        self.stats.connect_failures += 1
        self.stats.last_connect_error = "connection failed (network, TLS or refused)"
        log.warning("could not connect to %s:%s; retrying", self.host, self.port)

    @_guarded
    def _on_disconnect(self, c: mqtt.Client, u: Any, flags: Any, rc: Any, props: Any) -> None:
        self._connected.clear()
        if not self._stop.is_set():
            log.warning("disconnected from %s:%s: %s", self.host, self.port, rc)

    @_guarded
    def _on_subscribe(self, c: mqtt.Client, u: Any, mid: int, codes: Any, props: Any) -> None:
        for code in codes:
            if code.is_failure:
                log.error("subscription refused by the broker: %s", code)

    @_guarded
    def _on_publish(self, c: mqtt.Client, u: Any, mid: int, rc: Any, props: Any) -> None:
        self._events.put(("puback", mid, int(rc.value), str(rc)))

    @_guarded
    def _on_message(self, c: mqtt.Client, u: Any, m: mqtt.MQTTMessage) -> None:
        p = m.properties
        self._events.put(
            (
                "message",
                Inbound(
                    topic=m.topic,
                    payload=bytes(m.payload),
                    mid=m.mid,
                    qos=m.qos,
                    retain=bool(m.retain),
                    generation=self._generation,
                    correlation=getattr(p, "CorrelationData", None) if p else None,
                ),
            )
        )

    # -- sender thread --------------------------------------------------------------------

    def _sender_main(self) -> None:
        last_snapshot = 0.0
        while not self._stop.is_set():
            try:
                self._step()
                if time.monotonic() - last_snapshot > 1.0:
                    self._refresh_snapshot()
                    last_snapshot = time.monotonic()
            except Exception:
                # A database error (disk full, locked too long) must not end the thread:
                # count it, wait, retry; the watchdog sees sender_errors grow.
                self.stats.sender_errors += 1
                log.exception("MQTT sender step failed; retrying")
                self._stop.wait(1.0)
        try:
            self._drain_events(block=False)
        except Exception:
            log.exception("MQTT sender: final event drain failed")
        self._outbox.close()

    def _step(self) -> None:
        self._drain_events(block=True)
        if self._connected.is_set():
            self._publish_due()

    def _drain_events(self, block: bool) -> None:
        events: list[tuple[Any, ...]] = []
        try:
            events.append(
                self._events.get(timeout=self.poll_s) if block else self._events.get_nowait()
            )
            while len(events) < 1000:
                events.append(self._events.get_nowait())
        except queue.Empty:
            pass
        ok: list[int] = []
        refused: list[tuple[int, str]] = []
        for ev in events:
            if ev[0] == "puback":
                self._puback(ev[1], ev[2], ev[3], ok, refused)
            elif ev[0] == "message":
                # Flush PUBACK results first so an ack never races its own row's PUBACK.
                self._apply_pubacks(ok, refused)
                self._message(ev[1])
            elif ev[0] == "connected":
                self._refresh_snapshot()
        self._apply_pubacks(ok, refused)

    def _puback(
        self, mid: int, code: int, text: str, ok: list[int], refused: list[tuple[int, str]]
    ) -> None:
        entry = self._inflight.pop(mid, None)
        if entry is None:
            return  # a status publish, or a row whose in-flight entry expired
        self.stats.pubacks += 1
        self.stats.reason_codes[text] = self.stats.reason_codes.get(text, 0) + 1
        if code >= 0x80:
            refused.append((entry[0], f"PUBACK 0x{code:02X} {text}"))
        else:
            ok.append(entry[0])

    def _apply_pubacks(self, ok: list[int], refused: list[tuple[int, str]]) -> None:
        if ok:
            self._outbox.mark_sent(
                ok, time.monotonic(), self.resend_after_s, self.max_resend_after_s
            )
            ok.clear()
        if refused:
            self.stats.rejected += len(refused)
            self._outbox.mark_rejected(refused)
            refused.clear()

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
        )
        if out.status == "accepted":
            self.stats.plans_accepted += 1
        elif out.status == "rejected":
            self.stats.plans_rejected += 1
        elif out.status == "redelivered":
            self.stats.plans_redelivered += 1
        self._puback_inbound(m)  # only after the decision is committed
        if out.plan is not None:
            self._refresh_snapshot()
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
        if m.qos > 0 and m.generation == self._generation:
            self._mqtt.ack(m.mid, m.qos)

    def _publish_due(self) -> None:
        now = time.monotonic()
        for mid, (_, t) in list(self._inflight.items()):
            if now - t > self.resend_after_s:
                del self._inflight[mid]  # no PUBACK for too long: publish again
        room = self.window - len(self._inflight)
        if room <= 0:
            return
        in_flight = {seq for seq, _ in self._inflight.values()}
        entries = self._outbox.due(now, room, in_flight)
        published: list[int] = []
        for e in entries:
            info = self._mqtt.publish(
                topics.topic(self.station_id, e.kind),
                e.payload(self.station_id),
                qos=1,
                properties=self._properties(e),
            )
            if info.rc in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
                self._inflight[info.mid] = (e.seq, now)  # NO_CONN: paho queued it
                published.append(e.seq)
            else:
                log.warning("publish of seq %d failed: %s", e.seq, mqtt.error_string(info.rc))
                break
        if published:
            self.stats.published += len(published)
            self._outbox.record_attempts(published)

    def _properties(self, e: outbox.Entry) -> Properties:
        props = envelope.properties(e.schema, e.msg_id)
        if e.correlation is not None:
            props.CorrelationData = e.correlation
        return props

    def _refresh_snapshot(self) -> None:
        c = self._outbox.counts()
        self._snapshot = {
            "outbox_depth": c.pending + c.sent + c.rejected,
            "outbox_oldest_pending_s": None
            if c.oldest_pending_age_s is None
            else round(c.oldest_pending_age_s, 1),
            "plan_version": plans.active_version(self._outbox.conn),
        }
