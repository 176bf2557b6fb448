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
as a second net); reconnect backoff with full jitter (paho's doubles a fixed delay, so a
fleet that lost the broker at one moment would come back in step); PUBACK
reason codes >= 0x80 mark the row ``rejected``, and so does a row larger than the
CONNACK's Maximum Packet Size, before it is sent (paho does not check, and would send it
first again after every reconnect the broker forces); ``mid`` is kept in memory only;
every wait is bounded.

Link failures: each is named (:mod:`mqtt_bridge.linkerror`: certificate verify failed,
hostname mismatch, refused, unreachable, not authorised, ...), logged once per change of
reason (a retry with the same reason logs at debug level only, so an outage does not flood
the log), and recorded with the connected state in the outbox database for
``rehab-station outbox``.

Plans: parsed by :func:`mqtt_bridge.plans.parse_plan`, then the station's
``semantic_check(plan)`` (raise ``ValueError(reason)`` to refuse); the accepted plan and
the ``plan/result`` answer (an outbox row deleted on PUBACK) commit in one transaction;
then the PUBACK; then ``plan_handler(plan)``. Malformed input is answered, acknowledged
and never retried (no poison-message loop). The status carries the active plan's state,
checked again with this software's rules at start and after each accepted plan.
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
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from mqtt_bridge import clocks, envelope, linkerror, outbox, plans, schema, topics
from mqtt_bridge.events import Connected, Event, LinkChange, PubAck
from mqtt_bridge.inbound import Inbound
from mqtt_bridge.sender import Sender
from mqtt_bridge.stats import ClientStats

log = logging.getLogger(__name__)

STATUS_SCHEMA = "rehab.status/1"
#: The shortest wait before a reconnection attempt (seconds): full jitter may draw ~0.
MIN_RECONNECT_S = 0.1
F = TypeVar("F", bound=Callable[..., Any])


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
    bounds are drawn (``seed`` makes it reproducible). ``monotonic`` times resends and
    in-flight expiry, ``wall_clock`` stamps rows, link changes and status messages
    (:mod:`mqtt_bridge.clocks`); waits on the network stay in real time.

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
        semantic_check: plans.SemanticCheck | None = None,
        plan_handler: Callable[[dict[str, Any]], None] | None = None,
        reconnect_min_s: tuple[float, float] = (1.0, 5.0),
        reconnect_max_s: tuple[float, float] = (300.0, 360.0),
        seed: int | None = None,
        poll_s: float = 0.2,
        connect_timeout_s: float = 5.0,
        monotonic: clocks.Monotonic = clocks.monotonic,
        wall_clock: clocks.WallClock = clocks.utc_now,
    ) -> None:
        self.station_id = topics.check_station_id(station_id)
        self.host, self.port = host, port
        self.connect_timeout_s = connect_timeout_s
        self.db_path = Path(db_path)
        self.keepalive_s = keepalive_s
        self.session_expiry_s = session_expiry_s
        self.will_delay_s = will_delay_s
        self.max_rows = max_rows
        self.software_version = software_version
        self.wall_clock = wall_clock
        self.stats = ClientStats()
        self._semantic_check = semantic_check
        self._plan_handler = plan_handler
        #: The active plan as the status reports it; replaced whole, by one thread at a time
        #: (start(), then the sender thread), read by the network thread.
        self._plan_state = plans.PlanState(None, "none")
        rng = random.Random(seed)
        self.reconnect_delay_s = (rng.uniform(*reconnect_min_s), rng.uniform(*reconnect_max_s))
        self._rng = rng  # the network thread's, after construction
        self._failed_attempts = 0  # connection attempts failed or lost since the last CONNACK
        #: The wait before the next connection attempt, as last drawn (seconds).
        self.next_reconnect_s = self.reconnect_delay_s[0]

        self._events: queue.Queue[Event] = queue.Queue()
        self._stop = threading.Event()
        self._connected = threading.Event()
        self._subscribed = threading.Event()  # plan and ack subscriptions of this connection
        self._sub_mid: int | None = None
        self._generation = 0  # bumped per CONNACK: a mid is valid within one connection
        self._sender: threading.Thread | None = None
        self._started = False
        self._closed = False
        # Link failure bookkeeping, network thread only.
        self._link_reason: str | None = None  # the reason last logged; None once connected
        self._connack_seen = False  # this attempt got a CONNACK (success or refusal)
        self._socket_error: str | None = None  # paho's logged read error of this attempt

        # The sender thread's store; opened here so a bad path fails at construction.
        self._outbox = outbox.Outbox(self.db_path, max_rows=max_rows, wall_clock=wall_clock)
        try:
            plans.ensure_tables(self._outbox.conn)
            self._mqtt = self._make_client(ca_file, cert_file, key_file, tls, username, password)
            self._work = Sender(
                self.station_id,
                self._mqtt,
                self._outbox,
                self._events,
                self._connected,
                self._stop,
                lambda: self._generation,
                self.stats,
                window=window,
                resend_after_s=resend_after_s,
                max_resend_after_s=max_resend_after_s,
                max_rows=max_rows,
                poll_s=poll_s,
                semantic_check=semantic_check,
                plan_handler=self._plan_accepted,
                monotonic=monotonic,
                wall_clock=wall_clock,
            )
            self._set_will(self._mqtt)  # the will's status reads the sender's snapshot
        except BaseException:
            # A bad TLS file or an invalid status: no object to close() is returned, so the
            # database connection would stay open until garbage collection.
            self._outbox.close()
            raise

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
        c = linkerror.CapturingClient(
            CallbackAPIVersion.VERSION2,
            client_id=self.station_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        c.suppress_exceptions = True  # second net; every callback is also wrapped
        c.connect_timeout = self.connect_timeout_s
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
        c.on_pre_connect = self._on_pre_connect
        c.on_log = self._on_log
        c.on_connect = self._on_connect
        c.on_connect_fail = self._on_connect_fail
        c.on_disconnect = self._on_disconnect
        c.on_publish = self._on_publish
        c.on_message = self._on_message
        c.on_subscribe = self._on_subscribe
        return c

    def _status(self, state: str, reason: str = "") -> bytes:
        body: dict[str, Any] = {
            "schema": STATUS_SCHEMA,
            "station_id": self.station_id,
            "state": state,
            "last_seen": self._now(),
            "clock_synced": envelope.clock_synced(),
            "boot_id": envelope.boot_id(),
            "software_version": self.software_version,
            **self._work.snapshot.as_status(),
            "plan": self._plan_state.as_status(),
        }
        if reason:
            body["reason"] = reason
        schema.validate(body, schema.load(STATUS_SCHEMA))
        return json.dumps(body, separators=(",", ":")).encode()

    def _publish_online(self, c: mqtt.Client, what: str) -> None:
        """Publish the retained ``online`` status (birth, or the plan state changed)."""
        info = c.publish(
            topics.status(self.station_id),
            self._status("online"),
            qos=1,
            retain=True,
            properties=envelope.properties(STATUS_SCHEMA),
        )
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            log.warning("%s not sent: %s", what, mqtt.error_string(info.rc))

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
        self._work.refresh_snapshot()
        self._check_plan()
        self._set_will(self._mqtt)  # the first CONNECT's will carries the plan's state too
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self.session_expiry_s
        # connect_async only records the target (it raises ValueError for bad arguments);
        # the connection and its retries happen in paho's thread.
        self._mqtt.connect_async(
            self.host, self.port, self.keepalive_s, clean_start=False, properties=props
        )
        self._sender = threading.Thread(
            target=self._work.run, name=f"mqtt-sender-{self.station_id}", daemon=True
        )
        self._sender.start()
        if self._mqtt.loop_start() != mqtt.MQTT_ERR_SUCCESS:
            raise RuntimeError("paho loop_start failed")

    def _check_plan(self) -> None:
        """Check the stored active plan again with this software's rules (an earlier
        version may have accepted what this one refuses), for the status message."""
        state = plans.check_active(self._outbox.conn, self.station_id, self._semantic_check)
        if state.state == "refused":
            log.error("the active plan_version %s is refused: %s", state.version, state.reason)
        self._plan_state = state

    def _plan_accepted(self, plan: dict[str, Any]) -> None:
        """In the sender thread, after a plan is committed: the status says so at once,
        then the station's own handler runs."""
        # Just checked and newer than any stored one: the active plan, in force.
        self._plan_state = plans.PlanState(int(plan["plan_version"]), "in_force")
        if self._connected.is_set():
            self._publish_online(self._mqtt, "status after a new plan")
        if self._plan_handler is not None:
            self._plan_handler(plan)

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

    def wait_ready(self, timeout_s: float) -> bool:
        """Whether, within ``timeout_s``, the station is connected and the broker confirmed
        its ``plan`` and ``ack`` subscriptions (before that a non-retained message to it
        could be missed)."""
        deadline = time.monotonic() + timeout_s  # real time: bounds waits on the network
        return self._connected.wait(timeout_s) and self._subscribed.wait(
            max(0.0, deadline - time.monotonic())
        )

    @property
    def broker(self) -> str:
        """``host:port`` of the broker, as the log and the link state name it."""
        return f"{self.host}:{self.port}"

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
        with outbox.Outbox(self.db_path, max_rows=self.max_rows, wall_clock=self.wall_clock) as ob:
            return ob.counts()

    # -- paho callbacks (network thread): copy into the queue, nothing else --------------

    def _now(self) -> str:
        return clocks.iso_utc(self.wall_clock())

    def _link(self, state: outbox.LinkState, error: str | None = None) -> None:
        self._events.put(LinkChange(self.broker, state, error, self._now()))

    def _link_failed(self, reason: linkerror.LinkFailure) -> None:
        """Count a failed attempt; log and record its reason when it differs from the last
        one (paho retries for ever: the same reason again is no news)."""
        self.stats.connect_failures += 1
        text = str(reason)
        self.stats.last_connect_error = text
        if text == self._link_reason:
            log.debug("still cannot connect to %s: %s", self.broker, text)
            return
        self._link_reason = text
        log.error("cannot connect to %s: %s; retrying", self.broker, text)
        self._link(outbox.LINK_DOWN, text)

    @_guarded
    def _on_pre_connect(self, c: mqtt.Client, u: Any) -> None:
        self._connack_seen = False
        self._socket_error = None

    @_guarded
    def _on_log(self, c: mqtt.Client, u: Any, level: int, buf: str) -> None:
        # paho reports a socket error (a TLS alert, a reset) only in its log; on_disconnect
        # then says "Unspecified error".
        if level == mqtt.MQTT_LOG_ERR and buf.startswith(linkerror.SOCKET_ERROR_PREFIXES):
            self._socket_error = buf

    @_guarded
    def _on_connect(self, c: mqtt.Client, u: Any, flags: Any, rc: Any, props: Any) -> None:
        self._connack_seen = True
        if rc.is_failure:
            self._link_failed(linkerror.from_connack(rc))
            return
        self._link_reason = None  # the next failure is news again
        self._failed_attempts = 0
        self._link(outbox.LINK_CONNECTED)
        self._generation += 1
        self.stats.connects += 1
        # Read before the sender can publish on this connection (it waits for _connected).
        limit = getattr(props, "MaximumPacketSize", None) if props is not None else None
        self._work.publisher.max_packet_size = limit
        log.info(
            "connected to %s:%s (session present: %s, maximum packet size: %s)",
            self.host,
            self.port,
            flags.session_present,
            limit or "not limited",
        )
        # Subscriptions may be gone even with a session (a broker killed before saving).
        result, self._sub_mid = c.subscribe(
            [(topics.plan(self.station_id), 1), (topics.ack(self.station_id), 1)]
        )
        if result != mqtt.MQTT_ERR_SUCCESS:
            log.error("subscribe failed: %s", mqtt.error_string(result))
        self._publish_online(c, "online status")
        self._set_will(c)  # the next CONNECT's will carries this connection's last_seen
        self._connected.set()
        self._events.put(Connected(self._generation))

    def _jitter_next_attempt(self, c: mqtt.Client) -> None:
        """Draw the wait before paho's next attempt: full jitter, uniform in
        [:data:`MIN_RECONNECT_S`, min(max, min * 2**n)] for the n-th failure in a row, with
        this station's (min, max) (``reconnect_delay_s``). Setting paho's bounds resets its
        own doubling, so the drawn wait is the one it sleeps (paho calls this callback
        before it waits)."""
        lo, hi = self.reconnect_delay_s
        ceiling = min(hi, lo * 2 ** min(self._failed_attempts, 30))
        self._failed_attempts += 1
        self.next_reconnect_s = self._rng.uniform(MIN_RECONNECT_S, max(MIN_RECONNECT_S, ceiling))
        c.reconnect_delay_set(self.next_reconnect_s, self.next_reconnect_s)  # type: ignore[arg-type]

    @_guarded
    def _on_connect_fail(self, c: mqtt.Client, u: Any) -> None:
        self._jitter_next_attempt(c)
        exc = getattr(c, "last_connect_error", None)
        self._link_failed(linkerror.from_exception(exc, self.host, self.connect_timeout_s))

    @_guarded
    def _on_disconnect(self, c: mqtt.Client, u: Any, flags: Any, rc: Any, props: Any) -> None:
        was_connected = self._connected.is_set()
        self._connected.clear()
        self._subscribed.clear()
        if self._stop.is_set():
            return
        self._jitter_next_attempt(c)
        if was_connected:
            reason = linkerror.lost(self._socket_error, rc)
            self._link_reason = str(reason)
            log.warning("disconnected from %s: %s", self.broker, reason)
            self._link(outbox.LINK_DOWN, str(reason))
        elif not self._connack_seen:
            # Ended before any CONNACK: the TLS handshake passed, then the broker refused
            # the client certificate, or a plain connection reached a TLS port.
            self._link_failed(linkerror.before_connack(self._socket_error, rc))
        # else: a refused CONNACK, already counted and named by _on_connect

    @_guarded
    def _on_subscribe(self, c: mqtt.Client, u: Any, mid: int, codes: Any, props: Any) -> None:
        refused = [str(code) for code in codes if code.is_failure]
        if refused:
            log.error("subscriptions refused by the broker: %s", ", ".join(refused))
        elif mid == self._sub_mid:
            self._subscribed.set()

    @_guarded
    def _on_publish(self, c: mqtt.Client, u: Any, mid: int, rc: Any, props: Any) -> None:
        self._events.put(PubAck(mid, int(rc.value), str(rc)))

    @_guarded
    def _on_message(self, c: mqtt.Client, u: Any, m: mqtt.MQTTMessage) -> None:
        self._events.put(Inbound.copy_of(m, self._generation))
