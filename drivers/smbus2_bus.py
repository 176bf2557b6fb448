"""The bus contract on Linux ``/dev/i2c-N`` through smbus2's ``i2c_rdwr`` (CPython only).

Every operation is one ``I2C_RDWR`` ioctl, so a register read is a write of the register
address, a repeated start and a read, exactly as on the wire (smbus2's SMBus block calls
would cap transfers at 32 bytes). One lock per bus serialises threads sharing the adapter.

The smbus2 classes are injected (``smbus_class``, ``i2c_msg``) by the composition root,
``station/hardware.py``, which is the only module that imports smbus2.
"""

from __future__ import annotations

import os
import threading
from typing import Any

#: Addresses ``scan()`` probes: the 7-bit range outside the reserved blocks.
SCAN_RANGE = range(0x08, 0x78)


class SMBus2Bus:
    """``machine.I2C``-style bus over smbus2.

    ``OSError`` from the kernel propagates with its errno intact (121 for an address NACK on
    ``i2c-bcm2835``, 5 for a clock-stretch timeout, 110 for a stuck transfer); the message is
    extended with the bus and address.
    """

    def __init__(
        self,
        bus_number: int,
        smbus_class: Any,
        i2c_msg: Any,
        speed_hz: int | None = None,
        name: str | None = None,
    ) -> None:
        self.number = bus_number
        self.speed_hz = speed_hz
        self.name = name or f"i2c-{bus_number}"
        self._i2c_msg = i2c_msg
        self._lock = threading.Lock()
        self._bus: Any = smbus_class(bus_number)

    def __repr__(self) -> str:
        state = "closed" if self._bus is None else "open"
        return f"SMBus2Bus({self.name}, {state})"

    # -- the machine.I2C contract -------------------------------------------------------

    def scan(self) -> list[int]:
        found = []
        for addr in SCAN_RANGE:
            try:
                self._rdwr(addr, self._i2c_msg.read(addr, 1))
            except OSError:
                continue
            found.append(addr)
        return found

    def writeto(self, addr: int, buf: bytes, stop: bool = True) -> int:
        self._rdwr(addr, self._i2c_msg.write(addr, bytes(buf)))
        return len(buf)

    def readfrom_into(self, addr: int, buf: bytearray, stop: bool = True) -> None:
        msg = self._i2c_msg.read(addr, len(buf))
        self._rdwr(addr, msg)
        buf[:] = bytes(msg)

    def writeto_mem(self, addr: int, memaddr: int, buf: bytes, addrsize: int = 8) -> None:
        self._rdwr(addr, self._i2c_msg.write(addr, _reg(memaddr, addrsize) + bytes(buf)))

    def readfrom_mem_into(self, addr: int, memaddr: int, buf: bytearray, addrsize: int = 8) -> None:
        write = self._i2c_msg.write(addr, _reg(memaddr, addrsize))
        read = self._i2c_msg.read(addr, len(buf))
        self._rdwr(addr, write, read)
        buf[:] = bytes(read)

    # -- lifecycle -----------------------------------------------------------------------

    def close(self) -> None:
        """Close the device file; safe to call more than once."""
        with self._lock:
            bus, self._bus = self._bus, None
        if bus is not None:
            bus.close()

    def __enter__(self) -> SMBus2Bus:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals -----------------------------------------------------------------------

    def _rdwr(self, addr: int, *msgs: Any) -> None:
        with self._lock:
            if self._bus is None:
                raise OSError(9, f"{os.strerror(9)}: {self.name} is closed")
            try:
                self._bus.i2c_rdwr(*msgs)
            except OSError as exc:
                if exc.errno is None:
                    raise
                raise OSError(
                    exc.errno, f"{os.strerror(exc.errno)} ({self.name}, address 0x{addr:02X})"
                ) from exc


def _reg(memaddr: int, addrsize: int) -> bytes:
    if addrsize == 8:
        if not 0 <= memaddr <= 0xFF:
            raise ValueError(f"register address must be 0..255 for addrsize 8, got {memaddr}")
        return bytes([memaddr])
    if addrsize == 16:
        if not 0 <= memaddr <= 0xFFFF:
            raise ValueError(f"register address must be 0..65535 for addrsize 16, got {memaddr}")
        return bytes([memaddr >> 8, memaddr & 0xFF])
    raise ValueError(f"addrsize must be 8 or 16, got {addrsize}")
