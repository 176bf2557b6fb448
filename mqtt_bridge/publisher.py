"""Publishing the outbox: due rows out with QoS 1, their PUBACKs settled, in the sender thread.

At most ``window`` rows are in flight. A PUBACK with success marks its row ``sent`` (resent
later unless the clinic acknowledges it, :meth:`mqtt_bridge.outbox.Outbox.mark_sent`); a
reason code >= 0x80 marks it ``rejected``, and so does a row larger than the CONNACK's
Maximum Packet Size, before it is sent (paho does not check, and would send it first again
after every reconnect the broker forces). A row with no PUBACK within ``resend_after_s``
leaves the window and goes again. The ``mid -> seq`` map lives in memory only: a ``mid`` is
unique only within one paho ``Client`` and wraps at 65535 (reference/MQTT.md §2.3). Time is
the injected monotonic clock's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties

from mqtt_bridge import clocks, envelope, outbox, topics
from mqtt_bridge.events import PubAck
from mqtt_bridge.stats import ClientStats

log = logging.getLogger(__name__)


def publish_packet_size(topic: str, payload: bytes, props: Properties) -> int:
    """Bytes of the MQTT v5 PUBLISH packet (QoS 1) paho sends for these: fixed header,
    topic, packet id, properties and payload (MQTT 5.0 §3.3), the size a broker compares
    with its Maximum Packet Size."""
    remaining = 2 + len(topic.encode()) + 2 + len(props.pack()) + len(payload)
    header = 2 + (remaining >= 128) + (remaining >= 16_384) + (remaining >= 2_097_152)
    return header + remaining


@dataclass(frozen=True)
class InFlight:
    """A row published and not yet PUBACKed: its ``seq`` and the monotonic time it went."""

    seq: int
    published_mono: float


class Publisher:
    """Publishes due rows of ``store`` through ``client`` and settles their PUBACKs. Used by
    the sender thread only; ``max_packet_size`` is set by the network thread in
    ``on_connect``, before the sender may publish on that connection."""

    def __init__(
        self,
        station_id: str,
        client: mqtt.Client,
        store: outbox.Outbox,
        stats: ClientStats,
        *,
        window: int,
        resend_after_s: float,
        max_resend_after_s: float,
        monotonic: clocks.Monotonic = clocks.monotonic,
    ) -> None:
        self.station_id = station_id
        self._mqtt = client
        self._outbox = store
        self.stats = stats
        self.window = window
        self.resend_after_s = resend_after_s
        self.max_resend_after_s = max(max_resend_after_s, resend_after_s)
        self._monotonic = monotonic
        self._inflight: dict[int, InFlight] = {}  # by mid
        #: PUBACK results taken but not yet written (kept across a failed write).
        self._ok: list[int] = []
        self._refused: list[tuple[int, str]] = []
        #: The current connection's Maximum Packet Size (None: the broker announced none).
        self.max_packet_size: int | None = None

    def on_puback(self, ack: PubAck) -> None:
        """Note the result of one PUBACK; :meth:`apply_pubacks` writes it."""
        entry = self._inflight.pop(ack.mid, None)
        if entry is None:
            return  # a status publish, or a row whose in-flight entry expired
        self.stats.pubacks += 1
        self.stats.reason_codes[ack.reason] = self.stats.reason_codes.get(ack.reason, 0) + 1
        if ack.refused:
            self._refused.append((entry.seq, f"PUBACK 0x{ack.code:02X} {ack.reason}"))
        else:
            self._ok.append(entry.seq)

    def apply_pubacks(self) -> None:
        """Write the PUBACK results; on a failure they are kept for the next call."""
        if self._ok:
            self._outbox.mark_sent(
                self._ok, self._monotonic(), self.resend_after_s, self.max_resend_after_s
            )
            self._ok.clear()
        if self._refused:
            self._outbox.mark_rejected(self._refused)
            self.stats.rejected += len(self._refused)
            self._refused.clear()

    def publish_due(self) -> None:
        """Publish the rows due now, as many as the window has room for."""
        now = self._monotonic()
        for mid, f in list(self._inflight.items()):
            if now - f.published_mono > self.resend_after_s:
                del self._inflight[mid]  # no PUBACK for too long: publish again
        room = self.window - len(self._inflight)
        if room <= 0:
            return
        in_flight = {f.seq for f in self._inflight.values()}
        published: list[int] = []
        too_large: list[tuple[int, str]] = []
        for e in self._outbox.due(now, room, in_flight):
            topic, payload, props = (
                topics.topic(self.station_id, e.kind),
                e.payload(self.station_id),
                _properties(e),
            )
            reason = self._too_large(publish_packet_size(topic, payload, props))
            if reason:
                # The broker would drop the connection ("packet too large") and paho would
                # send this first again after every reconnect: nothing else would get out.
                too_large.append((e.seq, reason))
                continue
            info = self._mqtt.publish(topic, payload, qos=1, properties=props)
            if info.rc in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
                self._inflight[info.mid] = InFlight(e.seq, now)  # NO_CONN: paho queued it
                published.append(e.seq)
            else:
                log.warning("publish of seq %d failed: %s", e.seq, mqtt.error_string(info.rc))
                break
        if published:
            self.stats.published += len(published)
            self._outbox.record_attempts(published)
        if too_large:
            self._outbox.mark_rejected(too_large)
            self.stats.rejected += len(too_large)

    def _too_large(self, size: int) -> str:
        limit = self.max_packet_size
        if limit is None or size <= limit:
            return ""
        return (
            f"the message is {size} bytes as an MQTT packet; the broker accepts at most "
            f"{limit} (Maximum Packet Size in its CONNACK)"
        )


def _properties(e: outbox.Entry) -> Properties:
    props = envelope.properties(e.schema, e.msg_id)
    if e.correlation is not None:
        props.CorrelationData = e.correlation
    return props
