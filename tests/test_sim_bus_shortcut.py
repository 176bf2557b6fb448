"""The simulated bus's machine.I2C shortcut: the same wire, log, timing and faults as a
transfer, left whenever a fault is armed or the bus closes; the clock's lock held."""

from __future__ import annotations

import errno
import threading

import pytest

from drivers.sim.bus import SimI2CBus
from drivers.sim.chip import SimChip
from drivers.sim.clock import SimClock


class _Reg(SimChip):
    """Four registers behind a pointer (the first byte written)."""

    def __init__(self) -> None:
        super().__init__()
        self.regs = bytearray(b"\x10\x20\x30\x40\x50")
        self.ptr = 0

    def write(self, data: bytes) -> None:
        if data:
            self.ptr = data[0]

    def read(self, n: int) -> bytes:
        return bytes(self.regs[self.ptr : self.ptr + n])


def test_bus_shortcut_is_left_when_a_fault_is_armed_and_taken_again_after() -> None:
    bus = SimI2CBus(SimClock(), speed_hz=400_000, name="shortcut")
    chip = bus.attach(0x48, _Reg())
    rx = bytearray(2)
    for _ in range(3):  # the first goes through transfer, the next take the shortcut
        bus.readfrom_mem_into(0x48, 1, rx)
    bus.fail_nth(1, errno=errno.EIO)
    with pytest.raises(OSError) as info:
        bus.readfrom_into(0x48, rx)
    assert info.value.errno == errno.EIO and bus.faults_fired() == 1
    bus.clear_faults()
    for _ in range(2):
        bus.readfrom_into(0x48, rx)
    assert rx == bytes(chip.regs[1:3]) and bus.stats.transactions == 6
    assert bus.stats.errors_by_errno == {errno.EIO: 1}


def test_bus_shortcut_is_left_when_the_bus_is_closed() -> None:
    bus = SimI2CBus(SimClock(), name="shortcut")
    bus.attach(0x48, _Reg())
    for _ in range(2):
        bus.writeto(0x48, b"\x01")
    bus.close()
    with pytest.raises(OSError) as info:
        bus.writeto(0x48, b"\x01")
    assert info.value.errno == errno.EBADF


def test_bus_shortcut_logs_and_times_like_transfer() -> None:
    clock = SimClock()
    bus = SimI2CBus(clock, speed_hz=400_000, name="shortcut")
    bus.attach(0x48, _Reg())
    rx = bytearray(2)
    bus.readfrom_mem_into(0x48, 0, rx)  # learns the shortcut
    t0 = clock.now()
    bus.readfrom_mem_into(0x48, 0, rx)  # HARDWARE.md §4.1: pointer write + 2-byte read
    bus.writeto_mem(0x48, 1, b"\x85\x83")  # config write
    first, second = bus.log[-2], bus.log[-1]
    assert [(s.address, s.kind, s.data) for s in first.segments] == [
        (0x48, "W", b"\x00"),
        (0x48, "R", bytes(rx)),
    ]
    assert first.t_s == t0 and first.bits == 48 and first.error is None
    assert [(s.kind, s.data) for s in second.segments] == [("W", b"\x01\x85\x83")]
    assert second.bits == 38
    assert clock.now() - t0 == pytest.approx((48 + 38) / 400_000)
    assert bus.stats.bits == 48 * 2 + 38


def test_bus_on_a_sim_clock_holds_the_clock_lock_for_a_transaction() -> None:
    clock = SimClock()
    bus = SimI2CBus(clock, name="shortcut")
    seen: list[bool] = []

    class Probe(_Reg):
        def write(self, data: bytes) -> None:
            # Another thread cannot take the clock's lock mid-transaction: the bus holds
            # it, and counts the wire time inside that hold (no second lock taken).
            other = threading.Thread(target=lambda: seen.append(clock.lock.acquire(False)))
            other.start()
            other.join(timeout=5.0)
            super().write(data)

    bus.attach(0x48, Probe())
    for _ in range(2):  # through transfer, then the shortcut
        bus.writeto(0x48, b"\x00")
    assert seen == [False, False]
    assert clock.lock.acquire(False)  # and released after
    clock.lock.release()
