"""The interface between the simulated bus and a register-level chip model.

A transaction on the wire is START, then segments (address byte + data, each segment after
the first opened by a repeated START), then STOP. The bus calls, for each chip addressed:

* ``write(data)`` for a write segment (``data`` may be empty: an address-only probe);
* ``read(n)`` for a read segment, returning exactly ``n`` bytes;
* ``stop()`` once at STOP, for every chip addressed in the transaction.

A switch (the TCA9548A) also implements ``routes(address)``: the chips behind its enabled
channels that answer ``address``. ``present`` False makes a chip NACK its address, as if
unplugged; ``unplug()`` and ``plug()`` toggle it.

Route caching: a bus resolves an address to its chips once and keeps the answer until the
routing changes: anywhere when a chip is plugged, unplugged, attached or detached
(:data:`ROUTING`'s epoch moves on), on that bus when a switch on it selects other channels
(the switch calls ``routing_changed()`` on the parents it was wired to, see
:meth:`SimChip.wired_to`). The routes of a selection are kept apart, by the switches'
:meth:`SimChip.route_state`, and used again when that selection comes back. A switch whose
routes depend on state it does not report (any ``routes`` override that does not also
override :meth:`SimChip.routes_cacheable`) is asked on every transaction.
"""

from __future__ import annotations

import threading
from typing import Any


class _Routing:
    """The routing epoch: any change that may re-route an address moves it on."""

    def __init__(self) -> None:
        self.epoch = 0
        self._lock = threading.Lock()

    def changed(self) -> None:
        # Locked so that two threads cannot write the epoch back to an older value.
        with self._lock:
            self.epoch += 1


#: The process-wide routing epoch the buses' route caches are checked against.
ROUTING = _Routing()


class SimChip:
    """Base for chip models: no registers, ACKs its address while ``present``."""

    #: Part number, for logs and error messages.
    part = "chip"

    def __init__(self) -> None:
        self.present = True

    @property
    def present(self) -> bool:
        """Whether the chip answers its address (False: unplugged, it NACKs)."""
        return self._present

    @present.setter
    def present(self, value: bool) -> None:
        self._present = value
        ROUTING.changed()

    def write(self, data: bytes) -> None:
        """One write segment addressed to this chip (data after the address byte)."""

    def read(self, n: int) -> bytes:
        """One read segment of ``n`` bytes; a chip with nothing to say drives 0xFF."""
        return b"\xff" * n

    def stop(self) -> None:
        """STOP condition at the end of a transaction that addressed this chip."""

    def routes(self, address: int) -> list[SimChip]:
        """Chips reachable through this one at ``address`` (switches only)."""
        return []

    def wired_to(self, parent: Any) -> None:
        """``parent`` (a bus or a switch) now carries this chip. A switch keeps it, to call
        ``parent.routing_changed()`` when it selects other channels."""

    def unwired_from(self, parent: Any) -> None:
        """``parent`` no longer carries this chip."""

    def routes_cacheable(self) -> bool:
        """Whether a bus may keep what :meth:`routes` answers until the routing epoch moves:
        true for a chip that routes nothing; a switch says so by overriding this."""
        return type(self).routes is SimChip.routes

    def route_state(self) -> object:
        """What this chip routes now, as a hashable value equal whenever the routes are the
        same (a bus keys its cached routes by it): ``()`` for a chip that routes nothing;
        None, "cannot say", for a switch that does not override this."""
        return () if type(self).routes is SimChip.routes else None

    def unplug(self) -> None:
        self.present = False

    def plug(self) -> None:
        self.present = True
