"""The bus contract shared by every driver, and the errors drivers raise.

The contract is MicroPython's ``machine.I2C``: a driver written against it runs on a
MicroPython board unchanged, on the Pi through the smbus2 adapter, and in tests against the
simulated bus.

Errors
    A missing or silent device raises ``OSError`` with errno 121 (EREMOTEIO), as the Pi's
    ``i2c-bcm2835`` controller does; drivers let every ``OSError`` through with its errno
    intact. A device that answers with the wrong identity raises :class:`DeviceNotFound`.
"""

try:
    from typing import Protocol
except ImportError:  # MicroPython
    Protocol = object  # type: ignore[assignment]

EREMOTEIO = 121  # Linux errno for an address NACK on the Pi's I2C controller
EIO = 5  # Linux errno for an I/O error (here also: a mux selection that did not hold)


class I2CBus(Protocol):  # type: ignore[misc,valid-type]
    """The subset of ``machine.I2C`` that drivers use (7-bit addresses, 8-bit registers)."""

    def scan(self) -> list:
        """Addresses (7-bit) that acknowledge, ascending."""
        ...

    def writeto(self, addr: int, buf: bytes, stop: bool = True) -> int:
        """Write ``buf`` to ``addr`` in one transaction; returns the number of ACKed bytes."""
        ...

    def readfrom_into(self, addr: int, buf: bytearray, stop: bool = True) -> None:
        """Read ``len(buf)`` bytes from ``addr`` into ``buf``."""
        ...

    def writeto_mem(self, addr: int, memaddr: int, buf: bytes, addrsize: int = 8) -> None:
        """Write register ``memaddr`` then ``buf`` in one transaction."""
        ...

    def readfrom_mem_into(self, addr: int, memaddr: int, buf: bytearray, addrsize: int = 8) -> None:
        """Write register ``memaddr``, repeated start, read ``len(buf)`` bytes into ``buf``."""
        ...


def bus_name(bus: object) -> str:
    """A short name for ``bus`` in error messages (``name`` attribute if it has one)."""
    name = getattr(bus, "name", None)
    return str(name) if name else repr(bus)


class DeviceNotFound(Exception):
    """A device answered at an address with the wrong identity, or not at all.

    Carries ``chip``, ``bus``, ``address``, ``expected`` and ``found`` identity values and a
    ``hint`` naming what a technician should check.
    """

    def __init__(self, chip: str, bus: str, address: int, expected, found, hint: str) -> None:
        self.chip = chip
        self.bus = bus
        self.address = address
        self.expected = expected
        self.found = found
        self.hint = hint
        super().__init__(
            "%s not found on %s at 0x%02X: expected id %s, found %s. %s"
            % (chip, bus, address, _fmt(expected), _fmt(found), hint)
        )


def _fmt(value) -> str:
    if isinstance(value, int):
        return "0x%02X" % value
    if isinstance(value, (tuple, list)):
        return "/".join(_fmt(v) for v in value)
    return str(value)
