"""The interface between the simulated bus and a register-level chip model.

A transaction on the wire is START, then segments (address byte + data, each segment after
the first opened by a repeated START), then STOP. The bus calls, for each chip addressed:

* ``write(data)`` for a write segment (``data`` may be empty: an address-only probe);
* ``read(n)`` for a read segment, returning exactly ``n`` bytes;
* ``stop()`` once at STOP, for every chip addressed in the transaction.

A switch (the TCA9548A) also implements ``routes(address)``: the chips behind its enabled
channels that answer ``address``. ``present`` False makes a chip NACK its address, as if
unplugged; ``unplug()`` and ``plug()`` toggle it.
"""

from __future__ import annotations


class SimChip:
    """Base for chip models: no registers, ACKs its address while ``present``."""

    #: Part number, for logs and error messages.
    part = "chip"

    def __init__(self) -> None:
        self.present = True

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

    def unplug(self) -> None:
        self.present = False

    def plug(self) -> None:
        self.present = True
