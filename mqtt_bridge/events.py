"""What paho's network thread tells the station client's sender thread, one type per kind.

The callbacks copy what they learn into these frozen values and put them on a queue; the
sender (:mod:`mqtt_bridge.sender`) takes them off and dispatches on the type. A received
message travels as the :class:`~mqtt_bridge.inbound.Inbound` it was copied into.
"""

from __future__ import annotations

from dataclasses import dataclass

from mqtt_bridge.inbound import Inbound
from mqtt_bridge.outbox import LinkState


@dataclass(frozen=True)
class PubAck:
    """The broker's PUBACK of our publish ``mid``: reason code ``code`` (>= 0x80: refused)
    and its name ``reason`` (``"Success"``, ``"Not authorized"``, ...)."""

    mid: int
    code: int
    reason: str

    @property
    def refused(self) -> bool:
        return self.code >= 0x80


@dataclass(frozen=True)
class Connected:
    """A CONNACK with success; ``generation`` numbers the connection (a ``mid`` is valid
    within one)."""

    generation: int


@dataclass(frozen=True)
class LinkChange:
    """The link to ``broker`` (``host:port``) entered ``state`` at ``at`` (ISO 8601 UTC),
    with the reason ``error`` when it failed; for ``rehab-station outbox``."""

    broker: str
    state: LinkState
    error: str | None
    at: str


#: Everything the sender's queue carries.
Event = PubAck | Inbound | Connected | LinkChange
