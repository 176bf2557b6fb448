"""The bus contract shared by every driver, and the errors drivers raise.

The contract is MicroPython's ``machine.I2C``: a driver written against it runs on a
MicroPython board unchanged, on the Pi through the smbus2 adapter, and in tests against the
simulated bus.

Errors
    A missing or silent device raises ``OSError``; its errno depends on the controller
    (121 EREMOTEIO on the Pi's ``i2c-bcm2835``, 6 ENXIO on ``i2c-gpio``, 5 EIO from
    MicroPython's ``machine.I2C`` on the RP2040). :func:`no_answer` names that condition
    for all of them. Drivers let every ``OSError`` through with its errno intact. A device
    that answers with the wrong identity raises :class:`DeviceNotFound`.
"""

try:
    from typing import TYPE_CHECKING, Any, Protocol
except ImportError:  # MicroPython
    TYPE_CHECKING = False  # type: ignore[misc]
    Protocol = object  # type: ignore[assignment]

if TYPE_CHECKING:
    #: Any object with the buffer protocol (bytes, bytearray, memoryview), as machine.I2C
    #: takes; typing has no name for it before Python 3.12.
    Buffer = Any

EIO = 5  # EIO: an I/O error; MicroPython's rp2 I2C raises it for an address NACK
ENXIO = 6  # ENXIO: Linux i2c-gpio (bit-banged) for an address NACK
EREMOTEIO = 121  # EREMOTEIO: Linux i2c-bcm2835 (the Pi) for an address NACK
#: Errnos of a device that did not acknowledge its address, on every controller used. On
#: Linux EIO can also be a clock-stretch timeout or (through a mux channel) a selection
#: that did not hold: a part that does not answer either way.
NO_ANSWER = (EREMOTEIO, ENXIO, EIO)


def no_answer(exc: BaseException) -> bool:
    """True when ``exc`` is the ``OSError`` of a device that does not answer (a NACK)."""
    return isinstance(exc, OSError) and _errno(exc) in NO_ANSWER


def _errno(exc: OSError) -> "int | None":
    # MicroPython ports built without CPython compatibility have no ``errno`` attribute.
    code = getattr(exc, "errno", None)
    if code is None and exc.args and isinstance(exc.args[0], int):
        code = exc.args[0]
    return code


class I2CBus(Protocol):  # type: ignore[misc,valid-type]
    """The subset of ``machine.I2C`` that drivers use (7-bit addresses, 8-bit registers)."""

    def scan(self) -> list:
        """Addresses (7-bit) that acknowledge, ascending."""
        ...

    def writeto(self, addr: int, buf: "Buffer", stop: bool = True) -> int:
        """Write ``buf`` to ``addr`` in one transaction; returns the number of ACKed bytes."""
        ...

    def readfrom_into(self, addr: int, buf: "Buffer", stop: bool = True) -> None:
        """Read ``len(buf)`` bytes from ``addr`` into ``buf``."""
        ...

    def writeto_mem(self, addr: int, memaddr: int, buf: "Buffer", addrsize: int = 8) -> None:
        """Write register ``memaddr`` then ``buf`` in one transaction."""
        ...

    def readfrom_mem_into(self, addr: int, memaddr: int, buf: "Buffer", addrsize: int = 8) -> None:
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

    def __init__(
        self, chip: str, bus: str, address: int, expected: object, found: object, hint: str
    ) -> None:
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


def _fmt(value: object) -> str:
    if isinstance(value, int):
        return "0x%02X" % value
    if isinstance(value, (tuple, list)):
        return "/".join(_fmt(v) for v in value)
    return str(value)
