"""A received MQTT message, copied out of paho's object in the network thread."""

from __future__ import annotations

from dataclasses import dataclass

import paho.mqtt.client as mqtt


@dataclass(frozen=True)
class Inbound:
    """What a consumer thread needs of a message. ``generation`` numbers the connection it
    came on: its ``mid`` (and so a manual PUBACK for it) is valid on that connection only."""

    topic: str
    payload: bytes
    mid: int
    qos: int
    retain: bool
    generation: int
    correlation: bytes | None = None

    @classmethod
    def copy_of(cls, msg: mqtt.MQTTMessage, generation: int) -> Inbound:
        props = msg.properties
        return cls(
            topic=msg.topic,
            payload=bytes(msg.payload),
            mid=msg.mid,
            qos=msg.qos,
            retain=bool(msg.retain),
            generation=generation,
            correlation=getattr(props, "CorrelationData", None) if props else None,
        )
