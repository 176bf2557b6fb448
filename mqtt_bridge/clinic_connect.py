"""Connecting the clinic's MQTT clients: broker options, the paho v5 client with manual
acknowledgement and a persistent session, and a bounded stop of paho's network thread."""

from __future__ import annotations

import logging
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from mqtt_bridge import broker_url

log = logging.getLogger(__name__)

#: How long the broker keeps the consumer's session (and queues for it) while it is down.
SESSION_EXPIRY_S = 7 * 24 * 3600
#: How long stopping waits for paho's network thread: ``loop_stop()`` joins it without a
#: timeout, and it can be stuck in a DNS lookup or a TLS handshake.
STOP_TIMEOUT_S = 5.0


def stop_loop(client: mqtt.Client, timeout_s: float = STOP_TIMEOUT_S) -> bool:
    """``client.loop_stop()``, waited for ``timeout_s`` at most. False (and logged) when
    paho's network thread is still running then; it is a daemon thread and ends with the
    process, or by itself once its blocking call returns."""
    stopper = threading.Thread(target=client.loop_stop, name="mqtt-loop-stop", daemon=True)
    stopper.start()
    stopper.join(timeout_s)
    if stopper.is_alive():
        log.error("paho network thread did not stop within %s s", timeout_s)
        return False
    return True


@dataclass(frozen=True)
class BrokerOptions:
    """Where and how to connect: ``url`` is ``mqtt://host[:1883]`` or ``mqtts://host[:8883]``;
    TLS files and a username/password are optional."""

    url: str
    client_id: str
    ca: str | None = None
    cert: str | None = None
    key: str | None = None
    username: str | None = None
    password: str | None = None
    keepalive_s: int = 30


def parse_broker_url(url: str) -> tuple[str, int, bool]:
    """``(host, port, tls)``; raises ``ValueError`` naming the accepted forms."""
    u = broker_url.parse(url)
    return u.host, u.port, u.tls


def make_client(
    opts: BrokerOptions, persistent: bool = True, session_expiry_s: int = SESSION_EXPIRY_S
) -> tuple[mqtt.Client, Callable[[], Any]]:
    """A paho v5 client with ``manual_ack`` and the function that starts connecting.

    ``persistent``: ``clean_start=False`` with ``session_expiry_s`` so the broker queues
    messages while the consumer is down; otherwise a clean session that ends on disconnect.
    Connection is asynchronous (``connect_async``): a broker that is down at start is retried
    by the network loop instead of raising."""
    host, port, tls = parse_broker_url(opts.url)
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=opts.client_id,
        protocol=mqtt.MQTTv5,
        manual_ack=True,
    )
    client.suppress_exceptions = True
    client.reconnect_delay_set(min_delay=1, max_delay=30)
    if tls or opts.ca:
        client.tls_set(
            ca_certs=opts.ca,
            certfile=opts.cert,
            keyfile=opts.key,
            cert_reqs=ssl.CERT_REQUIRED,
            tls_version=ssl.PROTOCOL_TLS_CLIENT,
        )
    if opts.username:
        client.username_pw_set(opts.username, opts.password)
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = session_expiry_s if persistent else 0

    def connect() -> Any:
        return client.connect_async(
            host, port, keepalive=opts.keepalive_s, clean_start=not persistent, properties=props
        )

    return client, connect


__all__ = [
    "SESSION_EXPIRY_S",
    "STOP_TIMEOUT_S",
    "BrokerOptions",
    "make_client",
    "parse_broker_url",
    "stop_loop",
]
